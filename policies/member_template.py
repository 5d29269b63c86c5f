"""The CloudFormation template a service-managed StackSet deploys to every member account.

stackSets mode (`organization.memberDeployment: stackSets`) prepares each account under the
targeted roots and OUs, including accounts that join later, with what providers mode creates
through Pulumi in each listed source account: the source vault's customer managed key (with
rotation and the same key policy), its alias, the source vault, the backup service role, and
with `dynamodbExport` the exporter. Every policy document comes from the same builders in
`policies/`, given `${AWS::AccountId}` and `${AWS::Region}` instead of an account and Region.

Two rules of StackSets shape it (AWS Organizations User Guide, "Backup policy syntax": vaults
must exist in each Region of each account that receives the policy, and AWS recommends
StackSets to create them):

- IAM is global: the backup service role, whose name the policy's `iam_role_arn` gives without
  a Region, is created only in the primary plan Region (`IsPrimaryRegion`). The exporter's
  roles carry their Region in their names, so each Region creates its own.
- Nothing stateful is deleted with a stack: the key, alias, vault, role, log group and state
  table keep `DeletionPolicy` and `UpdateReplacePolicy` Retain. A deleted stack would
  otherwise schedule the key that encrypts that account's recovery points for deletion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies import arns
from policies.alerts import FailureRule, forwarder_permissions, forwarder_trust_policy
from policies.audit import FRAMEWORK_DESCRIPTION, Control, framework_controls_template
from policies.backup import copy_back_vault_policy
from policies.cloudformation import find_in_map, get_att, ref, resource, sub
from policies.doctor import doctor_permissions, doctor_trust_policy
from policies.exporter import exporter_permissions
from policies.exporter_chain import scheduler_invoke_policy, scheduler_trust_policy
from policies.exporter_deployment import (
    HANDLER,
    MEMORY_MB,
    METRIC_NAMESPACE,
    MISSED_FILTER_PATTERN,
    MISSED_METRIC,
    MISSED_VALUE,
    RUNTIME,
    TIMEOUT_SECONDS,
    ExporterSettings,
    alarms,
    environment_variables,
    schedule_rules,
    scheduler_role_name,
)
from policies.iam import service_trust_policy
from policies.kms import source_key_policy

ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
PRIMARY = "IsPrimaryRegion"
NAMES = "RegionNames"
# CloudFormation quota: a template body passed inline is at most 51,200 bytes
# (CloudFormation User Guide, "CloudFormation quotas": "Template body size in a request").
MAX_TEMPLATE_BODY_BYTES = 51_200


class TemplateTooLargeError(ValueError):
    """The rendered template exceeds what CloudFormation accepts inline."""


@dataclass(frozen=True)
class ServiceRoleSpec:
    """The backup service role the policy names in every member account."""

    name: str
    path: str
    managed_policies: Sequence[str]


@dataclass(frozen=True)
class ExporterSpec:
    """The exporter in each member account and Region."""

    settings: ExporterSettings
    # Per plan Region: the exporter's role name, and the bucket its code is read from.
    role_names: Mapping[str, str]
    code_buckets: Mapping[str, str]
    code_key: str
    kms_key_arn: str | None


@dataclass(frozen=True)
class AlertsSpec:
    """Forwarding the account's failures (and exporter alarms) to the central bus."""

    bus_arn: str
    name_prefix: str
    role_name: str
    rules: Sequence[FailureRule]
    alarm_rule: FailureRule | None


@dataclass(frozen=True)
class AuditSpec:
    """The Backup Audit Manager framework every member account gets in each plan Region."""

    framework_name: str
    controls: Sequence[Control]


@dataclass(frozen=True)
class DoctorRoleSpec:
    """The read-only role `make doctor` assumes in every member account (policies/doctor.py)."""

    name: str
    path: str
    # The account the doctor runs from, and its roles the trust is narrowed to.
    runner_account_id: str
    runner_role_arns: Sequence[str]


@dataclass(frozen=True)
class MemberTemplateArgs:
    """What every member account gets, in every plan Region."""

    description: str
    regions: Sequence[str]
    primary_region: str
    destination_account_id: str
    source_vault_name: str
    source_key_alias: str
    service_role: ServiceRoleSpec | None
    exporter: ExporterSpec | None
    alerts: AlertsSpec | None = None
    # The source vault admits copies back from this role of the destination account.
    copy_back_role_arn: str | None = None
    audit: AuditSpec | None = None
    doctor: DoctorRoleSpec | None = None


def _source_vault(args: MemberTemplateArgs) -> dict[str, Any]:
    vault: dict[str, Any] = {
        "BackupVaultName": args.source_vault_name,
        "EncryptionKeyArn": get_att("SourceVaultKey", "Arn"),
    }
    if args.copy_back_role_arn is not None:
        vault["AccessPolicy"] = sub(
            copy_back_vault_policy(
                arns.backup_vault(REGION, ACCOUNT, args.source_vault_name),
                args.destination_account_id,
                args.copy_back_role_arn,
            )
        )
    return {
        "SourceVaultKey": resource(
            "AWS::KMS::Key",
            {
                "Description": f"Encrypts backups in vault {args.source_vault_name}",
                "EnableKeyRotation": True,
                "PendingWindowInDays": 30,
                "KeyPolicy": sub(source_key_policy(ACCOUNT, args.destination_account_id)),
            },
            retain=True,
        ),
        "SourceVaultKeyAlias": resource(
            "AWS::KMS::Alias",
            {"AliasName": args.source_key_alias, "TargetKeyId": ref("SourceVaultKey")},
            retain=True,
        ),
        "SourceVault": resource("AWS::Backup::BackupVault", vault, retain=True),
    }


def _service_role(role: ServiceRoleSpec) -> dict[str, Any]:
    return {
        "BackupServiceRole": resource(
            "AWS::IAM::Role",
            {
                "RoleName": role.name,
                "Path": role.path,
                "Description": "Used by AWS Backup plans deployed by the organization backup policy",
                "AssumeRolePolicyDocument": service_trust_policy("backup"),
                "ManagedPolicyArns": [arns.aws_managed_policy(p) for p in role.managed_policies],
            },
            condition=PRIMARY,
            retain=True,
        )
    }


def _doctor_role(spec: DoctorRoleSpec) -> dict[str, Any]:
    # IAM is global: one role per account, with the primary Region's instance, like the
    # backup service role. Stateless, so nothing to retain.
    return {
        "DoctorRole": resource(
            "AWS::IAM::Role",
            {
                "RoleName": spec.name,
                "Path": spec.path,
                "Description": "Read-only: what make doctor checks in this account",
                "AssumeRolePolicyDocument": doctor_trust_policy(
                    spec.runner_account_id, spec.runner_role_arns
                ),
                "Policies": [{"PolicyName": "doctor-read", "PolicyDocument": doctor_permissions()}],
            },
            condition=PRIMARY,
        )
    }


def _exporter(spec: ExporterSpec) -> dict[str, Any]:
    settings = spec.settings
    function = settings.function_name
    # The log group and the state table are retained with a deleted stack instance, and nothing
    # outside the instance names them: CloudFormation generates their names, so an account
    # that leaves a targeted OU and comes back gets a new instance that does not collide with
    # what its old one left behind (only the vault, its alias and the backup service role keep
    # names: the backup policy and the operators use them). Inside the template they are
    # referred to by `Ref`, which gives a log group's or table's name.
    logs = "${ExporterLogGroup}"
    table = "${ExporterStateTable}"
    permissions = exporter_permissions(
        account_id=ACCOUNT,
        region=REGION,
        environment=settings.environment,
        bucket_name=settings.bucket_name,
        log_group_name=logs,
        kms_key_arn=spec.kms_key_arn,
        state_table_name=table,
        schedule_group_name=function,
        scheduler_role_arn="${ExporterSchedulerRole.Arn}",
    )
    variables: dict[str, Any] = environment_variables(
        settings,
        kms_key_arn=spec.kms_key_arn,
        scheduler_role_arn=get_att("ExporterSchedulerRole", "Arn"),
    )
    variables["STATE_TABLE"] = ref("ExporterStateTable")
    resources: dict[str, Any] = {
        "ExporterLogGroup": resource(
            "AWS::Logs::LogGroup",
            {"RetentionInDays": settings.log_retention_days},
            retain=True,
        ),
        "ExporterStateTable": resource(
            "AWS::DynamoDB::Table",
            {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                # Run state is worth a week at most (state_store.STATE_TTL sets expiresAt).
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            },
            retain=True,
        ),
        "ExporterScheduleGroup": resource("AWS::Scheduler::ScheduleGroup", {"Name": function}),
        "ExporterSchedulerRole": resource(
            "AWS::IAM::Role",
            {
                "RoleName": find_in_map(NAMES, ref("AWS::Region"), "SchedulerRole"),
                "Description": "Lets EventBridge Scheduler start the exporter's continuations",
                "AssumeRolePolicyDocument": sub(
                    scheduler_trust_policy(region=REGION, account_id=ACCOUNT, group_name=function)
                ),
                "Policies": [
                    {
                        "PolicyName": "invoke-exporter",
                        "PolicyDocument": sub(
                            scheduler_invoke_policy(
                                region=REGION, account_id=ACCOUNT, function_name=function
                            )
                        ),
                    }
                ],
            },
        ),
        "ExporterRole": resource(
            "AWS::IAM::Role",
            {
                "RoleName": find_in_map(NAMES, ref("AWS::Region"), "ExporterRole"),
                "Description": "Exports this account's DynamoDB tables to the export bucket",
                "AssumeRolePolicyDocument": service_trust_policy("lambda"),
                "Policies": [{"PolicyName": "export", "PolicyDocument": sub(permissions)}],
            },
        ),
        "ExporterFunction": resource(
            "AWS::Lambda::Function",
            {
                "FunctionName": function,
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "Role": get_att("ExporterRole", "Arn"),
                "Timeout": TIMEOUT_SECONDS,
                "MemorySize": MEMORY_MB,
                "Code": {
                    "S3Bucket": find_in_map(NAMES, ref("AWS::Region"), "CodeBucket"),
                    "S3Key": spec.code_key,
                },
                "Environment": {"Variables": variables},
                # JSON lines: the handler's `extra=` fields become top-level keys that the
                # metric filter reads (handler.log_event).
                "LoggingConfig": {
                    "LogFormat": "JSON",
                    "LogGroup": ref("ExporterLogGroup"),
                    "ApplicationLogLevel": "INFO",
                    "SystemLogLevel": "WARN",
                },
            },
            # The log group and the state table are referenced (LoggingConfig, STATE_TABLE), so
            # already waited for.
            depends_on=["ExporterScheduleGroup"],
        ),
        "ExporterMissedTables": resource(
            "AWS::Logs::MetricFilter",
            {
                "FilterName": f"{function}-missed-tables",
                "LogGroupName": ref("ExporterLogGroup"),
                "FilterPattern": MISSED_FILTER_PATTERN,
                "MetricTransformations": [
                    {
                        "MetricName": MISSED_METRIC,
                        "MetricNamespace": METRIC_NAMESPACE,
                        "MetricValue": MISSED_VALUE,
                        "Unit": "Count",
                    }
                ],
            },
        ),
    }
    for index, (rule_name, expression) in enumerate(
        schedule_rules(function, settings.schedule_expressions)
    ):
        rule_id = f"ExporterSchedule{index}"
        resources[rule_id] = resource(
            "AWS::Events::Rule",
            {
                "Name": rule_name,
                "Description": f"Runs {function}",
                "ScheduleExpression": expression,
                "State": "ENABLED",
                "Targets": [{"Id": "exporter", "Arn": get_att("ExporterFunction", "Arn")}],
            },
        )
        resources[f"{rule_id}Invoke"] = resource(
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("ExporterFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att(rule_id, "Arn"),
            },
        )
    for alarm in alarms(function):
        properties: dict[str, Any] = {
            "AlarmName": f"{function}-{alarm.suffix}",
            "AlarmDescription": alarm.description,
            "Namespace": alarm.namespace,
            "MetricName": alarm.metric_name,
            "Statistic": alarm.rule.statistic,
            "Period": alarm.rule.period,
            "EvaluationPeriods": alarm.rule.evaluation_periods,
            "DatapointsToAlarm": alarm.rule.datapoints_to_alarm,
            "Threshold": alarm.rule.threshold,
            "ComparisonOperator": alarm.rule.comparison_operator,
            "TreatMissingData": alarm.rule.treat_missing_data,
        }
        if alarm.dimensions:
            properties["Dimensions"] = [
                {"Name": name, "Value": value} for name, value in alarm.dimensions.items()
            ]
        resources[f"Exporter{alarm.suffix.title()}Alarm"] = resource(
            "AWS::CloudWatch::Alarm", properties
        )
    return resources


def _alerts(spec: AlertsSpec, with_exporter: bool) -> dict[str, Any]:
    role_arn = sub(f"arn:aws:iam::{ACCOUNT}:role/{spec.role_name}")
    resources: dict[str, Any] = {
        # IAM is global: the role comes with the primary Region's instance; rules in other
        # Regions name it by ARN (EventBridge checks the role when it delivers, not before).
        "AlertForwarderRole": resource(
            "AWS::IAM::Role",
            {
                "RoleName": spec.role_name,
                "Description": "Lets EventBridge forward AWS Backup failures to the central bus",
                "AssumeRolePolicyDocument": forwarder_trust_policy(),
                "Policies": [
                    {"PolicyName": "forward", "PolicyDocument": forwarder_permissions(spec.bus_arn)}
                ],
            },
            condition=PRIMARY,
        )
    }
    rules = list(spec.rules)
    if with_exporter and spec.alarm_rule is not None:
        rules.append(spec.alarm_rule)
    for index, rule in enumerate(rules):
        resources[f"AlertRule{index}"] = resource(
            "AWS::Events::Rule",
            {
                "Name": f"{spec.name_prefix}-{rule.name}",
                "Description": "Forwards to the central backup alerts bus",
                "EventPattern": rule.pattern,
                "State": "ENABLED",
                "Targets": [{"Id": "central-bus", "Arn": spec.bus_arn, "RoleArn": role_arn}],
            },
        )
    return resources


def region_names(spec: ExporterSpec, regions: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per Region, the names a Region-free template cannot compute (bounded, hashed)."""
    function = spec.settings.function_name
    return {
        region: {
            "ExporterRole": spec.role_names[region],
            "SchedulerRole": scheduler_role_name(function, region),
            "CodeBucket": spec.code_buckets[region],
        }
        for region in regions
    }


def member_template(args: MemberTemplateArgs) -> dict[str, Any]:
    """The whole template, as plain data."""
    resources = _source_vault(args)
    if args.service_role is not None:
        resources.update(_service_role(args.service_role))
    if args.doctor is not None:
        resources.update(_doctor_role(args.doctor))
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": args.description,
        "Conditions": {PRIMARY: {"Fn::Equals": [ref("AWS::Region"), args.primary_region]}},
    }
    if args.exporter is not None:
        template["Mappings"] = {NAMES: region_names(args.exporter, args.regions)}
        resources.update(_exporter(args.exporter))
    if args.alerts is not None:
        resources.update(_alerts(args.alerts, with_exporter=args.exporter is not None))
    if args.audit is not None:
        resources["AuditFramework"] = resource(
            "AWS::Backup::Framework",
            {
                "FrameworkName": args.audit.framework_name,
                "FrameworkDescription": FRAMEWORK_DESCRIPTION,
                "FrameworkControls": framework_controls_template(args.audit.controls),
            },
        )
    template["Resources"] = resources
    return template


def render_member_template(template: Mapping[str, Any]) -> str:
    """Compact JSON of the template, refused when over CloudFormation's inline limit."""
    rendered = json.dumps(template, separators=(",", ":"), sort_keys=True)
    size = len(rendered.encode())
    if size > MAX_TEMPLATE_BODY_BYTES:
        raise TemplateTooLargeError(
            f"the member template is {size:,} bytes; CloudFormation accepts at most "
            f"{MAX_TEMPLATE_BODY_BYTES:,} inline"
        )
    return rendered
