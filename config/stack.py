"""The whole stack configuration: its sections, and the facts every part of the program reads
from them directly (the name prefix, the plan key, tags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.backup_plan import BackupPlanConfig
from config.destination import CopyAccess, DestinationConfig
from config.errors import ConfigError
from config.export import DynamoDbExportConfig
from config.operation_rules import (
    alert_rule_name_rules,
    report_scope_rules,
    restore_testing_warnings,
)
from config.operations import AuditConfig, MonitoringConfig, RestoreTestingConfig
from config.organization import OrganizationConfig, SourceAccountConfig, SourceAccounts
from config.scalars import Environment
from config.section import AccountAccess

# The project's config keys, in the order they are checked, and what each holds.
SECTIONS: dict[str, Any] = {
    "environment": Environment,
    "organization": OrganizationConfig,
    "destination": DestinationConfig,
    "sourceAccounts": SourceAccounts,
    "backupPlan": BackupPlanConfig,
    "dynamodbExport": DynamoDbExportConfig,
    "monitoring": MonitoringConfig,
    "restoreTesting": RestoreTestingConfig,
    "audit": AuditConfig,
}
STACK_KEYS = tuple(SECTIONS)
# sourceAccounts: required in providers mode, refused in stackSets mode (a rule, below).
OPTIONAL_KEYS = frozenset(
    {"sourceAccounts", "dynamodbExport", "monitoring", "restoreTesting", "audit"}
)
DESCRIPTIONS = {
    "environment": "Short environment name (dev, prod): part of every name and tag",
    "organization": "The organization, its management account and the policy targets",
    "destination": "The central account and its vault(s)",
    "sourceAccounts": "Member accounts whose resources are backed up",
    "backupPlan": "The backup plan the Organizations backup policy deploys",
    "dynamodbExport": "The scheduled DynamoDB export to an S3 bucket",
    "monitoring": "Alerts by email for failed backup, copy and restore jobs and exporter alarms",
    "restoreTesting": "Scheduled restore tests of the copies in the destination account",
    "audit": "AWS Backup Audit Manager frameworks and reports",
}


@dataclass(frozen=True)
class StackConfig:
    """The whole, validated configuration of one stack."""

    project: str
    environment: str
    organization: OrganizationConfig
    destination: DestinationConfig
    source_accounts: tuple[SourceAccountConfig, ...]
    backup_plan: BackupPlanConfig
    dynamodb_export: DynamoDbExportConfig | None
    monitoring: MonitoringConfig | None = None
    restore_testing: RestoreTestingConfig | None = None
    audit: AuditConfig | None = None

    def __post_init__(self) -> None:
        # Rules between sections that `parse_stack_config` does not hand to one rule together;
        # reported once every section is valid, as a ConfigError like any other problem.
        problems = [
            *report_scope_rules(self.organization, self.destination, self.audit),
            *alert_rule_name_rules(self.name_prefix, self.monitoring),
        ]
        if problems:
            raise ConfigError(problems)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What still deploys but will not in the next release: `make validate`, `make plan`
        and the program (pulumi.log.warn) print each."""
        return tuple(restore_testing_warnings(self.restore_testing, self.destination))

    @property
    def name_prefix(self) -> str:
        """`<project>-<environment>`: starts every name this stack gives AWS resources."""
        return f"{self.project}-{self.environment}"

    @property
    def plan_key(self) -> str:
        """`<prefix>-<backupPlan.name>`: the policy's plan and rule key, and the policy's name.

        Organizations merges the backup policies an account inherits plan key by plan key
        (User Guide, "Policy inheritance"): a bare `daily` in two environments' policies would
        become one plan whose copy target could be the other environment's vault.
        """
        return f"{self.name_prefix}-{self.backup_plan.name}"

    @property
    def copies_from(self) -> CopyAccess:
        """`destination.allowCopiesFrom`, or its default for the member deployment mode."""
        return self.destination.copies_from(self.organization.member_deployment)

    @property
    def monitoring_access(self) -> AccountAccess | None:
        """Where alerts are gathered: `monitoring.accountId`, else the delegated administrator,
        else the destination account; reached with the roles another section gives that
        account unless `monitoring` names its own."""
        monitoring = self.monitoring
        if monitoring is None:
            return None
        organization = self.organization
        delegate = organization.delegated_administrator
        known: list[AccountAccess] = [
            organization.management_account,
            *([delegate] if delegate is not None else []),
            self.destination,
            *self.source_accounts,
            *([self.dynamodb_export.bucket] if self.dynamodb_export is not None else []),
        ]
        account_id = monitoring.account_id or (delegate or self.destination).account_id
        if monitoring.has_roles:
            return AccountAccess(
                account_id=account_id,
                role_arn=monitoring.role_arn,
                preview_role_arn=monitoring.preview_role_arn,
            )
        for access in known:
            if access.account_id == account_id:
                return access.account
        return AccountAccess(account_id=account_id)

    @property
    def standard_tags(self) -> tuple[tuple[str, str], ...]:
        """Tags on every resource (provider default tags) and on the backup plans."""
        return (
            ("ManagedBy", "pulumi"),
            ("Project", self.project),
            ("Environment", self.environment),
        )
