"""The DynamoDB export Lambda's permissions: only what the function calls, scoped tightly."""

from __future__ import annotations

from policies import arns
from policies.s3 import EXPORT_KEY_ACTIONS, EXPORT_WRITE_ACTIONS
from policies.statements import PolicyDocument, Statement, document


def exporter_permissions(
    *,
    account_id: str,
    region: str,
    bucket_name: str,
    log_group_name: str,
    kms_key_arn: str | None,
) -> PolicyDocument:
    """ListTables/ListExports (no resource-level scoping exists for them), exports of this
    account's and Region's tables, writes to the bucket's objects, the bucket key if any,
    and the function's own log group."""
    tables = arns.dynamodb_tables(region, account_id)
    log_group = arns.log_group(region, account_id, log_group_name)
    statements: list[Statement] = [
        {
            "Sid": "ListTablesAndExports",
            "Effect": "Allow",
            "Action": ["dynamodb:ListExports", "dynamodb:ListTables"],
            "Resource": "*",
        },
        {
            "Sid": "ExportThisAccountsTables",
            "Effect": "Allow",
            "Action": "dynamodb:ExportTableToPointInTime",
            "Resource": tables,
        },
        {
            "Sid": "DescribeThisAccountsExports",
            "Effect": "Allow",
            "Action": "dynamodb:DescribeExport",
            "Resource": f"{tables}/export/*",
        },
        {
            "Sid": "WriteExportObjects",
            "Effect": "Allow",
            "Action": sorted(EXPORT_WRITE_ACTIONS),
            "Resource": f"{arns.s3_bucket(bucket_name)}/*",
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group}:*",
        },
    ]
    if kms_key_arn is not None:
        statements.append(
            {
                "Sid": "EncryptExportObjects",
                "Effect": "Allow",
                "Action": sorted(EXPORT_KEY_ACTIONS),
                "Resource": kms_key_arn,
            }
        )
    return document(*statements)
