"""The baseline every bucket of this program gets, declared under the caller's component."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from policies.statements import PolicyDocument

Encryption = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


def private_bucket(
    name: str,
    bucket_name: str,
    region: str,
    encryption: Encryption,
    child: pulumi.ResourceOptions,
    policy: PolicyDocument,
    bucket_resource_name: str | None = None,
) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """A bucket with public access blocked, ACLs off (`BucketOwnerEnforced`: objects belong to
    the bucket owner whoever wrote them), versioning on, default encryption, and its policy.

    Children are named `<name>-…` under `child`'s parent (the bucket itself `<name>-bucket`
    unless `bucket_resource_name` says otherwise), as they were when each component declared
    them itself, so no existing stack sees them replaced.
    """
    bucket = aws.s3.Bucket(
        bucket_resource_name or f"{name}-bucket", region=region, bucket=bucket_name, opts=child
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        region=region,
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        region=region,
        bucket=bucket.bucket,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        region=region,
        bucket=bucket.bucket,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        region=region,
        bucket=bucket.bucket,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=encryption,
                bucket_key_enabled=encryption.sse_algorithm == "aws:kms",
            )
        ],
        opts=child,
    )
    bucket_policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        region=region,
        bucket=bucket.bucket,
        policy=json.dumps(policy),
        opts=child,
    )
    return bucket, bucket_policy
