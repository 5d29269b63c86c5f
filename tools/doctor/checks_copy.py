"""Whether what a member account tags for backup can be copied to the destination account.

What is tagged is found with one Resource Groups Tagging API call per Region (GetResources,
"Returns all the tagged or previously tagged resources that are located in the specified
Amazon Web Services Region for the account"), then only those resources are described. RDS,
Aurora, DocumentDB and Neptune share the RDS API ("This operation can also return information
for Amazon RDS clusters and Amazon DocDB clusters", Neptune API reference, DescribeDBClusters),
so one DescribeDBClusters covers the three cluster engines. Recovery points of those types and
of EBS keep the resource's key, which must be a customer managed key the destination can use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from policies import arns
from tools.doctor.access import Reader
from tools.doctor.context import Context, describe_error
from tools.doctor.model import Finding, ok
from tools.doctor.rules import (
    KeyFacts,
    backup_type_of_engine,
    parse_policy,
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


def copyability(ctx: Context, reader: Reader, region: str, tagged: Tagged) -> list[Finding]:
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


def ebs_default_key(ctx: Context, reader: Reader, region: str) -> list[Finding]:
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
