"""When to look at in-flight exports again, and the one-time schedule that does it.

A run that leaves work behind (tables still to start, exports still running) schedules
its own continuation: an EventBridge Scheduler one-time schedule (`at(...)`,
`ActionAfterCompletion: DELETE`) that invokes the function with a small payload (cut,
run id, wave). The delay follows from the exports in flight: each is described again
when it has probably finished (see `next_check_age`), never sooner than FLOOR and never
later than CEILING. What an export may take comes from its table's history while that
history predicts (`history_predicts`, `trusted_ratios`, `likely_durations`), and from
the recent durations of all exports otherwise.

Schedule names are deterministic per (function, cut, wave), and the function (hence the
schedule group) belongs to one account and Region: two runs that try to continue the
same chain from the same wave collide on the name, and the second one gets a
ConflictException instead of starting a second chain.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from export_config import Continuation, Settings

SchedulerClient = Any  # boto3 ships no type stubs.

# "All schedule types on EventBridge Scheduler invoke their targets with 60 second
# precision" (Scheduler User Guide, "Schedule types"): waves closer than that are noise.
FLOOR = timedelta(minutes=1)
# A chain never sleeps longer than this, whatever it waits for.
CEILING = timedelta(minutes=30)
# A continuation may fire anywhere in its minute: it also checks what falls due then.
CHECK_SLACK = timedelta(seconds=60)
# Before the first completions are seen (a new deployment), check every 5 minutes.
DEFAULT_CHECK_STEP_S = 300.0
MIN_SAMPLES = 8
MAX_SAMPLES = 256
# Expected idle slot-seconds one more DescribeExport of an export is worth (see
# next_check_age). Lower checks sooner: less idle time, more calls; bench/exporter.py
# measures the trade-off and docs/dynamodb-exporter.md has the table behind this value.
WASTE_BUDGET_S = 30.0
# Until MIN_SAMPLES exports have ended against their table's expected duration, that
# expectation is trusted to within a quarter either way (evenly spread).
PRIOR_RATIOS = tuple(0.75 + 0.5 * i / 15 for i in range(16))
# A chain whose continuation is this late is taken over by the next scheduled run.
CHAIN_GRACE = timedelta(minutes=10)
# Schedule names: 1-64 of [0-9a-zA-Z-_.] (Scheduler API reference, CreateSchedule Name).
MAX_SCHEDULE_NAME = 64
# Scheduler retries a failed invocation; a day's chain outlives no more than this.
TARGET_MAX_EVENT_AGE_S = 3600
TARGET_MAX_RETRIES = 5
# A table's retries across waves after a retryable failure (throttling that outlasted a
# run's own retries, a failed ListExports, an export that FAILED): 5 minutes, doubling
# to an hour. Each table backs off on its own, so one storm costs every table one try,
# not its day, and an hour-long fault costs a table about 6 tries.
RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=1)


def next_check_age(alive_at: float, durations: Sequence[float], *, busy: bool) -> float:
    """Age (seconds) at which an export last seen in progress at `alive_at` is described next.

    `durations` are recent export durations, sorted. While tables wait for a slot
    (`busy`), an export is checked again once the slot time it has probably been
    wasting since `alive_at`, the integral of P(finished by x | running at alive_at),
    reaches WASTE_BUDGET_S: early while finishing is likely, late while it is not.
    With nothing waiting, idle slots cost nothing: one check when every recent export
    would have finished. Without enough history: every DEFAULT_CHECK_STEP_S.
    """
    floor = FLOOR.total_seconds()
    if len(durations) < MIN_SAMPLES:
        return alive_at + max(floor, DEFAULT_CHECK_STEP_S)
    longest = durations[-1]
    if alive_at >= longest:
        # Older than everything seen: back off in proportion to its age.
        return alive_at + max(floor, 0.25 * alive_at)
    if not busy:
        return max(alive_at + floor, longest)
    first = bisect.bisect_right(durations, alive_at)
    still_running = len(durations) - first
    waste = 0.0
    position = alive_at
    for finished, point in enumerate(durations[first:]):
        # Between sample points, P(finished by x | running at alive_at) is constant.
        probability = finished / still_running
        if probability > 0 and waste + probability * (point - position) >= WASTE_BUDGET_S:
            return max(alive_at + floor, position + (WASTE_BUDGET_S - waste) / probability)
        waste += probability * (point - position)
        position = point
    return max(alive_at + floor, position + (WASTE_BUDGET_S - waste))


def add_to_fit(fit: Sequence[float], took: float, expected: float) -> list[float]:
    """`fit` (see history_predicts) with one more export that took `took` s of `expected`."""
    count, ratios, ratio_squares, tooks, took_squares = fit if fit else (0.0,) * 5
    ratio = took / expected
    return [
        count + 1,
        ratios + ratio,
        ratio_squares + ratio * ratio,
        tooks + took,
        took_squares + took * took,
    ]


def _relative_spread(count: float, total: float, squares: float) -> float:
    """Coefficient of variation (standard deviation over mean) from running sums."""
    mean = total / count
    variance = max(0.0, squares / count - mean * mean)
    return math.sqrt(variance) / mean if mean > 0 else math.inf


def history_predicts(fit: Sequence[float]) -> bool | None:
    """Whether tables' histories predicted a cut's export durations; None if too few seen.

    `fit` holds running sums over every export of the cut that had a history: count,
    sum and sum of squares of duration / expected duration, and of the duration. History
    predicts when the ratios spread less, relative to their mean, than the durations do:
    knowing the table then narrows down how long its export takes. The sums cover the
    whole cut, not a recent window: with the longest exports started first, a window
    holds exports of similar expectations, whose durations are alike either way.
    """
    if not fit or fit[0] < MIN_SAMPLES:
        return None
    count, ratios, ratio_squares, tooks, took_squares = fit
    return _relative_spread(count, ratios, ratio_squares) < _relative_spread(
        count, tooks, took_squares
    )


def trusted_ratios(ratios: Sequence[float], trusted: bool | None) -> Sequence[float] | None:
    """How far an export may stray from its table's history, or None to ignore history.

    `ratios` are recent ratios of an export's duration to its table's expected one;
    `trusted` is history_predicts of the cut before (None: not known yet, so history is
    tried). With fewer than MIN_SAMPLES ratios, PRIOR_RATIOS stand in.
    """
    if trusted is False:
        return None
    return ratios if len(ratios) >= MIN_SAMPLES else PRIOR_RATIOS


def likely_durations(
    expected: float | None, durations: Sequence[float], ratios: Sequence[float] | None
) -> list[float]:
    """What an export may take, sorted, for next_check_age.

    With its table's history (`expected`) and `ratios` from trusted_ratios, that
    expectation times each ratio: as narrow as the history is good. Otherwise the
    recent durations of any export.
    """
    if expected is None or ratios is None:
        return sorted(durations)
    return sorted(expected * ratio for ratio in ratios)


def retry_delay(tries: int, table: str) -> float:
    """Seconds until try number `tries` + 1 of `table` (`tries` >= 1), with jitter.

    The jitter (half to all of the ceiling) is drawn from the table's name and the try
    number, so tables that failed together spread out, and a rerun waits the same.
    """
    ceiling = min(RETRY_CAP, RETRY_BASE * (1 << max(0, tries - 1))).total_seconds()
    digest = hashlib.sha256(f"{table}#{tries}".encode()).digest()
    return ceiling * (0.5 + 0.5 * int.from_bytes(digest[:4], "big") / 0xFFFFFFFF)


def remember(samples: list[float], seen: Sequence[float]) -> list[float]:
    """The most recent MAX_SAMPLES of `samples` then `seen`, oldest first."""
    return [*samples, *seen][-MAX_SAMPLES:]


def schedule_name(function_name: str, cut: datetime, wave: int) -> str:
    """`<function>-<cut>-w<wave>`: the function name carries the stack's prefix."""
    suffix = f"-{cut.astimezone(UTC):%Y%m%dT%H%M%SZ}-w{wave}"
    if len(function_name) + len(suffix) <= MAX_SCHEDULE_NAME:
        return function_name + suffix
    # Keep the prefix readable and the name unique: truncate, and add a hash of the rest.
    digest = hashlib.sha256(function_name.encode()).hexdigest()[:8]
    keep = MAX_SCHEDULE_NAME - len(suffix) - len(digest) - 1
    return f"{function_name[:keep]}-{digest}{suffix}"


def at_expression(when: datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the whole minute it fires in."""
    utc = when.astimezone(UTC)
    minute = utc.replace(second=0, microsecond=0)
    if minute < utc:
        minute += timedelta(minutes=1)
    return f"at({minute:%Y-%m-%dT%H:%M:%S})"


def fire_time(now: datetime, wanted: datetime) -> datetime:
    """`wanted` kept between now + FLOOR and now + CEILING, on the minute it will fire in."""
    bounded = min(max(wanted, now + FLOOR), now + CEILING)
    seconds = math.ceil(bounded.timestamp() / 60) * 60
    return datetime.fromtimestamp(seconds, tz=UTC)


def create_continuation(
    client: SchedulerClient,
    settings: Settings,
    function_arn: str,
    name: str,
    when: datetime,
    continuation: Continuation,
) -> str:
    """Create the one-time schedule; "created", or "exists" when another run already did."""
    assert settings.schedule_group is not None and settings.scheduler_role_arn is not None
    try:
        client.create_schedule(
            Name=name,
            GroupName=settings.schedule_group,
            ScheduleExpression=at_expression(when),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            # Deleted after its one invocation (Scheduler User Guide, "Deleting a
            # schedule": automatic deletion after completion).
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": function_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps(continuation.payload(settings)),
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": TARGET_MAX_EVENT_AGE_S,
                    "MaximumRetryAttempts": TARGET_MAX_RETRIES,
                },
            },
            Description=f"Continues the DynamoDB export of {continuation.cut.isoformat()}",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConflictException":
            return "exists"
        raise
    return "created"
