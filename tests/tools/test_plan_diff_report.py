"""tools.plan_diff, resource by resource: input diffs, replacement notes, the real stacks, and
what a reviewer needs besides (embedded JSON decoded, JSON paths, accounts, reach, new stacks)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_stack_file
from tools.inventory import FORMAT, build_inventory
from tools.inventory_diff import (
    LOCK_TYPE,
    MISSING,
    InputChange,
    ResourceChange,
    diff_entries,
    diff_inventories,
    forces_replacement,
    inventory_verdict,
    json_lines,
    render_input_change,
    render_inventory_report,
)
from tools.offline import OfflineRun, run_program
from tools.plan_diff import compare_stack, reach_lines, reaches

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


# --- for a reviewer: embedded JSON, JSON paths, accounts, reach, new stacks ---------------------

BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
RULE = "aws:cloudwatch/eventRule:EventRule"
POLICY = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
INSTANCES = "aws:cloudformation/stackInstances:StackInstances"


def bus_policy(org_paths: list[str]) -> str:
    """The bus policy as pulumi-aws takes it: JSON text in a string input."""
    statement = {
        "Sid": "OrganizationForwards",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": org_paths}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# --- embedded JSON ------------------------------------------------------------------------------


def test_a_policy_in_a_string_input_is_a_json_document_diff_not_an_escaped_string() -> None:
    base = entry(BUS_POLICY, "bus-policy", {"policy": bus_policy(["o-1/*/ou-a/*"])})
    head = entry(BUS_POLICY, "bus-policy", {"policy": bus_policy(["o-1/*/ou-a/*", "o-1/*/ou-b/*"])})

    [change] = diff_entries(base, head)
    text = render_input_change("dev", "bus-policy", change)

    assert change.document and change.path == "policy"
    assert '\\"' not in text
    assert '+            "o-1/*/ou-b/*"\n' in text


def test_an_event_pattern_is_compared_key_by_key() -> None:
    def rule(states: list[str]) -> dict[str, Any]:
        pattern = {"source": ["aws.backup"], "detail": {"state": states}}
        return entry(RULE, "job-failed", {"eventPattern": json.dumps(pattern), "name": "r"})

    [change] = diff_entries(rule(["FAILED", "EXPIRED"]), rule(["FAILED", "ABORTED"]))

    assert (change.path, change.old, change.new) == (
        "eventPattern.detail.state[1]",
        "EXPIRED",
        "ABORTED",
    )


def test_text_that_is_not_json_stays_text() -> None:
    [change] = diff_entries(
        entry(RULE, "r", {"description": "{not json"}), entry(RULE, "r", {"description": "[x"})
    )
    assert (change.old, change.new) == ("{not json", "[x")


# --- JSON paths on hunks ------------------------------------------------------------------------


def test_each_line_of_a_document_knows_its_json_path() -> None:
    lines, paths = json_lines(
        {"Statement": [{"Sid": "A", "Action": ["s3:Get", "s3:Put"]}], "a.b": 1}
    )

    assert list(zip((line.rstrip() for line in lines), paths, strict=True)) == [
        ("{", ""),
        ('  "Statement": [', "Statement"),
        ("    {", "Statement[0]"),
        ('      "Action": [', "Statement[0].Action"),
        ('        "s3:Get",', "Statement[0].Action[0]"),
        ('        "s3:Put"', "Statement[0].Action[1]"),
        ("      ],", "Statement[0].Action"),
        ('      "Sid": "A"', "Statement[0].Sid"),
        ("    }", "Statement[0]"),
        ("  ],", "Statement"),
        ('  "a.b": 1', '["a.b"]'),
        ("}", ""),
    ]
    assert json_lines(MISSING) == ([], [])


def test_every_hunk_of_a_document_diff_names_the_json_path_it_changes() -> None:
    def policy(first: str, last: str) -> dict[str, Any]:
        filler = [{"Sid": f"S{i}", "Effect": "Allow", "Action": "a:b"} for i in range(1, 6)]
        return {
            "Statement": [{"Sid": "S0", "Effect": first}, *filler, {"Sid": "S6", "Effect": last}]
        }

    base = entry("aws:s3/bucketPolicy:BucketPolicy", "p", {"policy": policy("Allow", "Allow")})
    head = entry("aws:s3/bucketPolicy:BucketPolicy", "p", {"policy": policy("Deny", "Deny")})
    base["documents"] = head["documents"] = ["policy"]
    [change] = diff_entries(base, head)

    hunks = [
        line
        for line in render_input_change("dev", "p", change).splitlines()
        if line.startswith("@@")
    ]

    assert [hunk.split(" @@ ")[1] for hunk in hunks] == [
        "Statement[0].Effect",
        "Statement[6].Effect",
    ]


# --- accounts and reach -------------------------------------------------------------------------


def test_the_verdict_is_followed_by_a_line_per_account() -> None:
    base = keyed(
        entry(RULE, "a", {"name": "a"}, account="111111111111"),
        entry(RULE, "b", {"name": "b"}, account="222222222222"),
    )
    head = keyed(
        entry(RULE, "a", {"name": "a2"}, account="111111111111"),
        entry(RULE, "c", {"name": "c"}, account="222222222222"),
    )

    lines = render_inventory_report("dev", diff_inventories(base, head)).splitlines()

    assert lines[:3] == [
        "dev: 1 resource changed (1 replaced), 1 added, 1 removed",
        "  account 111111111111: 1 changed (1 replaced)",
        "  account 222222222222: 1 added, 1 removed",
    ]


def organization(targets: list[str]) -> dict[str, dict[str, Any]]:
    policy = entry(
        POLICY, "organization-policy", {"content": "{}", "name": "p"}, parent="organization"
    )
    attachments = [
        entry(
            ATTACHMENT,
            f"organization-{t}",
            {"policyId": "p-1", "targetId": t},
            parent="organization",
        )
        for t in targets
    ]
    return keyed(policy, *attachments)


def test_a_changed_backup_policy_says_which_targets_it_reaches() -> None:
    base = organization(["ou-ab12-aaaa1111"])
    head = organization(["ou-ab12-aaaa1111", "444444444444"])
    head["aws:organizations/policy:Policy::organization-policy"]["inputs"]["content"] = '{"a": 1}'

    changes = diff_inventories(base, head)
    text = render_inventory_report("prod", changes, extra=reach_lines(changes, base, head))

    assert (
        "    reaches: 444444444444, ou-ab12-aaaa1111 (before: ou-ab12-aaaa1111)"
        in text.splitlines()
    )
    # The new attachment reaches its own target.
    assert "    reaches: 444444444444" in text.splitlines()


def test_stack_set_instances_reach_their_ous_less_the_accounts_left_out() -> None:
    targets = {
        "accountFilterType": "DIFFERENCE",
        "accounts": ["999999999999"],
        "organizationalUnitIds": ["ou-ab12-sbx11111", "ou-ab12-sbx22222"],
    }
    inventory = keyed(
        entry(
            INSTANCES,
            "members-instances",
            {"deploymentTargets": targets, "regions": ["eu-west-1"]},
            parent="members",
        ),
        entry(
            "aws:cloudformation/stackSet:StackSet",
            "members-stack-set",
            {"name": "s"},
            parent="members",
        ),
    )

    expected = "ou-ab12-sbx11111, ou-ab12-sbx22222 except accounts 999999999999 in eu-west-1"
    assert reaches(f"{INSTANCES}::members-instances", inventory) == expected
    # The StackSet reaches what its instances do.
    assert reaches("aws:cloudformation/stackSet:StackSet::members-stack-set", inventory) == expected
    assert reaches(f"{RULE}::x", keyed(entry(RULE, "x", {}))) == ""


def test_an_ou_added_to_a_stack_sets_stack_reports_what_it_reaches(sandbox_run: OfflineRun) -> None:
    project, config = load_stack_file("sandbox")
    organization_config = json.loads(config[f"{project}:organization"])
    organization_config["policyTargets"].append("ou-ab12-sbx33333")
    config[f"{project}:organization"] = json.dumps(organization_config)
    base = build_inventory(sandbox_run)["resources"]
    head = build_inventory(run_program("sandbox", config))["resources"]

    changes = diff_inventories(base, head)
    lines = render_inventory_report(
        "sandbox", changes, extra=reach_lines(changes, base, head)
    ).splitlines()

    attachment = lines.index(
        "+ organization-ou-ab12-sbx33333 (aws:organizations/policyAttachment:PolicyAttachment, "
        f"{head[f'{ATTACHMENT}::organization-ou-ab12-sbx33333']['account']} "
        f"{head[f'{ATTACHMENT}::organization-ou-ab12-sbx33333']['region']}, in organization)"
    )
    assert lines[attachment + 1] == "    reaches: ou-ab12-sbx33333"
    instances = next(i for i, line in enumerate(lines) if line.startswith("~ members-instances "))
    assert lines[instances + 1].startswith(
        "    reaches: ou-ab12-sbx11111, ou-ab12-sbx22222, ou-ab12-sbx33333"
    )
    assert "(before: ou-ab12-sbx11111, ou-ab12-sbx22222" in lines[instances + 1]


# --- a new stack --------------------------------------------------------------------------------


def write_inventory(directory: Path, resources: dict[str, Any]) -> Path:
    directory.mkdir(parents=True)
    inventory = {"format": FORMAT, "stack": "x", "resources": resources}
    (directory / "resources.json").write_text(json.dumps(inventory), encoding="utf-8")
    return directory


def test_a_new_stack_is_counted_not_listed_unless_asked(
    dev_run: OfflineRun, tmp_path: Path
) -> None:
    head = write_inventory(tmp_path / "head", build_inventory(dev_run)["resources"])

    summary = compare_stack("staging", None, head, ["base has no Pulumi.staging.yaml"])
    full = compare_stack("staging", None, head, [], full=True)

    lines = summary.splitlines()
    count = len(dev_run.resources)
    assert lines[0] == f"staging: 0 resources changed, {count} added, 0 removed"
    assert (
        "  note: every resource is added: counted by account and type (--full lists each one)"
        in lines
    )
    header = re.compile(r"\+ \S+ \(")
    assert not any(header.match(line) for line in lines)
    keys = sum(1 for r in dev_run.resources if r.type == "aws:kms/key:Key")
    assert f"    {keys} aws:kms/key:Key" in lines
    assert any(
        line.startswith("    organization-policy (aws:organizations/policy:Policy): ")
        for line in lines
    )
    assert len(summary) < len(full) / 10
    assert sum(bool(header.match(line)) for line in full.splitlines()) == count
