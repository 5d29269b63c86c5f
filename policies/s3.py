"""The export bucket's policy and the policy of its optional KMS key.

The writers are exporter roles in other accounts. They are named through their account's root
principal narrowed by `aws:PrincipalArn`, not as role principals: AWS rewrites a role principal
to the role's unique id once the role is deleted, so a re-created exporter role would silently
lose access; the ARN condition keeps matching it, and the bucket can exist before the roles.

Each exporter writes only under `<environment>/<its account>/<its Region>/`. One statement per
Region admits that Region's exporter roles (their names end in the Region) to objects under
`<environment>/${aws:PrincipalAccount}/<Region>/`: the account part is the policy variable, which
AWS fills in with the caller's own account at evaluation (IAM User Guide, "IAM policy elements:
Variables and tags": variables may be used in the Resource element, and global condition keys
serve as variables; Amazon S3 User Guide, "Policy resources for Amazon S3": "You can use policy
variables in Amazon S3 ARNs"). AWS uses exactly this form in a bucket policy: the IAM User Guide's
"IAM Access Analyzer policy generation" page admits cross-account CloudTrail readers to
`arn:aws:s3:::DOC-EXAMPLE-BUCKET/AWSLogs/organization-id/${aws:PrincipalAccount}/*`, with
`aws:PrincipalArn` narrowing to one role name. One statement per writer would say the same but stop fitting
S3's 20 KB bucket policy limit at about 60 writers; listing each writer's root and role ARN
stopped at 86 accounts in 2 Regions (`make bench PART=plan`). Each account is now named once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from policies.arns import account_of, account_root, any_account, s3_bucket
from policies.kms import key_administration
from policies.statements import (
    OrganizationScope,
    PolicyDocument,
    Statement,
    aws_principals,
    document,
)

EXPORT_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
# Amazon S3 User Guide, "Bucket policies": "Bucket policies are limited to 20 KB in size."
MAX_BUCKET_POLICY_BYTES = 20 * 1024
# What S3 needs from the caller's KMS permissions to write (multipart uploads also decrypt).
EXPORT_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def _writers_statement(
    sid: str,
    writer_role_arns: Sequence[str],
    actions: Sequence[str],
    resource: str,
    organization: OrganizationScope | None,
) -> Statement:
    # The role names, in any account: `arn:aws:iam::*:role/<name>`.
    patterns = sorted({any_account(arn) for arn in writer_role_arns})
    if organization is None:
        # Named accounts (providers mode), each named once: the exporter roles share their
        # names across accounts, so accounts x names is exactly the set of writers, and the
        # policy grows by one account ARN per account instead of a root and a role ARN.
        principal: str | dict[str, str | list[str]] = aws_principals(
            [account_root(account_of(arn)) for arn in writer_role_arns]
        )
        condition: dict[str, Any] = {"ArnLike": {"aws:PrincipalArn": patterns}}
    else:
        # The exporter role of every member account (stackSets mode): the organization
        # condition keeps the pattern to member accounts.
        principal = {"AWS": "*"}
        condition = {"ArnLike": {"aws:PrincipalArn": patterns}, **organization.condition()}
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": sorted(actions),
        "Resource": resource,
        "Condition": condition,
    }


class BucketPolicyTooLargeError(ValueError):
    """The rendered bucket policy exceeds what S3 accepts."""


def own_prefix_resource(bucket_name: str, environment: str, region: str) -> str:
    """Objects under `<environment>/<the caller's account>/<region>/` in the bucket."""
    return f"{s3_bucket(bucket_name)}/{environment}/${{aws:PrincipalAccount}}/{region}/*"


def export_bucket_policy(
    bucket_name: str,
    environment: str,
    writer_role_arns_by_region: Mapping[str, Sequence[str]],
    organization: OrganizationScope | None = None,
) -> PolicyDocument:
    """Each exporter role may write objects under its own account's and Region's prefix, and
    nothing else; no request without TLS. With `organization`, the role ARNs are patterns
    (`arn:aws:iam::*:role/<name>`) matched in the organization's accounts."""
    bucket_arn = s3_bucket(bucket_name)
    writes = [
        _writers_statement(
            f"ExportersWriteOwnPrefix{region.title().replace('-', '')}",
            role_arns,
            EXPORT_WRITE_ACTIONS,
            own_prefix_resource(bucket_name, environment, region),
            organization,
        )
        for region, role_arns in sorted(writer_role_arns_by_region.items())
    ]
    return document(*writes, tls_only(bucket_arn))


def tls_only(bucket_arn: str) -> Statement:
    """Denies every request to the bucket and its objects that does not use TLS."""
    return {
        "Sid": "DenyRequestsWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def code_bucket_policy(bucket_name: str, organization_id: str) -> PolicyDocument:
    """Accounts of the organization may read the exporter's code (and nothing else).

    CloudFormation creates each member account's function from this bucket, through that
    account's StackSet execution role, and Lambda reads the object with the caller's
    permissions (Lambda Developer Guide, "Deploying Lambda functions as .zip file archives":
    a bucket in another account needs a bucket policy that lets the caller read the object).
    """
    bucket_arn = s3_bucket(bucket_name)
    return document(
        {
            "Sid": "OrganizationReadsExporterCode",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket_arn}/*",
            "Condition": OrganizationScope(organization_id).condition(),
        },
        tls_only(bucket_arn),
    )


def check_bucket_policy_size(policy: PolicyDocument) -> None:
    """Refuse a bucket policy S3 would reject for its size, before anything is deployed."""
    size = len(json.dumps(policy, separators=(",", ":")).encode())
    if size > MAX_BUCKET_POLICY_BYTES:
        raise BucketPolicyTooLargeError(
            f"the export bucket policy would be {size:,} bytes; S3 accepts at most "
            f"{MAX_BUCKET_POLICY_BYTES:,} (fewer source accounts or Regions per stack, or "
            "organization.memberDeployment: stackSets, whose policy does not grow with accounts)"
        )


def export_key_policy(
    key_account_id: str,
    writer_role_arns: Sequence[str],
    organization: OrganizationScope | None = None,
) -> PolicyDocument:
    """Administration in the bucket's account; exporter roles may encrypt export objects."""
    return document(
        key_administration(key_account_id),
        _writers_statement(
            "ExporterRolesEncryptExports",
            writer_role_arns,
            EXPORT_KEY_ACTIONS,
            "*",
            organization,
        ),
    )
