"""The DynamoDB export Lambda's permissions: only what the function calls, scoped tightly."""

from __future__ import annotations

from policies import arns
from policies.exporter_chain import continuation_statements, state_statements
from policies.s3 import EXPORT_KEY_ACTIONS, EXPORT_WRITE_ACTIONS
from policies.statements import PolicyDocument, Statement, document


def exporter_permissions(
    *,
    account_id: str,
    region: str,
    environment: str,
    bucket_name: str,
    log_group_name: str,
    kms_key_arn: str | None,
    state_table_name: str,
    schedule_group_name: str,
    scheduler_role_arn: str,
) -> PolicyDocument:
    """ListTables/ListExports (no resource-level scoping exists for them), exports of this
    account's and Region's tables (never of its own state table), writes under its own
    `{environment}/{account}/{region}/` prefix of the bucket, the bucket key if any, the
    function's own log group, its state table, and continuations in its schedule group."""
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
            # The PITR window of a table whose export of an old cut (a backlog carried into
            # the next days) fails with InvalidExportTimeException: began after the cut
            # (skipped) or moved past it (missed, alarmed). The operation takes a table
            # name or ARN; "You can call DescribeContinuousBackups at a maximum rate of 10
            # times per second" (DynamoDB API reference), far above the few calls it gets.
            "Sid": "ReadThisAccountsPitrWindows",
            "Effect": "Allow",
            "Action": "dynamodb:DescribeContinuousBackups",
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
            # The export layout puts this exporter's objects under its own prefix only.
            "Resource": f"{arns.s3_bucket(bucket_name)}/{environment}/{account_id}/{region}/*",
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group}:*",
        },
        *state_statements(region=region, account_id=account_id, table_name=state_table_name),
        *continuation_statements(
            region=region,
            account_id=account_id,
            group_name=schedule_group_name,
            scheduler_role_arn=scheduler_role_arn,
        ),
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
