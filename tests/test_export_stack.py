"""The DynamoDB export deployment under mocks: bucket, exporters, and what they may do."""

from __future__ import annotations

import json
from typing import Any

from components.dynamodb_exporter import (
    MISSED_ALARM,
    MISSED_FILTER_PATTERN,
    MISSED_METRIC,
    MISSED_VALUE,
)
from flows.evaluator import Request, evaluate_policy
from tools.offline import OfflineRun, RecordedResource

FUNCTION = "aws-backup-copy-{stack}-dynamodb-export"


def only(run: OfflineRun, type_token: str) -> RecordedResource:
    """The one resource of this type; for S3, the export bucket's (audit reports have theirs)."""
    [resource] = [
        r
        for r in run.of_type(type_token)
        if not type_token.startswith("aws:s3/") or r.parent_name == "export-bucket"
    ]
    return resource


def exporter_region(resource: RecordedResource) -> str:
    """The Region an exporter's (global, IAM) resource serves: its component is
    `exporter-<account>-<region>`; the provider's home Region says nothing about it."""
    return resource.parent_name.split("-", 2)[2]


def exporter_roles(run: OfflineRun) -> list[RecordedResource]:
    """The functions' own roles (not the scheduler roles beside them)."""
    return [
        r
        for r in run.of_type("aws:iam/role:Role")
        if r.parent_name.startswith("exporter-") and r.name == f"{r.parent_name}-role"
    ]


def scheduler_roles(run: OfflineRun) -> list[RecordedResource]:
    return [r for r in run.of_type("aws:iam/role:Role") if r.name.endswith("-scheduler-role")]


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
        (
            f"arn:aws:iam::{role.account_id}:role/{role.inputs['name']}",
            role.account_id,
            exporter_region(role),
        )
        for role in exporter_roles(stack_run)
    ]
    places = {(account, region) for _, account, region in roles} | {
        ("999999999999", "ap-southeast-2")
    }

    def may_put(principal: str, key: str, **context: Any) -> bool:
        request = Request(principal, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", context)
        return evaluate_policy(policy, request).allowed

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
    assert not evaluate_policy(
        policy, Request(roles[0][0], "s3:GetObject", f"arn:aws:s3:::{bucket}/{env}/x")
    ).allowed


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
        assert env["MAX_CONCURRENT_EXPORTS"] == "280"
        name = FUNCTION.format(stack=stack_run.stack)
        assert env["STATE_TABLE"] == f"{name}-state"
        assert env["SCHEDULE_GROUP"] == name
        assert env["SCHEDULER_ROLE_ARN"] == (
            f"arn:aws:iam::{function.account_id}:role/{name}-scheduler-{function.region}"
        )
        # JSON lines: the metric filter reads the handler's top-level keys.
        assert function.inputs["loggingConfig"] == {
            "logFormat": "JSON",
            "logGroup": f"/aws/lambda/{name}",
            "applicationLogLevel": "INFO",
            "systemLogLevel": "WARN",
        }
        if stack_run.stack == "prod":
            assert env["S3_SSE_ALGORITHM"] == "KMS"
            assert env["S3_SSE_KMS_KEY_ID"].startswith(
                "arn:aws:kms:ap-southeast-2:777777777777:key/"
            )
        else:
            assert env["S3_SSE_ALGORITHM"] == "AES256"
            assert "S3_SSE_KMS_KEY_ID" not in env


def test_exporter_role_grants_exactly_what_a_run_and_its_continuations_need(
    prod_run: OfflineRun,
) -> None:
    for policy_resource in [
        r
        for r in prod_run.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == f"{r.parent_name}-role-policy" and r.parent_name.startswith("exporter-")
    ]:
        statements = {s["Sid"]: s for s in document(policy_resource)["Statement"]}
        account, region = policy_resource.account_id, exporter_region(policy_resource)
        name = FUNCTION.format(stack="prod")
        state = f"arn:aws:dynamodb:{region}:{account}:table/{name}-state"
        assert statements.pop("ListTablesAndExports") == {
            "Sid": "ListTablesAndExports",
            "Effect": "Allow",
            "Action": ["dynamodb:ListExports", "dynamodb:ListTables"],
            "Resource": "*",
        }
        assert statements.pop("ExportThisAccountsTables")["Resource"] == (
            f"arn:aws:dynamodb:{region}:{account}:table/*"
        )
        assert statements.pop("ReadThisAccountsPitrWindows") == {
            "Sid": "ReadThisAccountsPitrWindows",
            "Effect": "Allow",
            "Action": "dynamodb:DescribeContinuousBackups",
            "Resource": f"arn:aws:dynamodb:{region}:{account}:table/*",
        }
        assert statements.pop("DescribeThisAccountsExports")["Resource"] == (
            f"arn:aws:dynamodb:{region}:{account}:table/*/export/*"
        )
        # Only under its own {ENV}/{account}/{region}/ prefix.
        assert statements.pop("WriteExportObjects")["Resource"] == (
            f"arn:aws:s3:::dynamodb-backup-prod-777777777777/prod/{account}/{region}/*"
        )
        assert statements.pop("EncryptExportObjects")["Resource"].startswith(
            "arn:aws:kms:ap-southeast-2:777777777777:key/"
        )
        assert statements.pop("WriteOwnLogs")["Resource"] == (
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{name}:*"
        )
        assert statements.pop("ReadWriteOwnState") == {
            "Sid": "ReadWriteOwnState",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": state,
        }
        assert statements.pop("NeverExportOwnState") == {
            "Sid": "NeverExportOwnState",
            "Effect": "Deny",
            "Action": "dynamodb:ExportTableToPointInTime",
            "Resource": state,
        }
        assert statements.pop("CreateOwnContinuations") == {
            "Sid": "CreateOwnContinuations",
            "Effect": "Allow",
            "Action": "scheduler:CreateSchedule",
            "Resource": f"arn:aws:scheduler:{region}:{account}:schedule/{name}/*",
        }
        assert statements.pop("PassSchedulerRole") == {
            "Sid": "PassSchedulerRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{account}:role/{name}-scheduler-{region}",
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        }
        assert statements == {}


def test_scheduler_role_is_assumable_by_its_group_only_and_invokes_its_function_only(
    stack_run: OfflineRun,
) -> None:
    roles = scheduler_roles(stack_run)
    assert len(roles) == len(stack_run.of_type("aws:lambda/function:Function"))
    name = FUNCTION.format(stack=stack_run.stack)
    for role in roles:
        account, region = role.account_id, exporter_region(role)
        [trust] = document(role, "assumeRolePolicy")["Statement"]
        assert trust == {
            "Sid": "TrustSchedulerForOwnGroup",
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnEquals": {
                    "aws:SourceArn": f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}"
                },
            },
        }
        [policy] = [
            r
            for r in stack_run.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name == f"{role.name}-policy"
        ]
        assert document(policy)["Statement"] == [
            {
                "Sid": "InvokeExporter",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{region}:{account}:function:{name}",
            }
        ]


def test_new_resource_names_carry_the_prefix_and_differ_by_account_and_region(
    prod_run: OfflineRun,
) -> None:
    name = FUNCTION.format(stack="prod")
    tables = prod_run.of_type("aws:dynamodb/table:Table")
    groups = prod_run.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")
    roles = scheduler_roles(prod_run)

    # Table and group names are per account and Region; IAM role names per account.
    assert {(t.account_id, t.region, t.inputs["name"]) for t in tables} == {
        (f.account_id, f.region, f"{name}-state")
        for f in prod_run.of_type("aws:lambda/function:Function")
    }
    assert {g.inputs["name"] for g in groups} == {name}
    assert len({(g.account_id, g.region) for g in groups}) == len(groups) == 3
    role_names = [(r.account_id, r.inputs["name"]) for r in roles]
    assert len(set(role_names)) == len(role_names) == 3
    assert all(n.startswith(name) and len(n) <= 64 for _, n in role_names)


def test_state_table_expires_old_runs(dev_run: OfflineRun) -> None:
    table = only(dev_run, "aws:dynamodb/table:Table")

    assert table.inputs["hashKey"] == "pk"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}


def test_exporter_trusts_lambda_only(stack_run: OfflineRun) -> None:
    for role in exporter_roles(stack_run):
        [statement] = document(role, "assumeRolePolicy")["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_schedules_invoke_the_function(prod_run: OfflineRun) -> None:
    rules = [
        r
        for r in prod_run.of_type("aws:cloudwatch/eventRule:EventRule")
        if r.account_id == "666666666666" and r.parent_name.startswith("exporter-")
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

    assert sorted(code.assets) == [
        "continuation.py",
        "export_config.py",
        "export_engine.py",
        "export_run.py",
        "handler.py",
        "state_store.py",
    ]
    assert all(
        asset.path.endswith(f"lambda/dynamodb_export/{name}") for name, asset in code.assets.items()
    )


def test_a_missed_day_raises_the_backlog_alarm(stack_run: OfflineRun) -> None:
    # Rule by rule as components.dynamodb_exporter defines them; the lambda tests
    # (test_dynamodb_export_alarms) show those rules fire on a missed day, whatever
    # the schedules, and stay quiet on a day that drains late.
    name = FUNCTION.format(stack=stack_run.stack)
    filters = stack_run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    alarms = [
        a
        for a in stack_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.name.endswith("-backlog")
    ]
    # One of each per exporter (source account and Region).
    assert len(filters) == len(alarms) == len(stack_run.of_type("aws:lambda/function:Function"))
    metric_filter, alarm = filters[0], alarms[0]
    transformation = metric_filter.inputs["metricTransformation"]

    assert metric_filter.inputs["logGroupName"] == f"/aws/lambda/{name}"
    assert metric_filter.inputs["pattern"] == MISSED_FILTER_PATTERN
    assert (transformation["name"], transformation["value"]) == (MISSED_METRIC, MISSED_VALUE)
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        transformation["namespace"],
        MISSED_METRIC,
    )
    assert {
        key: alarm.inputs[key]
        for key in (
            "statistic",
            "period",
            "evaluationPeriods",
            "datapointsToAlarm",
            "threshold",
            "comparisonOperator",
            "treatMissingData",
        )
    } == {
        "statistic": MISSED_ALARM.statistic,
        "period": MISSED_ALARM.period,
        "evaluationPeriods": MISSED_ALARM.evaluation_periods,
        "datapointsToAlarm": MISSED_ALARM.datapoints_to_alarm,
        "threshold": MISSED_ALARM.threshold,
        "comparisonOperator": MISSED_ALARM.comparison_operator,
        "treatMissingData": MISSED_ALARM.treat_missing_data,
    }
    # PutMetricAlarm: Period x EvaluationPeriods at most 7 days (1 day below an hour).
    assert alarm.inputs["period"] * alarm.inputs["evaluationPeriods"] <= 86400
