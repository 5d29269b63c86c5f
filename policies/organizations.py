"""The Organizations resource policy that delegates backup policy management.

AWS Organizations User Guide, "Resource-based policy examples for AWS Organizations" →
"Consolidated permissions to manage an organization's backup policies": three statements for the
delegated administrator's account, which this follows with two changes. `EnablePolicyType` and
`DisablePolicyType` are left out (enabling BACKUP_POLICY on the root is a prerequisite the
management account does once, not something the program does), and tagging the backup policies
is added (the same guide's "Tag and untag policies" example), because the program's provider tags
every resource it creates, Organizations policies included.

The policy is one per organization (PutResourcePolicy replaces it whole), so statements that
are not this program's (`extra`) are kept beside its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policies.arns import PARTITION, account_root
from policies.statements import PolicyDocument, Statement, aws_principals, document

BACKUP_POLICY_ONLY = {"StringLikeIfExists": {"organizations:PolicyType": "BACKUP_POLICY"}}
READ_ORGANIZATION = [
    "organizations:DescribeAccount",
    "organizations:DescribeOrganization",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListChildren",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListRoots",
    "organizations:ListTagsForResource",
]
READ_BACKUP_POLICIES = [
    "organizations:DescribeEffectivePolicy",
    "organizations:DescribePolicy",
    "organizations:ListPolicies",
    "organizations:ListPoliciesForTarget",
    "organizations:ListTargetsForPolicy",
]
MANAGE_BACKUP_POLICIES = [
    "organizations:AttachPolicy",
    "organizations:CreatePolicy",
    "organizations:DeletePolicy",
    "organizations:DetachPolicy",
    "organizations:UpdatePolicy",
]
# Tagging only the backup policies themselves, never an account, OU or the root: the provider
# tags every policy it creates ("Tag and untag policies" example of the same guide), and tags on
# accounts and OUs can drive other policies' conditions.
TAG_BACKUP_POLICIES = ["organizations:TagResource", "organizations:UntagResource"]
# The Sids this program owns; extra statements must use others.
OWN_SIDS = (
    "DelegateBackupPoliciesRead",
    "DelegateBackupPoliciesReadPolicies",
    "DelegateBackupPoliciesManage",
    "DelegateBackupPoliciesTag",
)


def _organizations_arn(management_account_id: str, kind: str, organization_id: str) -> str:
    return f"arn:{PARTITION}:organizations::{management_account_id}:{kind}/{organization_id}/"


def backup_policy_delegation(
    management_account_id: str, organization_id: str, delegated_account_id: str
) -> list[Statement]:
    """What the delegated administrator needs to create, attach and manage BACKUP_POLICY."""
    principal = aws_principals([account_root(delegated_account_id)])
    arn = _organizations_arn
    return [
        {
            "Sid": OWN_SIDS[0],
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(READ_ORGANIZATION),
            "Resource": "*",
        },
        {
            "Sid": OWN_SIDS[1],
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(READ_BACKUP_POLICIES),
            "Resource": "*",
            "Condition": BACKUP_POLICY_ONLY,
        },
        {
            "Sid": OWN_SIDS[2],
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(MANAGE_BACKUP_POLICIES),
            "Resource": [
                f"{arn(management_account_id, 'root', organization_id)}*",
                f"{arn(management_account_id, 'ou', organization_id)}*",
                f"{arn(management_account_id, 'account', organization_id)}*",
                f"{arn(management_account_id, 'policy', organization_id)}backup_policy/*",
            ],
            "Condition": BACKUP_POLICY_ONLY,
        },
        {
            "Sid": OWN_SIDS[3],
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(TAG_BACKUP_POLICIES),
            "Resource": f"{arn(management_account_id, 'policy', organization_id)}backup_policy/*",
        },
    ]


def delegation_resource_policy(
    own: Sequence[Statement], extra: Sequence[Mapping[str, Any]]
) -> PolicyDocument:
    """The organization's resource policy: this program's statements, then everyone else's."""
    return document(*own, *(dict(statement) for statement in extra))
