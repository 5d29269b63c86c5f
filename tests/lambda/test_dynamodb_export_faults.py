"""The exporter under faults: no table of a cut is exported twice, none is lost in silence.

Each test reproduces one fault of docs/dynamodb-exporter.md ("Faults") on moto with
bench/export_emulator.py, over whole days of the deployment's schedules: the daily run,
catch-ups, continuations as EventBridge Scheduler fires them, and Lambda's two
retries of a failed asynchronous invocation ("If the function returns an error, by
default Lambda attempts to run it two more times, with a one-minute wait between the
first two attempts, and two minutes between the second and third attempts", Lambda
Developer Guide, "How Lambda handles errors and retries with asynchronous invocation").
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.responses import DynamoHandler
from moto.scheduler.responses import EventBridgeSchedulerResponse

from bench.export_emulator import ERROR_PREFIX, Clock, ExportService, complete
from tests.support.exporter_harness import (
    DAY,
    GROUP,
    REGION,
    ROOT,
    SOURCE_ACCOUNT,
    STATE_TABLE,
    after,
    ddb,
    invoke,
    make_tables,
    names_of,
    schedules,
)

# The daily run and the prod example's catch-ups (Pulumi.prod.yaml), and the default
# catch-up at five past every hour (stack_config.DEFAULT_CATCH_UP_SCHEDULE).
PROD_HOURS = (3, 9, 15, 21)
HOURLY = (3, *range(4, 24))
# The daily run alone: where continuations carry a cut, catch-ups only add invocations.
DAILY = (3,)
LAMBDA_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=2))


class Killed(BaseException):
    """Lambda ending a run mid-way (timeout, out of memory): no handler code runs after it."""


@dataclass
class Invocation:
    """One invocation of the handler and what came of it."""

    at: datetime
    event: dict[str, Any]
    summary: dict[str, Any] | None
    error: BaseException | None


def cron(days: range, hours: tuple[int, ...]) -> list[datetime]:
    """The schedules' times: the daily run at hh:00 of the first hour, catch-ups at hh:05 after."""
    return [
        DAY + timedelta(days=day, hours=hour, minutes=0 if hour == hours[0] else 5)
        for day in days
        for hour in hours
    ]


def drive(clock: Clock, until: datetime, times: list[datetime]) -> list[Invocation]:
    """Every scheduled run and continuation in time order until `until`, with Lambda's retries.

    A failed invocation is logged here, as Lambda's Errors metric would count it, and
    retried with the same event 1 and 3 minutes later.
    """
    queue: list[tuple[datetime, int, dict[str, Any], int]] = [
        (at, index, {"time": at.isoformat()}, 0)
        for index, at in enumerate(times)
        if clock.now <= at < until
    ]
    heapq.heapify(queue)
    sequence = len(queue)
    done: list[Invocation] = []
    while True:
        firings = [f for f in schedules() if f.at < until]
        if firings and (not queue or firings[0].at < queue[0][0]):
            firing = firings[0]
            at, event, retry = firing.at, firing.event, 0
            complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
        elif queue:
            at, _index, event, retry = heapq.heappop(queue)
        else:
            return done
        clock.now = max(clock.now, at)
        try:
            done.append(Invocation(clock.now, event, invoke(event), None))
        except Exception as error:  # noqa: BLE001 - Lambda records any error and retries
            summary = getattr(error, "summary", None)
            done.append(Invocation(clock.now, event, summary, error))
            if retry < len(LAMBDA_RETRY_DELAYS):
                sequence += 1
                heapq.heappush(
                    queue, (clock.now + LAMBDA_RETRY_DELAYS[retry], sequence, event, retry + 1)
                )


@pytest.fixture
def hours_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hours-long exports and no duration history: look every half hour, not every 5 min."""
    import continuation

    monkeypatch.setattr(continuation, "DEFAULT_CHECK_STEP_S", 1800.0)


@pytest.fixture
def lines(clock: Clock) -> Iterator[list[dict[str, Any]]]:
    """The function's log lines (their `extra=` fields), stamped with the virtual time."""
    captured: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append({**record.__dict__, "at": clock.now})

    capture = Capture()
    logger = logging.getLogger("dynamodb_export")
    logger.addHandler(capture)
    yield captured
    logger.removeHandler(capture)


def numbered_tables(count: int) -> list[str]:
    """Tables t0, t1, ... with PITR, created; their names."""
    names = [f"t{i}" for i in range(count)]
    make_tables(names)
    return names


def exports_of(service: ExportService, table: str, day: int) -> list[Any]:
    """The exports of one table for the cut of DAY + day (by their S3 prefix)."""
    cut = DAY + timedelta(days=day)
    prefix = f"{ROOT}/{table}/{cut:%Y/%m/%d}"
    return [e for e in service.of_table(table) if e.body["S3Prefix"] == prefix]


def exported_once(service: ExportService, tables: list[str], day: int) -> bool:
    """Every table has exactly one export for the day's cut, and it COMPLETED."""
    return all(
        [e.status for e in exports_of(service, table, day)] == ["COMPLETED"] for table in tables
    )


def events(lines: list[dict[str, Any]], name: str, day: int | None = None) -> list[dict[str, Any]]:
    """Log lines of one event, for the cut of DAY + day if given."""
    cut = None if day is None else (DAY + timedelta(days=day)).isoformat()
    return [
        line
        for line in lines
        if line.get("event") == name and (cut is None or line.get("exportTime") == cut)
    ]


def state_write_denial(monkeypatch: pytest.MonkeyPatch, denied: Callable[[], bool]) -> None:
    """PutItem and UpdateItem on the state table answer AccessDeniedException while `denied()`."""
    for operation in ("put_item", "update_item"):
        original = getattr(DynamoHandler, operation)

        def guarded(api: DynamoHandler, _original: Any = original) -> Any:
            if api.body.get("TableName") == STATE_TABLE and denied():
                raise JsonRESTError(ERROR_PREFIX + "AccessDeniedException", "explicit deny")
            return _original(api)

        monkeypatch.setattr(DynamoHandler, operation, guarded)


# -- a run killed, state writes denied: no table exported twice -------------------------


def test_a_run_killed_after_starting_its_exports_never_exports_a_table_twice(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import state_store

    tables = numbered_tables(6)
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)
    save = state_store.StateStore.save

    def killed_once_exports_started(store: Any, state: Any, *, release: bool) -> None:
        if exports.calls["ExportTableToPointInTime"]:
            raise Killed
        save(store, state, release=release)

    monkeypatch.setattr(state_store.StateStore, "save", killed_once_exports_started)
    with pytest.raises(Killed):
        invoke()
    monkeypatch.setattr(state_store.StateStore, "save", save)
    assert len(exports.exports) == 6
    # The next run comes after every ClientToken's 8 hours (the prod example's catch-up
    # at 09:00 failed too, say): only the state can tell it what was started.
    clock.advance(timedelta(hours=9))

    summary = invoke()

    assert exported_once(exports, tables, 0)
    assert names_of(summary["existing"]) == tables
    assert summary["started"] == []


def test_state_writes_denied_for_hours_neither_repeat_nor_lose_a_table(
    exports: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The prod example: a daily run and catch-ups every 6 hours, no continuations.
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "3")
    tables = numbered_tables(6)
    exports.hold_in_progress = True
    exports.duration = lambda _name: timedelta(minutes=20)
    denial_ends = DAY + timedelta(hours=10)
    state_write_denial(
        monkeypatch,
        lambda: exports.calls["ExportTableToPointInTime"] > 0 and clock.now < denial_ends,
    )
    clock.now = DAY + timedelta(hours=3)

    runs = drive(clock, DAY + timedelta(days=1), cron(range(1), PROD_HOURS))

    assert exported_once(exports, tables, 0)
    # While state writes are denied, every run fails (the errors alarm sees it), or
    # finds the lease of the run that died and does nothing.
    denied = [r for r in runs if r.at < denial_ends]
    assert denied[0].error is not None
    assert all(r.error is not None or (r.summary or {}).get("action") == "busy" for r in denied)


# -- a storm of throttling, an outage, a bucket that denies writes: deferred, not lost -----


def test_a_throttling_storm_on_list_exports_loses_no_table(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's standard retries share one quota per client (500, 5 a throttled retry:
    # botocore/retries/quota.py, standard.RetryQuotaChecker); its sleeps take no time here.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _s: None))
    tables = [f"t{i:03d}" for i in range(160)]
    make_tables(tables)
    chain.list_storm = 240  # every table's first ListExports, and the retries, throttled
    clock.now = DAY + timedelta(hours=3)

    runs = drive(clock, DAY + timedelta(days=1), cron(range(1), HOURLY))

    assert exported_once(chain, tables, 0)
    assert runs[0].summary is not None
    assert runs[0].summary["counts"]["missed"] == 0


def test_an_export_api_outage_until_late_evening_still_exports_the_day(
    hours_long: None,
    chain: ExportService,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[Any],
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    tables = numbered_tables(4)
    chain.duration = lambda _name: timedelta(hours=3)
    # 500s from 03:00 to 22:00; then 4 exports of 3 hours, 2 at a time: done after 04:00,
    # when the next day's cut has started.
    chain.outage_until = DAY + timedelta(hours=22)
    clock.now = DAY + timedelta(hours=3)

    drive(clock, DAY + timedelta(days=1, hours=6), cron(range(2), DAILY))

    assert exported_once(chain, tables, 0)
    assert [line["missed"] for line in events(lines, "cut_closed", 0)] == [0]


def test_a_bucket_that_denies_writes_for_three_hours_still_gets_the_day(
    chain: ExportService, clock: Clock, lines: list[Any]
) -> None:
    tables = ["a", "b"]
    make_tables(tables)
    chain.deny_writes_until = DAY + timedelta(hours=6)
    clock.now = DAY + timedelta(hours=3)

    runs = drive(clock, DAY + timedelta(days=1), cron(range(1), DAILY))

    assert all(
        [e.status for e in exports_of(chain, table, 0)][-1] == "COMPLETED" for table in tables
    )
    # Each failed export is reported (the errors alarm); retries back off, so the denial
    # does not use them up before it ends.
    assert any(r.error is not None for r in runs)
    assert all(len(exports_of(chain, table, 0)) <= 7 for table in tables)
    assert [line["missed"] for line in events(lines, "cut_closed", 0)] == [0]


# -- unreadable state ------------------------------------------------------------------


def _damage(kind: str, cut: datetime) -> None:
    """Make the cut's state unreadable as a crash, another version or a bad write would."""
    key = f"cut#{cut.isoformat()}"
    client = ddb()
    if kind == "half-written":
        client.delete_item(TableName=STATE_TABLE, Key={"pk": {"S": f"{key}#plan#0"}})
        return
    if kind == "corrupt":
        doc = b"\x00 not a compressed document"
    else:
        # A later version's document: a field this version does not know.
        import json
        import zlib

        item = client.get_item(TableName=STATE_TABLE, Key={"pk": {"S": key}})["Item"]
        document = json.loads(zlib.decompress(item["doc"]["B"]))
        document["shardOwner"] = "v9"
        doc = zlib.compress(json.dumps(document).encode())
    client.update_item(
        TableName=STATE_TABLE,
        Key={"pk": {"S": key}},
        UpdateExpression="SET doc = :doc",
        ExpressionAttributeValues={":doc": {"B": doc}},
    )


@pytest.mark.parametrize("kind", ["corrupt", "other-version", "half-written"])
def test_unreadable_state_is_set_aside_rebuilt_and_blocks_no_later_day(
    chain: ExportService,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[Any],
    kind: str,
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    tables = numbered_tables(4)
    clock.now = DAY + timedelta(hours=3)
    invoke({"time": clock.now.isoformat()})  # day 0's first run: two started, two waiting
    _damage(kind, DAY)
    clock.advance(timedelta(seconds=1))

    runs = drive(clock, DAY + timedelta(days=1, hours=12), cron(range(2), DAILY))

    for day in range(2):
        assert exported_once(chain, tables, day), day
    assert events(lines, "state_unreadable", 0)
    assert any(r.error is not None and "unreadable" in str(r.error) for r in runs)


# -- CreateSchedule failing with the catch-up switched off -------------------------------


def test_a_failed_create_schedule_is_resumed_without_a_catch_up(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_EXPORTS", "2")
    tables = numbered_tables(4)
    failures = [1]
    create = EventBridgeSchedulerResponse.create_schedule

    def failing_once(api: EventBridgeSchedulerResponse) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise JsonRESTError("AccessDeniedException", "iam:PassRole denied, once")
        return create(api)

    monkeypatch.setattr(EventBridgeSchedulerResponse, "create_schedule", failing_once)
    clock.now = DAY + timedelta(hours=3)

    runs = drive(clock, DAY + timedelta(days=1), cron(range(1), DAILY))  # no catch-up

    assert runs[0].error is not None and "CreateSchedule" in str(runs[0].error)
    assert exported_once(chain, tables, 0)


def test_the_continuations_time_is_computed_when_it_is_requested(
    chain: ExportService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tables([f"t{i}" for i in range(10)])
    chain.call_latency = timedelta(minutes=1)  # 20 export API calls: a 20-minute run
    requested: list[datetime] = []
    create = EventBridgeSchedulerResponse.create_schedule

    def recording(api: EventBridgeSchedulerResponse) -> Any:
        requested.append(clock.now)
        return create(api)

    monkeypatch.setattr(EventBridgeSchedulerResponse, "create_schedule", recording)

    invoke()

    [firing] = schedules()
    assert firing.at >= requested[0] + timedelta(minutes=1)


# -- a cut's close: in-flight exports, PITR, failed tables, days without state ------------


def test_an_export_in_flight_at_the_next_cut_is_followed_and_its_failure_reported(
    hours_long: None, chain: ExportService, clock: Clock, lines: list[Any]
) -> None:
    make_tables(["big", "small"])
    chain.duration = lambda name: timedelta(hours=26 if name == "big" else 1)
    chain.fail_next.add("big")
    clock.now = DAY + timedelta(hours=3)

    runs = drive(clock, DAY + timedelta(days=1, hours=8), cron(range(2), DAILY))

    cut = DAY.isoformat()
    failed = [r for r in runs if r.error is not None and r.summary is not None]
    assert any(
        r.summary is not None
        and r.summary["exportTime"] == cut
        and names_of(r.summary["failed"]) == ["big"]
        for r in failed
    )
    [closed] = events(lines, "cut_closed", 0)
    assert closed["missed"] == 1 and closed["missedTables"] == ["big"]


def test_pitr_that_began_after_the_cut_is_skipped_a_window_that_moved_past_it_is_missed(
    hours_long: None, chain: ExportService, clock: Clock, lines: list[Any]
) -> None:
    make_tables(["late-pitr", "short-window", "fine"])
    ddb().update_continuous_backups(
        TableName="short-window",
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 1,
        },
    )
    chain.pitr_earliest["late-pitr"] = DAY + timedelta(minutes=30)
    chain.limit = 0  # another tool holds the account's exports until the next day
    clock.now = DAY + timedelta(hours=3)
    drive(clock, DAY + timedelta(days=1, hours=5), cron(range(1), DAILY))
    chain.limit = 300

    drive(clock, DAY + timedelta(days=1, hours=12), cron(range(1, 2), DAILY))

    decisions = {line["table"]: line for line in events(lines, "table", 0)}
    assert decisions["late-pitr"]["decision"] == "skipped"
    assert "began after the cut" in decisions["late-pitr"]["reason"]
    assert decisions["short-window"]["decision"] == "missed"
    assert "no longer reaches the cut" in decisions["short-window"]["reason"]
    assert exported_once(chain, ["fine"], 0)
    [closed] = events(lines, "cut_closed", 0)
    assert closed["missed"] == 1 and closed["missedTables"] == ["short-window"]


def test_a_table_whose_exports_keep_failing_counts_as_missed(
    hours_long: None, chain: ExportService, clock: Clock, lines: list[Any]
) -> None:
    make_tables(["doomed", "fine"])
    chain.fail_always.add("doomed")
    clock.now = DAY + timedelta(hours=3)

    drive(clock, DAY + timedelta(days=1, hours=4), cron(range(1), DAILY))

    [closed] = events(lines, "cut_closed", 0)
    assert closed["missed"] == 1 and closed["missedTables"] == ["doomed"]
    assert "FAILED" in next(
        line["reason"] for line in events(lines, "table", 0) if line["decision"] == "missed"
    )


def test_a_day_that_never_got_state_alarms(
    chain: ExportService, clock: Clock, lines: list[Any]
) -> None:
    tables = ["a", "b"]
    make_tables(tables)
    clock.now = after(days=0)
    drive(clock, DAY + timedelta(days=1), cron(range(1), DAILY))
    # Day 1: no run gets through (state writes denied all day, the function throttled...).
    clock.now = DAY + timedelta(days=2)

    drive(clock, DAY + timedelta(days=2, hours=12), cron(range(2, 3), DAILY))

    [never] = events(lines, "cut_closed", 1)
    assert never["missed"] == 2 and never["neverStarted"] is True
    assert exported_once(chain, tables, 2)


def test_a_day_whose_exports_cannot_all_start_within_a_day_is_overdue_then_finished(
    chain: ExportService,
    hours_long: None,
    lines: list[Any],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One export at a time in the account, the first one 25 hours long: the second
    # table cannot start within a day, but it stays exportable for its PITR window.
    monkeypatch.setenv("WORKER_THREADS", "1")  # t0 takes the one slot, t1 waits
    chain.limit = 1
    chain.duration = lambda name: timedelta(hours=25 if name == "t0" else 1)
    tables = numbered_tables(2)
    clock.now = DAY + timedelta(hours=3)

    drive(clock, DAY + timedelta(days=1, hours=8), cron(range(1), DAILY))

    [overdue] = events(lines, "cut_overdue", 0)
    assert overdue["missed"] >= 1
    assert exported_once(chain, tables, 0)
    [closed] = events(lines, "cut_closed", 0)
    assert closed["missed"] == 0
