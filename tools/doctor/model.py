"""Findings, the checks that produce them, and how a report is printed.

A finding is one check's verdict on one resource in one account and Region: `ok`, `warning`
(copies or reports may fail; nothing is broken yet), `failure` (something the stack relies on
is missing or wrong) or `unknown` (the doctor could not look: an account it cannot reach, a
call it may not make). Only failures make the exit status 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warning", "failure", "unknown"]
STATUSES: tuple[Status, ...] = ("failure", "warning", "unknown", "ok")
GLOBAL = "global"

# Every check, in the order the docs explain them (docs/operations.md, "make doctor").
CHECKS: dict[str, str] = {
    "access": "the doctor can reach the account (preview role, doctor role or ambient credentials)",
    "organization.all-features": "the organization has all features enabled",
    "organization.backup-policy-type": "BACKUP_POLICY is enabled on the root",
    "organization.trusted-access": "trusted access for AWS Backup (and StackSets in stackSets mode)",
    "organization.delegated-administrator": "the delegated administrator is registered",
    "organization.policy-target": "each policy target exists and carries the stack's backup policy",
    "organization.resource-policy": "the Organizations resource policy is the stack's",
    "organization.destination-targeted": "the backup policy does not reach the destination account",
    "backup.global-settings": "cross-account backup (and delegated administration) is on",
    "backup.service-role": "the role the backup policy names exists in the account",
    "backup.source-vault": "the source vault exists on a customer managed key",
    "backup.opt-in": "the plan's resource types are opted in",
    "backup.advanced-dynamodb": "advanced DynamoDB backup is on where DynamoDB is backed up",
    "audit.config-recorder": "AWS Config records AWS Backup resources where frameworks are",
    "copy.ebs-default-key": "new EBS volumes are not encrypted with the AWS managed key",
    "copy.workload-key": "tagged resources are on keys the destination can copy from",
    "destination.vault": "each destination vault exists on a customer managed key",
    "destination.vault-policy": "each destination vault admits copies from the sources",
    "destination.vault-lock": "each destination vault's Vault Lock is as configured",
    "destination.copies-from-outside-scope": "no account the copy-in scope excludes copied "
    "into a destination vault in the last 30 days",
    "export.bucket": "the export bucket exists in its account and Region",
    "export.bucket-policy": "the export bucket's policy is the stack's",
}


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one resource.

    `fix` says what is wrong and what to do, as a CLI command or the config key to change;
    empty for `ok`.
    """

    check: str
    status: Status
    account: str
    region: str
    resource: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}")


def ok(check: str, account: str, region: str, resource: str) -> Finding:
    """A passing check."""
    return Finding(check, "ok", account, region, resource)


def exit_status(findings: Iterable[Finding]) -> int:
    """1 when any check failed, else 0: warnings and unknowns do not fail a run."""
    return 1 if any(finding.status == "failure" for finding in findings) else 0


def summary(findings: Sequence[Finding], accounts: int, skipped: int = 0) -> str:
    """One line: how many checks, by status, over how many accounts."""
    counts = Counter(finding.status for finding in findings)
    parts = ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status])
    line = f"{len(findings)} checks in {accounts} accounts: {parts or 'nothing to check'}"
    if skipped:
        line += f"; {skipped} suspended or closed accounts skipped"
    return line


def as_json(findings: Sequence[Finding]) -> str:
    """The findings as a JSON array of {check, status, account, region, resource, fix}."""
    return json.dumps([asdict(finding) for finding in findings], indent=2)


def _order(finding: Finding) -> tuple[int, str, str, str, str]:
    return (
        STATUSES.index(finding.status),
        finding.check,
        finding.account,
        finding.region,
        finding.resource,
    )


def as_text(findings: Sequence[Finding], show_ok: bool = False) -> list[str]:
    """Problems first, each with its fix; passing checks as one count per check (or in full)."""
    lines: list[str] = []
    for finding in sorted(findings, key=_order):
        if finding.status == "ok" and not show_ok:
            continue
        where = f"{finding.account} {finding.region}"
        lines.append(f"{finding.status.upper():8} {finding.check}  {where}  {finding.resource}")
        if finding.fix:
            lines.append(f"         fix: {finding.fix}")
    if not show_ok:
        passed = Counter(finding.check for finding in findings if finding.status == "ok")
        lines += [f"OK       {check}  x{count}" for check, count in sorted(passed.items())]
    return lines
