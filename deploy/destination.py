"""The destination account: the central vaults and keys, the copy-back role, restore testing."""

from __future__ import annotations

from collections.abc import Mapping

from components.backup_service_role import BackupServiceRole, BackupServiceRoleArgs
from components.destination_account import DestinationAccount, DestinationAccountArgs
from components.restore_testing import (
    RestoreTesting,
    RestoreTestingArgs,
    RestoreTestRegion,
    RestoreTestSelection,
)
from config.operations import RestoreTestingConfig
from policies.iam import COPY_JOB_ROLE_POLICIES
from policies.restore import (
    ALL_PROTECTED_RESOURCES,
    plan_name,
    role_name,
    role_policies,
    selection_name,
    tag_condition,
)
from policies.statements import PolicyDocument
from providers import ProviderRegistry
from topology import Topology


def declare_destination(
    topology: Topology,
    key_policies: Mapping[str, PolicyDocument],
    providers: ProviderRegistry,
) -> DestinationAccount:
    """The central vault(s), on their own keys, open to the copy-in scope's copies."""
    destination = topology.config.destination
    return DestinationAccount(
        "destination",
        DestinationAccountArgs(
            account_id=destination.account_id,
            vault_name=destination.vault_name,
            key_alias=f"alias/{topology.prefix}-central-vault",
            regions=destination.regions,
            provider=providers.get(destination.account, destination.region),
            copiers=topology.copy_in_scope,
            vault_lock=destination.vault_lock,
            key_policies=key_policies,
        ),
    )


def declare_copy_back_role(topology: Topology, providers: ProviderRegistry) -> BackupServiceRole:
    """The role a copy job back to a source account runs as, in the destination account.

    StartCopyJob needs "the IAM role (such as the default role) that has the permissions to
    make your backup available for copying" (Developer Guide, "Creating backup copies across
    AWS accounts"); the default role carries AWSBackupServiceRolePolicyForBackup, which holds
    the snapshot copy and sharing permissions. The default role exists only where someone
    used the console, so the stack brings its own.
    """
    destination = topology.config.destination
    return BackupServiceRole(
        "destination-copy-back",
        BackupServiceRoleArgs(
            role_name=topology.copy_back_role_name,
            role_path="/",
            managed_policies=COPY_JOB_ROLE_POLICIES,
            provider=providers.get(destination.account, destination.region),
            description="Copies recovery points from the central vault back to a source account",
        ),
    )


def declare_restore_testing(
    topology: Topology, providers: ProviderRegistry, destination: DestinationAccount
) -> RestoreTesting | None:
    """Scheduled restore tests of the copies in each tested vault Region, if configured: the
    primary always, the DR Region with `restoreTesting.drRegion` on its own schedule."""
    config = topology.config
    restore = config.restore_testing
    if restore is None:
        return None
    prefix = topology.prefix
    schedules = restore.schedules(config.destination.region, config.destination.dr_region)
    return RestoreTesting(
        "restore-testing",
        RestoreTestingArgs(
            plan_name=plan_name(prefix),
            selection_window_days=restore.selection_window_days,
            validation_window_hours=restore.validation_window_hours,
            regions=[
                RestoreTestRegion(
                    region=region,
                    vault_arn=destination.vault_arns[region],
                    schedule_expression=schedule,
                    selections=[
                        _selection(restore, prefix, region, resource_type)
                        for resource_type in restore.resource_types
                    ],
                )
                for region, schedule in schedules.items()
            ],
            role_name=role_name(prefix),
            role_policies=role_policies(restore.resource_types),
            provider=providers.get(config.destination.account, config.destination.region),
        ),
    )


def _selection(
    restore: RestoreTestingConfig, prefix: str, region: str, resource_type: str
) -> RestoreTestSelection:
    """One type's selection: its sample (tag or ARNs), else every resource (the wildcard,
    which the config admits only with allowAllResources or in the previous form)."""
    chosen = restore.selection(resource_type)
    if chosen is None:
        arns: tuple[str, ...] | None = ALL_PROTECTED_RESOURCES
        conditions: list[dict[str, str]] = []
    elif chosen.tag is not None:
        arns, conditions = None, [tag_condition(chosen.tag.key, chosen.tag.value)]
    else:
        arns, conditions = chosen.protected_resource_arns, []
    return RestoreTestSelection(
        name=selection_name(prefix, resource_type),
        resource_type=resource_type,
        metadata_overrides=restore.overrides(region, resource_type),
        protected_resource_arns=arns,
        tag_conditions=conditions,
    )
