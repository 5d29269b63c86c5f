"""Backup Audit Manager's daily reports, in the account that may build cross-account ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.private_bucket import Encryption, private_bucket
from policies.statements import PolicyDocument


@dataclass(frozen=True)
class ReportPlanSpec:
    """One report plan: its name and template, and what it covers (one Region)."""

    name: str
    template: str
    accounts: Sequence[str]
    organization_units: Sequence[str]
    regions: Sequence[str]


@dataclass(frozen=True)
class AuditReportsArgs:
    """Where the reports go and which plans write them."""

    region: str
    bucket_name: str
    # Set: the stack creates the bucket with this policy; None: `bucket_name` is the user's.
    bucket_policy: PolicyDocument | None
    key_prefix: str
    plans: Sequence[ReportPlanSpec]
    provider: aws.Provider


class AuditReports(pulumi.ComponentResource):
    """The report plans and, unless the user brings one, a private SSE-S3 bucket for them."""

    # Template -> Region -> the report plan's ARN.
    report_plan_arns: dict[str, dict[str, pulumi.Output[str]]]

    def __init__(
        self, name: str, args: AuditReportsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:AuditReports", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        depends: list[pulumi.Resource] = []
        if args.bucket_policy is not None:
            # SSE-S3: a customer managed key would need its own grant to the reports role
            # (Developer Guide, "Creating report plans"). The bucket must be in the report
            # plan's account ("You can't use a bucket from another account", same page).
            _, bucket_policy = private_bucket(
                name,
                args.bucket_name,
                args.region,
                Encryption(sse_algorithm="AES256"),
                child,
                policy=args.bucket_policy,
            )
            depends.append(bucket_policy)
        self.report_plan_arns = {}
        for plan in args.plans:
            [covered] = plan.regions
            report_plan = aws.backup.ReportPlan(
                f"{name}-{plan.template.lower().replace('_', '-')}-{covered}",
                region=args.region,
                name=plan.name,
                description=f"{plan.template} of {covered} for the accounts of the backup policy",
                report_delivery_channel=aws.backup.ReportPlanReportDeliveryChannelArgs(
                    s3_bucket_name=args.bucket_name,
                    s3_key_prefix=args.key_prefix,
                    # Cross-account and cross-Region reports come in CSV only ("Working with
                    # audit reports").
                    formats=["CSV"],
                ),
                report_setting=aws.backup.ReportPlanReportSettingArgs(
                    report_template=plan.template,
                    accounts=list(plan.accounts) or None,
                    organization_units=list(plan.organization_units) or None,
                    regions=list(plan.regions),
                    # No framework ARNs: a multi-account report refuses them ("For
                    # multi-account, multi-Region reports, use Accounts, OrganizationUnits and
                    # Regions", terraform-provider-aws#32235) and reads the frameworks each
                    # member account holds; the console offers frameworks only for
                    # "Compliance report templates for one account only".
                ),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=depends)
                ),
            )
            self.report_plan_arns.setdefault(plan.template, {})[covered] = report_plan.arn
        self.register_outputs({"report_plan_arns": self.report_plan_arns})
