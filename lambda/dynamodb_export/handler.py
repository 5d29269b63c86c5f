"""Lambda entry point: export every DynamoDB table to a bucket in another account.

Scheduled daily by EventBridge. Each table is exported as of one shared instant (the
cut) to s3://{S3_BUCKET_DEST}/{ENV}/{table}/{YYYY}/{MM}/{DD}/AWSDynamoDB/<export-id>/.
Settings: see export_config.load_settings and the README, "DynamoDB export Lambda".
They are parsed once per cold start (`cold_start`); an unusable environment is logged
then and fails every invocation with the same ConfigurationError, before any AWS call.
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
    Settings,
    load_settings,
    resolve_cut,
)
from export_engine import Decision, Exporter, Outcome, RunResult, list_tables

__all__ = [
    "ConfigurationError",
    "ExportsFailedError",
    "InvalidEventError",
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


def _log(record: Mapping[str, Any], level: int = logging.INFO) -> None:
    LOG.log(level, json.dumps(record, default=str, sort_keys=True))


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
        _log({"event": "configuration_error", "problems": exc.problems}, logging.ERROR)
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
) -> Any:
    """DynamoDB client for this run (thread-safe; shared by the worker threads)."""
    config = Config(
        region_name=region,
        retries=dict(retries),
        # One pooled connection per worker avoids "connection pool is full" churn.
        max_pool_connections=settings.worker_threads + 2,
        connect_timeout=10,
        read_timeout=60,
    )
    client = boto3.client("dynamodb", config=config)
    client.meta.events.register("before-call.dynamodb", counter)
    return client


def summarize(result: RunResult, calls: dict[str, int], seconds: float) -> dict[str, Any]:
    """The handler's return value: decisions by outcome plus counts."""
    by_outcome: dict[str, list[dict[str, str]]] = {o.value: [] for o in Outcome}
    for decision in result.decisions:
        by_outcome[decision.outcome.value].append(decision.as_dict())
    counts = {name: len(entries) for name, entries in by_outcome.items()}
    counts.update(
        tablesSeen=result.tables_seen,
        excluded=result.excluded,
        inFlightBefore=result.in_flight_before,
        capacity=result.capacity,
    )
    return {
        "exportTime": result.cut.isoformat(),
        **by_outcome,
        "counts": counts,
        "awsCalls": calls,
        "durationSeconds": round(seconds, 3),
    }


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Export all selected tables as of one cut; raise if any table failed."""
    began = time.monotonic()
    now = utcnow()
    settings = current_settings()
    cut = resolve_cut(event, settings, now)
    region = _region()
    partition, account = _partition_and_account(context, region)

    counter = CallCounter()
    client = make_client(region, settings, counter)
    export_client = make_client(region, settings, counter, retries=EXPORT_RETRY_CONFIG)
    tables = list_tables(client, region, account, partition)

    def log_decision(decision: Decision) -> None:
        _log(
            {
                "event": "table",
                "exportTime": cut.isoformat(),
                "decision": decision.outcome.value,
                **decision.as_dict(),
            }
        )

    result = Exporter(
        client, settings, cut, now, on_decision=log_decision, export_client=export_client
    ).run(tables)
    summary = summarize(result, counter.snapshot(), time.monotonic() - began)
    _log(
        {
            "event": "totals",
            "exportTime": summary["exportTime"],
            "exportType": settings.export_type,
            **summary["counts"],
            "awsCalls": summary["awsCalls"],
            "durationSeconds": summary["durationSeconds"],
        }
    )
    failed = [d for d in result.decisions if d.outcome is Outcome.FAILED]
    if failed:
        raise ExportsFailedError(failed, summary)
    return summary
