"""Every emitted IAM-syntax document passes parliament, the offline IAM linter."""

from __future__ import annotations

import json

import parliament

from tools.offline import OfflineRun

RESOURCE_POLICY_TYPES = {
    "aws:kms/key:Key",
    "aws:backup/vaultPolicy:VaultPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
}
# parliament reads every document as an identity or resource policy; a role's trust policy has
# no Resource element by design (parliament/statement.py says it cannot check them).
TRUST_POLICY_GAP = ("MALFORMED", "Statement contains neither Resource nor NotResource")


def findings(document: object) -> list[tuple[str, object]]:
    policy = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    return [(finding.issue, finding.detail) for finding in policy.findings]


def test_documents_have_no_findings_beyond_resource_star_on_resource_policies(
    stack_run: OfflineRun,
) -> None:
    checked = 0
    for resource, stem, document in stack_run.policy_documents():
        if resource.type == "aws:organizations/policy:Policy":
            continue  # not IAM syntax: checked against the backup policy syntax in test_policies
        allowed = {"RESOURCE_STAR"} if resource.type in RESOURCE_POLICY_TYPES else set()
        problems = [
            (issue, detail)
            for issue, detail in findings(document)
            if issue not in allowed and (issue, detail) != TRUST_POLICY_GAP
        ]
        assert problems == [], f"{stem}: {problems}"
        checked += 1
    assert checked >= 4


def test_linter_is_live() -> None:
    wildcard = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}],
    }

    assert any(issue == "UNKNOWN_ACTION" for issue, _ in findings(wildcard))
