"""Restore tests run in the destination account, in each vault Region, over that vault only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config import ConfigError
from config.loader import load_stack_file
from policies.iam import service_trust_policy
from policies.restore import (
    plan_name,
    recovery_point_selection,
    role_name,
    role_policies,
    selection_name,
)
from tests.test_program import run_with
from tools.offline import OfflineRun, RecordedResource, run_program

DESTINATION = "555555555555"
REGIONS = ("ap-southeast-2", "ap-southeast-1")
SCHEDULES = {"ap-southeast-2": "cron(0 18 ? * SUN *)", "ap-southeast-1": "cron(0 18 1 * ? *)"}
ORDERS_DB = "arn:aws:rds:ap-southeast-2:444444444444:db:orders"
PLAN = "aws:backup/restoreTestingPlan:RestoreTestingPlan"
SELECTION = "aws:backup/restoreTestingSelection:RestoreTestingSelection"
RESTORES = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"
S3_RESTORE = "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore"
# Restore testing plan and selection names (API reference, RestoreTestingPlanForCreate and
# RestoreTestingSelectionForCreate; "Restore testing quotas and parameters").
AWS_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")


def restore_role(run: OfflineRun) -> RecordedResource:
    [role] = [r for r in run.of_type("aws:iam/role:Role") if r.parent_name.startswith("restore")]
    return role


def selections_in(run: OfflineRun, region: str) -> dict[str, RecordedResource]:
    return {
        s.inputs["protectedResourceType"]: s for s in run.of_type(SELECTION) if s.region == region
    }


def with_restore_testing(stack: str, section: dict[str, Any]) -> OfflineRun:
    """The stack run under mocks with this restoreTesting section (added or replaced)."""
    project, config = load_stack_file(stack)
    config[f"{project}:restoreTesting"] = json.dumps(section)
    return run_program(stack, config)


# --- the policies module: plain data ----------------------------------------------------------


def test_names_take_only_what_aws_backup_allows_and_carry_the_stack_prefix() -> None:
    prefix = "aws-backup-copy.team-prod"

    assert plan_name(prefix) == "aws_backup_copy_team_prod_restore_tests"
    assert selection_name(prefix, "DocumentDB") == "aws_backup_copy_team_prod_documentdb"
    assert AWS_NAME.match(plan_name(prefix)) and AWS_NAME.match(selection_name(prefix, "FSx"))
    # IAM names take '-': the role keeps the prefix as every other role of the stack does.
    assert role_name(prefix) == "aws-backup-copy.team-prod-restore-testing"


def test_the_restore_role_gets_the_s3_restore_policy_only_when_s3_is_tested() -> None:
    assert role_policies(["DynamoDB", "EFS"]) == (
        "service-role/AWSBackupServiceRolePolicyForRestores",
    )
    assert role_policies(["S3", "RDS"]) == (
        "service-role/AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Restore",
    )


def test_the_recovery_point_is_the_newest_snapshot_in_the_window_from_one_vault() -> None:
    vault = f"arn:aws:backup:ap-southeast-2:{DESTINATION}:backup-vault:central"

    assert recovery_point_selection(vault, 14) == {
        "algorithm": "LATEST_WITHIN_WINDOW",
        "include_vaults": [vault],
        "recovery_point_types": ["SNAPSHOT"],
        "selection_window_days": 14,
    }


# --- the program under mocks -------------------------------------------------------------------


def test_a_plan_per_vault_region_over_that_regions_vault_only(prod_run: OfflineRun) -> None:
    plans = {str(p.region): p for p in prod_run.of_type(PLAN)}
    vault_arns = prod_run.outputs["destinationVaultArns"]
    vaults = {
        v.region: v
        for v in prod_run.of_type("aws:backup/vault:Vault")
        if v.account_id == DESTINATION
    }

    assert sorted(plans) == sorted(REGIONS)
    for region, plan in plans.items():
        assert plan.account_id == DESTINATION
        assert plan.inputs["name"] == "aws_backup_copy_prod_restore_tests"
        assert AWS_NAME.match(plan.inputs["name"])
        # Each Region on its own schedule: the DR copies once a month.
        assert plan.inputs["scheduleExpression"] == SCHEDULES[region]
        assert plan.inputs["recoveryPointSelection"] == {
            "algorithm": "LATEST_WITHIN_WINDOW",
            "includeVaults": [vault_arns[region]],
            "recoveryPointTypes": ["SNAPSHOT"],
            "selectionWindowDays": 7,
        }
        # Created after the vault it reads from.
        assert vaults[region].urn in plan.dependencies


def test_one_selection_per_type_with_the_role_window_and_overrides(prod_run: OfflineRun) -> None:
    role = restore_role(prod_run)
    role_arn = f"arn:aws:iam::{DESTINATION}:role/aws-backup-copy-prod-restore-testing"
    attachments = {
        a.urn
        for a in prod_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.parent_name == role.parent_name
    }
    security_groups = {
        "ap-southeast-2": '["sg-0a1b2c3d4e5f60718"]',
        "ap-southeast-1": '["sg-0f1e2d3c4b5a69788"]',
    }

    for region in REGIONS:
        selections = selections_in(prod_run, region)
        assert sorted(selections) == ["DynamoDB", "EFS", "RDS"]
        for resource_type, selection in selections.items():
            assert selection.account_id == DESTINATION
            assert selection.inputs["name"] == f"aws_backup_copy_prod_{resource_type.lower()}"
            assert AWS_NAME.match(selection.inputs["name"])
            assert (
                selection.inputs["restoreTestingPlanName"] == "aws_backup_copy_prod_restore_tests"
            )
            assert selection.inputs["iamRoleArn"] == role_arn
            assert selection.inputs["validationWindowHours"] == 4
            # The role and its policies exist before a test can start.
            assert {role.urn, *attachments} <= set(selection.dependencies)
        # A sample of each type: by tag (the condition AWS evaluates on the copies' tags),
        # or by ARN, never the whole vault.
        for tagged in ("DynamoDB", "EFS"):
            assert "protectedResourceArns" not in selections[tagged].inputs
            assert selections[tagged].inputs["protectedResourceConditions"] == {
                "stringEquals": [{"key": "aws:ResourceTag/restore-test", "value": "true"}]
            }
        assert selections["RDS"].inputs["protectedResourceArns"] == [ORDERS_DB]
        assert "protectedResourceConditions" not in selections["RDS"].inputs
        # DynamoDB and EFS restore without a network: AWS Backup infers everything.
        assert "restoreMetadataOverrides" not in selections["DynamoDB"].inputs
        assert "restoreMetadataOverrides" not in selections["EFS"].inputs
        # The shared subnet group name, and this Region's own security group as a JSON array.
        assert selections["RDS"].inputs["restoreMetadataOverrides"] == {
            "dbSubnetGroupName": "restore-tests",
            "vpcSecurityGroupIds": security_groups[region],
        }


def test_the_restore_role_trusts_aws_backup_alone_with_the_restore_policies(
    prod_run: OfflineRun,
) -> None:
    role = restore_role(prod_run)
    attached = {
        a.inputs["policyArn"]
        for a in prod_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.parent_name == role.parent_name
    }

    # One role for both Regions: IAM is global.
    assert role.account_id == DESTINATION
    assert role.inputs["name"] == "aws-backup-copy-prod-restore-testing"
    assert json.loads(role.inputs["assumeRolePolicy"]) == service_trust_policy("backup")
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert attached == {RESTORES}


def test_s3_restore_tests_add_the_s3_restore_policy() -> None:
    def test_s3(section: dict[str, Any]) -> None:
        section["resourceTypes"].append("S3")
        section["selections"]["S3"] = {"protectedResourceArns": ["arn:aws:s3:::orders-archive"]}

    def back_up_s3(plan: dict[str, Any]) -> None:
        plan["resourceTypes"].append("S3")
        plan["regionSettings"]["optIn"]["S3"] = True

    run = run_with("prod", restoreTesting=test_s3, backupPlan=back_up_s3)
    role = restore_role(run)
    attached = {
        a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.parent_name == role.parent_name
    }

    assert attached == {RESTORES, S3_RESTORE}
    assert all("S3" in selections_in(run, region) for region in REGIONS)


def test_a_stack_without_a_dr_region_tests_its_one_vault() -> None:
    run = with_restore_testing(
        "dev",
        {
            "scheduleExpression": "cron(0 5 ? * * *)",
            "selectionWindowDays": 3,
            "validationWindowHours": 1,
            "resourceTypes": ["EBS", "DynamoDB"],
        },
    )

    [plan] = run.of_type(PLAN)
    assert (plan.account_id, plan.region) == ("222222222222", "ap-southeast-2")
    assert plan.inputs["recoveryPointSelection"]["includeVaults"] == [
        run.outputs["destinationVaultArns"]["ap-southeast-2"]
    ]
    # EBS volumes have no network to be placed in: no overrides needed.
    assert sorted(selections_in(run, "ap-southeast-2")) == ["DynamoDB", "EBS"]


def test_in_stack_sets_mode_restore_tests_also_run_in_the_destination_only() -> None:
    run = with_restore_testing(
        "sandbox",
        {
            "scheduleExpression": "cron(0 5 ? * * *)",
            "selectionWindowDays": 3,
            "validationWindowHours": 1,
            "resourceTypes": ["DynamoDB"],
        },
    )

    [plan] = run.of_type(PLAN)
    assert (plan.account_id, plan.region) == ("999999999999", "eu-west-1")
    assert sorted(selections_in(run, "eu-west-1")) == ["DynamoDB"]
    # Nothing of it in the member template: restores run where the copies are.
    template = run.of_type("aws:cloudformation/stackSet:StackSet")[0].inputs["templateBody"]
    assert "RestoreTesting" not in template


def test_stacks_without_restore_testing_declare_none(
    dev_run: OfflineRun, sandbox_run: OfflineRun
) -> None:
    for run in (dev_run, sandbox_run):
        assert run.of_type(PLAN) == [] and run.of_type(SELECTION) == []
        assert run.of_type("backup:index:RestoreTesting") == []


def test_a_test_that_could_not_be_placed_is_refused_before_anything_is_declared() -> None:
    def drop_rds_placement(section: dict[str, Any]) -> None:
        del section["metadataOverrides"]["RDS"]

    with pytest.raises(ConfigError) as caught:
        run_with("prod", restoreTesting=drop_rds_placement)

    assert caught.value.problems == (
        "restoreTesting.metadataOverrides.RDS.dbSubnetGroupName: is required to test RDS (here, "
        "or per Region under restoreTesting.regionMetadataOverrides): the destination account's "
        "DB subnet group to restore into, with vpcSecurityGroupIds for its security groups; "
        "without it AWS Backup restores into the destination account's default VPC where one "
        "exists (its default subnets and security group: not the network a recovery uses, and "
        "in the account that holds the vaults) and fails where there is none (AWS Backup "
        'Developer Guide, "Restore testing inferred metadata")',
    )
