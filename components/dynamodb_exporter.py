"""The scheduled DynamoDB export Lambda in one source account and Region."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from policies.exporter import exporter_permissions
from policies.exporter_chain import scheduler_invoke_policy, scheduler_trust_policy
from policies.iam import service_trust_policy

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda" / "dynamodb_export"
RUNTIME = "python3.12"
# Lambda's ceiling: the handler is measured to finish 2,500 tables well inside it (bench/).
TIMEOUT_SECONDS = 900
MEMORY_MB = 512
METRIC_NAMESPACE = "AwsBackupCopy/DynamoDbExport"
MISSED_METRIC = "MissedTables"
# The line the function logs when a cut closes (export_run.CutRun._close). With the JSON
# log format its fields are top-level keys (handler.log_event), which JSON filter
# patterns address as `$.<key>` (CloudWatch Logs User Guide, "Using filter patterns to
# match terms in JSON log events"); `$.missed >= 0` also requires the value to be a number.
MISSED_FILTER_PATTERN = '{ ($.event = "cut_closed") && ($.missed >= 0) }'
MISSED_VALUE = "$.missed"


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


# "Some table stayed deferred for a whole day": a cut closes (no more starts) a day after
# its first run or at the next scheduled cut's first run, and reports the tables it never
# started. One data point per cut, whenever the schedules run: any missed table in the
# last 24 hourly periods keeps the alarm in ALARM, so it shows for a day. Hours without a
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
# IAM role names: at most 64 characters (IAM User Guide, "IAM and AWS STS quotas").
MAX_ROLE_NAME = 64


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


def lambda_code() -> pulumi.AssetArchive:
    """The function's modules only: no `__pycache__` or test leftovers change its hash."""
    return pulumi.AssetArchive(
        {path.name: pulumi.FileAsset(str(path)) for path in sorted(LAMBDA_SOURCE.glob("*.py"))}
    )


@dataclass(frozen=True)
class DynamoDbExporterArgs:
    """Where the function runs, where it writes, and how it is scheduled."""

    account_id: str
    region: str
    function_name: str
    role_name: str
    environment: str
    bucket_name: str
    bucket_owner_account_id: str
    kms_key_arn: pulumi.Input[str] | None
    schedule_expressions: Sequence[str]
    export_format: str
    export_type: str
    max_concurrent_exports: int
    full_export_interval_days: int
    include_tables: Sequence[str]
    exclude_tables: Sequence[str]
    log_retention_days: int
    provider: aws.Provider


class DynamoDbExporter(pulumi.ComponentResource):
    """Role, log group, state table, function, schedule(s), continuations and alarms."""

    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    state_table_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DynamoDbExporterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:DynamoDbExporter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        log_group_name = f"/aws/lambda/{args.function_name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            region=args.region,
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            assume_role_policy=json.dumps(service_trust_policy("lambda")),
            description="Exports this account's DynamoDB tables to the export bucket",
            opts=child,
        )
        table_name = state_table_name(args.function_name)
        state_table = aws.dynamodb.Table(
            f"{name}-state",
            region=args.region,
            name=table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            # Run state is worth a week at most (state_store.STATE_TTL sets expiresAt).
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            opts=child,
        )
        group = aws.scheduler.ScheduleGroup(
            f"{name}-continuations", region=args.region, name=args.function_name, opts=child
        )
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            name=scheduler_role_name(args.function_name, args.region),
            assume_role_policy=json.dumps(
                scheduler_trust_policy(
                    region=args.region, account_id=args.account_id, group_name=args.function_name
                )
            ),
            description="Lets EventBridge Scheduler start the exporter's continuations",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-scheduler-role-policy",
            role=scheduler_role.name,
            policy=json.dumps(
                scheduler_invoke_policy(
                    region=args.region, account_id=args.account_id, function_name=args.function_name
                )
            ),
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.name,
            policy=pulumi.Output.all(args.kms_key_arn, scheduler_role.arn).apply(
                lambda values: json.dumps(
                    exporter_permissions(
                        account_id=args.account_id,
                        region=args.region,
                        environment=args.environment,
                        bucket_name=args.bucket_name,
                        log_group_name=log_group_name,
                        kms_key_arn=values[0],
                        state_table_name=table_name,
                        schedule_group_name=args.function_name,
                        scheduler_role_arn=values[1],
                    )
                )
            ),
            opts=child,
        )
        variables: dict[str, pulumi.Input[str]] = {
            "S3_BUCKET_DEST": args.bucket_name,
            "S3_BUCKET_OWNER": args.bucket_owner_account_id,
            "ENV": args.environment,
            "EXPORT_FORMAT": args.export_format,
            "EXPORT_TYPE": args.export_type,
            "MAX_CONCURRENT_EXPORTS": str(args.max_concurrent_exports),
            "FULL_EXPORT_INTERVAL_DAYS": str(args.full_export_interval_days),
            "S3_SSE_ALGORITHM": "AES256" if args.kms_key_arn is None else "KMS",
            "STATE_TABLE": table_name,
            "SCHEDULE_GROUP": args.function_name,
            "SCHEDULER_ROLE_ARN": scheduler_role.arn,
        }
        if args.kms_key_arn is not None:
            variables["S3_SSE_KMS_KEY_ID"] = args.kms_key_arn
        if args.include_tables:
            variables["INCLUDE_TABLES"] = ",".join(args.include_tables)
        if args.exclude_tables:
            variables["EXCLUDE_TABLES"] = ",".join(args.exclude_tables)
        function = aws.lambda_.Function(
            f"{name}-function",
            region=args.region,
            name=args.function_name,
            runtime=RUNTIME,
            handler="handler.lambda_handler",
            code=lambda_code(),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=MEMORY_MB,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            # JSON lines: the handler's `extra=` fields become top-level keys that the
            # metric filter below reads (handler.log_event).
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=log_group.name,
                application_log_level="INFO",
                system_log_level="WARN",
            ),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(depends_on=[log_group, permissions, state_table, group]),
            ),
        )
        for index, expression in enumerate(args.schedule_expressions):
            suffix = "schedule" if index == 0 else f"catch-up-{index}"
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                region=args.region,
                name=f"{args.function_name}-{suffix}",
                description=f"Runs {args.function_name}",
                schedule_expression=expression,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{suffix}-invoke",
                region=args.region,
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                region=args.region,
                rule=rule.name,
                arn=function.arn,
                opts=child,
            )
        aws.cloudwatch.MetricAlarm(
            f"{name}-failures",
            region=args.region,
            name=f"{args.function_name}-failures",
            alarm_description="A DynamoDB export run failed for at least one table",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": args.function_name},
            statistic="Sum",
            period=3600,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            opts=child,
        )
        aws.cloudwatch.LogMetricFilter(
            f"{name}-missed-metric",
            region=args.region,
            name=f"{args.function_name}-missed-tables",
            log_group_name=log_group.name,
            pattern=MISSED_FILTER_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=MISSED_METRIC, namespace=METRIC_NAMESPACE, value=MISSED_VALUE, unit="Count"
            ),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-backlog",
            region=args.region,
            name=f"{args.function_name}-backlog",
            alarm_description=(
                "Some table stayed deferred for a whole day: its cut closed before its "
                "export could start (exports cannot keep up)"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=MISSED_METRIC,
            statistic=MISSED_ALARM.statistic,
            period=MISSED_ALARM.period,
            evaluation_periods=MISSED_ALARM.evaluation_periods,
            datapoints_to_alarm=MISSED_ALARM.datapoints_to_alarm,
            threshold=MISSED_ALARM.threshold,
            comparison_operator=MISSED_ALARM.comparison_operator,
            treat_missing_data=MISSED_ALARM.treat_missing_data,
            opts=child,
        )
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.state_table_name = state_table.name
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "role_arn": self.role_arn,
                "state_table_name": self.state_table_name,
            }
        )
