"""Alerting as plain data: which events count as failures, who may forward them, the message.

Every member account and plan Region (and the destination account's vault Regions) forward
AWS Backup failures and the exporter's alarms to one event bus in the monitoring account, where
one rule publishes a readable message to an encrypted SNS topic with email subscribers.

Event shapes (AWS Backup Developer Guide, "Monitoring AWS Backup events using Amazon
EventBridge"): `source` is `aws.backup`; backup and copy jobs report `detail.state` and
restore jobs `detail.status`, each with its own values (botocore: `BackupJobState`,
`CopyJobState`, `RestoreJobStatus`). AWS notes the difference: "Some events report status:
COMPLETED whereas other events report state: COMPLETED." Alarm state changes come from
`aws.cloudwatch` as "CloudWatch Alarm State Change" with `detail.state.value`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policies.arns import account_root, iam_role
from policies.kms import key_administration
from policies.statements import (
    OrganizationScope,
    PolicyDocument,
    aws_principals,
    document,
    merge_conditions,
    service_principal,
)

# botocore's backup model: BackupJobState, CopyJobState and RestoreJobStatus. Backup and copy
# job events report `detail.state`, restore job events `detail.status` (AWS Backup Developer
# Guide, "Monitoring AWS Backup events using Amazon EventBridge").
BACKUP_JOB_STATES = (
    "CREATED",
    "PENDING",
    "RUNNING",
    "ABORTING",
    "ABORTED",
    "COMPLETED",
    "FAILED",
    "EXPIRED",
    "PARTIAL",
)
COPY_JOB_STATES = ("CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL")
RESTORE_JOB_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "ABORTED", "FAILED")
# Every state any job type has: what `monitoring.states` may name.
JOB_STATES = tuple(dict.fromkeys((*BACKUP_JOB_STATES, *COPY_JOB_STATES, *RESTORE_JOB_STATUSES)))
# (name, detail-type, the field that holds its state, the states it has)
JOB_TYPES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("backup", "Backup Job State Change", "state", BACKUP_JOB_STATES),
    ("copy", "Copy Job State Change", "state", COPY_JOB_STATES),
    ("restore", "Restore Job State Change", "status", RESTORE_JOB_STATUSES),
)
# EventBridge: a resource policy of an event bus is at most 10,240 characters
# (EventBridge User Guide, "Amazon EventBridge quotas").
MAX_BUS_POLICY_CHARACTERS = 10_240
# The central bus receives only forwarded failures and alarms: its rule takes both sources.
FORWARDED_SOURCES = ["aws.backup", "aws.cloudwatch"]


@dataclass(frozen=True)
class FailureRule:
    """One forwarding rule: its short name and its event pattern."""

    name: str
    pattern: dict[str, Any]


def failure_rules(states: Sequence[str]) -> list[FailureRule]:
    """One rule per job type that has any of `states`, matching only those states.

    A state a type does not have (EXPIRED for a copy job) is left out of that type's pattern;
    a type none of whose states are configured gets no rule. COMPLETED never alerts.
    """
    rules = []
    for name, detail_type, field, known in JOB_TYPES:
        wanted = [state for state in known if state in states and state != "COMPLETED"]
        if wanted:
            rules.append(
                FailureRule(
                    name=f"{name}-job-failed",
                    pattern={
                        "source": ["aws.backup"],
                        "detail-type": [detail_type],
                        "detail": {field: wanted},
                    },
                )
            )
    return rules


def alarm_rule(alarm_name_prefix: str) -> FailureRule:
    """The exporter's alarms going into ALARM (CloudWatch User Guide, "Alarm events and
    EventBridge": `detail-type` "CloudWatch Alarm State Change", `detail.state.value`)."""
    return FailureRule(
        name="exporter-alarm",
        pattern={
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {
                "alarmName": [{"prefix": alarm_name_prefix}],
                "state": {"value": ["ALARM"]},
            },
        },
    )


def bus_policy(
    bus_arn: str,
    organization_id: str,
    members: OrganizationScope | None,
    account_ids: Sequence[str],
    forwarder_role_name: str,
) -> PolicyDocument:
    """Who may put events on the central bus: the forwarding role of the member accounts when
    only AWS knows them (`members`: the organization, or its OUs with `aws:PrincipalOrgPaths`),
    and of the named accounts, which must still be in the organization.

    EventBridge User Guide, "Permissions for event buses": a bus policy may admit accounts,
    or an organization with `aws:PrincipalOrgID`; "Sending and receiving events between AWS
    accounts": a rule that sends to another account's bus does so with the role its target
    names, whose ARN is `aws:PrincipalArn`. Only that role is admitted (`ArnLike` on its name
    in any account), not every principal of the accounts. Refused when over EventBridge's size
    limit.
    """
    forwarder = {"ArnLike": {"aws:PrincipalArn": iam_role("*", forwarder_role_name)}}
    statements = []
    if members is not None:
        statements.append(
            {
                "Sid": "OrganizationForwardsBackupAlerts",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": merge_conditions(members.condition(), forwarder),
            }
        )
    if account_ids:
        statements.append(
            {
                "Sid": "AccountsForwardBackupAlerts",
                "Effect": "Allow",
                "Principal": aws_principals([account_root(a) for a in account_ids]),
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": merge_conditions(
                    OrganizationScope(organization_id).condition(), forwarder
                ),
            }
        )
    policy = document(*statements)
    if len(json.dumps(policy, separators=(",", ":"))) > MAX_BUS_POLICY_CHARACTERS:
        raise ValueError(
            f"the event bus policy would exceed EventBridge's {MAX_BUS_POLICY_CHARACTERS:,} "
            "characters: target fewer OUs or accounts"
        )
    return policy


def forwarder_trust_policy() -> PolicyDocument:
    """EventBridge may assume the forwarding role (the role a cross-account bus target needs)."""
    return document(
        {
            "Sid": "TrustEventBridge",
            "Effect": "Allow",
            "Principal": service_principal("events"),
            "Action": "sts:AssumeRole",
        }
    )


def forwarder_permissions(bus_arn: str) -> PolicyDocument:
    """Put events on the central bus, and nowhere else.

    EventBridge User Guide, "Sending and receiving events between AWS accounts": a rule that
    sends to another account's bus "must specify an IAM role" when the receiving bus admits
    an organization rather than the sending account.
    """
    return document(
        {
            "Sid": "ForwardToCentralBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
        }
    )


def topic_key_policy(account_id: str) -> PolicyDocument:
    """Administration at home; EventBridge may encrypt messages for the topic.

    Amazon SNS Developer Guide, "Key management" → "Enable compatibility between event
    sources from AWS services and encrypted topics": the key policy must let
    `events.amazonaws.com` use `kms:GenerateDataKey*` and `kms:Decrypt`, and "Adding the
    `aws:SourceAccount`, `aws:SourceArn`, and `aws:SourceOrgID` to a AWS KMS policy is not
    supported for EventBridge-to-encrypted topics" (how such a condition behaves is not
    documented). The statement therefore has no condition, like the topic policy's
    (`topic_policy`).
    """
    return document(
        key_administration(account_id),
        {
            "Sid": "EventBridgePublishesToEncryptedTopic",
            "Effect": "Allow",
            "Principal": service_principal("events"),
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    )


def topic_policy(topic_arn: str, account_id: str) -> PolicyDocument:
    """EventBridge may publish to this topic, and the account manages it.

    EventBridge User Guide, "Using resource-based policies for Amazon EventBridge" → "Amazon SNS
    permissions": "You can't use Condition blocks in Amazon SNS topic policies for
    EventBridge". A condition such as `aws:SourceArn` is therefore not supported (EventBridge
    User Guide); how such a statement behaves is not documented. So the EventBridge statement
    names this topic and nothing else, with no condition. The documented residual: the policy
    cannot tell which rule publishes, so any rule of this account (on any bus) that targets the
    topic can publish to it, not only the central rules the stack creates (a flow test shows
    it). Delivery is proven once by the acceptance runbook (step 8, the rules'
    FailedInvocations); this policy does not watch it.
    """
    return document(
        {
            "Sid": "EventBridgePublishes",
            "Effect": "Allow",
            "Principal": service_principal("events"),
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
        {
            "Sid": "AccountManagesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": [
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
            ],
            "Resource": topic_arn,
        },
    )


@dataclass(frozen=True)
class Route:
    """A rule on the central bus: what it takes, and the message it makes of each event."""

    name: str
    pattern: dict[str, Any]
    # EventBridge input transformer: `<name>` in the template is the value at `paths[name]`.
    paths: dict[str, str]
    template: str


CONSOLE = "https://<region>.console.aws.amazon.com"
# AWS documents no console address of one job, so the link opens the Region's Jobs page and the
# message names the job id and the CLI call that describes it.
JOBS_PAGE = f"{CONSOLE}/backup/home?region=<region>#/jobs"
# What every job message carries: where and when (EventBridge's envelope).
ENVELOPE = {"account": "$.account", "region": "$.region", "time": "$.time"}


def _job_route(
    name: str, detail_type: str, job: str, what: str, describe: str, *, restore_test: bool | None
) -> Route:
    """One central route for one AWS Backup detail-type (restores split by whether a restore
    testing plan started them).

    Fields per detail-type, after AWS's sample events (AWS Backup Developer Guide, "Monitoring
    AWS Backup events using Amazon EventBridge"): backup and copy jobs carry their job id
    (`backupJobId`, `copyJobId`), `resourceArn`, `resourceType`, `state` and `statusMessage`;
    restore jobs carry `restoreJobId`, `resourceType`, `status` and `statusMessage`, no
    `resourceArn`: the recovery point restored is the event's `resources[0]`, and a restore
    test's job names its plan in `restoreTestingPlanArn`.
    """
    pattern: dict[str, Any] = {"source": ["aws.backup"], "detail-type": [detail_type]}
    paths = {**ENVELOPE, "job": f"$.detail.{job}", "type": "$.detail.resourceType"}
    paths["message"] = "$.detail.statusMessage"
    if restore_test is None:
        paths |= {"state": "$.detail.state", "resource": "$.detail.resourceArn"}
        subject = "Resource"
    else:
        # Array indices are input path syntax EventBridge supports (EventBridge User Guide,
        # "Amazon EventBridge input transformation": "dot notation ... array indices").
        paths |= {"state": "$.detail.status", "resource": "$.resources[0]"}
        subject = "Recovery point"
        # Restore tests apart from other restores: EventBridge's `exists` filter matches on
        # whether the field is present (EventBridge User Guide, "Content filtering in Amazon
        # EventBridge event patterns", exists matching).
        pattern["detail"] = {"restoreTestingPlanArn": [{"exists": restore_test}]}
    plan = ""
    if restore_test:
        paths["plan"] = "$.detail.restoreTestingPlanArn"
        plan = " of restore testing plan <plan>"
    return Route(
        name=name,
        pattern=pattern,
        paths=paths,
        template=(
            f"AWS Backup: {what} <job>{plan} in account <account>, <region>, at <time>: "
            f"<state>. {subject}: <resource> (<type>). Reason: <message> Details: aws backup "
            f"{describe} <job> --region <region> (as account <account>). Jobs: {JOBS_PAGE}"
        ),
    )


ROUTES = (
    _job_route(
        "backup-jobs",
        "Backup Job State Change",
        "backupJobId",
        "backup job",
        "describe-backup-job --backup-job-id",
        restore_test=None,
    ),
    _job_route(
        "copy-jobs",
        "Copy Job State Change",
        "copyJobId",
        "copy job",
        "describe-copy-job --copy-job-id",
        restore_test=None,
    ),
    _job_route(
        "restore-jobs",
        "Restore Job State Change",
        "restoreJobId",
        "restore job",
        "describe-restore-job --restore-job-id",
        restore_test=False,
    ),
    _job_route(
        "restore-tests",
        "Restore Job State Change",
        "restoreJobId",
        "restore test job",
        "describe-restore-job --restore-job-id",
        restore_test=True,
    ),
    Route(
        name="exporter-alarms",
        pattern={"source": ["aws.cloudwatch"]},
        paths={
            "account": "$.account",
            "region": "$.region",
            "alarm": "$.detail.alarmName",
            "state": "$.detail.state.value",
            "reason": "$.detail.state.reason",
            "time": "$.time",
        },
        template=(
            "DynamoDB exporter: alarm <alarm> is <state> in account <account>, <region>, at "
            "<time>. <reason> Alarm: "
            f"{CONSOLE}/cloudwatch/home?region=<region>#alarmsV2:alarm/<alarm>"
        ),
    ),
)


def input_template(route: Route) -> str:
    """The template as EventBridge takes it for a text message: a JSON string."""
    return json.dumps(route.template)


def render_message(route: Route, event: dict[str, Any]) -> str:
    """What a subscriber reads for `event` (the input transformer applied; docs and tests).

    EventBridge User Guide, "Amazon EventBridge input transformation": each `<name>` is
    replaced by the value at its path; a path the event lacks gives an empty string.
    """

    text = route.template
    for name, path in route.paths.items():
        text = text.replace(f"<{name}>", path_value(event, path))
    return text


def empty_fields(route: Route, event: dict[str, Any]) -> list[str]:
    """The route's fields that `event` leaves empty (a message a person cannot act on)."""
    return [name for name, path in route.paths.items() if not path_value(event, path)]


def path_value(event: dict[str, Any], path: str) -> str:
    """The value at an input path (`$.a.b`, `$.a[0]`) as the transformer renders it."""
    node: Any = event
    for part in path.removeprefix("$.").split("."):
        key, _, index = part.partition("[")
        if not isinstance(node, dict) or key not in node:
            return ""
        node = node[key]
        if index:
            position = int(index.rstrip("]"))
            if not isinstance(node, list) or position >= len(node):
                return ""
            node = node[position]
    return node if isinstance(node, str) else json.dumps(node)
