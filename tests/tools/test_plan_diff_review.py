"""make plan-diff for a reviewer: embedded JSON decoded, hunks with JSON paths, a line per
account, what a policy or StackSet reaches, new stacks summarized, a per-stack filter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from config.loader import load_stack_file
from tools.inventory import FORMAT, build_inventory
from tools.inventory_diff import (
    MISSING,
    diff_entries,
    diff_inventories,
    json_lines,
    render_input_change,
    render_inventory_report,
)
from tools.offline import OfflineRun, run_program
from tools.plan_diff import compare_stack, reach_lines, reaches

BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
RULE = "aws:cloudwatch/eventRule:EventRule"
POLICY = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
INSTANCES = "aws:cloudformation/stackInstances:StackInstances"


def entry(
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    account: str = "111111111111",
    parent: str | None = "alerts",
) -> dict[str, Any]:
    return {
        "type": type_token,
        "name": name,
        "parent": parent,
        "account": account,
        "region": "eu-west-1",
        "custom": True,
        "documents": [],
        "inputs": inputs,
    }


def keyed(*entries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['type']}::{e['name']}": e for e in entries}


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
