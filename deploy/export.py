"""The bucket DynamoDB exports land in, in its own account (possibly outside the organization)."""

from __future__ import annotations

from components.export_bucket import ExportBucket, ExportBucketArgs
from policies.statements import PolicyDocument
from providers import ProviderRegistry
from topology import Topology


def declare_export_bucket(
    topology: Topology, bucket_policy: PolicyDocument, providers: ProviderRegistry
) -> ExportBucket | None:
    """The export bucket, with the policy built (and size-checked) beforehand; None without
    export."""
    export = topology.config.dynamodb_export
    if export is None:
        return None
    return ExportBucket(
        "export-bucket",
        ExportBucketArgs(
            account_id=export.bucket.account_id,
            bucket_name=export.bucket.name,
            key_alias=f"alias/{topology.prefix}-dynamodb-export",
            writer_role_arns=[
                arn for role_arns in topology.export_writers.values() for arn in role_arns
            ],
            writers_scope=topology.member_scope,
            bucket_policy=bucket_policy,
            retention_days=export.retention_days,
            use_kms_key=export.bucket.encryption == "KMS",
            region=export.bucket.region,
            provider=providers.get(export.bucket.account, export.bucket.region),
        ),
    )
