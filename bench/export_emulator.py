"""AWS export and scheduling behaviour that moto lacks, for the exporter's tests and benchmark.

moto 5.2.5's export support is thin (moto/dynamodb/models/table_export.py): it
ignores ClientToken, ExportTime and IncrementalExportSpecification, finishes every
export at once, writes no manifests, never raises LimitExceededException or
InvalidExportTimeException, and lists exports unordered with random ids. Its
EventBridge Scheduler stores schedules but never fires them and ignores
ActionAfterCompletion. `ExportService` replaces moto's three export handlers ON
PURPOSE with the AWS behaviour the function relies on (each rule cites the API
reference), and DescribeContinuousBackups so that the PITR window follows the virtual
clock; table lookup, PITR status, S3 objects and the scheduler's schedules still come
from moto's own backends (tests/lambda/test_moto_export_gaps.py fails when moto
catches up). It also injects the faults the exporter must survive: throttled
ListExports, an export API outage, a bucket that denies writes, failing exports. `due_schedules` fires one-time schedules at their
virtual times and deletes them, as ActionAfterCompletion=DELETE does.

Time is a `Clock` the caller moves: exports given a duration finish when the clock
passes their end, so a day of exports runs in seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import PointInTimeRecoveryUnavailable
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.dynamodb.responses import DynamoHandler
from moto.s3.models import s3_backends
from moto.scheduler.models import scheduler_backends

ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
# ClientToken: "idempotent for 8 hours" (API reference, ExportTableToPointInTime).
TOKEN_WINDOW = timedelta(hours=8)
# "up to 300 export tasks ... in flight at once" (DynamoDB service quotas).
AWS_EXPORT_LIMIT = 300
# LatestRestorableDateTime "is typically 5 minutes before the current time"
# (API reference, PointInTimeRecoveryDescription).
PITR_LAG = timedelta(minutes=5)
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


class Clock:
    """Shared fake time for the handler and the export service."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


def utc(value: Any) -> Any:
    """moto's parser hands timestamps over as naive UTC datetimes: make them aware."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(ERROR_PREFIX + code, message)


@dataclass
class FakeExport:
    """One export as AWS would describe it."""

    arn: str
    table_arn: str
    account: str
    region: str
    body: dict[str, Any]
    token: str | None
    start: datetime
    status: str = "IN_PROGRESS"
    failure_code: str | None = None
    end: datetime | None = None
    item_count: int = 0
    listed: bool = True
    due: datetime | None = None  # when a held export with a duration finishes

    def description(self) -> dict[str, Any]:
        """DescribeExport's ExportDescription."""
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
            result["IncrementalExportSpecification"] = {k: utc(v) for k, v in spec.items()}
        else:
            result["ExportTime"] = utc(self.body.get("ExportTime"))
        if self.end:
            result["EndTime"] = self.end
        if self.failure_code:
            result["FailureCode"] = self.failure_code
        return {k: v for k, v in result.items() if v is not None}


class ExportService:
    """AWS export semantics missing from moto, installed over moto's DynamoHandler."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.limit = AWS_EXPORT_LIMIT  # account quota of exports in flight
        self.hold_in_progress = False  # new exports stay IN_PROGRESS until they finish
        # table name -> how long its next export runs (with hold_in_progress); None:
        # until complete_all().
        self.duration: Callable[[str], timedelta] | None = None
        self.hide_from_list = False  # new exports not yet visible to ListExports
        self.pitr_earliest: dict[str, datetime] = {}  # table -> start of PITR window
        self.pitr_lag = timedelta(0)  # how far the latest restorable time lags the clock
        self.errors: dict[str, str] = {}  # table -> error code ExportTable... raises
        # table -> (code, HTTP status) raised by its next ExportTable... calls, in order
        self.transient: dict[str, list[tuple[str, int]]] = {}
        self.throttle_list_once: set[str] = set()  # tables whose next ListExports throttles
        self.fail_next: set[str] = set()  # tables whose next export ends FAILED
        self.fail_always: set[str] = set()  # tables whose every export ends FAILED
        # Faults by time or count (the exporter's fault tests, docs/dynamodb-exporter.md):
        # exports that end before this time fail as a bucket that denies writes would make
        # them; ExportTableToPointInTime answers 500 until `outage_until`; the next
        # `list_storm` ListExports calls are throttled.
        self.deny_writes_until: datetime | None = None
        self.outage_until: datetime | None = None
        self.list_storm = 0
        # Virtual time every export API call takes (the clock moves on by it).
        self.call_latency = timedelta(0)
        self.exports: dict[str, FakeExport] = {}
        self.tokens: dict[str, tuple[str, str, datetime]] = {}
        self.attempts: Counter[str] = Counter()  # export calls per table, retries included
        self.calls: Counter[str] = Counter()  # every request per operation
        self.sleeps: list[float] = []  # backoff delays the engine asked for (not slept)
        self._due: list[tuple[datetime, str]] = []
        self._last_ms = 0
        self._lock = threading.RLock()

    # -- helpers for tests and the benchmark -----------------------------------
    def complete_all(self) -> None:
        """Finish every export still in progress, now."""
        with self._lock:
            for export in self.exports.values():
                if export.status == "IN_PROGRESS":
                    self._write(export, self.clock.now)

    def settle(self) -> None:
        """Finish the exports whose duration has passed on the clock."""
        with self._lock:
            while self._due and self._due[0][0] <= self.clock.now:
                end, arn = heapq.heappop(self._due)
                export = self.exports[arn]
                if export.status == "IN_PROGRESS":
                    self._write(export, end)

    def of_table(self, name: str) -> list[FakeExport]:
        """Every export of one table, oldest first."""
        return [e for e in self.exports.values() if e.table_arn.endswith(f":table/{name}")]

    def in_progress(self, account: str) -> int:
        """Exports in flight in the account."""
        self.settle()
        return sum(
            1 for e in self.exports.values() if e.account == account and e.status == "IN_PROGRESS"
        )

    # -- the three patched operations --------------------------------------
    def export_table(self, api: DynamoHandler) -> ActionResult:
        """ExportTableToPointInTime."""
        body = dict(api.body)
        with self._lock:
            self.settle()
            self.calls["ExportTableToPointInTime"] += 1
            table_arn = body["TableArn"]
            name = table_arn.rsplit("/", 1)[-1]
            self.attempts[name] += 1
            now = self._tick()
            if name in self.errors:
                raise _error(self.errors[name], f"injected failure for {name}")
            if self.outage_until is not None and now < self.outage_until:
                failure = _error("InternalServerError", "injected outage")
                failure.code = 500
                raise failure
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
            self._check_times(table, body, name, now)
            if self.in_progress(api.current_account) >= self.limit:
                raise _error("LimitExceededException", "Too many exports in progress")
            self._last_ms = max(self._last_ms + 1, int(now.timestamp() * 1000))
            # Real export ids start with the request time in epoch milliseconds.
            export_id = f"{self._last_ms:014d}-{uuid.uuid4().hex[:8]}"
            export = FakeExport(
                arn=f"{table_arn}/export/{export_id}",
                table_arn=table_arn,
                account=api.current_account,
                region=api.region,
                body=body,
                token=token,
                start=now,
                listed=not self.hide_from_list,
            )
            self.exports[export.arn] = export
            if token:
                self.tokens[token] = (fingerprint, export.arn, now)
            if not self.hold_in_progress:
                self._write(export, now)
            elif self.duration is not None:
                export.due = now + self.duration(name)
                heapq.heappush(self._due, (export.due, export.arn))
            return ActionResult({"ExportDescription": export.description()})

    def list_exports(self, api: DynamoHandler) -> ActionResult:
        """ListExports: newest first ("reverse alphanumeric order of ExportArn")."""
        body = api.body
        with self._lock:
            self.settle()
            self.calls["ListExports"] += 1
            self._tick()
            table_arn = body.get("TableArn")
            name = str(table_arn).rsplit("/", 1)[-1]
            if name in self.throttle_list_once or self.list_storm > 0:
                self.throttle_list_once.discard(name)
                self.list_storm = max(0, self.list_storm - 1)
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
        """DescribeExport."""
        with self._lock:
            self.settle()
            self.calls["DescribeExport"] += 1
            self._tick()
            export = self.exports.get(api.body["ExportArn"])
            if export is None:
                raise _error("ExportNotFoundException", "export not found")
            return ActionResult({"ExportDescription": export.description()})

    def describe_continuous_backups(self, api: DynamoHandler) -> ActionResult:
        """DescribeContinuousBackups with the PITR window on the virtual clock.

        moto stamps EarliestRestorableDateTime with the real time PITR was turned on and
        never moves it; AWS's window runs from max(PITR start, now - RecoveryPeriodInDays)
        to LatestRestorableDateTime, "typically 5 minutes before the current time" (API
        reference, PointInTimeRecoveryDescription).
        """
        with self._lock:
            self.calls["DescribeContinuousBackups"] += 1
            name = api.body["TableName"]
            table = api.dynamodb_backend.get_table(name)
            backups = json.loads(json.dumps(table.continuous_backups, default=str))
            pitr = backups["PointInTimeRecoveryDescription"]
            if pitr["PointInTimeRecoveryStatus"] == "ENABLED":
                earliest, latest = self._window(table, name, self.clock.now)
                pitr["EarliestRestorableDateTime"] = earliest.timestamp()
                pitr["LatestRestorableDateTime"] = latest.timestamp()
            return ActionResult({"ContinuousBackupsDescription": backups})

    def _window(self, table: Any, name: str, now: datetime) -> tuple[datetime, datetime]:
        """The table's PITR window on the virtual clock: (earliest, latest) restorable time."""
        pitr = table.continuous_backups["PointInTimeRecoveryDescription"]
        period = timedelta(days=int(pitr.get("RecoveryPeriodInDays", 35)))
        start = self.pitr_earliest.get(name, datetime.min.replace(tzinfo=UTC))
        return max(start, now - period), now - self.pitr_lag

    def _tick(self) -> datetime:
        """The call's time; each call takes `call_latency` of virtual time."""
        self.clock.now += self.call_latency
        return self.clock.now

    def _check_times(self, table: Any, body: dict[str, Any], name: str, now: datetime) -> None:
        if body.get("ExportType") == "INCREMENTAL_EXPORT":
            spec = body.get("IncrementalExportSpecification") or {}
            start, end = utc(spec.get("ExportFromTime")), utc(spec.get("ExportToTime"))
            if body.get("ExportTime") is not None or start is None or end is None:
                raise _error("ValidationException", "incremental needs From/To and no ExportTime")
            # Incremental window: 15 minutes to 24 hours (AWS Database Blog, 2023).
            if not timedelta(minutes=15) <= end - start <= timedelta(hours=24):
                raise _error("ValidationException", f"bad incremental window {start}..{end}")
            earliest, latest = start, end
        else:
            export_time = utc(body.get("ExportTime")) or now
            earliest = latest = export_time
        window_start, window_end = self._window(table, name, now)
        if latest > window_end or earliest < window_start:
            raise _error("InvalidExportTimeException", "outside the PITR window")

    def _write(self, export: FakeExport, end: datetime) -> None:
        # Output layout per the Developer Guide (S3DataExport.Output):
        # <prefix>/AWSDynamoDB/<id>/{_started, manifest-summary.json, data/...}.
        body = export.body
        owner = body.get("S3BucketOwner") or export.account
        s3 = s3_backends[owner]["aws"]
        export.end = end
        name = export.table_arn.rsplit("/", 1)[-1]
        if body["S3Bucket"] not in s3.buckets:
            export.status, export.failure_code = "FAILED", "S3NoSuchBucket"
            return
        if name in self.fail_next or name in self.fail_always:
            self.fail_next.discard(name)
            export.status, export.failure_code = "FAILED", "UNKNOWN"
            return
        if self.deny_writes_until is not None and end < self.deny_writes_until:
            # AWS documents no FailureCode values; this one is the emulator's own.
            export.status, export.failure_code = "FAILED", "S3AccessDenied"
            return
        ddb = dynamodb_backends[export.account][export.region]
        table = next(t for t in ddb.tables.values() if t.table_arn == export.table_arn)
        lines = [
            dynamo_json_dump(item.to_json(root_attr_name="Item")) for item in table.all_items()
        ]
        base = f"{body['S3Prefix']}/AWSDynamoDB/{export.arn.rsplit('/', 1)[-1]}"
        data_key = f"{base}/data/{uuid.uuid4().hex}.json.gz"
        summary = {
            "exportArn": export.arn,
            "tableArn": export.table_arn,
            "exportTime": str(utc(body.get("ExportTime"))),
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


@contextmanager
def installed(service: ExportService) -> Iterator[ExportService]:
    """`service` answers moto's export operations and DescribeContinuousBackups in the block."""
    originals = {
        name: getattr(DynamoHandler, name)
        for name in (
            "export_table_to_point_in_time",
            "list_exports",
            "describe_export",
            "describe_continuous_backups",
        )
    }

    # moto dispatches only to plain functions of the handler class, not bound methods.
    def export_table(api: DynamoHandler) -> ActionResult:
        return service.export_table(api)

    def list_exports(api: DynamoHandler) -> ActionResult:
        return service.list_exports(api)

    def describe_export(api: DynamoHandler) -> ActionResult:
        return service.describe_export(api)

    def describe_continuous_backups(api: DynamoHandler) -> ActionResult:
        return service.describe_continuous_backups(api)

    replacements = {
        "export_table_to_point_in_time": export_table,
        "list_exports": list_exports,
        "describe_export": describe_export,
        "describe_continuous_backups": describe_continuous_backups,
    }
    for name, function in replacements.items():
        setattr(DynamoHandler, name, function)
    try:
        yield service
    finally:
        for name, function in originals.items():
            setattr(DynamoHandler, name, function)


@dataclass(frozen=True)
class Firing:
    """A one-time schedule whose time has come."""

    name: str
    at: datetime  # when EventBridge Scheduler invokes the target
    event: dict[str, Any]


def scheduled(account: str, region: str, group: str, *, jitter: bool = False) -> list[Firing]:
    """Every one-time schedule of the group with the time it fires, earliest first.

    Scheduler invokes "between 1:00:00 and 1:00:59" for a 1:00 schedule (User Guide,
    "Schedule types"): with `jitter`, each fires at a second of its minute drawn from
    its name (reproducible); without, on the minute.
    """
    schedules = scheduler_backends[account][region].schedule_groups[group].schedules
    firings: list[Firing] = []
    for name, schedule in schedules.items():
        match = _AT.match(schedule.schedule_expression)
        if match is None:
            continue
        at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        if jitter:
            at += timedelta(seconds=int(hashlib.sha256(name.encode()).hexdigest(), 16) % 60)
        firings.append(Firing(name, at, json.loads(schedule.target["Input"])))
    return sorted(firings, key=lambda f: f.at)


def complete(account: str, region: str, group: str, firing: Firing) -> None:
    """After its invocation: deleted if its ActionAfterCompletion is DELETE, as AWS does."""
    schedules = scheduler_backends[account][region].schedule_groups[group].schedules
    schedule = schedules.get(firing.name)
    if schedule is not None and schedule.action_after_completion == "DELETE":
        del schedules[firing.name]


def due_schedules(
    account: str, region: str, group: str, now: datetime, *, jitter: bool = False
) -> list[Firing]:
    """The schedules that have fired by `now`, each completed (see `complete`)."""
    firings = [f for f in scheduled(account, region, group, jitter=jitter) if f.at <= now]
    for firing in firings:
        complete(account, region, group, firing)
    return firings


def pending_schedules(account: str, region: str, group: str) -> dict[str, str]:
    """Name -> schedule expression of every schedule in the group."""
    schedules = scheduler_backends[account][region].schedule_groups[group].schedules
    return {name: s.schedule_expression for name, s in schedules.items()}


# -- setup shared by the benchmark and the tests ------------------------------------

# A table as small as DynamoDB allows; the exporter never reads items.
TABLE_KEY: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit (low-level form).

    Attribute names plus values: strings and binaries by their length in bytes, numbers
    at most 21 bytes (Developer Guide, "Item sizes and formats").
    """
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        (kind, raw), *_ = value.items()
        if kind == "S":
            size += len(str(raw).encode())
        elif kind == "B":
            size += len(getattr(raw, "value", raw))
        elif kind == "N":
            size += min(21, len(str(raw)) // 2 + 1)
        else:
            size += len(json.dumps(raw, default=str).encode())
    return size


def create_bucket_in(account: str, region: str, bucket: str) -> None:
    """The export bucket, owned by another account (assume_role credentials map to it)."""
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/bucket-owner", RoleSessionName="setup"
    )["Credentials"]
    boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def create_tables(region: str, names: Iterable[str], *, without_pitr: Collection[str] = ()) -> None:
    """Tables in the default account, PITR on except for `without_pitr`."""
    client = boto3.client("dynamodb", region_name=region)

    def create(name: str) -> None:
        client.create_table(TableName=name, **TABLE_KEY)
        if name not in without_pitr:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))
