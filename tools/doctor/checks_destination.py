"""The destination account's vaults (key, access policy, Vault Lock), and the export bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from documents import export_bucket_policy_document
from policies import arns
from policies.backup import vault_access_policy
from tools.doctor.access import Reader
from tools.doctor.checks_copy import key_facts
from tools.doctor.checks_member import config_recorder
from tools.doctor.checks_organization import Organization
from tools.doctor.context import Context, error_code, guarded, reach
from tools.doctor.model import Finding, ok
from tools.doctor.rules import (
    RECENT_COPY_DAYS,
    copies_outside_scope_verdict,
    lock_verdict,
    parse_policy,
    same_policy,
    shared_key_verdict,
    vault_policy_verdict,
)


def _named(ctx: Context, account_id: str) -> Reader:
    reader = ctx.reader(account_id)
    assert reader is not None  # an account the configuration names always has a route
    return reader


def _vault(ctx: Context, reader: Reader, region: str) -> list[Finding]:
    destination = ctx.config.destination
    vault_arn = arns.backup_vault(region, destination.account_id, destination.vault_name)
    if ctx.options.before_deploy:
        return []
    client = reader.client("backup", region)
    try:
        vault = client.describe_backup_vault(BackupVaultName=destination.vault_name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        fix = f"missing, so every copy into it fails: {ctx.redeploy} creates it"
        return [Finding("destination.vault", "failure", reader.account_id, region, vault_arn, fix)]
    key = key_facts(reader, region, str(vault["EncryptionKeyArn"]))
    # "The destination vault cannot be the default vault. This is because the default vault
    # is encrypted with a key that cannot be shared with other accounts" (AWS Backup
    # Developer Guide, "Creating backup copies across AWS accounts").
    status, fix = shared_key_verdict(
        key, "failure", f"empty and delete the vault, then {ctx.redeploy} creates it on its own key"
    )
    findings = [Finding("destination.vault", status, reader.account_id, region, vault_arn, fix)]
    findings += guarded(
        "destination.vault-policy",
        reader.account_id,
        region,
        vault_arn,
        _vault_policy,
        ctx,
        reader,
        region,
    )
    status, fix = lock_verdict(destination.vault_lock, vault, datetime.now(UTC), ctx.redeploy)
    findings.append(
        Finding("destination.vault-lock", status, reader.account_id, region, vault_arn, fix)
    )
    return findings


def _vault_policy(ctx: Context, reader: Reader, region: str) -> list[Finding]:
    destination = ctx.config.destination
    vault_arn = arns.backup_vault(region, destination.account_id, destination.vault_name)
    scope = ctx.topology.copy_in_scope
    expected = vault_access_policy(vault_arn, scope)
    try:
        answer = reader.client("backup", region).get_backup_vault_access_policy(
            BackupVaultName=destination.vault_name
        )
        actual = parse_policy(answer.get("Policy"))
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        actual = None
    status, fix = vault_policy_verdict(
        actual,
        expected,
        scope.account_ids,
        scope.organization_id if scope.ou_ids or scope.whole_organization else None,
        ctx.redeploy,
    )
    return [Finding("destination.vault-policy", status, reader.account_id, region, vault_arn, fix)]


def _copies_from_outside_scope(
    ctx: Context, reader: Reader, region: str, organization: Organization
) -> list[Finding]:
    """Accounts that copied into the vault lately but that the copy-in scope does not admit.

    One aggregate read per vault, ListRecoveryPointsByBackupVault with `ByCreatedAfter`: a
    copied recovery point carries the ARN of the vault it came from (`SourceBackupVaultArn`,
    AWS Backup API reference, RecoveryPointByBackupVault), whose account is the copier's.
    """
    check = "destination.copies-from-outside-scope"
    destination = ctx.config.destination
    vault_arn = arns.backup_vault(region, destination.account_id, destination.vault_name)
    since = datetime.now(UTC) - timedelta(days=RECENT_COPY_DAYS)
    copiers: set[str] = set()
    try:
        for page in reader.pages(
            "backup",
            region,
            "list_recovery_points_by_backup_vault",
            BackupVaultName=destination.vault_name,
            ByCreatedAfter=since,
        ):
            for point in page["RecoveryPoints"]:
                source = point.get("SourceBackupVaultArn")
                if source and arns.account_of(source) != destination.account_id:
                    copiers.add(arns.account_of(source))
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return []  # no vault yet: `destination.vault` says so
    status, fix = copies_outside_scope_verdict(
        copiers,
        ctx.topology.copy_in_scope,
        organization.under_organizational_units(),
        ctx.config.copies_from,
    )
    return [Finding(check, status, reader.account_id, region, vault_arn, fix)]


def check_destination(ctx: Context, organization: Organization) -> list[Finding]:
    """Each destination vault Region: the vault, its policy and lock, who copied into it lately
    (and AWS Config with audit)."""
    destination = ctx.config.destination
    reader = _named(ctx, destination.account_id)
    findings = reach(ctx, reader)
    if findings:
        return findings
    for region in destination.regions:
        vault = destination.vault_name
        findings += guarded(
            "destination.vault", reader.account_id, region, vault, _vault, ctx, reader, region
        )
        findings += guarded(
            "destination.copies-from-outside-scope",
            reader.account_id,
            region,
            vault,
            _copies_from_outside_scope,
            ctx,
            reader,
            region,
            organization,
        )
        if ctx.config.audit is not None:
            findings += config_recorder(reader, region)
    return findings


# S3 GetBucketLocation: us-east-1 buckets report no LocationConstraint, and old eu-west-1
# buckets report "EU" (Amazon S3 API reference, GetBucketLocation).
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def _bucket(ctx: Context, reader: Reader) -> list[Finding]:
    export = ctx.config.dynamodb_export
    assert export is not None
    bucket = export.bucket
    if ctx.options.before_deploy:
        return []
    s3 = reader.client("s3", bucket.region)
    account = reader.account_id
    try:
        location = s3.get_bucket_location(Bucket=bucket.name).get("LocationConstraint")
    except ClientError as error:
        if error_code(error) != "NoSuchBucket":
            raise
        fix = f"missing, so every export fails: {ctx.redeploy} creates it"
        return [Finding("export.bucket", "failure", account, bucket.region, bucket.name, fix)]
    region = LEGACY_LOCATIONS.get(location, location)
    if region != bucket.region:
        fix = f"the bucket is in {region}: set dynamodbExport.bucket.region: {region}"
        return [Finding("export.bucket", "failure", account, bucket.region, bucket.name, fix)]
    findings = [ok("export.bucket", account, bucket.region, bucket.name)]
    expected = export_bucket_policy_document(ctx.topology)
    assert expected is not None  # the export bucket is checked only with dynamodbExport
    try:
        actual = parse_policy(s3.get_bucket_policy(Bucket=bucket.name)["Policy"])
    except ClientError as error:
        if error_code(error) != "NoSuchBucketPolicy":
            raise
        actual = None
    check = "export.bucket-policy"
    if actual is None:
        fix = f"no bucket policy, so the exporters cannot write: {ctx.redeploy} restores it"
        findings.append(Finding(check, "failure", account, bucket.region, bucket.name, fix))
    elif same_policy(actual, expected):
        findings.append(ok(check, account, bucket.region, bucket.name))
    else:
        fix = f"the bucket policy differs from the stack's: {ctx.redeploy} restores it"
        findings.append(Finding(check, "warning", account, bucket.region, bucket.name, fix))
    return findings


def check_export_bucket(ctx: Context) -> list[Finding]:
    """The export bucket: reachable in its Region, with the stack's policy."""
    export = ctx.config.dynamodb_export
    if export is None:
        return []
    reader = _named(ctx, export.bucket.account_id)
    findings = reach(ctx, reader)
    if findings:
        return findings
    return findings + guarded(
        "export.bucket",
        reader.account_id,
        export.bucket.region,
        export.bucket.name,
        _bucket,
        ctx,
        reader,
    )
