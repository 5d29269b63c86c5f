"""The member accounts through a service-managed StackSet (stackSets mode).

A BACKUP_POLICY attached to a root or an OU runs in every account under it, including
accounts created later; the vaults and role it names must exist there first (Organizations
User Guide, "Backup policy syntax"). A service-managed StackSet with automatic deployment
creates them in every such account as it joins (CloudFormation User Guide, "Create StackSets
with service-managed permissions"), whatever the number of accounts: this component's
resources do not grow with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.dynamodb_exporter import lambda_code
from components.private_bucket import Encryption, private_bucket
from config import StackSetConfig
from policies.s3 import code_bucket_policy

CallAs = Literal["SELF", "DELEGATED_ADMIN"]


@dataclass(frozen=True)
class MemberStackSetArgs:
    """The template, where its instances go, and from whom."""

    stack_set_name: str
    # The rendered template (an Output while it waits for the export key's ARN).
    template_body: pulumi.Input[str]
    regions: Sequence[str]
    organizational_unit_ids: Sequence[str]
    # Accounts under those OUs that must not get an instance (the destination account).
    excluded_account_ids: Sequence[str]
    # DELEGATED_ADMIN when a delegated administrator, not the management account, runs it.
    call_as: CallAs
    preferences: StackSetConfig
    # Per plan Region: the bucket the exporter's code is read from (empty: no exporter).
    code_buckets: Mapping[str, str]
    code_key: str
    organization_id: str
    # Where the StackSet itself lives (its instances go to `regions`).
    region: str
    provider: aws.Provider


class MemberStackSet(pulumi.ComponentResource):
    """Code buckets (per Region, readable by the organization), the StackSet, its instances."""

    stack_set_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: MemberStackSetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:MemberStackSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        code_objects: list[pulumi.Resource] = []
        for region, bucket_name in args.code_buckets.items():
            code_objects.append(self._code_bucket(name, region, bucket_name, args, child))
        preferences = args.preferences
        stack_set = aws.cloudformation.StackSet(
            f"{name}-stack-set",
            region=args.region,
            name=args.stack_set_name,
            description="Source vault, key, backup service role and exporter of each member account",
            permission_model="SERVICE_MANAGED",
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True,
                retain_stacks_on_account_removal=preferences.retain_stacks_on_account_removal,
            ),
            capabilities=["CAPABILITY_NAMED_IAM"],
            template_body=args.template_body,
            call_as=args.call_as,
            operation_preferences=aws.cloudformation.StackSetOperationPreferencesArgs(
                max_concurrent_percentage=preferences.max_concurrent_percentage,
                failure_tolerance_percentage=preferences.failure_tolerance_percentage,
                region_concurrency_type=preferences.region_concurrency,
            ),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=code_objects,
                    # AWS fills it in for service-managed StackSets, and the provider would
                    # show it as a change on every preview (terraform-provider-aws#23464).
                    ignore_changes=["administrationRoleArn"],
                ),
            ),
        )
        targets = aws.cloudformation.StackInstancesDeploymentTargetsArgs(
            organizational_unit_ids=list(args.organizational_unit_ids),
            account_filter_type="DIFFERENCE" if args.excluded_account_ids else None,
            accounts=list(args.excluded_account_ids) or None,
        )
        aws.cloudformation.StackInstances(
            f"{name}-instances",
            region=args.region,
            stack_set_name=stack_set.name,
            regions=list(args.regions),
            deployment_targets=targets,
            call_as=args.call_as,
            # Removing an instance (an OU no longer targeted) keeps its stack's resources.
            retain_stacks=preferences.retain_stacks_on_account_removal,
            operation_preferences=aws.cloudformation.StackInstancesOperationPreferencesArgs(
                max_concurrent_percentage=preferences.max_concurrent_percentage,
                failure_tolerance_percentage=preferences.failure_tolerance_percentage,
                region_concurrency_type=preferences.region_concurrency,
            ),
            opts=child,
        )
        self.stack_set_name = stack_set.name
        self.register_outputs({"stack_set_name": self.stack_set_name})

    def _code_bucket(
        self,
        name: str,
        region: str,
        bucket_name: str,
        args: MemberStackSetArgs,
        child: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        """A versioned, private bucket member accounts of the organization may read code from.

        Lambda reads a function's code from a bucket in the function's own Region
        (Lambda API reference, FunctionCode: "An Amazon S3 bucket in the same Amazon Web
        Services Region as your function"), hence one per plan Region.
        """
        prefix = f"{name}-code-{region}"
        bucket, _ = private_bucket(
            prefix,
            bucket_name,
            region,
            Encryption(sse_algorithm="AES256"),
            child,
            policy=code_bucket_policy(bucket_name, args.organization_id),
            bucket_resource_name=prefix,
        )
        return aws.s3.BucketObjectv2(
            f"{prefix}-exporter",
            region=region,
            bucket=bucket.bucket,
            # The key carries the code's hash: a new version is a new object, and the
            # template's S3Key change is what makes CloudFormation update the functions.
            key=args.code_key,
            source=lambda_code(),
            opts=child,
        )
