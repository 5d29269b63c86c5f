"""What the exporter's logs look like in CloudWatch, and that the backlog alarm fires on them.

Lines are rendered as Lambda's Python runtime renders them with the function's log
format set to JSON (`lambda_json_line`, a copy of the runtime's JsonFormatter, cited
below). moto's CloudWatch Logs treats JSON filter patterns as "unsupported" and matches
every line (moto/logs/utils.py, UnsupportedFilterPattern), so `FilterPattern` evaluates
the subset of the JSON pattern syntax the deployment uses, and `alarm_state` evaluates a
CloudWatch alarm's M-out-of-N rule over the resulting data points.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import continuation
import export_engine
import handler
import pytest
from moto import mock_aws

from bench.export_emulator import (
    TABLE_KEY,
    Clock,
    ExportService,
    complete,
    create_bucket_in,
    create_tables,
    installed,
    scheduled,
)
from components.dynamodb_exporter import (
    MISSED_ALARM,
    MISSED_FILTER_PATTERN,
    MISSED_VALUE,
    AlarmRule,
)
from tests.support.exporter_harness import (
    BACKUP_ACCOUNT,
    BUCKET,
    CONTEXT,
    DAY,
    GROUP,
    REGION,
    SOURCE_ACCOUNT,
    STATE_TABLE,
)

# -- Lambda's JSON log format ------------------------------------------------------

# aws-lambda-python-runtime-interface-client, awslambdaric/lambda_runtime_log_utils.py:
# JsonFormatter.format builds these keys, then adds every other LogRecord attribute
# (the `extra=` fields) that is neither reserved nor already a key, drops None values,
# and encodes with json.JSONEncoder(ensure_ascii=False) and no `default`.
_RESERVED = {
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "aws_request_id",
    "tenant_id",
    "_frame_type",
}


def lambda_json_line(record: logging.LogRecord) -> str:
    """The line CloudWatch Logs receives for `record` from a JSON-format Python function."""
    result: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record.created, tz=UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:-3]
        + "Z",
        "level": logging.getLevelName(min(50, max(0, record.levelno)) // 10 * 10),
        "message": record.getMessage(),
        "logger": record.name,
        "requestId": getattr(record, "aws_request_id", None),
    }
    result.update(
        (key, value)
        for key, value in record.__dict__.items()
        if key not in _RESERVED and key not in result
    )
    return json.JSONEncoder(ensure_ascii=False).encode(
        {k: v for k, v in result.items() if v is not None}
    )


# -- the JSON filter pattern subset the deployment uses -------------------------------

_TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||\$\.[A-Za-z0-9_.]+|>=|<=|!=|=|>|<|"[^"]*"|-?\d+(?:\.\d+)?)')


class FilterPattern:
    """`{ $.a = "x" && ($.b >= 0) }`: selectors, = != < <= > >=, strings, numbers, && || ().

    CloudWatch Logs User Guide, "Using filter patterns to match terms in JSON log
    events": a string compares equal, a number compares numerically, and a selector
    that is missing (or of the other type) does not match.
    """

    def __init__(self, pattern: str) -> None:
        body = pattern.strip()
        assert body.startswith("{") and body.endswith("}"), pattern
        self.tokens: list[str] = [t for t in _TOKEN.findall(body[1:-1]) if t]
        assert "".join(self.tokens) == re.sub(r"\s+", "", body[1:-1]), pattern

    def matches(self, line: str) -> bool:
        """True when the JSON line satisfies the pattern."""
        try:
            event = json.loads(line)
        except ValueError:
            return False
        self._at = 0
        result = self._or(event)
        assert self._at == len(self.tokens)
        return result

    def _next(self) -> str:
        token = self.tokens[self._at]
        self._at += 1
        return token

    def _or(self, event: Any) -> bool:
        left = self._and(event)
        while self._at < len(self.tokens) and self.tokens[self._at] == "||":
            self._next()
            left = self._and(event) or left
        return left

    def _and(self, event: Any) -> bool:
        left = self._term(event)
        while self._at < len(self.tokens) and self.tokens[self._at] == "&&":
            self._next()
            left = self._term(event) and left
        return left

    def _term(self, event: Any) -> bool:
        if self.tokens[self._at] == "(":
            self._next()
            value = self._or(event)
            assert self._next() == ")"
            return value
        selector, operator, literal = self._next(), self._next(), self._next()
        actual = select(event, selector)
        if literal.startswith('"'):
            expected = literal[1:-1]
            if not isinstance(actual, str):
                return False
            return (actual == expected) == (operator == "=")
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        number = float(literal)
        return {
            "=": actual == number,
            "!=": actual != number,
            "<": actual < number,
            "<=": actual <= number,
            ">": actual > number,
            ">=": actual >= number,
        }[operator]


def select(event: Any, selector: str) -> Any:
    """The value `$.a.b` names in a decoded event, or None."""
    value = event
    for part in selector[2:].split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# -- alarm evaluation ---------------------------------------------------------------


def alarm_state(rule: AlarmRule, points: list[tuple[datetime, float]], at: datetime) -> str:
    """ALARM or OK for `rule` evaluated at `at` (a period boundary).

    CloudWatch User Guide, "Using Amazon CloudWatch alarms" (evaluating an alarm) and
    "Configuring how CloudWatch alarms treat missing data": the statistic of each of the
    last `evaluation_periods` periods is compared with the threshold; the alarm is in
    ALARM when at least `datapoints_to_alarm` of them breach; with notBreaching, a period
    without data counts as not breaching.
    """
    assert rule.treat_missing_data == "notBreaching"
    assert rule.comparison_operator == "GreaterThanOrEqualToThreshold"
    statistics: dict[str, Callable[[list[float]], float]] = {
        "Maximum": max,
        "Minimum": min,
        "Sum": sum,
    }
    statistic = statistics[rule.statistic]
    breaching = 0
    for index in range(rule.evaluation_periods):
        end = at - timedelta(seconds=rule.period * index)
        start = end - timedelta(seconds=rule.period)
        values = [value for when, value in points if start <= when < end]
        if values and statistic(values) >= rule.threshold:
            breaching += 1
    return "ALARM" if breaching >= rule.datapoints_to_alarm else "OK"


# -- the renderer and evaluators on their own ----------------------------------------


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("dynamodb_export", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_the_pattern_matches_a_closed_cut_line_and_reads_the_missed_count() -> None:
    pattern = FilterPattern(MISSED_FILTER_PATTERN)
    closed = lambda_json_line(_record("cut closed", event="cut_closed", missed=3))
    overdue = lambda_json_line(_record("cut overdue", event="cut_overdue", missed=2))
    totals = lambda_json_line(_record("wave", event="totals", missed=0, deferred=4))
    # The old style: fields JSON-encoded into the message string, which the JSON log
    # format puts under "message"; no top-level `event`, so nothing matches.
    old_style = lambda_json_line(_record(json.dumps({"event": "cut_closed", "missed": 3})))

    assert pattern.matches(closed) and select(json.loads(closed), MISSED_VALUE) == 3
    assert pattern.matches(overdue) and select(json.loads(overdue), MISSED_VALUE) == 2
    assert not pattern.matches(totals)
    assert not pattern.matches(old_style)
    assert not pattern.matches(lambda_json_line(_record("x", event="cut_closed", missed="3")))


def test_the_alarm_rule_needs_one_breaching_hour_in_the_last_day() -> None:
    point = [(DAY + timedelta(hours=3, minutes=1), 2.0)]

    assert alarm_state(MISSED_ALARM, point, DAY + timedelta(hours=4)) == "ALARM"
    assert alarm_state(MISSED_ALARM, point, DAY + timedelta(hours=26)) == "ALARM"
    assert alarm_state(MISSED_ALARM, point, DAY + timedelta(hours=28)) == "OK"
    assert alarm_state(MISSED_ALARM, [(DAY, 0.0)], DAY + timedelta(hours=1)) == "OK"


# -- the deployment's rules on two simulated days -------------------------------------


class LogCapture(logging.Handler):
    """Keeps each line as CloudWatch would get it, stamped with the virtual clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.lines: list[tuple[datetime, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((self.clock.now, lambda_json_line(record)))


@pytest.fixture
def day(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ExportService, Clock]]:
    clock = Clock(DAY)
    service = ExportService(clock)
    service.hold_in_progress = True
    monkeypatch.setattr(handler, "utcnow", clock)
    # Hours-long exports and no duration history: look every half hour, not every 5 min.
    monkeypatch.setattr(continuation, "DEFAULT_CHECK_STEP_S", 1800.0)
    monkeypatch.setattr(export_engine, "backoff_sleep", service.sleeps.append)
    handler._caller_identity.cache_clear()
    with mock_aws(), installed(service):
        create_bucket_in(BACKUP_ACCOUNT, REGION, BUCKET)
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=STATE_TABLE, **TABLE_KEY
        )
        create_tables(REGION, ["t1", "t2", "t3", "t4"])
        boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=GROUP)
        yield service, clock


# The prod stack: a daily run and catch-ups at 9, 15 and 21 h, no continuations; and
# the default: catch-up every hour, with continuations.
PROD = ([3, 9, 15, 21], 0, False)
DEFAULT = ([3, *range(4, 24)], 5, True)


def _simulate(
    service: ExportService, clock: Clock, schedule: tuple[list[int], int, bool], days: int
) -> list[tuple[datetime, str]]:
    hours, minute, continuations = schedule
    capture = LogCapture(clock)
    logging.getLogger("dynamodb_export").addHandler(capture)
    try:
        handler.cold_start()
        cron = [
            DAY + timedelta(days=d, hours=h, minutes=minute if h != 3 else 0)
            for d in range(days + 1)
            for h in hours
        ]
        end = DAY + timedelta(days=days, hours=4)
        while True:
            firings = scheduled(SOURCE_ACCOUNT, REGION, GROUP) if continuations else []
            next_cron = cron[0] if cron else end
            if firings and firings[0].at < next_cron:
                firing = firings[0]
                clock.now = firing.at
                complete(SOURCE_ACCOUNT, REGION, GROUP, firing)
                event = firing.event
            else:
                if next_cron >= end:
                    break
                clock.now = cron.pop(0)
                event = {"time": clock.now.isoformat()}
            with contextlib.suppress(handler.ExportsFailedError):
                handler.lambda_handler(event, CONTEXT)
    finally:
        logging.getLogger("dynamodb_export").removeHandler(capture)
    return capture.lines


def _one_at_a_time(
    day: tuple[ExportService, Clock],
    monkeypatch: pytest.MonkeyPatch,
    schedule: tuple[list[int], int, bool],
    duration: timedelta,
) -> list[tuple[datetime, str]]:
    """Two days of `schedule` in an account that holds one export at a time."""
    service, clock = day
    if schedule[2]:
        monkeypatch.setenv("SCHEDULE_GROUP", GROUP)
        monkeypatch.setenv("SCHEDULER_ROLE_ARN", f"arn:aws:iam::{SOURCE_ACCOUNT}:role/s")
    service.limit = 1
    service.duration = lambda _name: duration
    return _simulate(service, clock, schedule, days=1)


def _alarm_over(lines: list[tuple[datetime, str]], hours: range) -> list[str]:
    pattern = FilterPattern(MISSED_FILTER_PATTERN)
    points = [
        (when, float(select(json.loads(line), MISSED_VALUE)))
        for when, line in lines
        if pattern.matches(line)
    ]
    return [alarm_state(MISSED_ALARM, points, DAY + timedelta(hours=h)) for h in hours]


@pytest.mark.parametrize(
    "schedule", [PROD, DEFAULT], ids=["prod-4-runs-a-day", "hourly-and-continuations"]
)
def test_a_day_that_cannot_export_every_table_raises_the_alarm_for_a_day(
    day: tuple[ExportService, Clock],
    monkeypatch: pytest.MonkeyPatch,
    schedule: tuple[list[int], int, bool],
) -> None:
    # One export at a time in the account, twelve hours each: four tables cannot all
    # start within a day, whatever runs when.
    lines = _one_at_a_time(day, monkeypatch, schedule, timedelta(hours=12))

    # At the day mark (03:00 the next day) the cut reports what it has not started and
    # goes on exporting it: the alarm is up within the hour and stays up for a day.
    overdue = [json.loads(line) for _, line in lines if '"cut_overdue"' in line]
    assert [c["missed"] for c in overdue] >= [1]
    states = _alarm_over(lines, range(24, 52))
    assert states[:4] == ["OK"] * 4  # until the day mark at 03:00 the next day
    assert set(states[4:28]) == {"ALARM"}


@pytest.mark.parametrize(
    "schedule", [PROD, DEFAULT], ids=["prod-4-runs-a-day", "hourly-and-continuations"]
)
def test_a_day_that_drains_late_stays_quiet(
    day: tuple[ExportService, Clock],
    monkeypatch: pytest.MonkeyPatch,
    schedule: tuple[list[int], int, bool],
) -> None:
    # One at a time, four hours each: the last table starts late in the day.
    lines = _one_at_a_time(day, monkeypatch, schedule, timedelta(hours=4))

    closed = [json.loads(line) for _, line in lines if '"cut_closed"' in line]
    assert [c["missed"] for c in closed] == [0]
    assert set(_alarm_over(lines, range(0, 52))) == {"OK"}


def test_every_log_line_is_json_with_top_level_fields(day: tuple[ExportService, Clock]) -> None:
    service, clock = day
    service.duration = lambda _name: timedelta(minutes=20)
    clock.now = DAY + timedelta(hours=1)

    lines = _simulate(service, clock, ([1], 0, False), days=0)

    decoded = [json.loads(line) for _, line in lines]
    assert {d["event"] for d in decoded} == {"table", "totals"}
    tables = sorted((d["table"], d["decision"]) for d in decoded if d["event"] == "table")
    assert tables == [("t1", "started"), ("t2", "started"), ("t3", "started"), ("t4", "started")]
    [totals] = [d for d in decoded if d["event"] == "totals"]
    assert totals["started"] == 4 and totals["pending"] == 0 and totals["level"] == "INFO"
    assert all(d["logger"] == "dynamodb_export" and d["message"] for d in decoded)
