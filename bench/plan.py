"""Benchmark the offline plan at organization scale: `make bench PART=plan`.

Generates stack configs of growing size and plans each offline (`tools.offline.run_program`,
the program under Pulumi mocks):

- providers mode, from `Pulumi.prod.yaml`: N source accounts (10, 50, 200), each in 2 Regions
  with the plan running in both, deploy and preview roles in its own account;
- stackSets mode, from `Pulumi.sandbox.yaml`: N OUs (4, 40) as policy targets.

The DynamoDB exporter stays on (one per account and Region) wherever the program accepts it.
Its bucket policy names every exporter role and outgrows S3's 20,480 bytes at some size: a
row beyond that is planned without the exporter and says so, and a row at the largest size
that keeps it is added.

Each case runs --runs times, each time in a fresh interpreter, so that a row counts what a
`pulumi preview` pays on every run: importing the program (pulumi, pulumi_aws) and the
engine's registrations. The row gives the medians of the process's wall time, of the time
inside `run_program` alone, and of the process's peak RSS, with the resources declared and the
AWS providers. Providers are what a real run pays for most: each is a plugin process of
300-430 MB (pulumi/pulumi-aws#5860), which the mocks do not start.

Usage: venv/bin/python bench/plan.py [--runs 3] [--accounts 10 50 200] [--ous 4 40]

`--compare BASE` plans the same generated stacks (by default 50 accounts and 50 OUs) at the
commit BASE, in a temporary worktree, and in the working tree, and prints `make plan-diff`'s
report for each: a restructuring that changes nothing reports no resource changed, added or
removed, at a scale the example stacks do not reach.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import ROOT, load_stack_file
from tools.offline import PROVIDER_TYPE, OfflineRun, run_program

Mode = Literal["providers", "stackSets"]
# In stackSets mode the exporters are in the StackSet's template: no component of this type.
EXPORTER_TYPE = "backup:index:DynamoDbExporter"

# The two Regions of every generated source account (the prod stack's primary and DR Region).
SOURCE_REGIONS = ("ap-southeast-2", "ap-southeast-1")
# Generated account ids count up from here: clear of the example stacks' fixed accounts
# (000000000000, 555555555555, 777777777777, 888888888888), whose providers stay as they are.
FIRST_SOURCE_ACCOUNT = 100_000_000_000
PROD_OU = "ou-ab12-prod7890"
# The sandbox OUs' prefix: the same root part, a distinct 8-character suffix each.
OU_PREFIX = "ou-ab12-sbx"
# A real run starts one plugin process per provider (pulumi/pulumi-aws#5860).
PLUGIN_MB = (300, 430)
# Measured before one provider per account (one per account and Region), 200 accounts x 2
# Regions, offline plan: the yardstick the issue (#9, "Organization scale") started from.
REFERENCE = "200 accounts x 2 Regions, one provider per account and Region: 73 s, 660 MB"


@dataclass(frozen=True)
class Case:
    """One row: a mode and how many accounts (providers) or OUs (stackSets) it targets."""

    mode: Mode
    size: int
    # providers mode only: whether the DynamoDB exporter is on (an exporter per account and
    # Region) or switched off because its bucket policy would not fit (see exporter_refusal).
    exporter: bool = True

    @property
    def stack(self) -> str:
        """The example stack the config is generated from."""
        return "prod" if self.mode == "providers" else "sandbox"


def source_account_ids(count: int) -> list[str]:
    """`count` distinct 12-digit account ids, none of them an example stack's fixed account."""
    return [str(FIRST_SOURCE_ACCOUNT + index) for index in range(count)]


def ou_ids(count: int) -> list[str]:
    """`count` distinct OU ids of AWS's pattern `ou-<root part>-<8 to 32 characters>`."""
    return [f"{OU_PREFIX}{index:05d}" for index in range(count)]


def _edited(stack: str, edits: dict[str, Callable[[Any], Any]]) -> dict[str, str]:
    """The stack file's config as the engine hands it over, with some sections replaced.

    Each edit receives the section's decoded value and returns the new one.
    """
    project, config = load_stack_file(stack, ROOT)
    for section, edit in edits.items():
        key = f"{project}:{section}"
        config[key] = json.dumps(edit(json.loads(config[key])))
    return config


def _roles(account_id: str) -> dict[str, str]:
    # Same role names as the example stacks use in every account.
    return {
        "roleArn": f"arn:aws:iam::{account_id}:role/BackupDeployer",
        "previewRoleArn": f"arn:aws:iam::{account_id}:role/BackupPreviewer",
    }


def providers_config(accounts: int, *, exporter: bool = True) -> dict[str, str]:
    """`Pulumi.prod.yaml` with `accounts` source accounts, each in both SOURCE_REGIONS.

    The plan runs in both Regions; the policy targets the prod OU only (an account target
    must be a source account, and the prod file's one is replaced). With `exporter`, the
    DynamoDB exporter stays enabled, so every account and Region gets one.
    """

    def organization(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "policyTargets": [PROD_OU]}

    def sources(_: Any) -> list[dict[str, Any]]:
        return [
            {"accountId": account_id, **_roles(account_id), "regions": list(SOURCE_REGIONS)}
            for account_id in source_account_ids(accounts)
        ]

    def plan(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "regions": list(SOURCE_REGIONS)}

    def export(value: dict[str, Any]) -> dict[str, Any]:
        return value if exporter else {**value, "enabled": False}

    return _edited(
        "prod",
        {
            "organization": organization,
            "sourceAccounts": sources,
            "backupPlan": plan,
            "dynamodbExport": export,
        },
    )


def exporter_refusal(accounts: int) -> str | None:
    """Why the program refuses the exporter for `accounts` source accounts; None if it fits.

    The export bucket's policy names every exporter role, and S3 takes 20,480 bytes at most:
    the program checks it before declaring anything (`export_bucket_policy_document`).
    """
    # Imported here: pulumi_aws comes with it, which the child must import inside run_program.
    from config import ConfigError, parse_stack_config
    from config.loader import project_name, project_values
    from documents import export_bucket_policy_document
    from topology import Topology

    project = project_name(ROOT)
    config = parse_stack_config(project, project_values(project, providers_config(accounts)))
    assert config.dynamodb_export is not None
    try:
        export_bucket_policy_document(Topology(config))
    except ConfigError as error:
        return "; ".join(error.problems)
    return None


def most_accounts_with_exporter(limit: int) -> int:
    """The most source accounts (at most `limit`) whose exporters' bucket policy fits."""
    # The policy grows with every account: a bisection needs about log2(limit) checks.
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if exporter_refusal(middle) is None:
            low = middle
        else:
            high = middle - 1
    return low


def stack_sets_config(ous: int) -> dict[str, str]:
    """`Pulumi.sandbox.yaml` (stackSets mode) with `ous` OUs as its policy targets."""

    def organization(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "policyTargets": ou_ids(ous)}

    return _edited("sandbox", {"organization": organization})


def case_config(case: Case) -> dict[str, str]:
    """The generated config of one case."""
    if case.mode == "providers":
        return providers_config(case.size, exporter=case.exporter)
    return stack_sets_config(case.size)


@dataclass(frozen=True)
class PlanCounts:
    """What a plan declares: the same on every run of a case."""

    regions: int
    resources: int
    providers: int
    exporters: int


def plan_counts(run: OfflineRun, config: Mapping[str, str]) -> PlanCounts:
    """The counts of one offline run of a generated config."""
    [plan] = [value for key, value in config.items() if key.endswith(":backupPlan")]
    return PlanCounts(
        regions=len(json.loads(plan)["regions"]),
        # The mocks record providers as resources too; the table counts them apart.
        resources=sum(1 for r in run.resources if r.type != PROVIDER_TYPE),
        providers=len(run.providers),
        exporters=len(run.of_type(EXPORTER_TYPE)),
    )


@dataclass(frozen=True)
class Timing:
    """How long one fresh process took, and its peak memory (or the medians of several)."""

    process_s: float
    # User + system time: unlike the wall time, hardly moved by other work on the machine.
    cpu_s: float
    run_program_s: float
    peak_rss_mib: float


def plan_in_this_process(case: Case) -> dict[str, Any]:
    """Plan one case here (the child's side): counts, time in `run_program` and peak RSS."""
    config = case_config(case)
    began = time.perf_counter()
    run = run_program(case.stack, config, ROOT)
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "counts": asdict(plan_counts(run, config)),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "run_program_s": seconds,
        # Linux reports ru_maxrss in KiB: the process's high-water mark, imports included.
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def sample(case: Case) -> tuple[PlanCounts, Timing]:
    """Plan one case in a fresh interpreter and time that process from start to exit."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case.mode, str(case.size)]
    if not case.exporter:
        command.append("--no-exporter")
    began = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    process_s = time.perf_counter() - began
    if completed.returncode != 0:
        raise RuntimeError(
            f"{case.mode} {case.size}: exit {completed.returncode}\n{completed.stderr}"
        )
    # The last line is ours; anything the program printed before it is not.
    child = json.loads(completed.stdout.strip().splitlines()[-1])
    timing = Timing(process_s, child["cpu_s"], child["run_program_s"], child["peak_rss_mib"])
    return PlanCounts(**child["counts"]), timing


@dataclass(frozen=True)
class Row:
    """One case's counts and the medians of its samples' timings."""

    case: Case
    counts: PlanCounts
    timing: Timing


def measure(case: Case, runs: int) -> Row:
    """`runs` samples of one case, reduced to their medians.

    One after the other: on 2 cores, samples in parallel would slow each other down.
    """
    samples = [sample(case) for _ in range(runs)]
    counts = {plan for plan, _ in samples}
    if len(counts) != 1:
        raise RuntimeError(f"{case.mode} {case.size}: the plan differs between runs: {counts}")
    timings = [timing for _, timing in samples]
    return Row(
        case,
        counts.pop(),
        Timing(
            statistics.median(t.process_s for t in timings),
            statistics.median(t.cpu_s for t in timings),
            statistics.median(t.run_program_s for t in timings),
            statistics.median(t.peak_rss_mib for t in timings),
        ),
    )


HEADER = (
    "mode",
    "accounts/OUs",
    "Regions",
    "resources",
    "providers",
    "exporters",
    "plan s",
    "cpu s",
    "in program s",
    "peak RSS MiB",
    "plugins GB",
)
GAP = "  "
NOTE_WIDTH = 100


def format_table(lines: Sequence[Sequence[object]]) -> list[str]:
    """Columns as wide as their widest cell; the first left-aligned, the numbers right."""
    cells = [[str(value) for value in line] for line in lines]
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]
    return [
        GAP.join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]


def _cells(row: Row) -> list[object]:
    low, high = PLUGIN_MB
    counts, timing = row.counts, row.timing
    exporters: object = counts.exporters
    if row.case.mode == "stackSets":
        # CloudFormation deploys them from the StackSet's template, outside the plan.
        exporters = "in StackSet"
    elif not row.case.exporter:
        exporters = "off"
    return [
        row.case.mode,
        row.case.size,
        counts.regions,
        counts.resources,
        counts.providers,
        exporters,
        f"{timing.process_s:.1f}",
        f"{timing.cpu_s:.1f}",
        f"{timing.run_program_s:.1f}",
        f"{timing.peak_rss_mib:.0f}",
        f"{counts.providers * low / 1000:.1f}-{counts.providers * high / 1000:.1f}",
    ]


def table(rows: Sequence[Row], runs: int, refusals: dict[int, str], most: int | None) -> list[str]:
    """The table and the notes that say what it measured."""
    low, high = PLUGIN_MB
    plural = "s" if runs != 1 else ""
    lines = [
        f"\nOffline plan at organization scale (median of {runs} run{plural}, a fresh interpreter each)",
        *format_table([HEADER, *(_cells(row) for row in rows)]),
        "plan s: wall time of the whole process: interpreter start, imports (pulumi, pulumi_aws),",
        "  config generation, the program under Pulumi mocks. cpu s: its user + system time.",
        "  in program s: wall time in run_program alone (the program and the mocked engine's",
        "  registrations). peak RSS: the process's ru_maxrss.",
        "resources: what the program declares (components included, providers not).",
        "plugins GB: the mocks start no provider plugin; a real preview or update starts one per",
        f"  provider, 300-430 MB each (pulumi/pulumi-aws#5860): providers x {low}-{high} MB.",
    ]
    notes = [
        f"exporters off at {accounts} accounts: the program refuses them ({refusal})."
        for accounts, refusal in sorted(refusals.items())
    ]
    if most is not None:
        notes.append(
            f"With the exporter, one providers-mode stack takes at most {most} accounts x "
            f"{len(SOURCE_REGIONS)} Regions (the row with {most} accounts)."
        )
    notes.append(f"Earlier, offline, before one provider per account: {REFERENCE}.")
    for note in notes:
        lines += textwrap.wrap(note, NOTE_WIDTH, subsequent_indent="  ")
    return lines


# Plans one generated config with the program of another checkout (argv: its root, the stack;
# stdin: the config) and prints the inventory: run with that checkout first on sys.path.
INVENTORY_CHILD = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
from tools.inventory import build_inventory
from tools.offline import run_program
run = run_program(sys.argv[2], json.loads(sys.stdin.read()), root)
print(json.dumps(build_inventory(run, root)))
"""


def inventory_at(root: Path, case: Case) -> dict[str, Any]:
    """The resources of one case's plan, with the program of the checkout at `root`."""
    completed = subprocess.run(
        [sys.executable, "-c", INVENTORY_CHILD, str(root), case.stack],
        input=json.dumps(case_config(case)),
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{case.mode} {case.size} at {root}: {completed.stderr}")
    resources: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])["resources"]
    return resources


def compare(base: str, cases: Sequence[Case]) -> list[str]:
    """`make plan-diff`'s report of each case, between BASE and the working tree."""
    import tempfile

    from tools.inventory_diff import diff_inventories, render_inventory_report
    from tools.plan_diff import base_worktree

    reports = []
    with tempfile.TemporaryDirectory() as tmp, base_worktree(ROOT, base, Path(tmp)) as tree:
        for case in cases:
            label = f"{case.mode}-{case.size}"
            changes = diff_inventories(inventory_at(tree, case), inventory_at(ROOT, case))
            reports.append(render_inventory_report(label, changes))
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every case and print the table; `--child MODE N` is one sample's process."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per row")
    parser.add_argument("--accounts", type=int, nargs="*", help="default 10 50 200 (compare: 50)")
    parser.add_argument("--ous", type=int, nargs="*", help="default 4 40 (compare: 50)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--no-exporter", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--compare", metavar="BASE", help="plan-diff the generated stacks against BASE"
    )
    args = parser.parse_args(argv)
    if args.compare is not None:
        cases = [Case("providers", n) for n in args.accounts or [50]]
        cases += [Case("stackSets", n) for n in args.ous or [50]]
        print("\n".join(compare(args.compare, cases)))
        return 0
    args.accounts = args.accounts or [10, 50, 200]
    args.ous = args.ous or [4, 40]
    if args.child is not None:
        mode, size = args.child
        case = Case(mode, int(size), exporter=not args.no_exporter)
        print(json.dumps(plan_in_this_process(case)))
        return 0
    # Rows the program would refuse with the exporter are planned without it, and said so.
    refusals = {n: r for n in args.accounts if (r := exporter_refusal(n)) is not None}
    most = most_accounts_with_exporter(max(refusals)) if refusals else None
    accounts = sorted({*args.accounts, *([most] if most else [])})
    cases = [Case("providers", n, exporter=n not in refusals) for n in accounts]
    cases += [Case("stackSets", n) for n in args.ous]
    rows = []
    for case in cases:
        rows.append(measure(case, args.runs))
        # Progress on stderr: the 200-account row takes minutes.
        print(f"measured {case.mode} {case.size}", file=sys.stderr)
    print("\n".join(table(rows, args.runs, refusals, most)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
