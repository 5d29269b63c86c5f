"""One member account the backup policy reaches: its service role, and in each plan Region its
source vault, Region settings, AWS Config recorder and whether what is tagged can be copied
(`checks_copy`).
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import ClientError

from policies import arns
from tools.doctor.access import Reader
from tools.doctor.checks_copy import Tagged, copyability, ebs_default_key, key_facts
from tools.doctor.context import (
    Context,
    Member,
    error_code,
    guarded,
    reach,
)
from tools.doctor.model import GLOBAL, Finding, ok
from tools.doctor.rules import (
    missing_opt_in,
    recorder_verdict,
    shared_key_verdict,
)

RECORDER = "AWS Config recorder"


def _prepare_fix(ctx: Context, member: Member) -> str:
    if member.preparer == "stack":
        return f"{ctx.redeploy} creates it"
    if member.preparer == "stackSet":
        name = f"{ctx.config.name_prefix}-members"
        call_as = (
            " --call-as DELEGATED_ADMIN" if ctx.config.organization.delegated_administrator else ""
        )
        return (
            f"the member StackSet creates it: check this account's stack instance (aws "
            f"cloudformation list-stack-instances --stack-set-name {name} "
            f"--stack-instance-account {member.account_id}{call_as})"
        )
    return (
        f"the account is under {member.target} but not in sourceAccounts, so nothing creates "
        f"it: add it to sourceAccounts, or move it out of {member.target}"
    )


def _service_role(ctx: Context, reader: Reader, member: Member) -> list[Finding]:
    plan = ctx.config.backup_plan
    account = member.account_id
    role_arn = arns.iam_role(account, plan.service_role_name)
    check = "backup.service-role"
    stack_creates = plan.create_service_role and member.preparer != "nobody"
    if stack_creates and ctx.options.before_deploy:
        return []
    iam = reader.client("iam", plan.regions[0])
    try:
        role = iam.get_role(RoleName=plan.service_role_short_name)["Role"]
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        # "The IAM role must exist when creating a backup plan for the first time"
        # (Organizations User Guide, "Backup policy syntax and examples").
        if plan.create_service_role:
            fix = (
                f"missing, so the backup policy's plan cannot run here: {_prepare_fix(ctx, member)}"
            )
        else:
            fix = (
                "missing (backupPlan.createServiceRole: false): create it at path "
                f"{plan.service_role_path}, trusted by backup.amazonaws.com, with "
                "AWSBackupServiceRolePolicyForBackup and AWSBackupServiceRolePolicyForRestores"
            )
        return [Finding(check, "failure", account, GLOBAL, role_arn, fix)]
    if role.get("Path", "/") != plan.service_role_path:
        fix = (
            f"the role is at path {role.get('Path')}, but the backup policy names {role_arn}: "
            "backupPlan.serviceRoleName must give its path"
        )
        return [Finding(check, "failure", account, GLOBAL, role_arn, fix)]
    return [ok(check, account, GLOBAL, role_arn)]


def _source_vault(ctx: Context, reader: Reader, member: Member, region: str) -> list[Finding]:
    name = ctx.config.backup_plan.source_vault_name
    account = member.account_id
    check = "backup.source-vault"
    if ctx.creates(member.preparer):
        return []
    vault_arn = arns.backup_vault(region, account, name)
    try:
        vault = reader.client("backup", region).describe_backup_vault(BackupVaultName=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        # "Vaults must exist in each specified AWS Region ... for each AWS account that
        # receives the effective policy" (Organizations User Guide, "Backup policy syntax").
        fix = f"missing, so every backup job here fails: {_prepare_fix(ctx, member)}"
        return [Finding(check, "failure", account, region, vault_arn, fix)]
    key = key_facts(reader, region, str(vault["EncryptionKeyArn"]))
    status, fix = shared_key_verdict(
        key,
        "failure",
        "copies of fully managed types (EFS, DynamoDB) fail; empty and delete the vault, then "
        f"{_prepare_fix(ctx, member)} on its own key",
    )
    return [Finding(check, status, account, region, vault_arn, fix)]


def _owns_region_settings(ctx: Context, member: Member) -> bool:
    if ctx.config.backup_plan.region_settings is None or member.preparer != "stack":
        return False
    settings = {s.account_id: s.manage_region_settings for s in ctx.config.source_accounts}
    return settings.get(member.account_id, False)


def _region_settings(
    ctx: Context, reader: Reader, member: Member, region: str, found_types: Iterable[str]
) -> list[Finding]:
    """Opt-in for every type the plan backs up (or that is tagged), and advanced DynamoDB.

    Opt-in: with tag-based selections AWS Backup protects a type's resources only where it is
    opted in (AWS Backup API reference, DescribeRegionSettings: "If service opt-in is enabled
    for a service, AWS Backup tries to protect that service's resources in this Region").
    Advanced DynamoDB backup is needed for cross-account copies, and "If your backup job is
    created by a backup policy, you need to manually opt-in" (Developer Guide, "Advanced
    DynamoDB backup"). EFS and DynamoDB are fully managed: no resource key is involved.
    """
    owned = _owns_region_settings(ctx, member)
    types = set(ctx.config.backup_plan.resource_types) | set(found_types)
    if not types or (owned and ctx.options.before_deploy):
        return []
    account = member.account_id
    answer = reader.client("backup", region).describe_region_settings()
    missing = missing_opt_in(types, answer.get("ResourceTypeOptInPreference") or {})
    findings = []
    resource = f"opt-in {', '.join(sorted(types))}"
    if missing:
        if owned:
            keys = ", ".join(f"backupPlan.regionSettings.optIn.{name}: true" for name in missing)
            fix = f"{', '.join(missing)} not opted in: set {keys}, then {ctx.redeploy}"
        else:
            values = ",".join(f"{name}=true" for name in missing)
            fix = (
                f"{', '.join(missing)} not opted in, so AWS Backup skips those tagged resources: "
                f"aws backup update-region-settings --region {region} "
                f"--resource-type-opt-in-preference {values} (in account {account}; opt-in is "
                "account-wide)"
            )
        findings.append(Finding("backup.opt-in", "failure", account, region, resource, fix))
    else:
        findings.append(ok("backup.opt-in", account, region, resource))
    if "DynamoDB" in types:
        check = "backup.advanced-dynamodb"
        managed = (answer.get("ResourceTypeManagementPreference") or {}).get("DynamoDB") is True
        if managed:
            findings.append(ok(check, account, region, "DynamoDB"))
        else:
            how = (
                f"set backupPlan.regionSettings.fullManagement.DynamoDB: true, then {ctx.redeploy}"
                if owned
                else f"aws backup update-region-settings --region {region} "
                "--resource-type-management-preference DynamoDB=true"
            )
            fix = f"advanced DynamoDB backup is off, so DynamoDB backups are not copied: {how}"
            findings.append(Finding(check, "failure", account, region, "DynamoDB", fix))
    return findings


def config_recorder(reader: Reader, region: str) -> list[Finding]:
    """The audit prerequisite, guarded: an unreadable recorder is unknown."""
    check = "audit.config-recorder"
    return guarded(check, reader.account_id, region, RECORDER, _config_recorder, reader, region)


def _config_recorder(reader: Reader, region: str) -> list[Finding]:
    """The audit prerequisite: an AWS Config recorder recording AWS Backup's resources."""
    config = reader.client("config", region)
    recorders = config.describe_configuration_recorders().get("ConfigurationRecorders", [])
    statuses = config.describe_configuration_recorder_status().get(
        "ConfigurationRecordersStatus", []
    )
    status, fix = recorder_verdict(recorders, statuses)
    return [Finding("audit.config-recorder", status, reader.account_id, region, RECORDER, fix)]


def check_member(ctx: Context, member: Member) -> list[Finding]:
    """Every check of one member account, each plan Region in turn."""
    account = member.account_id
    reader = ctx.reader(account)
    if reader is None:
        unprepared = (
            "; it is not in sourceAccounts, so it has no source vault unless something else made one"
            if member.preparer == "nobody"
            else ""
        )
        fix = (
            f"found under {member.target} only: set organization.doctorRoleName to a read-only "
            f"role in such accounts (docs/operations.md#make-doctor) to check it{unprepared}"
        )
        return [Finding("access", "unknown", account, GLOBAL, f"under {member.target}", fix)]
    unreachable = reach(ctx, reader)
    if unreachable:
        return unreachable
    plan = ctx.config.backup_plan
    role_arn = arns.iam_role(account, plan.service_role_name)
    findings = guarded(
        "backup.service-role", account, GLOBAL, role_arn, _service_role, ctx, reader, member
    )
    for region in plan.regions:
        findings += _region_checks(ctx, reader, member, region)
    return findings


def _region_checks(ctx: Context, reader: Reader, member: Member, region: str) -> list[Finding]:
    account = member.account_id
    vault = ctx.config.backup_plan.source_vault_name
    findings = guarded(
        "backup.source-vault",
        account,
        region,
        vault,
        _source_vault,
        ctx,
        reader,
        member,
        region,
    )
    tagged = Tagged()
    findings += guarded(
        "copy.workload-key",
        account,
        region,
        "tagged resources",
        copyability,
        ctx,
        reader,
        region,
        tagged,
    )
    types = tagged.backup_types
    findings += guarded(
        "backup.opt-in",
        account,
        region,
        "Region settings",
        _region_settings,
        ctx,
        reader,
        member,
        region,
        types,
    )
    if types & {"EBS", "EC2"} or {"EBS", "EC2"} & set(ctx.config.backup_plan.resource_types):
        findings += guarded(
            "copy.ebs-default-key",
            account,
            region,
            "EBS default key",
            ebs_default_key,
            ctx,
            reader,
            region,
        )
    if ctx.config.audit is not None:
        findings += config_recorder(reader, region)
    return findings
