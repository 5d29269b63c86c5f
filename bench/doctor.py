"""Benchmark `make doctor` at organization scale: `make bench PART=doctor`.

Builds a healthy organization of --accounts member accounts (default 50) in --regions plan
Regions (default 3) in `moto_server` on 127.0.0.1 (a process of its own), with the builder the tests use
(`tests/doctor/world.py`: per account and Region a source vault on its own key, Region
settings, an AWS Config recorder, a tagged RDS instance, Aurora cluster, EBS volume, EC2
instance with a data volume, and DynamoDB table), then times doctor runs against it with every
AWS call delayed by --latency-ms: a botocore `before-send` hook on each HTTP request, and the
same sleep in the fixtures that answer what moto 5.2.5 lacks (`tests/support/doctor_fakes.py`).

Rows: providers mode (every member named in sourceAccounts, read through its previewRoleArn)
and stackSets mode (members found under the OUs, read through the doctor role assumed from the
delegated administrator), with the bounded pool (--workers, 8) and with one worker to show what
the pool buys. The goal: 50 accounts x 3 Regions checked in under a minute.

Usage: venv/bin/python bench/doctor.py [--accounts 50] [--regions 3] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exporter import Latency
from bench.plan import format_table
from tests.doctor.world import ORG_REGION, STACK, Mode, World, build
from tools.doctor.access import Sessions
from tools.doctor.context import Context, Options
from tools.doctor.run import run_doctor

REGIONS = ("eu-west-1", "eu-central-1", "eu-north-1", "eu-west-2", "eu-west-3")
GOAL_SECONDS = 60.0
GOAL = (50, 3)


def free_port() -> int:
    """A TCP port nothing listens on, for the server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port: int = listener.getsockname()[1]
        return port


@contextmanager
def moto_process() -> Iterator[str]:
    """`moto_server` in a process of its own on 127.0.0.1, so that its request handling does
    not share this interpreter's lock with the doctor's threads; stopped on exit."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def server_environment() -> Iterator[None]:
    """A fresh moto server, and fake credentials pointing every client at it."""
    saved = dict(os.environ)
    with moto_process() as endpoint:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_SESSION_TOKEN": "bench",
                "AWS_DEFAULT_REGION": ORG_REGION,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


@dataclass(frozen=True)
class Row:
    """One timed doctor run."""

    mode: Mode
    accounts: int
    regions: int
    workers: int
    latency_ms: float
    checks: int
    not_ok: int
    http_calls: int
    fixture_answers: int
    seconds: float
    setup_seconds: float


def time_run(world: World, workers: int, latency_s: float, setup_s: float) -> Row:
    """One doctor run on the world with `workers` threads and the latency on every call."""
    latency = Latency(latency_s)
    world.gaps.latency = latency_s
    world.gaps.answered.clear()

    def hook(client: Any, account: str, region: str) -> None:
        client.meta.events.register("before-send", latency)
        world.gaps.install(client, account, region)

    sessions = Sessions(ORG_REGION, base=boto3.Session(region_name=ORG_REGION), client_hook=hook)
    ctx = Context(STACK, world.config, sessions, Options(workers=workers))
    began = time.perf_counter()
    report = run_doctor(ctx, progress=io.StringIO())
    seconds = time.perf_counter() - began
    return Row(
        mode=world.mode,
        accounts=world.members,
        regions=len(world.regions),
        workers=workers,
        latency_ms=latency_s * 1000,
        checks=len(report.findings),
        not_ok=sum(1 for f in report.findings if f.status != "ok"),
        http_calls=sum(latency.counts.values()),
        fixture_answers=sum(world.gaps.answered.values()),
        seconds=seconds,
        setup_seconds=setup_s,
    )


def measure(
    mode: Mode, accounts: int, regions: int, runs: Sequence[tuple[int, float]]
) -> list[Row]:
    """Build one organization in a fresh moto server, then time a run per (workers, latency)."""
    with server_environment():
        began = time.perf_counter()
        world = build(mode=mode, members=accounts, regions=REGIONS[:regions])
        setup_s = time.perf_counter() - began
        print(
            f"built {mode}: {accounts} accounts x {regions} Regions in {setup_s:.0f} s",
            file=sys.stderr,
        )
        return [time_run(world, count, latency_s, setup_s) for count, latency_s in runs]


HEADER = (
    "mode",
    "accounts",
    "Regions",
    "workers",
    "latency ms",
    "checks",
    "not ok",
    "HTTP calls",
    "fixture answers",
    "doctor s",
    "setup s",
)


def table(rows: Sequence[Row]) -> list[str]:
    """The table and what it measured."""
    cells = [
        [
            row.mode,
            row.accounts,
            row.regions,
            row.workers,
            f"{row.latency_ms:g}",
            row.checks,
            row.not_ok,
            row.http_calls,
            row.fixture_answers,
            f"{row.seconds:.1f}",
            f"{row.setup_seconds:.0f}",
        ]
        for row in rows
    ]
    lines = [
        "\nmake doctor at organization scale (moto_server on 127.0.0.1, latency added per call)",
        *format_table([HEADER, *cells]),
        "doctor s: wall time of run_doctor (organization walk, then every account in the pool).",
        "HTTP calls: requests sent to moto, each delayed; fixture answers: calls moto 5.2.5 lacks,",
        "  answered in-process with the same delay. not ok: findings other than ok (0: healthy).",
        "setup s: building the organization (not part of the run). With no added latency the",
        "  run shows moto_server's own time per request, which bounds the pooled rows: one",
        "  Python process answers every request.",
    ]
    for row in rows:
        if (row.accounts, row.regions) == GOAL and row.workers > 1 and row.latency_ms >= 20:
            met = "met" if row.seconds < GOAL_SECONDS else "NOT met"
            lines.append(
                f"goal {GOAL[0]} accounts x {GOAL[1]} Regions under {GOAL_SECONDS:.0f} s, "
                f"{row.mode}: {met} ({row.seconds:.1f} s)"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both modes and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000
    pooled, alone = (args.workers, latency_s), (1, latency_s)
    rows = measure("providers", args.accounts, args.regions, [pooled, alone, (args.workers, 0.0)])
    rows += measure("stackSets", args.accounts, args.regions, [pooled])
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
