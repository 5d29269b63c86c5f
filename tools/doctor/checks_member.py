"""One member account the backup policy reaches: its service role, and in each plan Region its
source vault, Region settings, AWS Config recorder and whether what is tagged can be copied.

What is tagged is found with one Resource Groups Tagging API call per Region (GetResources,
"Returns all the tagged or previously tagged resources that are located in the specified
Amazon Web Services Region for the account"), then only those resources are described. RDS,
Aurora, DocumentDB and Neptune share the RDS API ("This operation can also return information
for Amazon RDS clusters and Amazon DocDB clusters", Neptune API reference, DescribeDBClusters),
so one DescribeDBClusters covers the three cluster engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from policies import arns
from tools.doctor.access import Reader
from tools.doctor.context import (
    Context,
    Member,
    describe_error,
    error_code,
    guarded,
    reach,
)
from tools.doctor.model import GLOBAL, Finding, ok
from tools.doctor.rules import (
    KeyFacts,
    backup_type_of_engine,
    missing_opt_in,
    parse_policy,
    recorder_verdict,
    shared_key_verdict,
    workload_key_verdict,
)

# Resource Groups Tagging API resource types, and the AWS Backup resource type of each
# (RDS-API resources get theirs from the engine).
TAGGED_TYPES = {
    "rds:db": "",
    "rds:cluster": "",
    "ec2:volume": "EBS",
    "ec2:instance": "EC2",
    "dynamodb:table": "DynamoDB",
    "elasticfilesystem:file-system": "EFS",
}
RECORDER = "AWS Config recorder"
# Filter values per describe call: a bounded request whatever the number of resources.
CHUNK = 100
TAG_VALUES_PER_CALL = 20
# (operation, result key, filter, tagging API type, ARN field, kind) of the RDS-API describes.
RDS_DESCRIBES = (
    (
        "describe_db_instances",
        "DBInstances",
        "db-instance-id",
        "rds:db",
        "DBInstanceArn",
        "instance",
    ),
    (
        "describe_db_clusters",
        "DBClusters",
        "db-cluster-id",
        "rds:cluster",
        "DBClusterArn",
        "cluster",
    ),
)
# RDS cannot re-key a database in place; a snapshot copy can take a new key ("you can specify a
# value for this parameter to encrypt the copy with a new KMS key", RDS API reference,
# CopyDBSnapshot and CopyDBClusterSnapshot); likewise EC2 CopySnapshot for volumes.
RE_ENCRYPT = {
    "instance": "copy a snapshot with aws rds copy-db-snapshot --kms-key-id <customer managed "
    "key> and restore the instance from it",
    "cluster": "copy a snapshot with aws rds copy-db-cluster-snapshot --kms-key-id <customer "
    "managed key> and restore the cluster from it",
    "volume": "copy a snapshot with aws ec2 copy-snapshot --encrypted --kms-key-id <customer "
    "managed key>, create a volume from it and swap it in",
}


@dataclass(frozen=True)
class Encrypted:
    """A tagged resource whose backups keep its own key (None: not encrypted)."""

    arn: str
    kind: str  # instance, cluster or volume
    key_id: str | None


@dataclass
class Tagged:
    """What carries the plan's selection tag in one account and Region."""

    arns: dict[str, list[str]] = field(default_factory=dict)
    backup_types: set[str] = field(default_factory=set)
    encrypted: list[Encrypted] = field(default_factory=list)


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _tagged_arns(ctx: Context, reader: Reader, region: str) -> dict[str, list[str]]:
    """Resource type (`rds:db`, `ec2:volume`, ...) -> ARNs carrying the selection tag.

    "If you specify a filter that contains more than one value for a key, the response returns
    resources that match any of the specified values", and "each key can include up to 20
    values" (Resource Groups Tagging API reference, GetResources): one call per 20 values.
    """
    tag = ctx.config.backup_plan.selection_tag
    found: dict[str, set[str]] = {}
    values = list(tag.values)
    for start in range(0, len(values), TAG_VALUES_PER_CALL):
        pages = reader.pages(
            "resourcegroupstaggingapi",
            region,
            "get_resources",
            TagFilters=[{"Key": tag.key, "Values": values[start : start + TAG_VALUES_PER_CALL]}],
            ResourceTypeFilters=list(TAGGED_TYPES),
        )
        for page in pages:
            for mapping in page["ResourceTagMappingList"]:
                arn = mapping["ResourceARN"]
                service, resource = arn.split(":")[2], arn.split(":", 5)[5]
                kind = resource.replace("/", ":").split(":")[0]
                found.setdefault(f"{service}:{kind}", set()).add(arn)
    return {kind: sorted(arns_found) for kind, arns_found in found.items()}


def _describe(
    reader: Reader, region: str, operation: str, key: str, filter_name: str, ids: list[str]
) -> Iterator[dict[str, Any]]:
    service = "rds" if operation.startswith("describe_db") else "ec2"
    for chunk in _chunks(ids):
        for page in reader.pages(
            service, region, operation, Filters=[{"Name": filter_name, "Values": chunk}]
        ):
            yield from page[key]


def _find_tagged(ctx: Context, reader: Reader, region: str, tagged: Tagged) -> None:
    """Fill `tagged`: the tagged ARNs, their AWS Backup types, and the keys of those whose
    backups keep their own key (RDS-API databases, EBS volumes, instances' volumes)."""
    tagged.arns = _tagged_arns(ctx, reader, region)
    names = {
        kind: [arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1] for arn in found]
        for kind, found in tagged.arns.items()
    }
    for kind, backup_type in TAGGED_TYPES.items():
        if backup_type and kind in tagged.arns:
            tagged.backup_types.add(backup_type)
    for operation, key, filter_name, kind, arn_key, what in RDS_DESCRIBES:
        for database in _describe(reader, region, operation, key, filter_name, names.get(kind, [])):
            tagged.backup_types.add(backup_type_of_engine(database["Engine"]))
            key_id = database.get("KmsKeyId") if database.get("StorageEncrypted") else None
            tagged.encrypted.append(Encrypted(database[arn_key], what, key_id))
    volume_ids = set(names.get("ec2:volume", []))
    # An instance's backup is an AMI with a snapshot of every attached volume, each on the
    # volume's key: the instance is copyable only if all of them are.
    attached: dict[str, str] = {}
    for reservation in _describe(
        reader,
        region,
        "describe_instances",
        "Reservations",
        "instance-id",
        names.get("ec2:instance", []),
    ):
        for instance in reservation["Instances"]:
            for mapping in instance.get("BlockDeviceMappings", []):
                volume = mapping.get("Ebs", {}).get("VolumeId")
                if volume and volume not in volume_ids:
                    attached[volume] = instance["InstanceId"]
    account = reader.account_id
    for volume in _describe(
        reader,
        region,
        "describe_volumes",
        "Volumes",
        "volume-id",
        sorted(volume_ids | set(attached)),
    ):
        arn = f"arn:{arns.PARTITION}:ec2:{region}:{account}:volume/{volume['VolumeId']}"
        if volume["VolumeId"] in attached:
            arn += f" (attached to {attached[volume['VolumeId']]})"
        key_id = volume.get("KmsKeyId") if volume.get("Encrypted") else None
        tagged.encrypted.append(Encrypted(arn, "volume", key_id))


def key_facts(reader: Reader, region: str, key_id: str) -> KeyFacts:
    """DescribeKey and, for a customer managed key in this account, its policy.

    "AWS managed key" is `KeyManager: AWS` in DescribeKey ("KMS keys in your Amazon Web
    Services account are either customer managed or Amazon Web Services managed", KMS API
    reference, KeyMetadata). GetKeyPolicy has "Cross-account use: No" (KMS API reference), so
    a key in another account is described but its policy is left to that account.
    """
    kms_region = key_id.split(":")[3] if key_id.startswith("arn:") else region
    kms = reader.client("kms", kms_region)
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as error:
        return KeyFacts(key_id, unreadable=describe_error(error))
    arn, manager = str(metadata["Arn"]), str(metadata.get("KeyManager"))
    owner = str(metadata.get("AWSAccountId", arns.account_of(arn)))
    if manager == "AWS":
        return KeyFacts(arn, manager)
    if owner != reader.account_id:
        why = f"it is in account {owner}, where GetKeyPolicy must be run (no cross-account use)"
        return KeyFacts(arn, manager, unreadable=why)
    try:
        text = kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    except ClientError as error:
        return KeyFacts(arn, manager, unreadable=describe_error(error))
    policy = parse_policy(text)
    return KeyFacts(arn, manager, policy, "" if policy is not None else "the policy is not JSON")


def _copyability(ctx: Context, reader: Reader, region: str, tagged: Tagged) -> list[Finding]:
    _find_tagged(ctx, reader, region, tagged)
    facts: dict[str, KeyFacts] = {}
    findings = []
    destination = ctx.config.destination.account_id
    for resource in tagged.encrypted:
        if resource.key_id is None:
            # Unencrypted: the copy is too ("Copies of unencrypted Amazon Aurora, Amazon
            # DocumentDB, and Amazon Neptune clusters are also unencrypted", AWS Backup
            # Developer Guide, "Encryption for backups in AWS Backup"); no key to share.
            findings.append(ok("copy.workload-key", reader.account_id, region, resource.arn))
            continue
        key = facts.get(resource.key_id) or key_facts(reader, region, resource.key_id)
        facts[resource.key_id] = key
        re_encrypt = (
            f"{RE_ENCRYPT[resource.kind]}, on a key with the statements in {ctx.statements_file}"
        )
        status, fix = workload_key_verdict(key, destination, ctx.statements_file, re_encrypt)
        findings.append(
            Finding("copy.workload-key", status, reader.account_id, region, resource.arn, fix)
        )
    return findings


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


def _ebs_default_key(ctx: Context, reader: Reader, region: str) -> list[Finding]:
    """New volumes get the account's default key when encryption by default is on; "AWS creates
    a unique AWS managed KMS key in each Region for use with encryption by default" (EC2 API
    reference, ModifyEbsDefaultKmsKeyId), and such a key cannot be shared."""
    ec2 = reader.client("ec2", region)
    check = "copy.ebs-default-key"
    if not ec2.get_ebs_encryption_by_default().get("EbsEncryptionByDefault"):
        return [ok(check, reader.account_id, region, "EBS encryption by default (off)")]
    key = key_facts(reader, region, str(ec2.get_ebs_default_kms_key_id()["KmsKeyId"]))
    status, fix = shared_key_verdict(
        key,
        "warning",
        "new volumes get it, and their backups cannot be copied; aws ec2 "
        f"modify-ebs-default-kms-key-id --region {region} --kms-key-id <customer managed key "
        f"with the statements in {ctx.statements_file}>",
    )
    return [Finding(check, status, reader.account_id, region, key.arn, fix)]


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
        _copyability,
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
            _ebs_default_key,
            ctx,
            reader,
            region,
        )
    if ctx.config.audit is not None:
        findings += config_recorder(reader, region)
    return findings
