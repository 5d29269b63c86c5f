"""The documentation says what the flows rely on: the corrected rationale, the CHANGELOG's
migration notes, and the acceptance runbook's online proofs of what AWS documents nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def text(relative: str) -> str:
    """A file of the repository, whitespace folded (lines wrap anywhere)."""
    return " ".join((ROOT / relative).read_text(encoding="utf-8").split())


@pytest.mark.parametrize(
    ("relative", "phrases"),
    [
        (
            "policies/kms.py",
            [
                '"Logically air-gapped vault", "Key policy for copy/restore"',
                "AWSBackupServiceRolePolicyForBackup",
                "AWSBackupServiceLinkedRolePolicyForBackup",
                "works through grants",
            ],
        ),
        (
            "docs/architecture.md",
            [
                "Who may copy in",
                '"IAM Access Analyzer policy generation"',
                "${aws:PrincipalAccount}",
            ],
        ),
        (
            "policies/s3.py",
            ['"IAM Access Analyzer policy generation"'],
        ),
        (
            "CHANGELOG.md",
            [
                "accounts that fall out of the scope get failed copy jobs",
                "their existing copies stay in the central vaults until they expire",
                "destination.copies-from-outside-scope",
                "Corrected rationale",
                "Roll the scope change out dev, then sandbox, then prod",
                "one copy per admission path",
            ],
        ),
        (
            "docs/operations.md",
            [
                "prove alert delivery with a real AWS event",
                "set-alarm-state",
                "FailedInvocations",
                "one EFS and one DynamoDB",
                "userIdentity.arn",
                "simulate-custom-policy",
                "Roll out dev, then sandbox, then prod",
                "one copy per admission path",
                "record the request's `constraints`",
                "Prove online: no EC2 path for the source role",
                "The residual: any rule in the monitoring account can publish",
            ],
        ),
        (
            "docs/architecture.md",
            ["We deviate from that page's other statement", '"Vault access policies": "Regardless'],
        ),
        (
            "docs/organization-scale.md",
            ["Policy sizes and account limits", "220 source accounts with `allowCopyBack`"],
        ),
    ],
)
def test_the_docs_say_what_the_flows_rely_on(relative: str, phrases: list[str]) -> None:
    content = text(relative)
    assert [phrase for phrase in phrases if phrase not in content] == []


def test_every_unproven_hop_names_its_runbook_step() -> None:
    from flows.hops import HOPS

    unproven = [
        hop.id
        for hop in HOPS
        if hop.confidence != "documented"
        and "runbook" not in hop.proof
        and "deployment" not in hop.proof
    ]
    assert unproven == []
