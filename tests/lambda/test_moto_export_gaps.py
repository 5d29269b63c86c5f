"""What moto 5.2.5 does not do for DynamoDB exports, which bench/export_emulator.py does on purpose.

Each test asserts moto's gap and fails once moto closes it, so the emulator's rule can be
dropped (or checked against moto's) rather than kept out of habit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"
BUCKET = "moto-gap-bucket"
CUT = datetime(2025, 3, 10, tzinfo=UTC)


@pytest.fixture
def table(aws_env: None) -> Iterator[tuple[Any, str]]:
    """A table with PITR on and a bucket, in moto without the emulator."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_continuous_backups(
            TableName="t", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield client, client.describe_table(TableName="t")["Table"]["TableArn"]


def _export(client: Any, arn: str, token: str) -> dict[str, Any]:
    description: dict[str, Any] = client.export_table_to_point_in_time(
        TableArn=arn, S3Bucket=BUCKET, S3Prefix="p", ClientToken=token, ExportTime=CUT
    )["ExportDescription"]
    return description


def test_moto_ignores_client_token(table: tuple[Any, str]) -> None:
    # AWS: the same token with the same parameters within 8 hours is the same export.
    client, arn = table

    first, second = _export(client, arn, "token"), _export(client, arn, "token")

    assert first["ExportArn"] != second["ExportArn"]


def test_moto_neither_keeps_export_time_nor_holds_exports_in_progress(
    table: tuple[Any, str],
) -> None:
    # AWS: DescribeExport reports the ExportTime asked for, and an export runs for minutes.
    client, arn = table

    started = _export(client, arn, "token")
    # moto runs the export in a thread of its own that ends at once: wait for it.
    deadline = time.monotonic() + 5
    while True:
        described = client.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]
        if described["ExportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert "ExportTime" not in described
    assert described["ExportStatus"] == "COMPLETED"


def test_moto_lists_exports_only_with_a_table_arn(table: tuple[Any, str]) -> None:
    # AWS: TableArn is optional; without it ListExports lists the account's exports.
    client, _arn = table

    with pytest.raises(KeyError, match="TableArn"):
        client.list_exports()


def test_moto_does_not_move_the_pitr_window_with_time(table: tuple[Any, str]) -> None:
    # AWS: LatestRestorableDateTime "is typically 5 minutes before the current time" (API
    # reference, PointInTimeRecoveryDescription); moto keeps the time PITR was turned on.
    client, _arn = table

    def window() -> dict[str, Any]:
        pitr: dict[str, Any] = client.describe_continuous_backups(TableName="t")[
            "ContinuousBackupsDescription"
        ]["PointInTimeRecoveryDescription"]
        return pitr

    before = window()
    time.sleep(1.1)

    assert window()["LatestRestorableDateTime"] == before["LatestRestorableDateTime"]
