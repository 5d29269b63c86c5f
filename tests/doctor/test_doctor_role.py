"""The doctor role of the member template (stackSets mode): read-only, once per account,
assumable only from the account the doctor runs in, through its named roles."""

from __future__ import annotations

import json
from typing import Any

from config.loader import load_stack_file
from flows.evaluator import Request, evaluate_policy
from policies.doctor import MEMBER_READ_ACTIONS, doctor_permissions
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, run_program

DELEGATE = "888888888888"
MANAGEMENT = "000000000000"
MEMBER = "123456789012"
REGIONS = ["eu-west-1", "eu-central-1"]
READ_VERBS = ("Describe", "List", "Get")


def template(run: OfflineRun) -> dict[str, Any]:
    [stack_set] = run.of_type("aws:cloudformation/stackSet:StackSet")
    document: dict[str, Any] = json.loads(stack_set.inputs["templateBody"])
    return document


def doctor_roles(run: OfflineRun, region: str) -> list[dict[str, Any]]:
    created = Instance(template(run), MEMBER, region).resources()
    return [entry["Properties"] for name, entry in created.items() if name == "DoctorRole"]


def sandbox_with_organization(**changes: Any) -> OfflineRun:
    project, config = load_stack_file("sandbox")
    organization = json.loads(config[f"{project}:organization"])
    for key, value in changes.items():
        if value is None:
            organization.pop(key, None)
        else:
            organization[key] = value
    config[f"{project}:organization"] = json.dumps(organization)
    return run_program("sandbox", config)


def test_the_role_is_created_once_per_account_in_the_primary_region(
    sandbox_run: OfflineRun,
) -> None:
    [role] = doctor_roles(sandbox_run, REGIONS[0])

    assert doctor_roles(sandbox_run, REGIONS[1]) == []
    assert (role["RoleName"], role["Path"]) == ("BackupDoctor", "/")


def test_the_role_may_only_read(sandbox_run: OfflineRun) -> None:
    [role] = doctor_roles(sandbox_run, REGIONS[0])
    [policy] = role["Policies"]

    assert policy["PolicyDocument"] == doctor_permissions()
    actions = policy["PolicyDocument"]["Statement"][0]["Action"]
    assert actions == list(MEMBER_READ_ACTIONS)
    assert all(action.split(":")[1].startswith(READ_VERBS) for action in actions)
    assert "ManagedPolicyArns" not in role


def test_only_the_delegated_administrators_roles_may_assume_it(sandbox_run: OfflineRun) -> None:
    [role] = doctor_roles(sandbox_run, REGIONS[0])
    role_arn = f"arn:aws:iam::{MEMBER}:role/BackupDoctor"
    # A trust policy is the role's resource policy; its statements name no Resource, which the
    # evaluator reads as the role the policy is attached to.
    trust = role["AssumeRolePolicyDocument"]

    def may_assume(principal_arn: str) -> bool:
        return evaluate_policy(trust, Request(principal_arn, "sts:AssumeRole", role_arn)).allowed

    assert may_assume(f"arn:aws:iam::{DELEGATE}:role/BackupPreviewer")
    assert may_assume(f"arn:aws:iam::{DELEGATE}:role/BackupDeployer-sandbox")
    assert not may_assume(f"arn:aws:iam::{DELEGATE}:role/SomeoneElse")
    assert not may_assume(f"arn:aws:iam::{MEMBER}:role/BackupPreviewer")
    assert not may_assume(f"arn:aws:iam::{MANAGEMENT}:role/BackupPreviewer")


def test_without_a_delegate_the_management_account_runs_the_doctor() -> None:
    run = sandbox_with_organization(delegatedAdministrator=None, doctorRoleName="audit/Doctor")
    [role] = doctor_roles(run, REGIONS[0])
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]

    assert (role["RoleName"], role["Path"]) == ("Doctor", "/audit/")
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{MANAGEMENT}:role/BackupDeployer-sandbox",
        f"arn:aws:iam::{MANAGEMENT}:role/BackupPreviewer",
    ]


def test_no_doctor_role_name_no_role() -> None:
    run = sandbox_with_organization(doctorRoleName=None)

    assert doctor_roles(run, REGIONS[0]) == []
