"""The program under Pulumi mocks: the right resources, in the right accounts and Regions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError
from config.backup_plan import REGION_SETTINGS_MANAGEMENT_TYPES, REGION_SETTINGS_OPT_IN_TYPES
from config.loader import load_stack_file
from policies.backup import MAX_BACKUP_POLICY_CHARACTERS
from providers import PREVIEW_ROLES_VARIABLE, PreviewSwitchError
from tests.support.org_policies import without_operators
from tools.offline import OfflineRun, RecordedResource, run_program

ROOT = Path(__file__).resolve().parent.parent


def aws_resources(run: OfflineRun) -> list[RecordedResource]:
    return [r for r in run.resources if r.custom and r.type.startswith("aws:")]


def backup_policy(run: OfflineRun) -> dict[str, Any]:
    """The stack's backup policy as AWS shows an effective policy (no child control operators)."""
    [policy] = run.of_type("aws:organizations/policy:Policy")
    document: dict[str, Any] = without_operators(json.loads(policy.inputs["content"]))
    return document


def run_with(stack: str, **sections: Callable[[Any], None]) -> OfflineRun:
    """The stack run under mocks after each `section=mutate` changed that config section."""
    project, config = load_stack_file(stack)
    for section, mutate in sections.items():
        value = json.loads(config[f"{project}:{section}"])
        mutate(value)
        config[f"{project}:{section}"] = json.dumps(value)
    return run_program(stack, config)


def test_default_providers_are_disabled_in_the_project() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())

    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["aws"]
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "venv"},
    }


def test_every_aws_resource_uses_one_of_our_pinned_providers(any_stack_run: OfflineRun) -> None:
    stack_run = any_stack_run
    for resource in aws_resources(stack_run):
        provider = stack_run.provider_of(resource)
        assert provider is not None, f"{resource.name} uses a default provider"
        assert json.loads(provider.inputs["allowedAccountIds"]) == [provider.account_id]


def test_providers_assume_the_configured_role_as_typed_args(dev_run: OfflineRun) -> None:
    roles = {
        provider.account_id: json.loads(provider.inputs["assumeRoles"])
        for provider in dev_run.providers.values()
    }

    # The serialized input carries `roleArn`: a plain dict would have been dropped (pulumi-aws#5271).
    assert (
        roles["222222222222"][0]["roleArn"] == "arn:aws:iam::222222222222:role/BackupDeployer-dev"
    )
    assert (
        roles["111111111111"][0]["roleArn"] == "arn:aws:iam::111111111111:role/BackupDeployer-dev"
    )
    assert (
        roles["000000000000"][0]["roleArn"] == "arn:aws:iam::000000000000:role/BackupDeployer-dev"
    )


def test_one_provider_per_account_serves_every_region(prod_run: OfflineRun) -> None:
    providers = prod_run.of_type("pulumi:providers:aws")
    accounts = {r.account_id for r in aws_resources(prod_run)}

    assert sorted(p.name for p in providers) == sorted(f"aws-{a}" for a in accounts)
    vaults = [
        v for v in prod_run.of_type("aws:backup/vault:Vault") if v.account_id == "555555555555"
    ]
    # One provider, two Regions: each resource names its own.
    assert sorted(str(v.region) for v in vaults) == ["ap-southeast-1", "ap-southeast-2"]
    assert len({v.provider_ref for v in vaults}) == 1


def _assumed_roles(run: OfflineRun) -> dict[str, str]:
    return {
        p.name: json.loads(p.inputs["assumeRoles"])[0]["roleArn"]
        for p in run.of_type("pulumi:providers:aws")
    }


def _prod_without_destination_preview_role() -> dict[str, str]:
    project, config = load_stack_file("prod")
    destination = json.loads(config[f"{project}:destination"])
    del destination["previewRoleArn"]
    config[f"{project}:destination"] = json.dumps(destination)
    return config


def test_pull_request_previews_assume_the_preview_role_under_the_same_provider_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _prod_without_destination_preview_role()
    updated = _assumed_roles(run_program("prod", config))
    monkeypatch.setenv(PREVIEW_ROLES_VARIABLE, "true")

    previewed = _assumed_roles(run_program("prod", config, preview=True))

    # The role is an input, not part of the name: a preview shows no provider replaced.
    assert previewed.keys() == updated.keys()
    assert previewed["aws-444444444444"] == "arn:aws:iam::444444444444:role/BackupPreviewer"
    assert updated["aws-444444444444"] == "arn:aws:iam::444444444444:role/BackupDeployer-prod"
    # An account without a preview role previews with its deploy role.
    assert previewed["aws-555555555555"] == updated["aws-555555555555"]


def test_any_other_preview_assumes_the_deploy_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    # A human's `pulumi up` (its preview phase) and a drift check (`pulumi preview
    # --expect-no-changes`) run without the switch: no provider input differs from the update.
    monkeypatch.delenv(PREVIEW_ROLES_VARIABLE, raising=False)
    updated = run_program("prod")

    previewed = run_program("prod", preview=True)

    assert {p.name: p.inputs for p in previewed.of_type("pulumi:providers:aws")} == {
        p.name: p.inputs for p in updated.of_type("pulumi:providers:aws")
    }
    monkeypatch.setenv(PREVIEW_ROLES_VARIABLE, "false")
    assert _assumed_roles(run_program("prod", preview=True)) == _assumed_roles(updated)


@pytest.mark.parametrize(
    ("value", "preview", "message"),
    [
        ("yes", True, "BACKUP_COPY_USE_PREVIEW_ROLES='yes': use true"),
        ("true", False, "BACKUP_COPY_USE_PREVIEW_ROLES=true is for `pulumi preview` only"),
    ],
)
def test_a_bad_preview_switch_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, preview: bool, message: str
) -> None:
    monkeypatch.setenv(PREVIEW_ROLES_VARIABLE, value)

    with pytest.raises(PreviewSwitchError) as error:
        run_program("dev", preview=preview)

    assert str(error.value).startswith(message)


def test_provider_without_role_uses_ambient_credentials() -> None:
    project, config = load_stack_file("dev")
    destination = json.loads(config[f"{project}:destination"])
    del destination["roleArn"]
    config[f"{project}:destination"] = json.dumps(destination)

    run = run_program("dev", config)

    [provider] = [p for p in run.providers.values() if p.account_id == "222222222222"]
    assert "assumeRoles" not in provider.inputs


def test_resources_land_in_their_accounts_and_regions(prod_run: OfflineRun) -> None:
    placed = {(r.type, r.account_id, r.region) for r in aws_resources(prod_run)}

    assert ("aws:backup/vault:Vault", "555555555555", "ap-southeast-2") in placed
    assert ("aws:backup/vault:Vault", "555555555555", "ap-southeast-1") in placed
    assert ("aws:backup/vault:Vault", "444444444444", "ap-southeast-1") in placed
    assert ("aws:backup/vault:Vault", "666666666666", "ap-southeast-2") in placed
    # Through the delegated administrator, not the management account (Organizations is
    # global: no Region to check).
    assert any((t, a) == ("aws:organizations/policy:Policy", "888888888888") for t, a, _ in placed)
    assert ("aws:backup/globalSettings:GlobalSettings", "000000000000", "us-east-1") in placed
    # One service role per source account, not per Region.
    roles = [
        r for r in prod_run.of_type("aws:iam/role:Role") if r.name.endswith("backup-service-role")
    ]
    assert sorted(str(r.account_id) for r in roles) == ["444444444444", "666666666666"]


def test_every_child_has_a_component_parent(any_stack_run: OfflineRun) -> None:
    stack_run = any_stack_run
    components = {r.urn for r in stack_run.resources if not r.custom}
    for resource in aws_resources(stack_run):
        assert resource.parent_urn in components, resource.name


def test_vaults_use_their_own_rotating_customer_managed_key(any_stack_run: OfflineRun) -> None:
    stack_run = any_stack_run
    vaults = stack_run.of_type("aws:backup/vault:Vault")
    key_arns = [vault.inputs["kmsKeyArn"] for vault in vaults]

    assert len(set(key_arns)) == len(vaults)
    for vault, key_arn in zip(vaults, key_arns, strict=True):
        assert key_arn.startswith(f"arn:aws:kms:{vault.region}:{vault.account_id}:key/")
        assert vault.inputs["name"].lower() != "default"
    assert set(stack_run.outputs["destinationKeyArns"].values()) <= set(key_arns)
    assert all(
        key.inputs["enableKeyRotation"] is True for key in stack_run.of_type("aws:kms/key:Key")
    )


def test_copy_actions_target_the_destination_and_dr_vaults(prod_run: OfflineRun) -> None:
    plan_key = "aws-backup-copy-prod-daily"
    rule = backup_policy(prod_run)["plans"][plan_key]["rules"][plan_key]
    vault_arns = prod_run.outputs["destinationVaultArns"]

    assert set(rule["copy_actions"]) == set(vault_arns.values())
    for arn, action in rule["copy_actions"].items():
        assert action["target_backup_vault_arn"] == {"@@assign": arn}
        assert action["lifecycle"]["delete_after_days"] == {"@@assign": "365"}
        assert action["lifecycle"]["move_to_cold_storage_after_days"] == {"@@assign": "30"}
    assert rule["target_backup_vault_name"] == {"@@assign": "aws-backup-copy-prod-source"}


def test_plan_backs_up_into_the_source_vault_the_program_creates(stack_run: OfflineRun) -> None:
    plan = next(iter(backup_policy(stack_run)["plans"].values()))
    target_vault = next(iter(plan["rules"].values()))["target_backup_vault_name"]["@@assign"]
    regions = plan["regions"]["@@assign"]
    source_vaults = {
        (v.account_id, v.region)
        for v in stack_run.of_type("aws:backup/vault:Vault")
        if v.inputs["name"] == target_vault
    }
    source_accounts = {key.split("/")[0] for key in stack_run.outputs["sourceVaultArns"]}

    for account in source_accounts:
        for region in regions:
            assert (account, region) in source_vaults


def test_attachments_cover_every_target(stack_run: OfflineRun) -> None:
    project, config = load_stack_file(stack_run.stack)
    targets = json.loads(config[f"{project}:organization"])["policyTargets"]
    attachments = stack_run.of_type("aws:organizations/policyAttachment:PolicyAttachment")
    [policy] = stack_run.of_type("aws:organizations/policy:Policy")

    assert sorted(a.inputs["targetId"] for a in attachments) == sorted(targets)
    assert {a.inputs["policyId"] for a in attachments} == {
        stack_run.outputs["organizationPolicyId"]
    }
    assert policy.inputs["type"] == "BACKUP_POLICY"


def test_the_owning_stack_sets_every_global_setting_from_config(
    dev_run: OfflineRun, prod_run: OfflineRun
) -> None:
    [settings] = prod_run.of_type("aws:backup/globalSettings:GlobalSettings")

    assert settings.account_id == "000000000000"
    assert settings.inputs["globalSettings"] == {
        "isCrossAccountBackupEnabled": "true",
        "isMpaEnabled": "false",
        "isDelegatedAdministratorEnabled": "true",
    }
    # dev shares the organization and leaves its singleton to prod.
    assert dev_run.of_type("aws:backup/globalSettings:GlobalSettings") == []


def test_global_settings_keep_what_the_organization_has_switched_on() -> None:
    def enable_mpa(organization: dict[str, Any]) -> None:
        organization["globalSettings"]["isMpaEnabled"] = True

    run = run_with("prod", organization=enable_mpa)

    [settings] = run.of_type("aws:backup/globalSettings:GlobalSettings")
    assert settings.inputs["globalSettings"]["isMpaEnabled"] == "true"


def test_the_management_account_holds_only_what_aws_allows_nowhere_else(
    prod_run: OfflineRun,
) -> None:
    in_management = sorted(
        r.type for r in aws_resources(prod_run) if r.account_id == "000000000000"
    )

    assert in_management == [
        "aws:backup/globalSettings:GlobalSettings",
        "aws:organizations/delegatedAdministrator:DelegatedAdministrator",
        "aws:organizations/delegatedAdministrator:DelegatedAdministrator",
        "aws:organizations/resourcePolicy:ResourcePolicy",
    ]
    registrations = prod_run.of_type(
        "aws:organizations/delegatedAdministrator:DelegatedAdministrator"
    )
    assert {(r.inputs["accountId"], r.inputs["servicePrincipal"]) for r in registrations} == {
        ("888888888888", "backup.amazonaws.com"),
        ("888888888888", "member.org.stacksets.cloudformation.amazonaws.com"),
    }
    # The policy and its attachments: in the delegated administrator's account.
    for resource in prod_run.of_type("aws:organizations/policy:Policy") + prod_run.of_type(
        "aws:organizations/policyAttachment:PolicyAttachment"
    ):
        assert resource.account_id == "888888888888"


def test_without_a_delegated_administrator_the_policy_stays_in_management(
    dev_run: OfflineRun,
) -> None:
    [policy] = dev_run.of_type("aws:organizations/policy:Policy")

    assert policy.account_id == "000000000000"
    assert dev_run.of_type("aws:organizations/resourcePolicy:ResourcePolicy") == []


def test_the_resource_policy_keeps_other_delegations_and_can_be_adopted() -> None:
    other = {
        "Sid": "SecurityTeamReadsScps",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "organizations:DescribePolicy",
        "Resource": "*",
    }

    def adopt(organization: dict[str, Any]) -> None:
        organization["extraDelegationStatements"] = [other]
        organization["importResourcePolicyId"] = "rp-abcd1234"
        del organization["createResourcePolicy"]

    run = run_with("prod", organization=adopt)

    [policy] = run.of_type("aws:organizations/resourcePolicy:ResourcePolicy")
    statements = json.loads(policy.inputs["content"])["Statement"]
    assert [s["Sid"] for s in statements] == [
        "DelegateBackupPoliciesRead",
        "DelegateBackupPoliciesReadPolicies",
        "DelegateBackupPoliciesManage",
        "DelegateBackupPoliciesTag",
        "SecurityTeamReadsScps",
    ]
    assert statements[-1] == other
    assert policy.import_id == "rp-abcd1234"


def test_region_settings_in_every_source_account_and_plan_region(
    dev_run: OfflineRun, prod_run: OfflineRun
) -> None:
    settings = prod_run.of_type("aws:backup/regionSettings:RegionSettings")

    # 444444444444 also has a vault in ap-southeast-1, where the plan does not run.
    assert sorted((s.account_id, s.region) for s in settings) == [
        ("444444444444", "ap-southeast-2"),
        ("666666666666", "ap-southeast-2"),
    ]
    for setting in settings:
        opt_in = setting.inputs["resourceTypeOptInPreference"]
        assert set(opt_in) == set(REGION_SETTINGS_OPT_IN_TYPES)
        assert all(opt_in[t] for t in ("DynamoDB", "EBS", "EC2", "EFS", "RDS", "Aurora"))
        assert opt_in["S3"] is False
        management = setting.inputs["resourceTypeManagementPreference"]
        assert set(management) == set(REGION_SETTINGS_MANAGEMENT_TYPES)
        assert management["DynamoDB"] is True
    assert dev_run.of_type("aws:backup/regionSettings:RegionSettings") == []


def test_an_account_can_keep_its_region_settings_to_itself() -> None:
    def opt_out(sources: list[dict[str, Any]]) -> None:
        sources[1]["manageRegionSettings"] = False

    run = run_with("prod", sourceAccounts=opt_out)

    settings = run.of_type("aws:backup/regionSettings:RegionSettings")
    assert [(s.account_id, s.region) for s in settings] == [("444444444444", "ap-southeast-2")]


def test_an_existing_service_role_is_named_not_created() -> None:
    def use_console_role(plan: dict[str, Any]) -> None:
        plan["serviceRoleName"] = "service-role/AWSBackupDefaultServiceRole"
        plan["createServiceRole"] = False

    run = run_with("dev", backupPlan=use_console_role)

    assert [r for r in run.of_type("aws:iam/role:Role") if "backup-service" in r.name] == []
    selection = next(iter(backup_policy(run)["plans"].values()))["selections"]["tags"]
    [tagged] = selection.values()
    assert tagged["iam_role_arn"] == {
        "@@assign": "arn:aws:iam::$account:role/service-role/AWSBackupDefaultServiceRole"
    }


def test_s3_backups_get_the_s3_managed_policies_on_the_service_role(
    dev_run: OfflineRun,
) -> None:
    def add_s3(plan: dict[str, Any]) -> None:
        plan["resourceTypes"] = ["S3", "EBS"]

    def attached(run: OfflineRun) -> set[str]:
        return {
            a.inputs["policyArn"]
            for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.parent_name.endswith("backup-service")
        }

    s3_policies = {
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    }
    assert attached(run_with("dev", backupPlan=add_s3)) >= s3_policies
    assert attached(dev_run) == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }


def test_keys_and_vaults_are_protected_from_deletion(any_stack_run: OfflineRun) -> None:
    stack_run = any_stack_run
    for resource in stack_run.of_type("aws:kms/key:Key") + stack_run.of_type(
        "aws:backup/vault:Vault"
    ):
        assert resource.protect, resource.name


def test_vault_lock_only_where_configured(dev_run: OfflineRun, prod_run: OfflineRun) -> None:
    locks = prod_run.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")

    assert dev_run.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    assert sorted(str(lock.region) for lock in locks) == ["ap-southeast-1", "ap-southeast-2"]
    assert all(
        lock.inputs["minRetentionDays"] == 30 and lock.inputs["changeableForDays"] == 3
        for lock in locks
    )


def test_a_lock_is_replaced_by_removing_the_old_one_first(prod_run: OfflineRun) -> None:
    def governance(destination: dict[str, Any]) -> None:
        destination["vaultLock"] = {"mode": "governance", "minRetentionDays": 30}

    compliance = prod_run.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    governed = run_with("prod", destination=governance).of_type(
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
    )

    # Create-then-delete would delete the vault's only lock right after putting the new one.
    assert all(lock.delete_before_replace for lock in compliance + governed)
    # A compliance lock changes only through a deliberate unprotect; a governance lock may.
    assert all(lock.protect for lock in compliance)
    assert not any(lock.protect for lock in governed)
    assert all("changeableForDays" not in lock.inputs for lock in governed)


def test_outputs_are_present(prod_run: OfflineRun) -> None:
    outputs = prod_run.outputs

    assert set(outputs["destinationVaultArns"]) == {"ap-southeast-2", "ap-southeast-1"}
    assert outputs["destinationVaultArns"]["ap-southeast-1"] == (
        "arn:aws:backup:ap-southeast-1:555555555555:backup-vault:central-backup-prod"
    )
    assert set(outputs["destinationKeyArns"]) == {"ap-southeast-2", "ap-southeast-1"}
    assert outputs["organizationPolicyId"].startswith("p-")
    assert set(outputs["sourceVaultArns"]) == {
        "444444444444/ap-southeast-2",
        "444444444444/ap-southeast-1",
        "666666666666/ap-southeast-2",
    }
    assert outputs["backupServiceRoleArns"]["666666666666"] == (
        "arn:aws:iam::666666666666:role/aws-backup-copy-prod-backup-service"
    )


def test_bad_config_declares_nothing() -> None:
    project, config = load_stack_file("dev")
    destination = json.loads(config[f"{project}:destination"])
    destination["vaultName"] = "Default"
    config[f"{project}:destination"] = json.dumps(destination)

    with pytest.raises(ConfigError, match=r"destination\.vaultName"):
        run_program("dev", config)


def test_oversized_backup_policy_is_refused_before_any_resource() -> None:
    project, config = load_stack_file("dev")
    plan = json.loads(config[f"{project}:backupPlan"])
    plan["recoveryPointTags"] = {f"Tag{i:03d}": "x" * 200 for i in range(60)}
    config[f"{project}:backupPlan"] = json.dumps(plan)

    with pytest.raises(ConfigError, match=f"at most {MAX_BACKUP_POLICY_CHARACTERS:,}"):
        run_program("dev", config)


def test_plan_command_reports_bad_config_without_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import plan

    assert plan.main(["--stack", "nosuchstack", "--out", str(tmp_path)]) == 2
    assert "Pulumi.nosuchstack.yaml" in capsys.readouterr().err


def test_plan_command_writes_every_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import plan

    assert plan.main(["--stack", "prod", "--out", str(tmp_path)]) == 0

    written = sorted(p.name for p in tmp_path.iterdir())
    assert "organization-policy.json" in written
    assert "destination-ap-southeast-1-key-policy.json" in written
    assert "source-444444444444-backup-service-role-trust-policy.json" in written
    table = capsys.readouterr().out
    assert "aws:backup:Vault" in table and "555555555555" in table and "destination" in table
    assert all(p.read_text().endswith("}\n") for p in tmp_path.iterdir())


def test_plan_command_prints_every_config_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools import plan, validate

    project, config = load_stack_file("dev")
    plan_config = json.loads(config[f"{project}:backupPlan"])
    plan_config["startWindowMinutes"] = 15
    plan_config["sourceVaultName"] = "Default"
    config[f"{project}:backupPlan"] = json.dumps(plan_config)
    monkeypatch.setattr(validate, "run_program", lambda stack: run_program(stack, config))

    assert plan.main(["--stack", "dev", "--out", str(tmp_path)]) == 2

    err = capsys.readouterr().err
    assert "backupPlan.startWindowMinutes: must be at least 60" in err
    assert "backupPlan.sourceVaultName: must not be the Default vault" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_malformed_stack_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  aws-backup-copy:environment: [dev\n")

    with pytest.raises(ConfigError, match=r"Pulumi\.broken\.yaml:3:1: not valid YAML"):
        load_stack_file("broken", tmp_path)


def test_a_misspelt_top_level_key_is_an_error_naming_the_right_one() -> None:
    project, config = load_stack_file("dev")
    config[f"{project}:dynamoDbExport"] = config.pop(f"{project}:dynamodbExport")

    with pytest.raises(ConfigError) as caught:
        run_program("dev", config)

    [problem] = caught.value.problems
    assert problem.startswith(
        "aws-backup-copy:dynamoDbExport: is not a known key; did you mean "
        "'aws-backup-copy:dynamodbExport'?"
    )
    assert "(1 problem)" in str(caught.value)


def test_keys_of_other_namespaces_are_left_alone() -> None:
    _, config = load_stack_file("dev")
    config["aws:region"] = "ap-southeast-2"

    assert run_program("dev", config).of_type("aws:backup/vault:Vault")


def test_project_declares_every_required_key_and_no_optional_one() -> None:
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])

    # Pulumi refuses a stack that lacks a declared key without default (project config rules).
    assert declared == {
        "pulumi:disable-default-providers",
        "environment",
        "organization",
        "destination",
        "sourceAccounts",
        "backupPlan",
    }
