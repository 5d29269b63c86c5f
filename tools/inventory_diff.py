"""The resource-by-resource report of `make plan-diff`: what differs between two inventories.

Two `resources.json` inventories (tools/inventory.py) are compared entry by entry: every
resource added, removed or changed, each changed input as `path: old -> new` (an input holding
JSON text, such as an event pattern or a bus policy, decoded first), policy documents and other
objects as a unified JSON diff whose hunks name their JSON path, each changed placement or
lifecycle option as `(field)`, a note where the change makes AWS replace the resource ("lock
replaced" for a vault lock), and a line per account. `tools/plan_diff.py` plans both sides and
prints this report.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["added", "removed", "changed"]
STATUSES: tuple[Status, ...] = ("added", "removed", "changed")


def unified_diff(
    before: list[str],
    after: list[str],
    old_label: str,
    new_label: str,
    paths: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> str:
    """A unified diff; with `paths` (the JSON path of each line of either side) every hunk's
    `@@` line ends with the path of its first change, as git names a hunk's function."""
    lines = list(
        difflib.unified_diff(
            before,
            after,
            fromfile=old_label if before else "/dev/null",
            tofile=new_label if after else "/dev/null",
        )
    )
    for index, line in enumerate(lines):
        hunk = _HUNK.match(line)
        if hunk is None or not (paths[0] or paths[1]):
            continue
        old_at, new_at = int(hunk[1]) - 1, int(hunk[2]) - 1
        for body in lines[index + 1 :]:
            if body[:1] in "-+":
                side, at = (0, old_at) if body[0] == "-" else (1, new_at)
                lines[index] = f"{line.rstrip()} {paths[side][at] or '(top)'}\n"
                break
            old_at, new_at = old_at + 1, new_at + 1
    # difflib leaves the last line without "\n" when the input lacks one; keep the diff readable.
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def json_lines(value: Any) -> tuple[list[str], list[str]]:
    """`value` as indented, key-sorted JSON lines, and the JSON path each line is in."""
    if value is MISSING:
        return [], []
    lines = (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").splitlines(
        keepends=True
    )
    paths: list[str] = []
    # The open containers: (the path of each, its kind, the key or index last seen in it).
    stack: list[tuple[str, str, str | int | None]] = []
    for line in lines:
        text = line.strip().rstrip(",")
        if text in ("}", "]"):
            paths.append(stack.pop()[0])
            continue
        path = stack[-1][0] if stack else ""
        if stack and stack[-1][1] == "{":
            key, end = json.JSONDecoder().raw_decode(text)
            text = text[end + 2 :]
            stack[-1] = (stack[-1][0], "{", key)
            path = _child_path(path, key)
        elif stack:
            last = stack[-1][2]
            index = last + 1 if isinstance(last, int) else 0
            stack[-1] = (stack[-1][0], "[", index)
            path = _child_path(path, index)
        paths.append(path)
        if text in ("{", "["):
            stack.append((path, text, None))
    return lines, paths


def with_notes(
    headline: str, notes: Sequence[str], blocks: Sequence[str], summary: Sequence[str] = ()
) -> str:
    """A headline, its `note:` lines and summary lines, then the blocks, one blank line apart."""
    parts = [headline + "\n"]
    parts.extend(f"  note: {note}\n" for note in notes)
    parts.extend(f"  {line}\n" for line in summary)
    parts.extend("\n" + block for block in blocks)
    return "".join(parts)


# --- the report -----------------------------------------------------------

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


def decoded(value: Any) -> Any:
    """An input holding JSON text (an event bus policy, an event pattern, an input template) as
    the object it encodes, so that it diffs as JSON, not as one long escaped string."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            found = json.loads(value)
        except ValueError:
            return value
        return found if isinstance(found, dict | list) else value
    return value


def is_policy(value: Any) -> bool:
    """Whether a (decoded) input is a policy document, shown whole like the inventory's."""
    return isinstance(value, Mapping) and "Statement" in value


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
        old, new = decoded(old_inputs.get(name, MISSING)), decoded(new_inputs.get(name, MISSING))
        replaces = forces_replacement(type_token, name)
        if name in documents or is_policy(old) or is_policy(new):
            if _canonical(old) != _canonical(new):
                changes.append(InputChange(name, old, new, document=True, replaces=replaces))
        else:
            changes.extend(_leaf_changes(_child_path("", name), old, new, replaces))
    return changes


def _documents_of(entry: Mapping[str, Any], side: Literal["old", "new"]) -> tuple[InputChange, ...]:
    # An added or removed resource shows its policy documents whole, as the document report did.
    inputs = {name: decoded(value) for name, value in entry.get("inputs", {}).items()}
    return tuple(
        InputChange(
            name,
            inputs[name] if side == "old" else MISSING,
            inputs[name] if side == "new" else MISSING,
            document=True,
        )
        for name in sorted(inputs)
        if name in entry.get("documents", ()) or is_policy(inputs[name])
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


def render_input_change(stack: str, name: str, change: InputChange) -> str:
    """One changed value: ``path: old -> new``, or a unified JSON diff for documents and objects."""
    suffix = "  (forces replacement)" if change.replaces else ""
    containers = (Mapping, list)
    if change.document or isinstance(change.old, containers) or isinstance(change.new, containers):
        (before, old_paths), (after, new_paths) = json_lines(change.old), json_lines(change.new)
        diff = unified_diff(
            before,
            after,
            f"base/{stack}/{name}/{change.path}",
            f"head/{stack}/{name}/{change.path}",
            (old_paths, new_paths),
        )
        return f"    {change.path}:{suffix}\n{diff}"
    return f"    {change.path}: {_canonical(change.old)} -> {_canonical(change.new)}{suffix}\n"


def render_resource_change(stack: str, change: ResourceChange, extra: Sequence[str] = ()) -> str:
    """A resource's header line, any `extra` lines (what it reaches), then each changed value."""
    name = str(change.entry.get("name", change.key))
    body = "".join(render_input_change(stack, name, item) for item in change.changes)
    return "".join([f"{_header(change)}\n", *(f"    {line}\n" for line in extra), body])


def account_summary(changes: Sequence[ResourceChange]) -> list[str]:
    """`account 555555555555: 2 changed (2 replaced), 1 added`: one line per account touched."""
    by_account: dict[str, list[ResourceChange]] = {}
    for change in changes:
        if change.entry.get("account") and change.entry.get("custom", True):
            by_account.setdefault(str(change.entry["account"]), []).append(change)
    lines = []
    for account, found in sorted(by_account.items()):
        parts = []
        for status in ("changed", "added", "removed"):
            count = sum(change.status == status for change in found)
            replaced = sum(change.replaced for change in found) if status == "changed" else 0
            if count:
                parts.append(f"{count} {status}" + (f" ({replaced} replaced)" if replaced else ""))
        lines.append(f"account {account}: {', '.join(parts)}")
    return lines


def render_inventory_report(
    stack: str,
    changes: Sequence[ResourceChange],
    notes: Sequence[str] = (),
    extra: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Verdict, any notes, a line per account, then every added, removed or changed resource;
    `extra` holds more lines for a resource's block, by inventory key."""
    lines = extra or {}
    blocks = [
        render_resource_change(stack, change, lines.get(change.key, ())) for change in changes
    ]
    return with_notes(inventory_verdict(stack, changes), notes, blocks, account_summary(changes))
