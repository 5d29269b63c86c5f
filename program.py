"""The Pulumi program: the accounts, components and outputs of one stack."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.backup_service_role import BackupServiceRole, BackupServiceRoleArgs
from components.destination_account import DestinationAccount, DestinationAccountArgs
from components.dynamodb_exporter import DynamoDbExporter, DynamoDbExporterArgs
from components.export_bucket import ExportBucket, ExportBucketArgs
from components.organization_backup_policy import (
    OrganizationBackupPolicy,
    OrganizationBackupPolicyArgs,
)
from components.organization_settings import OrganizationSettings, OrganizationSettingsArgs
from components.source_account import SourceAccount, SourceAccountArgs
from policies import arns
from policies.backup import PolicyTooLargeError, backup_policy_document, render_backup_policy
from policies.exporter_deployment import ExporterSettings
from policies.iam import backup_service_role_policies
from policies.kms import workload_key_statements
from policies.organizations import backup_policy_delegation, delegation_resource_policy
from policies.s3 import BucketPolicyTooLargeError, check_bucket_policy_size, export_bucket_policy
from policies.statements import PolicyDocument
from providers import ProviderRegistry
from stack_config import ConfigError, DynamoDbExportConfig, StackConfig, load_stack_config


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


def deploy(config: StackConfig) -> None:
    """Declare every resource of the stack and export its outputs.

    Everything that can be refused for the config's sake is computed before the first
    resource is declared, so a bad stack file never leaves a half-deployed stack.
    """
    policy_content = organization_backup_policy(config)
    bucket_policy = None
    if config.dynamodb_export is not None:
        bucket_policy = export_bucket_policy_document(config, config.dynamodb_export)
    providers = ProviderRegistry(config.name_prefix, dict(config.standard_tags))
    prefix = config.name_prefix
    destination_config = config.destination
    source_ids = [source.account.account_id for source in config.source_accounts]

    destination = DestinationAccount(
        "destination",
        DestinationAccountArgs(
            account_id=destination_config.account.account_id,
            vault_name=destination_config.vault_name,
            key_alias=f"alias/{prefix}-central-vault",
            regions=destination_config.regions,
            provider=providers.get(destination_config.account, destination_config.region),
            source_account_ids=source_ids,
            organization_id=(
                config.organization.id
                if destination_config.allow_copies_from == "organization"
                else None
            ),
            vault_lock=destination_config.vault_lock,
        ),
    )

    plan = config.backup_plan
    source_vault_arns: dict[str, pulumi.Output[str]] = {}
    service_role_arns: dict[str, pulumi.Output[str]] = {}
    member_resources: list[pulumi.Resource] = [destination]
    region_settings = plan.region_settings
    for source in config.source_accounts:
        account_id = source.account.account_id
        if plan.create_service_role:
            role = BackupServiceRole(
                f"source-{account_id}-backup-service",
                BackupServiceRoleArgs(
                    role_name=plan.service_role_short_name,
                    role_path=plan.service_role_path,
                    managed_policies=backup_service_role_policies(plan.resource_types),
                    # IAM is global: the first Region's provider creates the account's one role.
                    provider=providers.get(source.account, source.regions[0]),
                ),
            )
            service_role_arns[account_id] = role.role_arn
            member_resources.append(role)
        owns_region_settings = region_settings is not None and source.manage_region_settings
        for region in source.regions:
            # Region settings only where the plan runs: the policy backs up nothing elsewhere.
            settings_here = owns_region_settings and region in plan.regions
            source_stack = SourceAccount(
                f"source-{account_id}-{region}",
                SourceAccountArgs(
                    account_id=account_id,
                    region=region,
                    vault_name=plan.source_vault_name,
                    key_alias=f"alias/{prefix}-source-vault",
                    destination_account_id=destination_config.account.account_id,
                    provider=providers.get(source.account, region),
                    region_settings=region_settings if settings_here else None,
                ),
            )
            source_vault_arns[f"{account_id}/{region}"] = source_stack.vault_arn
            member_resources.append(source_stack)

    organization = deploy_organization(config, policy_content, member_resources, providers)

    if config.dynamodb_export is not None and bucket_policy is not None:
        deploy_dynamodb_export(config, config.dynamodb_export, bucket_policy, providers)

    pulumi.export("destinationVaultArns", destination.vault_arns)
    pulumi.export("destinationKeyArns", destination.key_arns)
    pulumi.export("sourceVaultArns", source_vault_arns)
    pulumi.export("backupServiceRoleArns", service_role_arns)
    pulumi.export("organizationPolicyId", organization.policy_id)
    # For workload teams: what their RDS/EBS/... keys must allow for copies to leave the account.
    pulumi.export(
        "workloadKeyPolicyStatements",
        workload_key_statements(destination_config.account.account_id),
    )


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
    policy_access = organization.delegated_administrator or organization.management_account
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


def exporter_role_arns_by_region(config: StackConfig) -> dict[str, list[str]]:
    """Region -> the exporter role ARNs of every source account in that Region."""
    by_region: dict[str, list[str]] = {}
    for source in config.source_accounts:
        for region in source.regions:
            role = exporter_role_name(config.name_prefix, region)
            by_region.setdefault(region, []).append(arns.iam_role(source.account.account_id, role))
    return by_region


def export_bucket_policy_document(
    config: StackConfig, export: DynamoDbExportConfig
) -> PolicyDocument:
    """The export bucket's policy; one S3 would refuse for its size is a config error."""
    policy = export_bucket_policy(
        export.bucket.name, config.environment, exporter_role_arns_by_region(config)
    )
    try:
        check_bucket_policy_size(policy)
    except BucketPolicyTooLargeError as error:
        raise ConfigError([f"dynamodbExport: {error}"]) from None
    return policy


def deploy_dynamodb_export(
    config: StackConfig,
    export: DynamoDbExportConfig,
    bucket_policy: PolicyDocument,
    providers: ProviderRegistry,
) -> None:
    """The export bucket in its account, and an exporter in every source account and Region."""
    prefix = config.name_prefix
    placements = [
        (source.account, region) for source in config.source_accounts for region in source.regions
    ]
    writer_role_arns = [
        arn for role_arns in exporter_role_arns_by_region(config).values() for arn in role_arns
    ]
    bucket = ExportBucket(
        "export-bucket",
        ExportBucketArgs(
            account_id=export.bucket.account.account_id,
            bucket_name=export.bucket.name,
            key_alias=f"alias/{prefix}-dynamodb-export",
            writer_role_arns=writer_role_arns,
            bucket_policy=bucket_policy,
            retention_days=export.retention_days,
            use_kms_key=export.bucket.encryption == "KMS",
            region=export.bucket.region,
            provider=providers.get(export.bucket.account, export.bucket.region),
        ),
    )
    function_arns: dict[str, pulumi.Output[str]] = {}
    settings = exporter_settings(config, export)
    for account, region in placements:
        exporter = DynamoDbExporter(
            f"exporter-{account.account_id}-{region}",
            DynamoDbExporterArgs(
                account_id=account.account_id,
                region=region,
                role_name=exporter_role_name(prefix, region),
                settings=settings,
                kms_key_arn=bucket.kms_key_arn,
                provider=providers.get(account, region),
            ),
            # Writes are refused until the bucket policy admits the exporter roles.
            opts=pulumi.ResourceOptions(depends_on=[bucket]),
        )
        function_arns[f"{account.account_id}/{region}"] = exporter.function_arn
    pulumi.export("exportBucketName", bucket.bucket_name)
    pulumi.export("exporterFunctionArns", function_arns)


def main() -> None:
    """Entry point used by `__main__.py` (and so by `pulumi up` and the offline plan)."""
    deploy(load_stack_config())
