"""KMS key policies for the vault keys of the destination and source accounts.

AWS Backup cannot copy a recovery point across accounts when it is encrypted with an AWS
managed key, so both ends use customer managed keys whose policies let the other side in,
for exactly the operations a copy needs. Sources, by statement:

- AWS Backup Developer Guide, "Encryption for backups in AWS Backup", section "AWS Backup
  permissions, grants, and deny statements": "At a minimum, the key policy requires
  kms:CreateGrant, kms:GenerateDataKey, kms:Decrypt"; its example key policy allows
  DescribeKey/GenerateDataKey/Decrypt, and CreateGrant only with `kms:GrantIsForAWSResource`,
  `kms:ViaService` = `backup.*.amazonaws.com` and the `aws:backup:backup-vault` encryption
  context key.
- Same guide, "Creating backup copies across AWS accounts": "The act of copying is performed
  by your destination account's service linked role", and resources that are not fully
  managed by AWS Backup (RDS, Aurora, EBS/EC2, DocumentDB, Neptune) keep their own key, which
  must be a customer managed key shared with the destination account.
- AWS KMS Developer Guide, "kms:ViaService": limits a statement to requests that a named AWS
  service makes on the principal's behalf in a named Region.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policies.arns import account_root, iam_role
from policies.statements import (
    OrganizationScope,
    PolicyDocument,
    Statement,
    aws_principals,
    document,
    organization_condition,
)

# What a source account may do with the destination vault key for a copy into it: write-side
# only. Copies into the destination are performed by the destination account's service-linked
# role (Developer Guide, "Creating backup copies across AWS accounts"), so the source accounts
# get the seed template's "use of the key" minus what reads the copies back (Decrypt,
# ReEncryptFrom): those exist only with copy back (`copy_back_statements`).
COPY_CRYPTO_ACTIONS = [
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncryptTo",
]
# The Developer Guide's minimum for a key AWS Backup uses, plus DescribeKey (its example).
BACKUP_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
# Grants let AWS Backup and the storage services use the key on the account's behalf.
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
GRANT_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
# Services that use the destination key when they write a copy in its Region: AWS Backup for
# fully managed types, EC2 for EBS/EC2, RDS for RDS, Aurora, DocumentDB and Neptune.
COPY_SERVICES = ("backup", "ec2", "rds")
# What the destination account's AWS Backup service-linked role needs on a workload's key to
# copy a snapshot-based recovery point out of the account (the key stays the resource's).
WORKLOAD_KEY_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
]
BACKUP_SERVICE_LINKED_ROLE = "aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
# A copy back of a snapshot-based recovery point (EBS/EC2, RDS, Aurora, DocumentDB, Neptune,
# FSx) is read by the receiving account's AWS Backup service-linked role through the storage
# service; its managed policy (AWSBackupServiceLinkedRolePolicyForBackup) allows DescribeKey,
# and ListGrants, ReEncryptFrom, GenerateDataKeyWithoutPlaintext and CreateGrant through
# `ec2.*`, `rds.*` and `fsx.*` (AWS Managed Policy Reference).
COPY_BACK_SERVICES = (*COPY_SERVICES, "fsx")
COPY_BACK_SNAPSHOT_ACTIONS = [
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
]
# Fully managed types (EFS, DynamoDB advanced backup, S3) are re-encrypted by AWS Backup, under
# an identity AWS does not name: the receiving accounts get what the copy out gives the
# destination on a source vault key (`source_key_policy`), limited to AWS Backup in the Region.
VAULT_ENCRYPTION_CONTEXT = {
    "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:backup:backup-vault"}
}
# KMS quota: "The maximum length of a key policy document is 32 KB (32,768 bytes)" (AWS KMS
# Developer Guide, "Resource quotas", Key policy document size).
MAX_KEY_POLICY_BYTES = 32_768


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


def via_services(region: str, services: Sequence[str] = COPY_SERVICES) -> dict[str, Any]:
    """`kms:ViaService` for these services in one Region (any of them)."""
    names = sorted(f"{service}.{region}.amazonaws.com" for service in services)
    return {"StringEquals": {"kms:ViaService": names[0] if len(names) == 1 else names}}


def _merge_conditions(*conditions: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for condition in conditions:
        for operator, keys in (condition or {}).items():
            merged.setdefault(operator, {}).update(keys)
    return merged


def _use_by_others(
    sid: str,
    actions: Sequence[str],
    account_ids: Sequence[str],
    organization: OrganizationScope | None,
    *conditions: dict[str, Any] | None,
) -> Statement:
    principal: dict[str, str | list[str]]
    if organization is not None:
        principal = {"AWS": "*"}
        condition = _merge_conditions(*conditions, organization_condition(organization))
    else:
        principal = aws_principals([account_root(account_id) for account_id in account_ids])
        condition = _merge_conditions(*conditions)
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
    region: str,
    source_account_ids: Sequence[str],
    organization: OrganizationScope | None = None,
    copy_back: bool = False,
    copy_back_organization: OrganizationScope | None = None,
) -> PolicyDocument:
    """Policy of the destination vault key in `region`.

    Administration stays in the destination account (whose AWS Backup service-linked role
    performs the copies). The source accounts (each listed account, or with `organization`
    every principal of that organization or of its OUs) may use the key only through the
    services that write copies in this Region (`COPY_SERVICES`), and create grants only for
    AWS resources.

    With `copy_back`, the accounts that have a source vault (`source_account_ids`, or those
    of `copy_back_organization`) may read what this key encrypts back into their vaults, in
    this Region only: their AWS Backup service-linked role, and no other principal of theirs,
    through the storage services (snapshot-based types; the copy into a vault "is performed by
    your destination account's service linked role", Developer Guide, "Creating backup copies
    across AWS accounts"), and the accounts through AWS Backup with the vault encryption
    context (fully managed types).
    """
    through_copy_services = via_services(region)
    statements = [
        key_administration(destination_account_id),
        _use_by_others(
            "SourceAccountsEncryptCopies",
            COPY_CRYPTO_ACTIONS,
            source_account_ids,
            organization,
            through_copy_services,
        ),
        _use_by_others(
            "SourceAccountsGrantToAwsServicesOnly",
            GRANT_ACTIONS,
            source_account_ids,
            organization,
            GRANT_FOR_AWS_RESOURCE,
            through_copy_services,
        ),
    ]
    if copy_back:
        statements += copy_back_statements(region, source_account_ids, copy_back_organization)
    return document(*statements)


def copy_back_statements(
    region: str, account_ids: Sequence[str], organization: OrganizationScope | None
) -> list[Statement]:
    """What copies back from the destination vault key into the source vaults need."""
    backup_role = {"ArnLike": {"aws:PrincipalArn": iam_role("*", BACKUP_SERVICE_LINKED_ROLE)}}
    through_storage = via_services(region, COPY_BACK_SERVICES)
    through_backup = via_services(region, ("backup",))
    return [
        _use_by_others(
            "SourceBackupRolesReadCopiesBack",
            COPY_BACK_SNAPSHOT_ACTIONS,
            account_ids,
            organization,
            backup_role,
            through_storage,
        ),
        _use_by_others(
            "SourceBackupRolesGrantForCopiesBack",
            ["kms:CreateGrant"],
            account_ids,
            organization,
            backup_role,
            GRANT_FOR_AWS_RESOURCE,
            through_storage,
        ),
        _use_by_others(
            "SourceAccountsCopyBackThroughAwsBackup",
            BACKUP_KEY_ACTIONS,
            account_ids,
            organization,
            through_backup,
        ),
        _use_by_others(
            "SourceAccountsGrantToAwsBackupForCopiesBack",
            ["kms:CreateGrant"],
            account_ids,
            organization,
            GRANT_FOR_AWS_RESOURCE,
            through_backup,
            VAULT_ENCRYPTION_CONTEXT,
        ),
    ]


class KeyPolicyTooLargeError(ValueError):
    """The rendered key policy exceeds what AWS KMS accepts."""


def check_key_policy_size(policy: PolicyDocument) -> None:
    """Refuse a key policy KMS would reject for its size, before anything is deployed."""
    size = len(json.dumps(policy).encode())
    if size > MAX_KEY_POLICY_BYTES:
        raise KeyPolicyTooLargeError(
            f"the destination key policy would be {size:,} bytes; AWS KMS accepts at most "
            f"{MAX_KEY_POLICY_BYTES:,} (fewer source accounts per stack, or "
            "organization.memberDeployment: stackSets, whose grants do not grow with accounts)"
        )


def source_key_policy(source_account_id: str, destination_account_id: str) -> PolicyDocument:
    """Policy of a source vault key.

    Backups of fully managed resource types (EFS, DynamoDB advanced backup, S3, ...) are
    encrypted with this key; the destination account copies them out, so it gets what the
    Developer Guide's example gives a key AWS Backup uses: Decrypt, DescribeKey and
    GenerateDataKey, and CreateGrant only for AWS resources, through AWS Backup, with the
    vault encryption context.
    """
    return document(
        key_administration(source_account_id),
        _use_by_others(
            "DestinationAccountCopiesBackups",
            BACKUP_KEY_ACTIONS,
            [destination_account_id],
            None,
        ),
        _use_by_others(
            "DestinationAccountGrantsToAwsBackupOnly",
            ["kms:CreateGrant"],
            [destination_account_id],
            None,
            GRANT_FOR_AWS_RESOURCE,
            {
                "StringLike": {"kms:ViaService": "backup.*.amazonaws.com"},
                "ForAnyValue:StringEquals": {
                    "kms:EncryptionContextKeys": "aws:backup:backup-vault"
                },
            },
        ),
    )


def workload_key_statements(destination_account_id: str) -> PolicyDocument:
    """Statements a workload team adds to the customer managed key of an RDS, Aurora, EBS/EC2,
    DocumentDB or Neptune resource so that its backups can be copied to the destination.

    Those recovery points keep the resource's key; the destination account's AWS Backup
    service-linked role reads them and re-encrypts the copy with the destination vault key.
    The principal is the destination account narrowed by `aws:PrincipalArn` to that role,
    not the role itself: a key policy may only name principals that exist (KMS API
    reference, PutKeyPolicy), and the service-linked role appears only once AWS Backup is
    first used in the account.
    """
    only_backup_role = {
        "ArnEquals": {
            "aws:PrincipalArn": iam_role(destination_account_id, BACKUP_SERVICE_LINKED_ROLE)
        }
    }
    principal = aws_principals([account_root(destination_account_id)])
    return document(
        {
            "Sid": "BackupCopiesToDestinationAccountRead",
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(WORKLOAD_KEY_ACTIONS),
            "Resource": "*",
            "Condition": only_backup_role,
        },
        {
            "Sid": "BackupCopiesToDestinationAccountGrant",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": _merge_conditions(only_backup_role, GRANT_FOR_AWS_RESOURCE),
        },
    )
