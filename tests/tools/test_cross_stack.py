"""Two stacks of this project in the same accounts: names never collide, singletons have one owner."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import read_stack
from tools import plan, validate
from tools.cross_stack import check_stack, format_result

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "aws-backup-copy"


def example(stack: str) -> dict[str, Any]:
    content: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return content


def folder(tmp_path: Path, **stacks: dict[str, Any]) -> Path:
    """A project folder holding Pulumi.yaml and the given stack files."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    for name, content in stacks.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    return tmp_path


def changed(stack: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    content = copy.deepcopy(example(stack))
    change(content["config"])
    return content


def share_dev_source_account(config: dict[str, Any]) -> None:
    """prod also backs up dev's source account 111111111111, in the same Region."""
    config[f"{PROJECT}:sourceAccounts"].append(
        {
            "accountId": "111111111111",
            "roleArn": "arn:aws:iam::111111111111:role/BackupDeployer-prod",
            "regions": ["ap-southeast-2"],
        }
    )
    config[f"{PROJECT}:organization"]["policyTargets"].append("111111111111")


def line_at(root: Path, where: str) -> str:
    """The line `Pulumi.x.yaml:12` names in the stack files under `root`."""
    name, _, number = where.partition(":")
    return (root / name).read_text().splitlines()[int(number) - 1]


def test_the_example_stacks_do_not_collide() -> None:
    stacks = ["dev", "prod", "sandbox"]
    for stack in stacks:
        result = check_stack(stack)
        assert result.collisions == [], result.collisions
        assert result.warnings == [], result.warnings
        assert result.checked == [other for other in stacks if other != stack]


def test_two_stacks_deploying_through_one_role_are_warned_with_both_key_paths(
    tmp_path: Path,
) -> None:
    dev_role = "arn:aws:iam::000000000000:role/BackupDeployer-dev"

    def dev_management_role(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:organization"]["managementAccount"]["roleArn"] = dev_role
        config[f"{PROJECT}:sourceAccounts"][1]["roleArn"] = dev_role.replace(
            "000000000000", "666666666666"
        )

    def dev_reaches_666(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:sourceAccounts"].append(
            {
                "accountId": "666666666666",
                "roleArn": "arn:aws:iam::666666666666:role/BackupDeployer-dev",
                "regions": ["ap-southeast-2"],
            }
        )

    root = folder(
        tmp_path,
        dev=changed("dev", dev_reaches_666),
        prod=changed("prod", dev_management_role),
    )

    result = check_stack("prod", root=root)

    assert result.collisions == []
    shared = [w for w in result.warnings if "both deploy through" in w]
    # Each stack's key path and its line, so that either file can be changed.
    assert [w.split(": whoever")[0] for w in shared] == [
        f"stacks 'prod' and 'dev' both deploy through {dev_role} "
        "(prod: organization.managementAccount.roleArn (Pulumi.prod.yaml:7); "
        "dev: organization.managementAccount.roleArn (Pulumi.dev.yaml:7))",
        "stacks 'prod' and 'dev' both deploy through "
        "arn:aws:iam::666666666666:role/BackupDeployer-dev "
        "(prod: sourceAccounts[1].roleArn (Pulumi.prod.yaml:44); "
        "dev: sourceAccounts[1].roleArn (Pulumi.dev.yaml:26))",
    ]
    assert all(
        w.endswith(
            "whoever may deploy one may change the other's resources; give each environment "
            'deploy roles of its own, even in a shared account (docs/pipeline.md, "Deploy roles '
            'per environment")'
        )
        for w in shared
    )


def test_preview_roles_may_be_shared(tmp_path: Path) -> None:
    # Read-only: sharing BackupPreviewer gives no environment a way into another's resources.
    root = folder(tmp_path, dev=example("dev"), prod=example("prod"))
    dev = example("dev")["config"][f"{PROJECT}:organization"]["managementAccount"]
    prod = example("prod")["config"][f"{PROJECT}:organization"]["managementAccount"]

    assert dev["previewRoleArn"] == prod["previewRoleArn"]
    assert check_stack("prod", root=root).warnings == []


def test_two_environments_share_a_source_account_without_collisions(tmp_path: Path) -> None:
    root = folder(tmp_path, dev=example("dev"), prod=changed("prod", share_dev_source_account))

    result = check_stack("prod", root=root)

    assert result.collisions == []
    assert result.checked == ["dev"]


def test_the_same_vault_name_in_a_shared_account_is_refused(tmp_path: Path) -> None:
    def named_source_vault(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:backupPlan"]["sourceVaultName"] = "backup-source"

    def prod(config: dict[str, Any]) -> None:
        share_dev_source_account(config)
        named_source_vault(config)

    root = folder(tmp_path, dev=changed("dev", named_source_vault), prod=changed("prod", prod))

    result = check_stack("prod", root=root)

    assert len(result.collisions) == 1
    [message] = result.collisions
    assert message.startswith(
        "stacks 'prod' and 'dev' would both create backup vault 'backup-source' "
        "in account 111111111111, ap-southeast-2"
    )


def test_two_frameworks_with_the_same_controls_in_one_account_are_refused(tmp_path: Path) -> None:
    def audited(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:audit"] = {"enabled": True}

    def second_environment(config: dict[str, Any]) -> None:
        audited(config)
        config[f"{PROJECT}:environment"] = "qa"
        config[f"{PROJECT}:organization"]["manageGlobalSettings"] = False
        config[f"{PROJECT}:backupPlan"].pop("regionSettings", None)

    root = folder(tmp_path, dev=changed("dev", audited), qa=changed("dev", second_environment))

    result = check_stack("qa", root=root)

    # Different names, same controls and parameters: AWS refuses the second framework, in the
    # destination (encryption) and in the shared source account (cross-account copy). One line.
    [message] = [m for m in result.collisions if "Audit Manager frameworks" in m]
    assert message.startswith(
        "stacks 'qa' and 'dev' would both create Backup Audit Manager frameworks with the same "
        "controls in account "
    )
    assert "account 222222222222, ap-southeast-2" in message
    assert "account 111111111111, ap-southeast-2" in message
    fix = re.search(r": set audit.enabled: false in one of them \((.+)\)$", message)
    assert fix is not None, message
    for where in fix[1].split(", "):
        assert line_at(root, where).strip() == "enabled: true", where


def test_two_owners_of_the_global_settings_are_refused(tmp_path: Path) -> None:
    def own_global_settings(config: dict[str, Any]) -> None:
        organization = config[f"{PROJECT}:organization"]
        organization["manageGlobalSettings"] = True
        organization["globalSettings"] = {
            "isMpaEnabled": False,
            "isDelegatedAdministratorEnabled": False,
        }

    root = folder(tmp_path, dev=changed("dev", own_global_settings), prod=example("prod"))

    [message] = check_stack("dev", root=root).collisions

    assert message.startswith(
        "stacks 'dev' and 'prod' would both create AWS Backup global settings "
        "in organization o-a1b2c3d4e5"
    )


def test_two_owners_of_an_accounts_region_settings_are_refused(tmp_path: Path) -> None:
    def prod_takes_dev_account(config: dict[str, Any]) -> None:
        share_dev_source_account(config)

    def dev_owns_region_settings(config: dict[str, Any]) -> None:
        prod_plan = example("prod")["config"][f"{PROJECT}:backupPlan"]
        config[f"{PROJECT}:backupPlan"]["regionSettings"] = prod_plan["regionSettings"]
        config[f"{PROJECT}:backupPlan"]["resourceTypes"] = prod_plan["resourceTypes"]

    root = folder(
        tmp_path,
        dev=changed("dev", dev_owns_region_settings),
        prod=changed("prod", prod_takes_dev_account),
    )

    messages = check_stack("dev", root=root).collisions

    assert any(
        "AWS Backup Region settings in account 111111111111, ap-southeast-2" in m for m in messages
    ), messages


def test_the_same_bucket_name_anywhere_is_refused(tmp_path: Path) -> None:
    def same_bucket(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:dynamodbExport"]["bucket"]["name"] = "dynamodb-backup-dev-333333333333"

    root = folder(tmp_path, dev=example("dev"), prod=changed("prod", same_bucket))

    messages = check_stack("prod", root=root).collisions

    assert any("S3 bucket 'dynamodb-backup-dev-333333333333' across AWS" in m for m in messages), (
        messages
    )


def test_a_stack_with_secrets_or_esc_is_checked_in_part_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-pulumi-here"))
    secret = copy.deepcopy(example("prod"))
    secret["config"][f"{PROJECT}:destination"]["roleArn"] = {"secure": "v1:abc"}
    esc = copy.deepcopy(example("prod"))
    esc["environment"] = ["backup/prod"]
    needs_secret = copy.deepcopy(example("prod"))
    needs_secret["config"][f"{PROJECT}:organization"]["id"] = {"secure": "v1:def"}
    root = folder(tmp_path, dev=example("dev"), secret=secret, esc=esc, locked=needs_secret)

    result = check_stack("dev", root=root)

    assert result.collisions == []
    # Complete without what was not read: compared, with what was left out named.
    assert result.checked == ["esc", "secret"]
    assert [w for w in result.warnings if w.startswith("stack 'secret'")] == [
        "stack 'secret' was checked in part: destination.roleArn is a secret: not checked "
        f"(Pulumi.secret.yaml:{line_of(root / 'Pulumi.secret.yaml', 'roleArn:', 'secure:')})"
    ]
    assert [w for w in result.warnings if w.startswith("stack 'esc'")] == [
        "stack 'esc' was checked in part: Pulumi.esc.yaml imports the ESC environment "
        "backup/prod, which only the Pulumi CLI opens (the Pulumi CLI is not on PATH): the "
        "values it sets are not checked"
    ]
    # Not buildable without the secret: not compared, and why.
    assert [w for w in result.warnings if w.startswith("stack 'locked'")] == [
        "stack 'locked' was not checked: organization.id is a secret: not checked "
        f"(Pulumi.locked.yaml:{line_of(root / 'Pulumi.locked.yaml', 'id:', 'secure:')})"
    ]


def line_of(path: Path, key: str, next_line: str) -> int:
    """The line number of `key` when the line after it holds `next_line` (a nested secret)."""
    lines = path.read_text().splitlines()
    return next(
        number
        for number, (line, after) in enumerate(itertools.pairwise(lines), start=1)
        if line.strip() == key and after.strip().startswith(next_line)
    )


def test_an_invalid_other_stack_is_a_warning(tmp_path: Path) -> None:
    broken = changed("prod", lambda config: config.update({f"{PROJECT}:environment": "PROD!"}))
    root = folder(tmp_path, dev=example("dev"), broken=broken)

    result = check_stack("dev", root=root)

    assert result.collisions == []
    assert result.warnings == [
        "stack 'broken' was not checked: its configuration is invalid "
        "(Pulumi.broken.yaml:2: environment: must be 1-20 lowercase letters, digits or '-', got 'PROD!')"
    ]


def test_overlapping_targets_with_the_same_selection_warn_of_double_backups(
    tmp_path: Path,
) -> None:
    def same_ou(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:organization"]["policyTargets"].append("ou-ab12-cdef3456")

    root = folder(tmp_path, dev=example("dev"), prod=changed("prod", same_ou))

    result = check_stack("prod", root=root)

    assert result.collisions == []
    assert result.warnings == [
        "stacks 'prod' and 'dev' both back up resources tagged Backup=true and both reach "
        "ou-ab12-cdef3456: such resources would be backed up and copied twice (use distinct "
        "selection tag values per environment)"
    ]


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_plan_and_validate_refuse_a_collision_with_exit_2_and_no_trace(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def same_bucket(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:dynamodbExport"]["bucket"]["name"] = "dynamodb-backup-dev-333333333333"

    root = folder(tmp_path, dev=example("dev"), prod=changed("prod", same_bucket))
    monkeypatch.setattr(plan, "ROOT", root)
    monkeypatch.setattr(validate, "read_stack", lambda stack: read_stack(stack, root))
    monkeypatch.setattr(
        validate, "check_stack", lambda stack, run: check_stack(stack, run, root=root)
    )
    monkeypatch.setattr(validate, "run_program", lambda stack: _run_from(root, stack))
    out = tmp_path / "out"
    main = plan.main if command == "plan" else validate.main
    extra = ["--out", str(out)] if command == "plan" else []

    assert main(["--stack", "prod", *extra]) == 2

    err = capsys.readouterr().err
    assert (
        "error: stacks 'prod' and 'dev' would both create S3 bucket 'dynamodb-backup-dev-333333333333'"
        in err
    )
    assert "Traceback" not in err
    assert not out.exists()


def _run_from(root: Path, stack: str) -> Any:
    from config.loader import load_stack_file
    from tools.offline import run_program

    _, encoded = load_stack_file(stack, root)
    return run_program(stack, encoded)


def test_a_copied_stack_gets_one_line_per_cause_naming_the_key_to_change(tmp_path: Path) -> None:
    # Two copies of prod, differing only in their file name: every name and singleton of one is
    # the other's (92 lines, one per resource, before the lines were grouped by cause).
    prod = (ROOT / "Pulumi.prod.yaml").read_text()
    root = folder(tmp_path)
    (root / "Pulumi.prod.yaml").write_text(prod)
    (root / "Pulumi.copy.yaml").write_text(prod)

    lines = list(format_result("copy", check_stack("copy", root=root)))

    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) <= 6, lines
    [environment] = [line for line in errors if "the same environment" in line]
    assert environment.startswith(
        "error: stacks 'copy' and 'prod' have the same environment 'prod'"
    )
    fix = re.search(r": change environment in one of them \((.+)\)$", environment)
    assert fix is not None, environment
    assert fix[1].split(", ") == ["Pulumi.copy.yaml:3", "Pulumi.prod.yaml:3"]
    assert line_at(root, "Pulumi.copy.yaml:3") == "  aws-backup-copy:environment: prod"
    # Every other cause names its key too.
    for key in (
        "set organization.manageGlobalSettings: false",
        "change dynamodbExport.bucket.name",
        "change destination.vaultName",
        "set manageRegionSettings: false on those sourceAccounts",
        "set audit.enabled: false",
    ):
        assert sum(key in line for line in errors) == 1, (key, errors)
    assert all(" in one of them (Pulumi.copy.yaml" in line for line in errors), errors


def test_a_name_no_single_key_explains_is_reported_on_its_own(tmp_path: Path) -> None:
    def same_service_role(config: dict[str, Any]) -> None:
        share_dev_source_account(config)
        config[f"{PROJECT}:backupPlan"]["serviceRoleName"] = "dev-made-this"

    dev = changed(
        "dev", lambda c: c[f"{PROJECT}:backupPlan"].update(serviceRoleName="dev-made-this")
    )
    root = folder(tmp_path, dev=dev, prod=changed("prod", same_service_role))

    messages = check_stack("prod", root=root).collisions

    assert [m for m in messages if "IAM role" in m] == [
        "stacks 'prod' and 'dev' would both create IAM role 'dev-made-this' in account "
        "111111111111 (prod: source-111111111111-backup-service-role, dev: "
        "source-111111111111-backup-service-role): change backupPlan.serviceRoleName in one of "
        "them (Pulumi.prod.yaml:"
        f"{line_number(root / 'Pulumi.prod.yaml', 'serviceRoleName')}, Pulumi.dev.yaml:"
        f"{line_number(root / 'Pulumi.dev.yaml', 'serviceRoleName')})"
    ]


def line_number(path: Path, key: str) -> int:
    """The line of the (only) `key:` in `path`."""
    [number] = [
        n
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip().startswith(f"{key}:")
    ]
    return number
