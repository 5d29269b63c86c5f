"""Decide and start one export per DynamoDB table, within the account's export limit.

The first run of a cut scans every table (`Exporter.scan`):

1. ListExports per table (first page only, newest first) tells which exports are in
   flight in the account and, with at most MAX_DESCRIBES DescribeExport calls,
   whether this cut was already exported (and, for incremental exports, where the
   previous export of the chain ended).

Every run then starts exports for tables that still need one (`Exporter.start`),
never more than the free slots it is given. A table whose first ListExports failed, or
that a dead run may have started, is **checked** first (`Exporter.check`: ListExports,
DescribeExport), so no table is exported twice for a cut. These calls go through a
client without botocore retries; `Exporter` retries throttling and transient errors
itself a few times and never LimitExceededException (see EXPORT_MAX_ATTEMPTS); what
outlasts that is deferred with back-off across waves (`Decision.backoff`). What a run
carries over between invocations (in-flight exports, tables still to start) is
export_run's business.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from export_config import (
    INCREMENTAL_MAX_WINDOW,
    INCREMENTAL_MIN_WINDOW,
    MIN_PITR_WINDOW,
    Scope,
    Settings,
    s3_prefix,
    table_root,
)

# Bounded so that a table exported by other tools many times a day cannot make the
# run expensive; if the cap is hit we start an export, which ClientToken keeps
# idempotent for 8 hours.
MAX_DESCRIBES = 3
# ListExports allows 1..25 results per page.
LIST_EXPORTS_PAGE = 25
# Export ids start with the request time in epoch milliseconds
# (".../export/01234567890123-a1b2c3d4"). An export requested before the cut cannot
# be an export *of* the cut, so it needs no DescribeExport to rule it out. The slack
# absorbs clock skew between AWS and this function.
_CLOCK_SLACK = timedelta(minutes=5)

# "ClientToken reused with other parameters" under the names other DynamoDB operations
# use (ImportTable, TransactWriteItems); neither is in ExportTableToPointInTime's error
# list, so this is a guard in case AWS returns one. The token hashes every parameter
# we send, so a mismatch can only come from AWS comparing a value differently from
# how we sent it: the export bound to the token is then this function's own request
# for this table and cut, hence "already started".
# ExportConflictException is deliberately absent: the API's error list defines it as
# "a conflict when writing to the specified S3 bucket", a failure to report. (The
# ClientToken text also names it for a reused token with other parameters; with a
# token that hashes every parameter that would be a bug, also worth failing loudly.)
_ALREADY_STARTED_CODES = frozenset(
    {"ImportConflictException", "IdempotentParameterMismatchException"}
)

# ExportTableToPointInTime is called through a client with botocore retries turned
# off (total_max_attempts=1) and retried here, because botocore's standard mode counts
# LimitExceededException as throttling, and the needs-retry hook that could veto that
# behaves differently across botocore versions (older ones sleep `False` seconds and
# retry without limit). Only these codes, 5xx and connection errors are retried;
# ClientToken makes a repeated call safe even when the first one did start an export.
EXPORT_RETRY_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
EXPORT_MAX_ATTEMPTS = 6
# Full jitter: the n-th retry waits uniform(0, min(cap, base * 2**(n-1))) seconds, at
# most 1 + 2 + 4 + 8 + 16 = 31 s per table; exports are started once a day.
EXPORT_BACKOFF_BASE_S = 1.0
EXPORT_BACKOFF_CAP_S = 20.0
# Point-in-time recovery's LatestRestorableDateTime "is typically 5 minutes before the
# current time" (DynamoDB API reference, PointInTimeRecoveryDescription). An
# InvalidExportTimeException for a cut younger than this is "not restorable yet", to
# be retried, not a table whose PITR window starts after the cut.
RECENT_CUT = timedelta(hours=1)
# A PITR window whose EarliestRestorableDateTime is this close to now - RecoveryPeriodInDays
# is full: it has moved past the cut rather than begun after it.
WINDOW_SLACK = timedelta(hours=1)

DynamoDBClient = Any  # boto3 ships no type stubs; the client is dynamically built.


class Outcome(enum.Enum):
    """What happened to one table in this run."""

    STARTED = "started"
    EXISTING = "existing"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    FAILED = "failed"
    # Reported by later runs of the cut: an export found finished, a table never started.
    COMPLETED = "completed"
    MISSED = "missed"


@dataclass(frozen=True)
class Table:
    """A table of the account and Region."""

    name: str
    arn: str


@dataclass(frozen=True)
class Decision:
    """The final word on one table, as reported and logged."""

    table: str
    outcome: Outcome
    reason: str | None = None
    export_arn: str | None = None
    export_type: str | None = None
    # For exports: IN_PROGRESS, COMPLETED or FAILED as last seen, and when AWS started it.
    status: str | None = None
    started_at: datetime | None = None
    # A retryable failure (DEFERRED) or a failure worth retrying (FAILED): the table is
    # tried again after its back-off, with the same ClientToken.
    backoff: bool = False

    def as_dict(self) -> dict[str, str]:
        """Summary entry: {table, exportArn} for exports, {table, reason} otherwise."""
        entry = {"table": self.table}
        if self.export_arn is not None:
            entry["exportArn"] = self.export_arn
        if self.reason is not None:
            entry["reason"] = self.reason
        if self.export_type is not None:
            entry["exportType"] = self.export_type
        return entry


@dataclass(frozen=True)
class ExportRequest:
    """A table that needs an export in pass 2."""

    table: Table
    export_type: str
    attempt: int
    from_time: datetime | None = None
    reason: str | None = None
    # False until ListExports has shown whether an export of the cut already exists.
    checked: bool = True


@dataclass
class Scan:
    """Pass 1 result for one table."""

    table: Table
    selected: bool
    in_flight: list[str] = field(default_factory=list)
    plan: Decision | ExportRequest | None = None
    list_error: str | None = None
    # What is reported for a table planned unchecked (its ListExports failed).
    note: Decision | None = None


@dataclass
class ScanResult:
    """What the first run of a cut learned about every table."""

    decisions: list[Decision] = field(default_factory=list)
    requests: list[ExportRequest] = field(default_factory=list)
    # Every IN_PROGRESS export ListExports showed, ours of this cut included.
    in_flight_arns: list[str] = field(default_factory=list)
    tables_seen: int = 0
    excluded: int = 0
    # Excluded tables whose exports could not be listed: their in-flight count is unknown.
    unknown_in_flight: list[str] = field(default_factory=list)


@dataclass
class StartResult:
    """What `Exporter.start` did with the requests it was given, in their order."""

    # Each attempted request (as checked, if it was checked) and its decision.
    outcomes: list[tuple[ExportRequest, Decision]] = field(default_factory=list)
    # LimitExceededException was seen: the account is at its export quota.
    limit_exceeded: bool = False
    # A transient error outlasted a table's retries and stopped the starts: that table
    # backs off, and the next wave waits for it rather than hitting the storm again.
    stalled: bool = False

    @property
    def decisions(self) -> list[Decision]:
        """The decisions alone."""
        return [decision for _request, decision in self.outcomes]


def backoff_sleep(seconds: float) -> None:
    """Wait between export attempts; a module function so tests can skip the wait."""
    time.sleep(seconds)


def backoff_delay(retry: int) -> float:
    """Seconds to wait before retry number `retry` (1-based), with full jitter."""
    ceiling = min(EXPORT_BACKOFF_CAP_S, EXPORT_BACKOFF_BASE_S * 2 ** (retry - 1))
    # Jitter spreads the worker threads' retries; not used for anything secret.
    return random.uniform(0, ceiling)


def is_retryable_export_error(exc: Exception) -> bool:
    """Throttling, 5xx and connection errors: worth another ExportTableToPointInTime."""
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        if code == "LimitExceededException":
            # The account has its 300 exports in flight: seconds of waiting won't help.
            return False
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in EXPORT_RETRY_CODES or (isinstance(status, int) and status >= 500)
    return isinstance(exc, BotocoreConnectionError | HTTPClientError)


def is_selected(name: str, settings: Settings) -> bool:
    """INCLUDE_TABLES (empty = all) minus EXCLUDE_TABLES; fnmatch, case-sensitive."""
    if settings.include_tables and not any(
        fnmatch.fnmatchcase(name, pattern) for pattern in settings.include_tables
    ):
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in settings.exclude_tables)


def list_tables(client: DynamoDBClient, scope: Scope) -> list[Table]:
    """Every table of the account and Region (ListTables pages hold at most 100)."""
    tables: list[Table] = []
    for page in client.get_paginator("list_tables").paginate():
        for name in page.get("TableNames", []):
            tables.append(Table(name=str(name), arn=scope.table_arn(str(name))))
    return tables


def client_token(settings: Settings, scope: Scope, request: ExportRequest, cut: datetime) -> str:
    """Deterministic token: same table, cut and parameters give the same export.

    The attempt suffix lets a run retry a FAILED export of the same cut: within the
    8-hour window the old token would just hand back the failed export.
    """
    material = json.dumps(
        [
            request.table.arn,
            cut.isoformat(),
            request.export_type,
            request.from_time.isoformat() if request.from_time else None,
            settings.export_format,
            settings.view_type if request.export_type == "INCREMENTAL_EXPORT" else None,
            settings.bucket,
            settings.bucket_owner,
            s3_prefix(settings, scope, request.table.name, cut),
            settings.sse_algorithm,
            settings.kms_key_id,
        ]
    )
    return f"{hashlib.sha256(material.encode()).hexdigest()[:40]}-{request.attempt}"


def export_requested_at(export_arn: str) -> datetime | None:
    """Request time encoded in an export id, or None if the id has another shape."""
    export_id = export_arn.rsplit("/", 1)[-1]
    millis = export_id.split("-", 1)[0]
    if len(millis) < 13 or not millis.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    except (OverflowError, ValueError):
        return None


def _as_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _export_end(description: Mapping[str, Any]) -> datetime | None:
    """Where an export leaves the chain: ExportTime (full) or ExportToTime (incremental)."""
    if description.get("ExportType") == "INCREMENTAL_EXPORT":
        spec = description.get("IncrementalExportSpecification") or {}
        return _as_utc(spec.get("ExportToTime"))
    return _as_utc(description.get("ExportTime"))


def _covers_cut(
    description: Mapping[str, Any], settings: Settings, prefix: str, cut: datetime
) -> bool:
    if description.get("S3Bucket") != settings.bucket or description.get("S3Prefix") != prefix:
        return False
    if not settings.incremental and description.get("ExportType") == "INCREMENTAL_EXPORT":
        # A full deployment wants a full snapshot; a changes-only export is not one.
        return False
    return _export_end(description) == cut


def plan_table(
    client: DynamoDBClient,
    settings: Settings,
    scope: Scope,
    table: Table,
    summaries: list[Mapping[str, Any]],
    cut: datetime,
) -> Decision | ExportRequest:
    """Decide from the table's newest export summaries what this run must do."""
    prefix = s3_prefix(settings, scope, table.name, cut)
    root = table_root(settings, scope, table.name)
    failed_for_cut = 0
    chain_end: datetime | None = None
    describes = 0
    # On a periodic full day the chain's end is not needed: no describe is spent on it.
    periodic_full = settings.incremental and settings.is_periodic_full_day(cut)
    chains = settings.incremental and not periodic_full
    for summary in summaries:
        arn = str(summary.get("ExportArn", ""))
        status = summary.get("ExportStatus")
        requested = export_requested_at(arn)
        may_be_this_cut = requested is None or requested >= cut - _CLOCK_SLACK
        wants_chain_end = chains and chain_end is None and status == "COMPLETED"
        if not may_be_this_cut and not wants_chain_end:
            if chains and chain_end is None:
                continue
            # Summaries are newest first, so every later one is older still.
            break
        if describes >= MAX_DESCRIBES:
            break
        describes += 1
        description: Mapping[str, Any] = client.describe_export(ExportArn=arn)["ExportDescription"]
        current = description.get("ExportStatus", status)
        if _covers_cut(description, settings, prefix, cut):
            if current in ("IN_PROGRESS", "COMPLETED"):
                return Decision(
                    table.name,
                    Outcome.EXISTING,
                    reason=f"export of this cut already {current}",
                    export_arn=arn,
                    export_type=str(description.get("ExportType", "")) or None,
                    status=str(current),
                    started_at=_as_utc(description.get("StartTime")),
                )
            if current == "FAILED":
                failed_for_cut += 1
            continue
        if (
            wants_chain_end
            and current == "COMPLETED"
            and description.get("S3Bucket") == settings.bucket
            and str(description.get("S3Prefix", "")).startswith(root)
        ):
            end = _export_end(description)
            if end is not None and end < cut:
                chain_end = end

    attempt = failed_for_cut + 1
    if not settings.incremental:
        return ExportRequest(table, "FULL_EXPORT", attempt)
    if periodic_full:
        # Bounds the chain a restore needs to FULL_EXPORT_INTERVAL_DAYS, which the
        # bucket's retention exceeds; an endless chain would lose its full export to
        # the lifecycle rule and become unrestorable.
        return ExportRequest(
            table,
            "FULL_EXPORT",
            attempt,
            reason=(
                "periodic full export (FULL_EXPORT_INTERVAL_DAYS="
                f"{settings.full_export_interval_days}; incremental on other days)"
            ),
        )
    if chain_end is None:
        return ExportRequest(
            table,
            "FULL_EXPORT",
            attempt,
            reason="incremental requested but no previous completed export found: full export",
        )
    gap = cut - chain_end
    if gap > INCREMENTAL_MAX_WINDOW:
        return ExportRequest(
            table,
            "FULL_EXPORT",
            attempt,
            reason=(
                f"incremental requested but previous export ends {chain_end.isoformat()}, "
                f"{gap} before the cut (over 24 h): full export"
            ),
        )
    if gap < INCREMENTAL_MIN_WINDOW:
        return Decision(
            table.name,
            Outcome.SKIPPED,
            reason=(
                f"previous export already covers up to {chain_end.isoformat()}, less than "
                "15 minutes before the cut; the next run continues from there"
            ),
        )
    return ExportRequest(table, "INCREMENTAL_EXPORT", attempt, from_time=chain_end)


class _Capacity:
    """Export slots left under MAX_CONCURRENT_EXPORTS, shared by the pass 2 workers.

    A slot is held while a call is in flight and given back unless an export
    started, so tables without PITR do not use up capacity. A worker waits only
    while another call could still give a slot back.
    """

    def __init__(self, slots: int) -> None:
        self._free = max(0, slots)
        self._pending = 0
        self._stop_reason: str | None = None
        self._cond = threading.Condition()

    def acquire(self) -> bool:
        with self._cond:
            while self._stop_reason is None and self._free == 0 and self._pending > 0:
                self._cond.wait()
            if self._stop_reason is not None or self._free == 0:
                return False
            self._free -= 1
            self._pending += 1
            return True

    def release(self, *, started: bool) -> None:
        with self._cond:
            self._pending -= 1
            if not started:
                self._free += 1
            self._cond.notify_all()

    def stop(self, reason: str) -> None:
        """No more starts this run; the first reason is what deferred tables report."""
        with self._cond:
            if self._stop_reason is None:
                self._stop_reason = reason
            self._cond.notify_all()

    @property
    def stop_reason(self) -> str | None:
        """Why starts were stopped, or None while they are not."""
        with self._cond:
            return self._stop_reason

    @property
    def free(self) -> int:
        """Slots neither used nor held by a call in flight."""
        with self._cond:
            return self._free


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{_error_code(exc)}: {message}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class Exporter:
    """The AWS side of one run: scan tables (first run of a cut), start exports.

    `client` serves ListExports and DescribeExport with botocore's retries;
    `export_client` must have them off (total_max_attempts=1), as this class retries
    ExportTableToPointInTime itself (see EXPORT_RETRY_CODES).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        scope: Scope,
        cut: datetime,
        started_at: datetime,
        on_decision: Callable[[Decision], None] = lambda _decision: None,
        *,
        export_client: DynamoDBClient,
    ) -> None:
        self._client = client
        self._export_client = export_client
        self._settings = settings
        self._scope = scope
        self._cut = cut
        self._started_at = started_at
        self._on_decision = on_decision

    def _decide(self, decision: Decision) -> Decision:
        self._on_decision(decision)
        return decision

    def _summaries(self, table: Table) -> list[Mapping[str, Any]]:
        """The table's newest export summaries (ListExports, first page)."""
        page = self._client.list_exports(TableArn=table.arn, MaxResults=LIST_EXPORTS_PAGE)
        return list(page.get("ExportSummaries", []))

    def _scan(self, table: Table, selected: bool) -> Scan:
        scan = Scan(table=table, selected=selected)
        try:
            summaries = self._summaries(table)
            scan.in_flight = [
                str(s.get("ExportArn")) for s in summaries if s.get("ExportStatus") == "IN_PROGRESS"
            ]
            if selected:
                scan.plan = plan_table(
                    self._client, self._settings, self._scope, table, summaries, self._cut
                )
        # One table's trouble (a throttling storm that outlasts botocore's retry quota, a
        # malformed answer, a bug) must not cost it, or any other table, the cut: the
        # table is planned unchecked, and checked again before its export starts.
        except Exception as exc:  # noqa: BLE001
            scan.list_error = _error_text(exc)
            if selected:
                # The type (and an incremental window) is decided when it is checked.
                scan.plan = ExportRequest(table, self._settings.export_type, 1, checked=False)
                scan.note = self._decide(
                    Decision(
                        table.name,
                        Outcome.DEFERRED,
                        reason=(
                            f"checking exports: {scan.list_error}; checked again before its "
                            "export starts"
                        ),
                    )
                )
        if isinstance(scan.plan, Decision):
            self._decide(scan.plan)
        return scan

    def check(self, request: ExportRequest) -> Decision | ExportRequest:
        """Whether an export of the cut exists for an unchecked request (ListExports first).

        The request as planned now, a Decision (existing, skipped), or a DEFERRED one
        with back-off when ListExports or DescribeExport fails again.
        """
        try:
            summaries = self._summaries(request.table)
            plan = plan_table(
                self._client, self._settings, self._scope, request.table, summaries, self._cut
            )
        # Same as _scan: the table waits for its next try; the others go on.
        except Exception as exc:  # noqa: BLE001
            return Decision(
                request.table.name,
                Outcome.DEFERRED,
                reason=f"checking exports: {_error_text(exc)}",
                backoff=True,
            )
        if isinstance(plan, Decision):
            return plan
        # An export that FAILED since the plan counts in plan's attempt; a later attempt
        # number than the one planned is never given back.
        return ExportRequest(
            plan.table,
            plan.export_type,
            max(plan.attempt, request.attempt),
            from_time=plan.from_time,
            reason=plan.reason or request.reason,
        )

    def scan(self, tables: Iterable[Table]) -> ScanResult:
        """Pass 1 over every table: what is in flight, what each selected table needs."""
        settings = self._settings
        all_tables = list(tables)
        with ThreadPoolExecutor(
            max_workers=settings.worker_threads, thread_name_prefix="scan"
        ) as pool:
            # Excluded tables are listed too: their exports count against the same
            # account-wide limit.
            scans = list(
                pool.map(lambda t: self._scan(t, is_selected(t.name, settings)), all_tables)
            )
        return ScanResult(
            decisions=[d for s in scans for d in (s.plan, s.note) if isinstance(d, Decision)],
            requests=[s.plan for s in scans if isinstance(s.plan, ExportRequest)],
            in_flight_arns=[arn for s in scans for arn in s.in_flight],
            tables_seen=len(all_tables),
            excluded=sum(1 for s in scans if not s.selected),
            unknown_in_flight=[
                s.table.name for s in scans if s.list_error is not None and not s.selected
            ],
        )

    def start(
        self,
        requests: Sequence[ExportRequest],
        slots: int,
        cap_reason: str,
        max_deferred: int | None = None,
    ) -> StartResult:
        """ExportTableToPointInTime for `requests` in order, using at most `slots` slots.

        A table that starts no export (no PITR, an error) gives its slot back, so
        requests are taken in batches of the free slots until the slots are used, the
        requests run out, starts stop (LimitExceededException, throttling that
        outlasts the retries), or `max_deferred` requests were deferred (the caller keeps
        them, and has room for so many). Outcomes are in the order of `requests`; the
        requests after the last outcome were not attempted.
        """
        capacity = _Capacity(slots)
        queue = deque(requests)
        result = StartResult()
        deferred = 0
        with ThreadPoolExecutor(
            max_workers=self._settings.worker_threads, thread_name_prefix="export"
        ) as pool:
            while queue and capacity.free > 0 and capacity.stop_reason is None:
                if max_deferred is not None and deferred >= max_deferred:
                    break
                batch = [queue.popleft() for _ in range(min(capacity.free, len(queue)))]
                outcomes = list(pool.map(lambda r: self._start(r, capacity, cap_reason), batch))
                deferred += sum(1 for _r, d in outcomes if d.outcome is Outcome.DEFERRED)
                result.outcomes.extend(outcomes)
        stop = capacity.stop_reason
        result.limit_exceeded = (stop or "").startswith(_LIMIT_STOP)
        result.stalled = stop is not None and not result.limit_exceeded
        return result

    def _start(
        self, request: ExportRequest, capacity: _Capacity, cap_reason: str
    ) -> tuple[ExportRequest, Decision]:
        name = request.table.name
        stopped = capacity.stop_reason
        if stopped is not None:
            return request, self._decide(Decision(name, Outcome.DEFERRED, reason=stopped))
        if not capacity.acquire():
            reason = capacity.stop_reason or cap_reason
            return request, self._decide(Decision(name, Outcome.DEFERRED, reason=reason))
        started = False
        try:
            planned = request if request.checked else self.check(request)
            if isinstance(planned, Decision):
                decision = planned
            else:
                request = planned
                decision = self._call_export(request, capacity)
            started = decision.outcome is Outcome.STARTED or (
                decision.outcome is Outcome.EXISTING and decision.status == "IN_PROGRESS"
            )
        finally:
            capacity.release(started=started)
        return request, self._decide(decision)

    def _call_export(self, request: ExportRequest, capacity: _Capacity) -> Decision:
        settings = self._settings
        name = request.table.name
        params: dict[str, Any] = {
            "TableArn": request.table.arn,
            "ClientToken": client_token(settings, self._scope, request, self._cut),
            "S3Bucket": settings.bucket,
            "S3BucketOwner": settings.bucket_owner,
            "S3Prefix": s3_prefix(settings, self._scope, name, self._cut),
            "S3SseAlgorithm": settings.sse_algorithm,
            "ExportFormat": settings.export_format,
            "ExportType": request.export_type,
        }
        if settings.kms_key_id is not None:
            params["S3SseKmsKeyId"] = settings.kms_key_id
        if request.export_type == "INCREMENTAL_EXPORT":
            # Incremental exports take their window here and no ExportTime.
            params["IncrementalExportSpecification"] = {
                "ExportFromTime": request.from_time,
                "ExportToTime": self._cut,
                "ExportViewType": settings.view_type,
            }
        else:
            params["ExportTime"] = self._cut
        description = self._request_export(request, params, capacity)
        if isinstance(description, Decision):
            return description
        status = str(description.get("ExportStatus"))
        started_time = _as_utc(description.get("StartTime"))
        reason: str | None
        if status == "FAILED":
            failure = description.get("FailureCode") or description.get("FailureMessage")
            outcome, reason = Outcome.FAILED, f"export FAILED: {failure}"
        elif started_time is not None and started_time < self._started_at.replace(microsecond=0):
            # ClientToken handed back an export an earlier run started (within 8 h,
            # before ListExports showed it): nothing new was started.
            outcome = Outcome.EXISTING
            reason = f"ClientToken returned the export started {started_time.isoformat()}"
        else:
            outcome, reason = Outcome.STARTED, request.reason
            started_time = started_time or self._started_at
        return Decision(
            name,
            outcome,
            reason=reason,
            export_arn=str(description.get("ExportArn")),
            export_type=request.export_type,
            status=status,
            started_at=started_time,
            # A FAILED export handed back by the ClientToken: tried again, with a new one.
            backoff=outcome is Outcome.FAILED,
        )

    def _request_export(
        self, request: ExportRequest, params: Mapping[str, Any], capacity: _Capacity
    ) -> Mapping[str, Any] | Decision:
        """ExportTableToPointInTime with bounded retries: its ExportDescription, or a Decision."""
        name = request.table.name
        last_error: Exception | None = None
        for attempt in range(1, EXPORT_MAX_ATTEMPTS + 1):
            if attempt > 1:
                backoff_sleep(backoff_delay(attempt - 1))
                stopped = capacity.stop_reason
                if stopped is not None:
                    # Another worker hit the account limit (or gave up) while this one
                    # waited: no point in trying again.
                    return Decision(name, Outcome.DEFERRED, reason=stopped)
            try:
                response = self._export_client.export_table_to_point_in_time(**params)
            except Exception as exc:  # noqa: BLE001 - see _scan: isolate one table's failure
                if not is_retryable_export_error(exc):
                    if isinstance(exc, ClientError):
                        return self._classify_error(request, exc, capacity)
                    return Decision(name, Outcome.FAILED, reason=_error_text(exc))
                last_error = exc
                continue
            description: Mapping[str, Any] = response["ExportDescription"]
            return description
        # Only a retryable error on every attempt gets here. Throttling or 5xx that
        # outlasted 31 s of backoff would most likely hit every table alike; going on
        # could cost each remaining table the same, past Lambda's 15 minutes. This table
        # backs off across waves (same ClientToken); the rest wait for the next wave
        # without a try counted against them.
        assert last_error is not None
        error = _error_text(last_error)
        capacity.stop(f"{error} persisted on table {name}: no more exports this run")
        return Decision(
            name,
            Outcome.DEFERRED,
            reason=f"{error} (persisted over {EXPORT_MAX_ATTEMPTS} attempts; tried again later)",
            backoff=True,
        )

    def _classify_error(
        self, request: ExportRequest, exc: ClientError, capacity: _Capacity
    ) -> Decision:
        name = request.table.name
        code = _error_code(exc)
        text = _error_text(exc)
        if code == "PointInTimeRecoveryUnavailableException":
            return Decision(name, Outcome.SKIPPED, reason="point-in-time recovery is not enabled")
        if code == "InvalidExportTimeException":
            if self._started_at - self._cut < RECENT_CUT:
                # The cut is newer than PITR's latest restorable time (a few minutes
                # behind now): the table is fine, the cut is just not restorable yet.
                return Decision(
                    name,
                    Outcome.DEFERRED,
                    reason=f"cut not restorable yet: newer than PITR's latest restorable time ({text})",
                )
            return self._outside_window(request.table, text)
        if code == "TableNotFoundException":
            return Decision(name, Outcome.SKIPPED, reason="table was deleted during the run")
        if code == "ExportConflictException":
            # "A conflict when writing to the specified S3 bucket" (API reference): no
            # export of this table is known to be running, so the table failed; it is
            # tried again after its back-off.
            return Decision(
                name,
                Outcome.FAILED,
                reason=(
                    f"conflict writing to s3://{self._settings.bucket}/"
                    f"{s3_prefix(self._settings, self._scope, name, self._cut)} ({text})"
                ),
                backoff=True,
            )
        if code == "LimitExceededException":
            # The account is at its export limit (exports we could not see, e.g. of
            # other tools or tables deleted since): stop starting new ones, a later
            # run picks the rest up.
            capacity.stop(f"{_LIMIT_STOP} earlier in run")
            return Decision(name, Outcome.DEFERRED, reason=f"account export limit reached ({text})")
        if code in _ALREADY_STARTED_CODES:
            return Decision(
                name,
                Outcome.EXISTING,
                reason=f"an export with this ClientToken already exists ({code})",
                export_type=request.export_type,
            )
        # Anything else (AccessDeniedException, a bucket or key that refuses the export)
        # is reported, and tried again after the table's back-off.
        return Decision(name, Outcome.FAILED, reason=text, backoff=True)

    def _outside_window(self, table: Table, text: str) -> Decision:
        """InvalidExportTimeException for a cut PITR should have caught up with.

        Every PITR window is at least a day long (RecoveryPeriodInDays 1..35, API
        reference, PointInTimeRecoverySpecification), so for a cut younger than that it
        means the window began after the cut (a new table, PITR turned on late): skipped.
        For an older cut the window may instead have moved past it, a day that is lost:
        DescribeContinuousBackups tells them apart. A window that reaches back its whole
        recovery period is full, hence moved past the cut; one that reaches back less
        began after it.
        """
        name = table.name
        if self._started_at - self._cut < MIN_PITR_WINDOW:
            return Decision(
                name,
                Outcome.SKIPPED,
                reason=f"point-in-time recovery began after the cut ({text})",
            )
        try:
            pitr = self._client.describe_continuous_backups(TableName=name)[
                "ContinuousBackupsDescription"
            ].get("PointInTimeRecoveryDescription", {})
            earliest = _as_utc(pitr.get("EarliestRestorableDateTime"))
            period = timedelta(days=int(pitr.get("RecoveryPeriodInDays", 35)))
        # Unknown is treated as lost: an alarm too many beats a silent loss.
        except Exception as exc:  # noqa: BLE001
            return Decision(
                name,
                Outcome.MISSED,
                reason=(
                    f"the point-in-time recovery window no longer reaches the cut, or began "
                    f"after it ({text}; DescribeContinuousBackups: {_error_text(exc)})"
                ),
            )
        if earliest is not None and earliest > self._started_at - period + WINDOW_SLACK:
            return Decision(
                name,
                Outcome.SKIPPED,
                reason=(
                    f"point-in-time recovery began after the cut (earliest restorable "
                    f"{earliest.isoformat()})"
                ),
            )
        return Decision(
            name,
            Outcome.MISSED,
            reason=(
                f"the point-in-time recovery window no longer reaches the cut "
                f"(RecoveryPeriodInDays={period.days}, earliest restorable "
                f"{earliest.isoformat() if earliest else 'unknown'})"
            ),
        )


_LIMIT_STOP = "LimitExceededException"
