"""The DynamoDB export Lambda end to end against moto, with several accounts.

Tables live in moto's default account 123456789012; the destination bucket belongs
to 333333333333 (created with assume_role credentials, which moto maps to that
account). The exporter's state table lives with the tables.

moto lacks most of the export API's behaviour and never fires schedules:
bench/export_emulator.py adds both ON PURPOSE (its docstring lists what and why), and
the tests move its clock instead of waiting.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import export_engine
import handler
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from export_config import ConfigurationError, InvalidEventError
from moto.scheduler.models import scheduler_backends

from bench.export_emulator import Clock, ExportService, complete, utc
from tests.support.exporter_harness import (
    BACKUP_ACCOUNT,
    BUCKET,
    CONTEXT,
    DAY,
    EVENT,
    GROUP,
    REGION,
    ROOT,
    SCHEDULER_ROLE,
    SOURCE_ACCOUNT,
    STATE_TABLE,
    after,
    backup_account_client,
    create_backup_bucket,
    ddb,
    fire,
    forget_state,
    invoke,
    make_tables,
    names_of,
    run_day,
    schedules,
    table_arn,
)


def _start_foreign_export(name: str, prefix: str = "other-tool") -> None:
    # An export another tool started: different prefix, counts against the quota.
    ddb().export_table_to_point_in_time(
        TableArn=table_arn(name),
        S3Bucket=BUCKET,
        S3BucketOwner=BACKUP_ACCOUNT,
        S3Prefix=prefix,
        ExportTime=DAY - timedelta(hours=1),
        ExportFormat="DYNAMODB_JSON",
        ExportType="FULL_EXPORT",
    )


# ---------------------------------------------------------------------------


def test_first_run_exports_every_table_over_several_list_pages(
    exports: ExportService,
) -> None:
    with_pitr = [f"orders-{i:03d}" for i in range(101)]
    without_pitr = ["scratch-a", "scratch-b"]
    make_tables(with_pitr)
    make_tables(without_pitr, pitr=False)

    summary = invoke()

    assert summary["exportTime"] == "2025-03-10T00:00:00+00:00"
    assert names_of(summary["started"]) == with_pitr
    assert summary["skipped"] == [
        {"table": name, "reason": "point-in-time recovery is not enabled"} for name in without_pitr
    ]
    assert summary["deferred"] == [] and summary["failed"] == []
    assert summary["counts"]["tablesSeen"] == 103
    assert summary["counts"]["started"] == 101
    calls = summary["awsCalls"]
    assert calls["ListTables"] == 2  # 103 tables: two pages of at most 100
    assert calls["ListExports"] == 103
    assert calls["ExportTableToPointInTime"] == 103
    assert calls.get("DescribeExport", 0) == 0
    assert sum(calls.values()) / 103 < 2.05


def test_data_lands_in_the_other_accounts_bucket_under_account_and_region(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_SSE_ALGORITHM", "KMS")
    monkeypatch.setenv("S3_SSE_KMS_KEY_ID", f"arn:aws:kms:{REGION}:{BACKUP_ACCOUNT}:key/k1")
    monkeypatch.setenv("EXPORT_FORMAT", "ION")
    make_tables(["users"])

    summary = invoke()

    export_arn = summary["started"][0]["exportArn"]
    export_id = export_arn.rsplit("/", 1)[-1]
    keys = [
        obj["Key"] for obj in backup_account_client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    ]
    base = f"{ROOT}/users/2025/03/10/AWSDynamoDB/{export_id}"
    assert f"{base}/manifest-summary.json" in keys
    assert any(key.startswith(f"{base}/data/") for key in keys)
    body = exports.exports[export_arn].body
    assert body["S3BucketOwner"] == BACKUP_ACCOUNT
    assert body["S3SseAlgorithm"] == "KMS"
    assert body["S3SseKmsKeyId"] == f"arn:aws:kms:{REGION}:{BACKUP_ACCOUNT}:key/k1"
    assert body["ExportFormat"] == "ION"
    assert utc(body["ExportTime"]) == DAY
    assert "IncrementalExportSpecification" not in body


def test_rerun_within_8_hours_reuses_the_export_via_client_token(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a", "b"])
    # ListExports lags behind the first run's exports, so only ClientToken can
    # prevent duplicates (AWS: idempotent for 8 hours).
    exports.hide_from_list = True
    first = invoke()
    clock.advance(timedelta(hours=2))
    forget_state()  # nothing remembers the first run: ClientToken has to

    second = invoke()

    assert len(exports.exports) == 2
    assert second["started"] == []
    assert {e["exportArn"] for e in second["existing"]} == {
        e["exportArn"] for e in first["started"]
    }
    assert "ClientToken returned" in second["existing"][0]["reason"]


def test_rerun_after_8_hours_is_caught_by_describe_export(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a", "b", "c"])
    first = invoke()
    clock.advance(timedelta(hours=9))  # ClientTokens have expired
    forget_state()  # nothing remembers the first run: DescribeExport has to

    second = invoke()

    assert len(exports.exports) == 3
    assert second["started"] == []
    assert names_of(second["existing"]) == ["a", "b", "c"]
    assert {e["exportArn"] for e in second["existing"]} == {
        e["exportArn"] for e in first["started"]
    }
    calls = second["awsCalls"]
    assert calls.get("ExportTableToPointInTime", 0) == 0
    assert calls["ListExports"] == 3 and calls["DescribeExport"] == 3


def test_failed_export_of_the_cut_is_retried_with_a_new_token(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a"])
    backup_account_client("s3").delete_bucket(Bucket=BUCKET)
    exports.hold_in_progress = True
    first = invoke()
    exports.complete_all()  # the bucket is missing: AWS fails it with S3NoSuchBucket
    assert names_of(first["started"]) == ["a"]
    assert exports.of_table("a")[0].failure_code == "S3NoSuchBucket"

    create_backup_bucket()
    exports.hold_in_progress = False
    clock.advance(timedelta(hours=1))
    with pytest.raises(handler.ExportsFailedError) as caught:
        invoke()  # the catch-up run sees the failure and reports it
    clock.advance(timedelta(minutes=10))  # the table's back-off: 2.5 to 5 minutes
    third = invoke()  # attempt 2

    second = caught.value.summary
    assert names_of(second["failed"]) == ["a"]
    assert "S3NoSuchBucket; starting attempt 2 after its back-off" in second["failed"][0]["reason"]
    assert second["started"] == [] and names_of(third["started"]) == ["a"]
    tokens = [e.token for e in exports.of_table("a")]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert [e.status for e in exports.of_table("a")] == ["FAILED", "COMPLETED"]


def test_concurrency_cap_counts_exports_already_running(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "5")
    monkeypatch.setenv("EXCLUDE_TABLES", "legacy-*")
    make_tables(["legacy-1", "t1", "t2", "t3", "t4", "t5"])
    exports.hold_in_progress = True
    # Three exports in flight, one of them on a table this function excludes.
    _start_foreign_export("legacy-1")
    _start_foreign_export("t1")
    _start_foreign_export("t2", prefix="manual")

    summary = invoke()

    assert summary["counts"]["inFlightBefore"] == 3
    assert summary["counts"]["capacity"] == 2
    assert len(summary["started"]) == 2
    assert summary["deferred"] == []  # never attempted: they wait for a slot
    assert summary["counts"]["pending"] == 3
    assert exports.in_progress(SOURCE_ACCOUNT) == 5


def test_limit_exceeded_defers_the_rest_without_failing_the_run(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "1")
    make_tables(["t1", "t2", "t3", "t4"])
    exports.hold_in_progress = True
    exports.limit = 2  # the account quota is hit before MAX_CONCURRENT_EXPORTS

    summary = invoke()

    assert names_of(summary["started"]) == ["t1", "t2"]
    assert names_of(summary["deferred"]) == ["t3", "t4"]
    assert "LimitExceededException" in summary["deferred"][0]["reason"]
    assert summary["failed"] == []
    # botocore counts LimitExceededException as throttling; the export client has its
    # retries off and the engine never retries this code: one call for t3, none after.
    assert exports.attempts == Counter({"t1": 1, "t2": 1, "t3": 1})
    assert summary["awsCalls"]["ExportTableToPointInTime"] == 3
    assert exports.sleeps == []


def test_export_throttling_and_5xx_are_retried_with_backoff(
    exports: ExportService,
) -> None:
    make_tables(["a", "b"])
    exports.transient["a"] = [
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("SomethingNew", 503),  # unknown code, retried for its 5xx status
    ]

    summary = invoke()

    assert names_of(summary["started"]) == ["a", "b"]
    assert exports.attempts == Counter({"a": 4, "b": 1})
    assert summary["awsCalls"]["ExportTableToPointInTime"] == 5  # every attempt counts
    assert len(exports.of_table("a")) == 1
    # Full jitter under a doubling ceiling: 1 s, 2 s, 4 s.
    assert len(exports.sleeps) == 3
    assert all(0 <= delay <= 2**n for n, delay in enumerate(exports.sleeps))


def test_export_throttling_that_outlasts_the_retries_defers_the_table_and_the_rest(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "1")  # a, then b, then c
    make_tables(["a", "b", "c"])
    exports.errors["a"] = "ThrottlingException"

    summary = invoke()

    # 6, not 6 x botocore's attempts: the export client does no retries of its own.
    assert exports.attempts == Counter({"a": export_engine.EXPORT_MAX_ATTEMPTS})
    assert len(exports.sleeps) == export_engine.EXPORT_MAX_ATTEMPTS - 1
    assert sum(exports.sleeps) <= 31
    # Throttling is no failure of the table: it backs off across waves (same ClientToken).
    assert summary["failed"] == []
    deferred = {entry["table"]: entry["reason"] for entry in summary["deferred"]}
    assert "ThrottlingException" in deferred["a"]
    assert "persisted over 6 attempts; tried again later" in deferred["a"]
    # Throttling that outlasts the backoff would cost every table the same: the rest
    # waits for the next run instead of running the function into its timeout.
    assert "persisted on table a" in deferred["b"] and "persisted on table a" in deferred["c"]
    assert summary["counts"]["pending"] == 3


def test_throttled_export_is_deferred_once_another_table_hits_the_limit(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "2")
    make_tables(["a", "b"])
    exports.errors["a"] = "ThrottlingException"
    exports.errors["b"] = "LimitExceededException"
    # a's backoff lasts until b's LimitExceededException has stopped new starts.
    limit_hit = threading.Event()
    stop = export_engine._Capacity.stop

    def stop_and_signal(capacity: Any, reason: str) -> None:
        stop(capacity, reason)
        limit_hit.set()

    monkeypatch.setattr(export_engine._Capacity, "stop", stop_and_signal)
    monkeypatch.setattr(export_engine, "backoff_sleep", lambda _s: limit_hit.wait(5))

    summary = invoke()

    assert names_of(summary["deferred"]) == ["a", "b"]
    assert "LimitExceededException earlier in run" in summary["deferred"][0]["reason"]
    assert exports.attempts == Counter({"a": 1, "b": 1})
    assert summary["failed"] == []


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("RequestLimitExceeded", 400, True),
        ("ProvisionedThroughputExceededException", 400, True),
        ("InternalServerError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("LimitExceededException", 400, False),
        ("LimitExceededException", 503, False),
        ("ValidationException", 400, False),
        ("ExportConflictException", 400, False),
    ],
)
def test_which_export_errors_are_retried(code: str, status: int, retryable: bool) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ExportTableToPointInTime",
    )

    assert export_engine.is_retryable_export_error(error) is retryable


def test_connection_errors_are_retried_other_exceptions_are_not() -> None:
    # Safe to repeat: the ClientToken makes a second call return the first export.
    assert export_engine.is_retryable_export_error(EndpointConnectionError(endpoint_url="u"))
    assert export_engine.is_retryable_export_error(ReadTimeoutError(endpoint_url="u"))
    assert not export_engine.is_retryable_export_error(ValueError("bug"))


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    delays = {
        retry: [export_engine.backoff_delay(retry) for _ in range(200)] for retry in (1, 3, 9)
    }

    assert all(0 <= d <= 1 for d in delays[1])
    assert all(0 <= d <= 4 for d in delays[3]) and max(delays[3]) > 2
    assert all(0 <= d <= export_engine.EXPORT_BACKOFF_CAP_S for d in delays[9])
    assert max(delays[9]) > 10
    assert len(set(delays[1])) > 100  # jittered, not a fixed schedule


def test_tables_without_pitr_do_not_use_up_capacity(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    monkeypatch.setenv("WORKER_THREADS", "1")
    make_tables(["a"], pitr=False)
    make_tables(["b", "c", "d"])

    summary = invoke()

    assert names_of(summary["skipped"]) == ["a"]
    assert names_of(summary["started"]) == ["b", "c"]
    assert summary["counts"]["pending"] == 1  # d waits for a slot


def test_throttling_is_retried_by_botocore(exports: ExportService) -> None:
    make_tables(["a"])
    exports.throttle_list_once.add("a")

    summary = invoke()

    assert names_of(summary["started"]) == ["a"]
    assert summary["awsCalls"]["ListExports"] == 1  # one API call, retried inside botocore
    assert exports.throttle_list_once == set()


def test_one_failing_table_does_not_stop_the_others_and_the_run_raises(
    exports: ExportService,
) -> None:
    make_tables(["a", "b", "c"])
    exports.errors["b"] = "AccessDeniedException"

    with pytest.raises(handler.ExportsFailedError) as caught:
        invoke()

    assert [d.table for d in caught.value.failed] == ["b"]
    assert "AccessDeniedException" in str(caught.value)
    assert names_of(caught.value.summary["started"]) == ["a", "c"]
    assert len(exports.of_table("a")) == 1 and len(exports.of_table("c")) == 1


def test_include_and_exclude_patterns(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCLUDE_TABLES", "orders-*,users")
    monkeypatch.setenv("EXCLUDE_TABLES", "*-tmp")
    make_tables(["orders-eu", "orders-tmp", "users", "users-archive", "audit"])

    summary = invoke()

    assert names_of(summary["started"]) == ["orders-eu", "users"]
    assert summary["counts"]["excluded"] == 3
    assert summary["skipped"] == []


def test_pitr_window_starting_after_the_cut_is_skipped(exports: ExportService) -> None:
    make_tables(["new-table", "old-table"])
    exports.pitr_earliest["new-table"] = DAY + timedelta(minutes=2)

    summary = invoke()

    assert names_of(summary["started"]) == ["old-table"]
    assert names_of(summary["skipped"]) == ["new-table"]
    assert "point-in-time recovery began after the cut" in summary["skipped"][0]["reason"]


def test_export_conflict_fails_the_table_with_the_message(exports: ExportService) -> None:
    # ExportConflictException: "a conflict when writing to the specified S3 bucket".
    make_tables(["a", "b"])
    exports.errors["a"] = "ExportConflictException"

    with pytest.raises(handler.ExportsFailedError) as caught:
        invoke()

    summary = caught.value.summary
    assert names_of(summary["failed"]) == ["a"] and summary["existing"] == []
    reason = summary["failed"][0]["reason"]
    assert "ExportConflictException: injected failure for a" in reason
    assert f"s3://{BUCKET}/{ROOT}/a/2025/03/10" in reason
    assert exports.attempts["a"] == 1  # not retried
    assert names_of(summary["started"]) == ["b"]


@pytest.mark.parametrize(
    "code", ["ImportConflictException", "IdempotentParameterMismatchException"]
)
def test_client_token_mismatch_codes_are_treated_as_already_started(
    exports: ExportService, code: str
) -> None:
    make_tables(["a"])
    exports.errors["a"] = code

    summary = invoke()

    assert names_of(summary["existing"]) == ["a"]
    assert code in summary["existing"][0]["reason"]
    assert summary["failed"] == []


def test_incremental_without_previous_export_falls_back_to_full(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    make_tables(["a"])

    summary = invoke()

    assert summary["started"][0]["exportType"] == "FULL_EXPORT"
    assert "no previous completed export" in summary["started"][0]["reason"]


def test_incremental_chains_from_the_previous_export(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    make_tables(["a"])
    clock.now = after(days=-1)
    invoke({"time": "2025-03-09T00:05:00Z"})  # yesterday: full, first in the chain
    clock.now = after(days=0)

    summary = invoke()
    again = invoke()

    assert summary["started"][0]["exportType"] == "INCREMENTAL_EXPORT"
    body = exports.exports[summary["started"][0]["exportArn"]].body
    spec = body["IncrementalExportSpecification"]
    assert utc(spec["ExportFromTime"]) == DAY - timedelta(days=1)
    assert utc(spec["ExportToTime"]) == DAY
    assert spec["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    assert "ExportTime" not in body
    assert body["S3Prefix"] == f"{ROOT}/a/2025/03/10"
    # A second run of the cut works from its state: nothing to start, no export call.
    assert again["started"] == [] and "ExportTableToPointInTime" not in again["awsCalls"]


def test_incremental_gap_over_24_hours_falls_back_to_full(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    make_tables(["a"])
    clock.now = after(days=-2)
    invoke({"time": "2025-03-08T00:00:00Z"})  # the run of 2025-03-09 never happened
    clock.now = after(days=0)

    summary = invoke()

    started = summary["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "over 24 h" in started["reason"]
    assert utc(exports.exports[started["exportArn"]].body["ExportTime"]) == DAY


def test_incremental_takes_a_periodic_full_export_then_chains_from_it(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Default FULL_EXPORT_INTERVAL_DAYS=7: 2025-03-09 has ordinal 739319 = 7 x 105617.
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    make_tables(["a"])
    clock.now = after(days=-2)
    invoke({"time": "2025-03-08T00:05:00Z"})  # first of the chain: full
    clock.now = after(days=-1)

    periodic = invoke({"time": "2025-03-09T00:05:00Z"})
    clock.now = after(days=0)
    following = invoke()

    started = periodic["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "periodic full export" in started["reason"]
    assert "FULL_EXPORT_INTERVAL_DAYS=7" in started["reason"]
    assert utc(exports.exports[started["exportArn"]].body["ExportTime"]) == DAY - timedelta(days=1)
    # Stateless: the date decides, no DescribeExport is spent on the chain's end. Its
    # export ended at once, so the cut closed in its first run, having missed nothing.
    assert periodic["awsCalls"].get("DescribeExport", 0) == 0
    assert periodic["closed"] == [
        {
            "exportTime": "2025-03-09T00:00:00+00:00",
            "missed": 0,
            "missedTables": [],
            "stillRunning": 0,
        }
    ]
    assert following["started"][0]["exportType"] == "INCREMENTAL_EXPORT"
    spec = exports.exports[following["started"][0]["exportArn"]].body[
        "IncrementalExportSpecification"
    ]
    assert utc(spec["ExportFromTime"]) == DAY - timedelta(days=1)


def test_full_export_interval_is_configurable_and_ignored_for_full_deployments(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2025-03-10 has ordinal 739320: a periodic day for an interval of 2, not of 7.
    monkeypatch.setenv("FULL_EXPORT_INTERVAL_DAYS", "2")
    make_tables(["incr", "full"])
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    monkeypatch.setenv("INCLUDE_TABLES", "incr")
    clock.now = after(days=-1)
    invoke({"time": "2025-03-09T00:05:00Z"})  # full: first of the chain
    clock.now = after(days=0)

    incremental_deployment = invoke()
    monkeypatch.delenv("EXPORT_TYPE")
    monkeypatch.setenv("INCLUDE_TABLES", "full")
    forget_state()  # another deployment: its own state
    full_deployment = invoke()

    started = incremental_deployment["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "periodic full export (FULL_EXPORT_INTERVAL_DAYS=2" in started["reason"]
    assert full_deployment["started"][0]["exportType"] == "FULL_EXPORT"
    assert "reason" not in full_deployment["started"][0]


def test_incremental_window_under_15_minutes_is_skipped(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    make_tables(["a"])
    invoke({"exportTime": "2025-03-09T23:50:00Z"})  # a manual export 10 minutes before

    summary = invoke()

    assert summary["started"] == []
    assert "less than 15 minutes" in summary["skipped"][0]["reason"]


def test_bad_environment_is_logged_at_cold_start_and_fails_every_invocation(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("S3_BUCKET_OWNER")
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "500")
    monkeypatch.setenv("FULL_EXPORT_INTERVAL_DAYS", "0")
    caplog.set_level("INFO", logger="dynamodb_export")

    importlib.reload(handler)  # what Lambda does at cold start: import the module

    records = [r.__dict__ for r in caplog.records if r.name == "dynamodb_export"]
    assert len(records) == 1 and records[0]["event"] == "configuration_error"
    problems = " ".join(records[0]["problems"])
    for name in ("S3_BUCKET_OWNER", "MAX_CONCURRENT_EXPORTS", "FULL_EXPORT_INTERVAL_DAYS"):
        assert name in problems
    assert caplog.records[0].levelname == "ERROR"

    def no_aws(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no AWS client may be created with a bad environment")

    monkeypatch.setattr(boto3, "client", no_aws)
    # Fixing the variables does not help a running environment: Lambda cannot change
    # them without a new one, so the module keeps what it parsed at cold start.
    monkeypatch.setenv("S3_BUCKET_OWNER", BACKUP_ACCOUNT)
    for _ in range(2):
        with pytest.raises(ConfigurationError) as caught:
            handler.lambda_handler(EVENT, CONTEXT)
        assert caught.value.problems == records[0]["problems"]
        assert "S3_BUCKET_OWNER" in str(caught.value)
    assert len(caplog.records) == 1  # logged once, at cold start


def test_good_environment_logs_nothing_at_cold_start(
    aws_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="dynamodb_export")

    importlib.reload(handler)

    assert caplog.records == []
    assert handler.current_settings().bucket == BUCKET


def test_bad_event_field_is_named(exports: ExportService) -> None:
    with pytest.raises(InvalidEventError, match="'exportTime'"):
        invoke({"exportTime": "last tuesday"})


def test_account_from_sts_without_lambda_context(exports: ExportService) -> None:
    make_tables(["a"])

    summary = invoke(context=None)

    assert summary["started"][0]["exportArn"].startswith(table_arn("a") + "/export/")


# -- layout across accounts and Regions ---------------------------------------------


def _as_account(account: str) -> dict[str, str]:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/exporter", RoleSessionName="tests"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def test_same_table_name_in_two_accounts_and_regions_lands_under_separate_prefixes(
    exports: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_account, other_region = "444455556666", "us-east-1"
    placements = [(SOURCE_ACCOUNT, REGION), (other_account, REGION), (SOURCE_ACCOUNT, other_region)]
    arns = []
    for account, region in placements:
        with monkeypatch.context() as scoped:
            if account != SOURCE_ACCOUNT:
                for name, value in _as_account(account).items():
                    scoped.setenv(name, value)
            scoped.setenv("AWS_DEFAULT_REGION", region)
            scoped.setenv("AWS_REGION", region)
            # The default session caches credentials: a new one picks up this account's.
            scoped.setattr(boto3, "DEFAULT_SESSION", None)
            client = boto3.client("dynamodb", region_name=region)
            existing = client.list_tables()["TableNames"]
            for table in {"orders", STATE_TABLE} - set(existing):
                client.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            client.put_item(TableName="orders", Item={"pk": {"S": f"{account}-{region}"}})
            client.update_continuous_backups(
                TableName="orders",
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            context = SimpleNamespace(
                invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:ddb-export",
                function_name="ddb-export",
            )
            handler._caller_identity.cache_clear()
            summary = invoke(context=context)
            arns.append(summary["started"][0]["exportArn"])

    keys = [
        obj["Key"]
        for obj in backup_account_client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
        if obj["Key"].endswith("manifest-summary.json")
    ]
    expected = {
        f"prod/{account}/{region}/orders/2025/03/10/AWSDynamoDB/{arn.rsplit('/', 1)[-1]}/manifest-summary.json"
        for (account, region), arn in zip(placements, arns, strict=True)
    }
    assert set(keys) == expected and len(expected) == 3
    # Each export wrote its own account's and Region's item: nothing was overwritten.
    for (account, region), arn in zip(placements, arns, strict=True):
        assert exports.exports[arn].body["S3Prefix"] == f"prod/{account}/{region}/orders/2025/03/10"


# -- the state table ------------------------------------------------------------------


def test_the_state_table_is_never_listed_nor_exported(exports: ExportService) -> None:
    make_tables(["a"])
    # Even with PITR on, which the deployment does not enable.
    ddb().update_continuous_backups(
        TableName=STATE_TABLE,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )

    summary = invoke()

    assert names_of(summary["started"]) == ["a"]
    assert summary["counts"]["tablesSeen"] == 1
    assert exports.attempts == Counter({"a": 1})
    assert exports.of_table(STATE_TABLE) == []
    assert summary["awsCalls"]["ListExports"] == 1


def test_a_later_run_of_the_cut_checks_only_in_flight_exports(
    exports: ExportService, clock: Clock
) -> None:
    make_tables([f"t{i}" for i in range(6)])
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)
    first = invoke()
    clock.advance(timedelta(hours=1))

    second = invoke()

    assert first["counts"]["inFlight"] == 6
    assert names_of(second["completed"]) == [f"t{i}" for i in range(6)]
    # No ListTables, no ListExports: the state says which exports to look at.
    assert second["awsCalls"] == {"DescribeExport": 6}
    assert second["counts"]["pending"] == 0 and second["counts"]["inFlight"] == 0


def test_a_first_run_that_died_before_saving_its_plan_is_redone_not_taken_as_done(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import export_run

    make_tables(["a", "b"])
    list_tables = export_engine.list_tables

    def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

    monkeypatch.setattr(export_run, "list_tables", unreachable)
    with pytest.raises(EndpointConnectionError):
        invoke()  # dies after writing the cut's first state
    monkeypatch.setattr(export_run, "list_tables", list_tables)
    retried = invoke()  # Lambda's retry, while the dead run's lease lasts
    clock.advance(timedelta(minutes=20))

    later = invoke()

    assert retried["action"] == "busy" and retried["started"] == []
    assert later["action"] == "wave"
    assert names_of(later["started"]) == ["a", "b"]


def test_an_export_that_fails_later_is_reported_and_started_again(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a", "b"])
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)
    exports.fail_next.add("a")
    invoke()
    clock.advance(timedelta(hours=1))

    with pytest.raises(handler.ExportsFailedError) as caught:
        invoke()

    clock.advance(timedelta(minutes=10))  # a's back-off
    later = invoke()

    summary = caught.value.summary
    assert names_of(summary["failed"]) == ["a"] and names_of(summary["completed"]) == ["b"]
    assert names_of(later["started"]) == ["a"]
    tokens = {e.token for e in exports.of_table("a")}
    assert len(tokens) == 2  # attempt 2 has its own ClientToken


def test_the_list_of_tables_to_start_spans_several_chunks(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import state_store

    monkeypatch.setattr(state_store, "PLAN_CHUNK", 3)
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "4")
    names = [f"t{i:02d}" for i in range(10)]
    make_tables(names)
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)

    started: list[str] = []
    for _ in range(4):
        started += names_of(invoke()["started"])
        clock.advance(timedelta(minutes=30))

    assert sorted(started) == names  # every table once, across chunk boundaries
    assert all(len(exports.of_table(name)) == 1 for name in names)


# -- cuts newer than point-in-time recovery allows --------------------------------------


def test_a_run_just_after_midnight_waits_for_pitr_instead_of_skipping(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a", "b"])
    exports.pitr_lag = timedelta(minutes=5)  # LatestRestorableDateTime ~5 min behind
    clock.now = DAY + timedelta(minutes=5)

    early = invoke({"time": "2025-03-10T00:05:00Z"})
    clock.now = DAY + timedelta(hours=1, minutes=5)
    later = invoke({"time": "2025-03-10T01:05:00Z"})

    assert early["skipped"] == [] and early["started"] == []
    assert early["counts"]["pending"] == 2
    assert "ExportTableToPointInTime" not in early["awsCalls"]
    assert names_of(later["started"]) == ["a", "b"]


def test_invalid_export_time_for_a_recent_cut_defers_and_is_retried(
    exports: ExportService, clock: Clock
) -> None:
    make_tables(["a"])
    exports.pitr_lag = timedelta(minutes=15)  # lagging more than usual
    clock.now = DAY + timedelta(minutes=12)

    early = invoke({"time": "2025-03-10T00:12:00Z"})
    clock.now = DAY + timedelta(minutes=40)
    later = invoke({"time": "2025-03-10T00:40:00Z"})

    assert early["skipped"] == []
    assert names_of(early["deferred"]) == ["a"]
    assert "cut not restorable yet" in early["deferred"][0]["reason"]
    assert names_of(later["started"]) == ["a"]


def test_a_cut_whose_pitr_window_starts_later_is_still_skipped_with_the_reason(
    exports: ExportService,
) -> None:
    make_tables(["new-table"])
    exports.pitr_earliest["new-table"] = DAY + timedelta(minutes=2)

    summary = invoke()

    assert "point-in-time recovery began after the cut" in summary["skipped"][0]["reason"]


# -- continuations ------------------------------------------------------------------


def test_a_run_that_leaves_work_schedules_one_small_continuation(chain: ExportService) -> None:
    make_tables([f"t{i:03d}" for i in range(300)])

    summary = invoke()

    groups = scheduler_backends[SOURCE_ACCOUNT][REGION].schedule_groups
    [schedule] = groups[GROUP].schedules.values()
    # The default cap: the rest waits for the continuation.
    assert summary["counts"]["started"] == 280 and summary["counts"]["pending"] == 20
    assert schedule.name == "ddb-export-20250310T000000Z-w2"
    assert schedule.schedule_expression.startswith("at(2025-03-10T")
    assert schedule.action_after_completion == "DELETE"
    assert schedule.target["Arn"] == f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:ddb-export"
    assert schedule.target["RoleArn"] == SCHEDULER_ROLE
    assert schedule.flexible_time_window == {"Mode": "OFF"}
    # The payload names the cut, run and wave; the 300 tables stay in the state table.
    assert len(schedule.target["Input"]) < 300
    assert summary["continuation"]["status"] == "created"


def test_the_chain_runs_until_every_export_is_out_then_stops(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    names = [f"t{i}" for i in range(5)]
    make_tables(names)
    invoke()

    waves = []
    while schedules():
        waves.append(fire(clock))

    assert all(len(exports) == 1 for exports in map(chain.of_table, names))
    assert all(e.status == "COMPLETED" for e in chain.exports.values())
    assert waves[-1]["counts"]["pending"] == 0 and waves[-1]["counts"]["inFlight"] == 0
    assert waves[-1]["continuation"] is None
    # No wave lists tables or exports again.
    assert all("ListExports" not in w["awsCalls"] for w in waves)
    starts = sorted(e.start for e in chain.exports.values())
    ends = sorted(e.end for e in chain.exports.values() if e.end)
    # Never more than MAX_CONCURRENT_EXPORTS in flight at once.
    assert all(
        sum(1 for s in starts if s <= t) - sum(1 for e in ends if e <= t) <= 2 for t in starts
    )


def test_a_retried_continuation_does_nothing(chain: ExportService, clock: Clock) -> None:
    make_tables([f"t{i}" for i in range(3)])
    invoke()
    [firing] = schedules()
    clock.now = firing.at
    complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
    invoke(firing.event)
    calls_before = Counter(chain.calls)

    again = invoke(firing.event)  # Lambda's async retry of the same invocation

    assert again["action"] == "stale"
    assert chain.calls == calls_before
    assert len(schedules()) == 1  # still exactly one chain


def test_overlapping_runs_cannot_start_two_chains(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tables([f"t{i}" for i in range(3)])
    invoke()
    [firing] = schedules()
    clock.now = firing.at
    complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
    # Both copies of the wave get past the lease, as if one had outlived it; the
    # schedule name for the next wave is the same for both, so the second one's
    # CreateSchedule is refused with a ConflictException.
    import state_store

    monkeypatch.setattr(state_store.StateStore, "acquire", lambda *_args, **_kw: True)
    monkeypatch.setattr(state_store.StateStore, "save", lambda *_args, **_kw: None)

    first = invoke(firing.event)
    second = invoke(firing.event)

    assert first["continuation"]["status"] == "created"
    assert second["continuation"]["status"] == "exists"
    assert first["continuation"]["name"] == second["continuation"]["name"]
    assert [f.name for f in schedules()] == [first["continuation"]["name"]]


def test_concurrent_first_runs_make_one_state_and_one_chain(
    chain: ExportService, clock: Clock
) -> None:
    make_tables([f"t{i}" for i in range(4)])
    handler.cold_start()
    results: list[dict[str, Any]] = []

    def invoke() -> None:
        results.append(handler.lambda_handler(EVENT, CONTEXT))

    workers = [threading.Thread(target=invoke) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(r["action"] for r in results) == ["busy", "wave"]
    assert len(schedules()) == 1
    assert all(len(chain.of_table(f"t{i}")) == 1 for i in range(4))


def test_catch_up_leaves_a_healthy_chain_alone_and_takes_over_a_lost_one(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    make_tables([f"t{i}" for i in range(5)])
    invoke()
    [firing] = schedules()
    clock.now = firing.at - timedelta(minutes=2)

    healthy = invoke()  # the hourly catch-up, before the continuation is due

    # The continuation is lost (say, deleted by hand); the catch-up after the grace takes over.
    complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
    clock.now = firing.at + timedelta(minutes=15)
    takeover = invoke()
    stale = invoke(firing.event)  # the lost continuation, should it turn up after all

    assert healthy["action"] == "chain-active" and healthy["awsCalls"] == {}
    assert takeover["action"] == "wave" and takeover["continuation"]["status"] == "created"
    assert stale["action"] == "stale"


def test_schedule_names_are_per_cut_and_wave_and_fit_schedulers_limit() -> None:
    import continuation

    cut = datetime(2025, 3, 10, tzinfo=UTC)
    long_name = "a-very-long-project-name-production-dynamodb-export-function"

    assert continuation.schedule_name("f", cut, 3) == "f-20250310T000000Z-w3"
    assert continuation.schedule_name("f", cut, 3) != continuation.schedule_name("f", cut, 4)
    name = continuation.schedule_name(long_name, cut, 12345)
    assert len(name) <= 64 and name.startswith("a-very-long") and name.endswith("-w12345")
    assert name != continuation.schedule_name(long_name + "-2", cut, 12345)


def test_limit_exceeded_in_a_wave_lowers_capacity_for_an_hour_without_failing(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "4")
    make_tables([f"t{i}" for i in range(8)])
    chain.limit = 3  # another tool holds part of the account's quota, unseen

    first = invoke()

    assert first["counts"]["started"] == 3 and first["failed"] == []
    assert "account export limit reached" in first["deferred"][0]["reason"]
    # The next wave comes within the retry delay, not at the next hourly catch-up.
    at = datetime.fromisoformat(first["continuation"]["at"])
    assert at - clock.now <= timedelta(minutes=6)


# -- each table's export duration, remembered from day to day ------------------------


def _started_order(service: ExportService, day: int) -> list[set[str]]:
    """The tables whose exports started on DAY + day, grouped by the minute they started."""
    starts: dict[datetime, set[str]] = {}
    begin = DAY + timedelta(days=day)
    for export in service.exports.values():
        if begin <= export.start < begin + timedelta(days=1):
            starts.setdefault(export.start, set()).add(export.table_arn.rsplit("/", 1)[-1])
    return [starts[at] for at in sorted(starts)]


def test_with_history_the_longest_exports_start_first_and_new_tables_before_them(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import state_store

    # Small chunks: the history travels through several items of each kind.
    monkeypatch.setattr(state_store, "MEASURED_CHUNK", 2)
    monkeypatch.setattr(state_store, "HISTORY_CHUNK", 2)
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    minutes = {"a": 9, "b": 24, "c": 12, "d": 20, "e": 15, "new": 10}
    chain.duration = lambda name: timedelta(minutes=minutes[name])
    make_tables(["a", "b", "c", "d", "e"])
    run_day(clock, -1)  # no history yet: name order
    make_tables(["new"])

    run_day(clock, 0)

    assert _started_order(chain, -1)[0] == {"a", "b"}
    waves = _started_order(chain, 0)
    # A new table may be long too: it is not left for the end.
    assert waves[0] == {"new", "b"}
    assert [table for wave in waves[1:] for table in sorted(wave)] == ["d", "e", "c", "a"]
    assert all(len(chain.of_table(name)) == 2 for name in minutes if name != "new")


def test_with_history_an_export_is_described_once_when_it_should_have_ended(
    chain: ExportService, clock: Clock
) -> None:
    names = [f"t{i}" for i in range(3)]
    make_tables(names)
    run_day(clock, -1)
    yesterday = Counter(chain.calls)

    first = run_day(clock, 0)

    today = Counter(chain.calls) - yesterday
    # Without history every export is polled (every 5 minutes for a new deployment).
    assert yesterday["DescribeExport"] > len(names)
    # With it, nothing waits for a slot: one look each, once the export should be done.
    assert today["DescribeExport"] == len(names)
    started = min(e.start for e in chain.exports.values() if e.start >= after(days=0))
    assert datetime.fromisoformat(first["continuation"]["at"]) - started >= timedelta(minutes=20)


@pytest.mark.parametrize("predictive", [True, False])
def test_history_orders_the_day_only_while_it_predicted_durations(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch, predictive: bool
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "5")
    names = [f"t{i}" for i in range(10)]
    make_tables(names)
    longer_by_name = [10 + 2 * i for i in range(10)]
    # Yesterday's longest were t4, t5, t0, t1 and t2, but its durations are all over the place
    # against the day before: they spread more around it than the durations do.
    scrambled = [24, 22, 20, 18, 28, 26, 16, 14, 12, 10]
    day_before, yesterday = longer_by_name, longer_by_name if predictive else scrambled
    chain.duration = lambda name: timedelta(minutes=day_before[int(name[1:])])
    run_day(clock, -2)
    chain.duration = lambda name: timedelta(minutes=yesterday[int(name[1:])])
    run_day(clock, -1)

    run_day(clock, 0)

    first_wave = _started_order(chain, 0)[0]
    if predictive:
        assert first_wave == {"t9", "t8", "t7", "t6", "t5"}  # longest, by yesterday's
    else:
        # History did not predict yesterday: name order, as without history.
        assert first_wave == {"t0", "t1", "t2", "t3", "t4"}
