"""The DynamoDB export Lambda end to end against moto, with several accounts.

Tables live in moto's default account 123456789012; the destination bucket belongs
to 333333333333 (created with assume_role credentials, which moto maps to that
account).

moto 5.2.5's export support is thin (moto/dynamodb/models/table_export.py): it
ignores ClientToken, ExportTime and IncrementalExportSpecification, finishes every
export at once, writes no manifests, never raises LimitExceededException or
InvalidExportTimeException, and lists exports unordered with random ids.
`FakeExportService` below replaces moto's three export handlers ON PURPOSE with the
AWS behaviour the function relies on (each rule cites the API reference); table
lookup, PITR status and the S3 objects still come from moto's own backends.
"""

from __future__ import annotations

import gzip
import importlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import export_engine
import handler
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from export_config import ConfigurationError, InvalidEventError
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import PointInTimeRecoveryUnavailable
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.dynamodb.responses import DynamoHandler
from moto.s3.models import s3_backends

# Same values as conftest.aws_env (conftest is not importable for mypy).
REGION = "eu-west-1"
SOURCE_ACCOUNT = "123456789012"
BACKUP_ACCOUNT = "333333333333"
BUCKET = "ddb-backup-dest"
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
TOKEN_WINDOW = timedelta(hours=8)
DAY = datetime(2025, 3, 10, tzinfo=UTC)
EVENT = {"source": "aws.events", "time": "2025-03-10T00:05:00Z"}
CONTEXT = SimpleNamespace(
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:ddb-export"
)


class Clock:
    """Shared fake time for the handler and the export service."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class FakeExport:
    arn: str
    table_arn: str
    account: str
    body: dict[str, Any]
    token: str | None
    start: datetime
    status: str = "IN_PROGRESS"
    failure_code: str | None = None
    end: datetime | None = None
    item_count: int = 0
    listed: bool = True

    def description(self) -> dict[str, Any]:
        spec = self.body.get("IncrementalExportSpecification")
        result: dict[str, Any] = {
            "ExportArn": self.arn,
            "ExportStatus": self.status,
            "StartTime": self.start,
            "TableArn": self.table_arn,
            "ClientToken": self.token,
            "S3Bucket": self.body["S3Bucket"],
            "S3BucketOwner": self.body.get("S3BucketOwner", self.account),
            "S3Prefix": self.body.get("S3Prefix"),
            "S3SseAlgorithm": self.body.get("S3SseAlgorithm"),
            "ExportFormat": self.body.get("ExportFormat", "DYNAMODB_JSON"),
            "ExportType": self.body.get("ExportType", "FULL_EXPORT"),
            "ItemCount": self.item_count,
        }
        if spec:
            result["IncrementalExportSpecification"] = {k: _utc(v) for k, v in spec.items()}
        else:
            result["ExportTime"] = _utc(self.body.get("ExportTime"))
        if self.end:
            result["EndTime"] = self.end
        if self.failure_code:
            result["FailureCode"] = self.failure_code
        return {k: v for k, v in result.items() if v is not None}


def _utc(value: Any) -> Any:
    # moto's parser hands timestamps over as naive UTC datetimes.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(ERROR_PREFIX + code, message)


class FakeExportService:
    """AWS export semantics missing from moto, installed over moto's DynamoHandler."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.limit = 300  # account quota of exports in flight (DynamoDB service quotas)
        self.hold_in_progress = False  # new exports stay IN_PROGRESS until complete_all()
        self.hide_from_list = False  # new exports not yet visible to ListExports
        self.pitr_earliest: dict[str, datetime] = {}  # table -> start of PITR window
        self.errors: dict[str, str] = {}  # table -> error code ExportTable... raises
        # table -> (code, HTTP status) raised by its next ExportTable... calls, in order
        self.transient: dict[str, list[tuple[str, int]]] = {}
        self.throttle_list_once: set[str] = set()  # tables whose next ListExports throttles
        self.exports: dict[str, FakeExport] = {}
        self.tokens: dict[str, tuple[str, str, datetime]] = {}
        self.attempts: Counter[str] = Counter()  # export calls per table, retries included
        self.sleeps: list[float] = []  # backoff delays the engine asked for (not slept)
        self._last_ms = 0
        self._lock = threading.RLock()

    # -- helpers for tests -------------------------------------------------
    def complete_all(self) -> None:
        with self._lock:
            for export in self.exports.values():
                if export.status == "IN_PROGRESS":
                    self._write(export)

    def of_table(self, name: str) -> list[FakeExport]:
        return [e for e in self.exports.values() if e.table_arn.endswith(f":table/{name}")]

    def in_progress(self, account: str) -> int:
        return sum(
            1 for e in self.exports.values() if e.account == account and e.status == "IN_PROGRESS"
        )

    # -- the three patched operations --------------------------------------
    def export_table(self, api: DynamoHandler) -> ActionResult:
        body = dict(api.body)
        with self._lock:
            table_arn = body["TableArn"]
            name = table_arn.rsplit("/", 1)[-1]
            self.attempts[name] += 1
            now = self.clock.now
            if name in self.errors:
                raise _error(self.errors[name], f"injected failure for {name}")
            if self.transient.get(name):
                code, status = self.transient[name].pop(0)
                failure = _error(code, f"injected transient failure for {name}")
                failure.code = status
                raise failure
            # ClientToken: same token + same parameters within 8 h returns the first
            # export; different parameters are a conflict (API reference,
            # ExportTableToPointInTime ClientToken: ExportConflictException, the code
            # the error list defines as a conflict writing to the bucket).
            token = body.get("ClientToken")
            fingerprint = json.dumps(
                {k: v for k, v in body.items() if k != "ClientToken"}, default=str, sort_keys=True
            )
            if token in self.tokens:
                previous_fp, previous_arn, issued = self.tokens[token]
                if now - issued < TOKEN_WINDOW:
                    if previous_fp != fingerprint:
                        raise _error("ExportConflictException", "token reused with other params")
                    return ActionResult(
                        {"ExportDescription": self.exports[previous_arn].description()}
                    )
            table = next(
                (t for t in api.dynamodb_backend.tables.values() if t.table_arn == table_arn), None
            )
            if table is None:
                raise _error("TableNotFoundException", f"Table not found: {name}")
            pitr = table.continuous_backups["PointInTimeRecoveryDescription"]
            if pitr["PointInTimeRecoveryStatus"] != "ENABLED":
                raise PointInTimeRecoveryUnavailable(name)
            self._check_times(body, name, now)
            if self.in_progress(api.current_account) >= self.limit:
                raise _error("LimitExceededException", "Too many exports in progress")
            self._last_ms = max(self._last_ms + 1, int(now.timestamp() * 1000))
            # Real export ids start with the request time in epoch milliseconds.
            export_id = f"{self._last_ms:014d}-{uuid.uuid4().hex[:8]}"
            export = FakeExport(
                arn=f"{table_arn}/export/{export_id}",
                table_arn=table_arn,
                account=api.current_account,
                body=body,
                token=token,
                start=now,
                listed=not self.hide_from_list,
            )
            self.exports[export.arn] = export
            if token:
                self.tokens[token] = (fingerprint, export.arn, now)
            if not self.hold_in_progress:
                self._write(export)
            return ActionResult({"ExportDescription": export.description()})

    def list_exports(self, api: DynamoHandler) -> ActionResult:
        # AWS: newest first ("reverse alphanumeric order of ExportArn"), TableArn
        # optional, MaxResults 1..25 with NextToken.
        body = api.body
        with self._lock:
            table_arn = body.get("TableArn")
            name = str(table_arn).rsplit("/", 1)[-1]
            if name in self.throttle_list_once:
                self.throttle_list_once.discard(name)
                raise _error("ThrottlingException", "Rate exceeded")
            matching = sorted(
                (
                    e
                    for e in self.exports.values()
                    if e.listed
                    and e.account == api.current_account
                    and (table_arn is None or e.table_arn == table_arn)
                ),
                key=lambda e: e.arn,
                reverse=True,
            )
            start = int(body.get("NextToken") or 0)
            size = int(body.get("MaxResults") or 25)
            page = matching[start : start + size]
            result: dict[str, Any] = {
                "ExportSummaries": [
                    {
                        "ExportArn": e.arn,
                        "ExportStatus": e.status,
                        "ExportType": e.body["ExportType"],
                    }
                    for e in page
                ]
            }
            if start + size < len(matching):
                result["NextToken"] = str(start + size)
            return ActionResult(result)

    def describe_export(self, api: DynamoHandler) -> ActionResult:
        with self._lock:
            export = self.exports.get(api.body["ExportArn"])
            if export is None:
                raise _error("ExportNotFoundException", "export not found")
            return ActionResult({"ExportDescription": export.description()})

    def _check_times(self, body: dict[str, Any], name: str, now: datetime) -> None:
        if body.get("ExportType") == "INCREMENTAL_EXPORT":
            spec = body.get("IncrementalExportSpecification") or {}
            start, end = _utc(spec.get("ExportFromTime")), _utc(spec.get("ExportToTime"))
            if body.get("ExportTime") is not None or start is None or end is None:
                raise _error("ValidationException", "incremental needs From/To and no ExportTime")
            # Incremental window: 15 minutes to 24 hours (AWS Database Blog, 2023).
            if not timedelta(minutes=15) <= end - start <= timedelta(hours=24):
                raise _error("ValidationException", f"bad incremental window {start}..{end}")
            earliest, latest = start, end
        else:
            export_time = _utc(body.get("ExportTime")) or now
            earliest = latest = export_time
        if latest > now or earliest < self.pitr_earliest.get(
            name, datetime.min.replace(tzinfo=UTC)
        ):
            raise _error("InvalidExportTimeException", "outside the PITR window")

    def _write(self, export: FakeExport) -> None:
        # Output layout per the Developer Guide (S3DataExport.Output):
        # <prefix>/AWSDynamoDB/<id>/{_started, manifest-summary.json, data/...}.
        body = export.body
        owner = body.get("S3BucketOwner") or export.account
        s3 = s3_backends[owner]["aws"]
        export.end = self.clock.now
        if body["S3Bucket"] not in s3.buckets:
            export.status, export.failure_code = "FAILED", "S3NoSuchBucket"
            return
        from moto.dynamodb.models import dynamodb_backends

        ddb = dynamodb_backends[export.account][REGION]
        table = next(t for t in ddb.tables.values() if t.table_arn == export.table_arn)
        lines = [
            dynamo_json_dump(item.to_json(root_attr_name="Item")) for item in table.all_items()
        ]
        base = f"{body['S3Prefix']}/AWSDynamoDB/{export.arn.rsplit('/', 1)[-1]}"
        data_key = f"{base}/data/{uuid.uuid4().hex}.json.gz"
        summary = {
            "exportArn": export.arn,
            "tableArn": export.table_arn,
            "exportTime": str(_utc(body.get("ExportTime"))),
            "s3Prefix": body["S3Prefix"],
            "outputFormat": body.get("ExportFormat"),
            "exportType": body.get("ExportType"),
            "itemCount": len(lines),
        }
        s3.put_object(body["S3Bucket"], f"{base}/_started", b"")
        s3.put_object(body["S3Bucket"], data_key, gzip.compress("\n".join(lines).encode()))
        s3.put_object(
            body["S3Bucket"], f"{base}/manifest-summary.json", json.dumps(summary).encode()
        )
        export.item_count = len(lines)
        export.status = "COMPLETED"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(datetime(2025, 3, 10, 0, 5, tzinfo=UTC))
    monkeypatch.setattr(handler, "utcnow", fake)
    return fake


@pytest.fixture
def exports(
    aws_env: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeExportService]:
    service = FakeExportService(clock)

    # moto dispatches only to plain functions of the handler class, not bound methods.
    def export_table(api: DynamoHandler) -> ActionResult:
        return service.export_table(api)

    def list_exports(api: DynamoHandler) -> ActionResult:
        return service.list_exports(api)

    def describe_export(api: DynamoHandler) -> ActionResult:
        return service.describe_export(api)

    monkeypatch.setattr(DynamoHandler, "export_table_to_point_in_time", export_table)
    monkeypatch.setattr(DynamoHandler, "list_exports", list_exports)
    monkeypatch.setattr(DynamoHandler, "describe_export", describe_export)
    # Backoff between export attempts is recorded, not slept, to keep the tests fast.
    monkeypatch.setattr(export_engine, "backoff_sleep", service.sleeps.append)
    handler._caller_identity.cache_clear()
    with mock_aws():
        _create_backup_bucket()
        yield service


def _backup_account_client(service: str) -> Any:
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


def _create_backup_bucket() -> None:
    _backup_account_client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def _ddb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def _create_tables(names: list[str], *, pitr: bool = True) -> None:
    client = _ddb()
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


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{SOURCE_ACCOUNT}:table/{name}"


def _names(entries: list[dict[str, str]]) -> list[str]:
    return sorted(entry["table"] for entry in entries)


def _run(event: Any = None, context: Any = CONTEXT) -> dict[str, Any]:
    # Lambda parses the environment once per cold start; the tests change it per
    # test, so every invocation here starts cold.
    handler.cold_start()
    result: dict[str, Any] = handler.lambda_handler(EVENT if event is None else event, context)
    return result


def _start_foreign_export(name: str, prefix: str = "other-tool") -> None:
    # An export another tool started: different prefix, counts against the quota.
    _ddb().export_table_to_point_in_time(
        TableArn=_table_arn(name),
        S3Bucket=BUCKET,
        S3BucketOwner=BACKUP_ACCOUNT,
        S3Prefix=prefix,
        ExportTime=DAY - timedelta(hours=1),
        ExportFormat="DYNAMODB_JSON",
        ExportType="FULL_EXPORT",
    )


# ---------------------------------------------------------------------------


def test_first_run_exports_every_table_over_several_list_pages(
    exports: FakeExportService,
) -> None:
    with_pitr = [f"orders-{i:03d}" for i in range(101)]
    without_pitr = ["scratch-a", "scratch-b"]
    _create_tables(with_pitr)
    _create_tables(without_pitr, pitr=False)

    summary = _run()

    assert summary["exportTime"] == "2025-03-10T00:00:00+00:00"
    assert _names(summary["started"]) == with_pitr
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


def test_data_lands_in_the_other_accounts_bucket_under_the_seed_layout(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_SSE_ALGORITHM", "KMS")
    monkeypatch.setenv("S3_SSE_KMS_KEY_ID", f"arn:aws:kms:{REGION}:{BACKUP_ACCOUNT}:key/k1")
    monkeypatch.setenv("EXPORT_FORMAT", "ION")
    _create_tables(["users"])

    summary = _run()

    export_arn = summary["started"][0]["exportArn"]
    export_id = export_arn.rsplit("/", 1)[-1]
    keys = [
        obj["Key"]
        for obj in _backup_account_client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    ]
    base = f"prod/users/2025/03/10/AWSDynamoDB/{export_id}"
    assert f"{base}/manifest-summary.json" in keys
    assert any(key.startswith(f"{base}/data/") for key in keys)
    body = exports.exports[export_arn].body
    assert body["S3BucketOwner"] == BACKUP_ACCOUNT
    assert body["S3SseAlgorithm"] == "KMS"
    assert body["S3SseKmsKeyId"] == f"arn:aws:kms:{REGION}:{BACKUP_ACCOUNT}:key/k1"
    assert body["ExportFormat"] == "ION"
    assert _utc(body["ExportTime"]) == DAY
    assert "IncrementalExportSpecification" not in body


def test_rerun_within_8_hours_reuses_the_export_via_client_token(
    exports: FakeExportService, clock: Clock
) -> None:
    _create_tables(["a", "b"])
    # ListExports lags behind the first run's exports, so only ClientToken can
    # prevent duplicates (AWS: idempotent for 8 hours).
    exports.hide_from_list = True
    first = _run()
    clock.advance(timedelta(hours=2))

    second = _run()

    assert len(exports.exports) == 2
    assert second["started"] == []
    assert {e["exportArn"] for e in second["existing"]} == {
        e["exportArn"] for e in first["started"]
    }
    assert "ClientToken returned" in second["existing"][0]["reason"]


def test_rerun_after_8_hours_is_caught_by_describe_export(
    exports: FakeExportService, clock: Clock
) -> None:
    _create_tables(["a", "b", "c"])
    first = _run()
    clock.advance(timedelta(hours=9))  # ClientTokens have expired

    second = _run()

    assert len(exports.exports) == 3
    assert second["started"] == []
    assert _names(second["existing"]) == ["a", "b", "c"]
    assert {e["exportArn"] for e in second["existing"]} == {
        e["exportArn"] for e in first["started"]
    }
    calls = second["awsCalls"]
    assert calls.get("ExportTableToPointInTime", 0) == 0
    assert calls["ListExports"] == 3 and calls["DescribeExport"] == 3


def test_failed_export_of_the_cut_is_retried_with_a_new_token(
    exports: FakeExportService, clock: Clock
) -> None:
    _create_tables(["a"])
    _backup_account_client("s3").delete_bucket(Bucket=BUCKET)
    exports.hold_in_progress = True
    first = _run()
    exports.complete_all()  # the bucket is missing: AWS fails it with S3NoSuchBucket
    assert _names(first["started"]) == ["a"]
    assert exports.of_table("a")[0].failure_code == "S3NoSuchBucket"

    _create_backup_bucket()
    exports.hold_in_progress = False
    clock.advance(timedelta(hours=1))
    second = _run()

    assert _names(second["started"]) == ["a"]
    tokens = [e.token for e in exports.of_table("a")]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert [e.status for e in exports.of_table("a")] == ["FAILED", "COMPLETED"]


def test_concurrency_cap_counts_exports_already_running(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "5")
    monkeypatch.setenv("EXCLUDE_TABLES", "legacy-*")
    _create_tables(["legacy-1", "t1", "t2", "t3", "t4", "t5"])
    exports.hold_in_progress = True
    # Three exports in flight, one of them on a table this function excludes.
    _start_foreign_export("legacy-1")
    _start_foreign_export("t1")
    _start_foreign_export("t2", prefix="manual")

    summary = _run()

    assert summary["counts"]["inFlightBefore"] == 3
    assert summary["counts"]["capacity"] == 2
    assert len(summary["started"]) == 2
    assert len(summary["deferred"]) == 3
    assert all(d["reason"].startswith("concurrency cap") for d in summary["deferred"])
    assert exports.in_progress(SOURCE_ACCOUNT) == 5


def test_limit_exceeded_defers_the_rest_without_failing_the_run(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "1")
    _create_tables(["t1", "t2", "t3", "t4"])
    exports.hold_in_progress = True
    exports.limit = 2  # the account quota is hit before MAX_CONCURRENT_EXPORTS

    summary = _run()

    assert _names(summary["started"]) == ["t1", "t2"]
    assert _names(summary["deferred"]) == ["t3", "t4"]
    assert "LimitExceededException" in summary["deferred"][0]["reason"]
    assert summary["failed"] == []
    # botocore counts LimitExceededException as throttling; the export client has its
    # retries off and the engine never retries this code: one call for t3, none after.
    assert exports.attempts == Counter({"t1": 1, "t2": 1, "t3": 1})
    assert summary["awsCalls"]["ExportTableToPointInTime"] == 3
    assert exports.sleeps == []


def test_export_throttling_and_5xx_are_retried_with_backoff(
    exports: FakeExportService,
) -> None:
    _create_tables(["a", "b"])
    exports.transient["a"] = [
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("SomethingNew", 503),  # unknown code, retried for its 5xx status
    ]

    summary = _run()

    assert _names(summary["started"]) == ["a", "b"]
    assert exports.attempts == Counter({"a": 4, "b": 1})
    assert summary["awsCalls"]["ExportTableToPointInTime"] == 5  # every attempt counts
    assert len(exports.of_table("a")) == 1
    # Full jitter under a doubling ceiling: 1 s, 2 s, 4 s.
    assert len(exports.sleeps) == 3
    assert all(0 <= delay <= 2**n for n, delay in enumerate(exports.sleeps))


def test_export_throttling_that_never_ends_fails_the_table_and_defers_the_rest(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "1")  # a, then b, then c
    _create_tables(["a", "b", "c"])
    exports.errors["a"] = "ThrottlingException"

    with pytest.raises(handler.ExportsFailedError) as caught:
        _run()

    # 6, not 6 x botocore's attempts: the export client does no retries of its own.
    assert exports.attempts == Counter({"a": export_engine.EXPORT_MAX_ATTEMPTS})
    assert len(exports.sleeps) == export_engine.EXPORT_MAX_ATTEMPTS - 1
    assert sum(exports.sleeps) <= 31
    summary = caught.value.summary
    (failed,) = summary["failed"]
    assert failed["table"] == "a"
    assert "ThrottlingException" in failed["reason"]
    assert "gave up after 6 attempts" in failed["reason"]
    # Throttling that outlasts the backoff would cost every table the same: the rest
    # waits for the next run instead of running the function into its timeout.
    assert _names(summary["deferred"]) == ["b", "c"]
    assert "ThrottlingException" in summary["deferred"][0]["reason"]
    assert "persisted on table a" in summary["deferred"][0]["reason"]


def test_throttled_export_is_deferred_once_another_table_hits_the_limit(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_THREADS", "2")
    _create_tables(["a", "b"])
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

    summary = _run()

    assert _names(summary["deferred"]) == ["a", "b"]
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
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    monkeypatch.setenv("WORKER_THREADS", "1")
    _create_tables(["a"], pitr=False)
    _create_tables(["b", "c", "d"])

    summary = _run()

    assert _names(summary["skipped"]) == ["a"]
    assert _names(summary["started"]) == ["b", "c"]
    assert _names(summary["deferred"]) == ["d"]


def test_throttling_is_retried_by_botocore(exports: FakeExportService) -> None:
    _create_tables(["a"])
    exports.throttle_list_once.add("a")

    summary = _run()

    assert _names(summary["started"]) == ["a"]
    assert summary["awsCalls"]["ListExports"] == 1  # one API call, retried inside botocore
    assert exports.throttle_list_once == set()


def test_one_failing_table_does_not_stop_the_others_and_the_run_raises(
    exports: FakeExportService,
) -> None:
    _create_tables(["a", "b", "c"])
    exports.errors["b"] = "AccessDeniedException"

    with pytest.raises(handler.ExportsFailedError) as caught:
        _run()

    assert [d.table for d in caught.value.failed] == ["b"]
    assert "AccessDeniedException" in str(caught.value)
    assert _names(caught.value.summary["started"]) == ["a", "c"]
    assert len(exports.of_table("a")) == 1 and len(exports.of_table("c")) == 1


def test_include_and_exclude_patterns(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCLUDE_TABLES", "orders-*,users")
    monkeypatch.setenv("EXCLUDE_TABLES", "*-tmp")
    _create_tables(["orders-eu", "orders-tmp", "users", "users-archive", "audit"])

    summary = _run()

    assert _names(summary["started"]) == ["orders-eu", "users"]
    assert summary["counts"]["excluded"] == 3
    assert summary["skipped"] == []


def test_pitr_window_starting_after_the_cut_is_skipped(exports: FakeExportService) -> None:
    _create_tables(["new-table", "old-table"])
    exports.pitr_earliest["new-table"] = DAY + timedelta(minutes=2)

    summary = _run()

    assert _names(summary["started"]) == ["old-table"]
    assert _names(summary["skipped"]) == ["new-table"]
    assert "point-in-time recovery window" in summary["skipped"][0]["reason"]


def test_export_conflict_fails_the_table_with_the_message(exports: FakeExportService) -> None:
    # ExportConflictException: "a conflict when writing to the specified S3 bucket".
    _create_tables(["a", "b"])
    exports.errors["a"] = "ExportConflictException"

    with pytest.raises(handler.ExportsFailedError) as caught:
        _run()

    summary = caught.value.summary
    assert _names(summary["failed"]) == ["a"] and summary["existing"] == []
    reason = summary["failed"][0]["reason"]
    assert "ExportConflictException: injected failure for a" in reason
    assert f"s3://{BUCKET}/prod/a/2025/03/10" in reason
    assert exports.attempts["a"] == 1  # not retried
    assert _names(summary["started"]) == ["b"]


@pytest.mark.parametrize(
    "code", ["ImportConflictException", "IdempotentParameterMismatchException"]
)
def test_client_token_mismatch_codes_are_treated_as_already_started(
    exports: FakeExportService, code: str
) -> None:
    _create_tables(["a"])
    exports.errors["a"] = code

    summary = _run()

    assert _names(summary["existing"]) == ["a"]
    assert code in summary["existing"][0]["reason"]
    assert summary["failed"] == []


def test_incremental_without_previous_export_falls_back_to_full(
    exports: FakeExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    _create_tables(["a"])

    summary = _run()

    assert summary["started"][0]["exportType"] == "FULL_EXPORT"
    assert "no previous completed export" in summary["started"][0]["reason"]


def test_incremental_chains_from_the_previous_export(
    exports: FakeExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    _create_tables(["a"])
    clock.now = DAY - timedelta(hours=23, minutes=55)
    _run({"time": "2025-03-09T00:05:00Z"})  # yesterday: full, first in the chain
    clock.now = DAY + timedelta(minutes=5)

    summary = _run()
    again = _run()

    assert summary["started"][0]["exportType"] == "INCREMENTAL_EXPORT"
    body = exports.exports[summary["started"][0]["exportArn"]].body
    spec = body["IncrementalExportSpecification"]
    assert _utc(spec["ExportFromTime"]) == DAY - timedelta(days=1)
    assert _utc(spec["ExportToTime"]) == DAY
    assert spec["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    assert "ExportTime" not in body
    assert body["S3Prefix"] == "prod/a/2025/03/10"
    assert again["started"] == [] and _names(again["existing"]) == ["a"]


def test_incremental_gap_over_24_hours_falls_back_to_full(
    exports: FakeExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    _create_tables(["a"])
    clock.now = DAY - timedelta(days=2)
    _run({"time": "2025-03-08T00:00:00Z"})  # the run of 2025-03-09 never happened
    clock.now = DAY + timedelta(minutes=5)

    summary = _run()

    started = summary["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "over 24 h" in started["reason"]
    assert _utc(exports.exports[started["exportArn"]].body["ExportTime"]) == DAY


def test_incremental_takes_a_periodic_full_export_then_chains_from_it(
    exports: FakeExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Default FULL_EXPORT_INTERVAL_DAYS=7: 2025-03-09 has ordinal 739319 = 7 x 105617.
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    _create_tables(["a"])
    clock.now = DAY - timedelta(days=2, minutes=-5)
    _run({"time": "2025-03-08T00:05:00Z"})  # first of the chain: full
    clock.now = DAY - timedelta(days=1, minutes=-5)

    periodic = _run({"time": "2025-03-09T00:05:00Z"})
    clock.now = DAY + timedelta(minutes=5)
    following = _run()

    started = periodic["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "periodic full export" in started["reason"]
    assert "FULL_EXPORT_INTERVAL_DAYS=7" in started["reason"]
    assert _utc(exports.exports[started["exportArn"]].body["ExportTime"]) == DAY - timedelta(days=1)
    # Stateless: the date decides, no DescribeExport is spent on the chain's end.
    assert periodic["awsCalls"].get("DescribeExport", 0) == 0
    assert following["started"][0]["exportType"] == "INCREMENTAL_EXPORT"
    spec = exports.exports[following["started"][0]["exportArn"]].body[
        "IncrementalExportSpecification"
    ]
    assert _utc(spec["ExportFromTime"]) == DAY - timedelta(days=1)


def test_full_export_interval_is_configurable_and_ignored_for_full_deployments(
    exports: FakeExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2025-03-10 has ordinal 739320: a periodic day for an interval of 2, not of 7.
    monkeypatch.setenv("FULL_EXPORT_INTERVAL_DAYS", "2")
    _create_tables(["incr", "full"])
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    monkeypatch.setenv("INCLUDE_TABLES", "incr")
    clock.now = DAY - timedelta(days=1, minutes=-5)
    _run({"time": "2025-03-09T00:05:00Z"})  # full: first of the chain
    clock.now = DAY + timedelta(minutes=5)

    incremental_deployment = _run()
    monkeypatch.delenv("EXPORT_TYPE")
    monkeypatch.setenv("INCLUDE_TABLES", "full")
    full_deployment = _run()

    started = incremental_deployment["started"][0]
    assert started["exportType"] == "FULL_EXPORT"
    assert "periodic full export (FULL_EXPORT_INTERVAL_DAYS=2" in started["reason"]
    assert full_deployment["started"][0]["exportType"] == "FULL_EXPORT"
    assert "reason" not in full_deployment["started"][0]


def test_incremental_window_under_15_minutes_is_skipped(
    exports: FakeExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_TYPE", "INCREMENTAL_EXPORT")
    _create_tables(["a"])
    _run({"exportTime": "2025-03-09T23:50:00Z"})  # a manual export 10 minutes before

    summary = _run()

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

    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dynamodb_export"]
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


def test_bad_event_field_is_named(exports: FakeExportService) -> None:
    with pytest.raises(InvalidEventError, match="'exportTime'"):
        _run({"exportTime": "last tuesday"})


def test_account_from_sts_without_lambda_context(exports: FakeExportService) -> None:
    _create_tables(["a"])

    summary = _run(context=None)

    assert summary["started"][0]["exportArn"].startswith(_table_arn("a") + "/export/")


def test_one_json_log_line_per_table_plus_totals(
    exports: FakeExportService, caplog: pytest.LogCaptureFixture
) -> None:
    _create_tables(["a", "b"])
    _create_tables(["c"], pitr=False)
    caplog.set_level("INFO", logger="dynamodb_export")

    _run()

    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dynamodb_export"]
    tables = sorted((r["table"], r["decision"]) for r in records if r["event"] == "table")
    assert tables == [("a", "started"), ("b", "started"), ("c", "skipped")]
    totals = [r for r in records if r["event"] == "totals"]
    assert len(totals) == 1 and totals[0]["started"] == 2 and totals[0]["skipped"] == 1
    # The deployment's backlog alarm reads `$.deferred` from this line (a log metric filter).
    assert totals[0]["deferred"] == 0
