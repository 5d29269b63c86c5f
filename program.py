"""The Pulumi program: the accounts, components and outputs of one stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.alert_forwarder import AlertForwarder, AlertForwarderArgs
from components.alert_hub import AlertHub, AlertHubArgs
from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.audit_reports import AuditReports, AuditReportsArgs, ReportPlanSpec
from components.backup_service_role import BackupServiceRole, BackupServiceRoleArgs
from components.destination_account import DestinationAccount, DestinationAccountArgs
from components.dynamodb_exporter import DynamoDbExporter, DynamoDbExporterArgs
from components.export_bucket import ExportBucket, ExportBucketArgs
from components.member_stack_set import MemberStackSet, MemberStackSetArgs
from components.organization_backup_policy import (
    OrganizationBackupPolicy,
    OrganizationBackupPolicyArgs,
)
from components.organization_settings import OrganizationSettings, OrganizationSettingsArgs
from components.restore_testing import (
    RestoreTesting,
    RestoreTestingArgs,
    RestoreTestRegion,
    RestoreTestSelection,
)
from components.source_account import SourceAccount, SourceAccountArgs
from policies import arns
from policies.alerts import alarm_rule, bus_policy, failure_rules
from policies.audit import (
    REPORT_PLANS,
    Control,
    audit_name,
    destination_controls,
    member_controls,
    report_bucket_policy,
)
from policies.backup import PolicyTooLargeError, backup_policy_document, render_backup_policy
from policies.exporter_deployment import ExporterSettings, bounded_name, code_digest
from policies.iam import COPY_JOB_ROLE_POLICIES, backup_service_role_policies, split_role_name
from policies.kms import (
    KeyPolicyTooLargeError,
    check_key_policy_size,
    destination_key_policy,
    workload_key_statements,
)
from policies.member_template import (
    AlertsSpec,
    AuditSpec,
    DoctorRoleSpec,
    ExporterSpec,
    MemberTemplateArgs,
    ServiceRoleSpec,
    member_template,
    render_member_template,
)
from policies.organizations import backup_policy_delegation, delegation_resource_policy
from policies.restore import plan_name, role_name, role_policies, selection_name
from policies.s3 import BucketPolicyTooLargeError, check_bucket_policy_size, export_bucket_policy
from policies.statements import OrganizationScope, PolicyDocument, RoleScope
from providers import ProviderRegistry
from stack_config import (
    AccountAccess,
    ConfigError,
    DynamoDbExportConfig,
    StackConfig,
    load_stack_config,
)


def copy_target_vault_arns(config: StackConfig) -> list[str]:
    """The destination vault ARN in the primary Region, then in the DR Region if any."""
    destination = config.destination
    return [
        arns.backup_vault(region, destination.account.account_id, destination.vault_name)
        for region in destination.regions
    ]


def organization_backup_policy(config: StackConfig) -> str:
    """The rendered BACKUP_POLICY document; a size problem is reported as a config error."""
    plan = config.backup_plan
    document = backup_policy_document(
        plan_name=config.plan_key,
        regions=plan.regions,
        schedule_expression=plan.schedule_expression,
        start_window_minutes=plan.start_window_minutes,
        complete_window_minutes=plan.complete_window_minutes,
        delete_after_days=plan.delete_after_days,
        cold_storage_after_days=plan.cold_storage_after_days,
        source_vault_name=plan.source_vault_name,
        copy_target_vault_arns=copy_target_vault_arns(config),
        copy_delete_after_days=plan.copy_delete_after_days,
        copy_cold_storage_after_days=plan.copy_cold_storage_after_days,
        selection_tag_key=plan.selection_tag.key,
        selection_tag_values=plan.selection_tag.values,
        service_role_name=plan.service_role_name,
        windows_vss=plan.windows_vss,
        recovery_point_tags=sorted(plan.recovery_point_tags.items()),
        plan_tags=config.standard_tags,
    )
    try:
        return render_backup_policy(document)
    except PolicyTooLargeError as error:
        raise ConfigError([f"backupPlan: {error}"]) from None


def targets_root(config: StackConfig) -> bool:
    """True when the backup policy is attached to the organization's root (every account)."""
    return any(target.startswith("r-") for target in config.organization.policy_targets)


def copy_in_scope(config: StackConfig) -> RoleScope:
    """Who may copy into the central vaults: the backup service role the policy names, in the
    accounts `destination.allowCopiesFrom` chooses (`StackConfig.copies_from`).

    `accounts`: the source accounts. `policyTargets`: the union of the accounts under the
    targeted OUs (`aws:PrincipalOrgPaths`), the targeted accounts and the source accounts; a
    targeted root is the whole organization. `organization`: every account of the
    organization, only when a stack file says so.
    """
    organization = config.organization
    role = (config.backup_plan.service_role_name,)
    sources = tuple(source.account_id for source in config.source_accounts)
    choice = config.copies_from
    if choice == "organization" or (choice == "policyTargets" and targets_root(config)):
        return RoleScope(organization.id, role, whole_organization=True)
    if choice == "accounts":
        return RoleScope(organization.id, role, account_ids=sources)
    targets = organization.policy_targets
    accounts = {target for target in targets if target.isdigit()} | set(sources)
    units = tuple(sorted(target for target in targets if target.startswith("ou-")))
    return RoleScope(organization.id, role, account_ids=tuple(sorted(accounts)), ou_ids=units)


def copy_back_scope(config: StackConfig) -> RoleScope:
    """The accounts that hold a source vault (copies back go there) and their backup service
    role: the prepared accounts in providers mode, the StackSet's members in stackSets mode."""
    organization = config.organization
    role = (config.backup_plan.service_role_name,)
    members = stack_set_members_scope(config)
    if members is None:
        prepared = tuple(member.access.account_id for member in prepared_accounts(config))
        return RoleScope(organization.id, role, account_ids=prepared)
    return RoleScope(
        organization.id, role, ou_ids=members.ou_ids, whole_organization=not members.ou_ids
    )


def global_settings(config: StackConfig) -> dict[str, str] | None:
    """Every AWS Backup global setting, when this stack owns them; None otherwise.

    UpdateGlobalSettings (AWS Backup API reference) knows `isCrossAccountBackupEnabled`,
    `isMpaEnabled` and `isDelegatedAdministratorEnabled`; the pinned provider shows a
    difference on every preview for any it is not given, so all three are set, the last two
    from config rather than a hard-coded "false" that would switch off an organization's
    multi-party approval or delegated administration.
    """
    organization = config.organization
    settings = organization.global_settings
    if not organization.manage_global_settings or settings is None:
        return None
    return {
        "isCrossAccountBackupEnabled": "true",
        "isMpaEnabled": str(settings.is_mpa_enabled).lower(),
        "isDelegatedAdministratorEnabled": str(settings.is_delegated_administrator_enabled).lower(),
    }


@dataclass(frozen=True)
class PreparedAccount:
    """A member account this stack prepares through its own provider."""

    access: AccountAccess
    regions: tuple[str, ...]
    manage_region_settings: bool


def prepared_accounts(config: StackConfig) -> list[PreparedAccount]:
    """The member accounts this stack's providers prepare (vault, key, role, exporter).

    providers mode: every source account. stackSets mode: none of the members, which the
    StackSet prepares, except the management account when a root is targeted: the policy
    applies to it then, and StackSets never deploy to the management account (CloudFormation
    User Guide, "Considerations for service-managed StackSets"), so its own provider does.
    """
    organization = config.organization
    if organization.member_deployment == "providers":
        return [
            PreparedAccount(source.account, source.regions, source.manage_region_settings)
            for source in config.source_accounts
        ]
    if targets_root(config):
        return [PreparedAccount(organization.management_account, config.backup_plan.regions, False)]
    return []


def refused_together(
    build_policy: Callable[[], str],
    build_bucket_policy: Callable[[], PolicyDocument | None],
    build_key_policies: Callable[[], dict[str, PolicyDocument]],
) -> tuple[str, PolicyDocument | None, dict[str, PolicyDocument]]:
    """The documents AWS limits in size, built together: every one that is too large is
    reported in one config error, not only the first."""
    problems: list[str] = []

    def attempt(build: Callable[[], Any]) -> Any:
        try:
            return build()
        except ConfigError as error:
            problems.extend(error.problems)
            return None

    policy, bucket_policy, key_policies = (
        attempt(build_policy),
        attempt(build_bucket_policy),
        attempt(build_key_policies),
    )
    if problems:
        raise ConfigError(problems)
    return policy, bucket_policy, key_policies


def deploy(config: StackConfig) -> None:
    """Declare every resource of the stack and export its outputs.

    Everything that can be refused for the config's sake is computed before the first
    resource is declared, so a bad stack file never leaves a half-deployed stack.
    """
    export = config.dynamodb_export
    policy_content, bucket_policy, key_policies = refused_together(
        lambda: organization_backup_policy(config),
        lambda: export_bucket_policy_document(config, export) if export is not None else None,
        lambda: destination_key_policies(config),
    )
    providers = ProviderRegistry(config.name_prefix, dict(config.standard_tags))

    destination = deploy_destination(config, key_policies, providers)
    copy_back_role = (
        deploy_copy_back_role(config, providers) if config.destination.allow_copy_back else None
    )
    deploy_restore_testing(config, providers, destination)
    bucket = None
    if export is not None and bucket_policy is not None:
        bucket = deploy_export_bucket(config, export, bucket_policy, providers)
    members = deploy_prepared_accounts(config, providers, bucket)
    before_policy: list[pulumi.Resource] = [destination, *members.resources]
    before_policy.extend(deploy_monitoring(config, providers))
    before_policy.extend(deploy_audit(config, providers))
    if config.organization.member_deployment == "stackSets":
        stack_set = deploy_member_stack_set(config, providers, bucket)
        before_policy.append(stack_set)
        pulumi.export("memberStackSetName", stack_set.stack_set_name)
    organization = deploy_organization(config, policy_content, before_policy, providers)

    pulumi.export("destinationVaultArns", destination.vault_arns)
    pulumi.export("destinationKeyArns", destination.key_arns)
    pulumi.export("sourceVaultArns", members.vault_arns)
    pulumi.export("backupServiceRoleArns", members.service_role_arns)
    pulumi.export("organizationPolicyId", organization.policy_id)
    # For workload teams: what their RDS/EBS/... keys must allow for copies to leave the account.
    pulumi.export(
        "workloadKeyPolicyStatements",
        workload_key_statements(config.destination.account_id),
    )
    if copy_back_role is not None:
        pulumi.export("copyBackRoleArn", copy_back_role.role_arn)
    if bucket is not None:
        pulumi.export("exportBucketName", bucket.bucket_name)
        pulumi.export("exporterFunctionArns", members.exporter_arns)


def alert_bus(config: StackConfig) -> tuple[str, str, str] | None:
    """(account, Region, ARN) of the central alert bus, when monitoring is configured.

    The bus lives in the destination's primary Region: restore tests and the central vault
    are there, and its ARN is known before it exists, for the member template.
    """
    access = config.monitoring_access
    if access is None:
        return None
    region = config.destination.region
    name = f"{config.name_prefix}-backup-alerts"
    return (
        access.account_id,
        region,
        f"arn:aws:events:{region}:{access.account_id}:event-bus/{name}",
    )


def alert_forwarding(config: StackConfig) -> AlertsSpec | None:
    """What each account forwards to the central bus, in either member mode."""
    bus = alert_bus(config)
    if bus is None or config.monitoring is None:
        return None
    export = config.dynamodb_export
    return AlertsSpec(
        bus_arn=bus[2],
        name_prefix=config.name_prefix,
        role_name=f"{config.name_prefix}-alert-forwarder",
        rules=tuple(failure_rules(config.monitoring.states)),
        alarm_rule=(
            alarm_rule(f"{exporter_settings(config, export).function_name}-")
            if export is not None
            else None
        ),
    )


def deploy_monitoring(config: StackConfig, providers: ProviderRegistry) -> list[pulumi.Resource]:
    """The central bus and topic, and forwarding in every prepared account and the destination.

    stackSets mode's members forward through the member template (`member_template_args`).
    """
    access = config.monitoring_access
    bus = alert_bus(config)
    forwarding = alert_forwarding(config)
    if access is None or bus is None or forwarding is None or config.monitoring is None:
        return []
    prefix = config.name_prefix
    organization = config.organization
    prepared = prepared_accounts(config)
    named = sorted({config.destination.account_id, *(p.access.account_id for p in prepared)})
    hub = AlertHub(
        "alerts",
        AlertHubArgs(
            account_id=access.account_id,
            region=bus[1],
            name=f"{prefix}-backup-alerts",
            bus_policy=bus_policy(
                bus[2],
                organization.id,
                stack_set_members_scope(config),
                named,
            ),
            key_alias=f"alias/{prefix}-backup-alerts",
            emails=config.monitoring.emails,
            provider=providers.get(access, bus[1]),
        ),
    )
    placements = [(p.access, p.regions, True) for p in prepared]
    placements.append((config.destination.account, config.destination.regions, False))
    forwarders: list[pulumi.Resource] = [hub]
    for member_access, regions, has_exporter in placements:
        forwarders.append(
            AlertForwarder(
                f"alerts-{member_access.account_id}",
                AlertForwarderArgs(
                    regions=regions,
                    rules=forwarding.rules,
                    alarm_rule=forwarding.alarm_rule if has_exporter else None,
                    alarm_regions=regions,
                    name_prefix=prefix,
                    role_name=forwarding.role_name,
                    bus_arn=forwarding.bus_arn,
                    provider=providers.get(member_access, regions[0]),
                ),
                opts=pulumi.ResourceOptions(depends_on=[hub]),
            )
        )
    return forwarders


def audit_member_controls(config: StackConfig) -> list[Control]:
    """The controls of a member account's framework, in each plan Region."""
    tag = config.backup_plan.selection_tag
    return member_controls(
        config.destination.account_id, config.destination.dr_region, (tag.key, tag.values)
    )


@dataclass
class AuditPlacement:
    """One account's frameworks: how the stack reaches it and, per Region, the controls."""

    access: AccountAccess
    controls_by_region: dict[str, list[Control]] = field(default_factory=dict)


def audit_placements(config: StackConfig) -> dict[str, AuditPlacement]:
    """Account -> the frameworks this stack declares there (members in stackSets mode get
    theirs from the member template).

    Prepared members: the member controls in each plan Region. The destination: encryption,
    and the Vault Lock control where a lock exists, in each vault Region. The reports account
    needs none of its own: a multi-account report reads the frameworks of the accounts it
    covers. An account in two roles would get one framework per Region with both roles'
    controls: AWS refuses a second framework with the same controls ("You cannot deploy
    duplicate frameworks", Developer Guide, "Working with AWS Backup Audit Manager
    frameworks").
    """
    placements: dict[str, AuditPlacement] = {}

    def add(access: AccountAccess, region: str, controls: list[Control]) -> None:
        placement = placements.setdefault(access.account_id, AuditPlacement(access))
        present = placement.controls_by_region.setdefault(region, [])
        names = {control.name for control in present}
        present.extend(control for control in controls if control.name not in names)

    for member in prepared_accounts(config):
        for region in config.backup_plan.regions:
            add(member.access, region, audit_member_controls(config))
    destination = config.destination
    for region in destination.regions:
        add(destination.account, region, destination_controls(destination.vault_lock is not None))
    return placements


def reports_region(config: StackConfig) -> str:
    """The report plans' Region: the central vault's, which the reports cover anyway."""
    return config.destination.region


def report_coverage(config: StackConfig) -> tuple[list[str], list[str], list[str]]:
    """(accounts, OUs, Regions) the reports cover: the policy's targets and the destination.

    A targeted root covers everything (`ROOT` in Accounts "to include all organizational
    units", API reference, ReportSetting).
    """
    targets = config.organization.policy_targets
    regions = sorted({*config.backup_plan.regions, *config.destination.regions})
    if targets_root(config):
        return ["ROOT"], [], regions
    accounts = sorted({t for t in targets if t.isdigit()} | {config.destination.account_id})
    return accounts, sorted(t for t in targets if t.startswith("ou-")), regions


def deploy_audit(config: StackConfig, providers: ProviderRegistry) -> list[pulumi.Resource]:
    """Frameworks in every account the stack prepares and the reports, with `audit.enabled`."""
    audit = config.audit
    if audit is None:
        return []
    prefix = config.name_prefix
    framework_name = audit_name(prefix, "backup_copy")
    declared: list[pulumi.Resource] = []
    for account_id, placement in sorted(audit_placements(config).items()):
        regions = sorted(placement.controls_by_region)
        framework = AuditFramework(
            f"audit-{account_id}",
            AuditFrameworkArgs(
                framework_name=framework_name,
                controls_by_region=placement.controls_by_region,
                provider=providers.get(placement.access, regions[0]),
            ),
        )
        declared.append(framework)
    # Cross-account reports can be built only there (Developer Guide, "Working with audit
    # reports").
    reporter = config.organization.administrator
    region = reports_region(config)
    bucket_name = audit.report_bucket or bounded_name(
        f"{prefix}-backup-reports-{reporter.account_id}", 63
    )
    accounts, units, regions = report_coverage(config)
    plans = [
        ReportPlanSpec(
            name=audit_name(prefix, suffix),
            template=template,
            accounts=accounts,
            organization_units=units,
            regions=regions,
        )
        for suffix, template in REPORT_PLANS
    ]
    reports = AuditReports(
        "audit-reports",
        AuditReportsArgs(
            region=region,
            bucket_name=bucket_name,
            bucket_policy=(
                None
                if audit.report_bucket
                else report_bucket_policy(bucket_name, reporter.account_id)
            ),
            key_prefix=prefix,
            plans=plans,
            provider=providers.get(reporter, region),
        ),
    )
    pulumi.export("auditReportPlanArns", reports.report_plan_arns)
    return [*declared, reports]


def destination_key_policies(config: StackConfig) -> dict[str, PolicyDocument]:
    """Region -> the destination vault key's policy; one KMS would refuse for its size is a
    config error."""
    destination = config.destination
    policy = destination_key_policy(
        destination.account_id,
        copy_in_scope(config),
        copy_back_scope(config) if destination.allow_copy_back else None,
    )
    policies = {region: policy for region in destination.regions}
    try:
        for policy in policies.values():
            check_key_policy_size(policy)
    except KeyPolicyTooLargeError as error:
        raise ConfigError([f"destination: {error}"]) from None
    return policies


def deploy_destination(
    config: StackConfig, key_policies: Mapping[str, PolicyDocument], providers: ProviderRegistry
) -> DestinationAccount:
    """The central vault(s), on their own keys, open to the member accounts' copies."""
    destination = config.destination
    return DestinationAccount(
        "destination",
        DestinationAccountArgs(
            account_id=destination.account_id,
            vault_name=destination.vault_name,
            key_alias=f"alias/{config.name_prefix}-central-vault",
            regions=destination.regions,
            provider=providers.get(destination.account, destination.region),
            copiers=copy_in_scope(config),
            vault_lock=destination.vault_lock,
            key_policies=key_policies,
        ),
    )


def deploy_copy_back_role(config: StackConfig, providers: ProviderRegistry) -> BackupServiceRole:
    """The role a copy job back to a source account runs as, in the destination account.

    StartCopyJob needs "the IAM role (such as the default role) that has the permissions to
    make your backup available for copying" (Developer Guide, "Creating backup copies across
    AWS accounts"); the default role carries AWSBackupServiceRolePolicyForBackup, which holds
    the snapshot copy and sharing permissions. The default role exists only where someone
    used the console, so the stack brings its own.
    """
    destination = config.destination
    return BackupServiceRole(
        "destination-copy-back",
        BackupServiceRoleArgs(
            role_name=f"{config.name_prefix}-copy-back",
            role_path="/",
            managed_policies=COPY_JOB_ROLE_POLICIES,
            provider=providers.get(destination.account, destination.region),
            description="Copies recovery points from the central vault back to a source account",
        ),
    )


def deploy_restore_testing(
    config: StackConfig, providers: ProviderRegistry, destination: DestinationAccount
) -> RestoreTesting | None:
    """Scheduled restore tests of the copies in each destination vault Region, if configured."""
    restore = config.restore_testing
    if restore is None:
        return None
    prefix = config.name_prefix
    return RestoreTesting(
        "restore-testing",
        RestoreTestingArgs(
            plan_name=plan_name(prefix),
            schedule_expression=restore.schedule_expression,
            selection_window_days=restore.selection_window_days,
            validation_window_hours=restore.validation_window_hours,
            regions=[
                RestoreTestRegion(
                    region=region,
                    vault_arn=destination.vault_arns[region],
                    selections=[
                        RestoreTestSelection(
                            name=selection_name(prefix, resource_type),
                            resource_type=resource_type,
                            metadata_overrides=restore.overrides(region, resource_type),
                        )
                        for resource_type in restore.resource_types
                    ],
                )
                for region in config.destination.regions
            ],
            role_name=role_name(prefix),
            role_policies=role_policies(restore.resource_types),
            provider=providers.get(config.destination.account, config.destination.region),
        ),
    )


@dataclass
class PreparedResources:
    """What the prepared member accounts hold, for dependencies and outputs."""

    resources: list[pulumi.Resource] = field(default_factory=list)
    vault_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    service_role_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    exporter_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)


def deploy_prepared_accounts(
    config: StackConfig, providers: ProviderRegistry, bucket: ExportBucket | None
) -> PreparedResources:
    """Source vault, key, service role (and exporter) in each account the stack prepares."""
    plan = config.backup_plan
    prefix = config.name_prefix
    region_settings = plan.region_settings
    prepared = PreparedResources()
    for member in prepared_accounts(config):
        account_id = member.access.account_id
        provider = providers.get(member.access, member.regions[0])
        if plan.create_service_role:
            role = BackupServiceRole(
                f"source-{account_id}-backup-service",
                BackupServiceRoleArgs(
                    role_name=plan.service_role_short_name,
                    role_path=plan.service_role_path,
                    managed_policies=backup_service_role_policies(plan.resource_types),
                    provider=provider,
                ),
            )
            prepared.service_role_arns[account_id] = role.role_arn
            prepared.resources.append(role)
        owns_region_settings = region_settings is not None and member.manage_region_settings
        for region in member.regions:
            # Region settings only where the plan runs: the policy backs up nothing elsewhere.
            settings_here = owns_region_settings and region in plan.regions
            source = SourceAccount(
                f"source-{account_id}-{region}",
                SourceAccountArgs(
                    account_id=account_id,
                    region=region,
                    vault_name=plan.source_vault_name,
                    key_alias=f"alias/{prefix}-source-vault",
                    destination_account_id=config.destination.account_id,
                    provider=provider,
                    region_settings=region_settings if settings_here else None,
                    allow_copy_back=config.destination.allow_copy_back,
                ),
            )
            prepared.vault_arns[f"{account_id}/{region}"] = source.vault_arn
            prepared.resources.append(source)
            if bucket is not None and config.dynamodb_export is not None:
                exporter = DynamoDbExporter(
                    f"exporter-{account_id}-{region}",
                    DynamoDbExporterArgs(
                        account_id=account_id,
                        region=region,
                        role_name=exporter_role_name(prefix, region),
                        settings=exporter_settings(config, config.dynamodb_export),
                        kms_key_arn=bucket.kms_key_arn,
                        provider=provider,
                    ),
                    # Writes are refused until the bucket policy admits the exporter roles.
                    opts=pulumi.ResourceOptions(depends_on=[bucket]),
                )
                prepared.exporter_arns[f"{account_id}/{region}"] = exporter.function_arn
    return prepared


def delegation_policy(config: StackConfig) -> PolicyDocument | None:
    """The organization's resource policy, when this stack owns it (and delegates)."""
    organization = config.organization
    delegate = organization.delegated_administrator
    if delegate is None or not organization.manage_global_settings:
        return None
    own = backup_policy_delegation(
        organization.management_account.account_id, organization.id, delegate.account_id
    )
    return delegation_resource_policy(own, organization.extra_delegation_statements)


def deploy_organization(
    config: StackConfig,
    policy_content: str,
    member_resources: Sequence[pulumi.Resource],
    providers: ProviderRegistry,
) -> OrganizationBackupPolicy:
    """The organization's singletons (owning stack only) and the backup policy.

    The policy is created through the delegated administrator when there is one: the
    management account then holds only what AWS allows nowhere else (global settings,
    registrations, the resource policy).
    """
    organization = config.organization
    settings_values = global_settings(config)
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
                    resource_policy=delegation_policy(config),
                    import_resource_policy_id=organization.import_resource_policy_id,
                    provider=providers.get(organization.management_account, organization.region),
                    previous_global_settings_parent=(
                        f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}"
                        "::backup:index:OrganizationBackupPolicy::organization"
                    ),
                ),
            )
        )
    policy_access = organization.administrator
    plan = config.backup_plan
    return OrganizationBackupPolicy(
        "organization",
        OrganizationBackupPolicyArgs(
            policy_name=config.plan_key,
            description=f"{plan.name} backups copied to {config.destination.vault_name} ({config.environment})",
            content=policy_content,
            targets=organization.policy_targets,
            provider=providers.get(policy_access, organization.region),
        ),
        # Member accounts start jobs as soon as the policy is attached: their vaults and role,
        # and the vaults copies go to, must exist first; copies fail until cross-account backup
        # is on; a delegated administrator acts only once registered and allowed.
        opts=pulumi.ResourceOptions(depends_on=before_policy),
    )


def exporter_settings(config: StackConfig, export: DynamoDbExportConfig) -> ExporterSettings:
    """What every exporter of the stack shares, in either member mode."""
    schedules = [export.schedule_expression]
    if export.catch_up_schedule is not None:
        schedules.append(export.catch_up_schedule)
    return ExporterSettings(
        function_name=f"{config.name_prefix}-dynamodb-export",
        environment=config.environment,
        bucket_name=export.bucket.name,
        bucket_owner_account_id=export.bucket.account_id,
        schedule_expressions=tuple(schedules),
        export_format=export.export_format,
        export_type=export.export_type,
        max_concurrent_exports=export.max_concurrent_exports,
        full_export_interval_days=export.full_export_interval_days,
        include_tables=export.include_tables,
        exclude_tables=export.exclude_tables,
        log_retention_days=export.log_retention_days,
    )


def exporter_role_name(prefix: str, region: str) -> str:
    """IAM role names are global to an account: one exporter role per Region."""
    return f"{prefix}-ddb-export-{region}"


def export_writers(config: StackConfig) -> dict[str, list[str]]:
    """Region -> the ARNs of the exporter roles allowed to write there.

    providers mode: each prepared account's role. stackSets mode: the role name in any account
    (`arn:aws:iam::*:role/...`), narrowed to the member accounts by `stack_set_members_scope`.
    """
    prefix = config.name_prefix
    by_region: dict[str, list[str]] = {}
    if stack_set_members_scope(config) is not None:
        for region in config.backup_plan.regions:
            by_region[region] = [arns.iam_role("*", exporter_role_name(prefix, region))]
        return by_region
    for member in prepared_accounts(config):
        for region in member.regions:
            role = exporter_role_name(prefix, region)
            by_region.setdefault(region, []).append(arns.iam_role(member.access.account_id, role))
    return by_region


def stack_set_members_scope(config: StackConfig) -> OrganizationScope | None:
    """stackSets mode: the organization scope of the member accounts the StackSet prepares
    (the alert bus, export writers, copy-back targets): the organization when a root is
    targeted, else its targeted OUs. None in providers mode, where they are named."""
    organization = config.organization
    if organization.member_deployment != "stackSets":
        return None
    if targets_root(config):
        return OrganizationScope(organization.id)
    return OrganizationScope(organization.id, tuple(organization.policy_targets))


def export_bucket_policy_document(
    config: StackConfig, export: DynamoDbExportConfig
) -> PolicyDocument:
    """The export bucket's policy; one S3 would refuse for its size is a config error."""
    policy = export_bucket_policy(
        export.bucket.name,
        config.environment,
        export_writers(config),
        stack_set_members_scope(config),
    )
    try:
        check_bucket_policy_size(policy)
    except BucketPolicyTooLargeError as error:
        raise ConfigError([f"dynamodbExport: {error}"]) from None
    return policy


def deploy_export_bucket(
    config: StackConfig,
    export: DynamoDbExportConfig,
    bucket_policy: PolicyDocument,
    providers: ProviderRegistry,
) -> ExportBucket:
    """The bucket DynamoDB exports land in, in its own account."""
    return ExportBucket(
        "export-bucket",
        ExportBucketArgs(
            account_id=export.bucket.account_id,
            bucket_name=export.bucket.name,
            key_alias=f"alias/{config.name_prefix}-dynamodb-export",
            writer_role_arns=[
                arn for role_arns in export_writers(config).values() for arn in role_arns
            ],
            writers_scope=stack_set_members_scope(config),
            bucket_policy=bucket_policy,
            retention_days=export.retention_days,
            use_kms_key=export.bucket.encryption == "KMS",
            region=export.bucket.region,
            provider=providers.get(export.bucket.account, export.bucket.region),
        ),
    )


def code_bucket_name(config: StackConfig, account_id: str, region: str) -> str:
    """The exporter's code bucket in one Region: bucket names are global, so the account and
    Region are in it (bounded to S3's 63 characters)."""
    return bounded_name(f"{config.name_prefix}-code-{account_id}-{region}", 63)


def deploy_member_stack_set(
    config: StackConfig, providers: ProviderRegistry, bucket: ExportBucket | None
) -> MemberStackSet:
    """The StackSet that prepares every member account under the targeted roots and OUs."""
    organization = config.organization
    plan = config.backup_plan
    admin = organization.administrator
    export = config.dynamodb_export
    code_key = f"dynamodb-export/{code_digest()}.zip"
    code_buckets = (
        {region: code_bucket_name(config, admin.account_id, region) for region in plan.regions}
        if export is not None
        else {}
    )

    def template(kms_key_arn: str | None) -> str:
        return render_member_template(
            member_template(member_template_args(config, code_buckets, code_key, kms_key_arn))
        )

    template_body: pulumi.Input[str] = template(None)
    if bucket is not None and bucket.kms_key_arn is not None:
        template_body = bucket.kms_key_arn.apply(template)
    return MemberStackSet(
        "members",
        MemberStackSetArgs(
            stack_set_name=f"{config.name_prefix}-members",
            template_body=template_body,
            regions=plan.regions,
            organizational_unit_ids=organization.policy_targets,
            # Copies leave the account they protect: the destination never backs up into itself.
            excluded_account_ids=[config.destination.account_id],
            call_as="DELEGATED_ADMIN" if organization.delegated_administrator else "SELF",
            preferences=organization.stack_set,
            code_buckets=code_buckets,
            code_key=code_key,
            organization_id=organization.id,
            region=organization.region,
            provider=providers.get(admin, organization.region),
        ),
        opts=pulumi.ResourceOptions(depends_on=[bucket] if bucket is not None else []),
    )


def member_template_args(
    config: StackConfig,
    code_buckets: Mapping[str, str],
    code_key: str,
    kms_key_arn: str | None,
) -> MemberTemplateArgs:
    """What the member template holds, from the same config as providers mode."""
    plan = config.backup_plan
    export = config.dynamodb_export
    exporter = None
    if export is not None:
        exporter = ExporterSpec(
            settings=exporter_settings(config, export),
            role_names={r: exporter_role_name(config.name_prefix, r) for r in plan.regions},
            code_buckets=code_buckets,
            code_key=code_key,
            kms_key_arn=kms_key_arn,
        )
    return MemberTemplateArgs(
        description=f"{config.name_prefix}: source vault, key, backup service role, exporter",
        regions=plan.regions,
        primary_region=plan.regions[0],
        destination_account_id=config.destination.account_id,
        allow_copy_back=config.destination.allow_copy_back,
        source_vault_name=plan.source_vault_name,
        source_key_alias=f"alias/{config.name_prefix}-source-vault",
        service_role=(
            ServiceRoleSpec(
                name=plan.service_role_short_name,
                path=plan.service_role_path,
                managed_policies=backup_service_role_policies(plan.resource_types),
            )
            if plan.create_service_role
            else None
        ),
        exporter=exporter,
        alerts=alert_forwarding(config),
        audit=(
            AuditSpec(audit_name(config.name_prefix, "backup_copy"), audit_member_controls(config))
            if config.audit is not None
            else None
        ),
        doctor=doctor_role_spec(config),
    )


def doctor_home(config: StackConfig) -> AccountAccess:
    """The account `make doctor` assumes `organization.doctorRoleName` from, in the member
    accounts it finds under targeted OUs: the delegated administrator, else management (the
    organization itself is read in the management account)."""
    return config.organization.administrator


def doctor_role_spec(config: StackConfig) -> DoctorRoleSpec | None:
    """The member template's doctor role, when `organization.doctorRoleName` is set."""
    name = config.organization.doctor_role_name
    if name is None:
        return None
    home = doctor_home(config)
    path, short_name = split_role_name(name)
    return DoctorRoleSpec(
        name=short_name,
        path=path,
        runner_account_id=home.account_id,
        runner_role_arns=[arn for arn in (home.preview_role_arn, home.role_arn) if arn],
    )


def main() -> None:
    """Entry point used by `__main__.py` (and so by `pulumi up` and the offline plan)."""
    deploy(load_stack_config())
