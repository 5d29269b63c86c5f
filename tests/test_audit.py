"""audit.enabled: Backup Audit Manager frameworks wherever backups are held, and daily
compliance and copy-job reports where AWS lets cross-account reports be built."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from config.loader import load_stack_file
from flows.evaluator import Request, evaluate_policy
from policies.audit import (
    CROSS_ACCOUNT,
    CROSS_REGION,
    ENCRYPTED,
    VAULT_LOCK,
    member_controls,
)
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, RecordedResource, run_program

NAME_RULE = re.compile(r"[a-zA-Z][_a-zA-Z0-9]{0,255}")
REPORTS_ROLE = "role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"


def run_with(stack: str, **sections: Callable[[Any], Any]) -> OfflineRun:
    """The stack run under mocks after each `section=mutate` (returning a new value or None)."""
    project, config = load_stack_file(stack)
    for section, mutate in sections.items():
        key = f"{project}:{section}"
        value = json.loads(config[key]) if key in config else None
        result = mutate(value)
        config[key] = json.dumps(value if result is None else result)
    return run_program(stack, config)


def frameworks(run: OfflineRun) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(account, Region) -> control name -> control, for every framework declared."""
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for framework in run.of_type("aws:backup/framework:Framework"):
        key = (framework.account_id or "", framework.region or "")
        assert key not in found, f"two frameworks in {key}"
        found[key] = {control["name"]: control for control in framework.inputs["controls"]}
    return found


def parameters(control: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in control.get("inputParameters", [])}


def report_plans(run: OfflineRun) -> dict[str, RecordedResource]:
    return {
        r.inputs["reportSetting"]["reportTemplate"]: r
        for r in run.of_type("aws:backup/reportPlan:ReportPlan")
    }


def test_every_account_and_region_that_holds_backups_is_evaluated(prod_run: OfflineRun) -> None:
    found = frameworks(prod_run)

    # Sources: the plan's Region only (ap-southeast-1 has a vault for other purposes but no plan).
    for source in ("444444444444", "666666666666"):
        controls = found[(source, "ap-southeast-2")]
        assert set(controls) == {ENCRYPTED, CROSS_ACCOUNT, CROSS_REGION}
        assert parameters(controls[CROSS_ACCOUNT]) == {"crossAccountList": "555555555555"}
        assert parameters(controls[CROSS_REGION]) == {"crossRegionList": "ap-southeast-1"}
        assert (source, "ap-southeast-1") not in found
    # The destination: its copies are encrypted and, with the Vault Lock, locked, in both Regions.
    for region in ("ap-southeast-2", "ap-southeast-1"):
        assert set(found[("555555555555", region)]) == {ENCRYPTED, VAULT_LOCK}
    # Nothing in the reports (delegated administrator) or management account, nothing elsewhere.
    assert len(found) == 4


def test_framework_and_report_plan_names_follow_aws_rules(prod_run: OfflineRun) -> None:
    names = [r.inputs["name"] for r in prod_run.of_type("aws:backup/framework:Framework")]
    names += [r.inputs["name"] for r in prod_run.of_type("aws:backup/reportPlan:ReportPlan")]

    assert names and all(NAME_RULE.fullmatch(name) for name in names)
    assert "aws_backup_copy_prod_backup_copy" in names


def test_without_a_lock_or_dr_region_those_controls_are_left_out() -> None:
    def enable(_: Any) -> dict[str, Any]:
        return {"enabled": True}

    def plain(destination: dict[str, Any]) -> None:
        destination.pop("vaultLock", None)
        destination.pop("drRegion", None)

    def single_region(restore_testing: dict[str, Any]) -> None:
        restore_testing["regionMetadataOverrides"].pop("ap-southeast-1")

    found = frameworks(
        run_with("prod", audit=enable, destination=plain, restoreTesting=single_region)
    )

    for controls in found.values():
        assert VAULT_LOCK not in controls and CROSS_REGION not in controls


def test_cross_account_control_looks_at_the_selected_resources_when_one_tag_value_selects() -> None:
    [_, one] = member_controls("555555555555", None, ("backup", ["daily"]))
    [_, several] = member_controls("555555555555", None, ("backup", ["daily", "hourly"]))

    assert one.scope_tag == ("backup", "daily")
    assert several.scope_tag is None


def test_audit_is_off_unless_enabled(dev_run: OfflineRun) -> None:
    assert dev_run.of_type("aws:backup/framework:Framework") == []
    assert dev_run.of_type("aws:backup/reportPlan:ReportPlan") == []


def test_reports_are_built_by_the_delegated_administrator_over_the_policy_targets(
    prod_run: OfflineRun,
) -> None:
    plans = report_plans(prod_run)

    assert set(plans) == {"CONTROL_COMPLIANCE_REPORT", "COPY_JOB_REPORT"}
    for plan in plans.values():
        setting = plan.inputs["reportSetting"]
        assert plan.account_id == "888888888888"
        # The policy targets (an OU and an account) and the destination, in every Region involved.
        assert setting["organizationUnits"] == ["ou-ab12-prod7890"]
        assert setting["accounts"] == ["444444444444", "555555555555"]
        assert setting["regions"] == ["ap-southeast-1", "ap-southeast-2"]
        # Cross-account reports are CSV only.
        assert plan.inputs["reportDeliveryChannel"]["formats"] == ["CSV"]
    # A multi-account report takes no framework ARNs: it reads the members' frameworks.
    for plan in plans.values():
        assert "frameworkArns" not in plan.inputs["reportSetting"]


def test_a_targeted_root_is_reported_as_root() -> None:
    def root(organization: dict[str, Any]) -> None:
        organization["policyTargets"] = ["r-ab12"]

    def whole_organization(destination: dict[str, Any]) -> None:
        destination["allowCopiesFrom"] = "organization"

    plans = report_plans(run_with("sandbox", organization=root, destination=whole_organization))

    for plan in plans.values():
        assert plan.inputs["reportSetting"]["accounts"] == ["ROOT"]
        assert "organizationUnits" not in plan.inputs["reportSetting"]


def test_the_report_bucket_admits_the_reports_role_only(prod_run: OfflineRun) -> None:
    [bucket] = [
        r for r in prod_run.of_type("aws:s3/bucket:Bucket") if r.parent_name == "audit-reports"
    ]
    [policy_resource] = [
        r
        for r in prod_run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if r.parent_name == "audit-reports"
    ]
    policy = json.loads(policy_resource.inputs["policy"])
    name = bucket.inputs["bucket"]
    report = f"arn:aws:s3:::{name}/aws-backup-copy-prod/report.csv"
    writer = f"arn:aws:iam::888888888888:{REPORTS_ROLE}"
    with_acl = {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SecureTransport": "true"}

    assert bucket.account_id == "888888888888"
    assert len(name) <= 63
    assert evaluate_policy(policy, Request(writer, "s3:PutObject", report, with_acl)).allowed
    assert not evaluate_policy(
        policy, Request(writer, "s3:PutObject", report, {"aws:SecureTransport": "true"})
    ).allowed
    assert not evaluate_policy(
        policy,
        Request(writer, "s3:PutObject", report, {**with_acl, "aws:SecureTransport": "false"}),
    ).allowed
    assert not evaluate_policy(policy, Request(writer, "s3:GetObject", report, with_acl)).allowed
    other = f"arn:aws:iam::444444444444:{REPORTS_ROLE}"
    assert not evaluate_policy(policy, Request(other, "s3:PutObject", report, with_acl)).allowed
    assert (
        report_plans(prod_run)["COPY_JOB_REPORT"].inputs["reportDeliveryChannel"]["s3BucketName"]
        == name
    )


def test_a_bucket_of_your_own_is_used_as_it_is() -> None:
    def own(_: Any) -> dict[str, Any]:
        return {"enabled": True, "reportBucket": "acme-backup-reports"}

    run = run_with("prod", audit=own)

    assert [
        r for r in run.of_type("aws:s3/bucket:Bucket") if r.parent_name == "audit-reports"
    ] == []
    for plan in report_plans(run).values():
        assert plan.inputs["reportDeliveryChannel"]["s3BucketName"] == "acme-backup-reports"


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1"])
def test_member_accounts_get_the_same_framework_from_the_template(
    sandbox_run: OfflineRun, region: str
) -> None:
    [stack_set] = sandbox_run.of_type("aws:cloudformation/stackSet:StackSet")
    template = json.loads(stack_set.inputs["templateBody"])
    framework = Instance(template, "123456789012", region).resources()["AuditFramework"]
    controls = {c["ControlName"]: c for c in framework["Properties"]["FrameworkControls"]}

    assert framework["Type"] == "AWS::Backup::Framework"
    assert framework["Properties"]["FrameworkName"] == "aws_backup_copy_sandbox_backup_copy"
    assert set(controls) == {ENCRYPTED, CROSS_ACCOUNT}
    assert controls[CROSS_ACCOUNT]["ControlInputParameters"] == [
        {"ParameterName": "crossAccountList", "ParameterValue": "999999999999"}
    ]
