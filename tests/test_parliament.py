"""Every emitted IAM-syntax document passes parliament, the offline IAM linter."""

from __future__ import annotations

import json
from typing import Any

import parliament

from tools.offline import OfflineRun

RESOURCE_POLICY_TYPES = {
    "aws:kms/key:Key",
    "aws:backup/vaultPolicy:VaultPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
}
TRUST_POLICY_TYPE = "aws:iam/role:Role"
# Checked elsewhere: the backup policy against AWS's syntax (test_policies), the member
# template by cfn-lint (test_stack_sets).
NOT_IAM_SYNTAX = {"aws:organizations/policy:Policy", "aws:cloudformation/stackSet:StackSet"}


def as_resource_policy(trust_policy: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """A trust policy is the role's resource policy; its implied Resource is the role.

    parliament has no trust-policy mode (parliament/statement.py says so), and reports every
    trust statement as MALFORMED for lacking a Resource: naming the role lets it check the rest.
    """
    return {
        **trust_policy,
        "Statement": [{**st, "Resource": role_arn} for st in trust_policy["Statement"]],
    }


def findings(document: object) -> list[tuple[str, object]]:
    policy = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    return [(finding.issue, finding.detail) for finding in policy.findings]


def test_documents_have_no_findings_beyond_resource_star_on_resource_policies(
    any_stack_run: OfflineRun,
) -> None:
    stack_run = any_stack_run
    checked = 0
    for resource, stem, document in stack_run.policy_documents():
        if resource.type in NOT_IAM_SYNTAX:
            continue
        allowed = {"RESOURCE_STAR"} if resource.type in RESOURCE_POLICY_TYPES else set()
        if resource.type == TRUST_POLICY_TYPE:
            role_arn = f"arn:aws:iam::{resource.account_id}:role{resource.inputs.get('path', '/')}{resource.inputs['name']}"
            document = as_resource_policy(document, role_arn)
        problems = [(issue, detail) for issue, detail in findings(document) if issue not in allowed]
        assert problems == [], f"{stem}: {problems}"
        checked += 1
    assert checked >= 4


def test_linter_is_live() -> None:
    wildcard = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}],
    }

    assert any(issue == "UNKNOWN_ACTION" for issue, _ in findings(wildcard))
