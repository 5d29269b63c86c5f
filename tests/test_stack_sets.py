"""stackSets mode: every account under the targeted OUs prepared by one StackSet."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from cfnlint.api import ManualArgs, lint

from config.loader import load_stack_file
from flows.evaluator import Request, evaluate_policy
from policies.kms import source_key_policy
from policies.member_template import MAX_TEMPLATE_BODY_BYTES
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, RecordedResource, run_program

ORG = "o-a1b2c3d4e5"
DELEGATE = "888888888888"
DESTINATION = "999999999999"
MEMBER = "123456789012"
REGIONS = ["eu-west-1", "eu-central-1"]
STATEFUL = {
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::Backup::BackupVault",
    "AWS::Logs::LogGroup",
    "AWS::DynamoDB::Table",
}


def sandbox_with(**sections: Callable[[Any], None]) -> OfflineRun:
    project, config = load_stack_file("sandbox")
    for section, mutate in sections.items():
        value = (
            json.loads(config[f"{project}:{section}"]) if f"{project}:{section}" in config else None
        )
        result = mutate(value)
        config[f"{project}:{section}"] = json.dumps(value if result is None else result)
    return run_program("sandbox", config)


def only(run: OfflineRun, type_token: str) -> RecordedResource:
    [resource] = run.of_type(type_token)
    return resource


def template(run: OfflineRun) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        only(run, "aws:cloudformation/stackSet:StackSet").inputs["templateBody"]
    )
    return document


def test_members_are_prepared_by_the_stack_set_not_by_providers(sandbox_run: OfflineRun) -> None:
    accounts = {r.account_id for r in sandbox_run.resources if r.custom}

    # The delegated administrator (StackSet, code, policy) and the destination: nothing else.
    assert accounts == {DELEGATE, DESTINATION}
    assert sandbox_run.of_type("backup:index:SourceAccount") == []
    assert len(sandbox_run.of_type("pulumi:providers:aws")) == 2


def test_the_stack_set_is_service_managed_auto_deploying_and_keeps_stacks(
    sandbox_run: OfflineRun,
) -> None:
    stack_set = only(sandbox_run, "aws:cloudformation/stackSet:StackSet")
    inputs = stack_set.inputs

    assert stack_set.account_id == DELEGATE
    assert inputs["permissionModel"] == "SERVICE_MANAGED"
    assert inputs["autoDeployment"] == {"enabled": True, "retainStacksOnAccountRemoval": True}
    assert inputs["capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert inputs["callAs"] == "DELEGATED_ADMIN"
    assert inputs["operationPreferences"] == {
        "maxConcurrentPercentage": 25,
        "failureTolerancePercentage": 10,
        "regionConcurrencyType": "PARALLEL",
    }
    # AWS fills it in; without ignore_changes every preview would show a change.
    assert stack_set.ignore_changes == ("administrationRoleArn",)


def test_instances_cover_the_targeted_ous_in_every_plan_region_but_the_destination(
    sandbox_run: OfflineRun,
) -> None:
    instances = only(sandbox_run, "aws:cloudformation/stackInstances:StackInstances").inputs

    assert instances["regions"] == REGIONS
    assert instances["deploymentTargets"] == {
        "organizationalUnitIds": ["ou-ab12-sbx11111", "ou-ab12-sbx22222"],
        "accountFilterType": "DIFFERENCE",
        "accounts": [DESTINATION],
    }
    assert instances["retainStacks"] is True
    assert instances["callAs"] == "DELEGATED_ADMIN"


def test_the_policy_is_attached_only_after_the_stack_set(sandbox_run: OfflineRun) -> None:
    instances = only(sandbox_run, "aws:cloudformation/stackInstances:StackInstances")
    [component] = sandbox_run.of_type("backup:index:OrganizationBackupPolicy")

    # A dependency on the component reaches the engine as one on each of its resources.
    assert instances.urn in component.dependencies


def test_the_template_passes_cfn_lint_and_fits_inline(sandbox_run: OfflineRun) -> None:
    body = only(sandbox_run, "aws:cloudformation/stackSet:StackSet").inputs["templateBody"]

    assert len(body.encode()) < MAX_TEMPLATE_BODY_BYTES
    matches = lint(body, config=ManualArgs(regions=REGIONS))
    assert [str(m) for m in matches] == []


def test_nothing_stateful_is_deleted_with_a_stack(sandbox_run: OfflineRun) -> None:
    resources = template(sandbox_run)["Resources"]
    stateful = {
        logical_id: entry
        for logical_id, entry in resources.items()
        if entry["Type"] in STATEFUL or logical_id == "BackupServiceRole"
    }

    assert {entry["Type"] for entry in stateful.values()} >= STATEFUL
    for logical_id, entry in stateful.items():
        assert entry.get("DeletionPolicy") == "Retain", logical_id
        assert entry.get("UpdateReplacePolicy") == "Retain", logical_id


def test_every_iam_name_is_created_once_per_account(sandbox_run: OfflineRun) -> None:
    created = [
        entry["Properties"]["RoleName"]
        for region in REGIONS
        for entry in Instance(template(sandbox_run), MEMBER, region).resources().values()
        if entry["Type"] == "AWS::IAM::Role"
    ]

    assert [name for name, count in Counter(created).items() if count > 1] == []
    # The policy's role, named without a Region, exists in the primary plan Region only.
    assert created.count("aws-backup-copy-sandbox-backup-service") == 1


def test_the_template_grants_what_providers_mode_grants(sandbox_run: OfflineRun) -> None:
    def as_providers(organization: dict[str, Any]) -> None:
        organization["memberDeployment"] = "providers"

    project, config = load_stack_file("sandbox")
    organization = json.loads(config[f"{project}:organization"])
    as_providers(organization)
    config[f"{project}:organization"] = json.dumps(organization)
    config[f"{project}:sourceAccounts"] = json.dumps([{"accountId": MEMBER, "regions": REGIONS}])
    providers_run = run_program("sandbox", config)
    instance = Instance(template(sandbox_run), MEMBER, "eu-west-1").resources()

    def role_policy(role: str) -> dict[str, Any]:
        [policy] = [
            r
            for r in providers_run.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name == f"exporter-{MEMBER}-eu-west-1{role}"
        ]
        document: dict[str, Any] = json.loads(policy.inputs["policy"])
        return document

    assert instance["SourceVaultKey"]["Properties"]["KeyPolicy"] == source_key_policy(
        MEMBER, DESTINATION
    )
    [exporter_policy] = instance["ExporterRole"]["Properties"]["Policies"]
    # The same grants, on the names CloudFormation generates for the retained log group and
    # state table (the model stands for a generated name by the logical id).
    generated = json.dumps(exporter_policy["PolicyDocument"])
    for logical_id, name in (
        ("ExporterStateTable", "aws-backup-copy-sandbox-dynamodb-export-state"),
        ("ExporterLogGroup", "/aws/lambda/aws-backup-copy-sandbox-dynamodb-export"),
    ):
        generated = generated.replace(f":{logical_id}", f":{name}").replace(
            f"/{logical_id}", f"/{name}"
        )
    assert json.loads(generated) == role_policy("-role-policy")
    [invoke] = instance["ExporterSchedulerRole"]["Properties"]["Policies"]
    assert invoke["PolicyDocument"] == role_policy("-scheduler-role-policy")


def test_copies_and_exports_are_admitted_from_the_targeted_ous_only(
    sandbox_run: OfflineRun,
) -> None:
    [vault_policy] = [
        json.loads(r.inputs["policy"])
        for r in sandbox_run.of_type("aws:backup/vaultPolicy:VaultPolicy")
        if r.account_id == DESTINATION
    ]
    [bucket_policy] = [
        json.loads(r.inputs["policy"])
        for r in sandbox_run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if r.parent_name == "export-bucket"
    ]
    [vault] = sandbox_run.of_type("aws:backup/vault:Vault")
    vault_arn = f"arn:aws:backup:eu-west-1:{DESTINATION}:backup-vault:{vault.inputs['name']}"

    def member(ou: str) -> dict[str, Any]:
        return {"aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/{ou}/"]}

    inside, outside = member("ou-ab12-sbx22222"), member("ou-ab12-prod7890")
    # The copy job runs as the backup service role the policy names; no other role copies in.
    copier = f"arn:aws:iam::{MEMBER}:role/aws-backup-copy-sandbox-backup-service"
    copy = Request(copier, "backup:CopyIntoBackupVault", vault_arn, inside)
    assert evaluate_policy(vault_policy, copy).allowed
    assert not evaluate_policy(
        vault_policy, Request(copier, copy.action, copy.resource, outside)
    ).allowed
    admin = f"arn:aws:iam::{MEMBER}:role/Admin"
    assert not evaluate_policy(
        vault_policy, Request(admin, copy.action, copy.resource, inside)
    ).allowed

    exporter = f"arn:aws:iam::{MEMBER}:role/aws-backup-copy-sandbox-ddb-export-eu-west-1"
    own = f"arn:aws:s3:::dynamodb-backup-sandbox-{DESTINATION}/sandbox/{MEMBER}/eu-west-1/t/x"
    other = own.replace(MEMBER, "210987654321")
    assert evaluate_policy(bucket_policy, Request(exporter, "s3:PutObject", own, inside)).allowed
    assert not evaluate_policy(
        bucket_policy, Request(exporter, "s3:PutObject", other, inside)
    ).allowed
    assert not evaluate_policy(
        bucket_policy, Request(exporter, "s3:PutObject", own, outside)
    ).allowed
    # Another role of a member account gets nothing.
    stranger = exporter.replace("ddb-export", "someone-else")
    assert not evaluate_policy(
        bucket_policy, Request(stranger, "s3:PutObject", own, inside)
    ).allowed


def test_the_code_buckets_let_the_organization_read_the_code_and_nothing_more(
    sandbox_run: OfflineRun,
) -> None:
    policies = [
        json.loads(r.inputs["policy"])
        for r in sandbox_run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if r.parent_name == "members"
    ]
    objects = sandbox_run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")

    assert sorted(str(o.region) for o in objects) == sorted(REGIONS)
    assert len({o.inputs["key"] for o in objects}) == 1
    assert objects[0].inputs["key"].startswith("dynamodb-export/")
    for policy in policies:
        bucket = policy["Statement"][0]["Resource"].removesuffix("/*")
        read = Request(
            f"arn:aws:iam::{MEMBER}:role/x",
            "s3:GetObject",
            f"{bucket}/k",
            {"aws:PrincipalOrgID": ORG},
        )
        assert evaluate_policy(policy, read).allowed
        assert not evaluate_policy(
            policy, Request(read.principal, "s3:GetObject", read.resource)
        ).allowed
        assert not evaluate_policy(
            policy,
            Request(read.principal, "s3:PutObject", read.resource, {"aws:PrincipalOrgID": ORG}),
        ).allowed


def test_more_ous_add_attachments_only(sandbox_run: OfflineRun) -> None:
    ous = [f"ou-ab12-sbx{index:05d}" for index in range(40)]

    def forty_ous(organization: dict[str, Any]) -> None:
        organization["policyTargets"] = ous

    bigger = sandbox_with(organization=forty_ous)

    before = Counter(r.type for r in sandbox_run.resources)
    after = Counter(r.type for r in bigger.resources)
    attachment = "aws:organizations/policyAttachment:PolicyAttachment"
    assert after - before == Counter({attachment: 38})
    assert (
        only(bigger, "aws:cloudformation/stackInstances:StackInstances").inputs[
            "deploymentTargets"
        ]["organizationalUnitIds"]
        == ous
    )


def test_a_targeted_root_prepares_the_management_account_through_its_provider() -> None:
    def root(organization: dict[str, Any]) -> None:
        organization["policyTargets"] = ["r-ab12"]

    def whole_organization(destination: dict[str, Any]) -> None:
        destination["allowCopiesFrom"] = "organization"

    run = sandbox_with(organization=root, destination=whole_organization)

    sources = run.of_type("backup:index:SourceAccount")
    assert sorted(s.name for s in sources) == [
        "source-000000000000-eu-central-1",
        "source-000000000000-eu-west-1",
    ]
    instances = only(run, "aws:cloudformation/stackInstances:StackInstances").inputs
    assert instances["deploymentTargets"]["organizationalUnitIds"] == ["r-ab12"]
    # A root reaches the whole organization: the grants say so, without OU paths.
    [vault_policy] = [
        json.loads(r.inputs["policy"])
        for r in run.of_type("aws:backup/vaultPolicy:VaultPolicy")
        if r.account_id == DESTINATION
    ]
    assert vault_policy["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG},
        "ArnLike": {
            "aws:PrincipalArn": "arn:aws:iam::*:role/aws-backup-copy-sandbox-backup-service"
        },
    }


def test_without_a_delegated_administrator_the_management_account_runs_the_stack_set() -> None:
    def no_delegate(organization: dict[str, Any]) -> None:
        del organization["delegatedAdministrator"]

    run = sandbox_with(organization=no_delegate)

    stack_set = only(run, "aws:cloudformation/stackSet:StackSet")
    assert stack_set.account_id == "000000000000"
    assert stack_set.inputs["callAs"] == "SELF"


NAME_PROPERTIES = ("BackupVaultName", "AliasName", "RoleName", "TableName", "LogGroupName")


def test_a_returning_account_collides_only_on_the_names_others_rely_on(
    sandbox_run: OfflineRun,
) -> None:
    """An account that leaves a targeted OU and comes back gets a new stack instance, while
    what its old instance retained stays (DeletionPolicy Retain). Only what the backup policy
    and the operators name keeps a name (vault, key alias, backup service role); the rest
    gets generated names and cannot collide. The runbook recovers the three
    (docs/organization-scale.md)."""
    retained_named = {
        logical_id
        for logical_id, entry in template(sandbox_run)["Resources"].items()
        if entry.get("DeletionPolicy") == "Retain"
        and any(key in entry.get("Properties", {}) for key in NAME_PROPERTIES)
    }

    assert retained_named == {"SourceVault", "SourceVaultKeyAlias", "BackupServiceRole"}
