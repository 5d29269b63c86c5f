"""Rules that relate keys to each other, within a section or across sections.

They run on whichever sections parsed, so one broken section never hides the problems of the
others; each yields its problems as `<key path>: ...` lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from config.backup_plan import CONSOLE_SERVICE_ROLE, BackupPlanConfig
from config.destination import DestinationConfig, VaultLockConfig
from config.export import DynamoDbExportConfig
from config.operations import MonitoringConfig
from config.organization import OrganizationConfig, SourceAccountConfig
from config.scalars import (
    ACCOUNT_ID,
    MAX_PLAN_NAME,
    MAX_ROLE_NAME,
    MIN_CHANGEABLE_FOR_DAYS,
    MIN_COLD_STORAGE_DAYS,
)
from config.section import AccountAccess
from policies.organizations import OWN_SIDS


def section_rules(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    plan: BackupPlanConfig | None,
    export: DynamoDbExportConfig | None,
) -> Iterable[str]:
    """Rules between keys of one section."""
    if organization is not None:
        if organization.manage_global_settings and organization.global_settings is None:
            yield (
                "organization.globalSettings: is required while "
                "organization.manageGlobalSettings is true: UpdateGlobalSettings sets every "
                "global setting, so state {isMpaEnabled, isDelegatedAdministratorEnabled} as "
                "the organization has them (or set manageGlobalSettings: false where another "
                "stack owns them)"
            )
        if not organization.manage_global_settings and organization.global_settings is not None:
            yield (
                "organization.globalSettings: is only used with "
                "organization.manageGlobalSettings: true (the stack that owns the "
                "organization's AWS Backup global settings); remove it here"
            )
    if destination is not None:
        if destination.dr_region == destination.region:
            yield f"destination.drRegion: must differ from destination.region ({destination.region})"
        lock = destination.vault_lock
        if lock is not None:
            yield from _vault_lock_rules(lock)
    if plan is not None:
        if plan.complete_window_minutes <= plan.start_window_minutes:
            yield (
                f"backupPlan.completeWindowMinutes: must be greater than startWindowMinutes "
                f"({plan.start_window_minutes}), got {plan.complete_window_minutes}"
            )
        yield from _lifecycle_fits(
            "deleteAfterDays",
            "coldStorageAfterDays",
            plan.delete_after_days,
            plan.cold_storage_after_days,
        )
        yield from _lifecycle_fits(
            "copyDeleteAfterDays",
            "copyColdStorageAfterDays",
            plan.copy_delete_after_days,
            plan.copy_cold_storage_after_days,
        )
    if (
        export is not None
        and export.export_type == "INCREMENTAL_EXPORT"
        and export.retention_days <= export.full_export_interval_days
    ):
        # Incremental exports restore only on top of a full export that is still in the bucket.
        yield (
            "dynamodbExport.retentionDays: must exceed fullExportIntervalDays "
            f"({export.full_export_interval_days}) with INCREMENTAL_EXPORT, got {export.retention_days}"
        )


def _vault_lock_rules(lock: VaultLockConfig) -> Iterable[str]:
    path = "destination.vaultLock"
    # AWS Backup Developer Guide, "AWS Backup Vault Lock": ChangeableForDays is what makes a
    # lock a compliance lock; without it the lock stays in governance mode.
    if lock.mode == "compliance" and lock.changeable_for_days is None:
        yield (
            f"{path}.changeableForDays: is required with mode: compliance (the grace period, at "
            f"least {MIN_CHANGEABLE_FOR_DAYS} days, after which nobody, not even the account "
            "root, can remove the lock)"
        )
    if lock.mode == "governance" and lock.changeable_for_days is not None:
        yield (
            f"{path}.changeableForDays: is refused with mode: governance: setting it turns the "
            "lock into a compliance lock that becomes immutable; use mode: compliance if that "
            "is what you want"
        )
    if lock.max_retention_days is not None and lock.max_retention_days < lock.min_retention_days:
        yield f"{path}.maxRetentionDays: must be at least minRetentionDays ({lock.min_retention_days})"


def _lifecycle_fits(delete_key: str, cold_key: str, delete: int, cold: int | None) -> Iterable[str]:
    if cold is not None and delete < cold + MIN_COLD_STORAGE_DAYS:
        yield (
            f"backupPlan.{delete_key}: must be at least {cold_key} + {MIN_COLD_STORAGE_DAYS} "
            f"({cold} + {MIN_COLD_STORAGE_DAYS} = {cold + MIN_COLD_STORAGE_DAYS}), got {delete}"
        )


def _root_copy_in_rules(
    organization: OrganizationConfig, destination: DestinationConfig
) -> Iterable[str]:
    """A targeted root reaches every account, so `policyTargets` would admit the whole
    organization into the central vaults: that must be said, not implied."""
    roots = [target for target in organization.policy_targets if target.startswith("r-")]
    if roots and destination.copies_from(organization.member_deployment) == "policyTargets":
        how = "policyTargets" if destination.allow_copies_from else "its default, policyTargets,"
        yield (
            f"destination.allowCopiesFrom: organization.policyTargets targets the root "
            f"{roots[0]}, so {how} would let every account of the organization copy into the "
            "central vaults; set destination.allowCopiesFrom: organization to say so (the "
            "whole organization is an explicit opt-in), or target OUs instead of the root"
        )


def cross_section_rules(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    sources: Sequence[SourceAccountConfig] | None,
    plan: BackupPlanConfig | None,
    owns_region_settings: bool,
) -> Iterable[str]:
    """Rules that relate one section to another, on whichever sections parsed."""
    if destination is not None and destination.vault_lock is not None and plan is not None:
        lock = destination.vault_lock
        if plan.copy_delete_after_days < lock.min_retention_days:
            yield (
                "backupPlan.copyDeleteAfterDays: must be at least "
                f"destination.vaultLock.minRetentionDays ({lock.min_retention_days}): the locked "
                "vault would refuse every copy"
            )
        if (
            lock.max_retention_days is not None
            and plan.copy_delete_after_days > lock.max_retention_days
        ):
            yield (
                "backupPlan.copyDeleteAfterDays: must be at most "
                f"destination.vaultLock.maxRetentionDays ({lock.max_retention_days}): the locked "
                "vault would refuse every copy"
            )
    if (
        organization is not None
        and destination is not None
        and organization.member_deployment == "stackSets"
        and destination.allow_copies_from == "accounts"
    ):
        yield (
            "destination.allowCopiesFrom: accounts admits the sourceAccounts, which "
            "memberDeployment: stackSets has none of: use policyTargets (the default there) or "
            "remove the key"
        )
    if organization is not None and destination is not None:
        yield from _root_copy_in_rules(organization, destination)
    source_ids = None if sources is None else {source.account_id for source in sources}
    if organization is not None:
        for index, target in enumerate(organization.policy_targets):
            path = f"organization.policyTargets[{index}]"
            if destination is not None and target == destination.account_id:
                yield f"{path}: {target} is the destination account: it must not back itself up into itself"
            elif (
                source_ids is not None and ACCOUNT_ID.fullmatch(target) and target not in source_ids
            ):
                # Its plan would back up into a source vault and role this stack never creates.
                yield (
                    f"{path}: account {target} is not in sourceAccounts, so it has no source "
                    "vault or service role"
                )
    seen: dict[str, int] = {}
    for index, source in enumerate(sources or ()):
        path = f"sourceAccounts[{index}]"
        if source.account_id in seen:
            yield (
                f"{path}.accountId: {source.account_id} is listed twice "
                f"(also sourceAccounts[{seen[source.account_id]}])"
            )
        seen.setdefault(source.account_id, index)
        if destination is not None and source.account_id == destination.account_id:
            yield (
                f"{path}.accountId: {source.account_id} is the destination account: a copy must "
                "leave the account it protects"
            )
        if plan is not None:
            missing = [region for region in plan.regions if region not in source.regions]
            if missing:
                yield (
                    f"{path}.regions: must cover every backupPlan.regions entry: the plan runs in "
                    f"{', '.join(missing)} where this account would have no source vault"
                )
        if "manage_region_settings" in source.model_fields_set and not owns_region_settings:
            yield (
                f"{path}.manageRegionSettings: only applies when backupPlan.regionSettings is set "
                "(this stack then owns the Region settings of every source account unless it "
                "says false here); remove it"
            )


def deployment_rules(
    organization: OrganizationConfig | None,
    sources_given: bool,
    plan: BackupPlanConfig | None,
) -> Iterable[str]:
    """How member accounts are prepared (providers or StackSets), and by whom."""
    if organization is None:
        return
    mode = organization.member_deployment
    if mode == "providers" and not sources_given:
        yield (
            "sourceAccounts: is required with organization.memberDeployment: providers (the "
            "accounts this stack prepares); or set memberDeployment: stackSets to prepare every "
            "account under the targeted roots and OUs"
        )
    if mode == "stackSets":
        if sources_given:
            yield (
                "sourceAccounts: is refused with organization.memberDeployment: stackSets: the "
                "StackSet prepares every account under organization.policyTargets; remove it"
            )
        for index, target in enumerate(organization.policy_targets):
            if ACCOUNT_ID.fullmatch(target):
                # Service-managed StackSets deploy to OUs, never to a single account id.
                yield (
                    f"organization.policyTargets[{index}]: {target} is an account; with "
                    "memberDeployment: stackSets the policy and the StackSet target roots (r-...) "
                    "and OUs (ou-...) only"
                )
        if plan is not None and plan.region_settings is not None:
            yield (
                "backupPlan.regionSettings: is refused with memberDeployment: stackSets: "
                "CloudFormation has no resource for AWS Backup Region settings; set them in "
                "each account (see docs/operations.md) and let `make doctor` check them"
            )
    delegate = organization.delegated_administrator
    if delegate is not None and delegate.account_id == organization.management_account.account_id:
        yield (
            "organization.delegatedAdministrator.accountId: must be a member account: the "
            "management account cannot be its own delegated administrator"
        )
    owner = organization.manage_global_settings
    settings = organization.global_settings
    if (
        owner
        and delegate is not None
        and settings is not None
        and not settings.is_delegated_administrator_enabled
    ):
        yield (
            "organization.globalSettings.isDelegatedAdministratorEnabled: must be true with "
            "organization.delegatedAdministrator: AWS Backup's cross-account management "
            "setting is what lets the registered delegated administrator act for it"
        )
    for index, statement in enumerate(organization.extra_delegation_statements):
        if statement.get("Sid") in OWN_SIDS:
            yield (
                f"organization.extraDelegationStatements[{index}].Sid: {statement['Sid']} is one "
                "of this program's own statements; give yours another Sid"
            )
    singletons = (
        ("extraDelegationStatements", bool(organization.extra_delegation_statements)),
        ("importResourcePolicyId", organization.import_resource_policy_id is not None),
        ("createResourcePolicy", bool(organization.create_resource_policy)),
        (
            "importDelegatedAdministratorRegistrations",
            bool(organization.import_delegated_administrator_registrations),
        ),
    )
    for key, given in singletons:
        if given and (delegate is None or not owner):
            yield (
                f"organization.{key}: belongs to the organization's delegation (resource policy "
                "and registrations), which only the stack with organization.manageGlobalSettings: "
                "true and an organization.delegatedAdministrator owns; remove it here"
            )
    if owner and delegate is not None:
        creates = organization.create_resource_policy
        adopts = organization.import_resource_policy_id is not None
        if creates == adopts:
            # PutResourcePolicy creates or replaces the organization's one resource policy
            # (Organizations API reference): never overwrite one by accident.
            yield (
                "organization.createResourcePolicy: the organization has one resource policy; "
                + (
                    "set createResourcePolicy: true if none exists yet, or "
                    "importResourcePolicyId: rp-... to adopt the existing one "
                    "(`aws organizations describe-resource-policy`, or make doctor ARGS=--before-deploy, "
                    "says which)"
                    if not creates
                    else "set only one of createResourcePolicy: true (none exists) and "
                    "importResourcePolicyId (adopt the existing one)"
                )
            )
    if mode == "providers":
        for index, target in enumerate(organization.policy_targets):
            if target.startswith("r-"):
                yield (
                    f"organization.policyTargets[{index}]: {target} is the root: with "
                    "memberDeployment: providers the policy would reach every account of the "
                    "organization, and this stack prepares only sourceAccounts (the others would "
                    "run the plan with no source vault or service role); target OUs or accounts, "
                    "or use memberDeployment: stackSets"
                )
    iam_region = organization.stack_set.iam_region
    if iam_region is not None and plan is not None and iam_region not in plan.regions:
        yield (
            f"organization.stackSet.iamRegion: {iam_region} is not one of backupPlan.regions "
            f"({', '.join(plan.regions)}): only a plan Region has a stack instance to create the "
            "roles in"
        )


def one_role_per_account(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    sources: Sequence[SourceAccountConfig] | None,
    export: DynamoDbExportConfig | None,
    monitoring: MonitoringConfig | None = None,
) -> Iterable[str]:
    """One provider per account assumes one role (and one preview role) in it."""
    accesses: list[tuple[str, AccountAccess]] = []
    if organization is not None:
        accesses.append(("organization.managementAccount", organization.management_account))
        if organization.delegated_administrator is not None:
            accesses.append(
                ("organization.delegatedAdministrator", organization.delegated_administrator)
            )
    if destination is not None:
        accesses.append(("destination", destination))
    accesses.extend((f"sourceAccounts[{i}]", source) for i, source in enumerate(sources or ()))
    if export is not None:
        accesses.append(("dynamodbExport.bucket", export.bucket))
    if monitoring is not None and monitoring.account_id is not None and monitoring.has_roles:
        accesses.append(
            (
                "monitoring",
                AccountAccess(
                    account_id=monitoring.account_id,
                    role_arn=monitoring.role_arn,
                    preview_role_arn=monitoring.preview_role_arn,
                ),
            )
        )
    first: dict[str, tuple[str, AccountAccess]] = {}
    for path, access in accesses:
        earlier = first.setdefault(access.account_id, (path, access))
        if earlier[1].account == access.account:
            continue
        for key, mine, theirs in (
            ("roleArn", access.role_arn, earlier[1].role_arn),
            ("previewRoleArn", access.preview_role_arn, earlier[1].preview_role_arn),
        ):
            if mine != theirs:
                yield (
                    f"{path}.{key}: account {access.account_id} is also reached through "
                    f"{earlier[0]} with {key} {theirs or '(none)'}; the stack has one provider per "
                    "account, which assumes one role: use the same one"
                )


def name_rules(prefix: str, plan: BackupPlanConfig | None) -> Iterable[str]:
    """Names derived from the stack's prefix, and names this stack must not create."""
    if plan is None:
        return
    plan_key = f"{prefix}-{plan.name}"
    if len(plan_key) > MAX_PLAN_NAME:
        yield (
            f"backupPlan.name: becomes the plan and rule name {plan_key!r} ({len(plan_key)} "
            f"characters) in the backup policy; AWS Backup allows {MAX_PLAN_NAME}: use a shorter "
            "name or environment"
        )
    role = plan.service_role_short_name
    if len(role) > MAX_ROLE_NAME:
        yield (
            f"backupPlan.serviceRoleName: {role!r} is {len(role)} characters; IAM role names take "
            f"at most {MAX_ROLE_NAME}"
        )
    if not plan.create_service_role and "service_role_name" not in plan.model_fields_set:
        yield (
            "backupPlan.serviceRoleName: is required with createServiceRole: false: name the "
            "existing role every target account has (optionally with its path, e.g. "
            "service-role/AWSBackupDefaultServiceRole); the default is the role this stack "
            "would have created"
        )
    if plan.create_service_role and role == CONSOLE_SERVICE_ROLE:
        yield (
            f"backupPlan.serviceRoleName: {CONSOLE_SERVICE_ROLE} is the role the AWS Backup "
            "console creates in any account where someone has used it, so creating it fails "
            "there (EntityAlreadyExists); leave serviceRoleName unset for the stack's own role, "
            "or set backupPlan.createServiceRole: false to use the console's existing role"
        )
    settings = plan.region_settings
    if settings is None:
        return
    if not plan.resource_types:
        yield (
            "backupPlan.resourceTypes: is required with backupPlan.regionSettings: the resource "
            "types the plan backs up, each of which must be opted in"
        )
    opt_in = settings.opt_in_map
    for index, name in enumerate(plan.resource_types):
        if not opt_in[name]:
            yield (
                f"backupPlan.regionSettings.optIn.{name}: must be true: "
                f"backupPlan.resourceTypes[{index}] is {name}, and AWS Backup skips "
                "tag-selected resources of types that are not opted in"
            )
    if opt_in["DynamoDB"] and not settings.full_management_map["DynamoDB"]:
        # Developer Guide, "Advanced DynamoDB backup": needed for cross-account copies, off by
        # default in accounts that had a vault before 21 November 2021, and not switched on by
        # a backup policy ("you need to manually opt-in").
        yield (
            "backupPlan.regionSettings.fullManagement.DynamoDB: must be true while DynamoDB is "
            "opted in: cross-account and cross-Region copies of DynamoDB backups need advanced "
            "DynamoDB backup"
        )
