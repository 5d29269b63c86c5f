"""Virtual-clock makespan of one day of exports: how long until every table's export is out.

The real handler runs in-process against moto with bench/export_emulator.py installed:
exports stay in flight for seeded random durations (8-25 minutes per table), the
account refuses more than 300 in flight (LimitExceededException), and one-time
schedules fire at their virtual times (a second of their minute drawn from their
name, as Scheduler's 60-second precision allows) and are deleted. The day starts
with the daily run at 03:00 (the cut's first run); the catch-up schedule fires at
five past every hour after it. With continuations off, the catch-up runs are the only
later runs ("hourly only").

Export durations: the measured (last) day's are a seeded 8-25 minute draw per table. An
export's duration follows its table's size, which changes slowly, so each earlier day's
duration of a table is the last day's times a seeded factor in [1 - drift, 1 + drift]
(kept within 8-25 minutes): what a deployment remembers from yesterday predicts today
within the drift. AWS documents no such figure; the drift is the benchmark's assumption,
and `drift=None` draws every day anew (yesterday then predicts nothing per table).

Printed per mode: makespan (last export's end - 03:00), the floors
max(sum(durations) / slots, max duration) at the cap and at 300 slots, both ratios,
DynamoDB export API calls per table for the day (every request the emulator saw:
ListExports, DescribeExport, every ExportTableToPointInTime attempt incl. retries and
LimitExceededException), ListTables pages, state-store and Scheduler calls, runs, and
the longest run projected at 100 ms per call.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bench.export_emulator import (
    AWS_EXPORT_LIMIT,
    PITR_LAG,
    TABLE_KEY,
    Clock,
    ExportService,
    complete,
    create_bucket_in,
    create_tables,
    installed,
    item_size,
    scheduled,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda" / "dynamodb_export"))

REGION = "eu-west-1"
SOURCE_ACCOUNT = "123456789012"
BACKUP_ACCOUNT = "333333333333"
BUCKET = "ddb-backup-bench"
STATE_TABLE = "bench-dynamodb-export-state"
FUNCTION = "bench-dynamodb-export"
GROUP = FUNCTION
SCHEDULER_ROLE = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/{FUNCTION}-scheduler"
DAY = datetime(2025, 3, 10, tzinfo=UTC)
DAILY_RUN = DAY + timedelta(hours=3)
MIN_DURATION_MIN, MAX_DURATION_MIN = 8.0, 25.0
CALL_LATENCY_S = 0.1
# Day-to-day change of a table's export duration (see the module docstring).
DEFAULT_DRIFT = 0.10


@dataclass
class DayResult:
    """One simulated day."""

    mode: str
    day: int
    cap: int
    tables: int
    exported: int = 0
    makespan_min: float = float("nan")
    floor_cap_min: float = float("nan")
    floor_300_min: float = float("nan")
    export_api_calls: dict[str, int] = field(default_factory=dict)
    list_tables_calls: int = 0
    state_calls: int = 0
    scheduler_calls: int = 0
    runs: int = 0
    working_runs: int = 0
    longest_run_s: float = 0.0
    missed: int = 0
    failed: int = 0
    # DynamoDB's item sizes in the state table (bytes): the largest item written during
    # the day, and all items at its end.
    state_largest_item: int = 0
    state_bytes: int = 0
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_table(self) -> float:
        """DynamoDB export API calls (ListExports, DescribeExport, exports) per table."""
        return sum(self.export_api_calls.values()) / self.tables


def table_names(tables: int, no_pitr_share: float) -> tuple[list[str], set[str]]:
    """`tables` names, every n-th of them without PITR for the given share."""
    names = [f"table-{i:05d}" for i in range(tables)]
    every = round(1 / no_pitr_share) if no_pitr_share > 0 else 0
    return names, {n for i, n in enumerate(names) if every and i % every == every - 1}


def durations_for(names: list[str], seed: int) -> dict[str, timedelta]:
    """Seeded 8-25 minute durations, one per table, the same in every mode."""
    rng = random.Random(seed)
    return {
        name: timedelta(minutes=rng.uniform(MIN_DURATION_MIN, MAX_DURATION_MIN)) for name in names
    }


def drifted(durations: dict[str, timedelta], drift: float, seed: int) -> dict[str, timedelta]:
    """Each duration times a seeded factor in [1 - drift, 1 + drift], kept within 8-25 min."""
    rng = random.Random(seed)
    low, high = timedelta(minutes=MIN_DURATION_MIN), timedelta(minutes=MAX_DURATION_MIN)
    return {
        name: min(high, max(low, value * rng.uniform(1 - drift, 1 + drift)))
        for name, value in durations.items()
    }


def floor_minutes(durations: list[float], slots: int) -> float:
    """No schedule does better: all work packed into `slots`, or the longest export."""
    return max(sum(durations) / slots, max(durations))


@contextmanager
def bench_environment(
    cap: int, continuations: bool, extra: dict[str, str] | None = None
) -> Iterator[None]:
    """The function's environment (and fake credentials) for the block, restored after."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "S3_BUCKET_DEST": BUCKET,
            "S3_BUCKET_OWNER": BACKUP_ACCOUNT,
            "ENV": "bench",
            "STATE_TABLE": STATE_TABLE,
            "MAX_CONCURRENT_EXPORTS": str(cap),
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            **(extra or {}),
        }
    )
    for name in ("AWS_PROFILE", "SCHEDULE_GROUP", "SCHEDULER_ROLE_ARN"):
        os.environ.pop(name, None)
    if extra is None or "AWS_ENDPOINT_URL" not in extra:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    if continuations:
        os.environ["SCHEDULE_GROUP"] = GROUP
        os.environ["SCHEDULER_ROLE_ARN"] = SCHEDULER_ROLE
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def setup_accounts(names: list[str], without_pitr: set[str]) -> None:
    """Bucket in the backup account; state table, schedule group and tables in the source."""
    create_bucket_in(BACKUP_ACCOUNT, REGION, BUCKET)
    boto3.client("dynamodb", region_name=REGION).create_table(TableName=STATE_TABLE, **TABLE_KEY)
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=GROUP)
    create_tables(REGION, names, without_pitr=without_pitr)


def _projected_seconds(summary: dict[str, Any], threads: int) -> float:
    """The run's time at CALL_LATENCY_S per call: per-table calls share the threads."""
    calls = dict(summary["awsCalls"])
    sequential = calls.pop("ListTables", 0)
    sequential += sum(summary["stateCalls"].values()) + sum(summary["schedulerCalls"].values())
    seconds: float = (sum(calls.values()) / threads + sequential) * CALL_LATENCY_S
    return seconds


def _run_day(
    handler: Any,
    service: ExportService,
    clock: Clock,
    context: Any,
    day: datetime,
    continuations: bool,
    runs: list[dict[str, Any]],
) -> None:
    """Invoke the handler at every event of one day, in time order."""
    daily = day + timedelta(hours=3)
    cron = [daily] + [day + timedelta(hours=h, minutes=5) for h in range(3, 24)]
    end_of_day = day + timedelta(days=1)
    while True:
        candidates: list[tuple[datetime, dict[str, Any], Any]] = [
            (t, {"time": t.isoformat()}, None) for t in cron[:1]
        ]
        if continuations:
            candidates += [
                (f.at, f.event, f)
                for f in scheduled(SOURCE_ACCOUNT, REGION, GROUP, jitter=True)[:1]
            ]
        if not candidates:
            return
        at, event, firing = min(candidates, key=lambda c: c[0])
        if at >= end_of_day:
            return
        if firing is None:
            cron.pop(0)
        else:
            complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
        clock.now = at
        service.settle()
        try:
            summary = handler.lambda_handler(event, context)
        except handler.ExportsFailedError as error:
            summary = error.summary
        runs.append(summary)


def simulate(
    tables: int,
    cap: int,
    *,
    continuations: bool,
    seed: int,
    no_pitr_share: float,
    threads: int,
    days: int = 2,
    drift: float | None = DEFAULT_DRIFT,
) -> list[DayResult]:
    """`days` days (each: the daily run at 03:00, catch-ups at :05, continuations if on).

    One result per day. The first day is a new deployment (no state); later days have
    the state the days before left, as a real deployment does. Durations: see the
    module docstring.
    """
    names, without_pitr = table_names(tables, no_pitr_share)
    exported_names = sorted(set(names) - without_pitr)
    last = durations_for(exported_names, seed)
    per_day = [
        last
        if day == days - 1
        else durations_for(exported_names, seed + 1000 + day)
        if drift is None
        else drifted(last, drift, seed + 1000 + day)
        for day in range(days)
    ]
    durations = dict(per_day[0])
    first_day = DAY - timedelta(days=days - 1)
    clock = Clock(first_day + timedelta(hours=3))
    service = ExportService(clock)
    service.hold_in_progress = True
    service.duration = lambda name: durations[name]
    service.pitr_lag = PITR_LAG
    mode = "continuations" if continuations else "hourly only"
    results: list[DayResult] = []
    with bench_environment(cap, continuations), mock_aws(), installed(service):
        setup_accounts(names, without_pitr)
        # Imported only now, as Lambda imports at cold start (parses the environment).
        import export_engine
        import handler

        handler.cold_start()
        # Backoff waits take no virtual time here (a day of runs never throttles).
        setattr(export_engine, "backoff_sleep", lambda _seconds: None)  # noqa: B010
        handler.utcnow = clock
        handler._caller_identity.cache_clear()
        # The handler's clients come from the default session and copy its hooks.
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        writes = ItemSizes()
        boto3.DEFAULT_SESSION.events.register("provide-client-params.dynamodb.PutItem", writes)
        context = type(
            "Context",
            (),
            {
                "invoked_function_arn": f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:{FUNCTION}",
                "function_name": FUNCTION,
            },
        )()
        for day in range(days):
            start = first_day + timedelta(days=day)
            durations.update(per_day[day])
            service.calls.clear()
            writes.largest = 0
            first_export = len(service.exports)
            runs: list[dict[str, Any]] = []
            _run_day(handler, service, clock, context, start, continuations, runs)
            service.settle()
            today = list(service.exports.values())[first_export:]
            minutes = [d.total_seconds() / 60 for d in per_day[day].values()]
            results.append(
                _day_result(
                    DayResult(mode=mode, day=day + 1, cap=cap, tables=tables),
                    daily_run=start + (DAILY_RUN - DAY),
                    threads=threads,
                    calls=dict(service.calls),
                    today=today,
                    minutes=minutes,
                    runs=runs,
                    largest_write=writes.largest,
                )
            )
    return results


def _day_result(
    result: DayResult,
    *,
    daily_run: datetime,
    threads: int,
    calls: dict[str, int],
    today: list[Any],
    minutes: list[float],
    runs: list[dict[str, Any]],
    largest_write: int,
) -> DayResult:
    """`result` filled in from one day's exports, durations (minutes) and run summaries."""
    ends = [e.end for e in today if e.status == "COMPLETED" and e.end]
    for summary in runs:
        result.actions[summary["action"]] = result.actions.get(summary["action"], 0) + 1
    result.exported = len({e.table_arn for e in today if e.status == "COMPLETED"})
    result.makespan_min = (max(ends) - daily_run).total_seconds() / 60 if ends else float("nan")
    result.floor_cap_min = floor_minutes(minutes, result.cap)
    result.floor_300_min = floor_minutes(minutes, AWS_EXPORT_LIMIT)
    result.export_api_calls = calls
    result.list_tables_calls = sum(s["awsCalls"].get("ListTables", 0) for s in runs)
    result.state_calls = sum(sum(s["stateCalls"].values()) for s in runs)
    result.scheduler_calls = sum(sum(s["schedulerCalls"].values()) for s in runs)
    result.runs = len(runs)
    result.working_runs = result.actions.get("wave", 0)
    result.longest_run_s = max(_projected_seconds(s, threads) for s in runs)
    result.missed = sum(s["counts"]["missed"] for s in runs)
    result.failed = sum(s["counts"]["failed"] for s in runs)
    result.state_largest_item = largest_write
    result.state_bytes = sum(item_size(item) for item in state_items())
    return result


class ItemSizes:
    """provide-client-params hook: the largest item PutItem writes to the state table."""

    def __init__(self) -> None:
        self.largest = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == STATE_TABLE:
            self.largest = max(self.largest, item_size(params["Item"]))


def state_items() -> list[dict[str, Any]]:
    """Every item of the exporter's state table (a scan, for the size figures)."""
    client = boto3.client("dynamodb", region_name=REGION)
    return [
        item
        for page in client.get_paginator("scan").paginate(TableName=STATE_TABLE)
        for item in page["Items"]
    ]
