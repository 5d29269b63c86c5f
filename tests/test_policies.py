"""Who gets what, under which condition, and nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
from policies.statements import OrganizationScope
from tests.support.iam_eval import Request, allows
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
COPY_SERVICES = {
    "StringEquals": {
        "kms:ViaService": [
            "backup.ap-southeast-2.amazonaws.com",
            "ec2.ap-southeast-2.amazonaws.com",
            "rds.ap-southeast-2.amazonaws.com",
        ]
    }
}


def test_destination_key_admin_stays_home_and_sources_use_it_only_through_copy_services() -> None:
    policy = grants(destination_key_policy(DEST, REGION, SOURCES))

    assert policy["KeyAdministrationByOwningAccount"] == (
        {"AWS": f"arn:aws:iam::{DEST}:root"},
        frozenset({"kms:*"}),
        None,
    )
    source_roots = [f"arn:aws:iam::{a}:root" for a in SOURCES]
    assert policy["SourceAccountsEncryptCopies"] == (
        {"AWS": source_roots},
        # Write-side only: reading copies back is not theirs without allowCopyBack.
        frozenset({"kms:Encrypt", "kms:ReEncryptTo", "kms:GenerateDataKey*", "kms:DescribeKey"}),
        COPY_SERVICES,
    )
    assert policy["SourceAccountsGrantToAwsServicesOnly"] == (
        {"AWS": source_roots},
        frozenset({"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}),
        {"Bool": {"kms:GrantIsForAWSResource": "true"}, **COPY_SERVICES},
    )
    assert len(policy) == 3


def test_destination_key_narrows_the_organization_to_copy_services_in_its_region() -> None:
    policy = grants(destination_key_policy(DEST, "eu-west-1", SOURCES, OrganizationScope(ORG)))

    for sid in ("SourceAccountsEncryptCopies", "SourceAccountsGrantToAwsServicesOnly"):
        principal, _, condition = policy[sid]
        assert principal == {"AWS": "*"}
        assert condition["StringEquals"] == {
            "aws:PrincipalOrgID": ORG,
            "kms:ViaService": [
                "backup.eu-west-1.amazonaws.com",
                "ec2.eu-west-1.amazonaws.com",
                "rds.eu-west-1.amazonaws.com",
            ],
        }
    assert policy["SourceAccountsGrantToAwsServicesOnly"][2]["Bool"] == {
        "kms:GrantIsForAWSResource": "true"
    }


BACKUP_ROLE = "role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"


def _key_request(principal: str, action: str, service: str, region: str = REGION) -> Request:
    """A KMS request on the destination key that `service` makes for `principal`."""
    return Request(
        principal,
        action,
        f"arn:aws:kms:{region}:{DEST}:key/1234abcd",
        {"kms:ViaService": f"{service}.{region}.amazonaws.com"},
    )


def test_without_copy_back_no_source_principal_reads_the_central_copies() -> None:
    policy = destination_key_policy(DEST, REGION, SOURCES)

    for principal in (
        f"arn:aws:iam::{SOURCES[0]}:{BACKUP_ROLE}",
        f"arn:aws:iam::{SOURCES[0]}:role/Admin",
    ):
        for action in ("kms:Decrypt", "kms:ReEncryptFrom"):
            for service in ("backup", "ec2", "rds"):
                assert not allows(policy, _key_request(principal, action, service))


def _with(request: Request, **context: str) -> Request:
    return Request(
        request.principal_arn, request.action, request.resource, {**request.context, **context}
    )


def test_copy_back_of_snapshots_is_read_by_the_source_backup_role_only() -> None:
    policy = destination_key_policy(DEST, REGION, SOURCES, copy_back=True)
    backup_role = f"arn:aws:iam::{SOURCES[1]}:{BACKUP_ROLE}"
    admin = f"arn:aws:iam::{SOURCES[1]}:role/Admin"
    stranger = f"arn:aws:iam::333333333333:{BACKUP_ROLE}"

    # What the service-linked role's own policy lets it do through EC2, RDS and FSx.
    for service in ("ec2", "rds", "fsx"):
        for action in COPY_BACK_SNAPSHOT_ACTIONS:
            assert allows(policy, _key_request(backup_role, action, service))
        grant = _key_request(backup_role, "kms:CreateGrant", service)
        assert allows(policy, _with(grant, **{"kms:GrantIsForAWSResource": "true"}))
        assert not allows(policy, grant)
        # Another role of the same account, another account, a call outside the services or
        # from another Region: refused.
        read = _key_request(backup_role, "kms:ReEncryptFrom", service)
        assert not allows(policy, _key_request(admin, "kms:ReEncryptFrom", service))
        assert not allows(policy, _key_request(stranger, "kms:ReEncryptFrom", service))
        assert not allows(policy, Request(backup_role, read.action, read.resource))
        assert not allows(policy, _key_request(backup_role, read.action, service, "eu-west-1"))


def test_copy_back_of_fully_managed_types_goes_through_aws_backup_with_the_vault_context() -> None:
    policy = destination_key_policy(DEST, REGION, SOURCES, copy_back=True)
    source_principal = f"arn:aws:iam::{SOURCES[0]}:role/Admin"

    # Like the copy out on a source vault key (source_key_policy): the accounts, through AWS
    # Backup in this Region only; reading never through EC2/RDS, never directly.
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allows(policy, _key_request(source_principal, action, "backup"))
    assert not allows(policy, _key_request(source_principal, "kms:Decrypt", "ec2"))
    assert not allows(policy, Request(source_principal, "kms:Decrypt", "*"))
    assert not allows(policy, _key_request(source_principal, "kms:Decrypt", "backup", "eu-west-1"))
    assert not allows(
        policy, _key_request("arn:aws:iam::333333333333:root", "kms:Decrypt", "backup")
    )


def test_copy_back_in_an_organization_scope_matches_the_backup_role_in_any_member() -> None:
    scope = OrganizationScope(ORG, ("ou-ab12-11111111",))
    policy = destination_key_policy(
        DEST, REGION, [], scope, copy_back=True, copy_back_organization=scope
    )
    member = "777777777777"
    inside = {
        "aws:PrincipalOrgID": ORG,
        "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/ou-ab12-11111111/"],
    }
    outside = {**inside, "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/ou-ab12-99999999/"]}

    def request(principal: str, context: dict[str, Any]) -> Request:
        return _with(_key_request(principal, "kms:ReEncryptFrom", "ec2"), **context)

    assert allows(policy, request(f"arn:aws:iam::{member}:{BACKUP_ROLE}", inside))
    assert not allows(policy, request(f"arn:aws:iam::{member}:role/Admin", inside))
    assert not allows(policy, request(f"arn:aws:iam::{member}:{BACKUP_ROLE}", outside))


def test_copy_back_keeps_the_key_policy_within_kms_limits_for_a_hundred_accounts() -> None:
    hundred = [str(100000000000 + n) for n in range(100)]
    too_many = [str(100000000000 + n) for n in range(400)]

    check_key_policy_size(destination_key_policy(DEST, REGION, hundred, copy_back=True))
    with pytest.raises(KeyPolicyTooLargeError, match="stackSets"):
        check_key_policy_size(destination_key_policy(DEST, REGION, too_many, copy_back=True))


def test_a_source_vault_admits_copies_back_from_the_destination_only() -> None:
    vault = f"arn:aws:backup:{REGION}:{SOURCES[0]}:backup-vault:src"
    policy = copy_back_vault_policy(vault, DEST)
    copy_role = f"arn:aws:iam::{DEST}:role/aws-backup-copy-prod-copy-back"

    assert allows(policy, Request(copy_role, "backup:CopyIntoBackupVault", vault))
    assert not allows(policy, Request(copy_role, "backup:DeleteRecoveryPoint", vault))
    assert not allows(
        policy, Request(f"arn:aws:iam::{SOURCES[1]}:root", "backup:CopyIntoBackupVault", vault)
    )
    assert len(policy["Statement"]) == 1


def test_source_key_gives_the_destination_what_aws_backup_needs_and_nothing_more() -> None:
    policy = grants(source_key_policy("111111111111", DEST))

    assert policy["KeyAdministrationByOwningAccount"][0] == {
        "AWS": "arn:aws:iam::111111111111:root"
    }
    # AWS Backup Developer Guide, "AWS Backup permissions, grants, and deny statements".
    assert policy["DestinationAccountCopiesBackups"] == (
        {"AWS": f"arn:aws:iam::{DEST}:root"},
        frozenset({"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"}),
        None,
    )
    assert policy["DestinationAccountGrantsToAwsBackupOnly"] == (
        {"AWS": f"arn:aws:iam::{DEST}:root"},
        frozenset({"kms:CreateGrant"}),
        {
            "Bool": {"kms:GrantIsForAWSResource": "true"},
            "StringLike": {"kms:ViaService": "backup.*.amazonaws.com"},
            "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:backup:backup-vault"},
        },
    )
    assert len(policy) == 3


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


def test_vault_accepts_copies_from_listed_accounts_only() -> None:
    [statement] = vault_access_policy(VAULT_ARN, SOURCES)["Statement"]

    assert statement == {
        "Sid": "AllowCopiesFromSourceAccounts",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in SOURCES]},
        "Action": "backup:CopyIntoBackupVault",
        "Resource": VAULT_ARN,
    }


def test_vault_open_to_the_organization_needs_the_org_condition() -> None:
    [statement] = vault_access_policy(VAULT_ARN, SOURCES, OrganizationScope(ORG))["Statement"]

    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert statement["Action"] == "backup:CopyIntoBackupVault"


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
                "organizations:TagResource",
                "organizations:UntagResource",
                "organizations:UpdatePolicy",
            }
        ),
        backup_only,
    )
    # Enabling or disabling policy types stays with the management account.
    assert not any("PolicyType" in a for _, actions, _ in policy.values() for a in actions)
