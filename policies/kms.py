"""KMS key policies for the vault keys of the destination and source accounts.

AWS Backup cannot copy a recovery point across accounts when it is encrypted with an AWS
managed key, so both ends use customer managed keys whose policies let the other side in,
for exactly the operations a copy needs. Who calls KMS in a copy, and how:

- **The source accounts' backup service role works through grants.** A copy job runs as the
  role of the plan that made the recovery point; on the destination vault key it creates a
  grant for AWS Backup (`kms:CreateGrant` with `kms:GrantIsForAWSResource`, through
  `backup.*.amazonaws.com`), and AWS Backup uses the key under that grant. AWS's key policy for
  copies into a vault on a customer managed key in another account (AWS Backup Developer Guide,
  "Logically air-gapped vault", "Key policy for copy/restore": "For all copy scenarios, the
  CMKs must be shared with the source copy role") admits that role for key use through
  `backup.*` and for CreateGrant with `kms:GrantIsForAWSResource`. Cross-account KMS use needs
  the caller's own IAM policy as well (AWS KMS Developer Guide, "Allowing users in other
  accounts to use a KMS key"), and the role's managed policy (AWS Managed Policy Reference,
  AWSBackupServiceRolePolicyForBackup) allows DescribeKey, CreateGrant for AWS resources, and
  data-key calls only through DynamoDB and EC2: so the statements name that role alone
  (`aws:PrincipalArn`), never every principal of an account or organization.
- **The destination account's AWS Backup service-linked role writes snapshot copies** (EBS/EC2,
  RDS, Aurora, DocumentDB, Neptune, FSx: "The act of copying is performed by your destination
  account's service linked role", Developer Guide, "Creating backup copies across AWS
  accounts"). It reads the source workload key (`workload_key_statements`) and writes with the
  destination key through its own account's administration statement. Its managed policy
  (AWSBackupServiceLinkedRolePolicyForBackup) has no `kms:Decrypt`: DescribeKey, and
  ListGrants, ReEncryptFrom, GenerateDataKeyWithoutPlaintext and CreateGrant through `ec2.*`,
  `rds.*` and `fsx.*`.
- **Fully managed types** (EFS, DynamoDB advanced backup, S3) are encrypted with the key of the
  vault they land in; the source vault key admits the destination account (Developer Guide,
  "Encryption for backups in AWS Backup", "AWS Backup permissions, grants, and deny
  statements": "At a minimum, the key policy requires kms:CreateGrant, kms:GenerateDataKey,
  kms:Decrypt", its example conditioning CreateGrant on `kms:GrantIsForAWSResource`,
  `kms:ViaService` `backup.*.amazonaws.com` and the `aws:backup:backup-vault` encryption context
  key). Which destination principal decrypts is not documented: the acceptance runbook records
  it in CloudTrail.
- `kms:ViaService` (AWS KMS Developer Guide, "kms:ViaService") is matched with `StringLike` and
  a Region wildcard, as every AWS Backup example does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from policies.arns import account_root, iam_role
from policies.statements import (
    PolicyDocument,
    RoleScope,
    Statement,
    aws_principals,
    document,
    merge_conditions,
    scoped_allows,
)

# What the source accounts' backup service role may do with the destination vault key when a
# copy lands in the central vault: write-side only (reading copies back exists only with copy
# back, `copy_back_statements`). The role works through grants: it creates a grant for AWS
# Backup on the key, and AWS Backup uses the key under that grant. AWS's key policy for copies
# into a vault on a customer managed key in another account (AWS Backup Developer Guide,
# "Logically air-gapped vault", "Key policy for copy/restore") admits the source copy role for
# key use through `backup.*.amazonaws.com` and for `kms:CreateGrant` with
# `kms:GrantIsForAWSResource`. What the role can actually call is also bounded by its own
# managed policy, AWSBackupServiceRolePolicyForBackup (AWS Managed Policy Reference): DescribeKey,
# CreateGrant for AWS resources, and data-key calls only through DynamoDB and EC2 (EBS).
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
# Services through which the source accounts' backup service role reaches the destination key
# for a copy into the central vault: AWS Backup (every fully managed type) and EC2 (the
# managed policy's EBS data-key calls). Not RDS: the role's managed policy allows it no key
# use through RDS, and snapshot copies of RDS, Aurora, DocumentDB and Neptune are written by
# the destination account's own AWS Backup service-linked role ("The act of copying is
# performed by your destination account's service linked role", Developer Guide, "Creating
# backup copies across AWS accounts"), which the key's administration statement covers.
COPY_SERVICES = ("backup", "ec2")
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
COPY_BACK_SERVICES = ("backup", "ec2", "fsx", "rds")
COPY_BACK_SNAPSHOT_ACTIONS = [
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
]
# Fully managed types (EFS, DynamoDB advanced backup, S3) are re-encrypted by AWS Backup, under
# an identity AWS does not name: the receiving accounts' backup service role and AWS Backup
# service-linked role get what the copy out gives the destination on a source vault key
# (`source_key_policy`), through AWS Backup with the vault encryption context.
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


def via_services(services: Sequence[str]) -> dict[str, Any]:
    """`kms:ViaService` for these services in any Region (any of them).

    Every AWS example for AWS Backup keys matches the service with a Region wildcard and
    `StringLike` (`backup.*.amazonaws.com`: Developer Guide, "Encryption for backups in AWS
    Backup"; "Logically air-gapped vault", "Key policy for copy/restore"), in its own operator
    block beside the `StringEquals` organization keys. A Region-pinned value would be unproven
    for a cross-Region copy into the DR vault, whose request may come through the source
    Region's endpoint.
    """
    names = sorted(f"{service}.*.amazonaws.com" for service in services)
    return {"StringLike": {"kms:ViaService": names[0] if len(names) == 1 else names}}


def destination_key_policy(
    destination_account_id: str,
    copy_in: RoleScope,
    copy_back: RoleScope | None = None,
) -> PolicyDocument:
    """Policy of a destination vault key (the same in every vault Region).

    Administration stays in the destination account, whose AWS Backup service-linked role
    writes snapshot copies. `copy_in` (the source accounts' backup service role, in the
    accounts that may copy in) may use the key only through the services that write copies
    (`COPY_SERVICES`), and create grants only for AWS resources.

    With `copy_back`, the accounts that have a source vault may read what this key encrypts
    back into their vaults: their AWS Backup service-linked role through the storage services
    (snapshot-based types), and their backup service role or service-linked role through AWS
    Backup with the vault encryption context (fully managed types). No other principal of
    theirs.
    """
    through_copy_services = via_services(COPY_SERVICES)
    statements = [
        key_administration(destination_account_id),
        *scoped_allows(
            "SourceBackupRolesEncryptCopies",
            COPY_CRYPTO_ACTIONS,
            "*",
            copy_in,
            through_copy_services,
        ),
        *scoped_allows(
            "SourceBackupRolesGrantToAwsServicesOnly",
            GRANT_ACTIONS,
            "*",
            copy_in,
            GRANT_FOR_AWS_RESOURCE,
            through_copy_services,
        ),
    ]
    if copy_back is not None:
        statements += copy_back_statements(copy_back)
    return document(*statements)


def copy_back_statements(receivers: RoleScope) -> list[Statement]:
    """What copies back from the destination vault key into the source vaults need.

    `receivers` names the accounts with a source vault and their backup service role; the
    snapshot statements admit only those accounts' AWS Backup service-linked role.
    """
    service_linked = replace(receivers, role_names=(BACKUP_SERVICE_LINKED_ROLE,))
    backup_roles = replace(
        receivers, role_names=(*receivers.role_names, BACKUP_SERVICE_LINKED_ROLE)
    )
    through_storage = via_services(COPY_BACK_SERVICES)
    through_backup = via_services(("backup",))
    return [
        *scoped_allows(
            "SourceBackupRolesReadCopiesBack",
            COPY_BACK_SNAPSHOT_ACTIONS,
            "*",
            service_linked,
            through_storage,
        ),
        *scoped_allows(
            "SourceBackupRolesGrantForCopiesBack",
            ["kms:CreateGrant"],
            "*",
            service_linked,
            GRANT_FOR_AWS_RESOURCE,
            through_storage,
        ),
        *scoped_allows(
            "SourceBackupRolesCopyBackThroughAwsBackup",
            BACKUP_KEY_ACTIONS,
            "*",
            backup_roles,
            through_backup,
        ),
        *scoped_allows(
            "SourceBackupRolesGrantToAwsBackupForCopiesBack",
            ["kms:CreateGrant"],
            "*",
            backup_roles,
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
    destination = aws_principals([account_root(destination_account_id)])
    return document(
        key_administration(source_account_id),
        {
            "Sid": "DestinationAccountCopiesBackups",
            "Effect": "Allow",
            "Principal": destination,
            "Action": sorted(BACKUP_KEY_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "DestinationAccountGrantsToAwsBackupOnly",
            "Effect": "Allow",
            "Principal": destination,
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": merge_conditions(
                GRANT_FOR_AWS_RESOURCE, via_services(("backup",)), VAULT_ENCRYPTION_CONTEXT
            ),
        },
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
            "Condition": merge_conditions(only_backup_role, GRANT_FOR_AWS_RESOURCE),
        },
    )
