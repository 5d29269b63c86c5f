"""Who gets what, under which condition, and nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flows.evaluator import Request, evaluate_policy
from policies.backup import (
    CHILD_CONTROL,
    MAX_BACKUP_POLICY_CHARACTERS,
    PolicyTooLargeError,
    backup_policy_document,
    copy_back_vault_policy,
    render_backup_policy,
    vault_access_policy,
)
from policies.iam import service_trust_policy
from policies.kms import (
    COPY_BACK_SNAPSHOT_ACTIONS,
    KeyPolicyTooLargeError,
    check_key_policy_size,
    destination_key_policy,
    source_key_policy,
    workload_key_statements,
)
from policies.organizations import backup_policy_delegation
from policies.statements import RoleScope
from tests.support.org_policies import effective_policy, without_operators

DEST = "222222222222"
SOURCES = ["111111111111", "444444444444"]
ORG = "o-a1b2c3d4e5"
VAULT_ARN = f"arn:aws:backup:ap-southeast-2:{DEST}:backup-vault:central"


def grants(policy: dict[str, Any]) -> dict[str, tuple[Any, frozenset[str], Any]]:
    """Sid -> (principal, actions, condition) for every Allow statement."""
    result = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        result[statement["Sid"]] = (
            statement["Principal"],
            frozenset([actions] if isinstance(actions, str) else actions),
            statement.get("Condition"),
        )
    return result


REGION = "ap-southeast-2"
SERVICE_ROLE = "service-role/aws-backup-copy-prod-backup-service"
SERVICE_LINKED_ROLE = "aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
OU = "ou-ab12-11111111"
KEY_ARN = f"arn:aws:kms:{REGION}:{DEST}:key/1234abcd"
NAMED = RoleScope(ORG, (SERVICE_ROLE,), account_ids=tuple(SOURCES))
UNDER_OU = RoleScope(ORG, (SERVICE_ROLE,), account_ids=(SOURCES[0],), ou_ids=(OU,))
WHOLE = RoleScope(ORG, (SERVICE_ROLE,), whole_organization=True)


def role(account: str, name: str = SERVICE_ROLE) -> str:
    """The ARN AWS puts in `aws:PrincipalArn` for a session of this role (path included)."""
    return f"arn:aws:iam::{account}:role/{name}"


def in_organization(*ous: str, organization: str = ORG) -> dict[str, Any]:
    """The organization keys AWS sets for a principal of an account under these OUs."""
    return {
        "aws:PrincipalOrgID": organization,
        "aws:PrincipalOrgPaths": [
            f"{organization}/r-ab12/{ou}/" for ou in ous or ("ou-ab12-root0000",)
        ],
    }


def key_request(principal: str, action: str, service: str | None, **context: Any) -> Request:
    """A request on the destination key, made through `service` (None: a direct call)."""
    via = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"} if service else {}
    return Request(principal, action, KEY_ARN, {**via, **context})


def grant_request(principal: str, service: str, **context: Any) -> Request:
    """CreateGrant for an AWS resource, as AWS Backup or a storage service sends it."""
    return key_request(
        principal, "kms:CreateGrant", service, **{"kms:GrantIsForAWSResource": "true"}, **context
    )


def test_the_destination_key_admits_copies_in_from_the_source_backup_role_only() -> None:
    """Copy into the central vault: the source accounts' backup service role describes the key
    and creates a grant for AWS Backup, through AWS Backup; nothing else, and nobody else (the
    flow tests evaluate the same requests with the role's managed policy too)."""
    policy = destination_key_policy(DEST, NAMED)
    source_role = role(SOURCES[0])

    assert evaluate_policy(policy, grant_request(source_role, "backup")).allowed
    assert evaluate_policy(policy, key_request(source_role, "kms:DescribeKey", "backup")).allowed
    # Another role of a source account; the backup role of an account that is not a source.
    assert not evaluate_policy(policy, grant_request(role(SOURCES[0], "Admin"), "backup")).allowed
    assert not evaluate_policy(policy, grant_request(role("333333333333"), "backup")).allowed
    # Not through EC2 or RDS, not directly, not a grant for something other than an AWS
    # resource, no other grant operation, and no data-key use at all.
    for service in ("ec2", "rds"):
        assert not evaluate_policy(policy, grant_request(source_role, service)).allowed
    assert not evaluate_policy(
        policy, key_request(source_role, "kms:CreateGrant", "backup")
    ).allowed
    for action in ("kms:ListGrants", "kms:RevokeGrant"):
        assert not evaluate_policy(
            policy,
            key_request(source_role, action, "backup", **{"kms:GrantIsForAWSResource": "true"}),
        ).allowed
    services: tuple[str | None, ...] = ("backup", "ec2", "rds", None)
    for data_action in (
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptTo",
        "kms:ReEncryptFrom",
    ):
        for through in services:
            assert not evaluate_policy(
                policy, key_request(source_role, data_action, through)
            ).allowed


def test_copies_in_from_targeted_ous_need_the_ou_path_and_the_backup_role() -> None:
    policy = destination_key_policy(DEST, UNDER_OU)
    member = role("777777777777")

    assert evaluate_policy(policy, grant_request(member, "backup", **in_organization(OU))).allowed
    # Deeper OUs under the targeted one count (aws:PrincipalOrgPaths holds the whole path).
    deeper = {
        **in_organization(OU),
        "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/{OU}/ou-ab12-22222222/"],
    }
    assert evaluate_policy(policy, grant_request(member, "backup", **deeper)).allowed
    # The named account needs no OU.
    assert evaluate_policy(
        policy, grant_request(role(SOURCES[0]), "backup", **in_organization())
    ).allowed
    # Outside the targeted OUs, in another organization, or another role: refused.
    assert not evaluate_policy(
        policy, grant_request(member, "backup", **in_organization("ou-ab12-99999999"))
    ).allowed
    assert not evaluate_policy(
        policy, grant_request(member, "backup", **in_organization(OU, organization="o-zzzzzzzzzz"))
    ).allowed
    assert not evaluate_policy(
        policy, grant_request(role("777777777777", "Admin"), "backup", **in_organization(OU))
    ).allowed


def test_the_whole_organization_is_admitted_only_through_its_backup_role() -> None:
    policy = destination_key_policy(DEST, WHOLE)

    assert evaluate_policy(
        policy, grant_request(role("777777777777"), "backup", **in_organization())
    ).allowed
    assert not evaluate_policy(
        policy, grant_request(role("777777777777", "Admin"), "backup", **in_organization())
    ).allowed
    assert not evaluate_policy(
        policy,
        grant_request(
            role("777777777777"), "backup", **in_organization(organization="o-zzzzzzzzzz")
        ),
    ).allowed


def test_via_service_is_matched_with_string_like_apart_from_the_organization_keys() -> None:
    """AWS's examples match `kms:ViaService` with `StringLike` and a Region wildcard, in its own
    operator block: a Region-pinned `StringEquals` value is unproven for a copy into the DR
    Region, and `StringEquals` would compare the wildcard literally."""
    for statement in destination_key_policy(DEST, UNDER_OU, UNDER_OU)["Statement"][1:]:
        condition = statement["Condition"]
        assert "kms:ViaService" not in condition.get("StringEquals", {}), statement["Sid"]
        services = condition["StringLike"]["kms:ViaService"]
        for service in [services] if isinstance(services, str) else services:
            assert service.endswith(".*.amazonaws.com"), statement["Sid"]
    # A copy whose request comes from the DR Region is admitted too.
    dr_request = Request(
        role(SOURCES[0]),
        "kms:CreateGrant",
        KEY_ARN,
        {
            "kms:ViaService": "backup.ap-southeast-1.amazonaws.com",
            "kms:GrantIsForAWSResource": "true",
        },
    )
    assert evaluate_policy(destination_key_policy(DEST, NAMED), dr_request).allowed


def test_without_copy_back_no_source_principal_reads_the_central_copies() -> None:
    policy = destination_key_policy(DEST, NAMED)

    for principal in (
        role(SOURCES[0], SERVICE_LINKED_ROLE),
        role(SOURCES[0]),
        role(SOURCES[0], "Admin"),
    ):
        for action in ("kms:Decrypt", "kms:ReEncryptFrom"):
            for service in ("backup", "ec2", "rds", "fsx"):
                assert not evaluate_policy(policy, key_request(principal, action, service)).allowed


def test_copy_back_of_snapshots_is_read_by_the_source_service_linked_role_only() -> None:
    policy = destination_key_policy(DEST, NAMED, NAMED)
    linked = role(SOURCES[1], SERVICE_LINKED_ROLE)

    # What the service-linked role's own policy lets it do through EC2, RDS and FSx.
    for service in ("ec2", "rds", "fsx"):
        for action in COPY_BACK_SNAPSHOT_ACTIONS:
            assert evaluate_policy(policy, key_request(linked, action, service)).allowed
        assert evaluate_policy(policy, grant_request(linked, service)).allowed
        assert not evaluate_policy(policy, key_request(linked, "kms:CreateGrant", service)).allowed
        # Another role of the same account, another account's linked role, a direct call.
        assert not evaluate_policy(
            policy, key_request(role(SOURCES[1], "Admin"), "kms:ReEncryptFrom", service)
        ).allowed
        assert not evaluate_policy(
            policy,
            key_request(role("333333333333", SERVICE_LINKED_ROLE), "kms:ReEncryptFrom", service),
        ).allowed
        assert not evaluate_policy(
            policy, key_request(role(SOURCES[1]), "kms:ReEncryptFrom", service)
        ).allowed
    assert not evaluate_policy(policy, key_request(linked, "kms:ReEncryptFrom", None)).allowed
    # Not through AWS Backup: the role's own policy allows nothing there.
    assert not evaluate_policy(policy, key_request(linked, "kms:ReEncryptFrom", "backup")).allowed


def test_copy_back_in_an_organization_scope_matches_the_backup_roles_under_the_ous() -> None:
    scope = RoleScope(ORG, (SERVICE_ROLE,), ou_ids=(OU,))
    policy = destination_key_policy(DEST, scope, scope)
    member = "777777777777"

    def read_back(principal: str, *ous: str) -> Request:
        return key_request(principal, "kms:ReEncryptFrom", "ec2", **in_organization(*ous))

    assert evaluate_policy(policy, read_back(role(member, SERVICE_LINKED_ROLE), OU)).allowed
    assert not evaluate_policy(policy, read_back(role(member, "Admin"), OU)).allowed
    assert not evaluate_policy(
        policy, read_back(role(member, SERVICE_LINKED_ROLE), "ou-ab12-99999999")
    ).allowed


def test_copy_back_keeps_the_key_policy_within_kms_limits_for_a_hundred_accounts() -> None:
    hundred = RoleScope(ORG, (SERVICE_ROLE,), tuple(str(100000000000 + n) for n in range(100)))
    too_many = RoleScope(ORG, (SERVICE_ROLE,), tuple(str(100000000000 + n) for n in range(400)))

    check_key_policy_size(destination_key_policy(DEST, hundred, hundred))
    with pytest.raises(KeyPolicyTooLargeError, match="stackSets"):
        check_key_policy_size(destination_key_policy(DEST, too_many, too_many))


def test_a_source_vault_admits_copies_back_from_the_copy_back_role_only() -> None:
    vault = f"arn:aws:backup:{REGION}:{SOURCES[0]}:backup-vault:src"
    copy_role = f"arn:aws:iam::{DEST}:role/aws-backup-copy-prod-copy-back"
    policy = copy_back_vault_policy(vault, DEST, copy_role)

    def decide(principal: str, action: str = "backup:CopyIntoBackupVault") -> bool:
        return evaluate_policy(policy, Request(principal, action, vault)).allowed

    assert decide(copy_role)
    assert not decide(copy_role, "backup:DeleteRecoveryPoint")
    # Another role of the destination account, and anyone of another account.
    assert not decide(f"arn:aws:iam::{DEST}:role/Admin")
    assert not decide(f"arn:aws:iam::{SOURCES[1]}:root")
    assert not decide(f"arn:aws:iam::{SOURCES[1]}:role/aws-backup-copy-prod-copy-back")
    assert len(policy["Statement"]) == 1


def test_source_key_gives_the_destination_what_aws_backup_needs_and_nothing_more() -> None:
    """The destination account (the copy-back job's role) grants AWS Backup the source vault
    key for AWS resources through AWS Backup, with or without the vault encryption context;
    other accounts, and grants for anything else, are refused."""
    source = "111111111111"
    policy = source_key_policy(source, DEST)
    key = f"arn:aws:kms:{REGION}:{source}:key/source"
    copy_back_role = role(DEST, "aws-backup-copy-prod-copy-back")
    via_backup = {"kms:ViaService": f"backup.{REGION}.amazonaws.com"}
    for_aws = {**via_backup, "kms:GrantIsForAWSResource": "true"}
    vault_context = {"kms:EncryptionContextKeys": ["aws:backup:backup-vault"]}

    def decide(principal: str, action: str, context: dict[str, Any]) -> bool:
        return evaluate_policy(policy, Request(principal, action, key, context)).allowed

    assert decide(copy_back_role, "kms:CreateGrant", for_aws)
    assert decide(copy_back_role, "kms:CreateGrant", {**for_aws, **vault_context})
    assert decide(copy_back_role, "kms:DescribeKey", via_backup)
    # Not a grant for something other than an AWS resource, not through another service, and
    # nobody of another account.
    assert not decide(copy_back_role, "kms:CreateGrant", via_backup)
    assert not decide(
        copy_back_role,
        "kms:CreateGrant",
        {**for_aws, "kms:ViaService": f"ec2.{REGION}.amazonaws.com"},
    )
    assert not decide(
        role(SOURCES[1], "aws-backup-copy-prod-copy-back"), "kms:CreateGrant", for_aws
    )
    # The owning account administers it.
    assert decide(f"arn:aws:iam::{source}:root", "kms:PutKeyPolicy", {})


def test_workload_key_statements_admit_only_the_destination_backup_service_linked_role() -> None:
    policy = grants(workload_key_statements(DEST))
    only_the_role = {
        "ArnEquals": {
            "aws:PrincipalArn": f"arn:aws:iam::{DEST}:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
        }
    }

    assert policy == {
        "BackupCopiesToDestinationAccountRead": (
            {"AWS": f"arn:aws:iam::{DEST}:root"},
            frozenset(
                {
                    "kms:DescribeKey",
                    "kms:Decrypt",
                    "kms:ListGrants",
                    "kms:ReEncryptFrom",
                    "kms:GenerateDataKeyWithoutPlaintext",
                }
            ),
            only_the_role,
        ),
        "BackupCopiesToDestinationAccountGrant": (
            {"AWS": f"arn:aws:iam::{DEST}:root"},
            frozenset({"kms:CreateGrant"}),
            {**only_the_role, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    }


def test_the_vault_admits_copies_from_the_source_backup_role_only() -> None:
    """backup:CopyIntoBackupVault on the central vault, as the copy job's role calls it."""
    policy = vault_access_policy(VAULT_ARN, UNDER_OU)

    def copy(principal: str, **context: Any) -> Request:
        return Request(principal, "backup:CopyIntoBackupVault", VAULT_ARN, context)

    assert evaluate_policy(policy, copy(role(SOURCES[0]), **in_organization())).allowed
    assert evaluate_policy(policy, copy(role("777777777777"), **in_organization(OU))).allowed
    assert not evaluate_policy(policy, copy(role(SOURCES[0], "Admin"), **in_organization())).allowed
    assert not evaluate_policy(
        policy, copy(role("777777777777"), **in_organization("ou-ab12-99999999"))
    ).allowed
    assert not evaluate_policy(policy, copy(role(SOURCES[1]), **in_organization())).allowed
    assert not evaluate_policy(
        policy,
        Request(role(SOURCES[0]), "backup:DeleteRecoveryPoint", VAULT_ARN, in_organization()),
    ).allowed


def test_a_vault_open_to_the_organization_keeps_the_org_condition_and_the_role() -> None:
    [statement] = vault_access_policy(VAULT_ARN, WHOLE)["Statement"]

    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG},
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{SERVICE_ROLE}"},
    }


def test_service_trust_is_for_that_service_alone() -> None:
    [statement] = service_trust_policy("backup")["Statement"]

    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert "Condition" not in statement


def _plan(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "plan_name": "daily",
        "regions": ["ap-southeast-2"],
        "schedule_expression": "cron(10 14 ? * * *)",
        "start_window_minutes": 60,
        "complete_window_minutes": 120,
        "delete_after_days": 30,
        "cold_storage_after_days": None,
        "source_vault_name": "backup-source",
        "copy_target_vault_arns": [VAULT_ARN],
        "copy_delete_after_days": 90,
        "copy_cold_storage_after_days": None,
        "selection_tag_key": "Backup",
        "selection_tag_values": ["true"],
        "service_role_name": "service-role/AWSBackupDefaultServiceRole",
        "windows_vss": False,
        "recovery_point_tags": [("Name", "BackupOrg")],
        "plan_tags": [("ManagedBy", "pulumi")],
    }
    arguments.update(overrides)
    return backup_policy_document(**arguments)


def _leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        if "@@assign" in node:
            return [(path, {k: v for k, v in node.items() if k != CHILD_CONTROL})]
        return [
            leaf
            for key, value in node.items()
            if key != CHILD_CONTROL
            for leaf in _leaves(value, f"{path}/{key}")
        ]
    return [(path, node)]


def _objects(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object in a document with its path, the node itself first."""
    if not isinstance(node, dict):
        return []
    found = [(path, node)]
    for key, value in node.items():
        found.extend(_objects(value, f"{path}/{key}"))
    return found


def test_backup_policy_matches_the_aws_syntax_exactly() -> None:
    document = without_operators(_plan())

    assert document == {
        "plans": {
            "daily": {
                "regions": {"@@assign": ["ap-southeast-2"]},
                "rules": {
                    "daily": {
                        "schedule_expression": {"@@assign": "cron(10 14 ? * * *)"},
                        "start_backup_window_minutes": {"@@assign": "60"},
                        "complete_backup_window_minutes": {"@@assign": "120"},
                        "lifecycle": {"delete_after_days": {"@@assign": "30"}},
                        "target_backup_vault_name": {"@@assign": "backup-source"},
                        "recovery_point_tags": {
                            "Name": {
                                "tag_key": {"@@assign": "Name"},
                                "tag_value": {"@@assign": "BackupOrg"},
                            }
                        },
                        "copy_actions": {
                            VAULT_ARN: {
                                "target_backup_vault_arn": {"@@assign": VAULT_ARN},
                                "lifecycle": {"delete_after_days": {"@@assign": "90"}},
                            }
                        },
                    }
                },
                "selections": {
                    "tags": {
                        "tagged-resources": {
                            "iam_role_arn": {
                                "@@assign": "arn:aws:iam::$account:role/service-role/AWSBackupDefaultServiceRole"
                            },
                            "tag_key": {"@@assign": "Backup"},
                            "tag_value": {"@@assign": ["true"]},
                        }
                    }
                },
                "advanced_backup_settings": {"ec2": {"windows_vss": {"@@assign": "disabled"}}},
                "backup_plan_tags": {
                    "ManagedBy": {
                        "tag_key": {"@@assign": "ManagedBy"},
                        "tag_value": {"@@assign": "pulumi"},
                    }
                },
            }
        }
    }


def test_plan_and_every_node_below_it_refuse_child_policies_but_plans_does_not() -> None:
    document = _plan(cold_storage_after_days=10, windows_vss=True)
    plan = document["plans"]["daily"]

    assert CHILD_CONTROL not in document and CHILD_CONTROL not in document["plans"]
    objects = _objects(plan)
    assert len(objects) > 20
    for path, node in objects:
        assert node[CHILD_CONTROL] == ["@@none"], path


def test_two_environments_policies_merge_into_two_plans() -> None:
    prod = _plan(plan_name="aws-backup-copy-prod-daily")
    dev = _plan(plan_name="aws-backup-copy-dev-daily", source_vault_name="dev-source")

    # prod attached to the root, dev to an OU below it: an account in that OU inherits both.
    effective = without_operators(effective_policy([prod, dev]))

    assert set(effective["plans"]) == {"aws-backup-copy-prod-daily", "aws-backup-copy-dev-daily"}
    assert (
        effective["plans"]["aws-backup-copy-prod-daily"]
        == without_operators(prod)["plans"]["aws-backup-copy-prod-daily"]
    )
    assert (
        effective["plans"]["aws-backup-copy-dev-daily"]
        == without_operators(dev)["plans"]["aws-backup-copy-dev-daily"]
    )


def test_a_child_policy_cannot_redirect_a_locked_plan() -> None:
    parent = _plan()
    elsewhere = VAULT_ARN.replace(DEST, "999999999999")
    child = without_operators(_plan(copy_target_vault_arns=[elsewhere]))

    effective = without_operators(effective_policy([parent, child]))

    assert effective == without_operators(parent)


def test_bare_plan_keys_would_merge_two_environments_into_one_plan() -> None:
    # Why plan keys carry the stack's prefix: the same key in two unlocked policies is one plan
    # whose copy actions are the union of both, so one environment copies into the other's vault.
    other_vault = VAULT_ARN.replace("central", "central-dev")
    prod = without_operators(_plan())
    dev = without_operators(_plan(copy_target_vault_arns=[other_vault]))

    effective = effective_policy([prod, dev])

    assert list(effective["plans"]) == ["daily"]
    assert set(effective["plans"]["daily"]["rules"]["daily"]["copy_actions"]) == {
        VAULT_ARN,
        other_vault,
    }


def test_every_value_is_set_with_assign() -> None:
    document = _plan(cold_storage_after_days=10, copy_cold_storage_after_days=5, windows_vss=True)

    for path, leaf in _leaves(document):
        assert isinstance(leaf, dict) and set(leaf) == {"@@assign"}, path


def test_copy_to_dr_vault_adds_a_second_keyed_copy_action() -> None:
    dr = VAULT_ARN.replace("ap-southeast-2", "ap-southeast-1")

    actions = without_operators(_plan(copy_target_vault_arns=[VAULT_ARN, dr]))["plans"]["daily"][
        "rules"
    ]["daily"]["copy_actions"]

    assert {arn: a["target_backup_vault_arn"]["@@assign"] for arn, a in actions.items()} == {
        VAULT_ARN: VAULT_ARN,
        dr: dr,
    }


def test_account_variable_only_in_the_role_arn() -> None:
    rendered = json.dumps(_plan())

    assert rendered.count("$account") == 1


def test_render_refuses_documents_over_the_limit() -> None:
    small = render_backup_policy(_plan())
    huge = _plan(recovery_point_tags=[(f"T{i}", "v" * 300) for i in range(40)])

    assert len(small) <= MAX_BACKUP_POLICY_CHARACTERS
    assert json.loads(small) == _plan()
    with pytest.raises(PolicyTooLargeError, match="at most 10,000"):
        render_backup_policy(huge)


def test_the_size_limit_counts_the_child_control_operators() -> None:
    # 26 tags of 280 characters fit without the operators and not with them.
    tags = [(f"T{i:02d}", "v" * 280) for i in range(26)]
    document = _plan(recovery_point_tags=tags)
    bare = json.dumps(without_operators(document), separators=(",", ":"), sort_keys=True)

    assert len(bare) <= MAX_BACKUP_POLICY_CHARACTERS
    with pytest.raises(PolicyTooLargeError):
        render_backup_policy(document)


def test_the_delegated_administrator_manages_backup_policies_and_nothing_else() -> None:
    policy = grants({"Statement": backup_policy_delegation("000000000000", ORG, "888888888888")})
    delegate = {"AWS": "arn:aws:iam::888888888888:root"}
    backup_only = {"StringLikeIfExists": {"organizations:PolicyType": "BACKUP_POLICY"}}

    read_structure, read_policies, manage = (
        policy["DelegateBackupPoliciesRead"],
        policy["DelegateBackupPoliciesReadPolicies"],
        policy["DelegateBackupPoliciesManage"],
    )
    assert read_structure[0] == delegate and read_structure[2] is None
    assert all(
        a.startswith(("organizations:Describe", "organizations:List")) for a in read_structure[1]
    )
    assert read_policies[0] == delegate and read_policies[2] == backup_only
    assert manage == (
        delegate,
        frozenset(
            {
                "organizations:AttachPolicy",
                "organizations:CreatePolicy",
                "organizations:DeletePolicy",
                "organizations:DetachPolicy",
                "organizations:UpdatePolicy",
            }
        ),
        backup_only,
    )
    # Enabling or disabling policy types stays with the management account.
    assert not any("PolicyType" in a for _, actions, _ in policy.values() for a in actions)


def test_the_delegated_administrator_tags_backup_policies_only() -> None:
    """Tags on accounts, OUs and the root can drive other policies' conditions: the delegate may
    tag and untag the backup policies it manages, nothing else."""
    document = {
        "Version": "2012-10-17",
        "Statement": backup_policy_delegation("000000000000", ORG, "888888888888"),
    }
    base = "arn:aws:organizations::000000000000"
    deployer = "arn:aws:iam::888888888888:role/BackupDeployer"

    def tag(resource: str) -> bool:
        request = Request(deployer, "organizations:TagResource", resource)
        return evaluate_policy(document, request).allowed

    assert tag(f"{base}:policy/{ORG}/backup_policy/p-12345678")
    assert not tag(f"{base}:account/{ORG}/444444444444")
    assert not tag(f"{base}:ou/{ORG}/ou-ab12-prod7890")
    assert not tag(f"{base}:root/{ORG}/r-ab12")
    assert not tag(f"{base}:policy/{ORG}/service_control_policy/p-12345678")
