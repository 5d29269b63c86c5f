"""tools.plan_diff, resource by resource: input diffs, replacement notes, and the real stacks."""

import json
from typing import Any

import pytest

from config.loader import load_stack_file
from tools.inventory import build_inventory
from tools.inventory_diff import (
    LOCK_TYPE,
    MISSING,
    InputChange,
    ResourceChange,
    diff_entries,
    diff_inventories,
    forces_replacement,
    inventory_verdict,
    render_inventory_report,
)
from tools.offline import OfflineRun, run_program
from tools.plan_diff import compare_stack

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def entry(
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    documents: tuple[str, ...] = (),
    parent: str | None = "exporter",
    account: str | None = "111111111111",
    region: str | None = "ap-southeast-2",
) -> dict[str, Any]:
    return {
        "type": type_token,
        "name": name,
        "parent": parent,
        "account": account,
        "region": region,
        "custom": True,
        "documents": list(documents),
        "inputs": inputs,
    }


def keyed(*entries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['type']}::{e['name']}": e for e in entries}


def lock(minimum: int) -> dict[str, Any]:
    inputs = {"backupVaultName": "central", "minRetentionDays": minimum, "maxRetentionDays": 400}
    return entry(LOCK_TYPE, "destination-ap-southeast-2-vault-lock", inputs, parent="destination")


# --- input diffs -------------------------------------------------------------------------------


def test_nested_inputs_are_compared_leaf_by_leaf() -> None:
    base = entry("t:m:T", "r", {"rules": [{"expiration": {"days": 35}, "id": "x"}], "n": 1})
    head = entry("t:m:T", "r", {"rules": [{"expiration": {"days": 7}, "id": "x"}], "n": 1})

    assert diff_entries(base, head) == [InputChange("rules[0].expiration.days", 35, 7)]


def test_added_and_removed_keys_and_odd_key_names() -> None:
    base = entry("t:m:T", "r", {"env": {"variables": {"A": "1"}}, "code": {"a.py": "h1"}})
    head = entry("t:m:T", "r", {"env": {"variables": {"B": "2"}}, "code": {"a.py": "h2"}})

    assert [(c.path, c.old, c.new) for c in diff_entries(base, head)] == [
        ('code["a.py"]', "h1", "h2"),
        ("env.variables.A", "1", MISSING),
        ("env.variables.B", MISSING, "2"),
    ]


def test_a_number_that_becomes_a_string_or_boolean_is_a_change() -> None:
    base = entry("t:m:T", "r", {"a": 1, "b": 1})
    head = entry("t:m:T", "r", {"a": "1", "b": True})
    assert [c.path for c in diff_entries(base, head)] == ["a", "b"]


def test_a_document_is_one_change_however_much_of_it_moved() -> None:
    old = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}]}
    new = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}
    base = entry("aws:s3/bucketPolicy:BucketPolicy", "p", {"policy": old}, ("policy",))
    head = entry("aws:s3/bucketPolicy:BucketPolicy", "p", {"policy": new}, ("policy",))

    [change] = diff_entries(base, head)

    assert (change.path, change.document, change.old, change.new) == ("policy", True, old, new)


def test_a_move_to_another_account_region_or_component_is_reported() -> None:
    base = entry("t:m:T", "r", {}, parent="a", account="111111111111", region="us-east-1")
    head = entry("t:m:T", "r", {}, parent="b", account="222222222222", region="us-east-1")
    assert [(c.path, c.old, c.new) for c in diff_entries(base, head)] == [
        ("(account)", "111111111111", "222222222222"),
        ("(parent)", "a", "b"),
    ]


def test_lifecycle_options_are_compared_where_both_sides_recorded_them() -> None:
    lifecycle: dict[str, Any] = {
        "retainOnDelete": False,
        "importId": None,
        "ignoreChanges": [],
        "dependsOn": [],
    }
    base = {**entry("t:m:T", "r", {}), **lifecycle}
    head = {
        **entry("t:m:T", "r", {}),
        **lifecycle,
        "retainOnDelete": True,
        "importId": "o-abc/backup.amazonaws.com",
        "dependsOn": ["t:m:U::u"],
    }

    assert [(c.path, c.old, c.new) for c in diff_entries(base, head)] == [
        ("(retainOnDelete)", False, True),
        ("(importId)", None, "o-abc/backup.amazonaws.com"),
        ("(dependsOn)", [], ["t:m:U::u"]),
    ]
    # A base written before inventory format 2 has none of them: nothing to compare.
    assert diff_entries(entry("t:m:T", "r", {}), head) == []


def test_a_base_before_format_2_is_noted(tmp_path: Any) -> None:
    old = {"format": 1, "resources": {"t:m:T::r": entry("t:m:T", "r", {})}}
    new_entry = {
        **entry("t:m:T", "r", {}),
        "retainOnDelete": True,
        "importId": None,
        "ignoreChanges": [],
        "dependsOn": [],
    }
    new = {"format": 2, "resources": {"t:m:T::r": new_entry}}
    for side, inventory in (("base", old), ("head", new)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "resources.json").write_text(json.dumps(inventory), encoding="utf-8")

    report = compare_stack("dev", tmp_path / "base", tmp_path / "head")

    assert report.splitlines() == [
        "dev: no resource changed, added or removed",
        "  note: base predates inventory format 2: retainOnDelete, importId, ignoreChanges, "
        "dependsOn are not compared",
    ]


# --- replacement notes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_token", "input_name", "replaces"),
    [
        (LOCK_TYPE, "minRetentionDays", True),
        (LOCK_TYPE, "changeableForDays", True),
        ("aws:backup/vault:Vault", "name", True),
        ("aws:kms/alias:Alias", "name", True),
        ("aws:kms/alias:Alias", "targetKeyId", False),
        ("aws:s3/bucket:Bucket", "bucket", True),
        ("aws:iam/role:Role", "path", True),
        ("aws:iam/role:Role", "assumeRolePolicy", False),
        ("aws:lambda/function:Function", "name", True),
        ("aws:lambda/function:Function", "environment", False),
        (LOG_GROUP, "name", True),
        (LOG_GROUP, "retentionInDays", False),
        ("aws:cloudwatch/eventRule:EventRule", "name", True),
        ("aws:cloudwatch/eventRule:EventRule", "scheduleExpression", False),
        ("aws:organizations/policy:Policy", "type", True),
        ("aws:organizations/policy:Policy", "name", False),
        ("aws:organizations/policy:Policy", "content", False),
        ("aws:kms/key:Key", "policy", False),
        ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rules", False),
    ],
)
def test_replacement_is_claimed_only_where_the_provider_schema_says_so(
    type_token: str, input_name: str, replaces: bool
) -> None:
    assert forces_replacement(type_token, input_name) is replaces


def test_any_change_to_a_vault_lock_is_a_lock_replacement() -> None:
    [change] = diff_inventories(keyed(lock(30)), keyed(lock(7)))

    assert change.replaced and change.note == "lock replaced"
    report = render_inventory_report("prod", [change])
    assert report.splitlines() == [
        "prod: 1 resource changed (1 replaced), 0 added, 0 removed",
        "  account 111111111111: 1 changed (1 replaced)",
        "",
        "~ destination-ap-southeast-2-vault-lock (aws:backup/vaultLockConfiguration:"
        "VaultLockConfiguration, 111111111111 ap-southeast-2, in destination): lock replaced",
        "    minRetentionDays: 30 -> 7  (forces replacement)",
    ]


def test_a_renamed_log_group_is_replaced_and_a_shorter_retention_is_not() -> None:
    renamed = entry(LOG_GROUP, "renamed", {"name": "/aws/lambda/f", "retentionInDays": 14})
    kept = entry(LOG_GROUP, "kept", {"name": "/aws/lambda/g", "retentionInDays": 14})
    changes = diff_inventories(
        keyed(renamed, kept),
        keyed(
            {**renamed, "inputs": {"name": "/aws/lambda/h", "retentionInDays": 14}},
            {**kept, "inputs": {"name": "/aws/lambda/g", "retentionInDays": 1}},
        ),
    )

    assert {c.entry["name"]: (c.replaced, c.note) for c in changes} == {
        "renamed": (True, "replaced"),
        "kept": (False, ""),
    }
    lines = render_inventory_report("dev", changes).splitlines()
    assert '    name: "/aws/lambda/f" -> "/aws/lambda/h"  (forces replacement)' in lines
    assert "    retentionInDays: 14 -> 1" in lines
    assert (
        inventory_verdict("dev", changes)
        == "dev: 2 resources changed (1 replaced), 0 added, 0 removed"
    )


def test_a_lock_added_or_removed_says_so() -> None:
    added = diff_inventories({}, keyed(lock(30)))
    removed = diff_inventories(keyed(lock(30)), {})
    assert [(c.status, c.note) for c in added + removed] == [
        ("added", "lock added"),
        ("removed", "lock removed"),
    ]


# --- whole inventories -------------------------------------------------------------------------


def test_added_removed_and_changed_resources_grouped_by_component() -> None:
    policy = {"Statement": [{"Effect": "Allow"}]}
    role_policy = entry("aws:iam/rolePolicy:RolePolicy", "exporter-role-policy", {}, ("policy",))
    role_policy["inputs"] = {"policy": policy, "role": "r"}
    base = keyed(
        entry(LOG_GROUP, "exporter-logs", {"retentionInDays": 14}),
        entry("aws:s3/bucket:Bucket", "old-bucket", {"bucket": "b"}, parent=None),
    )
    head = keyed(entry(LOG_GROUP, "exporter-logs", {"retentionInDays": 1}), role_policy)

    changes = diff_inventories(base, head)

    assert [(c.entry["name"], c.status) for c in changes] == [
        ("exporter-logs", "changed"),
        ("exporter-role-policy", "added"),
        ("old-bucket", "removed"),
    ]
    assert inventory_verdict("dev", changes) == "dev: 1 resource changed, 1 added, 1 removed"
    lines = render_inventory_report("dev", changes).splitlines()
    assert (
        "+ exporter-role-policy (aws:iam/rolePolicy:RolePolicy, 111111111111 ap-southeast-2, "
        "in exporter)"
    ) in lines
    # A new policy is shown whole, as the document report showed a new document.
    assert '+      "Effect": "Allow"' in lines
    assert "- old-bucket (aws:s3/bucket:Bucket, 111111111111 ap-southeast-2)" in lines
    assert (
        "~ exporter-logs (aws:cloudwatch/logGroup:LogGroup, 111111111111 ap-southeast-2, "
        "in exporter)"
    ) in lines


def test_identical_inventories_report_no_change() -> None:
    same = keyed(lock(30))
    assert diff_inventories(same, same) == []
    assert render_inventory_report("prod", [], ["a note"]) == (
        "prod: no resource changed, added or removed\n  note: a note\n"
    )


def test_resource_change_without_changes_has_no_note() -> None:
    change = ResourceChange("k", "added", entry("t:m:T", "r", {}))
    assert (change.replaced, change.note) == (False, "")


# --- the real program, with the changes issue 7 asks the report to show --------------------------


def with_config(stack: str, section: str, edit: dict[str, Any]) -> OfflineRun:
    """`stack` planned with the keys in `edit` (dotted paths below `section`) replaced."""
    project, config = load_stack_file(stack)
    value = json.loads(config[f"{project}:{section}"])
    for path, new in edit.items():
        *parents, last = path.split(".")
        target = value
        for part in parents:
            target = target[part]
        target[last] = new
    config[f"{project}:{section}"] = json.dumps(value)
    return run_program(stack, config)


def report(base: OfflineRun, head: OfflineRun) -> str:
    changes = diff_inventories(
        build_inventory(base)["resources"], build_inventory(head)["resources"]
    )
    return render_inventory_report(base.stack, changes)


def block_of(text: str, name: str) -> list[str]:
    """The lines of the report's block for the resource `name`, header first."""
    [block] = [b for b in text.split("\n\n") if b.split(" ", 2)[1:2] == [name]]
    return block.splitlines()


def test_shorter_export_and_log_retention_are_reported(dev_run: OfflineRun) -> None:
    project, config = load_stack_file("dev")
    export_days = json.loads(config[f"{project}:dynamodbExport"])["retentionDays"]
    head = with_config("dev", "dynamodbExport", {"retentionDays": 7, "logRetentionDays": 1})

    text = report(dev_run, head)

    assert text.startswith("dev: ")
    assert text.splitlines()[0].endswith(" changed, 0 added, 0 removed")
    [lifecycle] = dev_run.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    lines = block_of(text, lifecycle.name)
    assert lines[0].startswith(f"~ {lifecycle.name} (aws:s3/bucketLifecycleConfiguration:")
    assert f"    rules[0].expiration.days: {export_days} -> 7" in lines
    log_groups = dev_run.of_type(LOG_GROUP)
    assert log_groups
    for log_group in log_groups:
        lines = block_of(text, log_group.name)
        days = int(log_group.inputs["retentionInDays"])
        assert lines[0] == (
            f"~ {log_group.name} (aws:cloudwatch/logGroup:LogGroup, {log_group.account_id} "
            f"{log_group.region}, in {log_group.parent_name})"
        )
        assert lines[1:] == [f"    retentionInDays: {days} -> 1"]
    assert "replaced" not in text


def test_a_lower_vault_lock_minimum_is_a_lock_replacement(prod_run: OfflineRun) -> None:
    head = with_config("prod", "destination", {"vaultLock.minRetentionDays": 7})

    text = report(prod_run, head)

    locks = prod_run.of_type(LOCK_TYPE)
    assert len(locks) == 2  # the destination Region and the DR Region
    assert text.splitlines()[0] == "prod: 2 resources changed (2 replaced), 0 added, 0 removed"
    for lock_resource in locks:
        days = int(lock_resource.inputs["minRetentionDays"])
        assert block_of(text, lock_resource.name) == [
            f"~ {lock_resource.name} (aws:backup/vaultLockConfiguration:VaultLockConfiguration, "
            f"{lock_resource.account_id} {lock_resource.region}, in destination): lock replaced",
            f"    minRetentionDays: {days} -> 7  (forces replacement)",
        ]


def test_a_compliance_lock_turned_governance_shows_its_protection_going(
    prod_run: OfflineRun,
) -> None:
    head = with_config(
        "prod",
        "destination",
        {"vaultLock": {"mode": "governance", "minRetentionDays": 30, "maxRetentionDays": 400}},
    )

    text = report(prod_run, head)

    for lock_resource in prod_run.of_type(LOCK_TYPE):
        block = block_of(text, lock_resource.name)
        assert block[0].endswith("lock replaced"), block
        assert "    (protect): true -> false" in block, block
        assert "    changeableForDays: 3 -> (none)  (forces replacement)" in block, block


def test_a_policy_change_is_one_json_diff_in_its_resource(dev_run: OfflineRun) -> None:
    head = with_config("dev", "destination", {"allowCopiesFrom": "organization"})

    text = report(dev_run, head)

    vault_policy = text[text.index("~ destination-ap-southeast-2-vault-policy") :]
    block = vault_policy[: vault_policy.find("\n\n")]
    assert "    policy:\n--- base/dev/destination-ap-southeast-2-vault-policy/policy\n" in block
    assert '-        "AWS": "arn:aws:iam::111111111111:root"' in block.splitlines()
    assert '+        "AWS": "*"' in block.splitlines()
    assert '+          "aws:PrincipalOrgID": "o-a1b2c3d4e5"' in block.splitlines()
    assert "replaced" not in text
