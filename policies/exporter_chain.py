"""What the exporter's continuations need: its state table, its schedule group, the scheduler.

Pure functions returning plain data. The exporter's own role gets `state_statements` and
`continuation_statements`; the scheduler's execution role gets `scheduler_trust_policy`
and `scheduler_invoke_policy`.
"""

from __future__ import annotations

from policies.arns import PARTITION
from policies.statements import PolicyDocument, Statement, document, service_principal

# GetItem (ConsistentRead), PutItem (conditional), UpdateItem (lease): nothing else.
STATE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def state_table_arn(region: str, account_id: str, table_name: str) -> str:
    """The exporter's state table."""
    return f"arn:{PARTITION}:dynamodb:{region}:{account_id}:table/{table_name}"


def schedule_group_arn(region: str, account_id: str, group_name: str) -> str:
    """An EventBridge Scheduler schedule group."""
    return f"arn:{PARTITION}:scheduler:{region}:{account_id}:schedule-group/{group_name}"


def schedules_arn(region: str, account_id: str, group_name: str) -> str:
    """Every schedule in one group (Service Authorization Reference, EventBridge
    Scheduler: schedule resources are `schedule/<group>/<name>`)."""
    return f"arn:{PARTITION}:scheduler:{region}:{account_id}:schedule/{group_name}/*"


def function_arn(region: str, account_id: str, function_name: str) -> str:
    """A Lambda function, unqualified (what the schedules invoke)."""
    return f"arn:{PARTITION}:lambda:{region}:{account_id}:function:{function_name}"


def state_statements(*, region: str, account_id: str, table_name: str) -> list[Statement]:
    """Read and write the state table, and never export it (exports are allowed on table/*)."""
    table = state_table_arn(region, account_id, table_name)
    return [
        {
            "Sid": "ReadWriteOwnState",
            "Effect": "Allow",
            "Action": sorted(STATE_ACTIONS),
            "Resource": table,
        },
        {
            # The function leaves its state table out of every run; this makes it a rule.
            "Sid": "NeverExportOwnState",
            "Effect": "Deny",
            "Action": "dynamodb:ExportTableToPointInTime",
            "Resource": table,
        },
    ]


def continuation_statements(
    *, region: str, account_id: str, group_name: str, scheduler_role_arn: str
) -> list[Statement]:
    """Create one-time schedules in its own group, passing the scheduler's role only."""
    return [
        {
            "Sid": "CreateOwnContinuations",
            "Effect": "Allow",
            "Action": "scheduler:CreateSchedule",
            "Resource": schedules_arn(region, account_id, group_name),
        },
        {
            # A schedule's target role is passed at CreateSchedule (EventBridge Scheduler
            # User Guide, "Setting up the execution role"); only to the scheduler.
            "Sid": "PassSchedulerRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": scheduler_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        },
    ]


def scheduler_trust_policy(*, region: str, account_id: str, group_name: str) -> PolicyDocument:
    """EventBridge Scheduler may assume the role, for schedules of this group only.

    Confused-deputy guard: the service sets aws:SourceAccount and, since the 2023
    change the Scheduler User Guide's history describes, aws:SourceArn to the
    schedule group's ARN ("Setting up the execution role").
    """
    return document(
        {
            "Sid": "TrustSchedulerForOwnGroup",
            "Effect": "Allow",
            "Principal": service_principal("scheduler"),
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnEquals": {"aws:SourceArn": schedule_group_arn(region, account_id, group_name)},
            },
        }
    )


def scheduler_invoke_policy(*, region: str, account_id: str, function_name: str) -> PolicyDocument:
    """The scheduler's role may invoke the exporter function, and nothing else."""
    return document(
        {
            "Sid": "InvokeExporter",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function_arn(region, account_id, function_name),
        }
    )
