"""KMS key policies for the vault keys of the destination and source accounts.

AWS Backup cannot copy a recovery point across accounts when it is encrypted with an AWS
managed key, so both ends use customer managed keys whose policies let the other side in,
for exactly the operations a copy needs. Who calls KMS in a copy, and how:

- **The source accounts' backup service role works through grants.** A copy job runs as the
  role of the plan that made the recovery point; on the destination vault key it creates a
  grant for AWS Backup (`kms:CreateGrant` with `kms:GrantIsForAWSResource`, through
  `backup.*.amazonaws.com`), and AWS Backup uses the key under that grant. "For all copy
  scenarios, the CMKs must be shared with the source copy role" (AWS Backup Developer Guide,
  "Logically air-gapped vault", "Key policy for copy/restore"), and "The source account's copy
  role must have access permissions to both the source and destination CMKs" (same page, "IAM
  Role": DescribeKey, and CreateGrant for AWS resources). Cross-account KMS use needs the
  caller's own IAM policy as well (AWS KMS Developer Guide, "Allowing users in other accounts
  to use a KMS key"), and the role's managed policy (AWS Managed Policy Reference,
  AWSBackupServiceRolePolicyForBackup) allows it nothing else through AWS Backup: so the key
  admits that role alone (`aws:PrincipalArn`, never every principal of an account or
  organization), for DescribeKey and CreateGrant only. That is less than the page's key policy
  example, which also lists Encrypt, Decrypt, ReEncrypt* and GenerateDataKey*; see
  `COPY_ACTIONS` for why.
- **The destination account's AWS Backup service-linked role writes snapshot copies** (EBS/EC2,
  RDS, Aurora, DocumentDB, Neptune, FSx: "The act of copying is performed by your destination
  account's service linked role", Developer Guide, "Creating backup copies across AWS
  accounts"). It reads the source workload key (`workload_key_statements`) and writes with the
  destination key through its own account's administration statement. Its managed policy
  (AWSBackupServiceLinkedRolePolicyForBackup) has no `kms:Decrypt`: DescribeKey, and
  ListGrants, ReEncryptFrom, GenerateDataKeyWithoutPlaintext and CreateGrant through `ec2.*`,
  `rds.*` and `fsx.*`.
- **Fully managed types** (EFS, DynamoDB advanced backup, S3) are encrypted with the key of the
  vault they land in. A copy job's role needs DescribeKey and CreateGrant (for AWS resources)
  on the keys of both vaults ("The source account's copy role must have access permissions to
  both the source and destination CMKs", "Logically air-gapped vault", "IAM Role"): for a copy
  back that role is the destination's copy-back role, which reaches the central key through its
  own account's administration statement, and the source vault key through
  `source_key_policy`'s statements for the destination account (the Developer Guide's minimum
  for a key AWS Backup uses, "Encryption for backups in AWS Backup": "At a minimum, the key
  policy requires kms:CreateGrant, kms:GenerateDataKey, kms:Decrypt"). No principal of a source
  account is admitted to the central key through AWS Backup: neither its backup service role
  nor its service-linked role may call Decrypt or GenerateDataKey there by its own policy.
- **Grants for a copy carry no documented encryption context.** The Developer Guide's key
  policy example for a vault key conditions CreateGrant on the `aws:backup:backup-vault`
  encryption context key, but the only AWS example for a copy role's grant on another
  account's key ("Key policy for copy/restore") conditions it on `kms:GrantIsForAWSResource`
  and `kms:ViaService` only, and AWS does not document that the grants of a cross-account copy
  carry that context. A `ForAnyValue` condition on a key the request lacks never matches (IAM
  User Guide, "Single-valued vs. multivalued context keys"), so requiring it would fail
  every such copy if they do not. Both cross-account grant statements (copy in on the central
  key, copy back on the source vault key) therefore follow the copy example; the acceptance
  runbook records the grants' constraints in CloudTrail. For the same reason no statement pins
  the grantee (`kms:GranteePrincipal`, `kms:GranteeServicePrincipal`: AWS KMS Developer Guide,
  "Controlling access to grants"): AWS does not document who AWS Backup's grants are for.
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
# copy lands in the central vault: describe it, and grant AWS Backup its use, through AWS
# Backup only. The role works through grants ("The source account's copy role must have access
# permissions to both the source and destination CMKs": DescribeKey, and CreateGrant with
# `kms:GrantIsForAWSResource`; AWS Backup Developer Guide, "Logically air-gapped vault", "IAM
# Role"), and AWS Backup uses the key under the grant.
#
# This deliberately grants less than that page's key policy for a copy ("Key policy for
# copy/restore"), which gives the source copy role Encrypt, Decrypt, ReEncrypt*,
# GenerateDataKey* and DescribeKey through `backup.*`: cross-account KMS use needs the caller's
# own IAM policy too (AWS KMS Developer Guide, "Allowing users in other accounts to use a KMS
# key"), and the role's managed policy (AWSBackupServiceRolePolicyForBackup, AWS Managed Policy
# Reference) allows none of those data-key actions through AWS Backup (only DescribeKey and
# CreateGrant there; data keys through DynamoDB, EC2 with the EBS context, and DSQL). Nor does
# the key admit the role through EC2: the managed policy's EBS data-key calls through EC2 have
# no documented caller in a cross-account copy, whose snapshot copies are written by the
# destination account's own service-linked role ("The act of copying is performed by your
# destination account's service linked role", "Creating backup copies across AWS accounts");
# the acceptance runbook (step 4) records every KMS caller on the central keys, and an EBS copy
# failing on the central key through EC2 is the sign to admit it. ListGrants and RevokeGrant
# are not granted either: the managed policy allows the role neither.
COPY_ACTIONS = ["kms:DescribeKey"]
GRANT_ACTIONS = ["kms:CreateGrant"]
GRANT_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
COPY_SERVICES = ("backup",)
# The Developer Guide's minimum for a key AWS Backup uses, plus DescribeKey (its example).
BACKUP_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
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
# `ec2.*`, `rds.*` and `fsx.*` (AWS Managed Policy Reference), and nothing through AWS Backup.
COPY_BACK_SERVICES = ("ec2", "fsx", "rds")
COPY_BACK_SNAPSHOT_ACTIONS = [
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
]
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
    accounts that may copy in) may only describe the key and create grants for AWS resources,
    both through AWS Backup (`COPY_ACTIONS`, `GRANT_ACTIONS`).

    With `copy_back`, the accounts that have a source vault may read snapshot-based copies
    back into their vaults: their AWS Backup service-linked role, through the storage
    services (`copy_back_statements`). No other principal of theirs.
    """
    through_backup = via_services(COPY_SERVICES)
    statements = [
        key_administration(destination_account_id),
        *scoped_allows("SourceBackupRolesDescribeKey", COPY_ACTIONS, "*", copy_in, through_backup),
        *scoped_allows(
            "SourceBackupRolesGrantToAwsBackupOnly",
            GRANT_ACTIONS,
            "*",
            copy_in,
            GRANT_FOR_AWS_RESOURCE,
            through_backup,
        ),
    ]
    if copy_back is not None:
        statements += copy_back_statements(copy_back)
    return document(*statements)


def copy_back_statements(receivers: RoleScope) -> list[Statement]:
    """What copies back of snapshot-based types from the destination vault key need.

    `receivers` names the accounts with a source vault; only their AWS Backup service-linked
    role is admitted, through EC2, RDS and FSx. A copy back of a fully managed type (EFS,
    DynamoDB, S3) needs nothing here: the copy job runs as the destination's copy-back role,
    which creates AWS Backup's grants on this key in its own account (the administration
    statement delegates to its IAM policy), and no principal of a source account can use this
    key through AWS Backup: neither the backup service role's nor the service-linked role's
    managed policy allows Decrypt or GenerateDataKey through `backup.*`.
    """
    service_linked = replace(receivers, role_names=(BACKUP_SERVICE_LINKED_ROLE,))
    through_storage = via_services(COPY_BACK_SERVICES)
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
    encrypted with this key. The destination account gets what the Developer Guide's example
    gives a key AWS Backup uses (Decrypt, DescribeKey, GenerateDataKey), and CreateGrant only
    for AWS resources, both through AWS Backup only (`kms:ViaService` `backup.*`, as in every
    AWS Backup key policy example; a direct call by any principal of the destination account
    is refused): the copy-back job's role (in the destination account) describes the key and
    creates AWS Backup's grants on it ("The source account's copy role must have access
    permissions to both the source and destination CMKs", "Logically air-gapped vault", "IAM
    Role"). The grant statement has no encryption context condition (see the module's
    docstring).
    """
    destination = aws_principals([account_root(destination_account_id)])
    through_backup = via_services(("backup",))
    return document(
        key_administration(source_account_id),
        {
            "Sid": "DestinationAccountCopiesBackups",
            "Effect": "Allow",
            "Principal": destination,
            "Action": sorted(BACKUP_KEY_ACTIONS),
            "Resource": "*",
            "Condition": through_backup,
        },
        {
            "Sid": "DestinationAccountGrantsToAwsBackupOnly",
            "Effect": "Allow",
            "Principal": destination,
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": merge_conditions(GRANT_FOR_AWS_RESOURCE, through_backup),
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
