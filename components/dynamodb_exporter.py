"""The scheduled DynamoDB export Lambda in one source account and Region."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies.exporter import exporter_permissions
from policies.exporter_chain import scheduler_invoke_policy, scheduler_trust_policy
from policies.exporter_deployment import (
    HANDLER,
    MEMORY_MB,
    METRIC_NAMESPACE,
    MISSED_ALARM,
    MISSED_FILTER_PATTERN,
    MISSED_METRIC,
    MISSED_VALUE,
    RUNTIME,
    TIMEOUT_SECONDS,
    AlarmRule,
    ExporterSettings,
    alarms,
    environment_variables,
    lambda_sources,
    log_group_name,
    schedule_rules,
    scheduler_role_name,
    state_table_name,
)
from policies.iam import service_trust_policy

__all__ = [
    "MISSED_ALARM",
    "MISSED_FILTER_PATTERN",
    "MISSED_METRIC",
    "MISSED_VALUE",
    "AlarmRule",
    "DynamoDbExporter",
    "DynamoDbExporterArgs",
    "lambda_code",
]


def lambda_code() -> pulumi.AssetArchive:
    """The function's modules only: no `__pycache__` or test leftovers change its hash."""
    return pulumi.AssetArchive(
        {path.name: pulumi.FileAsset(str(path)) for path in lambda_sources()}
    )


@dataclass(frozen=True)
class DynamoDbExporterArgs:
    """Where the function runs, where it writes, and how it is scheduled."""

    account_id: str
    region: str
    role_name: str
    settings: ExporterSettings
    kms_key_arn: pulumi.Input[str] | None
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
        settings = args.settings
        function_name = settings.function_name
        logs_name = log_group_name(function_name)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            region=args.region,
            name=logs_name,
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            assume_role_policy=json.dumps(service_trust_policy("lambda")),
            description="Exports this account's DynamoDB tables to the export bucket",
            opts=child,
        )
        table_name = state_table_name(function_name)
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
            f"{name}-continuations", region=args.region, name=function_name, opts=child
        )
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            name=scheduler_role_name(function_name, args.region),
            assume_role_policy=json.dumps(
                scheduler_trust_policy(
                    region=args.region, account_id=args.account_id, group_name=function_name
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
                    region=args.region, account_id=args.account_id, function_name=function_name
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
                        environment=settings.environment,
                        bucket_name=settings.bucket_name,
                        log_group_name=logs_name,
                        kms_key_arn=values[0],
                        state_table_name=table_name,
                        schedule_group_name=function_name,
                        scheduler_role_arn=values[1],
                    )
                )
            ),
            opts=child,
        )
        scheduler_role_arn: pulumi.Input[str] = scheduler_role.arn
        variables = environment_variables(
            settings, kms_key_arn=args.kms_key_arn, scheduler_role_arn=scheduler_role_arn
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            region=args.region,
            name=function_name,
            runtime=RUNTIME,
            handler=HANDLER,
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
        for rule_name, expression in schedule_rules(function_name, settings.schedule_expressions):
            suffix = rule_name.removeprefix(f"{function_name}-")
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                region=args.region,
                name=rule_name,
                description=f"Runs {function_name}",
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
        aws.cloudwatch.LogMetricFilter(
            f"{name}-missed-metric",
            region=args.region,
            name=f"{function_name}-missed-tables",
            log_group_name=log_group.name,
            pattern=MISSED_FILTER_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=MISSED_METRIC, namespace=METRIC_NAMESPACE, value=MISSED_VALUE, unit="Count"
            ),
            opts=child,
        )
        for alarm in alarms(function_name):
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.suffix}",
                region=args.region,
                name=f"{function_name}-{alarm.suffix}",
                alarm_description=alarm.description,
                namespace=alarm.namespace,
                metric_name=alarm.metric_name,
                dimensions=dict(alarm.dimensions) if alarm.dimensions is not None else None,
                statistic=alarm.rule.statistic,
                period=alarm.rule.period,
                evaluation_periods=alarm.rule.evaluation_periods,
                datapoints_to_alarm=alarm.rule.datapoints_to_alarm,
                threshold=alarm.rule.threshold,
                comparison_operator=alarm.rule.comparison_operator,
                treat_missing_data=alarm.rule.treat_missing_data,
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
