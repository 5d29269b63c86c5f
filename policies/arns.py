"""ARNs that can be known before a resource exists, in the commercial `aws` partition."""

from __future__ import annotations

PARTITION = "aws"


def account_root(account_id: str) -> str:
    """The principal that stands for a whole account (delegates to its IAM policies)."""
    return f"arn:{PARTITION}:iam::{account_id}:root"


def backup_vault(region: str, account_id: str, vault_name: str) -> str:
    """An AWS Backup vault: `arn:aws:backup:<region>:<account>:backup-vault:<name>`."""
    return f"arn:{PARTITION}:backup:{region}:{account_id}:backup-vault:{vault_name}"


def iam_role(account_id: str, name_with_path: str) -> str:
    """An IAM role; `name_with_path` may carry a path such as `service-role/Name`."""
    return f"arn:{PARTITION}:iam::{account_id}:role/{name_with_path}"


def aws_managed_policy(name_with_path: str) -> str:
    """An AWS managed IAM policy, e.g. `service-role/AWSBackupServiceRolePolicyForBackup`."""
    return f"arn:{PARTITION}:iam::aws:policy/{name_with_path}"


def s3_bucket(bucket_name: str) -> str:
    """An S3 bucket (bucket ARNs carry neither Region nor account)."""
    return f"arn:{PARTITION}:s3:::{bucket_name}"


def dynamodb_tables(region: str, account_id: str) -> str:
    """Every DynamoDB table of one account and Region."""
    return f"arn:{PARTITION}:dynamodb:{region}:{account_id}:table/*"


def log_group(region: str, account_id: str, name: str) -> str:
    """A CloudWatch Logs log group (without the `:*` that its streams add)."""
    return f"arn:{PARTITION}:logs:{region}:{account_id}:log-group:{name}"


def account_of(arn: str) -> str:
    """The account field of an ARN (`arn:aws:iam::<account>:role/...`)."""
    return arn.split(":")[4]


def any_account(arn: str) -> str:
    """The same ARN with `*` for its account, to match that name in every account (ArnLike)."""
    fields = arn.split(":")
    fields[4] = "*"
    return ":".join(fields)
