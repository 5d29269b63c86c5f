"""The doctor's decisions as pure functions: key policies, vault policies, Vault Lock, AWS
Config, the Organizations resource policy, routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config import AccountAccess, VaultLockConfig
from policies.backup import vault_access_policy
from policies.kms import key_administration, workload_key_statements
from policies.organizations import OWN_SIDS, backup_policy_delegation, delegation_resource_policy
from policies.statements import RoleScope, document
from tools.doctor.context import access_route
from tools.doctor.model import Finding, as_text, exit_status, summary
from tools.doctor.rules import (
    KeyFacts,
    backup_type_of_engine,
    copies_outside_scope_verdict,
    lock_verdict,
    normalize,
    recorder_verdict,
    resource_policy_verdict,
    same_policy,
    shared_key_verdict,
    unrecorded_backup_types,
    vault_policy_verdict,
    workload_key_verdict,
)

DESTINATION = "222222222222"
SOURCE = "111111111111"
KEY = f"arn:aws:kms:eu-west-1:{SOURCE}:key/k"
FILE = "build/x/workload-key-policy.json"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
REDEPLOY = "pulumi up -s x"


def key(policy: dict[str, Any] | None, manager: str | None = "CUSTOMER", why: str = "") -> KeyFacts:
    return KeyFacts(KEY, manager, policy, why)


def with_workload_statements() -> dict[str, Any]:
    return document(key_administration(SOURCE), *workload_key_statements(DESTINATION)["Statement"])


def verdict(facts: KeyFacts) -> tuple[str, str]:
    return workload_key_verdict(facts, DESTINATION, FILE, "re-encrypt it")


def test_a_key_with_the_workload_statements_is_copyable() -> None:
    assert verdict(key(with_workload_statements())) == ("ok", "")


def test_an_aws_managed_key_fails_whatever_its_policy() -> None:
    status, fix = verdict(key(with_workload_statements(), manager="AWS"))

    assert status == "failure"
    assert "AWS managed" in fix and fix.endswith("re-encrypt it")


def test_a_customer_key_without_the_destination_is_a_warning() -> None:
    status, fix = verdict(key(document(key_administration(SOURCE))))

    assert status == "warning"
    assert DESTINATION in fix and FILE in fix


def test_a_statement_for_the_destination_without_what_a_copy_needs_is_a_warning() -> None:
    decrypt_only = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{DESTINATION}:root"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
    }
    status, fix = verdict(key(document(key_administration(SOURCE), decrypt_only)))

    assert status == "warning"
    assert "kms:CreateGrant" in fix and "kms:ReEncryptFrom" in fix
    assert "kms:DescribeKey," not in fix


@pytest.mark.parametrize(
    "principal, actions",
    [
        ({"AWS": DESTINATION}, "kms:*"),
        (
            "*",
            [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
                "kms:CreateGrant",
                "kms:ListGrants",
            ],
        ),
        ({"AWS": [f"arn:aws:iam::{DESTINATION}:role/Other"]}, "*"),
    ],
)
def test_wildcards_and_principal_forms_count(principal: Any, actions: Any) -> None:
    statement = {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"}

    assert verdict(key(document(statement)))[0] == "ok"


def test_deny_statements_and_other_accounts_do_not_count() -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": DESTINATION}, "Action": "kms:*", "Resource": "*"}
    other = {
        "Effect": "Allow",
        "Principal": {"AWS": "333333333333"},
        "Action": "kms:*",
        "Resource": "*",
    }

    assert verdict(key(document(deny, other)))[0] == "warning"


def test_a_vault_or_default_key_that_cannot_be_described_is_unknown_not_ok() -> None:
    assert (
        shared_key_verdict(KeyFacts(KEY, unreadable="AccessDenied"), "failure", "x")[0] == "unknown"
    )
    assert shared_key_verdict(key(None, manager="AWS"), "warning", "fix it") == (
        "warning",
        f"key {KEY} is AWS managed and cannot be shared: fix it",
    )
    assert shared_key_verdict(key(None), "failure", "x") == ("ok", "")


def test_an_unreadable_key_is_unknown() -> None:
    assert verdict(key(None, manager=None, why="AccessDenied"))[0] == "unknown"
    status, fix = verdict(key(None, why="it is in account 333333333333"))
    assert status == "unknown"
    assert "333333333333" in fix and FILE in fix


def vault_verdict(
    actual: dict[str, Any] | None, expected: dict[str, Any], organization: str | None = None
) -> tuple[str, str]:
    copiers = [] if organization else [SOURCE, "444444444444"]
    return vault_policy_verdict(actual, expected, copiers, organization, REDEPLOY)


BACKUP_ROLE = "aws-backup-copy-dev-backup-service"


def copiers(*accounts: str, **scope: Any) -> RoleScope:
    """The backup service role in these accounts (or OUs, or the whole organization)."""
    return RoleScope("o-abcdefghij", (BACKUP_ROLE,), account_ids=accounts, **scope)


def test_the_vault_policy_is_compared_up_to_order() -> None:
    vault = f"arn:aws:backup:eu-west-1:{DESTINATION}:backup-vault:central"
    expected = vault_access_policy(vault, copiers(SOURCE, "444444444444"))
    reordered = normalize(expected)
    reordered["Statement"]["Principal"]["AWS"].reverse()

    assert vault_verdict(reordered, expected) == ("ok", "")
    assert vault_verdict(None, expected)[0] == "failure"
    fewer = vault_access_policy(vault, copiers(SOURCE))
    status, fix = vault_verdict(fewer, expected)
    assert status == "failure" and "444444444444" in fix
    wider = vault_access_policy(vault, copiers(SOURCE, "444444444444", "555555555555"))
    assert vault_verdict(wider, expected)[0] == "warning"


def test_an_organization_vault_policy_must_name_the_organization() -> None:
    vault = f"arn:aws:backup:eu-west-1:{DESTINATION}:backup-vault:central"
    expected = vault_access_policy(vault, copiers(ou_ids=("ou-ab12-cdef3456",)))
    whole = vault_access_policy(vault, copiers(whole_organization=True))
    other = vault_access_policy(
        vault, RoleScope("o-zzzzzzzzzz", (BACKUP_ROLE,), whole_organization=True)
    )

    assert vault_verdict(whole, expected, "o-abcdefghij")[0] == "warning"
    assert vault_verdict(other, expected, "o-abcdefghij")[0] == "failure"


GOVERNANCE = VaultLockConfig(mode="governance", min_retention_days=7, max_retention_days=400)
COMPLIANCE = VaultLockConfig(
    mode="compliance", min_retention_days=7, max_retention_days=400, changeable_for_days=3
)


def vault(**fields: Any) -> dict[str, Any]:
    return {"Locked": True, "MinRetentionDays": 7, "MaxRetentionDays": 400, **fields}


def test_vault_lock_as_configured() -> None:
    assert lock_verdict(GOVERNANCE, vault(), NOW, REDEPLOY) == ("ok", "")
    assert (
        lock_verdict(COMPLIANCE, vault(LockDate=NOW + timedelta(days=3)), NOW, REDEPLOY)[0] == "ok"
    )
    assert lock_verdict(None, {"Locked": False}, NOW, REDEPLOY) == ("ok", "")


def test_vault_lock_differences() -> None:
    assert lock_verdict(GOVERNANCE, {"Locked": False}, NOW, REDEPLOY)[0] == "failure"
    status, fix = lock_verdict(GOVERNANCE, vault(MinRetentionDays=1), NOW, REDEPLOY)
    assert status == "failure" and "1..400" in fix and REDEPLOY in fix
    status, fix = lock_verdict(COMPLIANCE, vault(), NOW, REDEPLOY)
    assert status == "failure" and "governance lock, not compliance" in fix
    # Past its lock date a compliance lock cannot change: the config must follow the vault.
    past = NOW - timedelta(days=1)
    status, fix = lock_verdict(GOVERNANCE, vault(LockDate=past, MinRetentionDays=30), NOW, REDEPLOY)
    assert status == "failure" and "immutable" in fix and "pulumi up cannot change it" in fix
    status, fix = lock_verdict(None, vault(LockDate=past), NOW, REDEPLOY)
    assert status == "warning" and "delete-backup-vault-lock-configuration" not in fix


def recorder(group: dict[str, Any], name: str = "default") -> dict[str, Any]:
    return {"name": name, "recordingGroup": group}


def test_config_recorders() -> None:
    everything = recorder({"allSupported": True})
    backup_only = recorder(
        {
            "resourceTypes": [
                "AWS::Backup::BackupVault",
                "AWS::Backup::BackupPlan",
                "AWS::Backup::BackupSelection",
                "AWS::Backup::RecoveryPoint",
            ]
        }
    )
    recording = [{"name": "default", "recording": True}]

    assert recorder_verdict([everything], recording) == ("ok", "")
    assert recorder_verdict([backup_only], recording) == ("ok", "")
    assert recorder_verdict([], [])[0] == "failure"
    status, fix = recorder_verdict([everything], [{"name": "default", "recording": False}])
    assert status == "failure" and "start-configuration-recorder" in fix
    partial = recorder({"resourceTypes": ["AWS::Backup::BackupVault"]})
    status, fix = recorder_verdict([partial], recording)
    assert status == "warning" and "AWS::Backup::RecoveryPoint" in fix


def test_exclusion_recording_groups() -> None:
    group = {
        "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
        "exclusionByResourceTypes": {
            "resourceTypes": ["AWS::Backup::RecoveryPoint", "AWS::EC2::Volume"]
        },
    }

    assert unrecorded_backup_types(group) == ["AWS::Backup::RecoveryPoint"]


def test_resource_policy() -> None:
    delegate, management = "888888888888", "000000000000"
    own = backup_policy_delegation(management, "o-abcdefghij", delegate)
    expected = delegation_resource_policy(own, [])
    extra = {"Sid": "Other", "Effect": "Allow", "Principal": "*", "Action": "x:Y", "Resource": "*"}
    with_extra = delegation_resource_policy(own, [extra])
    foreign = document(extra)

    def check(
        actual: dict[str, Any] | None,
        expected: dict[str, Any] | None = expected,
        import_id: str | None = None,
    ) -> tuple[str, str]:
        return resource_policy_verdict(actual, "rp-1", expected, delegate, import_id, REDEPLOY)

    assert check(expected) == ("ok", "")
    assert check(None)[0] == "failure"
    status, fix = check(with_extra)
    assert status == "warning" and "Other" in fix and "extraDelegationStatements" in fix
    status, fix = check(foreign)
    assert status == "failure" and "importResourcePolicyId: rp-1" in fix
    assert check(foreign, import_id="rp-1")[0] == "warning"
    # Another stack owns it: it only has to delegate to this stack's delegate.
    assert check(expected, expected=None) == ("ok", "")
    assert check(foreign, expected=None)[0] == "failure"
    assert set(OWN_SIDS) <= {s["Sid"] for s in expected["Statement"]}


def test_same_policy_ignores_order_and_one_element_lists() -> None:
    left = {"Statement": [{"Action": ["b", "a"], "Principal": {"AWS": ["x"]}}]}
    right = {"Statement": {"Principal": {"AWS": "x"}, "Action": ["a", "b"]}}

    assert same_policy(left, right)
    assert not same_policy(left, {"Statement": {"Principal": {"AWS": "y"}, "Action": ["a", "b"]}})


@pytest.mark.parametrize(
    "engine, backup_type",
    [
        ("aurora-postgresql", "Aurora"),
        ("aurora-mysql", "Aurora"),
        ("docdb", "DocumentDB"),
        ("neptune", "Neptune"),
        ("postgres", "RDS"),
        ("mysql", "RDS"),
    ],
)
def test_engines_map_to_backup_resource_types(engine: str, backup_type: str) -> None:
    assert backup_type_of_engine(engine) == backup_type


def test_routes_prefer_the_preview_role_and_the_deploy_role_only_when_allowed() -> None:
    both = AccountAccess(
        account_id=SOURCE,
        role_arn=f"arn:aws:iam::{SOURCE}:role/Deploy",
        preview_role_arn=f"arn:aws:iam::{SOURCE}:role/Preview",
    )
    deploy_only = AccountAccess(account_id=SOURCE, role_arn=f"arn:aws:iam::{SOURCE}:role/Deploy")

    assert access_route("x", both, False).role_arn == both.preview_role_arn
    assert access_route("x", both, True).role_arn == both.role_arn
    # Never the deploy role unless allowed: ambient credentials instead.
    ambient = access_route("x", deploy_only, False)
    assert (ambient.role_arn, ambient.source) == (None, "x")


def test_the_report() -> None:
    findings = [
        Finding("backup.opt-in", "failure", SOURCE, "eu-west-1", "opt-in EBS", "fix it"),
        Finding("backup.opt-in", "ok", "444444444444", "eu-west-1", "opt-in EBS"),
        Finding("access", "unknown", "555555555555", "global", "role", "set it"),
    ]

    assert exit_status(findings) == 1
    assert exit_status(findings[1:]) == 0
    assert summary(findings, 3, 2) == (
        "3 checks in 3 accounts: 1 failure, 1 unknown, 1 ok; 2 suspended or closed accounts skipped"
    )
    lines = as_text(findings)
    assert lines[0].startswith("FAILURE  backup.opt-in  111111111111 eu-west-1")
    assert lines[1] == "         fix: fix it"
    assert lines[-1] == "OK       backup.opt-in  x1"
    assert "OK       backup.opt-in  444444444444 eu-west-1  opt-in EBS" in as_text(findings, True)
    with pytest.raises(ValueError, match="unknown check"):
        Finding("no.such-check", "ok", SOURCE, "global", "x")


def test_copies_from_outside_the_scope_are_named_with_the_key_to_change() -> None:
    named = copiers(SOURCE)
    under_ou = copiers(SOURCE, ou_ids=("ou-ab12-cdef3456",))

    assert copies_outside_scope_verdict([SOURCE], named, set(), "accounts") == ("ok", "")
    status, fix = copies_outside_scope_verdict([SOURCE, "444444444444"], named, set(), "accounts")
    assert status == "warning"
    assert "444444444444, which destination.allowCopiesFrom (accounts)" in fix
    assert "sourceAccounts or organization.policyTargets" in fix
    # Under a targeted OU: admitted when the walk found it there, unknown when it could not walk.
    assert copies_outside_scope_verdict(["444444444444"], under_ou, {"444444444444"}, "x")[0] == (
        "ok"
    )
    assert copies_outside_scope_verdict(["444444444444"], under_ou, None, "x")[0] == "unknown"
    assert copies_outside_scope_verdict(["444444444444"], under_ou, set(), "x")[0] == "warning"
    whole = copiers(whole_organization=True)
    assert copies_outside_scope_verdict(["444444444444"], whole, None, "organization")[0] == "ok"
