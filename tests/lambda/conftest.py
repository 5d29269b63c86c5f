"""Fixtures for the DynamoDB export Lambda (lambda/dynamodb_export).

The function's folder is put on sys.path because Lambda imports its modules as
top-level modules (and `lambda` is a keyword, so it cannot be a package).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "dynamodb_export"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

# The tables and the state table are in moto's default account; the bucket in another.
from bench.export_emulator import Clock, ExportService, installed  # noqa: E402
from tests.support.exporter_harness import (  # noqa: E402
    BACKUP_ACCOUNT,
    BUCKET,
    DAY,
    GROUP,
    REGION,
    SCHEDULER_ROLE,
    STATE_TABLE,
    create_backup_bucket,
    create_state_table,
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, the Region, and a minimal valid function environment."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("S3_BUCKET_DEST", BUCKET)
    monkeypatch.setenv("S3_BUCKET_OWNER", BACKUP_ACCOUNT)
    monkeypatch.setenv("ENV", "prod")
    monkeypatch.setenv("STATE_TABLE", STATE_TABLE)
    for name in (
        "S3_SSE_ALGORITHM",
        "S3_SSE_KMS_KEY_ID",
        "EXPORT_FORMAT",
        "EXPORT_TYPE",
        "EXPORT_VIEW_TYPE",
        "MAX_CONCURRENT_EXPORTS",
        "INCLUDE_TABLES",
        "EXCLUDE_TABLES",
        "EXPORT_TIME_OF_DAY",
        "WORKER_THREADS",
        "FULL_EXPORT_INTERVAL_DAYS",
        # Continuations are off unless a test turns them on.
        "SCHEDULE_GROUP",
        "SCHEDULER_ROLE_ARN",
        "AWS_LAMBDA_FUNCTION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The handler's clock, an hour and five minutes past DAY's cut."""
    import handler

    fake = Clock(DAY + timedelta(hours=1, minutes=5))
    monkeypatch.setattr(handler, "utcnow", fake)
    return fake


@pytest.fixture
def exports(
    aws_env: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ExportService]:
    """moto with bench/export_emulator.py installed, the bucket and the state table."""
    import export_engine
    import handler

    service = ExportService(clock)
    # Backoff between export attempts is recorded, not slept, to keep the tests fast.
    monkeypatch.setattr(export_engine, "backoff_sleep", service.sleeps.append)
    handler._caller_identity.cache_clear()
    with mock_aws(), installed(service):
        create_backup_bucket()
        create_state_table()
        yield service


@pytest.fixture
def chain(exports: ExportService, monkeypatch: pytest.MonkeyPatch) -> ExportService:
    """Continuations on: the deployment's schedule group and scheduler role."""
    monkeypatch.setenv("SCHEDULE_GROUP", GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=GROUP)
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)
    return exports
