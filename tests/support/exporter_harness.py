"""The DynamoDB exporter's test harness: accounts, tables, invocations and the chain.

Tables live in moto's default account 123456789012; the destination bucket belongs
to 333333333333 (created with assume_role credentials, which moto maps to that
account). The exporter's state table lives with the tables. The fixtures that install
bench/export_emulator.py over moto (`clock`, `exports`, `chain`) are in
tests/lambda/conftest.py; these helpers are what the tests call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
from moto.scheduler.models import scheduler_backends

from bench.export_emulator import Clock, Firing, complete, scheduled

REGION = "eu-west-1"
SOURCE_ACCOUNT = "123456789012"
BACKUP_ACCOUNT = "333333333333"
BUCKET = "ddb-backup-dest"
STATE_TABLE = "ddb-export-state"
DAY = datetime(2025, 3, 10, tzinfo=UTC)
# An hour after the cut: point-in-time recovery has long caught up with it.
EVENT = {"source": "aws.events", "time": "2025-03-10T01:05:00Z"}
CONTEXT = SimpleNamespace(
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:ddb-export",
    function_name="ddb-export",
)
# Where this account's and Region's exports of the cut land.
ROOT = f"prod/{SOURCE_ACCOUNT}/{REGION}"
# The deployment's schedule group and scheduler role (continuations on).
GROUP = "ddb-export"
SCHEDULER_ROLE = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/ddb-export-scheduler-{REGION}"


def backup_account_client(service: str) -> Any:
    """A client of the bucket owner's account."""
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{BACKUP_ACCOUNT}:role/backup-admin", RoleSessionName="tests"
    )["Credentials"]
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def create_backup_bucket() -> None:
    """The destination bucket, in the backup account."""
    backup_account_client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def ddb() -> Any:
    """A DynamoDB client of the source account."""
    return boto3.client("dynamodb", region_name=REGION)


def create_state_table() -> None:
    """The exporter's state table, as the deployment creates it (components/dynamodb_exporter.py)."""
    ddb().create_table(
        TableName=STATE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def forget_state() -> None:
    """Lose every run state (a recreated state table): the next run is a first run."""
    client = ddb()
    for item in client.scan(TableName=STATE_TABLE)["Items"]:
        client.delete_item(TableName=STATE_TABLE, Key={"pk": item["pk"]})


def make_tables(names: list[str], *, pitr: bool = True) -> None:
    """Tables of the source account with one item each, PITR on unless `pitr` is False."""
    client = ddb()
    for name in names:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName=name, Item={"pk": {"S": f"{name}-item"}})
        if pitr:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )


def table_arn(name: str) -> str:
    """ARN of a source table."""
    return f"arn:aws:dynamodb:{REGION}:{SOURCE_ACCOUNT}:table/{name}"


def names_of(entries: list[dict[str, str]]) -> list[str]:
    """The sorted table names of a summary list."""
    return sorted(entry["table"] for entry in entries)


def after(*, days: int) -> datetime:
    """An hour and five minutes past the cut of DAY + days: PITR has caught up."""
    return DAY + timedelta(days=days, hours=1, minutes=5)


def invoke(event: Any = None, context: Any = CONTEXT) -> dict[str, Any]:
    """One invocation of the handler, from a cold start."""
    import handler

    # Lambda parses the environment once per cold start; the tests change it per
    # test, so every invocation here starts cold.
    handler.cold_start()
    result: dict[str, Any] = handler.lambda_handler(EVENT if event is None else event, context)
    return result


def schedules() -> list[Firing]:
    """The continuations waiting in the deployment's group, earliest first (none without it)."""
    groups = scheduler_backends[SOURCE_ACCOUNT][REGION].schedule_groups
    return scheduled(SOURCE_ACCOUNT, REGION, GROUP) if GROUP in groups else []


def fire(clock: Clock) -> dict[str, Any]:
    """Move to the chain's next schedule and run it, as EventBridge Scheduler would."""
    [firing] = schedules()
    clock.now = max(clock.now, firing.at)
    complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
    return invoke(firing.event)


def run_day(clock: Clock, days: int) -> dict[str, Any]:
    """The scheduled first run of DAY + days, then its chain to the end; the first run's summary."""
    clock.now = after(days=days)
    first = invoke({"time": clock.now.isoformat()})
    while schedules():
        fire(clock)
    return first
