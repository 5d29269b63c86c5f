"""`make doctor` against whole organizations in moto: a healthy one passes every check, a
broken one fails each check where it was broken, with the account, Region, resource and fix.

moto 5.2.5 lacks some of the calls the doctor makes; `tests/support/doctor_fakes.py` answers
those on purpose (and `test_moto_gaps.py` checks they are still missing)."""

from __future__ import annotations

import json

import pytest

from policies.doctor import (
    DESTINATION_READ_ACTIONS,
    MEMBER_READ_ACTIONS,
    ORGANIZATION_READ_ACTIONS,
)
from tests.doctor.conftest import Outcome
from tests.doctor.world import BREAKAGES, DOCTOR_ROLE, DR_REGION, REGION
from tools.doctor.model import CHECKS, Finding, exit_status

# IAM service prefixes where they differ from botocore's service names.
IAM_PREFIXES = {"resourcegroupstaggingapi": "tag"}


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def statuses(findings: list[Finding]) -> set[str]:
    return {finding.status for finding in findings}


@pytest.mark.parametrize("mode", ["providers", "stackSets"])
def test_a_healthy_organization_passes_every_check(
    mode: str, healthy: Outcome, healthy_stack_sets: Outcome
) -> None:
    outcome = healthy if mode == "providers" else healthy_stack_sets
    findings = outcome.report.findings

    assert [f for f in findings if f.status != "ok"] == []
    assert set(CHECKS) - {f.check for f in findings} == {"access"}
    assert exit_status(findings) == 0
    # Two members, each in the plan's Region; the suspended account is skipped.
    ids = outcome.world.ids
    assert {f.account for f in outcome.of("backup.source-vault")} == {
        ids["source1"],
        ids["source2"],
    }
    assert ids["suspended"] not in {f.account for f in findings}
    assert outcome.report.skipped == 1


def test_copyability_covers_tagged_databases_clusters_volumes_and_instance_volumes(
    healthy: Outcome,
) -> None:
    ids, extra = healthy.world.ids, healthy.world.extra
    resources = {f.resource for f in healthy.of("copy.workload-key", ids["source1"])}

    assert f"arn:aws:rds:{REGION}:{ids['source1']}:db:orders-source1" in resources
    attached = f"volume/{extra['source1.data']} (attached to {extra['source1.instance']})"
    assert any(r.endswith(attached) for r in resources)
    assert f"arn:aws:rds:{REGION}:{ids['source1']}:cluster:ledger-source1" in resources
    # The instance's root volume has no key: unencrypted, nothing to share.
    assert len(resources) == 5


def test_the_broken_organization_names_every_breakage(broken: Outcome) -> None:
    ids, ous = broken.world.ids, broken.world.ous
    source1, stray = ids["source1"], ids["stray"]
    checks = {
        "policy type": only(broken.of("organization.backup-policy-type")),
        "trusted access": only(broken.of("organization.trusted-access")),
        "delegation": only(broken.of("organization.delegated-administrator")),
        "missing target": only(
            [
                f
                for f in broken.of("organization.policy-target")
                if f.resource == "ou-zzzz-notthere1"
            ]
        ),
        "foreign resource policy": only(broken.of("organization.resource-policy")),
        "cross-account off": only(
            [f for f in broken.of("backup.global-settings") if f.status != "ok"]
        ),
        "source one bare": only(broken.of("backup.source-vault", source1)),
        "opt-in": only(broken.of("backup.opt-in", source1)),
        "aws managed key": only(
            [f for f in broken.of("copy.workload-key", source1) if ":db:" in f.resource]
        ),
        "key without destination": only(
            [f for f in broken.of("copy.workload-key", source1) if f.status == "warning"]
        ),
        "source two unreachable": only(broken.of("access", ids["source2"])),
        "dr vault missing": only(
            [f for f in broken.of("destination.vault") if f.region == DR_REGION]
        ),
        "vault policy missing": only(broken.of("destination.vault-policy")),
        "vault not locked": only(broken.of("destination.vault-lock")),
        "bucket policy edited": only(broken.of("export.bucket-policy")),
        "no recorder": only(broken.of("audit.config-recorder", source1)),
        "ebs default key": only(broken.of("copy.ebs-default-key", source1)),
        "destination targeted": only(broken.of("organization.destination-targeted")),
        "stray account": only(broken.of("backup.source-vault", stray)),
        "copies from outside the scope": only(
            [f for f in broken.of("destination.copies-from-outside-scope") if f.region == REGION]
        ),
    }
    expected = {
        "policy type": ("failure", "enable-policy-type --root-id"),
        "trusted access": ("failure", "--service-principal backup.amazonaws.com"),
        "delegation": ("failure", f"--account-id {ids['delegate']}"),
        "missing target": ("failure", "organization.policyTargets[1]"),
        "foreign resource policy": ("failure", "importResourcePolicyId: rp-someoneelse1"),
        "cross-account off": ("failure", "isCrossAccountBackupEnabled is false"),
        "source one bare": ("failure", "pulumi up -s doctor creates it"),
        "opt-in": ("failure", "--resource-type-opt-in-preference EBS=true"),
        "aws managed key": ("failure", "aws rds copy-db-snapshot --kms-key-id"),
        "key without destination": ("warning", "build/doctor/workload-key-policy.json"),
        "source two unreachable": ("unknown", "cannot assume"),
        "dr vault missing": ("failure", "creates it"),
        "vault policy missing": ("failure", "every copy is refused"),
        "vault not locked": ("failure", "not locked"),
        "bucket policy edited": ("warning", "differs from the stack's"),
        "no recorder": ("failure", "put-configuration-recorder"),
        "ebs default key": ("warning", "modify-ebs-default-kms-key-id --region eu-west-1"),
        "destination targeted": ("warning", f"under {ous['prod']}"),
        "stray account": ("failure", "not in sourceAccounts"),
        "copies from outside the scope": ("warning", f"came from {ids['delegate']}, which"),
    }

    assert set(checks) == set(BREAKAGES) == set(expected)
    for breakage, finding in checks.items():
        status, hint = expected[breakage]
        assert (breakage, finding.status) == (breakage, status)
        assert hint in finding.fix, (breakage, finding.fix)
    assert exit_status(broken.report.findings) == 1


def test_findings_say_where(broken: Outcome) -> None:
    ids = broken.world.ids
    vault = only(broken.of("backup.source-vault", ids["source1"]))
    dr = only([f for f in broken.of("destination.vault") if f.region == DR_REGION])

    assert (vault.account, vault.region) == (ids["source1"], REGION)
    assert vault.resource == (
        f"arn:aws:backup:{REGION}:{ids['source1']}:backup-vault:aws-backup-copy-doctor-source"
    )
    assert dr.account == ids["destination"]
    assert dr.resource.startswith(f"arn:aws:backup:{DR_REGION}:{ids['destination']}:")


def test_advanced_dynamodb_backup_is_checked_where_dynamodb_is_backed_up(broken: Outcome) -> None:
    finding = only(broken.of("backup.advanced-dynamodb", broken.world.ids["source1"]))

    assert finding.status == "failure"
    assert "--resource-type-management-preference DynamoDB=true" in finding.fix


def test_where_the_stack_owns_region_settings_the_fix_is_the_config_key(broken: Outcome) -> None:
    report = broken.variants["owned settings"]
    source1 = broken.world.ids["source1"]
    opt_in = only(broken.of("backup.opt-in", source1, report))
    advanced = only(broken.of("backup.advanced-dynamodb", source1, report))

    assert "set backupPlan.regionSettings.optIn.EBS: true, then pulumi up -s doctor" in opt_in.fix
    assert "backupPlan.regionSettings.fullManagement.DynamoDB: true" in advanced.fix


def test_an_unreachable_account_is_unknown_and_nothing_else(broken: Outcome) -> None:
    source2 = broken.world.ids["source2"]

    assert [f.check for f in broken.report.findings if f.account == source2] == ["access"]


def test_stack_sets_members_are_reached_through_the_doctor_role(
    healthy_stack_sets: Outcome, broken_stack_sets: Outcome
) -> None:
    ids = healthy_stack_sets.world.ids
    doctor_roles = {f"arn:aws:iam::{ids[n]}:role/{DOCTOR_ROLE}" for n in ("source1", "source2")}
    refused = only(broken_stack_sets.of("access", broken_stack_sets.world.ids["source2"]))

    assert doctor_roles <= set(healthy_stack_sets.recorder.roles)
    delegate = broken_stack_sets.world.ids["delegate"]
    assert (
        f":role/{DOCTOR_ROLE} (organization.doctorRoleName) from arn:aws:iam::{delegate}:role/"
        "BackupPreviewer (organization.delegatedAdministrator.previewRoleArn)"
    ) in refused.fix
    missing = only(
        broken_stack_sets.of("backup.source-vault", broken_stack_sets.world.ids["source1"])
    )
    assert "list-stack-instances" in missing.fix
    assert "--call-as DELEGATED_ADMIN" in missing.fix


def test_without_a_doctor_role_members_found_under_ous_are_unknown(
    healthy_stack_sets: Outcome,
) -> None:
    report = healthy_stack_sets.variants["no doctor role"]
    ids = healthy_stack_sets.world.ids
    unknown = [f for f in report.findings if f.status != "ok"]

    assert {(f.check, f.account) for f in unknown} == {
        ("access", ids["source1"]),
        ("access", ids["source2"]),
    }
    assert all("organization.doctorRoleName" in f.fix for f in unknown)
    assert exit_status(report.findings) == 0


def test_before_the_first_deploy_only_prerequisites_are_checked(broken: Outcome) -> None:
    report = broken.variants["before deploy"]
    ids = broken.world.ids
    checked = {(f.check, f.account) for f in report.findings}

    # The stack creates these: not yet there is expected.
    assert ("backup.source-vault", ids["source1"]) not in checked
    assert ("backup.service-role", ids["source1"]) not in checked
    assert not [f for f in report.findings if f.check in ("destination.vault", "export.bucket")]
    assert not [f for f in report.findings if f.check == "backup.global-settings"]
    # Nothing creates the stray account's vault; prerequisites stay checked.
    assert ("backup.source-vault", ids["stray"]) in checked
    assert (
        only([f for f in report.findings if f.check == "organization.trusted-access"]).status
        == "failure"
    )
    assert ("backup.opt-in", ids["source1"]) in checked


def test_allow_deploy_role_reads_through_the_deploy_roles(healthy: Outcome) -> None:
    deploy = [r.removeprefix("deploy:") for r in healthy.recorder.roles if r.startswith("deploy:")]
    preview = [r for r in healthy.recorder.roles if not r.startswith("deploy:")]

    assert deploy and all(r.endswith(":role/BackupDeployer") for r in deploy)
    assert preview and all(r.endswith(":role/BackupPreviewer") for r in preview)
    assert [f for f in healthy.variants["deploy role"].findings if f.status != "ok"] == []


def test_the_doctor_only_reads(
    healthy: Outcome, healthy_stack_sets: Outcome, broken: Outcome, broken_stack_sets: Outcome
) -> None:
    calls = set().union(
        *(o.recorder.calls for o in (healthy, healthy_stack_sets, broken, broken_stack_sets))
    )
    reads = {(service, name) for service, name in calls if service != "sts"}
    actions = {f"{IAM_PREFIXES.get(service, service)}:{name}" for service, name in reads}

    # STS: assuming the routes' roles (and GetCallerIdentity for ambient routes) changes nothing.
    assert {name for service, name in calls if service == "sts"} <= {
        "AssumeRole",
        "GetCallerIdentity",
    }
    assert all(name.startswith(("Describe", "List", "Get")) for _, name in reads)
    # Every call is in the permissions the docs and the doctor role give, and all are used.
    allowed = {*MEMBER_READ_ACTIONS, *ORGANIZATION_READ_ACTIONS, *DESTINATION_READ_ACTIONS}
    assert actions == allowed


def test_json_output_is_only_the_findings(broken: Outcome, healthy: Outcome) -> None:
    status, out, err = broken.cli
    findings = json.loads(out)

    assert status == 1
    assert {tuple(sorted(f)) for f in findings} == {
        ("account", "check", "fix", "region", "resource", "status")
    }
    assert len(findings) == len(broken.report.findings)
    assert "checks in" in err
    assert healthy.cli[0] == 0


def test_large_organizations_get_a_progress_line_per_account(healthy: Outcome) -> None:
    lines = healthy.progress.splitlines()
    # Two members, then the destination and the export bucket, in the order they finish.
    assert len(lines) == 4
    assert all(line.startswith(f"[{n}/4] ") for n, line in enumerate(lines, start=1))
    assert {line.split("] ")[1].split(":")[0] for line in lines} == {
        healthy.world.ids["source1"],
        healthy.world.ids["source2"],
        "destination",
        "export",
    }
