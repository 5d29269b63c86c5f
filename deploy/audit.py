"""Backup Audit Manager: frameworks where backups are held, report plans in the administering
account (cross-account reports can be built only there: Developer Guide, "Working with audit
reports")."""

from __future__ import annotations

import pulumi

from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.audit_reports import AuditReports, AuditReportsArgs, ReportPlanSpec
from policies.audit import REPORT_PLANS, audit_name, report_bucket_policy, report_plan_name
from providers import ProviderRegistry
from topology import Topology


def declare_audit(topology: Topology, providers: ProviderRegistry) -> list[pulumi.Resource]:
    """Frameworks in every account the stack prepares and the reports, with `audit.enabled`."""
    audit = topology.config.audit
    bucket_name = topology.report_bucket_name
    if audit is None or bucket_name is None:
        return []
    prefix = topology.prefix
    framework_name = audit_name(prefix, "backup_copy")
    declared: list[pulumi.Resource] = []
    for account_id, placement in sorted(topology.audit_placements.items()):
        regions = sorted(placement.controls_by_region)
        framework = AuditFramework(
            f"audit-{account_id}",
            AuditFrameworkArgs(
                framework_name=framework_name,
                controls_by_region=placement.controls_by_region,
                provider=providers.get(placement.access, regions[0]),
            ),
        )
        declared.append(framework)
    reporter = topology.administering_account
    region = topology.reports_region
    coverage = topology.report_coverage
    # One plan per template and Region: a plan over listed accounts then covers accounts x 1
    # Region, within AWS's 300 accounts x Regions (checked when the config is read).
    plans = [
        ReportPlanSpec(
            name=report_plan_name(prefix, suffix, region),
            template=template,
            accounts=coverage.accounts,
            organization_units=coverage.organizational_units,
            regions=[region],
        )
        for suffix, template in REPORT_PLANS
        for region in coverage.regions
    ]
    reports = AuditReports(
        "audit-reports",
        AuditReportsArgs(
            region=region,
            bucket_name=bucket_name,
            bucket_policy=(
                None
                if audit.report_bucket
                else report_bucket_policy(bucket_name, reporter.account_id)
            ),
            key_prefix=prefix,
            plans=plans,
            provider=providers.get(reporter, region),
        ),
    )
    pulumi.export("auditReportPlanArns", reports.report_plan_arns)
    return [*declared, reports]
