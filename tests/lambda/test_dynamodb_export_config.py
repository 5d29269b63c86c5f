"""Settings and cut resolution of the DynamoDB exporter (no AWS calls)."""

from __future__ import annotations

import itertools
import json
import random
import string
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest
from export_config import (
    ConfigurationError,
    Continuation,
    InvalidEventError,
    Scope,
    Settings,
    load_settings,
    parse_continuation,
    resolve_cut,
    s3_prefix,
)

REQUIRED = {
    "S3_BUCKET_DEST": "ddb-backup-dest",
    "S3_BUCKET_OWNER": "333333333333",
    "ENV": "prod",
    "STATE_TABLE": "ddb-export-state",
}
SCOPE = Scope(partition="aws", account="123456789012", region="eu-west-1")
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/ddb-export-scheduler"
NOW = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)


def test_defaults_from_the_four_required_variables() -> None:
    settings = load_settings(REQUIRED)

    assert settings == Settings(
        bucket="ddb-backup-dest",
        bucket_owner="333333333333",
        env="prod",
        state_table="ddb-export-state",
    )
    assert not settings.continuations
    assert settings.sse_algorithm == "AES256"
    assert settings.export_format == "DYNAMODB_JSON"
    assert settings.export_type == "FULL_EXPORT"
    assert settings.max_concurrent_exports == 280
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
        "SCHEDULE_GROUP": "ddb-export",
        "SCHEDULER_ROLE_ARN": SCHEDULER_ROLE,
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
    assert settings.continuations
    assert (settings.schedule_group, settings.scheduler_role_arn) == ("ddb-export", SCHEDULER_ROLE)


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
        "SCHEDULE_GROUP": "has spaces",
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
        "STATE_TABLE",
        "SCHEDULE_GROUP",
        "SCHEDULER_ROLE_ARN",
    ):
        assert name in message
    assert len(caught.value.problems) == 12


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
        ({"STATE_TABLE": "x"}, "STATE_TABLE"),
        ({"STATE_TABLE": "state/table"}, "STATE_TABLE"),
        # Half a continuation setup is refused: it would silently not continue.
        ({"SCHEDULE_GROUP": "ddb-export"}, "SCHEDULER_ROLE_ARN"),
        ({"SCHEDULER_ROLE_ARN": SCHEDULER_ROLE}, "SCHEDULE_GROUP"),
        ({"SCHEDULE_GROUP": "g", "SCHEDULER_ROLE_ARN": "role/x"}, "SCHEDULER_ROLE_ARN"),
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
    assert (
        s3_prefix(settings, SCOPE, "orders", cut) == "prod/123456789012/eu-west-1/orders/2025/03/10"
    )


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


def test_same_table_in_two_accounts_and_regions_gets_two_prefixes() -> None:
    settings = load_settings(REQUIRED)
    cut = datetime(2025, 3, 10, tzinfo=UTC)
    other_account = Scope(partition="aws", account="210987654321", region="eu-west-1")
    other_region = Scope(partition="aws", account="123456789012", region="us-east-1")

    prefixes = {
        s3_prefix(settings, scope, "orders", cut) for scope in (SCOPE, other_account, other_region)
    }

    assert prefixes == {
        "prod/123456789012/eu-west-1/orders/2025/03/10",
        "prod/210987654321/eu-west-1/orders/2025/03/10",
        "prod/123456789012/us-east-1/orders/2025/03/10",
    }


def test_continuation_payload_round_trips_and_stays_small() -> None:
    settings = load_settings(REQUIRED)
    continuation = Continuation(datetime(2025, 3, 10, tzinfo=UTC), run_id="a1b2c3", wave=17)

    payload = continuation.payload(settings)

    assert parse_continuation(payload, settings, NOW) == continuation
    # Bounded whatever the table count: the tables live in the state table.
    assert len(json.dumps(payload)) < 300
    assert parse_continuation({"time": "2025-03-10T05:00:00Z"}, settings, NOW) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"exportTime": "yesterday"}, "'continuation.exportTime'"),
        ({"exportTime": "2026-01-01T00:00:00Z"}, "'continuation.exportTime'"),
        ({"runId": ""}, "'continuation.runId'"),
        ({"runId": "x" * 65}, "'continuation.runId'"),
        ({"runId": 7}, "'continuation.runId'"),
        ({"wave": 0}, "'continuation.wave'"),
        ({"wave": "3"}, "'continuation.wave'"),
        ({"wave": True}, "'continuation.wave'"),
        ({"stateTable": "someone-elses-state"}, "'continuation.stateTable'"),
    ],
)
def test_bad_continuation_field_is_named(change: dict[str, Any], field: str) -> None:
    settings = load_settings(REQUIRED)
    payload = Continuation(datetime(2025, 3, 10, tzinfo=UTC), run_id="a1b2c3", wave=2).payload(
        settings
    )
    payload["continuation"].update(change)

    with pytest.raises(InvalidEventError, match=field):
        parse_continuation(payload, settings, NOW)


def test_continuation_that_is_not_an_object_is_named() -> None:
    with pytest.raises(InvalidEventError, match="'continuation'"):
        parse_continuation({"continuation": "wave-2"}, load_settings(REQUIRED), NOW)
