"""KMS key policies for the vault keys of the destination and source accounts.

AWS Backup cannot copy a recovery point across accounts when it is encrypted with an AWS
managed key, so both ends use customer managed keys whose policies let the other side in,
for exactly the operations a copy needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.arns import account_root
from policies.statements import (
    PolicyDocument,
    Statement,
    aws_principals,
    document,
    organization_condition,
)

# What the other account needs to encrypt copies with, or read copies from, a vault key.
COPY_CRYPTO_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]
SOURCE_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
# Grants let AWS Backup and the storage services use the key on the account's behalf.
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
GRANT_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def key_administration(account_id: str) -> Statement:
    """Lets the owning account's IAM policies administer and use the key."""
    # The account's own IAM policies decide who administers the key; without this statement
    # the key becomes unmanageable (KMS refuses such a policy unless told to bypass the check).
    return {
        "Sid": "KeyAdministrationByOwningAccount",
        "Effect": "Allow",
        "Principal": aws_principals([account_root(account_id)]),
        "Action": "kms:*",
        "Resource": "*",
    }


def _use_by_others(
    sid: str,
    actions: Sequence[str],
    account_ids: Sequence[str],
    organization_id: str | None,
    extra_condition: dict[str, dict[str, str]] | None = None,
) -> Statement:
    condition: dict[str, dict[str, str]] = dict(extra_condition or {})
    if organization_id is not None:
        principal: dict[str, str | list[str]] | str = {"AWS": "*"}
        condition.update(organization_condition(organization_id))
    else:
        principal = aws_principals([account_root(account_id) for account_id in account_ids])
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": sorted(actions),
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def destination_key_policy(
    destination_account_id: str,
    source_account_ids: Sequence[str],
    organization_id: str | None = None,
) -> PolicyDocument:
    """Policy of the destination vault key.

    Administration stays in the destination account. The source accounts (each listed
    account, or with `organization_id` every principal of that organization) may use the
    key for copies, and create grants only for AWS resources.
    """
    return document(
        key_administration(destination_account_id),
        _use_by_others(
            "SourceAccountsEncryptCopies",
            COPY_CRYPTO_ACTIONS,
            source_account_ids,
            organization_id,
        ),
        _use_by_others(
            "SourceAccountsGrantToAwsServicesOnly",
            GRANT_ACTIONS,
            source_account_ids,
            organization_id,
            GRANT_FOR_AWS_RESOURCE,
        ),
    )


def source_key_policy(source_account_id: str, destination_account_id: str) -> PolicyDocument:
    """Policy of a source vault key.

    Backups of fully managed resource types (EFS, DynamoDB advanced backup, S3, ...) are
    encrypted with this key; the destination account must be able to read them to copy them.
    """
    return document(
        key_administration(source_account_id),
        _use_by_others(
            "DestinationAccountReadsBackupsToCopy",
            SOURCE_KEY_ACTIONS,
            [destination_account_id],
            None,
        ),
        _use_by_others(
            "DestinationAccountGrantToAwsServicesOnly",
            GRANT_ACTIONS,
            [destination_account_id],
            None,
            GRANT_FOR_AWS_RESOURCE,
        ),
    )
