"""audit.enabled: Backup Audit Manager frameworks wherever backups are held, and daily
compliance and copy-job reports where AWS lets cross-account reports be built."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from config import ConfigError, parse_stack_config
from config.loader import load_stack_file, project_values
from flows.evaluator import Request, evaluate_policy
from policies.audit import (
    CROSS_ACCOUNT,
    CROSS_REGION,
    ENCRYPTED,
    member_controls,
)
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, RecordedResource, run_program

NAME_RULE = re.compile(r"[a-zA-Z][_a-zA-Z0-9]{0,255}")
REPORTS_ROLE = "role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
# Evaluates backup selections ("AWS Backup Audit Manager controls and remediation"): nothing in
# the destination account, which has none.
VAULT_LOCK = "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"
REGIONS = ["ap-southeast-1", "ap-southeast-2"]


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


def report_plans(run: OfflineRun) -> dict[tuple[str, str], RecordedResource]:
    """(template, the one Region covered) -> report plan."""
    found = {}
    for plan in run.of_type("aws:backup/reportPlan:ReportPlan"):
        setting = plan.inputs["reportSetting"]
        [region] = setting["regions"]
        found[(setting["reportTemplate"], region)] = plan
    return found


def test_every_account_and_region_that_holds_backups_is_evaluated(prod_run: OfflineRun) -> None:
    found = frameworks(prod_run)

    # Sources: the plan's Region only (ap-southeast-1 has a vault for other purposes but no plan).
    for source in ("444444444444", "666666666666"):
        controls = found[(source, "ap-southeast-2")]
        assert set(controls) == {ENCRYPTED, CROSS_ACCOUNT, CROSS_REGION}
        assert parameters(controls[CROSS_ACCOUNT]) == {"crossAccountList": "555555555555"}
        assert parameters(controls[CROSS_REGION]) == {"crossRegionList": "ap-southeast-1"}
        assert (source, "ap-southeast-1") not in found
    # The destination: its copies are encrypted, in both Regions. No Vault Lock control: it
    # evaluates backup selections, and the destination has none, so it would evidence nothing
    # about the central vault's lock (make doctor and the acceptance record do).
    for region in ("ap-southeast-2", "ap-southeast-1"):
        assert set(found[("555555555555", region)]) == {ENCRYPTED}
    assert all(VAULT_LOCK not in controls for controls in found.values())
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
        restore_testing.pop("drRegion")

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

    # One plan per template and Region: a plan over listed accounts covers accounts x 1 Region.
    assert set(plans) == {
        (template, region)
        for template in ("CONTROL_COMPLIANCE_REPORT", "COPY_JOB_REPORT")
        for region in REGIONS
    }
    names = [plan.inputs["name"] for plan in plans.values()]
    assert len(set(names)) == len(names)
    assert plans[("COPY_JOB_REPORT", "ap-southeast-1")].inputs["name"] == (
        "aws_backup_copy_prod_copy_jobs_ap_southeast_1"
    )
    for plan in plans.values():
        setting = plan.inputs["reportSetting"]
        assert plan.account_id == "888888888888"
        assert plan.region == "ap-southeast-2"
        # The policy targets (an OU and an account) and the destination.
        assert setting["organizationUnits"] == ["ou-ab12-prod7890"]
        assert setting["accounts"] == ["444444444444", "555555555555"]
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
    assert all(
        plan.inputs["reportDeliveryChannel"]["s3BucketName"] == name
        for plan in report_plans(prod_run).values()
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


def test_report_plans_over_listed_accounts_stay_within_300_accounts_x_regions() -> None:
    """AWS Backup quotas: a report plan covers at most 300 accounts x Regions (not adjustable).
    Plans are per Region, so at most 300 listed accounts, the destination included."""
    project, encoded = load_stack_file("prod")

    def with_accounts(count: int) -> dict[str, Any]:
        raw = project_values(project, encoded)
        accounts = [f"{n:012d}" for n in range(1, count + 1)]
        raw["organization"]["policyTargets"] = accounts
        # Providers mode: every listed account is a source account.
        raw["sourceAccounts"] = [{"accountId": a, "regions": ["ap-southeast-2"]} for a in accounts]
        return raw

    parse_stack_config(project, with_accounts(299))  # + the destination: 300
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(project, with_accounts(300))

    assert caught.value.problems == (
        "organization.policyTargets: lists 301 accounts (with the destination), but an audit "
        "report plan covers at most 300 accounts x Regions (AWS Backup quotas, not adjustable), "
        "and the stack's plans are one per Region: target the accounts' OUs instead, or set "
        "audit.enabled: false",
    )
    # Without audit there is no report plan to fit.
    raw = with_accounts(300)
    raw["audit"] = {"enabled": False}
    parse_stack_config(project, raw)


def test_every_report_plan_covers_at_most_300_accounts_x_regions(prod_run: OfflineRun) -> None:
    for plan in report_plans(prod_run).values():
        setting = plan.inputs["reportSetting"]
        assert len(setting["accounts"]) * len(setting["regions"]) <= 300
