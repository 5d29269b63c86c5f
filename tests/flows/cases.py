"""The requests of every hop of the flow catalogue, for one stack's rendered documents.

Each `Case` is one request AWS would evaluate (principal, action, resource, the context keys AWS
documents for that hop), the policies that decide it (the caller's identity policies and the
resource's policy), and whether it must be allowed. Negatives are the same request from someone
else: another role of the account, an account outside the stack's scope, another environment's
role, another account's prefix or table.

Who may copy in is restated here from the configuration (`expected_copier`), independently of
`topology.Topology`, so a test fails when the documents and the intent part ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from config import StackConfig
from flows import managed
from flows.evaluator import Evaluation, Request, ResourceKind, evaluate
from policies.doctor import MEMBER_READ_ACTIONS
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun
from topology import Topology

Policy = Mapping[str, Any]
LINKED_ROLE = "aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
REPORTS_ROLE = "aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
# An account of the organization that no stack targets, and an OU nobody targets.
OUTSIDER = "121212121299"
OUTSIDE_PATH = "r-ab12/ou-ab12-outside0"


@dataclass(frozen=True)
class Case:
    """One request of one hop, the policies that decide it, and the expected decision."""

    hop: str
    label: str
    request: Request
    resource_policy: Policy | None
    resource_account: str | None
    identity: tuple[Policy, ...] = ()
    kind: ResourceKind = "generic"
    allowed: bool = True
    # When allowed: the resource policy statements that may admit it, by Sid suffix (empty: any).
    admitted_by: frozenset[str] = frozenset()

    def decide(self) -> Evaluation:
        """AWS's decision, as the offline evaluator models it."""
        return evaluate(
            self.request,
            identity_policies=self.identity,
            resource_policy=self.resource_policy,
            resource_account=self.resource_account,
            resource_kind=self.kind,
        )


@dataclass(frozen=True)
class Organization:
    """Where accounts sit: account -> its path below the organization (`r-.../ou-.../`)."""

    id: str
    paths: Mapping[str, str]

    def context(self, account: str) -> dict[str, Any]:
        """The organization keys AWS sets for a principal of `account`."""
        path = self.paths.get(account, OUTSIDE_PATH)
        return {
            "aws:PrincipalOrgID": self.id,
            "aws:PrincipalOrgPaths": [f"{self.id}/{path}/"],
        }


def under_targeted_ou(config: StackConfig, organization: Organization, account: str) -> bool:
    """Whether `account` sits under an OU the policy targets, at any depth."""
    path = organization.paths.get(account, OUTSIDE_PATH)
    targets = config.organization.policy_targets
    return any(f"/{ou}" in f"/{path}" for ou in targets if ou.startswith("ou-"))


def targets_a_root(config: StackConfig) -> bool:
    """Whether the policy is attached to a root (it then reaches every account)."""
    return any(target.startswith("r-") for target in config.organization.policy_targets)


# The statements `policies.statements.scoped_allows` writes, by Sid suffix: the named accounts'
# roots (no organization key), accounts under OUs (`aws:PrincipalOrgID` and
# `aws:PrincipalOrgPaths`), the whole organization (`aws:PrincipalOrgID`).
NAMED, UNDER_OUS, ORGANIZATION = "InNamedAccounts", "UnderTargetedOUs", "InOrganization"
# Which of them still admit when the request lacks an organization key: a condition on an
# absent key does not match (IAM User Guide, "Condition operators": "If the key that you
# specify in a policy condition is not present in the request context, the values do not
# match"; for `ForAnyValue`, "Single-valued vs. multivalued context keys").
SURVIVE_WITHOUT = {
    "aws:PrincipalOrgPaths": frozenset({NAMED, ORGANIZATION}),
    "aws:PrincipalOrgID": frozenset({NAMED}),
    "aws:PrincipalArn": frozenset(),
}


def copier_admissions(
    config: StackConfig, organization: Organization, account: str
) -> frozenset[str]:
    """The statements that admit `account`'s backup service role into the central vaults, from
    the configuration's words: `accounts` the source accounts (by name), `policyTargets` those
    and the targeted accounts (by name) and every account under a targeted OU (by OU path),
    `organization` every account (the organization)."""
    sources = {source.account_id for source in config.source_accounts}
    targets = config.organization.policy_targets
    choice = config.copies_from
    if choice == "organization":
        return frozenset({ORGANIZATION})
    named = account in sources or (choice == "policyTargets" and account in targets)
    under = choice == "policyTargets" and under_targeted_ou(config, organization, account)
    return frozenset({NAMED} if named else set()) | frozenset({UNDER_OUS} if under else set())


def expected_copier(config: StackConfig, organization: Organization, account: str) -> bool:
    """Whether `account`'s backup service role may copy into the central vaults."""
    return bool(copier_admissions(config, organization, account))


def expected_receiver(config: StackConfig, organization: Organization, account: str) -> bool:
    """Whether copies back may reach `account` (it holds a source vault), from the
    configuration's words: providers mode the source accounts; stackSets mode every account
    under a targeted OU, or every account when a root is targeted."""
    if config.organization.member_deployment == "providers":
        return account in {source.account_id for source in config.source_accounts}
    return targets_a_root(config) or under_targeted_ou(config, organization, account)


def role(account: str, name: str) -> str:
    """A role ARN (its path in the name)."""
    return f"arn:aws:iam::{account}:role/{name}"


def on_central_key(
    docs: StackDocuments,
    region: str,
    hop: str,
    label: str,
    request: Request,
    identity: Policy,
    allowed: bool,
    admitted_by: frozenset[str] = frozenset(),
) -> Case:
    """A request on the destination vault key of `region`, decided by its key policy and the
    caller's `identity`."""
    return Case(
        hop,
        label,
        request,
        docs.policy(f"destination-{region}-key"),
        docs.config.destination.account_id,
        (identity,),
        "kms",
        allowed,
        admitted_by,
    )


class StackDocuments:
    """The documents one offline run rendered, found by resource, for either member mode."""

    def __init__(self, run: OfflineRun, topology: Topology) -> None:
        self.run = run
        self.topology = topology
        self.config = topology.config
        self._by_name = {resource.name: resource for resource in run.resources}
        stack_sets = run.of_type("aws:cloudformation/stackSet:StackSet")
        self.template = json.loads(stack_sets[0].inputs["templateBody"]) if stack_sets else None

    def policy(self, name: str, field: str = "policy") -> Policy:
        """The JSON document input `field` of the resource with this logical name."""
        value = self._by_name[name].inputs[field]
        decoded: Policy = json.loads(value) if isinstance(value, str) else value
        return decoded

    def has(self, name: str) -> bool:
        """Whether the run declared a resource of this logical name."""
        return name in self._by_name

    def member(self, account: str, region: str) -> dict[str, Policy]:
        """A member account's documents: backup role trust, source key and vault policies,
        exporter, forwarder and doctor roles; from the stack's resources in providers mode,
        from the member template as that account's stack instance in stackSets mode."""
        if account in self.topology.prepared_account_ids:
            found = {
                "backup_trust": self.policy(
                    f"source-{account}-backup-service-role", "assumeRolePolicy"
                ),
                "source_key": self.policy(f"source-{account}-{region}-key"),
            }
            optional = {
                "source_vault": (f"source-{account}-{region}-vault-policy", "policy"),
                "exporter": (f"exporter-{account}-{region}-role-policy", "policy"),
                "scheduler_trust": (
                    f"exporter-{account}-{region}-scheduler-role",
                    "assumeRolePolicy",
                ),
                "forwarder": (f"alerts-{account}-role-policy", "policy"),
                "forwarder_trust": (f"alerts-{account}-role", "assumeRolePolicy"),
            }
            for key, (name, field) in optional.items():
                if self.has(name):
                    found[key] = self.policy(name, field)
            return found
        assert self.template is not None, f"{account} is neither prepared nor a StackSet member"
        resources = Instance(self.template, account, region).resources()

        def properties(logical_id: str) -> Mapping[str, Any]:
            props: Mapping[str, Any] = resources[logical_id]["Properties"]
            return props

        found = {
            "backup_trust": properties("BackupServiceRole")["AssumeRolePolicyDocument"],
            "source_key": properties("SourceVaultKey")["KeyPolicy"],
        }
        if "AccessPolicy" in properties("SourceVault"):
            found["source_vault"] = properties("SourceVault")["AccessPolicy"]
        for key, logical_id in (
            ("exporter", "ExporterRole"),
            ("forwarder", "AlertForwarderRole"),
            ("doctor", "DoctorRole"),
        ):
            if logical_id in resources:
                found[key] = properties(logical_id)["Policies"][0]["PolicyDocument"]
                found[f"{key}_trust"] = properties(logical_id)["AssumeRolePolicyDocument"]
        if "ExporterSchedulerRole" in resources:
            found["scheduler_trust"] = properties("ExporterSchedulerRole")[
                "AssumeRolePolicyDocument"
            ]
        return found


def copy_in(docs: StackDocuments, organization: Organization, members: list[str]) -> Iterator[Case]:
    """The copy job's role into each central vault and key, and everyone else."""
    for region in docs.config.destination.regions:
        yield from _copy_in_to(docs, organization, members, region)


def _copy_in_to(
    docs: StackDocuments, organization: Organization, members: list[str], region: str
) -> Iterator[Case]:
    config = docs.config
    destination = config.destination
    backup_role = config.backup_plan.service_role_name
    other_environment = backup_role.replace(f"-{config.environment}-", "-other-")
    source_region = config.backup_plan.regions[0]
    callers = [(account, backup_role) for account in [*members, OUTSIDER]]
    callers += [(members[0], "Admin"), (members[0], other_environment)]
    vault = (
        f"arn:aws:backup:{region}:{destination.account_id}:backup-vault:{destination.vault_name}"
    )
    key = f"arn:aws:kms:{region}:{destination.account_id}:key/central"
    vault_policy = docs.policy(f"destination-{region}-vault-policy")

    def on_key(label: str, request: Request, identity: Policy, allowed: bool) -> Case:
        return on_central_key(
            docs, region, "copy-in.central-key", label, request, identity, allowed
        )

    for account, name in callers:
        admitted = name == backup_role and expected_copier(config, organization, account)
        identity = managed.BACKUP_SERVICE_ROLE if name != "Admin" else managed.ADMINISTRATOR
        context = organization.context(account)
        label = f"{name} of {account} into {region}"
        yield Case(
            "copy-in.vault",
            label,
            Request(role(account, name), "backup:CopyIntoBackupVault", vault, context),
            vault_policy,
            destination.account_id,
            (identity,),
            allowed=admitted,
        )
        # The request may reach KMS through the Region of the copy job or of the key.
        for via in sorted({source_region, region}):
            grant = {
                **context,
                "kms:ViaService": f"backup.{via}.amazonaws.com",
                "kms:GrantIsForAWSResource": "true",
            }
            yield on_key(
                f"CreateGrant by {label} (via {via})",
                Request(role(account, name), "kms:CreateGrant", key, grant),
                identity,
                admitted,
            )
        describe = {**context, "kms:ViaService": f"backup.{region}.amazonaws.com"}
        yield on_key(
            f"DescribeKey by {label}",
            Request(role(account, name), "kms:DescribeKey", key, describe),
            identity,
            admitted,
        )
        if name == backup_role:
            yield from _without_organization_keys(docs, organization, account, region)
    # What the key policy alone must refuse the admitted backup role: each caller's identity
    # allows the request, so only the key policy decides. The managed policy's EBS data-key
    # calls through EC2 have no documented caller in a cross-account copy (the acceptance
    # runbook records the central keys' callers); the rest no managed policy allows it, so only a
    # role of that name with broader policies could ask.
    copier = next(account for account in members if expected_copier(config, organization, account))
    ebs = {"kms:EncryptionContextKeys": ["aws:ebs:id"]}
    for_aws = {"kms:GrantIsForAWSResource": "true"}
    for action, service, extra, identity in (
        ("kms:GenerateDataKeyWithoutPlaintext", "ec2", ebs, managed.BACKUP_SERVICE_ROLE),
        ("kms:ReEncryptTo", "ec2", ebs, managed.BACKUP_SERVICE_ROLE),
        ("kms:Encrypt", "backup", {}, managed.ADMINISTRATOR),
        ("kms:GenerateDataKey", "backup", {}, managed.ADMINISTRATOR),
        ("kms:Decrypt", "backup", {}, managed.ADMINISTRATOR),
        ("kms:ReEncryptFrom", "backup", {}, managed.ADMINISTRATOR),
        ("kms:GenerateDataKey", "rds", {}, managed.ADMINISTRATOR),
        ("kms:CreateGrant", "ec2", for_aws, managed.ADMINISTRATOR),
        ("kms:CreateGrant", "backup", {}, managed.ADMINISTRATOR),
        ("kms:ListGrants", "backup", for_aws, managed.ADMINISTRATOR),
        ("kms:RevokeGrant", "backup", for_aws, managed.ADMINISTRATOR),
    ):
        service_via = {"kms:ViaService": f"{service}.{region}.amazonaws.com"}
        context = {**organization.context(copier), **service_via, **extra}
        yield on_key(
            f"{action} through {service} by the backup role of {copier} in {region} (key policy side)",
            Request(role(copier, backup_role), action, key, context),
            identity,
            False,
        )


def _without_organization_keys(
    docs: StackDocuments, organization: Organization, account: str, region: str
) -> Iterator[Case]:
    """The copy of `account`'s backup role if AWS Backup sent no `aws:PrincipalOrgPaths`, no
    `aws:PrincipalOrgID` or no `aws:PrincipalArn` (AWS documents none of them for this request:
    acceptance runbook step 4 proves one copy per admission path): which statement still
    admits it, and which copies would fail."""
    config = docs.config
    destination = config.destination
    backup_role = role(account, config.backup_plan.service_role_name)
    admissions = copier_admissions(config, organization, account)
    vault = (
        f"arn:aws:backup:{region}:{destination.account_id}:backup-vault:{destination.vault_name}"
    )
    key = f"arn:aws:kms:{region}:{destination.account_id}:key/central"
    grant = {
        "kms:ViaService": f"backup.{region}.amazonaws.com",
        "kms:GrantIsForAWSResource": "true",
    }
    for missing, surviving in SURVIVE_WITHOUT.items():
        remaining = admissions & surviving
        context = {**organization.context(account), missing: None}
        label = f"{backup_role} into {region} without {missing}"
        yield Case(
            "copy-in.vault",
            f"CopyIntoBackupVault by {label}",
            Request(backup_role, "backup:CopyIntoBackupVault", vault, context),
            docs.policy(f"destination-{region}-vault-policy"),
            destination.account_id,
            (managed.BACKUP_SERVICE_ROLE,),
            allowed=bool(remaining),
            admitted_by=remaining,
        )
        yield on_central_key(
            docs,
            region,
            "copy-in.central-key",
            f"CreateGrant by {label}",
            Request(backup_role, "kms:CreateGrant", key, {**context, **grant}),
            managed.BACKUP_SERVICE_ROLE,
            bool(remaining),
            remaining,
        )


def workload_key(docs: StackDocuments, member: str, region: str) -> Iterator[Case]:
    """The destination's service-linked role reads snapshots kept on a workload key."""
    statements = docs.run.outputs["workloadKeyPolicyStatements"]
    destination = docs.config.destination.account_id
    key = f"arn:aws:kms:{region}:{member}:key/workload"
    via = {"kms:ViaService": f"rds.{region}.amazonaws.com"}
    for principal, identity, allowed in (
        (role(destination, LINKED_ROLE), managed.BACKUP_SERVICE_LINKED_ROLE, True),
        (role(destination, "Admin"), managed.ADMINISTRATOR, False),
        (role(OUTSIDER, LINKED_ROLE), managed.BACKUP_SERVICE_LINKED_ROLE, False),
    ):
        yield Case(
            "copy-in.workload-key",
            f"ReEncryptFrom by {principal}",
            Request(principal, "kms:ReEncryptFrom", key, via),
            statements,
            member,
            (identity,),
            "kms",
            allowed,
        )


def source_side(
    docs: StackDocuments, organization: Organization, member: str, region: str
) -> Iterator[Case]:
    """The member account's own hops: backup role trust and key, the source vault key read by
    the destination, copies back into the source vault, the exporter, forwarding."""
    config = docs.config
    documents = docs.member(member, region)
    backup_role = role(member, config.backup_plan.service_role_name)
    for principal, allowed in (("backup.amazonaws.com", True), ("ec2.amazonaws.com", False)):
        yield Case(
            "backup.assume-service-role",
            f"{principal} assumes the backup role of {member}",
            Request(principal, "sts:AssumeRole", backup_role),
            documents["backup_trust"],
            member,
            kind="role_trust",
            allowed=allowed,
        )
    source_key = f"arn:aws:kms:{region}:{member}:key/source"
    grant = {
        "kms:ViaService": f"backup.{region}.amazonaws.com",
        "kms:GrantIsForAWSResource": "true",
    }
    for principal, allowed in (
        (backup_role, True),
        (role(OUTSIDER, config.backup_plan.service_role_name), False),
    ):
        yield Case(
            "backup.source-key-grant",
            f"CreateGrant by {principal}",
            Request(principal, "kms:CreateGrant", source_key, grant),
            documents["source_key"],
            member,
            (managed.BACKUP_SERVICE_ROLE,),
            "kms",
            allowed,
        )
    destination = config.destination.account_id
    managed_read = {"kms:ViaService": f"backup.{region}.amazonaws.com"}
    # AWS names no caller: the key policy side only, for any principal of the account, through
    # AWS Backup and never directly.
    for account, context, allowed in (
        (destination, managed_read, True),
        (OUTSIDER, managed_read, False),
        (destination, {}, False),
    ):
        how = "through AWS Backup" if context else "directly"
        yield Case(
            "copy-in.source-vault-key",
            f"the source vault key read by account {account} {how} (key policy side)",
            Request(role(account, "SomeBackupCaller"), "kms:Decrypt", source_key, context),
            documents["source_key"],
            member,
            (managed.ADMINISTRATOR,),
            "kms",
            allowed,
        )
    if config.destination.allow_copy_back:
        yield from copy_back_source(docs, organization, documents, member, region)
    yield from exporter(docs, organization, documents, member, region)
    yield from forwarding(docs, organization, documents, member)


def copy_back_source(
    docs: StackDocuments,
    organization: Organization,
    documents: Mapping[str, Policy],
    member: str,
    region: str,
) -> Iterator[Case]:
    """A copy back into the source vault: the copy-back job's role puts the copy there and
    grants AWS Backup the source vault key, with or without the vault encryption context (AWS
    documents neither); nobody else."""
    config, prefix = docs.config, docs.topology.prefix
    destination = config.destination.account_id
    copy_back_role = role(destination, f"{prefix}-copy-back")
    vault = f"arn:aws:backup:{region}:{member}:backup-vault:{config.backup_plan.source_vault_name}"
    for principal, identity, allowed in (
        (copy_back_role, managed.BACKUP_SERVICE_ROLE, True),
        (role(OUTSIDER, f"{prefix}-copy-back"), managed.BACKUP_SERVICE_ROLE, False),
        # Another role of the destination account, whatever its own policies allow.
        (role(destination, "Admin"), managed.ADMINISTRATOR, False),
    ):
        yield Case(
            "copy-back.source-vault",
            f"a copy back by {principal}",
            Request(
                principal,
                "backup:CopyIntoBackupVault",
                vault,
                organization.context(principal.split(":")[4]),
            ),
            documents["source_vault"],
            member,
            (identity,),
            allowed=allowed,
        )
    key = f"arn:aws:kms:{region}:{member}:key/source"
    grant = {
        "kms:ViaService": f"backup.{region}.amazonaws.com",
        "kms:GrantIsForAWSResource": "true",
    }
    vault_context = {"kms:EncryptionContextKeys": ["aws:backup:backup-vault"]}
    describe = {"kms:ViaService": grant["kms:ViaService"]}
    for label, principal, action, context, allowed in (
        ("without an encryption context", copy_back_role, "kms:CreateGrant", grant, True),
        (
            "with the vault encryption context",
            copy_back_role,
            "kms:CreateGrant",
            {**grant, **vault_context},
            True,
        ),
        ("through AWS Backup", copy_back_role, "kms:DescribeKey", describe, True),
        (
            "in another account",
            role(OUTSIDER, f"{prefix}-copy-back"),
            "kms:CreateGrant",
            grant,
            False,
        ),
    ):
        yield Case(
            "copy-back.source-vault-key-grant",
            f"{action} by {principal} {label}",
            Request(
                principal,
                action,
                key,
                {**organization.context(principal.split(":")[4]), **context},
            ),
            documents["source_key"],
            member,
            (managed.BACKUP_SERVICE_ROLE,),
            "kms",
            allowed,
        )


def exporter(
    docs: StackDocuments,
    organization: Organization,
    documents: Mapping[str, Policy],
    member: str,
    region: str,
) -> Iterator[Case]:
    """The exporter writes under its own prefix, uses the bucket key, its own state table."""
    export = docs.config.dynamodb_export
    if export is None or "exporter" not in documents:
        return
    prefix, environment = docs.topology.prefix, docs.config.environment
    exporter_role = role(member, docs.topology.exporter_role_name(region))
    bucket = export.bucket
    context = organization.context(member)
    own = f"arn:aws:s3:::{bucket.name}/{environment}/{member}/{region}/table/export.json"
    other = own.replace(f"/{member}/", f"/{OUTSIDER}/")
    bucket_policy = docs.policy("export-bucket-policy")
    identity = (documents["exporter"],)
    for label, principal, target, ids, allowed in (
        ("own prefix", exporter_role, own, identity, True),
        ("another account's prefix", exporter_role, other, identity, False),
        (
            "another role of the account",
            role(member, "Admin"),
            own,
            (managed.ADMINISTRATOR,),
            False,
        ),
    ):
        yield Case(
            "export.put-object",
            f"{label}: {principal}",
            Request(principal, "s3:PutObject", target, context),
            bucket_policy,
            bucket.account_id,
            ids,
            allowed=allowed,
        )
    if docs.has("export-bucket-key"):
        # The key's ARN as the exporter's own policy names it (the mocked key's id).
        key = next(
            statement["Resource"]
            for statement in documents["exporter"]["Statement"]
            if statement.get("Sid") == "EncryptExportObjects"
        )
        for principal, ids, allowed in (
            (exporter_role, identity, True),
            (role(member, "Admin"), (managed.ADMINISTRATOR,), False),
        ):
            yield Case(
                "export.bucket-key",
                f"GenerateDataKey by {principal}",
                Request(principal, "kms:GenerateDataKey", key, context),
                docs.policy("export-bucket-key"),
                bucket.account_id,
                ids,
                "kms",
                allowed,
            )
    # The state table's ARN as the exporter's own policy names it (generated in stackSets mode).
    table = next(
        statement["Resource"]
        for statement in documents["exporter"]["Statement"]
        if statement.get("Sid") == "ReadWriteOwnState"
    )
    foreign = (
        f"arn:aws:dynamodb:{region}:{member}:table/aws-backup-copy-other-dynamodb-export-state"
    )
    for target, allowed in ((table, True), (foreign, False)):
        yield Case(
            "exporter.state-table",
            f"PutItem on {target}",
            Request(exporter_role, "dynamodb:PutItem", target),
            None,
            member,
            identity,
            allowed=allowed,
        )
    group = f"arn:aws:scheduler:{region}:{member}:schedule-group/{prefix}-dynamodb-export"
    scheduler_role = role(member, f"{prefix}-dynamodb-export-scheduler-{region}")
    for source_arn, allowed in ((group, True), (group.replace(member, OUTSIDER), False)):
        yield Case(
            "exporter.schedules",
            f"Scheduler for {source_arn}",
            Request(
                "scheduler.amazonaws.com",
                "sts:AssumeRole",
                scheduler_role,
                {"aws:SourceArn": source_arn, "aws:SourceAccount": source_arn.split(":")[4]},
            ),
            documents["scheduler_trust"],
            member,
            kind="role_trust",
            allowed=allowed,
        )


def forwarding(
    docs: StackDocuments, organization: Organization, documents: Mapping[str, Policy], member: str
) -> Iterator[Case]:
    """A member account's forwarding role puts failures on the central bus; nobody else."""
    bus = docs.topology.alert_bus
    forwarding_spec = docs.topology.alert_forwarding
    if bus is None or forwarding_spec is None or "forwarder" not in documents:
        return
    forwarder = role(member, forwarding_spec.role_name)
    for principal, allowed in (("events.amazonaws.com", True), ("lambda.amazonaws.com", False)):
        yield Case(
            "alerts.assume-forwarder",
            f"{principal} assumes the forwarder of {member}",
            Request(principal, "sts:AssumeRole", forwarder),
            documents["forwarder_trust"],
            member,
            kind="role_trust",
            allowed=allowed,
        )
    context = organization.context(member)
    for principal, identity, allowed in (
        (forwarder, documents["forwarder"], True),
        (role(member, "Admin"), managed.ADMINISTRATOR, False),
        (role(OUTSIDER, forwarding_spec.role_name), documents["forwarder"], False),
    ):
        account = principal.split(":")[4]
        yield Case(
            "alerts.put-events",
            f"PutEvents by {principal}",
            Request(
                principal,
                "events:PutEvents",
                bus.arn,
                organization.context(account) if account != member else context,
            ),
            docs.policy("alerts-bus-policy"),
            bus.access.account_id,
            (identity,),
            allowed=allowed,
        )


def central(docs: StackDocuments, organization: Organization, members: list[str]) -> Iterator[Case]:
    """Hops of the central accounts: alerts, reports, restore testing, copy back of the key."""
    config, topology, prefix = docs.config, docs.topology, docs.topology.prefix
    destination = config.destination
    bus = topology.alert_bus
    if bus is not None:
        topic = f"arn:aws:sns:{bus.region}:{bus.access.account_id}:alerts-topic"
        # The documented residual: the topic policy cannot tell which rule publishes ("You
        # can't use Condition blocks in Amazon SNS topic policies for EventBridge"), so a rule
        # the stack did not create, on any bus of the monitoring account, publishes as well.
        stranger = f"arn:aws:events:{bus.region}:{bus.access.account_id}:rule/default/not-ours"
        yield Case(
            "alerts.publish",
            f"Publish by events.amazonaws.com for {stranger} (the documented residual)",
            Request(
                "events.amazonaws.com",
                "sns:Publish",
                topic,
                {"aws:SourceArn": stranger, "aws:SourceAccount": bus.access.account_id},
            ),
            docs.policy("alerts-topic-policy"),
            bus.access.account_id,
            allowed=True,
        )
        for principal, allowed in (("events.amazonaws.com", True), ("sns.amazonaws.com", False)):
            yield Case(
                "alerts.publish",
                f"Publish by {principal}",
                Request(principal, "sns:Publish", topic),
                docs.policy("alerts-topic-policy"),
                bus.access.account_id,
                allowed=allowed,
            )
            key = f"arn:aws:kms:{bus.region}:{bus.access.account_id}:key/topic"
            yield Case(
                "alerts.topic-key",
                f"GenerateDataKey by {principal}",
                Request(principal, "kms:GenerateDataKey", key),
                docs.policy("alerts-topic-key"),
                bus.access.account_id,
                kind="kms",
                allowed=allowed,
            )
    bucket = topology.report_bucket_name
    if bucket is not None and docs.has("audit-reports-policy"):
        reporter = topology.administering_account.account_id
        acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
        for principal, allowed in (
            (role(reporter, REPORTS_ROLE), True),
            (role(reporter, "Admin"), False),
            (role(OUTSIDER, REPORTS_ROLE), False),
        ):
            yield Case(
                "reports.put-object",
                f"a report by {principal}",
                Request(principal, "s3:PutObject", f"arn:aws:s3:::{bucket}/report.csv", acl),
                docs.policy("audit-reports-policy"),
                reporter,
                allowed=allowed,
            )
    if config.restore_testing is not None:
        restore_role = role(destination.account_id, f"{prefix}-restore-testing")
        trust = docs.policy("restore-testing-service-role", "assumeRolePolicy")
        for principal, allowed in (("backup.amazonaws.com", True), ("ec2.amazonaws.com", False)):
            yield Case(
                "restore-testing.assume",
                f"{principal} assumes the restore role",
                Request(principal, "sts:AssumeRole", restore_role),
                trust,
                destination.account_id,
                kind="role_trust",
                allowed=allowed,
            )
        for region in destination.regions:
            key = f"arn:aws:kms:{region}:{destination.account_id}:key/central"
            via = {"kms:ViaService": f"rds.{region}.amazonaws.com"}
            for principal, identity, allowed in (
                (restore_role, managed.RESTORE_ROLE, True),
                (role(members[0], "Admin"), managed.ADMINISTRATOR, False),
            ):
                yield on_central_key(
                    docs,
                    region,
                    "restore-testing.central-key",
                    f"Decrypt by {principal} in {region}",
                    Request(principal, "kms:Decrypt", key, via),
                    identity,
                    allowed,
                )
    if destination.allow_copy_back:
        yield from copy_back_key(docs, organization, members)


def copy_back_key(
    docs: StackDocuments, organization: Organization, members: list[str]
) -> Iterator[Case]:
    """Copies back under the central key, in each vault Region: the source accounts'
    service-linked role reads snapshots through the storage services; the copy-back job's role
    (destination account) grants AWS Backup the key for fully managed types. No source
    principal uses it through AWS Backup. Who receives is restated from the configuration
    (`expected_receiver`), not taken from `Topology`."""
    for region in docs.config.destination.regions:
        yield from _copy_back_key_in(docs, organization, members, region)


def _copy_back_key_in(
    docs: StackDocuments, organization: Organization, members: list[str], region: str
) -> Iterator[Case]:
    config, prefix = docs.config, docs.topology.prefix
    destination = config.destination.account_id
    member = members[0]
    key = f"arn:aws:kms:{region}:{destination}:key/central"
    grant = {"kms:GrantIsForAWSResource": "true"}

    def through(service: str, principal: str, **extra: Any) -> dict[str, Any]:
        via = {"kms:ViaService": f"{service}.{region}.amazonaws.com"}
        return {**organization.context(principal.split(":")[4]), **via, **extra}

    # (hop, principal, action, service, extra context, identity, allowed)
    requests: list[tuple[str, str, str, str, dict[str, Any], Policy, bool]] = [
        (
            "copy-back.central-key-snapshot",
            role(account, LINKED_ROLE),
            "kms:ReEncryptFrom",
            "ec2",
            {},
            managed.BACKUP_SERVICE_LINKED_ROLE,
            expected_receiver(config, organization, account),
        )
        for account in [*members, OUTSIDER]
    ]
    snapshot = "copy-back.central-key-snapshot"
    managed_types = "copy-back.central-key-grant"
    copy_back_role = role(destination, f"{prefix}-copy-back")
    requests += [
        # Only the key policy decides these: the callers' identities allow everything.
        (
            snapshot,
            role(member, "Admin"),
            "kms:ReEncryptFrom",
            "ec2",
            {},
            managed.ADMINISTRATOR,
            False,
        ),
        (
            snapshot,
            role(member, LINKED_ROLE),
            "kms:ReEncryptFrom",
            "backup",
            {},
            managed.ADMINISTRATOR,
            False,
        ),
        # The copy-back job's role, in the key's own account.
        (
            managed_types,
            copy_back_role,
            "kms:CreateGrant",
            "backup",
            grant,
            managed.BACKUP_SERVICE_ROLE,
            True,
        ),
        (
            managed_types,
            copy_back_role,
            "kms:DescribeKey",
            "backup",
            {},
            managed.BACKUP_SERVICE_ROLE,
            True,
        ),
        # No source account's service-linked role through AWS Backup, whatever its own policy
        # allowed (key policy side; the backup role's grant there is the copy in's, whose
        # cases are copy-in.central-key), and no role of the copy-back role's name elsewhere.
        (
            managed_types,
            role(member, LINKED_ROLE),
            "kms:CreateGrant",
            "backup",
            {**grant, "kms:EncryptionContextKeys": ["aws:backup:backup-vault"]},
            managed.ADMINISTRATOR,
            False,
        ),
        (
            managed_types,
            role(member, LINKED_ROLE),
            "kms:Decrypt",
            "backup",
            {},
            managed.ADMINISTRATOR,
            False,
        ),
        (
            managed_types,
            role(OUTSIDER, f"{prefix}-copy-back"),
            "kms:CreateGrant",
            "backup",
            grant,
            managed.BACKUP_SERVICE_ROLE,
            False,
        ),
    ]
    for hop, principal, action, service, extra, identity, allowed in requests:
        yield on_central_key(
            docs,
            region,
            hop,
            f"{action} by {principal} through {service} in {region}",
            Request(principal, action, key, through(service, principal, **extra)),
            identity,
            allowed,
        )


def organization_hops(docs: StackDocuments, members: list[str], region: str) -> Iterator[Case]:
    """The delegation policy, the StackSet's code buckets and the doctor role."""
    config, topology = docs.config, docs.topology
    organization = config.organization
    admin = topology.administering_account.account_id
    if docs.has("organization-settings-resource-policy"):
        delegation = docs.policy("organization-settings-resource-policy", "content")
        policy_arn = f"arn:aws:organizations::{organization.management_account.account_id}:policy/{organization.id}/backup_policy/p-1"
        for policy_type, allowed in (("BACKUP_POLICY", True), ("SERVICE_CONTROL_POLICY", False)):
            yield Case(
                "organization.delegated-policies",
                f"UpdatePolicy of a {policy_type} by the delegate",
                Request(
                    role(admin, "BackupDeployer"),
                    "organizations:UpdatePolicy",
                    policy_arn.replace("backup_policy", policy_type.lower()),
                    {"organizations:PolicyType": policy_type},
                ),
                delegation,
                organization.management_account.account_id,
                (managed.ADMINISTRATOR,),
                allowed=allowed,
            )
    member = members[0]
    inside = Organization(organization.id, {member: f"r-ab12/{organization.policy_targets[0]}"})
    for code_region, bucket in topology.code_buckets.items():
        if not docs.has(f"members-code-{code_region}-policy") or not topology.stack_sets:
            continue
        code = f"arn:aws:s3:::{bucket}/dynamodb-export/code.zip"
        for account, allowed in ((member, True), ("999988887777", False)):
            context = inside.context(account) if allowed else {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}
            yield Case(
                "stacksets.code-bucket",
                f"GetObject by {account}",
                Request(role(account, "stacksets-exec-1"), "s3:GetObject", code, context),
                docs.policy(f"members-code-{code_region}-policy"),
                admin,
                (managed.ADMINISTRATOR,),
                allowed=allowed,
            )
    documents = docs.member(member, region) if topology.stack_sets else {}
    if "doctor" in documents:
        doctor_role = role(member, organization.doctor_role_name or "")
        runners = [
            arn
            for arn in (
                topology.administering_account.preview_role_arn,
                topology.administering_account.role_arn,
            )
            if arn
        ]
        for principal, allowed in ((runners[0], True), (role(admin, "Admin"), False)):
            yield Case(
                "doctor.assume",
                f"{principal} assumes the doctor role",
                Request(principal, "sts:AssumeRole", doctor_role),
                documents["doctor_trust"],
                member,
                (managed.ADMINISTRATOR,),
                "role_trust",
                allowed,
            )
        vault = f"arn:aws:backup:{region}:{member}:backup-vault:anything"
        for action, allowed in (
            (MEMBER_READ_ACTIONS[0], True),
            ("backup:DeleteBackupVault", False),
        ):
            yield Case(
                "doctor.read",
                f"{action} by the doctor role",
                Request(doctor_role, action, vault),
                None,
                member,
                (documents["doctor"],),
                allowed=allowed,
            )


def stack_cases(
    run: OfflineRun, config: StackConfig, organization: Organization, members: list[str]
) -> list[Case]:
    """Every case of one stack: `members` are member accounts the policy reaches (a prepared
    account first in providers mode; accounts under a targeted OU in stackSets mode)."""
    topology = Topology(config)
    docs = StackDocuments(run, topology)
    region = config.backup_plan.regions[0]
    cases = list(copy_in(docs, organization, members))
    cases += workload_key(docs, members[0], region)
    for member in members:
        if member in topology.prepared_account_ids or topology.stack_sets:
            cases += source_side(docs, organization, member, region)
    cases += central(docs, organization, members)
    cases += organization_hops(docs, members, region)
    return cases
