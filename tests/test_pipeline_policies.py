"""The pipeline's roles as AWS evaluates them: who may assume each, and what each may change.

Each test states a request (principal, action, resource, the context keys AWS documents for it)
and asks the documents of policies/pipeline.py whether it is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from flows.evaluator import Request, check_policy, evaluate, evaluate_policy
from policies.deploy_role import DeployScope, deploy_role_permissions, preview_role_permissions
from policies.pipeline import (
    GITHUB_OIDC_AUDIENCE,
    PREVIEW_ROLE,
    Pipeline,
    assume_only,
    deploy_role_name,
    example_documents,
    oidc_provider_arn,
    pipeline_role_name,
)
from tools import pipeline_policies
from tools.cross_stack import NAMED
from tools.offline import OfflineRun, RecordedResource, run_program
from tools.pipeline_policies import deploy_scope, docs_documents, shown_in_docs

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_ACCOUNT = "123456789012"
REPOSITORY = "acme/aws-backup-copy"
PIPELINE = Pipeline(PIPELINE_ACCOUNT, REPOSITORY)
SHARED = "000000000000"
DEV = DeployScope("aws-backup-copy", "dev")
PROD = DeployScope("aws-backup-copy", "prod", owns_organization_singletons=True)
READ_VERBS = ("Describe", "Get", "List")


def github_may_assume(
    trust: Mapping[str, Any],
    subject: str,
    *,
    audience: str = GITHUB_OIDC_AUDIENCE,
    provider: str = oidc_provider_arn(PIPELINE_ACCOUNT),
) -> bool:
    """AssumeRoleWithWebIdentity with a GitHub token carrying `sub` and `aud`."""
    role = f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/Pipeline"
    context = {
        "token.actions.githubusercontent.com:sub": subject,
        "token.actions.githubusercontent.com:aud": audience,
    }
    request = Request(provider, "sts:AssumeRoleWithWebIdentity", role, context)
    return evaluate(
        request,
        resource_policy=trust,
        resource_account=PIPELINE_ACCOUNT,
        resource_kind="role_trust",
    ).allowed


def test_a_pipeline_role_admits_only_its_github_environment() -> None:
    trust = PIPELINE.deploy_trust("dev")
    repo = f"repo:{REPOSITORY}"

    assert github_may_assume(trust, f"{repo}:environment:dev")
    # Prod's jobs, pull requests, a push to main without the environment, the preview job.
    assert not github_may_assume(trust, f"{repo}:environment:prod")
    assert not github_may_assume(trust, f"{repo}:pull_request")
    assert not github_may_assume(trust, f"{repo}:ref:refs/heads/main")
    assert not github_may_assume(trust, f"{repo}:environment:preview")
    # Another repository's dev environment, another audience, another identity provider.
    assert not github_may_assume(trust, "repo:acme/fork:environment:dev")
    assert not github_may_assume(
        trust, f"{repo}:environment:dev", audience="https://github.com/acme"
    )
    assert not github_may_assume(
        trust, f"{repo}:environment:dev", provider=oidc_provider_arn("999999999999")
    )


def test_the_preview_role_admits_only_the_preview_environment() -> None:
    trust = PIPELINE.preview_trust()
    repo = f"repo:{REPOSITORY}"

    assert github_may_assume(trust, f"{repo}:environment:preview")
    assert not github_may_assume(trust, f"{repo}:environment:dev")
    assert not github_may_assume(trust, f"{repo}:pull_request")


def _may_assume(permissions: Mapping[str, Any], caller: str, role_arn: str) -> bool:
    """The pipeline role's side of AssumeRole: its identity policy."""
    request = Request(caller, "sts:AssumeRole", role_arn)
    return evaluate_policy(permissions, request, "identity").allowed


def test_each_pipeline_role_reaches_only_its_own_per_account_roles() -> None:
    dev_pipeline = f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/{pipeline_role_name('dev')}"
    preview_pipeline = f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/PipelinePreview"
    dev = assume_only(deploy_role_name("dev"))
    preview = assume_only(PREVIEW_ROLE)

    assert _may_assume(dev, dev_pipeline, f"arn:aws:iam::{SHARED}:role/BackupDeployer-dev")
    assert not _may_assume(dev, dev_pipeline, f"arn:aws:iam::{SHARED}:role/BackupDeployer-prod")
    assert not _may_assume(dev, dev_pipeline, f"arn:aws:iam::{SHARED}:role/BackupDeployer")
    assert _may_assume(preview, preview_pipeline, f"arn:aws:iam::{SHARED}:role/BackupPreviewer")
    assert not _may_assume(
        preview, preview_pipeline, f"arn:aws:iam::{SHARED}:role/BackupDeployer-dev"
    )


def test_per_account_roles_trust_only_their_pipeline_role() -> None:
    deployer = f"arn:aws:iam::{SHARED}:role/BackupDeployer-dev"
    previewer = f"arn:aws:iam::{SHARED}:role/BackupPreviewer"

    def may(trust: Mapping[str, Any], caller_role: str, target: str) -> bool:
        # Across accounts both sides must allow: the caller's identity policy and the trust.
        caller = f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/{caller_role}"
        request = Request(caller, "sts:AssumeRole", target)
        return evaluate(
            request,
            identity_policies=[assume_only(target.rsplit("/", 1)[1])],
            resource_policy=trust,
            resource_account=SHARED,
            resource_kind="role_trust",
        ).allowed

    dev_trust = PIPELINE.deployer_trust("dev")
    assert may(dev_trust, "PipelineDeploy-dev", deployer)
    assert not may(dev_trust, "PipelineDeploy-prod", deployer)
    assert not may(dev_trust, "PipelinePreview", deployer)
    preview_trust = PIPELINE.previewer_trust()
    assert may(preview_trust, "PipelinePreview", previewer)
    assert not may(preview_trust, "PipelineDeploy-dev", previewer)


def _actions(document: Mapping[str, Any]) -> list[str]:
    return [
        action
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]


def test_the_pull_request_preview_credentials_cannot_write() -> None:
    # The pipeline role only assumes BackupPreviewer; that role only describes, gets and lists.
    assert _actions(assume_only(PREVIEW_ROLE)) == ["sts:AssumeRole"]
    actions = _actions(preview_role_permissions())
    assert actions and all(a.split(":")[1].startswith(READ_VERBS) for a in actions), actions
    previewer = f"arn:aws:iam::{SHARED}:role/BackupPreviewer"
    for action, resource in [
        ("iam:CreateRole", f"arn:aws:iam::{SHARED}:role/aws-backup-copy-dev-x"),
        ("backup:DeleteBackupVault", f"arn:aws:backup:us-east-1:{SHARED}:backup-vault:v"),
        ("kms:PutKeyPolicy", f"arn:aws:kms:us-east-1:{SHARED}:key/k"),
        ("organizations:UpdatePolicy", "arn:aws:organizations::0:policy/o-1/backup_policy/p-1"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::aws-backup-copy-dev-b"),
    ]:
        request = Request(previewer, action, resource)
        assert not evaluate_policy(preview_role_permissions(), request, "identity").allowed, action


def deployer(environment: str, account: str = SHARED) -> str:
    return f"arn:aws:iam::{account}:role/BackupDeployer-{environment}"


def may(
    scope: DeployScope,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    account: str = SHARED,
) -> bool:
    """Whether `scope`'s deploy role in `account` may make the request (its identity policy)."""
    request = Request(deployer(scope.environment, account), action, resource, dict(context or {}))
    return evaluate_policy(deploy_role_permissions(scope), request, "identity").allowed


NAMED_REQUESTS = [
    ("iam:CreateRole", "arn:aws:iam::{account}:role/{prefix}-backup-service"),
    ("iam:PutRolePolicy", "arn:aws:iam::{account}:role/{prefix}-ddb-export-ap-southeast-2"),
    ("backup:CreateBackupVault", "arn:aws:backup:ap-southeast-2:{account}:backup-vault:{prefix}-x"),
    ("backup:CreateFramework", "arn:aws:backup:ap-southeast-2:{account}:framework:{under}_x-1a2b"),
    ("s3:CreateBucket", "arn:aws:s3:::{prefix}-backup-reports-{account}"),
    ("lambda:CreateFunction", "arn:aws:lambda:ap-southeast-2:{account}:function:{prefix}-x"),
    (
        "logs:CreateLogGroup",
        "arn:aws:logs:ap-southeast-2:{account}:log-group:/aws/lambda/{prefix}-x",
    ),
    ("events:PutRule", "arn:aws:events:ap-southeast-2:{account}:rule/{prefix}-bus/{prefix}-x"),
    ("dynamodb:CreateTable", "arn:aws:dynamodb:ap-southeast-2:{account}:table/{prefix}-x"),
    ("kms:CreateAlias", "arn:aws:kms:ap-southeast-2:{account}:alias/{prefix}-x"),
    ("sns:CreateTopic", "arn:aws:sns:ap-southeast-2:{account}:{prefix}-x"),
]


@pytest.mark.parametrize(("action", "template"), NAMED_REQUESTS)
def test_a_deploy_role_changes_its_environments_names_only(action: str, template: str) -> None:
    def arn(scope: DeployScope, account: str = SHARED) -> str:
        return template.format(account=account, prefix=scope.prefix, under=scope.underscore_prefix)

    assert may(DEV, action, arn(DEV))
    assert not may(DEV, action, arn(PROD)), "dev's role may change a prod name"
    assert not may(PROD, action, arn(DEV)), "prod's role may change a dev name"
    # Its own names, but in another account than the role's own.
    if ":s3:::" not in template:
        assert not may(DEV, action, arn(DEV, account="111111111111"))


def test_a_deploy_role_attaches_only_the_programs_managed_policies() -> None:
    role = f"arn:aws:iam::{SHARED}:role/aws-backup-copy-dev-backup-service"
    managed = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"

    assert may(DEV, "iam:AttachRolePolicy", role, {"iam:PolicyARN": managed})
    assert not may(
        DEV,
        "iam:AttachRolePolicy",
        role,
        {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )


KEY = f"arn:aws:kms:ap-southeast-2:{SHARED}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_keys_are_reached_through_their_aliases() -> None:
    dev_key = {"kms:ResourceAliases": ["alias/aws-backup-copy-dev-central-vault"]}
    prod_key = {"kms:ResourceAliases": ["alias/aws-backup-copy-prod-central-vault"]}

    assert may(DEV, "kms:PutKeyPolicy", KEY, dev_key)
    assert not may(DEV, "kms:PutKeyPolicy", KEY, prod_key)
    assert not may(DEV, "kms:ScheduleKeyDeletion", KEY, prod_key)
    assert not may(DEV, "kms:PutKeyPolicy", KEY, {"kms:ResourceAliases": []})


def test_new_keys_carry_the_environment_tag_and_other_environments_keys_stay_out() -> None:
    dev_tag = {"aws:RequestTag/Environment": "dev"}

    assert may(DEV, "kms:CreateKey", "*", dev_tag)
    assert not may(DEV, "kms:CreateKey", "*", {"aws:RequestTag/Environment": "prod"})
    assert not may(DEV, "kms:CreateKey", "*")
    # Tags given to CreateKey: the new key has no alias yet.
    assert may(DEV, "kms:TagResource", KEY, dev_tag)
    # Prod's key, re-tagged to dev, then aliased into dev's scope: both refused.
    prod_key = {"kms:ResourceAliases": ["alias/aws-backup-copy-prod-central-vault"]}
    assert not may(DEV, "kms:TagResource", KEY, {**dev_tag, **prod_key})
    prod_tagged = {"aws:ResourceTag/Environment": "prod"}
    assert not may(DEV, "kms:CreateAlias", KEY, prod_tagged)
    assert not may(DEV, "kms:CreateAlias", KEY, {"aws:ResourceTag/Environment": "dev", **prod_key})
    # Dev's own new key (tagged dev, no alias yet) gets its alias.
    assert may(DEV, "kms:CreateAlias", KEY, {"aws:ResourceTag/Environment": "dev"})


POLICY = "arn:aws:organizations::000000000000:policy/o-a1b2c3d4e5/backup_policy/p-abcd1234"


def test_backup_policies_are_reached_through_the_environment_tag() -> None:
    create = {"aws:RequestTag/Environment": "dev", "organizations:PolicyType": "BACKUP_POLICY"}

    assert may(DEV, "organizations:CreatePolicy", POLICY, create)
    assert not may(
        DEV,
        "organizations:CreatePolicy",
        POLICY,
        {**create, "organizations:PolicyType": "SERVICE_CONTROL_POLICY"},
    )
    assert not may(
        DEV, "organizations:CreatePolicy", POLICY, {**create, "aws:RequestTag/Environment": "prod"}
    )
    assert may(DEV, "organizations:UpdatePolicy", POLICY, {"aws:ResourceTag/Environment": "dev"})
    assert not may(
        DEV, "organizations:UpdatePolicy", POLICY, {"aws:ResourceTag/Environment": "prod"}
    )
    assert not may(DEV, "organizations:DeletePolicy", POLICY)
    # Prod's policy cannot be re-tagged into dev's scope.
    assert not may(
        DEV,
        "organizations:TagResource",
        POLICY,
        {"aws:RequestTag/Environment": "dev", "aws:ResourceTag/Environment": "prod"},
    )
    target = "arn:aws:organizations::000000000000:ou/o-a1b2c3d4e5/ou-ab12-cdef3456"
    assert may(
        DEV, "organizations:AttachPolicy", target, {"organizations:PolicyType": "BACKUP_POLICY"}
    )
    assert not may(
        DEV,
        "organizations:AttachPolicy",
        target,
        {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"},
    )


def test_account_wide_singletons_only_for_the_owning_stacks_role() -> None:
    account = f"arn:aws:organizations::{SHARED}:account/o-a1b2c3d4e5/888888888888"
    backup = {"organizations:ServicePrincipal": "backup.amazonaws.com"}

    for action in (
        "backup:UpdateGlobalSettings",
        "organizations:PutResourcePolicy",
        "organizations:DeleteResourcePolicy",
    ):
        assert may(PROD, action, "*"), action
        assert not may(DEV, action, "*"), action
    resource_policy = "arn:aws:organizations::000000000000:resourcepolicy/o-a1b2c3d4e5/rp-1a2b3c4d"
    assert may(PROD, "organizations:TagResource", resource_policy)
    assert not may(DEV, "organizations:TagResource", resource_policy)
    assert may(PROD, "organizations:RegisterDelegatedAdministrator", account, backup)
    assert not may(DEV, "organizations:RegisterDelegatedAdministrator", account, backup)
    assert not may(
        PROD,
        "organizations:RegisterDelegatedAdministrator",
        account,
        {"organizations:ServicePrincipal": "guardduty.amazonaws.com"},
    )
    region_owner = DeployScope("aws-backup-copy", "prod", owns_region_settings=True)
    assert may(region_owner, "backup:UpdateRegionSettings", "*")
    assert not may(PROD, "backup:UpdateRegionSettings", "*")


@cache
def example_run(stack: str) -> OfflineRun:
    return run_program(stack)


def _request_tags(run: OfflineRun, resource: RecordedResource) -> dict[str, str]:
    """`aws:RequestTag/...` of a create: the provider's default tags and the resource's own."""
    provider = run.provider_of(resource)
    assert provider is not None
    tags = {
        **json.loads(provider.inputs["defaultTags"])["tags"],
        **(resource.inputs.get("tags") or {}),
    }
    return {f"aws:RequestTag/{key}": value for key, value in tags.items()}


def _creation(
    run: OfflineRun, resource: RecordedResource
) -> tuple[str, str, dict[str, Any]] | None:
    """The create request for a named resource: action, ARN, context."""
    account, region = resource.account_id, resource.region
    name = resource.inputs.get(NAMED[resource.type][1])
    templates = {
        "aws:iam/role:Role": ("iam:CreateRole", f"arn:aws:iam::{account}:role/{name}"),
        "aws:backup/vault:Vault": (
            "backup:CreateBackupVault",
            f"arn:aws:backup:{region}:{account}:backup-vault:{name}",
        ),
        "aws:s3/bucket:Bucket": ("s3:CreateBucket", f"arn:aws:s3:::{name}"),
        "aws:lambda/function:Function": (
            "lambda:CreateFunction",
            f"arn:aws:lambda:{region}:{account}:function:{name}",
        ),
        "aws:cloudwatch/logGroup:LogGroup": (
            "logs:CreateLogGroup",
            f"arn:aws:logs:{region}:{account}:log-group:{name}",
        ),
        "aws:cloudwatch/metricAlarm:MetricAlarm": (
            "cloudwatch:PutMetricAlarm",
            f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        ),
        "aws:sns/topic:Topic": ("sns:CreateTopic", f"arn:aws:sns:{region}:{account}:{name}"),
        "aws:scheduler/scheduleGroup:ScheduleGroup": (
            "scheduler:CreateScheduleGroup",
            f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
        ),
        "aws:dynamodb/table:Table": (
            "dynamodb:CreateTable",
            f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        ),
        "aws:kms/alias:Alias": ("kms:CreateAlias", f"arn:aws:kms:{region}:{account}:{name}"),
        "aws:cloudformation/stackSet:StackSet": (
            "cloudformation:CreateStackSet",
            f"arn:aws:cloudformation:{region}:{account}:stackset/{name}:1a2b",
        ),
        "aws:backup/framework:Framework": (
            "backup:CreateFramework",
            f"arn:aws:backup:{region}:{account}:framework:{name}-1a2b",
        ),
        "aws:backup/reportPlan:ReportPlan": (
            "backup:CreateReportPlan",
            f"arn:aws:backup:{region}:{account}:report-plan:{name}-1a2b",
        ),
        "aws:backup/restoreTestingPlan:RestoreTestingPlan": (
            "backup:CreateRestoreTestingPlan",
            f"arn:aws:backup:{region}:{account}:restore-testing-plan:{name}-1a2b",
        ),
        "aws:organizations/policy:Policy": (
            "organizations:CreatePolicy",
            f"arn:aws:organizations::{account}:policy/o-a1b2c3d4e5/backup_policy/p-1a2b",
        ),
    }
    if resource.type == "aws:cloudwatch/eventRule:EventRule":
        bus = resource.inputs.get("eventBusName")
        return (
            "events:PutRule",
            f"arn:aws:events:{region}:{account}:rule/{bus + '/' if bus else ''}{name}",
            {},
        )
    if resource.type not in templates:
        return None
    action, arn = templates[resource.type]
    context: dict[str, Any] = {}
    if resource.type == "aws:organizations/policy:Policy":
        context = {
            **_request_tags(run, resource),
            "organizations:PolicyType": resource.inputs["type"],
        }
    return action, arn, context


@pytest.mark.parametrize("stack", ["dev", "prod", "sandbox"])
def test_each_example_stacks_deploy_role_may_create_what_the_stack_creates_and_no_other_may(
    stack: str,
) -> None:
    run = example_run(stack)
    scope = deploy_scope(stack, run)
    others = [
        deploy_scope(other, example_run(other))
        for other in ("dev", "prod", "sandbox")
        if other != stack
    ]
    checked = 0
    for resource in run.resources:
        if resource.type not in NAMED:
            continue
        creation = _creation(run, resource)
        if creation is None:
            continue
        action, arn, context = creation
        assert may(scope, action, arn, context, account=str(resource.account_id)), (
            stack,
            action,
            arn,
        )
        for other in others:
            assert not may(other, action, arn, context, account=str(resource.account_id)), (
                f"{other.environment}'s deploy role may {action} {arn}"
            )
        checked += 1
    assert checked > 10


def test_the_evaluator_reads_every_document_completely() -> None:
    # Nothing in them that flows.evaluator would have to skip (it raises on what it does not
    # model), so the flows above decide on the whole of each document.
    scopes = [deploy_scope(stack, example_run(stack)) for stack in ("dev", "prod", "sandbox")]
    for name, document in example_documents(PIPELINE, scopes).items():
        check_policy(document, "resource" if name.endswith("trust") else "identity")


def test_the_documents_in_docs_pipeline_are_the_builders_output() -> None:
    shown = shown_in_docs((ROOT / "docs" / "pipeline.md").read_text())
    expected = docs_documents()

    assert shown.keys() == expected.keys()
    for name, document in expected.items():
        assert shown[name] == document, (
            f"docs/pipeline.md, {name}: run `venv/bin/python -m tools.pipeline_policies "
            f"--update-docs`:\n{json.dumps(document, indent=2)}"
        )


def test_make_pipeline_policies_prints_a_stacks_documents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--stack", "prod", "--pipeline-account", PIPELINE_ACCOUNT, "--repository", REPOSITORY]

    assert pipeline_policies.main(args) == 0

    documents = json.loads(capsys.readouterr().out)
    assert sorted(documents) == sorted(
        [
            "PipelinePreview trust",
            "PipelinePreview permissions",
            "BackupPreviewer trust",
            "BackupPreviewer permissions",
            "PipelineDeploy-prod trust",
            "PipelineDeploy-prod permissions",
            "BackupDeployer-prod trust",
            "BackupDeployer-prod permissions",
        ]
    )
    condition = documents["PipelineDeploy-prod trust"]["Statement"][0]["Condition"]
    assert condition["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        f"repo:{REPOSITORY}:environment:prod"
    )


def test_make_pipeline_policies_names_a_missing_stack_without_a_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert pipeline_policies.main(["--stack", "nosuch"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: no stack file Pulumi.nosuch.yaml") and "Traceback" not in err
