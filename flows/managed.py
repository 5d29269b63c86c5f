"""Excerpts of the AWS managed policies the flows' callers hold: the identity side of each hop.

A cross-account request needs an Allow in the caller's identity policies as well as in the
resource's policy (IAM User Guide, "Cross-account policy evaluation logic"), so a flow test
evaluates both. The roles AWS Backup uses carry AWS managed policies; only their statements
about the flows' actions (every KMS statement, and the vault copy statements) are reproduced
here, verbatim, Sids included. The versions are the default ones the AWS Managed Policy
Reference shows (version id and "Edited time"):

- AWSBackupServiceRolePolicyForBackup, **v30**, edited 2026-02-23 19:42 UTC:
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForBackup.html
- AWSBackupServiceLinkedRolePolicyForBackup, **v31**, edited 2026-02-12 17:59 UTC, the policy
  of `AWSServiceRoleForBackup`:
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceLinkedRolePolicyForBackup.html
- AWSBackupServiceRolePolicyForRestores, **v35**, edited 2026-02-12 17:57 UTC:
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForRestores.html

Where the statements come from. The reference pages' version ids and dates above were read
from the stored copies of those pages, but not their JSON past the first statements: the KMS
statements were read from the `GetPolicyVersion` output that the public zoph-io/IAMTrail
archive stores for each policy, whose `VersionId` and `CreateDate` are exactly the reference's
(v30 2026-02-23T19:42:11Z, v31 2026-02-12T17:59:36Z, v35 2026-02-12T17:57:30Z). Every
conclusion the flow tests draw from an identity ("denied by the role's own policy") rests on
that copy. The acceptance runbook compares the live default versions with these before it
starts; a change of their KMS statements is a change to what the flows can do.

Changes from the versions excerpted before (v29, v16, v25): the KMS statements of the backup
role policy gained `KMSDSQLPermissions` (Decrypt through Aurora DSQL with the
`aws:dsql:ClusterId` encryption context); those of the service-linked role and restore
policies are unchanged.
"""

from __future__ import annotations

from typing import Any

PolicyDocument = dict[str, Any]
_VERSION = "2012-10-17"


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": _VERSION, "Statement": list(statements)}


# The backup service role the backup policy names (and the copy-back role): vault copies, and
# KMS only through grants for AWS resources, DynamoDB, EBS-context data keys through EC2, and
# Decrypt through Aurora DSQL. Nothing through AWS Backup (`backup.*`) but DescribeKey and
# CreateGrant, which carry no kms:ViaService condition.
BACKUP_SERVICE_ROLE = _document(
    {
        "Sid": "BackupVaultPermissions",
        "Effect": "Allow",
        "Action": ["backup:DescribeBackupVault", "backup:CopyIntoBackupVault"],
        "Resource": "arn:aws:backup:*:*:backup-vault:*",
    },
    {
        "Sid": "BackupVaultCopyPermissions",
        "Effect": "Allow",
        "Action": ["backup:CopyFromBackupVault"],
        "Resource": "*",
    },
    {
        "Sid": "KMSDynamoDBPermissions",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringLike": {"kms:ViaService": ["dynamodb.*.amazonaws.com"]}},
    },
    {"Sid": "KMSPermissions", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"},
    {
        "Sid": "KMSCreateGrantPermissions",
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    },
    {
        "Sid": "KMSEC2Permissions",
        "Effect": "Allow",
        "Action": [
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptTo",
            "kms:ReEncryptFrom",
        ],
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {
            "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:ebs:id"},
            "StringLike": {"kms:ViaService": ["ec2.*.amazonaws.com"]},
        },
    },
    {
        "Sid": "KMSDSQLPermissions",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringLike": {"kms:ViaService": ["dsql.*.amazonaws.com"]},
            "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:dsql:ClusterId"},
        },
    },
)

# `AWSServiceRoleForBackup`: no kms:Decrypt at all; grants and re-encryption through the
# storage services only.
BACKUP_SERVICE_LINKED_ROLE = _document(
    {
        "Sid": "KMSDescribePermissions",
        "Effect": "Allow",
        "Action": "kms:DescribeKey",
        "Resource": "*",
    },
    {
        "Sid": "KMSGrantPermissions",
        "Effect": "Allow",
        "Action": ["kms:ListGrants", "kms:ReEncryptFrom", "kms:GenerateDataKeyWithoutPlaintext"],
        "Resource": "*",
        "Condition": {
            "StringLike": {
                "kms:ViaService": [
                    "ec2.*.amazonaws.com",
                    "rds.*.amazonaws.com",
                    "fsx.*.amazonaws.com",
                ]
            }
        },
    },
    {
        "Sid": "KMSCreateGrantPermissions",
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {
            "Bool": {"kms:GrantIsForAWSResource": "true"},
            "StringLike": {
                "kms:ViaService": [
                    "ec2.*.amazonaws.com",
                    "rds.*.amazonaws.com",
                    "fsx.*.amazonaws.com",
                ]
            },
        },
    },
)

# The restore testing role: KMS through the storage services it restores into.
RESTORE_ROLE = _document(
    {
        "Sid": "KMSDescribePermissions",
        "Effect": "Allow",
        "Action": "kms:DescribeKey",
        "Resource": "*",
    },
    {
        "Sid": "KMSPermissions",
        "Effect": "Allow",
        "Action": [
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:ReEncryptTo",
            "kms:ReEncryptFrom",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
        ],
        "Resource": "*",
        "Condition": {
            "StringLike": {
                "kms:ViaService": [
                    "dynamodb.*.amazonaws.com",
                    "ec2.*.amazonaws.com",
                    "elasticfilesystem.*.amazonaws.com",
                    "rds.*.amazonaws.com",
                    "redshift.*.amazonaws.com",
                    "dsql.*.amazonaws.com",
                    "redshift-serverless.*.amazonaws.com",
                ]
            }
        },
    },
    {
        "Sid": "KMSCreateGrantPermissions",
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    },
)

# A role whose own policies allow everything (an administrator, a CI role): the negative case
# of every flow, where only the resource's policy can stop it.
ADMINISTRATOR = _document({"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"})
