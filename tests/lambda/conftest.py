"""Fixtures for the DynamoDB export Lambda (lambda/dynamodb_export).

The function's folder is put on sys.path because Lambda imports its modules as
top-level modules (and `lambda` is a keyword, so it cannot be a package).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "dynamodb_export"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

REGION = "eu-west-1"
SOURCE_ACCOUNT = "123456789012"  # moto's default account: where the tables live
BACKUP_ACCOUNT = "333333333333"  # owns the destination bucket
BUCKET = "ddb-backup-dest"
STATE_TABLE = "ddb-export-state"  # the exporter's own state, in SOURCE_ACCOUNT


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
