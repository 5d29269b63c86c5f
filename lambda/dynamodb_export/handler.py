"""Lambda entry point: export every DynamoDB table to a bucket in another account.

Scheduled by EventBridge (a daily run and a catch-up), and continued by EventBridge
Scheduler one-time schedules that runs create themselves (export_run, continuation).
Each table is exported as of one shared instant (the cut) to
s3://{S3_BUCKET_DEST}/{ENV}/{account}/{region}/{table}/{YYYY}/{MM}/{DD}/AWSDynamoDB/<id>/.
Settings: see export_config.load_settings and docs/dynamodb-exporter.md. They are
parsed once per cold start (`cold_start`); an unusable environment is logged then and
fails every invocation with the same ConfigurationError, before any AWS call.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from export_config import (
    ConfigurationError,
    InvalidEventError,
    Scope,
    Settings,
    load_settings,
    parse_continuation,
    resolve_cut,
)
from export_engine import Decision, Outcome
from export_run import CutRun, Environment, RunReport
from state_store import StateStore

__all__ = [
    "ConfigurationError",
    "ContinuationError",
    "ExportsFailedError",
    "InvalidEventError",
    "UnreadableStateError",
    "lambda_handler",
]

LOG = logging.getLogger("dynamodb_export")
LOG.setLevel(logging.INFO)

# Standard mode retries throttling and 5xx with jittered backoff; the attempt count
# is generous because a run is daily and one lost table costs a day of backup.
RETRY_CONFIG = {"mode": "standard", "max_attempts": 8}
# ExportTableToPointInTime: one HTTP attempt per call. export_engine retries it
# itself (never on LimitExceededException), which works the same on every botocore.
# `total_max_attempts` counts the first attempt; `max_attempts` would not (1 = 2 tries).
EXPORT_RETRY_CONFIG = {"mode": "standard", "total_max_attempts": 1}

# With the function's log format set to JSON, Lambda's Python runtime writes a logged
# string under "message", and only attributes passed with `extra=` become top-level
# keys (Lambda Developer Guide, "Log and monitor Python Lambda functions",
# https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html). Its formatter
# (aws-lambda-python-runtime-interface-client, lambda_runtime_log_utils.JsonFormatter)
# drops extras named like its own keys and encodes without a `default`, so fields are
# checked against both and made JSON-native here.
_FORMATTER_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "logger",
        "stackTrace",
        "errorType",
        "errorMessage",
        "requestId",
        "location",
        "tenantId",
    }
)
_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class ExportsFailedError(Exception):
    """Raised after a run so Lambda's Errors metric sees tables that failed."""

    def __init__(self, failed: list[Decision], summary: dict[str, Any]) -> None:
        self.failed = failed
        self.summary = summary
        listing = ", ".join(f"{d.table} ({d.reason})" for d in failed)
        super().__init__(f"{len(failed)} table export(s) failed: {listing}")


def utcnow() -> datetime:
    """Current time; a module function so tests can move the clock."""
    return datetime.now(UTC)


class ContinuationError(Exception):
    """The run's state is saved but its continuation could not be scheduled.

    Raised after the run so that Lambda's Errors metric sees it; the state records it,
    so Lambda's retry of the invocation or the next scheduled run resumes the chain.
    """


class UnreadableStateError(Exception):
    """State that could not be read was set aside and its cut rebuilt from ListExports.

    Raised after the run so that Lambda's Errors metric (the failures alarm) sees it.
    """


def log_event(
    event: str, message: str, fields: Mapping[str, Any], level: int = logging.INFO
) -> None:
    """One log line: `message` for people, `event` and `fields` as top-level JSON keys."""
    clash = sorted((set(fields) | {"event"}) & (_FORMATTER_KEYS | _RECORD_KEYS))
    if clash:
        raise ValueError(f"log fields {clash} collide with keys the log record already has")
    extra = json.loads(json.dumps({"event": event, **fields}, default=str))
    LOG.log(level, message, extra=extra)


# The parsed environment, or why it is unusable; set by cold_start().
_SETTINGS: Settings | ConfigurationError


def cold_start(environ: Mapping[str, str] = os.environ) -> None:
    """Parse the environment into the module's settings, once per execution environment.

    Runs at import: Lambda cannot change a running environment's variables, so a bad
    deployment is logged once, as one JSON line, at cold start, and every invocation
    then fails with the same ConfigurationError. Tests call this again after
    changing their environment.
    """
    global _SETTINGS
    try:
        _SETTINGS = load_settings(environ)
    except ConfigurationError as exc:
        log_event(
            "configuration_error",
            str(exc),
            {"problems": exc.problems},
            logging.ERROR,
        )
        _SETTINGS = exc


def current_settings() -> Settings:
    """The cold start's settings, or its ConfigurationError raised afresh."""
    loaded = _SETTINGS
    if isinstance(loaded, ConfigurationError):
        # A new instance per invocation: raising the stored one again would append
        # every invocation's frames to its traceback.
        raise ConfigurationError(list(loaded.problems))
    return loaded


cold_start()


def _region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigurationError(["AWS_REGION (or AWS_DEFAULT_REGION) is not set"])
    return region


@functools.lru_cache(maxsize=4)
def _caller_identity(region: str) -> tuple[str, str]:
    """(partition, account) from STS, once per cold start and Region."""
    arn = str(boto3.client("sts", region_name=region).get_caller_identity()["Arn"])
    parts = arn.split(":")
    return parts[1], parts[4]


def _partition_and_account(context: Any, region: str) -> tuple[str, str]:
    # The invoked function's ARN carries partition and account for free; STS is
    # only the fallback for callers without a Lambda context.
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str):
        parts = arn.split(":")
        if len(parts) >= 5 and parts[4].isdigit():
            return parts[1], parts[4]
    return _caller_identity(region)


def _function_name(context: Any, settings: Settings) -> str:
    """This function's name: schedule names and the continuation target derive from it."""
    name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if isinstance(name, str) and name:
        return name
    if settings.continuations:
        raise ConfigurationError(
            ["AWS_LAMBDA_FUNCTION_NAME is not set (needed to schedule continuations)"]
        )
    return "dynamodb-export"


class CallCounter:
    """Counts AWS API calls by operation.

    One per client call: botocore's own retries are not included, but the engine's
    retries of ExportTableToPointInTime are separate calls and each one counts.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self._counts[str(getattr(model, "name", "unknown"))] += 1

    def snapshot(self) -> dict[str, int]:
        """Calls so far, by operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))


def make_client(
    region: str,
    settings: Settings,
    counter: CallCounter,
    retries: Mapping[str, Any] = RETRY_CONFIG,
    service: str = "dynamodb",
) -> Any:
    """A client for this run (thread-safe; shared by the worker threads)."""
    config = Config(
        region_name=region,
        retries=dict(retries),
        # One pooled connection per worker avoids "connection pool is full" churn.
        max_pool_connections=settings.worker_threads + 2,
        connect_timeout=10,
        read_timeout=60,
    )
    client = boto3.client(service, config=config)
    client.meta.events.register(f"before-call.{client.meta.service_model.endpoint_prefix}", counter)
    return client


def _by_outcome(decisions: list[Decision]) -> dict[str, list[dict[str, str]]]:
    by_outcome: dict[str, list[dict[str, str]]] = {o.value: [] for o in Outcome}
    for decision in sorted(decisions, key=lambda d: d.table):
        by_outcome[decision.outcome.value].append(decision.as_dict())
    return by_outcome


def summarize(
    report: RunReport, calls: Mapping[str, Mapping[str, int]], seconds: float
) -> dict[str, Any]:
    """The handler's return value: this run's decisions by outcome plus counts.

    The lists are the event's cut's; what the run did for other open cuts is under
    `otherCuts`, one entry a cut, and its cuts' closing reports are in `closed` too.
    """
    by_outcome = _by_outcome(report.decisions)
    counts: dict[str, Any] = {name: len(entries) for name, entries in by_outcome.items()}
    counts.update(
        tablesSeen=report.tables_seen,
        excluded=report.excluded,
        inFlightBefore=report.in_flight_before,
        capacity=report.capacity,
        pending=report.pending,
        inFlight=report.in_flight,
    )
    return {
        "exportTime": report.cut.isoformat(),
        "action": report.action,
        "wave": report.wave,
        **by_outcome,
        "counts": counts,
        "continuation": report.continuation,
        "closed": [closed for r in (report, *report.others) for closed in r.closed],
        "otherCuts": [
            {
                "exportTime": other.cut.isoformat(),
                "action": other.action,
                "wave": other.wave,
                "continuation": other.continuation,
                **{
                    outcome: entries
                    for outcome, entries in _by_outcome(other.decisions).items()
                    if entries
                },
            }
            for other in report.others
        ],
        "errors": [error for r in (report, *report.others) for error in r.errors],
        "alerts": [alert for r in (report, *report.others) for alert in r.alerts],
        "warnings": report.warnings,
        "awsCalls": dict(calls["dynamodb"]),
        "stateCalls": dict(calls["state"]),
        "schedulerCalls": dict(calls["scheduler"]),
        "durationSeconds": round(seconds, 3),
    }


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run the cut's first run, a wave, or nothing; raise if a table or the chain failed."""
    began = time.monotonic()
    now = utcnow()
    settings = current_settings()
    continuation = parse_continuation(event, settings, now)
    cut = continuation.cut if continuation else resolve_cut(event, settings, now)
    manual = isinstance(event, Mapping) and event.get("exportTime") is not None
    region = _region()
    partition, account = _partition_and_account(context, region)
    scope = Scope(partition=partition, account=account, region=region)
    function_name = _function_name(context, settings)

    counters = {name: CallCounter() for name in ("dynamodb", "state", "scheduler")}
    scheduler = None
    if settings.continuations:
        scheduler = make_client(region, settings, counters["scheduler"], service="scheduler")
    env = Environment(
        settings=settings,
        scope=scope,
        cut=cut,
        now=now,
        client=make_client(region, settings, counters["dynamodb"]),
        export_client=make_client(
            region, settings, counters["dynamodb"], retries=EXPORT_RETRY_CONFIG
        ),
        store=StateStore(make_client(region, settings, counters["state"]), settings.state_table),
        scheduler=scheduler,
        function_name=function_name,
        function_arn=f"arn:{partition}:lambda:{region}:{account}:function:{function_name}",
        log=log_event,
        clock=utcnow,
    )
    report = CutRun(env).run(continuation, scheduled=continuation is None and not manual)
    calls = {name: counter.snapshot() for name, counter in counters.items()}
    summary = summarize(report, calls, time.monotonic() - began)
    log_event(
        "totals",
        f"{report.action} for cut {summary['exportTime']}: {summary['counts']}",
        {
            "exportTime": summary["exportTime"],
            "exportType": settings.export_type,
            "action": report.action,
            "wave": report.wave,
            **summary["counts"],
            "continuation": report.continuation,
            "awsCalls": summary["awsCalls"],
            "stateCalls": summary["stateCalls"],
            "schedulerCalls": summary["schedulerCalls"],
            "durationSeconds": summary["durationSeconds"],
        },
    )
    failed = [
        d for r in (report, *report.others) for d in r.decisions if d.outcome is Outcome.FAILED
    ]
    if failed:
        raise ExportsFailedError(failed, summary)
    if summary["errors"]:
        raise ContinuationError("; ".join(summary["errors"]))
    if summary["alerts"]:
        raise UnreadableStateError("; ".join(summary["alerts"]))
    return summary
