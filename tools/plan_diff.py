"""What a change does to the offline plan: the plan at BASE against the working tree.

`make plan-diff BASE=<rev>` runs `python -m tools.plan --stack S --out DIR` twice per stack:
once in a temporary `git worktree` checked out at BASE, once in the working tree, both with
the interpreter running this script (the worktree has no venv of its own). It then compares
the two resource inventories (`resources.json`, see tools/inventory.py) and prints, per stack,
a one-line verdict, then every added, removed or changed resource: each changed input as
`path: old -> new`, policy documents and other objects as a unified JSON diff, and a note
where the change makes AWS replace the resource ("lock replaced" for a vault lock).

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
import difflib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from tools.inventory import INVENTORY_FILE, READABLE_FORMATS

Status = Literal["added", "removed", "changed"]
STATUSES: tuple[Status, ...] = ("added", "removed", "changed")


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


def _unified(before: list[str], after: list[str], old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        before,
        after,
        fromfile=old_label if before else "/dev/null",
        tofile=new_label if after else "/dev/null",
    )
    # difflib leaves the last line without "\n" when the input lacks one; keep the diff readable.
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


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
        diff = _unified(old, new, f"base/{stack}/{name}.json", f"head/{stack}/{name}.json")
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


def _with_notes(headline: str, notes: Sequence[str], blocks: Sequence[str]) -> str:
    parts = [headline + "\n"]
    parts.extend(f"  note: {note}\n" for note in notes)
    parts.extend("\n" + block for block in blocks)
    return "".join(parts)


def render_stack(stack: str, changes: Sequence[DocumentChange], notes: Sequence[str] = ()) -> str:
    """Verdict, any notes about the base, then every diff, as one block of text."""
    return _with_notes(verdict(stack, changes), notes, [change.diff for change in changes])


# --- resource inventories: the report -----------------------------------------------------------

LOCK_TYPE = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"

# Inputs whose change makes AWS replace the resource: ForceNew in the terraform-provider-aws
# schema (RequiresReplace for its Plugin Framework resources), which pulumi-aws turns into a
# replacement. Paths are files in hashicorp/terraform-provider-aws, under internal/service/;
# Pulumi input names are the camelCase of the Terraform ones unless noted. Only what was read
# there is listed: a wrong "replaced" is worse than none.
REPLACED_BY: dict[str, frozenset[str]] = {
    # backup/vault.go: name, kms_key_arn (a vault's key cannot be changed).
    "aws:backup/vault:Vault": frozenset({"name", "kmsKeyArn"}),
    # backup/vault_policy.go: backup_vault_name.
    "aws:backup/vaultPolicy:VaultPolicy": frozenset({"backupVaultName"}),
    # kms/alias.go: name, name_prefix.
    "aws:kms/alias:Alias": frozenset({"name", "namePrefix"}),
    # s3/bucket.go: bucket, bucket_prefix.
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix"}),
    # s3/bucket_policy.go: bucket.
    "aws:s3/bucketPolicy:BucketPolicy": frozenset({"bucket"}),
    # s3/bucket_public_access_block.go: bucket.
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": frozenset({"bucket"}),
    # s3/bucket_ownership_controls.go: bucket.
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": frozenset({"bucket"}),
    # s3/bucket_versioning.go: bucket, expected_bucket_owner.
    "aws:s3/bucketVersioning:BucketVersioning": frozenset({"bucket", "expectedBucketOwner"}),
    # s3/bucket_server_side_encryption_configuration.go: bucket, expected_bucket_owner.
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        frozenset({"bucket", "expectedBucketOwner"})
    ),
    # s3/bucket_lifecycle_configuration.go (RequiresReplace): bucket, expected_bucket_owner.
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        frozenset({"bucket", "expectedBucketOwner"})
    ),
    # iam/role.go: name, name_prefix, path.
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    # iam/role_policy.go: name, name_prefix, role.
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    # lambda/function.go: function_name (Pulumi `name`), package_type.
    "aws:lambda/function:Function": frozenset({"name", "packageType"}),
    # logs/group.go: name, name_prefix, log_group_class.
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix", "logGroupClass"}),
    # logs/metric_filter.go: name, log_group_name.
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": frozenset({"name", "logGroupName"}),
    # events/rule.go: name, name_prefix, event_bus_name.
    "aws:cloudwatch/eventRule:EventRule": frozenset({"name", "namePrefix", "eventBusName"}),
    # events/target.go: rule, target_id, event_bus_name.
    "aws:cloudwatch/eventTarget:EventTarget": frozenset({"rule", "targetId", "eventBusName"}),
    # cloudwatch/metric_alarm.go: alarm_name (Pulumi `name`).
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    # organizations/policy.go: type (the name is updated in place).
    "aws:organizations/policy:Policy": frozenset({"type"}),
}

# Resources without an update operation, so every argument is ForceNew and any change replaces:
# backup/vault_lock_configuration.go, lambda/permission.go, iam/role_policy_attachment.go,
# organizations/policy_attachment.go.
REPLACED_ON_ANY_CHANGE: frozenset[str] = frozenset(
    {
        LOCK_TYPE,
        "aws:lambda/permission:Permission",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:organizations/policyAttachment:PolicyAttachment",
    }
)

# What to call a resource in its note when reviewers need the word, not the type.
NOUNS: dict[str, str] = {LOCK_TYPE: "lock"}

# Entry fields other than inputs that a reviewer needs to see change, shown as `(field)`:
# where the resource lives, and whether it is protected or replaced delete-first.
PLACEMENT_FIELDS = ("account", "region", "parent", "protect", "deleteBeforeReplace")
# What a delete leaves, an import, ignored inputs and dependencies (inventory format 2): compared
# only where both sides recorded them, so a base from before format 2 shows no false change.
LIFECYCLE_FIELDS = ("retainOnDelete", "importId", "ignoreChanges", "dependsOn")


class _Missing:
    """An input or key present on one side only."""

    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()


def forces_replacement(type_token: str, input_name: str) -> bool:
    """Whether a change to this top-level input makes AWS replace a resource of this type."""
    return type_token in REPLACED_ON_ANY_CHANGE or input_name in REPLACED_BY.get(
        type_token, frozenset()
    )


@dataclass(frozen=True)
class InputChange:
    """One changed value of a resource: a leaf of its inputs, a document, or its placement."""

    path: str
    old: Any
    new: Any
    document: bool = False
    replaces: bool = False


@dataclass(frozen=True)
class ResourceChange:
    """One resource that was added, removed or changed, with what changed."""

    key: str
    status: Status
    entry: Mapping[str, Any]
    changes: tuple[InputChange, ...] = ()

    @property
    def replaced(self) -> bool:
        """Whether applying the change replaces the resource rather than updating it."""
        return self.status == "changed" and any(change.replaces for change in self.changes)

    @property
    def note(self) -> str:
        """``lock replaced``, ``replaced``, ``lock added``, ...: what to flag in the header."""
        noun = NOUNS.get(str(self.entry.get("type")))
        if self.replaced:
            return f"{noun} replaced" if noun else "replaced"
        if noun and self.status != "changed":
            return f"{noun} {self.status}"
        return ""


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _canonical(value: Any) -> str:
    # json.dumps tells 1 from true and 1 from "1", which == does not.
    return "(none)" if value is MISSING else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _leaf_changes(path: str, old: Any, new: Any, replaces: bool) -> list[InputChange]:
    if _canonical(old) == _canonical(new):
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [
            change
            for key in sorted(old.keys() | new.keys())
            for change in _leaf_changes(
                _child_path(path, key), old.get(key, MISSING), new.get(key, MISSING), replaces
            )
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            change
            for index, (before, after) in enumerate(zip(old, new, strict=True))
            for change in _leaf_changes(_child_path(path, index), before, after, replaces)
        ]
    return [InputChange(path, old, new, replaces=replaces)]


def diff_entries(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[InputChange]:
    """What differs between two inventory entries of one resource: placement, then inputs.

    Nested inputs are compared leaf by leaf; a policy document (an input the inventory lists
    under ``documents``) is compared as a whole, to be shown as one JSON diff.
    """
    type_token = str(head.get("type", base.get("type")))
    changes = [
        InputChange(f"({field})", base.get(field), head.get(field))
        for field in PLACEMENT_FIELDS
        if base.get(field) != head.get(field)
    ]
    changes += [
        InputChange(f"({field})", base[field], head[field])
        for field in LIFECYCLE_FIELDS
        if field in base and field in head and base[field] != head[field]
    ]
    documents = {*base.get("documents", ()), *head.get("documents", ())}
    old_inputs: Mapping[str, Any] = base.get("inputs", {})
    new_inputs: Mapping[str, Any] = head.get("inputs", {})
    for name in sorted(old_inputs.keys() | new_inputs.keys()):
        old, new = old_inputs.get(name, MISSING), new_inputs.get(name, MISSING)
        replaces = forces_replacement(type_token, name)
        if name in documents:
            if _canonical(old) != _canonical(new):
                changes.append(InputChange(name, old, new, document=True, replaces=replaces))
        else:
            changes.extend(_leaf_changes(_child_path("", name), old, new, replaces))
    return changes


def _documents_of(entry: Mapping[str, Any], side: Literal["old", "new"]) -> tuple[InputChange, ...]:
    # An added or removed resource shows its policy documents whole, as the document report did.
    inputs: Mapping[str, Any] = entry.get("inputs", {})
    return tuple(
        InputChange(
            name,
            inputs[name] if side == "old" else MISSING,
            inputs[name] if side == "new" else MISSING,
            document=True,
        )
        for name in entry.get("documents", ())
        if name in inputs
    )


def _order(item: tuple[str, Mapping[str, Any]]) -> tuple[bool, str, str]:
    # Grouped by component, like the plan's table; providers last.
    key, entry = item
    group = entry.get("parent") or entry.get("name") or key
    return (str(entry.get("type", "")).startswith("pulumi:providers:"), str(group), key)


def diff_inventories(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[ResourceChange]:
    """Every added, removed or changed resource between two inventories, grouped and sorted."""
    merged = {**base, **head}
    changes: list[ResourceChange] = []
    for key, entry in sorted(merged.items(), key=_order):
        if key not in base:
            changes.append(ResourceChange(key, "added", entry, _documents_of(entry, "new")))
        elif key not in head:
            changes.append(ResourceChange(key, "removed", entry, _documents_of(entry, "old")))
        else:
            found = diff_entries(base[key], head[key])
            if found:
                changes.append(ResourceChange(key, "changed", entry, tuple(found)))
    return changes


def inventory_verdict(stack: str, changes: Sequence[ResourceChange]) -> str:
    """The one-line summary, e.g. ``prod: 3 resources changed (1 replaced), 1 added, 0 removed``."""
    if not changes:
        return f"{stack}: no resource changed, added or removed"
    counts = {status: sum(c.status == status for c in changes) for status in STATUSES}
    replaced = sum(c.replaced for c in changes)
    noun = "resource" if counts["changed"] == 1 else "resources"
    changed = f"{counts['changed']} {noun} changed" + (
        f" ({replaced} replaced)" if replaced else ""
    )
    return f"{stack}: {changed}, {counts['added']} added, {counts['removed']} removed"


def _header(change: ResourceChange) -> str:
    entry = change.entry
    where = " ".join(str(entry[field]) for field in ("account", "region") if entry.get(field))
    details = [
        str(entry.get("type", "")),
        where,
        f"in {entry['parent']}" if entry.get("parent") else "",
    ]
    marker = {"added": "+", "removed": "-", "changed": "~"}[change.status]
    line = f"{marker} {entry.get('name', change.key)} ({', '.join(d for d in details if d)})"
    return f"{line}: {change.note}" if change.note else line


def _json_lines(value: Any) -> list[str]:
    if value is MISSING:
        return []
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").splitlines(
        keepends=True
    )


def render_input_change(stack: str, name: str, change: InputChange) -> str:
    """One changed value: ``path: old -> new``, or a unified JSON diff for documents and objects."""
    suffix = "  (forces replacement)" if change.replaces else ""
    containers = (Mapping, list)
    if change.document or isinstance(change.old, containers) or isinstance(change.new, containers):
        diff = _unified(
            _json_lines(change.old),
            _json_lines(change.new),
            f"base/{stack}/{name}/{change.path}",
            f"head/{stack}/{name}/{change.path}",
        )
        return f"    {change.path}:{suffix}\n{diff}"
    return f"    {change.path}: {_canonical(change.old)} -> {_canonical(change.new)}{suffix}\n"


def render_resource_change(stack: str, change: ResourceChange) -> str:
    """A resource's header line, then each of its changed values."""
    name = str(change.entry.get("name", change.key))
    body = "".join(render_input_change(stack, name, item) for item in change.changes)
    return f"{_header(change)}\n{body}"


def render_inventory_report(
    stack: str, changes: Sequence[ResourceChange], notes: Sequence[str] = ()
) -> str:
    """Verdict, any notes, then every added, removed or changed resource."""
    blocks = [render_resource_change(stack, change) for change in changes]
    return _with_notes(inventory_verdict(stack, changes), notes, blocks)


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


def compare_stack(
    stack: str, base_dir: Path | None, head_dir: Path | None, notes: Sequence[str] = ()
) -> str:
    """The report for one stack from two plan directories; None stands for an empty plan.

    Resource by resource when both sides have an inventory; otherwise (a base that predates
    `resources.json`) the policy documents only, with a note saying so.
    """
    base, base_why = load_inventory(base_dir) if base_dir is not None else ({}, "")
    head, head_why = load_inventory(head_dir) if head_dir is not None else ({}, "")
    if base is not None and head is not None:
        older = [f"base {base_why}"] if base_why else []
        return render_inventory_report(stack, diff_inventories(base, head), [*notes, *older])
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


def stacks_in(root: Path) -> list[str]:
    """Stack names from the ``Pulumi.<stack>.yaml`` files at `root`."""
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in root.glob("Pulumi.*.yaml")
    )


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
    repo: Path, base: str, runner: PlanRunner = run_plan, out: TextIO | None = None
) -> int:
    """Plan every stack at `base` and in the working tree of `repo`, print the report."""
    # Looked up at call time, not bound as a default, so a redirected stdout is honoured.
    out = out if out is not None else sys.stdout
    head_stacks = stacks_in(repo)
    with tempfile.TemporaryDirectory(prefix="plan-diff-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with base_worktree(repo, base, tmp) as tree:
                stacks = sorted(set(head_stacks) | set(stacks_in(tree)))
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
            blocks.append(compare_stack(stack, base_dir, head_dir, notes))
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
    return plan_diff(repo, args.base)


if __name__ == "__main__":
    sys.exit(main())
