"""Excerpts of the AWS managed policies the flows' callers hold: the identity side of each hop.

A cross-account request needs an Allow in the caller's identity policies as well as in the
resource's policy (IAM User Guide, "Cross-account policy evaluation logic"), so a flow test
evaluates both. The roles AWS Backup uses carry AWS managed policies; only their statements
about the flows' actions (KMS, vault copies) are reproduced here, verbatim, from the AWS
Managed Policy Reference:

- AWSBackupServiceRolePolicyForBackup (version v29, 2026-02-12):
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForBackup.html
- AWSBackupServiceLinkedRolePolicyForBackup (version v16), the policy of
  `AWSServiceRoleForBackup`:
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceLinkedRolePolicyForBackup.html
- AWSBackupServiceRolePolicyForRestores (version v25, 2025-11-10):
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForRestores.html

AWS edits these policies (the acceptance runbook re-reads the live versions); a change to their
KMS statements is a change to what the flows can do, so it is worth a test run here too.
"""

from __future__ import annotations

from typing import Any

PolicyDocument = dict[str, Any]
_VERSION = "2012-10-17"


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": _VERSION, "Statement": list(statements)}


# The backup service role the backup policy names (and the copy-back role): vault copies, and
# KMS only through grants for AWS resources, DynamoDB, and EBS-context data keys through EC2.
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
