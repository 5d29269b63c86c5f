"""The bucket that receives DynamoDB exports, in its own account (possibly outside the org)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.customer_managed_key import CustomerManagedKey, CustomerManagedKeyArgs
from components.private_bucket import Encryption, private_bucket
from policies.s3 import export_key_policy
from policies.statements import OrganizationScope, PolicyDocument


@dataclass(frozen=True)
class ExportBucketArgs:
    """The bucket, who may write to it, and how long exports are kept."""

    account_id: str
    bucket_name: str
    key_alias: str
    writer_role_arns: Sequence[str]
    # stackSets mode: the role ARNs are patterns, matched in these member accounts only.
    writers_scope: OrganizationScope | None
    # Built (and checked against S3's size limit) by the caller before anything is declared.
    bucket_policy: PolicyDocument
    retention_days: int
    use_kms_key: bool
    region: str
    provider: aws.Provider


class ExportBucket(pulumi.ComponentResource):
    """Versioned, encrypted, private, owner-enforced, expiring, TLS-only, writable by exporters."""

    bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ExportBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:ExportBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.kms_key_arn = None
        if args.use_kms_key:
            key = CustomerManagedKey(
                name,
                CustomerManagedKeyArgs(
                    description=f"Encrypts DynamoDB exports in {args.bucket_name}",
                    alias=args.key_alias,
                    policy=export_key_policy(
                        args.account_id, args.writer_role_arns, args.writers_scope
                    ),
                    region=args.region,
                    provider=args.provider,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.kms_key_arn = key.arn
            encryption = Encryption(sse_algorithm="aws:kms", kms_master_key_id=key.arn)
        else:
            encryption = Encryption(sse_algorithm="AES256")
        bucket, _ = private_bucket(
            name, args.bucket_name, args.region, encryption, child, policy=args.bucket_policy
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            region=args.region,
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-exports",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.retention_days
                    ),
                    # Expiring a current version leaves a delete marker, which this rule removes
                    # once nothing is left under it (Amazon S3 User Guide, "Expiring objects").
                    # ExpiredObjectDeleteMarker must not join it: S3 refuses it next to Days
                    # (API reference, LifecycleExpiration).
                    # An overwritten or deleted export stays recoverable as long as a current one
                    # would have been kept: versioning is the bucket's protection against a
                    # writer that overwrites or deletes.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        self.bucket_name = bucket.bucket
        self.register_outputs({"bucket_name": self.bucket_name, "kms_key_arn": self.kms_key_arn})
