"""destination.allowCopyBack: a copy back from the central vault into a source vault is
admitted by that vault, its snapshots are readable by the source account's AWS Backup
service-linked role, and nothing else changes hands."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config import ConfigError
from flows.evaluator import Request, evaluate_policy
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, RecordedResource, run_program

PROD_DESTINATION = "555555555555"
PROD_SOURCES = ("444444444444", "666666666666")
BACKUP_ROLE = "role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
COPY_INTO = "backup:CopyIntoBackupVault"


def _document(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resource.inputs[key])
    return document


def _destination_key_policies(run: OfflineRun) -> dict[str, dict[str, Any]]:
    """Region -> policy of the destination vault key there."""
    return {
        key.region or "": _document(key)
        for key in run.of_type("aws:kms/key:Key")
        if key.name.startswith("destination-")
    }


def _key_use(principal: str, action: str, region: str, context: dict[str, Any]) -> Request:
    return Request(
        principal,
        action,
        f"arn:aws:kms:{region}:{PROD_DESTINATION}:key/k",
        {"kms:ViaService": f"backup.{region}.amazonaws.com", **context},
    )


def test_each_source_vault_admits_copies_back_from_the_copy_back_role_only(
    prod_run: OfflineRun,
) -> None:
    copy_role = f"arn:aws:iam::{PROD_DESTINATION}:role/aws-backup-copy-prod-copy-back"
    source_vaults = {
        (vault.account_id, vault.region): vault.inputs["name"]
        for vault in prod_run.of_type("aws:backup/vault:Vault")
        if vault.account_id in PROD_SOURCES
    }
    policies = {
        (policy.account_id, policy.region): _document(policy)
        for policy in prod_run.of_type("aws:backup/vaultPolicy:VaultPolicy")
        if policy.account_id in PROD_SOURCES
    }

    assert policies.keys() == source_vaults.keys()
    for (account, region), name in source_vaults.items():
        vault_arn = f"arn:aws:backup:{region}:{account}:backup-vault:{name}"
        policy = policies[(account, region)]
        assert evaluate_policy(policy, Request(copy_role, COPY_INTO, vault_arn)).allowed
        other_source = next(a for a in PROD_SOURCES if a != account)
        assert not evaluate_policy(
            policy, Request(f"arn:aws:iam::{other_source}:root", COPY_INTO, vault_arn)
        ).allowed
        # Another role of the destination account: only the copy-back role copies back.
        assert not evaluate_policy(
            policy,
            Request(f"arn:aws:iam::{PROD_DESTINATION}:role/Admin", COPY_INTO, vault_arn),
        ).allowed
        assert not evaluate_policy(
            policy, Request(copy_role, "backup:DeleteRecoveryPoint", vault_arn)
        ).allowed


def test_the_destination_keys_let_the_source_accounts_read_copies_back_and_nobody_else(
    prod_run: OfflineRun,
) -> None:
    in_org = {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}

    def through(service: str, request: Request) -> Request:
        via = str(request.context["kms:ViaService"]).replace("backup.", f"{service}.", 1)
        return request.with_context(**{"kms:ViaService": via})

    for region, policy in _destination_key_policies(prod_run).items():
        for source in PROD_SOURCES:
            backup_role = f"arn:aws:iam::{source}:{BACKUP_ROLE}"
            admin = f"arn:aws:iam::{source}:role/Admin"
            # Snapshots: the service-linked role through EC2/RDS/FSx, no other role.
            snapshot_read = _key_use(backup_role, "kms:ReEncryptFrom", region, in_org)
            assert evaluate_policy(policy, through("ec2", snapshot_read)).allowed
            assert not evaluate_policy(
                policy, through("ec2", _key_use(admin, "kms:ReEncryptFrom", region, in_org))
            ).allowed
            # Fully managed types: nobody of a source account reads through AWS Backup (the
            # copy-back job's role in the destination account grants AWS Backup the key).
            service_role = f"arn:aws:iam::{source}:role/aws-backup-copy-prod-backup-service"
            for principal in (service_role, backup_role, admin):
                assert not evaluate_policy(
                    policy, _key_use(principal, "kms:Decrypt", region, in_org)
                ).allowed
        # allowCopiesFrom: policyTargets admits copies in from the targeted OU too, but copies
        # back only reach the accounts this stack gave a source vault.
        stranger = f"arn:aws:iam::123123123123:{BACKUP_ROLE}"
        assert not evaluate_policy(
            policy, through("ec2", _key_use(stranger, "kms:ReEncryptFrom", region, in_org))
        ).allowed


def test_the_copy_job_runs_as_a_destination_role_with_the_backup_policy_only(
    prod_run: OfflineRun,
) -> None:
    [role] = [r for r in prod_run.of_type("aws:iam/role:Role") if r.name.endswith("copy-back-role")]
    attached = [
        r.inputs["policyArn"]
        for r in prod_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.parent_name == "destination-copy-back"
    ]

    assert role.account_id == PROD_DESTINATION
    assert role.inputs["name"] == "aws-backup-copy-prod-copy-back"
    [trust] = _document(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "backup.amazonaws.com"}
    assert attached == ["arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"]
    assert prod_run.outputs["copyBackRoleArn"]


def test_without_copy_back_nothing_reads_the_central_copies(dev_run: OfflineRun) -> None:
    destination_account = next(
        r.account_id
        for r in dev_run.of_type("aws:kms/key:Key")
        if r.name.startswith("destination-")
    )
    source_accounts = {r.account_id for r in dev_run.of_type("aws:backup/vault:Vault")} - {
        destination_account
    }

    assert [
        r
        for r in dev_run.of_type("aws:backup/vaultPolicy:VaultPolicy")
        if r.account_id in source_accounts
    ] == []
    assert "copyBackRoleArn" not in dev_run.outputs
    for region, policy in _destination_key_policies(dev_run).items():
        for source in source_accounts:
            role = f"arn:aws:iam::{source}:{BACKUP_ROLE}"
            for action in ("kms:Decrypt", "kms:ReEncryptFrom"):
                assert not evaluate_policy(policy, _key_use(role, action, region, {})).allowed


def test_member_template_source_vault_admits_copies_back_like_providers_mode(
    sandbox_run: OfflineRun,
) -> None:
    [stack_set] = sandbox_run.of_type("aws:cloudformation/stackSet:StackSet")
    template = json.loads(stack_set.inputs["templateBody"])
    member, destination = "123456789012", "999999999999"

    for region in ("eu-west-1", "eu-central-1"):
        vault = Instance(template, member, region).resources()["SourceVault"]["Properties"]
        vault_arn = f"arn:aws:backup:{region}:{member}:backup-vault:{vault['BackupVaultName']}"
        policy = vault["AccessPolicy"]
        copier = f"arn:aws:iam::{destination}:role/aws-backup-copy-sandbox-copy-back"
        assert evaluate_policy(policy, Request(copier, COPY_INTO, vault_arn)).allowed
        assert not evaluate_policy(
            policy, Request("arn:aws:iam::210987654321:root", COPY_INTO, vault_arn)
        ).allowed
        assert not evaluate_policy(
            policy, Request(f"arn:aws:iam::{destination}:role/Admin", COPY_INTO, vault_arn)
        ).allowed
    inside = {
        "aws:PrincipalOrgID": "o-a1b2c3d4e5",
        "aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-sbx11111/"],
    }
    outside = {**inside, "aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-prod7890/"]}
    for region, key_policy in _destination_key_policies(sandbox_run).items():
        read = Request(
            f"arn:aws:iam::{member}:{BACKUP_ROLE}",
            "kms:ReEncryptFrom",
            f"arn:aws:kms:{region}:{destination}:key/k",
            {"kms:ViaService": f"ec2.{region}.amazonaws.com", **inside},
        )
        assert evaluate_policy(key_policy, read).allowed
        assert not evaluate_policy(
            key_policy,
            read.with_context(**outside),
        ).allowed


def test_a_key_policy_kms_would_refuse_is_a_config_error_before_anything_is_declared() -> None:
    from bench.plan import providers_config  # generated prod-like stacks, copy back on

    with pytest.raises(ConfigError) as caught:
        run_program("prod", providers_config(300))

    # Every document over its limit is reported at once, each naming its section.
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["dynamodbExport", "destination"]
    assert problems[1].startswith("destination: the destination key policy would be")
    assert all("stackSets" in problem for problem in problems)
