"""What a change does to the offline plan: the plan at BASE against the working tree.

`make plan-diff BASE=<rev>` runs `python -m tools.plan --stack S --out DIR` twice per stack:
once in a temporary `git worktree` checked out at BASE, once in the working tree, both with
the interpreter running this script (the worktree has no venv of its own). It then compares
the two resource inventories (`resources.json`, see tools/inventory.py) and prints, per stack,
a one-line verdict and a line per account, then every added, removed or changed resource: each
changed input as `path: old -> new` (JSON held in a string input decoded first), policy
documents and other objects as a unified JSON diff whose hunks name their JSON path, a note
where the change makes AWS replace the resource ("lock replaced" for a vault lock), and for an
Organizations policy, attachment or StackSet what it reaches. A stack that is new (or gone) is
counted by account and type instead (`--full` or FULL=1 lists it); `--stacks` (or STACKS=)
limits the report to some stacks.

A base that predates `resources.json` is compared by its policy documents only (the older
report), and the report says so. See docs/plan-diff.md for how to read the report.

Exit status: 0 whenever a report was produced, differences or not (this is a report for a
reviewer, not a gate); 1 when the plan fails on the working tree; 2 on a bad BASE or git error.
A base that cannot be planned (no tools/plan.py yet, no such stack file, or a failing plan) is
treated as empty, and the report says so.

`python -m tools.plan_diff --comment REPORT --limit N` prints a saved report cut to at most N
characters for a pull-request comment, saying how much was cut.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from config.errors import unknown_key_message
from config.loader import stack_names
from tools.inventory import INVENTORY_FILE, READABLE_FORMATS
from tools.inventory_diff import (
    LIFECYCLE_FIELDS,
    ResourceChange,
    Status,
    account_summary,
    diff_inventories,
    inventory_verdict,
    render_inventory_report,
    unified_diff,
    with_notes,
)


@dataclass(frozen=True)
class DocumentChange:
    """One policy document that differs between base and head."""

    name: str
    status: Status
    diff: str


@dataclass(frozen=True)
class PlanResult:
    """Outcome of one `tools.plan` run: exit code and what it printed."""

    returncode: int
    output: str


# (working directory, stack, output directory) -> result; injectable so tests need no real plan.
PlanRunner = Callable[[Path, str, Path], PlanResult]


# --- policy documents: the report for a base that predates resources.json -----------------------


def _documents(directory: Path | None) -> dict[str, Path]:
    if directory is None or not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).with_suffix("").as_posix(): path
        for path in sorted(directory.rglob("*.json"))
        if path.name != INVENTORY_FILE
    }


def _read_lines(path: Path | None) -> list[str]:
    if path is None:
        return []
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def compare_dirs(base: Path | None, head: Path | None, stack: str = "") -> list[DocumentChange]:
    """Compare the policy documents (``*.json`` but the inventory) of two plan directories.

    A missing directory counts as empty. Documents are named by their path relative to the
    directory without ``.json``; the result is sorted by name.
    """
    before = _documents(base)
    after = _documents(head)
    changes: list[DocumentChange] = []
    for name in sorted(before.keys() | after.keys()):
        old = _read_lines(before.get(name))
        new = _read_lines(after.get(name))
        if name not in before:
            status: Status = "added"
        elif name not in after:
            status = "removed"
        elif old != new:
            status = "changed"
        else:
            continue
        diff = unified_diff(old, new, f"base/{stack}/{name}.json", f"head/{stack}/{name}.json")
        changes.append(DocumentChange(name, status, diff))
    return changes


def verdict(stack: str, changes: Sequence[DocumentChange]) -> str:
    """The one-line summary for a stack, e.g. ``dev: 2 documents changed: a, b (added)``."""
    if not changes:
        return f"{stack}: no policy document changed"
    noun = "document" if len(changes) == 1 else "documents"
    names = ", ".join(
        c.name if c.status == "changed" else f"{c.name} ({c.status})" for c in changes
    )
    return f"{stack}: {len(changes)} {noun} changed: {names}"


def render_stack(stack: str, changes: Sequence[DocumentChange], notes: Sequence[str] = ()) -> str:
    """Verdict, any notes about the base, then every diff, as one block of text."""
    return with_notes(verdict(stack, changes), notes, [change.diff for change in changes])


def load_inventory(directory: Path) -> tuple[dict[str, Any] | None, str]:
    """The resources of the inventory in `directory`, or None and what is wrong (``has no ...``);
    a readable but older format is said in the second value."""
    path = directory / INVENTORY_FILE
    if not path.is_file():
        return None, f"has no {INVENTORY_FILE}"
    inventory = json.loads(path.read_text(encoding="utf-8"))
    found = inventory.get("format")
    if found not in READABLE_FORMATS:
        readable = " or ".join(str(f) for f in READABLE_FORMATS)
        return None, f"has {INVENTORY_FILE} format {found}, not {readable}"
    resources: dict[str, Any] = inventory["resources"]
    if found < READABLE_FORMATS[-1]:
        return resources, (
            f"predates inventory format {READABLE_FORMATS[-1]}: "
            f"{', '.join(LIFECYCLE_FIELDS)} are not compared"
        )
    return resources, ""


# Resources whose change reaches accounts beyond their own, and what they reach, from their
# inputs: a policy attachment's `targetId`, StackSet instances' `deploymentTargets` and
# `regions`; an Organizations policy or a StackSet reaches what its component's attachments or
# instances do.
REACHING = frozenset(
    {
        "aws:organizations/policy:Policy",
        "aws:organizations/policyAttachment:PolicyAttachment",
        "aws:cloudformation/stackSet:StackSet",
        "aws:cloudformation/stackInstances:StackInstances",
    }
)
# CloudFormation DeploymentTargets.AccountFilterType: how `accounts` narrow the OUs.
ACCOUNT_FILTERS = {"DIFFERENCE": "except", "INTERSECTION": "only", "UNION": "and"}


def _targets(entry: Mapping[str, Any]) -> str:
    inputs: Mapping[str, Any] = entry.get("inputs") or {}
    if "targetId" in inputs:
        return str(inputs["targetId"])
    deployment = inputs.get("deploymentTargets")
    if not isinstance(deployment, Mapping):
        return ""
    words = ", ".join(deployment.get("organizationalUnitIds") or [])
    how = ACCOUNT_FILTERS.get(str(deployment.get("accountFilterType")))
    if deployment.get("accounts") and how:
        words += f" {how} accounts {', '.join(deployment['accounts'])}"
    regions = inputs.get("regions")
    return words + (f" in {', '.join(regions)}" if regions else "")


def reaches(key: str, inventory: Mapping[str, Mapping[str, Any]]) -> str:
    """The roots, OUs and accounts (and Regions) the resource `key` reaches; '' if none."""
    entry = inventory.get(key)
    if entry is None or entry.get("type") not in REACHING:
        return ""
    own = _targets(entry)
    if own:
        return own
    parent = entry.get("parent")
    found = (
        _targets(other) for other in inventory.values() if parent and other.get("parent") == parent
    )
    return ", ".join(sorted(filter(None, found)))


def reach_lines(
    changes: Sequence[ResourceChange], base: Mapping[str, Any], head: Mapping[str, Any]
) -> dict[str, list[str]]:
    """`reaches: ...` for each changed Organizations policy, attachment or StackSet."""
    lines: dict[str, list[str]] = {}
    for change in changes:
        before, after = reaches(change.key, base), reaches(change.key, head)
        now = before if change.status == "removed" else after
        was = (
            f" (before: {before or 'nothing'})"
            if change.status == "changed" and before != after
            else ""
        )
        if now or was:
            lines[change.key] = [f"reaches: {now or 'nothing'}{was}"]
    return lines


def summarized(
    stack: str,
    changes: Sequence[ResourceChange],
    inventory: Mapping[str, Any],
    notes: Sequence[str],
) -> str:
    """A stack added or removed whole: counts by account and type and what it reaches, not every
    resource (a new stack is hundreds of them)."""
    status = changes[0].status
    types = Counter(str(c.entry.get("type")) for c in changes if c.entry.get("custom", True))
    by_type = "".join(f"    {count} {token}\n" for token, count in sorted(types.items()))
    reached = [
        f"    {change.entry.get('name')} ({change.entry.get('type')}): {where}\n"
        for change in changes
        if (where := reaches(change.key, inventory))
    ]
    blocks = [f"{status}, by type:\n{by_type}"]
    blocks += [f"what its policies and StackSets reach:\n{''.join(reached)}"] if reached else []
    note = f"every resource is {status}: counted by account and type (--full lists each one)"
    return with_notes(
        inventory_verdict(stack, changes), [*notes, note], blocks, account_summary(changes)
    )


def compare_stack(
    stack: str,
    base_dir: Path | None,
    head_dir: Path | None,
    notes: Sequence[str] = (),
    full: bool = False,
) -> str:
    """The report for one stack from two plan directories; None stands for an empty plan.

    Resource by resource when both sides have an inventory; a stack that is new (or gone) is
    summarized unless `full`. Otherwise (a base that predates `resources.json`) the policy
    documents only, with a note saying so.
    """
    base, base_why = load_inventory(base_dir) if base_dir is not None else ({}, "")
    head, head_why = load_inventory(head_dir) if head_dir is not None else ({}, "")
    if base is not None and head is not None:
        older = [f"base {base_why}"] if base_why else []
        changes = diff_inventories(base, head)
        if changes and not full and not (base and head):
            return summarized(stack, changes, base or head, [*notes, *older])
        reached = reach_lines(changes, base, head)
        return render_inventory_report(stack, changes, [*notes, *older], reached)
    missing = [
        f"{label} {why}"
        for label, found, why in (("base", base, base_why), ("head", head, head_why))
        if found is None
    ]
    fallback = f"{' and '.join(missing)}: comparing policy documents only"
    return render_stack(stack, compare_dirs(base_dir, head_dir, stack), [*notes, fallback])


# --- pull-request comment ----------------------------------------------------------------------

FULL_REPORT_AT = "the job summary and the plan-diff artifact of this workflow run"


def truncate_report(report: str, limit: int, full_report_at: str = FULL_REPORT_AT) -> str:
    """`report` as it fits a comment of at most `limit` characters, cut at a line end.

    A cut report starts with a line saying how many characters and lines were left out and
    where the full report is, and ends with a line marking the cut.
    """
    if len(report) <= limit:
        return report
    end_marker = "[... report truncated here]\n"

    def notice(cut_chars: int, cut_lines: int) -> str:
        return (
            f"[plan-diff: this report is truncated: {cut_chars:,} of {len(report):,} characters"
            f" ({cut_lines:,} lines) are not shown; the full report is in {full_report_at}]\n\n"
        )

    # The notice with the largest numbers it can hold bounds the room left for the report.
    budget = limit - len(notice(len(report), report.count("\n") + 1)) - len(end_marker)
    if budget <= 0:
        raise ValueError(f"a limit of {limit} characters leaves no room for the report")
    cut = report.rfind("\n", 0, budget) + 1 or budget
    rest = report[cut:]
    cut_lines = rest.count("\n") + (0 if rest.endswith("\n") else 1)
    return notice(len(rest), cut_lines) + report[:cut] + end_marker


# --- git and plan plumbing ---------------------------------------------------------------------


def run_plan(cwd: Path, stack: str, out: Path) -> PlanResult:
    """Run the offline plan of one stack in `cwd` with this interpreter, writing into `out`."""
    completed = subprocess.run(
        [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return PlanResult(completed.returncode, completed.stdout + completed.stderr)


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {completed.stderr.strip()}")
    return completed.stdout.strip()


class GitError(RuntimeError):
    """A git command failed (unknown revision, not a repository, ...)."""


@contextmanager
def base_worktree(repo: Path, rev: str, parent: Path) -> Iterator[Path]:
    """Check `rev` out in a detached worktree under `parent`, removed again on exit."""
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    path = parent / "base-tree"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        # --force: the base plan may have left untracked files (build/, __pycache__) behind.
        # If removal fails, keep going so the temporary directory still goes; prune then
        # forgets the worktree entry.
        with suppress(GitError):
            _git(repo, "worktree", "remove", "--force", str(path))
        _git(repo, "worktree", "prune")


def _plan_base(
    worktree: Path, stack: str, out: Path, runner: PlanRunner
) -> tuple[Path | None, list[str]]:
    if not (worktree / "tools" / "plan.py").is_file():
        return None, ["base has no tools/plan.py; treating base as empty"]
    if not (worktree / f"Pulumi.{stack}.yaml").is_file():
        return None, [f"base has no Pulumi.{stack}.yaml; treating base as empty"]
    result = runner(worktree, stack, out)
    if result.returncode != 0:
        last = result.output.strip().splitlines()[-1:] or ["(no output)"]
        return None, [f"plan failed on base (exit {result.returncode}: {last[0]}); base empty"]
    return out, []


def plan_diff(
    repo: Path,
    base: str,
    runner: PlanRunner = run_plan,
    out: TextIO | None = None,
    only: Sequence[str] = (),
    full: bool = False,
) -> int:
    """Plan every stack at `base` and in the working tree of `repo` (or the stacks in `only`),
    print the report; `full` lists every resource of a stack that is new or gone."""
    # Looked up at call time, not bound as a default, so a redirected stdout is honoured.
    out = out if out is not None else sys.stdout
    head_stacks = stack_names(repo)
    with tempfile.TemporaryDirectory(prefix="plan-diff-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with base_worktree(repo, base, tmp) as tree:
                known = sorted(set(head_stacks) | set(stack_names(tree)))
                for name in only:
                    if name not in known:
                        message = unknown_key_message(name, known, "stack")
                        print(f"plan-diff: {name!r} {message}", file=sys.stderr)
                        return 2
                stacks = [stack for stack in known if not only or stack in only]
                base_dirs: dict[str, tuple[Path | None, list[str]]] = {
                    stack: _plan_base(tree, stack, tmp / "base" / stack, runner) for stack in stacks
                }
        except GitError as error:
            print(f"plan-diff: cannot check out {base!r}: {error}", file=sys.stderr)
            return 2

        failed = False
        blocks: list[str] = []
        for stack in stacks:
            base_dir, notes = base_dirs[stack]
            head_dir: Path | None = tmp / "head" / stack
            if stack in head_stacks:
                result = runner(repo, stack, tmp / "head" / stack)
                if result.returncode != 0:
                    failed = True
                    print(f"plan-diff: plan failed for stack {stack!r}:", file=sys.stderr)
                    print(result.output, file=sys.stderr)
                    continue
            else:
                head_dir = None
                notes = [*notes, f"Pulumi.{stack}.yaml no longer exists in the working tree"]
            blocks.append(compare_stack(stack, base_dir, head_dir, notes, full))
        out.write("\n".join(blocks))
        out.flush()
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m tools.plan_diff --base REV`` or ``--comment REPORT``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--base", help="git revision to compare against")
    action.add_argument(
        "--comment", type=Path, metavar="REPORT", help="print a saved report cut for a PR comment"
    )
    parser.add_argument(
        "--limit", type=int, default=60_000, help="with --comment: most characters (60000)"
    )
    parser.add_argument(
        "--repo", type=Path, default=None, help="repository root (default: the current one)"
    )
    # `make plan-diff STACKS=prod FULL=1`: make hands its command-line variables to the recipe's
    # environment, so the Makefile's one line serves both.
    parser.add_argument(
        "--stacks",
        default=os.environ.get("STACKS", ""),
        help="only these stacks, comma- or space-separated (default: $STACKS, else every stack)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        default=os.environ.get("FULL", "") not in ("", "0"),
        help="list every resource of a stack that is new or gone, not a summary (or FULL=1)",
    )
    args = parser.parse_args(argv)
    if args.comment is not None:
        sys.stdout.write(truncate_report(args.comment.read_text(encoding="utf-8"), args.limit))
        return 0
    start = args.repo if args.repo is not None else Path.cwd()
    try:
        repo = Path(_git(start, "rev-parse", "--show-toplevel"))
    except GitError as error:
        print(f"plan-diff: {error}", file=sys.stderr)
        return 2
    only = args.stacks.replace(",", " ").split()
    return plan_diff(repo, args.base, only=only, full=args.full)


if __name__ == "__main__":
    sys.exit(main())
