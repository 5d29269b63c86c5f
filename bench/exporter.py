"""Benchmark the DynamoDB export Lambda at account scale: `make bench`.

Two parts, both with the real handler and 2,500 tables by default (10 % without PITR):

1. **Wall clock of a first run** against moto's ThreadedMotoServer on 127.0.0.1, every
   DynamoDB call delayed by --latency-ms (a botocore before-send hook), to check that
   the heaviest run (ListExports for every table, then the first wave of exports) fits
   in Lambda's 900 s with the worker threads.
2. **Makespan of each day** on a virtual clock (bench/makespan.py): continuations
   against hourly catch-ups only, with the floors, ratios, calls per table, runs and the
   state table's size. Day 1 is a new deployment; the goals are checked on the last day.

Usage: venv/bin/python bench/exporter.py [--tables 2500] [--latency-ms 100] [--days 2]
       [--drift 0.1 | --drift none]
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.makespan import (
    DEFAULT_DRIFT,
    FUNCTION,
    REGION,
    SOURCE_ACCOUNT,
    DayResult,
    bench_environment,
    setup_accounts,
    simulate,
    table_names,
)

LAMBDA_TIMEOUT_S = 900.0
GOAL_RATIO = 1.2
GOAL_CALLS_PER_TABLE = 4.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1; stopped on exit, even after errors."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class Latency:
    """before-send hook: sleeps per HTTP attempt and counts attempts by operation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: Any = None, **kwargs: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"") if request is not None else b""
        operation = (target.decode() if isinstance(target, bytes) else str(target)).split(".")[-1]
        with self._lock:
            self.counts[operation or "other"] += 1
        time.sleep(self.seconds)


def first_run_wall_clock(args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    """The cut's first run against moto_server with latency on every DynamoDB call.

    moto finishes exports at once; this part measures the call pattern and the
    parallelism of the heaviest run, not export throughput (that is part 2).
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with (
        moto_server() as endpoint,
        bench_environment(
            args.max_concurrent,
            continuations=False,
            extra={"AWS_ENDPOINT_URL": endpoint, "WORKER_THREADS": str(args.threads)},
        ),
    ):
        names, without_pitr = table_names(args.tables, args.no_pitr_share)
        setup_accounts(names, without_pitr)
        import handler

        handler.cold_start()
        handler._caller_identity.cache_clear()
        # Clients made by the handler come from boto3's default session and copy its
        # hooks, so the latency applies to exactly the handler's DynamoDB calls.
        boto3.setup_default_session()
        latency = Latency(args.latency_ms / 1000)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", latency)
        context = SimpleNamespace(
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:{FUNCTION}",
            function_name=FUNCTION,
        )
        # A manual cut an hour back: whenever the benchmark runs, PITR has caught up.
        cut = (handler.utcnow() - timedelta(hours=1)).replace(microsecond=0)
        began = time.monotonic()
        summary: dict[str, Any] = handler.lambda_handler({"exportTime": cut.isoformat()}, context)
        wall = time.monotonic() - began
        boto3.DEFAULT_SESSION.events.unregister("before-send.dynamodb", latency)
        return summary, wall


def _row(label: str, *values: object) -> str:
    return f"{label:<52}" + "".join(f"{v!s:>16}" for v in values)


def print_makespan(results: list[DayResult]) -> None:
    """The comparison table (docs/dynamodb-exporter.md quotes it): one column a mode and day."""
    short = {"continuations": "contin.", "hourly only": "hourly"}
    print(_row("", *(f"{short.get(r.mode, r.mode)} day {r.day}" for r in results)))
    rows: list[tuple[str, Any]] = [
        ("tables (exported with PITR)", lambda r: f"{r.tables} ({r.exported})"),
        ("makespan after the daily run (min)", lambda r: f"{r.makespan_min:.0f}"),
        ("floor at the cap (min)", lambda r: f"{r.floor_cap_min:.0f} @{r.cap}"),
        ("floor at 300 (min)", lambda r: f"{r.floor_300_min:.0f}"),
        ("ratio to the floor at the cap", lambda r: f"{r.makespan_min / r.floor_cap_min:.2f}"),
        ("ratio to the floor at 300", lambda r: f"{r.makespan_min / r.floor_300_min:.2f}"),
        ("DynamoDB export API calls per table", lambda r: f"{r.calls_per_table:.2f}"),
        ("  ListExports", lambda r: r.export_api_calls.get("ListExports", 0)),
        ("  DescribeExport", lambda r: r.export_api_calls.get("DescribeExport", 0)),
        (
            "  ExportTableToPointInTime (every attempt)",
            lambda r: r.export_api_calls.get("ExportTableToPointInTime", 0),
        ),
        ("ListTables pages", lambda r: r.list_tables_calls),
        ("state store calls (own DynamoDB table)", lambda r: r.state_calls),
        ("Scheduler calls", lambda r: r.scheduler_calls),
        ("runs (waves)", lambda r: f"{r.runs} ({r.working_runs})"),
        ("longest run at 100 ms/call (s)", lambda r: f"{r.longest_run_s:.1f}"),
        ("missed / failed tables", lambda r: f"{r.missed} / {r.failed}"),
        (
            "state table: largest item / all (KB)",
            lambda r: f"{r.state_largest_item / 1024:.0f} / {r.state_bytes / 1024:.0f}",
        ),
    ]
    for label, value in rows:
        print(_row(label, *(value(r) for r in results)))


def _drift(text: str) -> float | None:
    """--drift: a fraction, or 'none' for independent days."""
    return None if text.lower() == "none" else float(text)


def main() -> int:
    """Run both parts and print their tables; exit 1 if a run would not fit in Lambda."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2500)
    parser.add_argument("--no-pitr-share", type=float, default=0.10)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=16, help="WORKER_THREADS")
    parser.add_argument("--max-concurrent", type=int, default=None, help="MAX_CONCURRENT_EXPORTS")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=2, help="simulated days (last one measured)")
    parser.add_argument(
        "--drift",
        type=_drift,
        default=DEFAULT_DRIFT,
        help="day-to-day change of a table's export duration (0.1 = within 10%%), "
        "or 'none': every day drawn anew",
    )
    parser.add_argument("--skip-wall-clock", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda" / "dynamodb_export"))
    import export_config

    if args.max_concurrent is None:
        args.max_concurrent = export_config.DEFAULT_MAX_CONCURRENT_EXPORTS

    ok = True
    if not args.skip_wall_clock:
        summary, wall = first_run_wall_clock(args)
        calls = summary["awsCalls"]
        print(
            f"\nFirst run of a cut: {args.tables} tables, {args.latency_ms:.0f} ms per DynamoDB "
            f"call, WORKER_THREADS={args.threads}, MAX_CONCURRENT_EXPORTS={args.max_concurrent}"
        )
        for name in sorted(calls):
            print(_row(f"  {name}", calls[name]))
        print(
            _row(
                "  started / skipped / pending",
                f"{summary['counts']['started']} / {summary['counts']['skipped']} / {summary['counts']['pending']}",
            )
        )
        print(_row("  wall time (s, measured)", f"{wall:.1f}"))
        print(_row("  Lambda limit (s)", f"{LAMBDA_TIMEOUT_S:.0f}"))
        ok = wall < LAMBDA_TIMEOUT_S

    results = [
        day
        for continuations in (True, False)
        for day in simulate(
            args.tables,
            args.max_concurrent,
            continuations=continuations,
            seed=args.seed,
            no_pitr_share=args.no_pitr_share,
            threads=args.threads,
            days=args.days,
            drift=args.drift,
        )
    ]
    drift = (
        "drawn anew each day"
        if args.drift is None
        else f"within {args.drift:.0%} of the day before"
    )
    print(
        f"\nMakespan of days 1-{args.days} (virtual clock, exports 8-25 min seeded {args.seed}, "
        f"{drift}; 300 in flight per account): daily run at 03:00, catch-up at :05 every hour"
    )
    print_makespan(results)
    best = next(r for r in reversed(results) if r.mode == "continuations")
    ratio = best.makespan_min / best.floor_cap_min
    print(
        f"goals (continuations, day {best.day}): ratio {ratio:.2f} <= {GOAL_RATIO}: {ratio <= GOAL_RATIO}; "
        f"calls per table {best.calls_per_table:.2f} <= {GOAL_CALLS_PER_TABLE}: "
        f"{best.calls_per_table <= GOAL_CALLS_PER_TABLE}; longest run "
        f"{max(r.longest_run_s for r in results):.0f} s < {LAMBDA_TIMEOUT_S:.0f} s"
    )
    ok = ok and all(r.longest_run_s < LAMBDA_TIMEOUT_S for r in results)
    print(
        "verdict: " + ("every run fits in Lambda's 900 s" if ok else "A RUN DOES NOT FIT in 900 s")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
