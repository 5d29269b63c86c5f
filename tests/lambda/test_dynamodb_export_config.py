"""Settings and cut resolution of the DynamoDB exporter (no AWS calls)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from export_config import (
    ConfigurationError,
    InvalidEventError,
    Settings,
    load_settings,
    resolve_cut,
    s3_prefix,
)

REQUIRED = {"S3_BUCKET_DEST": "ddb-backup-dest", "S3_BUCKET_OWNER": "333333333333", "ENV": "prod"}
NOW = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)


def test_defaults_from_the_three_required_variables() -> None:
    settings = load_settings(REQUIRED)

    assert settings == Settings(bucket="ddb-backup-dest", bucket_owner="333333333333", env="prod")
    assert settings.sse_algorithm == "AES256"
    assert settings.export_format == "DYNAMODB_JSON"
    assert settings.export_type == "FULL_EXPORT"
    assert settings.max_concurrent_exports == 250
    assert settings.export_time_of_day == time(0, 0)
    assert settings.worker_threads == 16
    assert settings.include_tables == ()


def test_all_optional_settings_parsed() -> None:
    environ = {
        **REQUIRED,
        "S3_SSE_ALGORITHM": "kms",
        "S3_SSE_KMS_KEY_ID": "arn:aws:kms:eu-west-1:333333333333:key/abc",
        "EXPORT_FORMAT": "ION",
        "EXPORT_TYPE": "INCREMENTAL_EXPORT",
        "EXPORT_VIEW_TYPE": "NEW_IMAGE",
        "MAX_CONCURRENT_EXPORTS": "300",
        "INCLUDE_TABLES": "orders-*, users ,",
        "EXCLUDE_TABLES": "*-tmp",
        "EXPORT_TIME_OF_DAY": "23:45",
        "WORKER_THREADS": "4",
    }

    settings = load_settings(environ)

    assert settings.sse_algorithm == "KMS"
    assert settings.kms_key_id == "arn:aws:kms:eu-west-1:333333333333:key/abc"
    assert settings.export_format == "ION"
    assert settings.incremental
    assert settings.view_type == "NEW_IMAGE"
    assert settings.max_concurrent_exports == 300
    assert settings.include_tables == ("orders-*", "users")
    assert settings.exclude_tables == ("*-tmp",)
    assert settings.export_time_of_day == time(23, 45)
    assert settings.worker_threads == 4


def test_every_problem_is_reported_in_one_error() -> None:
    environ = {
        "S3_BUCKET_OWNER": "3333",
        "ENV": "prod/../x",
        "S3_SSE_ALGORITHM": "KMS",
        "EXPORT_FORMAT": "CSV",
        "MAX_CONCURRENT_EXPORTS": "301",
        "WORKER_THREADS": "many",
        "EXPORT_TIME_OF_DAY": "24:00",
    }

    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)

    message = str(caught.value)
    for name in (
        "S3_BUCKET_DEST",
        "S3_BUCKET_OWNER",
        "ENV",
        "S3_SSE_KMS_KEY_ID",
        "EXPORT_FORMAT",
        "MAX_CONCURRENT_EXPORTS",
        "WORKER_THREADS",
        "EXPORT_TIME_OF_DAY",
    ):
        assert name in message
    assert len(caught.value.problems) == 8


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"S3_SSE_KMS_KEY_ID": "key"}, "S3_SSE_KMS_KEY_ID"),
        ({"EXPORT_VIEW_TYPE": "NEW_IMAGE"}, "EXPORT_VIEW_TYPE"),
        ({"MAX_CONCURRENT_EXPORTS": "0"}, "MAX_CONCURRENT_EXPORTS"),
        ({"S3_BUCKET_DEST": "Not_A_Bucket"}, "S3_BUCKET_DEST"),
    ],
)
def test_bad_combinations_rejected(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings({**REQUIRED, **extra})


def test_empty_optional_variables_mean_default() -> None:
    settings = load_settings({**REQUIRED, "EXPORT_TYPE": "", "S3_SSE_KMS_KEY_ID": " "})

    assert settings.export_type == "FULL_EXPORT"
    assert settings.kms_key_id is None


def test_cut_is_the_scheduled_day_at_time_of_day() -> None:
    settings = load_settings({**REQUIRED, "EXPORT_TIME_OF_DAY": "02:15"})

    cut = resolve_cut({"time": "2025-03-10T05:00:00Z"}, settings, NOW)

    assert cut == datetime(2025, 3, 10, 2, 15, tzinfo=UTC)
    assert s3_prefix(settings, "orders", cut) == "prod/orders/2025/03/10"


def test_cut_falls_back_to_today_without_event_time() -> None:
    cut = resolve_cut({}, load_settings(REQUIRED), NOW)

    assert cut == datetime(2025, 3, 10, tzinfo=UTC)


def test_export_time_overrides_and_is_normalised_to_utc() -> None:
    cut = resolve_cut(
        {"time": "2025-03-10T05:00:00Z", "exportTime": "2025-03-01T12:30:15.750+02:00"},
        load_settings(REQUIRED),
        NOW,
    )

    assert cut == datetime(2025, 3, 1, 10, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"time": "yesterday"}, "'time'"),
        ({"time": 1700000000}, "'time'"),
        ({"exportTime": "2025-03-01T00:00:00"}, "'exportTime'"),
        ({"exportTime": "2025-13-01T00:00:00Z"}, "'exportTime'"),
    ],
)
def test_bad_event_field_is_named(event: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEventError, match=field):
        resolve_cut(event, load_settings(REQUIRED), NOW)


def test_cut_in_the_future_is_an_error() -> None:
    settings = load_settings({**REQUIRED, "EXPORT_TIME_OF_DAY": "07:00"})

    with pytest.raises(InvalidEventError, match="in the future"):
        resolve_cut({"time": "2025-03-10T06:00:00Z"}, settings, NOW)
