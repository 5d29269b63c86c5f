"""Who gets what, under which condition, and nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.backup import (
    MAX_BACKUP_POLICY_CHARACTERS,
    PolicyTooLargeError,
    backup_policy_document,
    render_backup_policy,
    vault_access_policy,
)
from policies.iam import service_trust_policy
from policies.kms import destination_key_policy, source_key_policy

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


def test_destination_key_admin_stays_home_and_sources_only_use_it() -> None:
    policy = grants(destination_key_policy(DEST, SOURCES))

    assert policy["KeyAdministrationByOwningAccount"] == (
        {"AWS": f"arn:aws:iam::{DEST}:root"},
        frozenset({"kms:*"}),
        None,
    )
    source_roots = [f"arn:aws:iam::{a}:root" for a in SOURCES]
    assert policy["SourceAccountsEncryptCopies"] == (
        {"AWS": source_roots},
        frozenset(
            {
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            }
        ),
        None,
    )
    assert policy["SourceAccountsGrantToAwsServicesOnly"] == (
        {"AWS": source_roots},
        frozenset({"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}),
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
    assert len(policy) == 3


def test_destination_key_for_the_organization_always_carries_the_org_condition() -> None:
    policy = grants(destination_key_policy(DEST, SOURCES, ORG))

    for sid in ("SourceAccountsEncryptCopies", "SourceAccountsGrantToAwsServicesOnly"):
        principal, _, condition = policy[sid]
        assert principal == {"AWS": "*"}
        assert condition["StringEquals"] == {"aws:PrincipalOrgID": ORG}
    assert policy["SourceAccountsGrantToAwsServicesOnly"][2]["Bool"] == {
        "kms:GrantIsForAWSResource": "true"
    }


def test_source_key_lets_only_the_destination_read_and_grant_to_aws() -> None:
    policy = grants(source_key_policy("111111111111", DEST))

    assert policy["KeyAdministrationByOwningAccount"][0] == {
        "AWS": "arn:aws:iam::111111111111:root"
    }
    assert policy["DestinationAccountReadsBackupsToCopy"] == (
        {"AWS": f"arn:aws:iam::{DEST}:root"},
        frozenset({"kms:Decrypt", "kms:DescribeKey"}),
        None,
    )
    assert policy["DestinationAccountGrantToAwsServicesOnly"][2] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}
    }
    assert len(policy) == 3


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
    [statement] = vault_access_policy(VAULT_ARN, SOURCES, ORG)["Statement"]

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
            return [(path, node)]
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{path}/{key}")]
    return [(path, node)]


def test_backup_policy_matches_the_aws_syntax_exactly() -> None:
    document = _plan()

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


def test_every_value_is_set_with_assign() -> None:
    document = _plan(cold_storage_after_days=10, copy_cold_storage_after_days=5, windows_vss=True)

    for path, leaf in _leaves(document):
        assert isinstance(leaf, dict) and set(leaf) == {"@@assign"}, path


def test_copy_to_dr_vault_adds_a_second_keyed_copy_action() -> None:
    dr = VAULT_ARN.replace("ap-southeast-2", "ap-southeast-1")

    actions = _plan(copy_target_vault_arns=[VAULT_ARN, dr])["plans"]["daily"]["rules"]["daily"][
        "copy_actions"
    ]

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
