"""The DynamoDB export deployment under mocks: bucket, exporters, and what they may do."""

from __future__ import annotations

import json
from typing import Any

from tests.support.iam_eval import Request, allows
from tools.offline import OfflineRun, RecordedResource


def only(run: OfflineRun, type_token: str) -> RecordedResource:
    [resource] = run.of_type(type_token)
    return resource


def exporter_roles(run: OfflineRun) -> list[RecordedResource]:
    return [r for r in run.of_type("aws:iam/role:Role") if r.parent_name.startswith("exporter-")]


def document(resource: RecordedResource, prop: str = "policy") -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(resource.inputs[prop])
    return decoded


def test_bucket_is_private_versioned_owner_enforced_and_expiring(stack_run: OfflineRun) -> None:
    bucket = only(stack_run, "aws:s3/bucket:Bucket")
    block = only(stack_run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = only(stack_run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    versioning = only(stack_run, "aws:s3/bucketVersioning:BucketVersioning")
    [rule] = only(
        stack_run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ).inputs["rules"]

    assert bucket.account_id in {"333333333333", "777777777777"}
    assert all(
        block.inputs[flag] is True
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    assert rule["expiration"]["days"] == (35 if stack_run.stack == "dev" else 90)
    assert rule["status"] == "Enabled"


def test_overwritten_or_deleted_exports_stay_recoverable_for_the_retention(
    stack_run: OfflineRun,
) -> None:
    rules = only(
        stack_run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ).inputs["rules"]
    retention = 35 if stack_run.stack == "dev" else 90

    for rule in rules:
        noncurrent = rule.get("noncurrentVersionExpiration")
        if noncurrent is not None:
            assert noncurrent["noncurrentDays"] >= retention
        expiration = rule.get("expiration") or {}
        # S3 refuses ExpiredObjectDeleteMarker next to Days or Date (LifecycleExpiration).
        assert not (
            "expiredObjectDeleteMarker" in expiration and ({"days", "date"} & set(expiration))
        ), rule


def test_bucket_encryption_follows_config(dev_run: OfflineRun, prod_run: OfflineRun) -> None:
    def default_encryption(run: OfflineRun) -> dict[str, Any]:
        config = only(
            run,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
        by_default: dict[str, Any] = config.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        return by_default

    assert default_encryption(dev_run) == {"sseAlgorithm": "AES256"}
    prod = default_encryption(prod_run)
    assert prod["sseAlgorithm"] == "aws:kms"
    assert prod["kmsMasterKeyId"].startswith("arn:aws:kms:ap-southeast-2:777777777777:key/")


def test_bucket_policy_lets_each_exporter_write_only_under_its_own_prefix(
    stack_run: OfflineRun,
) -> None:
    policy = document(only(stack_run, "aws:s3/bucketPolicy:BucketPolicy"))
    bucket = only(stack_run, "aws:s3/bucket:Bucket").inputs["bucket"]
    env = stack_run.stack
    roles = [
        (f"arn:aws:iam::{role.account_id}:role/{role.inputs['name']}", role.account_id, role.region)
        for role in exporter_roles(stack_run)
    ]
    places = {(account, region) for _, account, region in roles} | {
        ("999999999999", "ap-southeast-2")
    }

    def may_put(principal: str, key: str, **context: Any) -> bool:
        request = Request(principal, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", context)
        return allows(policy, request)

    for role_arn, account, region in roles:
        for other_account, other_region in places:
            key = f"{env}/{other_account}/{other_region}/orders/2026/11/27/AWSDynamoDB/x/data/a.gz"
            own = (other_account, other_region) == (account, region)
            assert may_put(role_arn, key, **{"aws:SecureTransport": "true"}) is own, (role_arn, key)
        own_key = f"{env}/{account}/{region}/t/x"
        assert not may_put(role_arn, own_key, **{"aws:SecureTransport": "false"})
        assert not may_put(role_arn, f"other-env/{account}/{region}/t/x")
        # Another role of the same account gets nothing.
        assert not may_put(f"arn:aws:iam::{account}:role/someone-else", own_key)
    assert not allows(
        policy, Request(roles[0][0], "s3:GetObject", f"arn:aws:s3:::{bucket}/{env}/x")
    )


def test_one_exporter_per_source_account_and_region(prod_run: OfflineRun) -> None:
    functions = prod_run.of_type("aws:lambda/function:Function")

    assert sorted((f.account_id, f.region) for f in functions) == [
        ("444444444444", "ap-southeast-1"),
        ("444444444444", "ap-southeast-2"),
        ("666666666666", "ap-southeast-2"),
    ]


def test_function_settings_and_environment(stack_run: OfflineRun) -> None:
    for function in stack_run.of_type("aws:lambda/function:Function"):
        env = function.inputs["environment"]["variables"]
        assert function.inputs["handler"] == "handler.lambda_handler"
        assert function.inputs["runtime"] in {"python3.12", "python3.13"}
        assert function.inputs["timeout"] == 900
        assert env["FULL_EXPORT_INTERVAL_DAYS"] == "7"
        assert env["S3_BUCKET_DEST"] == only(stack_run, "aws:s3/bucket:Bucket").inputs["bucket"]
        assert env["S3_BUCKET_OWNER"] == only(stack_run, "aws:s3/bucket:Bucket").account_id
        assert env["ENV"] == stack_run.stack
        assert env["MAX_CONCURRENT_EXPORTS"] == "250"
        if stack_run.stack == "prod":
            assert env["S3_SSE_ALGORITHM"] == "KMS"
            assert env["S3_SSE_KMS_KEY_ID"].startswith(
                "arn:aws:kms:ap-southeast-2:777777777777:key/"
            )
        else:
            assert env["S3_SSE_ALGORITHM"] == "AES256"
            assert "S3_SSE_KMS_KEY_ID" not in env


def test_exporter_role_is_scoped_to_its_account_region_bucket_and_key(prod_run: OfflineRun) -> None:
    for policy_resource in [
        r
        for r in prod_run.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.parent_name.startswith("exporter-")
    ]:
        statements = {s["Sid"]: s for s in document(policy_resource)["Statement"]}
        account, region = policy_resource.account_id, policy_resource.region
        assert (
            statements["ExportThisAccountsTables"]["Resource"]
            == f"arn:aws:dynamodb:{region}:{account}:table/*"
        )
        assert (
            statements["DescribeThisAccountsExports"]["Resource"]
            == f"arn:aws:dynamodb:{region}:{account}:table/*/export/*"
        )
        assert (
            statements["WriteExportObjects"]["Resource"]
            == "arn:aws:s3:::dynamodb-backup-prod-777777777777/*"
        )
        assert statements["EncryptExportObjects"]["Resource"].startswith(
            "arn:aws:kms:ap-southeast-2:777777777777:key/"
        )
        assert statements["WriteOwnLogs"]["Resource"] == (
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/aws-backup-copy-prod-dynamodb-export:*"
        )
        assert statements["ListTablesAndExports"]["Action"] == [
            "dynamodb:ListExports",
            "dynamodb:ListTables",
        ]
        assert len(statements) == 6


def test_exporter_trusts_lambda_only(stack_run: OfflineRun) -> None:
    for role in exporter_roles(stack_run):
        [statement] = document(role, "assumeRolePolicy")["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_schedules_invoke_the_function(prod_run: OfflineRun) -> None:
    rules = [
        r
        for r in prod_run.of_type("aws:cloudwatch/eventRule:EventRule")
        if r.account_id == "666666666666"
    ]
    permissions = [
        p
        for p in prod_run.of_type("aws:lambda/permission:Permission")
        if p.account_id == "666666666666"
    ]

    assert sorted(r.inputs["scheduleExpression"] for r in rules) == [
        "cron(0 3 * * ? *)",
        "cron(0 9,15,21 * * ? *)",
    ]
    assert {p.inputs["sourceArn"] for p in permissions} == {
        f"arn:aws:events:ap-southeast-2:666666666666:rule/{r.inputs['name']}" for r in rules
    }
    assert all(p.inputs["principal"] == "events.amazonaws.com" for p in permissions)


def test_logs_are_kept_as_configured(prod_run: OfflineRun) -> None:
    groups = prod_run.of_type("aws:cloudwatch/logGroup:LogGroup")

    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    assert {g.inputs["name"] for g in groups} == {
        "/aws/lambda/aws-backup-copy-prod-dynamodb-export"
    }


def test_failed_runs_raise_an_alarm(dev_run: OfflineRun) -> None:
    alarm = dev_run.named("exporter-111111111111-ap-southeast-2-failures")

    assert alarm.inputs["metricName"] == "Errors"
    assert alarm.inputs["dimensions"] == {"FunctionName": "aws-backup-copy-dev-dynamodb-export"}
    assert alarm.inputs["threshold"] == 1


def test_function_ships_exactly_the_handler_modules(dev_run: OfflineRun) -> None:
    [function] = dev_run.of_type("aws:lambda/function:Function")
    code = function.inputs["code"]

    assert sorted(code.assets) == ["export_config.py", "export_engine.py", "handler.py"]
    assert all(
        asset.path.endswith(f"lambda/dynamodb_export/{name}") for name, asset in code.assets.items()
    )


def test_a_backlog_that_never_drains_raises_an_alarm(dev_run: OfflineRun) -> None:
    metric_filter = only(dev_run, "aws:cloudwatch/logMetricFilter:LogMetricFilter")
    alarm = dev_run.named("exporter-111111111111-ap-southeast-2-backlog")
    transformation = metric_filter.inputs["metricTransformation"]

    assert metric_filter.inputs["logGroupName"] == "/aws/lambda/aws-backup-copy-dev-dynamodb-export"
    assert metric_filter.inputs["pattern"] == '{ $.event = "totals" }'
    assert transformation["value"] == "$.deferred"
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        transformation["namespace"],
        transformation["name"],
    )
    assert alarm.inputs["evaluationPeriods"] * alarm.inputs["period"] == 24 * 3600
    assert alarm.inputs["statistic"] == "Minimum"
