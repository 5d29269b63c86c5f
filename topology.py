"""The organization as one stack sees it: who, where, and in which scope.

Built once from the validated configuration and pure (no Pulumi, no AWS call), it answers the
questions the program, `make doctor`, the cross-stack check, the member template and the flow
catalogue all ask, in one place and one vocabulary:

- **prepared accounts**: the member accounts this stack's own providers prepare (source vault,
  key, backup service role, exporter): the source accounts in providers mode; in stackSets mode
  only the management account, when a root is targeted (StackSets never deploy there);
- **member scope**: in stackSets mode, the accounts the StackSet prepares, known only to AWS
  (the organization, or its targeted OUs);
- **copy-in scope** and **copy-back scope**: whose backup service role may copy into the central
  vaults, and which accounts receive copies back;
- **administering account**: where the organization's backup work is administered (the
  delegated administrator, else the management account): the backup policy, the StackSet, the
  audit reports, and where `make doctor` assumes its role from;
- where the alert bus, the exporter roles, the audit frameworks and the reports are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from config import AccountAccess, StackConfig
from policies import arns
from policies.alerts import alarm_rule, failure_rules
from policies.audit import Control, destination_controls, member_controls
from policies.exporter_deployment import ExporterSettings, bounded_name
from policies.member_template import AlertsSpec
from policies.statements import OrganizationScope, RoleScope


@dataclass(frozen=True)
class PreparedAccount:
    """A member account this stack prepares through its own provider."""

    access: AccountAccess
    regions: tuple[str, ...]
    manage_region_settings: bool


@dataclass(frozen=True)
class AlertBus:
    """The central EventBridge bus alerts are forwarded to."""

    access: AccountAccess
    region: str
    name: str

    @property
    def arn(self) -> str:
        """Known before the bus exists, for the member template and the forwarders."""
        return f"arn:aws:events:{self.region}:{self.access.account_id}:event-bus/{self.name}"


@dataclass
class AuditPlacement:
    """One account's frameworks: how the stack reaches it and, per Region, the controls."""

    access: AccountAccess
    controls_by_region: dict[str, list[Control]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportCoverage:
    """What the audit reports cover: accounts (or `ROOT`), OUs and Regions."""

    accounts: list[str]
    organizational_units: list[str]
    regions: list[str]


@dataclass(frozen=True)
class Topology:
    """Facts about the organization as this stack sees it, each computed once."""

    config: StackConfig

    @property
    def prefix(self) -> str:
        """`<project>-<environment>`: starts every name this stack gives."""
        return self.config.name_prefix

    @cached_property
    def targets_root(self) -> bool:
        """True when the backup policy is attached to the organization's root (every account)."""
        return any(target.startswith("r-") for target in self.config.organization.policy_targets)

    @property
    def stack_sets(self) -> bool:
        """True in stackSets mode: a StackSet prepares the member accounts."""
        return self.config.organization.member_deployment == "stackSets"

    @property
    def iam_region(self) -> str:
        """stackSets mode: the plan Region whose stack instance creates the member accounts'
        IAM roles (IAM is global: one instance creates them): `organization.stackSet.iamRegion`,
        else the first plan Region."""
        chosen = self.config.organization.stack_set.iam_region
        return chosen or self.config.backup_plan.regions[0]

    @property
    def administering_account(self) -> AccountAccess:
        """The delegated administrator, else the management account: where the backup policy,
        the StackSet and the audit reports live, and where `make doctor` assumes its role in
        member accounts from (the organization itself is read in the management account)."""
        organization = self.config.organization
        return organization.delegated_administrator or organization.management_account

    # --- member accounts ------------------------------------------------------------------

    @cached_property
    def prepared_accounts(self) -> tuple[PreparedAccount, ...]:
        """The member accounts this stack's providers prepare (vault, key, role, exporter).

        providers mode: every source account. stackSets mode: none of the members, which the
        StackSet prepares, except the management account when a root is targeted: the policy
        applies to it then, and StackSets never deploy to the management account
        (CloudFormation User Guide, "Considerations for service-managed StackSets"), so its own
        provider does.
        """
        config = self.config
        if not self.stack_sets:
            return tuple(
                PreparedAccount(source.account, source.regions, source.manage_region_settings)
                for source in config.source_accounts
            )
        if self.targets_root:
            management = config.organization.management_account
            return (PreparedAccount(management, config.backup_plan.regions, False),)
        return ()

    @cached_property
    def prepared_account_ids(self) -> tuple[str, ...]:
        """The ids of the prepared accounts, in configuration order."""
        return tuple(member.access.account_id for member in self.prepared_accounts)

    @cached_property
    def member_scope(self) -> OrganizationScope | None:
        """stackSets mode: the organization scope of the member accounts the StackSet prepares
        (the alert bus, export writers, copy-back targets): the organization when a root is
        targeted, else its targeted OUs. None in providers mode, where they are named."""
        organization = self.config.organization
        if not self.stack_sets:
            return None
        if self.targets_root:
            return OrganizationScope(organization.id)
        return OrganizationScope(organization.id, tuple(organization.policy_targets))

    # --- who may copy where -----------------------------------------------------------------

    @property
    def backup_role_names(self) -> tuple[str, ...]:
        """The backup service role the policy names (with its path), as role scopes match it."""
        return (self.config.backup_plan.service_role_name,)

    @cached_property
    def copy_in_scope(self) -> RoleScope:
        """Who may copy into the central vaults: the backup service role the policy names, in
        the accounts `destination.allowCopiesFrom` chooses (`StackConfig.copies_from`).

        `accounts`: the source accounts. `policyTargets`: the union of the accounts under the
        targeted OUs (`aws:PrincipalOrgPaths`), the targeted accounts and the source accounts (a
        targeted root needs `organization` instead: `config.rules`). `organization`: every
        account of the organization, only when a stack file says so.
        """
        config = self.config
        organization_id = config.organization.id
        role = self.backup_role_names
        sources = tuple(source.account_id for source in config.source_accounts)
        choice = config.copies_from
        if choice == "organization":
            return RoleScope(organization_id, role, whole_organization=True)
        if choice == "accounts":
            return RoleScope(organization_id, role, account_ids=sources)
        targets = config.organization.policy_targets
        accounts = {target for target in targets if target.isdigit()} | set(sources)
        units = tuple(sorted(target for target in targets if target.startswith("ou-")))
        return RoleScope(organization_id, role, account_ids=tuple(sorted(accounts)), ou_ids=units)

    @property
    def copy_back_role_name(self) -> str:
        """The destination account's role copy jobs back to a source vault run as."""
        return f"{self.prefix}-copy-back"

    @property
    def copy_back_role_arn(self) -> str | None:
        """That role's ARN with `destination.allowCopyBack`, the only principal a source vault
        admits copies back from; None without copy back."""
        destination = self.config.destination
        if not destination.allow_copy_back:
            return None
        return arns.iam_role(destination.account_id, self.copy_back_role_name)

    @cached_property
    def copy_back_scope(self) -> RoleScope:
        """The accounts that hold a source vault (copies back go there) and their backup
        service role: the prepared accounts in providers mode, the StackSet's members in
        stackSets mode."""
        organization_id = self.config.organization.id
        members = self.member_scope
        if members is None:
            return RoleScope(
                organization_id, self.backup_role_names, account_ids=self.prepared_account_ids
            )
        return RoleScope(
            organization_id,
            self.backup_role_names,
            ou_ids=members.ou_ids,
            whole_organization=not members.ou_ids,
        )

    @cached_property
    def copy_target_vault_arns(self) -> list[str]:
        """The destination vault ARN in the primary Region, then in the DR Region if any."""
        destination = self.config.destination
        return [
            arns.backup_vault(region, destination.account_id, destination.vault_name)
            for region in destination.regions
        ]

    # --- organization singletons ---------------------------------------------------------------

    @cached_property
    def global_settings(self) -> dict[str, str] | None:
        """Every AWS Backup global setting, when this stack owns them; None otherwise.

        UpdateGlobalSettings (AWS Backup API reference) knows `isCrossAccountBackupEnabled`,
        `isMpaEnabled` and `isDelegatedAdministratorEnabled`; the pinned provider shows a
        difference on every preview for any it is not given, so all three are set, the last two
        from config rather than a hard-coded "false" that would switch off an organization's
        multi-party approval or delegated administration.
        """
        organization = self.config.organization
        settings = organization.global_settings
        if not organization.manage_global_settings or settings is None:
            return None
        return {
            "isCrossAccountBackupEnabled": "true",
            "isMpaEnabled": str(settings.is_mpa_enabled).lower(),
            "isDelegatedAdministratorEnabled": str(
                settings.is_delegated_administrator_enabled
            ).lower(),
        }

    @property
    def owns_delegation(self) -> bool:
        """True when this stack owns the organization's resource policy: it owns the global
        settings and there is a delegated administrator to delegate to."""
        organization = self.config.organization
        return organization.delegated_administrator is not None and bool(
            organization.manage_global_settings
        )

    # --- the DynamoDB exporter ---------------------------------------------------------------

    def exporter_role_name(self, region: str) -> str:
        """IAM role names are global to an account: one exporter role per Region."""
        return f"{self.prefix}-ddb-export-{region}"

    @cached_property
    def exporter(self) -> ExporterSettings | None:
        """What every exporter of the stack shares, in either member mode; None without export."""
        export = self.config.dynamodb_export
        if export is None:
            return None
        schedules = [export.schedule_expression]
        if export.catch_up_schedule is not None:
            schedules.append(export.catch_up_schedule)
        return ExporterSettings(
            function_name=f"{self.prefix}-dynamodb-export",
            environment=self.config.environment,
            bucket_name=export.bucket.name,
            bucket_owner_account_id=export.bucket.account_id,
            schedule_expressions=tuple(schedules),
            export_format=export.export_format,
            export_type=export.export_type,
            max_concurrent_exports=export.max_concurrent_exports,
            full_export_interval_days=export.full_export_interval_days,
            include_tables=export.include_tables,
            exclude_tables=export.exclude_tables,
            log_retention_days=export.log_retention_days,
        )

    @cached_property
    def export_writers(self) -> dict[str, list[str]]:
        """Region -> the ARNs of the exporter roles allowed to write there.

        providers mode: each prepared account's role. stackSets mode: the role name in any
        account (`arn:aws:iam::*:role/...`), narrowed to the member accounts by `member_scope`.
        """
        by_region: dict[str, list[str]] = {}
        if self.member_scope is not None:
            for region in self.config.backup_plan.regions:
                by_region[region] = [arns.iam_role("*", self.exporter_role_name(region))]
            return by_region
        for member in self.prepared_accounts:
            for region in member.regions:
                role = arns.iam_role(member.access.account_id, self.exporter_role_name(region))
                by_region.setdefault(region, []).append(role)
        return by_region

    def code_bucket_name(self, account_id: str, region: str) -> str:
        """The exporter's code bucket in one Region: bucket names are global, so the account
        and Region are in it (bounded to S3's 63 characters)."""
        return bounded_name(f"{self.prefix}-code-{account_id}-{region}", 63)

    @cached_property
    def code_buckets(self) -> Mapping[str, str]:
        """stackSets mode with export: Region -> the code bucket the member template reads."""
        if self.config.dynamodb_export is None:
            return {}
        admin = self.administering_account.account_id
        return {
            region: self.code_bucket_name(admin, region)
            for region in self.config.backup_plan.regions
        }

    # --- alerts ---------------------------------------------------------------------------------

    @cached_property
    def alert_bus(self) -> AlertBus | None:
        """The central alert bus, when monitoring is configured: in the monitoring account and
        the destination's primary Region (restore tests and the central vault are there)."""
        access = self.config.monitoring_access
        if access is None:
            return None
        return AlertBus(access, self.config.destination.region, f"{self.prefix}-backup-alerts")

    @cached_property
    def alert_forwarding(self) -> AlertsSpec | None:
        """What each account forwards to the central bus, in either member mode."""
        bus = self.alert_bus
        monitoring = self.config.monitoring
        if bus is None or monitoring is None:
            return None
        exporter = self.exporter
        return AlertsSpec(
            bus_arn=bus.arn,
            name_prefix=self.prefix,
            role_name=f"{self.prefix}-alert-forwarder",
            rules=tuple(failure_rules(monitoring.states)),
            alarm_rule=alarm_rule(f"{exporter.function_name}-") if exporter is not None else None,
        )

    # --- audit --------------------------------------------------------------------------------

    @cached_property
    def audit_member_controls(self) -> list[Control]:
        """The controls of a member account's framework, in each plan Region."""
        tag = self.config.backup_plan.selection_tag
        destination = self.config.destination
        return member_controls(destination.account_id, destination.dr_region, (tag.key, tag.values))

    @cached_property
    def audit_placements(self) -> dict[str, AuditPlacement]:
        """Account -> the frameworks this stack declares there (members in stackSets mode get
        theirs from the member template).

        Prepared members: the member controls in each plan Region. The destination:
        encryption in each vault Region (its lock is evidenced by `make doctor`, not by a
        control: policies/audit.py). The
        reports account needs none of its own: a multi-account report reads the frameworks of
        the accounts it covers. An account in two roles gets one framework per Region with
        both roles' controls: AWS refuses a second framework with the same controls ("You
        cannot deploy duplicate frameworks", Developer Guide, "Working with AWS Backup Audit
        Manager frameworks").
        """
        placements: dict[str, AuditPlacement] = {}

        def add(access: AccountAccess, region: str, controls: list[Control]) -> None:
            placement = placements.setdefault(access.account_id, AuditPlacement(access))
            present = placement.controls_by_region.setdefault(region, [])
            names = {control.name for control in present}
            present.extend(control for control in controls if control.name not in names)

        for member in self.prepared_accounts:
            for region in self.config.backup_plan.regions:
                add(member.access, region, self.audit_member_controls)
        destination = self.config.destination
        for region in destination.regions:
            add(destination.account, region, destination_controls())
        return placements

    @property
    def report_bucket_name(self) -> str | None:
        """The bucket the reports are delivered to: `audit.reportBucket`, else the one the stack
        creates in the administering account; None without audit."""
        audit = self.config.audit
        if audit is None:
            return None
        reporter = self.administering_account.account_id
        return audit.report_bucket or bounded_name(f"{self.prefix}-backup-reports-{reporter}", 63)

    @property
    def reports_region(self) -> str:
        """The report plans' Region: the central vault's, which the reports cover anyway."""
        return self.config.destination.region

    @cached_property
    def report_coverage(self) -> ReportCoverage:
        """What the reports cover: the policy's targets and the destination, in every plan and
        vault Region. A targeted root covers everything (`ROOT` in Accounts "to include all
        organizational units", API reference, ReportSetting)."""
        config = self.config
        targets = config.organization.policy_targets
        regions = sorted({*config.backup_plan.regions, *config.destination.regions})
        if self.targets_root:
            return ReportCoverage(["ROOT"], [], regions)
        accounts = sorted({t for t in targets if t.isdigit()} | {config.destination.account_id})
        return ReportCoverage(accounts, sorted(t for t in targets if t.startswith("ou-")), regions)
