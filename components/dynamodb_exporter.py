"""The scheduled DynamoDB export Lambda in one source account and Region."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from policies.exporter import exporter_permissions
from policies.iam import service_trust_policy

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda" / "dynamodb_export"
RUNTIME = "python3.12"
# Lambda's ceiling: the handler is measured to finish 2,500 tables well inside it (bench/).
TIMEOUT_SECONDS = 900
MEMORY_MB = 512
METRIC_NAMESPACE = "AwsBackupCopy/DynamoDbExport"
DEFERRED_METRIC = "DeferredTables"


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
    """Role, log group, function, schedule(s) and an alarm on failed runs."""

    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DynamoDbExporterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:DynamoDbExporter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        log_group_name = f"/aws/lambda/{args.function_name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
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
        permissions = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.name,
            policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                lambda key_arn: json.dumps(
                    exporter_permissions(
                        account_id=args.account_id,
                        region=args.region,
                        bucket_name=args.bucket_name,
                        log_group_name=log_group_name,
                        kms_key_arn=key_arn,
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
        }
        if args.kms_key_arn is not None:
            variables["S3_SSE_KMS_KEY_ID"] = args.kms_key_arn
        if args.include_tables:
            variables["INCLUDE_TABLES"] = ",".join(args.include_tables)
        if args.exclude_tables:
            variables["EXCLUDE_TABLES"] = ",".join(args.exclude_tables)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            runtime=RUNTIME,
            handler="handler.lambda_handler",
            code=lambda_code(),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=MEMORY_MB,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[log_group, permissions])
            ),
        )
        for index, expression in enumerate(args.schedule_expressions):
            suffix = "schedule" if index == 0 else f"catch-up-{index}"
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=f"{args.function_name}-{suffix}",
                description=f"Runs {args.function_name}",
                schedule_expression=expression,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{suffix}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                rule=rule.name,
                arn=function.arn,
                opts=child,
            )
        aws.cloudwatch.MetricAlarm(
            f"{name}-failures",
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
        # Deferred tables are normal while catch-up runs drain the 300-export quota; a backlog
        # that has not drained for a whole day means some table missed that day's export.
        aws.cloudwatch.LogMetricFilter(
            f"{name}-deferred-metric",
            name=f"{args.function_name}-deferred-tables",
            log_group_name=log_group.name,
            pattern='{ $.event = "totals" }',
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=DEFERRED_METRIC, namespace=METRIC_NAMESPACE, value="$.deferred", unit="Count"
            ),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-backlog",
            name=f"{args.function_name}-backlog",
            alarm_description="Tables have stayed deferred for 24 hours: exports cannot keep up",
            namespace=METRIC_NAMESPACE,
            metric_name=DEFERRED_METRIC,
            statistic="Minimum",
            period=3600,
            evaluation_periods=24,
            datapoints_to_alarm=24,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="missing",
            opts=child,
        )
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.register_outputs({"function_arn": self.function_arn, "role_arn": self.role_arn})
