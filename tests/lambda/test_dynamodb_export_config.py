"""Settings and cut resolution of the DynamoDB exporter (no AWS calls)."""

from __future__ import annotations

import itertools
import random
import string
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

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
    assert settings.full_export_interval_days == 7


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
        "FULL_EXPORT_INTERVAL_DAYS": "14",
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
    assert settings.full_export_interval_days == 14


def test_every_problem_is_reported_in_one_error() -> None:
    environ = {
        "S3_BUCKET_OWNER": "3333",
        "ENV": "prod/../x",
        "S3_SSE_ALGORITHM": "KMS",
        "EXPORT_FORMAT": "CSV",
        "MAX_CONCURRENT_EXPORTS": "301",
        "WORKER_THREADS": "many",
        "EXPORT_TIME_OF_DAY": "24:00",
        "FULL_EXPORT_INTERVAL_DAYS": "weekly",
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
        "FULL_EXPORT_INTERVAL_DAYS",
    ):
        assert name in message
    assert len(caught.value.problems) == 9


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"S3_SSE_KMS_KEY_ID": "key"}, "S3_SSE_KMS_KEY_ID"),
        ({"EXPORT_VIEW_TYPE": "NEW_IMAGE"}, "EXPORT_VIEW_TYPE"),
        ({"MAX_CONCURRENT_EXPORTS": "0"}, "MAX_CONCURRENT_EXPORTS"),
        ({"S3_BUCKET_DEST": "Not_A_Bucket"}, "S3_BUCKET_DEST"),
        ({"FULL_EXPORT_INTERVAL_DAYS": "0"}, "FULL_EXPORT_INTERVAL_DAYS"),
        ({"FULL_EXPORT_INTERVAL_DAYS": "366"}, "FULL_EXPORT_INTERVAL_DAYS"),
        ({"FULL_EXPORT_INTERVAL_DAYS": "7.5"}, "FULL_EXPORT_INTERVAL_DAYS"),
    ],
)
def test_bad_combinations_rejected(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings({**REQUIRED, **extra})


def test_empty_optional_variables_mean_default() -> None:
    settings = load_settings({**REQUIRED, "EXPORT_TYPE": "", "S3_SSE_KMS_KEY_ID": " "})

    assert settings.export_type == "FULL_EXPORT"
    assert settings.kms_key_id is None


@pytest.mark.parametrize("interval", [1, 2, 7, 30, 365])
def test_periodic_full_day_is_exactly_one_day_in_every_interval(interval: int) -> None:
    settings = load_settings({**REQUIRED, "FULL_EXPORT_INTERVAL_DAYS": str(interval)})
    start = datetime(2025, 1, 1, 23, 30, tzinfo=UTC)

    days = [start + timedelta(days=n) for n in range(3 * interval)]
    periodic = [day for day in days if settings.is_periodic_full_day(day)]

    assert len(periodic) == 3
    assert all(b - a == timedelta(days=interval) for a, b in itertools.pairwise(periodic))


def test_periodic_full_day_uses_the_utc_date() -> None:
    settings = load_settings(REQUIRED)  # 7 days; 2025-03-09 is a periodic day
    late_in_utc = datetime(2025, 3, 9, 23, 0, tzinfo=UTC)

    assert settings.is_periodic_full_day(late_in_utc)
    # The same instant at +02:00 reads 2025-03-10 locally; the UTC date still decides.
    assert settings.is_periodic_full_day(late_in_utc.astimezone(timezone(timedelta(hours=2))))
    assert not settings.is_periodic_full_day(datetime(2025, 3, 10, 1, 0, tzinfo=UTC))


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
        # Valid ISO-8601, but outside datetime's range once converted to UTC.
        ({"exportTime": "0001-01-01T00:00:00+05:00"}, "'exportTime'"),
        ({"exportTime": "9999-12-31T23:59:59-05:00"}, "'exportTime'"),
        ({"time": "0001-01-01T00:00:00+05:00"}, "'time'"),
        ({"time": "9999-12-31T23:59:59-05:00"}, "'time'"),
        # In range, but older than any point-in-time recovery window (35 days).
        ({"exportTime": "0001-01-01T00:00:00Z"}, "'exportTime'"),
        ({"time": "0001-01-01T00:00:00Z"}, "'time'"),
        ({"exportTime": "2025-02-01T00:00:00Z"}, "'exportTime'"),
        ({"exportTime": 1700000000.5}, "'exportTime'"),
        ({"exportTime": ["2025-03-01T00:00:00Z"]}, "'exportTime'"),
        ({"time": {"iso": "2025-03-01T00:00:00Z"}}, "'time'"),
        ({"time": True}, "'time'"),
    ],
)
def test_bad_event_field_is_named(event: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEventError, match=field):
        resolve_cut(event, load_settings(REQUIRED), NOW)


def _fuzz_values(rng: random.Random) -> list[Any]:
    """Date-times at the edges of datetime's range, mangled strings and non-strings."""
    values: list[Any] = [0, -1, 1.5, float("nan"), [], {}, b"2025-03-01", object(), ""]
    for _ in range(400):
        year = rng.choice([1, 2, 1969, 2025, 9998, 9999, rng.randint(1, 9999)])
        hours, minutes = rng.randint(0, 23), rng.choice([0, 30, 59])
        sign = rng.choice("+-")
        stamp = f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        stamp += f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        zone = rng.choice(["Z", f"{sign}{hours:02d}:{minutes:02d}", "", "+24:00", "+99:99"])
        values.append(stamp + zone)
        garbled = list(stamp + zone)
        for _ in range(rng.randint(1, 3)):
            garbled[rng.randrange(len(garbled))] = rng.choice(string.printable)
        values.append("".join(garbled))
    return values


def test_fuzzed_event_fields_give_a_cut_or_an_error_naming_the_field() -> None:
    settings = load_settings(REQUIRED)
    rng = random.Random(20250310)  # fixed seed: a failure can be reproduced
    errors = 0

    for field in ("time", "exportTime"):
        for value in _fuzz_values(rng):
            try:
                cut = resolve_cut({field: value}, settings, NOW)
            except InvalidEventError as exc:
                assert repr(field) in str(exc), (field, value, exc)
                errors += 1
            else:
                # Anything accepted is a usable cut: UTC, whole seconds, in the window.
                assert cut.tzinfo is UTC and cut.microsecond == 0, (field, value)
                assert NOW - timedelta(days=35) <= cut <= NOW, (field, value)

    assert errors > 1500  # nearly every fuzzed value is bad; the loop did run


def test_cut_in_the_future_is_an_error() -> None:
    settings = load_settings({**REQUIRED, "EXPORT_TIME_OF_DAY": "07:00"})

    with pytest.raises(InvalidEventError, match="in the future"):
        resolve_cut({"time": "2025-03-10T06:00:00Z"}, settings, NOW)
