"""The operations docs say what restore testing, audit and alerts check and what they do not,
and no longer claim what the stack does not do."""

from __future__ import annotations

import pytest

from tests.test_docs_flows import text


@pytest.mark.parametrize(
    ("relative", "phrases"),
    [
        (
            "docs/operations.md",
            [
                # Restore testing: the sample, where tags are read, what is and is not checked.
                "one eligible recovery point per protected resource in selection",
                "aws:ResourceTag/<key>",
                "Tags are read from the copies",
                "What is checked, and what is not",
                "or whether it has a default VPC",
                "list-restore-jobs --by-restore-testing-plan-arn",
                # Audit: the lock is evidenced by the doctor and the acceptance record.
                "evaluates backup selections",
                "describe-backup-vault",
                "LockDate",
                "300 accounts x Regions",
                "does not count an OU's accounts yet",
                # Alerts: one rule per event type, and what a message names.
                "`restore-tests`",
                "restore events carry no `resourceArn`",
                "describe-…-job",
            ],
        ),
        (
            "docs/configuration.md",
            ["selections.<type>.tag", "allowAllResources", "drRegion.scheduleExpression"],
        ),
        (
            "CHANGELOG.md",
            [
                "deprecation warning",
                "the Vault Lock control is removed",
                "one report plan per template and Region",
                "<prefix>-backup-alerts-backup-failures",
            ],
        ),
    ],
)
def test_the_docs_say_what_is_checked(relative: str, phrases: list[str]) -> None:
    content = text(relative)
    assert [phrase for phrase in phrases if phrase not in content] == []


def test_the_docs_no_longer_claim_a_control_covers_the_central_lock() -> None:
    operations = text("docs/operations.md")

    assert "which the Vault Lock control checks" not in operations
    assert "with `vaultLock`, `BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK`" not in operations
