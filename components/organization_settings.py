"""The organization's singletons, in the management account: settings and delegation.

Only the one stack that owns the organization's AWS Backup global settings declares this
component. It holds what AWS allows only in the management account: the global settings
(UpdateGlobalSettings "returns an error if the account is not an Organizations management
account"), the delegated administrator's registrations (RegisterDelegatedAdministrator), and
the organization's one resource policy (PutResourcePolicy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies.statements import PolicyDocument

# The services a delegated administrator of backups needs: AWS Backup (backup policies,
# cross-account monitoring and audit reports) and CloudFormation StackSets (service-managed
# StackSets called as DELEGATED_ADMIN). AWS Backup Developer Guide, "Delegated administrator";
# CloudFormation User Guide, "Register a delegated administrator".
DELEGATED_SERVICES = (
    "backup.amazonaws.com",
    "member.org.stacksets.cloudformation.amazonaws.com",
)


@dataclass(frozen=True)
class OrganizationSettingsArgs:
    """What the owning stack sets for the whole organization."""

    # Every setting UpdateGlobalSettings knows, as strings.
    global_settings: Mapping[str, str]
    # The delegated administrator and the resource policy delegating BACKUP_POLICY to it.
    delegated_administrator_account_id: str | None
    resource_policy: PolicyDocument | None
    # Adopt the organization's existing resource policy (pulumi import) instead of creating one.
    import_resource_policy_id: str | None
    # Services whose existing registration of the delegated administrator is adopted.
    import_registrations: Sequence[str]
    provider: aws.Provider
    # The URN this stack's global settings had when the policy component held them.
    previous_global_settings_parent: str | None = None


class OrganizationSettings(pulumi.ComponentResource):
    """Global settings, delegated administrator registrations, the delegation resource policy."""

    registrations: list[pulumi.Resource]

    def __init__(
        self, name: str, args: OrganizationSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:OrganizationSettings", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        aliases: Sequence[pulumi.Alias] = []
        if args.previous_global_settings_parent is not None:
            # Moved here from the policy component: the same resource, not a new one.
            aliases = [
                pulumi.Alias(
                    name="organization-cross-account-backup",
                    parent=args.previous_global_settings_parent,
                )
            ]
        aws.backup.GlobalSettings(
            f"{name}-global-settings",
            global_settings=dict(args.global_settings),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(aliases=aliases)),
        )
        # The registrations and the resource policy are the organization's, not this stack's
        # alone: every other stack of the organization relies on them. A destroy or a hand-over
        # to another stack leaves them in place (retain_on_delete); the new owner adopts them.
        keep = pulumi.ResourceOptions(retain_on_delete=True)
        registrations: list[pulumi.Resource] = []
        delegate = args.delegated_administrator_account_id
        if delegate is not None:
            for service in DELEGATED_SERVICES:
                # RegisterDelegatedAdministrator fails with AccountAlreadyRegisteredException for
                # an existing registration; pulumi-aws imports one by `<account>/<service>`.
                adopt = f"{delegate}/{service}" if service in args.import_registrations else None
                registrations.append(
                    aws.organizations.DelegatedAdministrator(
                        f"{name}-delegate-{service.split('.')[-3]}",
                        account_id=delegate,
                        service_principal=service,
                        opts=pulumi.ResourceOptions.merge(
                            child,
                            pulumi.ResourceOptions.merge(
                                keep, pulumi.ResourceOptions(import_=adopt)
                            ),
                        ),
                    )
                )
        if args.resource_policy is not None:
            aws.organizations.ResourcePolicy(
                f"{name}-resource-policy",
                content=json.dumps(args.resource_policy),
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        depends_on=registrations,
                        retain_on_delete=True,
                        # One per organization: take over the existing one, never replace it.
                        import_=args.import_resource_policy_id,
                    ),
                ),
            )
        self.registrations = registrations
        self.register_outputs({})
