"""Benchmark the DynamoDB export Lambda at account scale against moto_server.

Starts moto's ThreadedMotoServer on 127.0.0.1 (a free port), creates N tables (a
share of them without point-in-time recovery) and a destination bucket owned by a
second account, then invokes the handler twice: the first run of the day and a
catch-up run an hour later on the same cut. Every AWS call the handler makes is
delayed by --latency-ms (a botocore before-send hook) to model real API latency.

moto finishes exports at once and has no 300-export quota, so the numbers measure
the function's call pattern and parallelism, not AWS export throughput. moto also
drops ExportTime and ClientToken; `_report_export_time` adds them back to
DescribeExport (as AWS does) so the catch-up run can recognise finished exports.

Usage: venv/bin/python bench/exporter.py [--tables 2500] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda" / "dynamodb_export"))

REGION = "eu-west-1"
SOURCE_ACCOUNT = "123456789012"
BACKUP_ACCOUNT = "333333333333"
BUCKET = "ddb-backup-bench"
LAMBDA_TIMEOUT_S = 900.0


def _report_export_time() -> None:
    """Patch the in-process moto server: DescribeExport reports ExportTime/ClientToken.

    moto 5.2.5 ignores both request fields; without them every re-run would look like
    a first run. ThreadedMotoServer runs in this process, so patching its handler
    class is enough.
    """
    original_export = DynamoHandler.export_table_to_point_in_time
    original_describe = DynamoHandler.describe_export
    remembered: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def _with_extra(result: ActionResult) -> ActionResult:
        payload: dict[str, Any] = dict(result.result)  # type: ignore[call-overload]
        description = dict(payload["ExportDescription"])
        with lock:
            description.update(remembered.get(description["ExportArn"], {}))
        payload["ExportDescription"] = description
        return ActionResult(payload)

    def export(api: DynamoHandler) -> ActionResult:
        result: ActionResult = original_export(api)
        arn = result.result["ExportDescription"]["ExportArn"]  # type: ignore[index]
        export_time = api.body.get("ExportTime")
        extra: dict[str, Any] = {"ClientToken": api.body.get("ClientToken")}
        if isinstance(export_time, datetime):
            # moto parses timestamps to naive UTC.
            extra["ExportTime"] = export_time.replace(tzinfo=UTC)
        with lock:
            remembered[arn] = extra
        return _with_extra(result)

    def describe(api: DynamoHandler) -> ActionResult:
        return _with_extra(original_describe(api))

    # moto dispatches only to plain functions defined on the handler class.
    DynamoHandler.export_table_to_point_in_time = export  # type: ignore[assignment]
    DynamoHandler.describe_export = describe  # type: ignore[assignment]


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


def _setup(tables: int, no_pitr_share: float) -> list[str]:
    """Create the bucket (other account) and the tables, fast, without latency."""
    sts = boto3.client("sts", region_name=REGION)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{BACKUP_ACCOUNT}:role/bench", RoleSessionName="bench"
    )["Credentials"]
    boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    every = round(1 / no_pitr_share) if no_pitr_share > 0 else 0
    names = [f"table-{i:05d}" for i in range(tables)]
    without = {name for i, name in enumerate(names) if every and i % every == every - 1}
    client = boto3.client("dynamodb", region_name=REGION)

    def create(name: str) -> None:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        if name not in without:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))
    return sorted(without)


def _row(label: str, *values: object) -> str:
    return f"{label:<44}" + "".join(f"{v!s:>16}" for v in values)


def main() -> int:
    """Run the benchmark and print a table of results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2500)
    parser.add_argument("--no-pitr-share", type=float, default=0.10)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=16, help="WORKER_THREADS")
    parser.add_argument("--max-concurrent", type=int, default=250, help="MAX_CONCURRENT_EXPORTS")
    args = parser.parse_args()

    # werkzeug logs every request of the server; keep the output to the table.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _report_export_time()
    with moto_server() as endpoint:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_SESSION_TOKEN": "bench",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_EC2_METADATA_DISABLED": "true",
                "S3_BUCKET_DEST": BUCKET,
                "S3_BUCKET_OWNER": BACKUP_ACCOUNT,
                "ENV": "bench",
                "WORKER_THREADS": str(args.threads),
                "MAX_CONCURRENT_EXPORTS": str(args.max_concurrent),
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        # Imported only now, as Lambda imports it at cold start: the module parses
        # the environment above once (found through the sys.path entry at the top).
        import export_engine
        import handler

        setup_began = time.monotonic()
        without_pitr = _setup(args.tables, args.no_pitr_share)
        setup_s = time.monotonic() - setup_began

        # Clients made by the handler come from boto3's default session and copy its
        # event hooks, so the latency applies to exactly the handler's calls.
        boto3.setup_default_session()
        latency = Latency(args.latency_ms / 1000)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", latency)

        context = SimpleNamespace(
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{SOURCE_ACCOUNT}:function:bench"
        )
        day = handler.utcnow().strftime("%Y-%m-%d")
        runs: list[tuple[str, dict[str, Any], float, Counter[str]]] = []
        for label in ("first run", "catch-up run"):
            latency.counts.clear()
            began = time.monotonic()
            summary = handler.lambda_handler({"time": f"{day}T00:05:00Z"}, context)
            runs.append((label, summary, time.monotonic() - began, Counter(latency.counts)))
        boto3.DEFAULT_SESSION.events.unregister("before-send.dynamodb", latency)

    per_call = args.latency_ms / 1000
    print()
    print(
        f"DynamoDB exporter benchmark: {args.tables} tables ({len(without_pitr)} without PITR), "
        f"{args.latency_ms:.0f} ms per AWS call, WORKER_THREADS={args.threads}, "
        f"MAX_CONCURRENT_EXPORTS={args.max_concurrent}; setup {setup_s:.1f} s"
    )
    print(_row("", *(label for label, *_ in runs)))
    for key, name in (
        ("tablesSeen", "tables seen"),
        ("started", "exports started"),
        ("existing", "already exported (idempotent)"),
        ("skipped", "skipped (no PITR etc.)"),
        ("deferred", "deferred (concurrency cap)"),
        ("failed", "failed"),
    ):
        print(_row(name, *(summary["counts"][key] for _, summary, _, _ in runs)))
    operations = sorted({op for _, summary, _, _ in runs for op in summary["awsCalls"]})
    for op in operations:
        print(_row(f"AWS calls: {op}", *(s["awsCalls"].get(op, 0) for _, s, _, _ in runs)))
    totals = [sum(s["awsCalls"].values()) for _, s, _, _ in runs]
    print(_row("AWS calls: total", *totals))
    print(_row("AWS calls per table", *(f"{t / args.tables:.2f}" for t in totals)))
    print(_row("wall time (s, measured)", *(f"{wall:.1f}" for _, _, wall, _ in runs)))
    projected = [t * per_call / args.threads for t in totals]
    print(
        _row(
            f"projected s at {args.latency_ms:.0f} ms/call",
            *(f"{p:.1f}" for p in projected),
        )
    )
    # Upper bound: every table needs ListExports, MAX_DESCRIBES DescribeExport and an
    # export call, plus the sequential ListTables pages.
    worst = (args.tables * 5 / args.threads + args.tables / 100) * per_call
    print(_row("worst case s (5 calls/table)", f"{worst:.1f}", ""))
    # Persistent throttling of ExportTableToPointInTime: the first table to use up its
    # attempts stops new starts; workers still backing off stop after their current
    # wait (at most the cap). Each backoff ceiling is min(cap, base * 2**n).
    retries = export_engine.EXPORT_MAX_ATTEMPTS - 1
    retry_wait = sum(
        min(export_engine.EXPORT_BACKOFF_CAP_S, export_engine.EXPORT_BACKOFF_BASE_S * 2**n)
        for n in range(retries)
    )
    throttled = worst + retry_wait + export_engine.EXPORT_BACKOFF_CAP_S + retries * per_call
    print(_row("worst case s, exports throttled", f"{throttled:.1f}", ""))
    print(_row("Lambda limit (s)", f"{LAMBDA_TIMEOUT_S:.0f}", f"{LAMBDA_TIMEOUT_S:.0f}"))
    ok = all(wall < LAMBDA_TIMEOUT_S for _, _, wall, _ in runs) and throttled < LAMBDA_TIMEOUT_S
    print("verdict: " + ("fits in Lambda's 900 s" if ok else "DOES NOT FIT in 900 s"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
