"""The organization: its singletons (owning stack only) and the backup policy."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.organization_backup_policy import (
    OrganizationBackupPolicy,
    OrganizationBackupPolicyArgs,
)
from components.organization_settings import OrganizationSettings, OrganizationSettingsArgs
from documents import delegation_policy
from providers import ProviderRegistry
from topology import Topology


def declare_organization(
    topology: Topology,
    policy_content: str,
    member_resources: Sequence[pulumi.Resource],
    providers: ProviderRegistry,
) -> OrganizationBackupPolicy:
    """The organization's singletons (owning stack only) and the backup policy.

    The policy is created through the delegated administrator when there is one: the
    management account then holds only what AWS allows nowhere else (global settings,
    registrations, the resource policy).
    """
    config = topology.config
    organization = config.organization
    settings_values = topology.global_settings
    before_policy: list[pulumi.Resource] = list(member_resources)
    if settings_values is not None:
        delegate = organization.delegated_administrator
        before_policy.append(
            OrganizationSettings(
                "organization-settings",
                OrganizationSettingsArgs(
                    global_settings=settings_values,
                    delegated_administrator_account_id=(
                        delegate.account_id if delegate is not None else None
                    ),
                    resource_policy=delegation_policy(topology),
                    import_resource_policy_id=organization.import_resource_policy_id,
                    provider=providers.get(organization.management_account, organization.region),
                    previous_global_settings_parent=(
                        f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}"
                        "::backup:index:OrganizationBackupPolicy::organization"
                    ),
                ),
            )
        )
    plan = config.backup_plan
    return OrganizationBackupPolicy(
        "organization",
        OrganizationBackupPolicyArgs(
            policy_name=config.plan_key,
            description=f"{plan.name} backups copied to {config.destination.vault_name} ({config.environment})",
            content=policy_content,
            targets=organization.policy_targets,
            provider=providers.get(topology.administering_account, organization.region),
        ),
        # Member accounts start jobs as soon as the policy is attached: their vaults and role,
        # and the vaults copies go to, must exist first; copies fail until cross-account backup
        # is on; a delegated administrator acts only once registered and allowed.
        opts=pulumi.ResourceOptions(depends_on=before_policy),
    )
