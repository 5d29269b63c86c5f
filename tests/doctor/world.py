"""A whole organization in moto for the doctor's tests: healthy, or broken in known ways.

Accounts are moto accounts reached through `sts.assume_role` (moto switches account on the
role's ARN). The management account creates the organization, OUs `prod` and `prod/team`, and
the accounts; the stack file is written from the ids moto hands out, and every resource is
then made as `pulumi up` (and the prerequisites) would make it, from the same builders the
program uses. What moto cannot answer comes from `tests.support.doctor_fakes.Gaps`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3

from config import StackConfig, parse_stack_config
from documents import delegation_policy, export_bucket_policy_document
from policies.backup import vault_access_policy
from policies.kms import key_administration, workload_key_statements
from policies.statements import document
from tests.support.doctor_fakes import Gaps
from topology import Topology

PROJECT = "aws-backup-copy"
STACK = "doctor"
REGION = "eu-west-1"
DR_REGION = "eu-central-1"
ORG_REGION = "us-east-1"
MANAGEMENT = "100000000000"
TAG = ("Backup", "true")
BUCKET = "doctor-exports-bucket"
PREVIEW = "BackupPreviewer"
DOCTOR_ROLE = "BackupDoctor"
BACKUP_PRINCIPAL = "backup.amazonaws.com"
STACK_SETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
BACKUP_CONFIG_TYPES = [
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::Backup::RecoveryPoint",
]
Mode = Literal["providers", "stackSets"]
# The breakages `build(broken=True)` makes, each asserted by a test.
BREAKAGES = (
    "policy type",
    "trusted access",
    "delegation",
    "missing target",
    "foreign resource policy",
    "cross-account off",
    "source one bare",
    "opt-in",
    "aws managed key",
    "key without destination",
    "source two unreachable",
    "dr vault missing",
    "vault policy missing",
    "vault not locked",
    "bucket policy edited",
    "no recorder",
    "ebs default key",
    "destination targeted",
    "stray account",
    "copies from outside the scope",
)


def preview_role(account_id: str) -> str:
    """The preview role ARN every named account's access gives."""
    return f"arn:aws:iam::{account_id}:role/{PREVIEW}"


@dataclass
class World:
    """The organization, its stack configuration and the fakes for moto's gaps."""

    mode: Mode
    broken: bool
    # Member accounts source1..sourceN (source1 in `prod`, the others in `prod/team`), and
    # the plan's Regions.
    members: int = 2
    regions: tuple[str, ...] = (REGION,)
    ids: dict[str, str] = field(default_factory=dict)
    org_id: str = ""
    root: str = ""
    ous: dict[str, str] = field(default_factory=dict)
    gaps: Gaps = field(default_factory=Gaps)
    raw: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _base: boto3.Session = field(default_factory=lambda: boto3.Session(region_name=ORG_REGION))

    def client(self, account_id: str, service: str, region: str = REGION) -> Any:
        """A client in one moto account (moto lets any principal assume any role), made once."""
        key = (account_id, service, region)
        if key not in self._clients:
            sts = self._base.client("sts")
            role = f"arn:aws:iam::{account_id}:role/setup"
            found = sts.assume_role(RoleArn=role, RoleSessionName="world-setup")["Credentials"]
            self._clients[key] = self._base.client(
                service,
                region_name=region,
                aws_access_key_id=found["AccessKeyId"],
                aws_secret_access_key=found["SecretAccessKey"],
                aws_session_token=found["SessionToken"],
            )
        return self._clients[key]

    @property
    def member_names(self) -> list[str]:
        """source1..sourceN."""
        return [f"source{index}" for index in range(1, self.members + 1)]

    @property
    def config(self) -> StackConfig:
        """The parsed stack configuration."""
        return parse_stack_config(PROJECT, self.raw)

    def stack_file(self) -> str:
        """The configuration as a `Pulumi.<stack>.yaml` would hold it (JSON is YAML)."""
        return json.dumps({"config": {f"{PROJECT}:{k}": v for k, v in self.raw.items()}})


def _organization(world: World) -> None:
    org = world.client(MANAGEMENT, "organizations", ORG_REGION)
    world.org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    world.root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=world.root, Name="prod")["OrganizationalUnit"]
    team = org.create_organizational_unit(ParentId=prod["Id"], Name="team")["OrganizationalUnit"]
    world.ous = {"root": world.root, "prod": prod["Id"], "team": team["Id"]}
    placement = {
        "delegate": "root",
        "destination": "prod" if world.broken else "root",
        "export": "root",
        **{name: "prod" if name == "source1" else "team" for name in world.member_names},
        "suspended": "prod",
    }
    if world.broken and world.mode == "providers":
        placement["stray"] = "team"
    for name, parent in placement.items():
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        org.move_account(
            AccountId=account_id, SourceParentId=world.root, DestinationParentId=world.ous[parent]
        )
        world.ids[name] = account_id
    world.ids["management"] = MANAGEMENT
    org.close_account(AccountId=world.ids["suspended"])
    if not world.broken:
        org.enable_policy_type(RootId=world.root, PolicyType="BACKUP_POLICY")
        org.enable_aws_service_access(ServicePrincipal=BACKUP_PRINCIPAL)
    org.enable_aws_service_access(ServicePrincipal=STACK_SETS_PRINCIPAL)


def _access(world: World, name: str) -> dict[str, str]:
    return {"accountId": world.ids[name], "previewRoleArn": preview_role(world.ids[name])}


def _raw_config(world: World) -> dict[str, Any]:
    targets = [world.ous["prod"]]
    if world.broken:
        targets.append("ou-zzzz-notthere1")
    elif world.mode == "providers":
        # An account target (stackSets mode takes roots and OUs only), under the OU as well.
        targets.append(world.ids["source1"])
    organization: dict[str, Any] = {
        "id": world.org_id,
        "managementAccount": _access(world, "management"),
        "region": ORG_REGION,
        "policyTargets": targets,
        "manageGlobalSettings": True,
        "globalSettings": {"isMpaEnabled": False, "isDelegatedAdministratorEnabled": True},
        "delegatedAdministrator": _access(world, "delegate"),
        "createResourcePolicy": True,
        "memberDeployment": world.mode,
        "doctorRoleName": DOCTOR_ROLE,
    }
    raw: dict[str, Any] = {
        "environment": STACK,
        "organization": organization,
        "destination": {
            **_access(world, "destination"),
            "region": REGION,
            "drRegion": DR_REGION,
            "vaultLock": {"mode": "governance", "minRetentionDays": 7, "maxRetentionDays": 400},
        },
        "backupPlan": {
            "name": "daily",
            "regions": list(world.regions),
            "scheduleExpression": "cron(0 3 ? * * *)",
            "startWindowMinutes": 60,
            "completeWindowMinutes": 180,
            "deleteAfterDays": 35,
            "copyDeleteAfterDays": 90,
            "selectionTag": {"key": TAG[0], "values": [TAG[1]]},
            "resourceTypes": ["EBS", "EC2", "RDS", "DynamoDB"],
        },
        "dynamodbExport": {
            "enabled": True,
            "bucket": {**_access(world, "export"), "region": REGION, "name": BUCKET},
            "scheduleExpression": "cron(0 2 * * ? *)",
        },
        "audit": {"enabled": True},
    }
    if world.mode == "providers":
        raw["sourceAccounts"] = [
            {**_access(world, name), "regions": list(world.regions)} for name in world.member_names
        ]
    return raw


def _key(world: World, account_id: str, region: str, statements: list[dict[str, Any]]) -> str:
    kms = world.client(account_id, "kms", region)
    policy = document(key_administration(account_id), *statements)
    return str(kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"])


def _aws_managed_key(world: World, account_id: str, region: str, alias: str) -> str:
    # moto creates `aws/*` keys on first use, as KMS does; the fakes say who manages them.
    kms = world.client(account_id, "kms", region)
    arn = str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    world.gaps.aws_managed_keys.add(arn)
    return arn


def _recorder(world: World, account_id: str, region: str) -> None:
    config = world.client(account_id, "config", region)
    group = {"allSupported": False, "resourceTypes": BACKUP_CONFIG_TYPES}
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{account_id}:role/config",
            "recordingGroup": group,
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def _member(world: World, config: StackConfig, name: str) -> None:
    """What a prepared member has: the service role, and in each plan Region the rest."""
    account_id = world.ids[name]
    plan = config.backup_plan
    bare = world.broken and name in ("source1", "stray")
    if not bare:
        world.client(account_id, "iam").create_role(
            RoleName=plan.service_role_short_name,
            Path=plan.service_role_path,
            AssumeRolePolicyDocument=json.dumps(document()),
        )
    for region in world.regions:
        _member_region(world, config, name, region, bare)


def _member_region(world: World, config: StackConfig, name: str, region: str, bare: bool) -> None:
    """Vault, Region settings, recorder, and tagged workloads: a database, an Aurora cluster,
    a volume, an instance with a data volume, a table."""
    account_id = world.ids[name]
    if not bare:
        world.client(account_id, "backup", region).create_backup_vault(
            BackupVaultName=config.backup_plan.source_vault_name,
            EncryptionKeyArn=_key(world, account_id, region, []),
        )
    if name == "stray":
        return
    opt_in = {t: True for t in ("EBS", "EC2", "RDS", "DynamoDB", "EFS", "Aurora")}
    if bare:
        opt_in["EBS"] = False
    world.gaps.region_settings[(account_id, region)] = {
        "ResourceTypeOptInPreference": opt_in,
        "ResourceTypeManagementPreference": {"DynamoDB": not bare, "EFS": True},
    }
    if not bare:
        _recorder(world, account_id, region)
    destination = config.destination.account_id
    good_key = _key(world, account_id, region, workload_key_statements(destination)["Statement"])
    tags = [{"Key": TAG[0], "Value": TAG[1]}]
    rds = world.client(account_id, "rds", region)
    ec2 = world.client(account_id, "ec2", region)
    password = {"MasterUsername": "admin", "MasterUserPassword": "correct-horse-battery"}
    rds.create_db_instance(
        DBInstanceIdentifier=f"orders-{name}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=_aws_managed_key(world, account_id, region, "alias/aws/rds") if bare else good_key,
        Tags=tags,
        **password,
    )
    rds.create_db_cluster(
        DBClusterIdentifier=f"ledger-{name}",
        Engine="aurora-postgresql",
        StorageEncrypted=True,
        KmsKeyId=good_key,
        Tags=tags,
        **password,
    )
    ec2.create_volume(
        AvailabilityZone=f"{region}a",
        Size=1,
        Encrypted=True,
        KmsKeyId=_key(world, account_id, region, []) if bare else good_key,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]
    zone = instance["Placement"]["AvailabilityZone"]
    data = ec2.create_volume(AvailabilityZone=zone, Size=1, Encrypted=True, KmsKeyId=good_key)
    ec2.attach_volume(
        VolumeId=data["VolumeId"], InstanceId=instance["InstanceId"], Device="/dev/sdf"
    )
    if region == world.regions[0]:
        world.extra[f"{name}.instance"] = instance["InstanceId"]
        world.extra[f"{name}.data"] = data["VolumeId"]
    world.client(account_id, "dynamodb", region).create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tags,
    )
    if bare:
        ec2.enable_ebs_encryption_by_default()
        world.gaps.ebs_default_keys[(account_id, region)] = _aws_managed_key(
            world, account_id, region, "alias/aws/ebs"
        )


def _destination(world: World, config: StackConfig) -> None:
    destination = config.destination
    account_id = destination.account_id
    for region in destination.regions:
        _recorder(world, account_id, region)
        if world.broken and region == DR_REGION:
            continue
        backup = world.client(account_id, "backup", region)
        backup.create_backup_vault(
            BackupVaultName=destination.vault_name,
            EncryptionKeyArn=_key(world, account_id, region, []),
        )
        if world.broken:
            continue
        backup.put_backup_vault_lock_configuration(
            BackupVaultName=destination.vault_name, MinRetentionDays=7, MaxRetentionDays=400
        )
        vault_arn = f"arn:aws:backup:{region}:{account_id}:backup-vault:{destination.vault_name}"
        policy = vault_access_policy(vault_arn, Topology(config).copy_in_scope)
        world.gaps.vault_policies[(account_id, region, destination.vault_name)] = json.dumps(policy)
    _recent_copies(world, config)


def _recent_copies(world: World, config: StackConfig) -> None:
    """Copies in the primary vault from every member (the broken world: from the delegated
    administrator too, which is not under the targeted OU), and an old one from a stranger."""
    destination = config.destination
    now = datetime.now(UTC)
    copiers = [(world.ids[name], now - timedelta(days=2)) for name in world.member_names]
    copiers.append(("123412341234", now - timedelta(days=90)))
    if world.broken:
        copiers.append((world.ids["delegate"], now - timedelta(days=1)))
    world.gaps.recovery_points[(destination.account_id, REGION, destination.vault_name)] = [
        {
            "RecoveryPointArn": f"arn:aws:backup:{REGION}:{destination.account_id}:recovery-point:{index}",
            "SourceBackupVaultArn": f"arn:aws:backup:{REGION}:{account}:backup-vault:source",
            "CreationDate": created,
        }
        for index, (account, created) in enumerate(copiers)
    ]


def _export_bucket(world: World, config: StackConfig) -> None:
    assert config.dynamodb_export is not None
    s3 = world.client(world.ids["export"], "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    policy = export_bucket_policy_document(Topology(config))
    assert policy is not None
    if world.broken:
        policy = {**policy, "Statement": policy["Statement"][:-1]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))


def _organization_answers(world: World, config: StackConfig) -> None:
    gaps = world.gaps
    management, delegate = world.ids["management"], world.ids["delegate"]
    gaps.global_settings[management] = {
        "isCrossAccountBackupEnabled": "false" if world.broken else "true",
        "isDelegatedAdministratorEnabled": "true",
        "isMpaEnabled": "false",
    }
    if world.broken:
        foreign = document(
            {"Sid": "SomeoneElses", "Effect": "Allow", "Principal": "*", "Action": "x:Y"}
        )
        gaps.resource_policy = ("rp-someoneelse1", json.dumps(foreign))
        # Named in providers mode, found under an OU in stackSets mode: either way unreachable.
        gaps.refused_roles.add(preview_role(world.ids["source2"]))
        gaps.refused_roles.add(f"arn:aws:iam::{world.ids['source2']}:role/{DOCTOR_ROLE}")
        return
    gaps.delegated = {BACKUP_PRINCIPAL: [delegate], STACK_SETS_PRINCIPAL: [delegate]}
    gaps.resource_policy = ("rp-thestacks1", json.dumps(delegation_policy(Topology(config))))
    gaps.backup_policies = {
        target: [config.plan_key] for target in config.organization.policy_targets
    }


def build(
    broken: bool = False,
    mode: Mode = "providers",
    members: int = 2,
    regions: tuple[str, ...] = (REGION,),
) -> World:
    """The organization and every account, healthy or with each of BREAKAGES. Call inside
    `moto.mock_aws()`, or with AWS_ENDPOINT_URL pointing at a moto server."""
    world = World(mode, broken, members, regions)
    _organization(world)
    world.raw = _raw_config(world)
    config = world.config
    _organization_answers(world, config)
    for name in [*world.member_names, *(["stray"] if "stray" in world.ids else [])]:
        _member(world, config, name)
    _destination(world, config)
    _export_bucket(world, config)
    return world
