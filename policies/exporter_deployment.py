"""How the DynamoDB exporter is deployed, as plain data: one definition for both member modes.

`components/dynamodb_exporter.py` declares these through Pulumi in a source account
(providers mode); `policies/member_template.py` writes the same into the CloudFormation
template that a StackSet deploys to every member account (stackSets mode).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda" / "dynamodb_export"
RUNTIME = "python3.12"
HANDLER = "handler.lambda_handler"
# Lambda's ceiling: the handler is measured to finish 2,500 tables well inside it (bench/).
TIMEOUT_SECONDS = 900
MEMORY_MB = 512
METRIC_NAMESPACE = "AwsBackupCopy/DynamoDbExport"
MISSED_METRIC = "MissedTables"
# The lines the function logs when a cut closes, with the tables it missed for good
# (export_run.CutRun._close, and days that never got a state), and at a cut's day mark,
# with the tables not started within a day (cut_overdue). With the JSON log format their
# fields are top-level keys (handler.log_event), which JSON filter patterns address as
# `$.<key>`, compounded with && and || in parentheses (CloudWatch Logs User Guide,
# "Using filter patterns to match terms in JSON log events"); `$.missed >= 0` also
# requires the value to be a number.
MISSED_FILTER_PATTERN = (
    '{ (($.event = "cut_closed") || ($.event = "cut_overdue")) && ($.missed >= 0) }'
)
MISSED_VALUE = "$.missed"
# IAM role names: at most 64 characters (IAM User Guide, "IAM and AWS STS quotas").
MAX_ROLE_NAME = 64


@dataclass(frozen=True)
class AlarmRule:
    """How a CloudWatch alarm evaluates its metric."""

    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str


# "Some table stayed deferred for a whole day, or was missed for good": a day after its
# first run a cut reports the tables it has not started (cut_overdue, and keeps exporting
# them), and when it closes the tables it missed for good (cut_closed). At most two data
# points per cut, whenever the schedules run: any missed table in the last 24 hourly
# periods keeps the alarm in ALARM, so it shows for a day. Hours without a
# closing cut are not breaching ("missing data" guide: a metric that only reports events).
# PutMetricAlarm allows Period x EvaluationPeriods up to 7 days for periods of an hour or
# more (1 day below that); 3,600 x 24 = 86,400 s fits either way (CloudWatch API
# reference, PutMetricAlarm, EvaluationPeriods/Period).
MISSED_ALARM = AlarmRule(
    statistic="Maximum",
    period=3600,
    evaluation_periods=24,
    datapoints_to_alarm=1,
    threshold=1,
    comparison_operator="GreaterThanOrEqualToThreshold",
    treat_missing_data="notBreaching",
)
FAILURE_ALARM = AlarmRule(
    statistic="Sum",
    period=3600,
    evaluation_periods=1,
    datapoints_to_alarm=1,
    threshold=1,
    comparison_operator="GreaterThanOrEqualToThreshold",
    treat_missing_data="notBreaching",
)


@dataclass(frozen=True)
class Alarm:
    """One CloudWatch alarm of the exporter."""

    suffix: str
    description: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str] | None
    rule: AlarmRule


def alarms(function_name: str) -> tuple[Alarm, ...]:
    """A failed run, and a cut that closed with tables never started."""
    return (
        Alarm(
            suffix="failures",
            description="A DynamoDB export run failed for at least one table",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function_name},
            rule=FAILURE_ALARM,
        ),
        Alarm(
            suffix="backlog",
            description=(
                "Some table's export did not start within a day of its cut's first run "
                "(exports cannot keep up), or a table was missed for good (its PITR window "
                "moved past the cut, it kept failing, or its day never got a state)"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=MISSED_METRIC,
            dimensions=None,
            rule=MISSED_ALARM,
        ),
    )


def bounded_name(name: str, limit: int) -> str:
    """`name`, or its first characters plus a hash of all of it when longer than `limit`."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(digest) - 1]}-{digest}"


def state_table_name(function_name: str) -> str:
    """The run-state table: table names are per account and Region, like the function's."""
    return f"{function_name}-state"


def scheduler_role_name(function_name: str, region: str) -> str:
    """IAM is global to the account and the function exists in every Region: add it."""
    return bounded_name(f"{function_name}-scheduler-{region}", MAX_ROLE_NAME)


def log_group_name(function_name: str) -> str:
    """The function's own log group, where Lambda writes by default."""
    return f"/aws/lambda/{function_name}"


def schedule_rules(function_name: str, expressions: Sequence[str]) -> list[tuple[str, str]]:
    """(rule name, schedule expression): the daily run first, then the catch-up runs."""
    return [
        (f"{function_name}-{'schedule' if index == 0 else f'catch-up-{index}'}", expression)
        for index, expression in enumerate(expressions)
    ]


def lambda_sources() -> list[Path]:
    """The function's modules only: no `__pycache__` or test leftovers change its code."""
    return sorted(LAMBDA_SOURCE.glob("*.py"))


def code_digest() -> str:
    """SHA-256 over the modules' names and contents: the artifact key changes with the code."""
    digest = hashlib.sha256()
    for path in lambda_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class ExporterSettings:
    """What every exporter of a stack shares, whatever account and Region it runs in."""

    function_name: str
    environment: str
    bucket_name: str
    bucket_owner_account_id: str
    schedule_expressions: Sequence[str]
    export_format: str
    export_type: str
    max_concurrent_exports: int
    full_export_interval_days: int
    include_tables: Sequence[str]
    exclude_tables: Sequence[str]
    log_retention_days: int


def environment_variables(
    settings: ExporterSettings, *, kms_key_arn: T | None, scheduler_role_arn: T
) -> dict[str, str | T]:
    """The function's environment (export_config.load_settings reads it)."""
    variables: dict[str, str | T] = {
        "S3_BUCKET_DEST": settings.bucket_name,
        "S3_BUCKET_OWNER": settings.bucket_owner_account_id,
        "ENV": settings.environment,
        "EXPORT_FORMAT": settings.export_format,
        "EXPORT_TYPE": settings.export_type,
        "MAX_CONCURRENT_EXPORTS": str(settings.max_concurrent_exports),
        "FULL_EXPORT_INTERVAL_DAYS": str(settings.full_export_interval_days),
        "S3_SSE_ALGORITHM": "AES256" if kms_key_arn is None else "KMS",
        "STATE_TABLE": state_table_name(settings.function_name),
        "SCHEDULE_GROUP": settings.function_name,
        "SCHEDULER_ROLE_ARN": scheduler_role_arn,
    }
    if kms_key_arn is not None:
        variables["S3_SSE_KMS_KEY_ID"] = kms_key_arn
    if settings.include_tables:
        variables["INCLUDE_TABLES"] = ",".join(settings.include_tables)
    if settings.exclude_tables:
        variables["EXCLUDE_TABLES"] = ",".join(settings.exclude_tables)
    return variables


def state_table_properties() -> dict[str, Any]:
    """The state table's key schema and TTL (state_store.STATE_TTL sets `expiresAt`)."""
    return {"hash_key": "pk", "ttl_attribute": "expiresAt", "billing_mode": "PAY_PER_REQUEST"}
