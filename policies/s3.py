"""The export bucket's policy and the policy of its optional KMS key.

The writers are exporter roles in other accounts. They are named through their account's root
principal narrowed by `aws:PrincipalArn`, not as role principals: AWS rewrites a role principal
to the role's unique id once the role is deleted, so a re-created exporter role would silently
lose access; the ARN condition keeps matching it, and the bucket can exist before the roles.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.arns import account_of, account_root, s3_bucket
from policies.kms import key_administration
from policies.statements import PolicyDocument, Statement, aws_principals, document

EXPORT_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
# What S3 needs from the caller's KMS permissions to write (multipart uploads also decrypt).
EXPORT_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def _writers_statement(
    sid: str, writer_role_arns: Sequence[str], actions: Sequence[str], resource: str
) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": aws_principals([account_root(account_of(arn)) for arn in writer_role_arns]),
        "Action": sorted(actions),
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(writer_role_arns)}},
    }


def export_bucket_policy(bucket_name: str, writer_role_arns: Sequence[str]) -> PolicyDocument:
    """Exporter roles may write objects (and nothing else); no request without TLS."""
    bucket_arn = s3_bucket(bucket_name)
    return document(
        _writers_statement(
            "ExporterRolesWriteExports", writer_role_arns, EXPORT_WRITE_ACTIONS, f"{bucket_arn}/*"
        ),
        {
            "Sid": "DenyRequestsWithoutTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def export_key_policy(key_account_id: str, writer_role_arns: Sequence[str]) -> PolicyDocument:
    """Administration in the bucket's account; exporter roles may encrypt export objects."""
    return document(
        key_administration(key_account_id),
        _writers_statement(
            "ExporterRolesEncryptExports", writer_role_arns, EXPORT_KEY_ACTIONS, "*"
        ),
    )
