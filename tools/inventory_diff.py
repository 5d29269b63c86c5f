"""The resource-by-resource report of `make plan-diff`: what differs between two inventories.

Two `resources.json` inventories (tools/inventory.py) are compared entry by entry: every
resource added, removed or changed, each changed input as `path: old -> new`, policy documents
and other objects as a unified JSON diff, each changed placement or lifecycle option as
`(field)`, and a note where the change makes AWS replace the resource ("lock replaced" for a
vault lock). `tools/plan_diff.py` plans both sides and prints this report.
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


def unified_diff(before: list[str], after: list[str], old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        before,
        after,
        fromfile=old_label if before else "/dev/null",
        tofile=new_label if after else "/dev/null",
    )
    # difflib leaves the last line without "\n" when the input lacks one; keep the diff readable.
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def with_notes(headline: str, notes: Sequence[str], blocks: Sequence[str]) -> str:
    """A headline, its `note:` lines, then the blocks, one blank line apart."""
    parts = [headline + "\n"]
    parts.extend(f"  note: {note}\n" for note in notes)
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
        diff = unified_diff(
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
    return with_notes(inventory_verdict(stack, changes), notes, blocks)
