"""One doctor run: the organization first (it says which accounts to check), then every
member account, the destination and the export bucket in a bounded pool of threads."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import TextIO

from tools.doctor.checks_destination import check_destination, check_export_bucket
from tools.doctor.checks_member import check_member
from tools.doctor.checks_organization import check_organization
from tools.doctor.context import Context, Member
from tools.doctor.model import Finding

# From this many member accounts on, each finished account prints a progress line (stderr).
PROGRESS_FROM = 10


@dataclass(frozen=True)
class Report:
    """Every finding of a run, and how many accounts it covered."""

    findings: list[Finding]
    accounts: int
    skipped: int


def members(ctx: Context, found: dict[str, Member]) -> list[Member]:
    """The accounts the backup policy reaches: the ones the stack prepares, then the ones the
    organization walk found (which already holds the prepared ones it met)."""
    listed = {
        account_id: Member(account_id, "stack")
        for account_id in sorted(ctx.prepared)
        if account_id != ctx.config.destination.account_id
    }
    return list({**found, **listed}.values())


def run_doctor(ctx: Context, progress: TextIO | None = None) -> Report:
    """Run every check; findings in a stable order (organization, members, destination, export)."""
    stream = progress if progress is not None else sys.stderr
    findings, organization = check_organization(ctx)
    accounts = members(ctx, organization.members)
    tasks: list[tuple[str, Callable[[], list[Finding]]]] = [
        (member.account_id, partial(check_member, ctx, member))
        for member in sorted(accounts, key=lambda m: m.account_id)
    ]
    tasks += [
        ("destination", lambda: check_destination(ctx, organization)),
        ("export", lambda: check_export_bucket(ctx)),
    ]
    results: dict[int, list[Finding]] = {}
    show = len(accounts) >= PROGRESS_FROM
    with ThreadPoolExecutor(max_workers=ctx.options.workers) as pool:
        futures = {pool.submit(task): index for index, (_, task) in enumerate(tasks)}
        for done, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            results[index] = future.result()
            if show:
                problems = sum(1 for f in results[index] if f.status != "ok")
                print(
                    f"[{done}/{len(tasks)}] {tasks[index][0]}: {problems} to look at", file=stream
                )
    for index in range(len(tasks)):
        findings += results[index]
    return Report(findings, len({f.account for f in findings}), organization.skipped)
