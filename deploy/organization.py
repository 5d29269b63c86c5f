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


def declare_organization_settings(
    topology: Topology, providers: ProviderRegistry
) -> OrganizationSettings | None:
    """The organization's singletons, in the management account, when this stack owns them:
    global settings, the delegated administrator's registrations, the resource policy."""
    organization = topology.config.organization
    settings_values = topology.global_settings
    if settings_values is None:
        return None
    delegate = organization.delegated_administrator
    return OrganizationSettings(
        "organization-settings",
        OrganizationSettingsArgs(
            global_settings=settings_values,
            delegated_administrator_account_id=delegate.account_id if delegate else None,
            resource_policy=delegation_policy(topology),
            import_resource_policy_id=organization.import_resource_policy_id,
            import_registrations=organization.import_delegated_administrator_registrations,
            provider=providers.get(organization.management_account, organization.region),
            previous_global_settings_parent=(
                f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}"
                "::backup:index:OrganizationBackupPolicy::organization"
            ),
        ),
    )


def declare_backup_policy(
    topology: Topology,
    policy_content: str,
    before_policy: Sequence[pulumi.Resource],
    providers: ProviderRegistry,
) -> OrganizationBackupPolicy:
    """The backup policy and its attachments, through the administering account: the
    management account then holds only what AWS allows nowhere else (global settings,
    registrations, the resource policy)."""
    config = topology.config
    organization = config.organization
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
        opts=pulumi.ResourceOptions(depends_on=list(before_policy)),
    )
