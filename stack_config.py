"""Typed, validated stack configuration.

Every key a user can set is read here, once, and checked here, once. Problems are collected
and reported together in one :class:`ConfigError` naming each key path, so a user fixes a
stack file in one pass instead of one `pulumi preview` per typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar

import pulumi

T = TypeVar("T")

ACCOUNT_ID = re.compile(r"^\d{12}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
ROLE_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
ROOT_ID = re.compile(r"^r-[0-9a-z]{4,32}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
# AWS Backup: "Backup vault names ... 2-50 alphanumeric characters, hyphens, and underscores".
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
PLAN_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")
ROLE_NAME_WITH_PATH = re.compile(r"^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
# S3 general purpose bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
# EventBridge: "rate(1 hour)" but "rate(2 hours)": singular for 1, plural otherwise.
RATE = re.compile(r"^rate\((?P<value>[0-9]+) (?P<unit>minute|hour|day)(?P<plural>s?)\)$")
INTEGER = re.compile(r"^-?[0-9]+$")

MAX_RETENTION_DAYS = 36500
DEFAULT_CATCH_UP_SCHEDULE = "cron(5 * * * ? *)"
# Lifecycle rule: cold storage must last at least 90 days before deletion.
MIN_COLD_STORAGE_DAYS = 90
MIN_START_WINDOW_MINUTES = 60
# AWS DynamoDB: at most 300 exports in flight per account.
MAX_DYNAMODB_EXPORTS = 300
# Vault Lock compliance mode: the grace period must be at least 3 days.
MIN_CHANGEABLE_FOR_DAYS = 3
# AWS Backup API reference, CreateBackupVault / CreateBackupPlan: vault names are 2-50 and plan
# (and rule) names 1-50 characters. IAM User Guide, "IAM object quotas": role names <= 64.
MAX_VAULT_NAME = 50
MAX_PLAN_NAME = 50
MAX_ROLE_NAME = 64
# The AWS Backup console creates `service-role/AWSBackupDefaultServiceRole` itself the first
# time anyone uses it in an account (Developer Guide, "IAM service roles": "Default service
# role for AWS Backup"); a stack creating a role of that name fails with EntityAlreadyExists
# in every such account, and would own a role the console also relies on.
CONSOLE_SERVICE_ROLE = "AWSBackupDefaultServiceRole"
# Every resource type the pinned provider (pulumi-aws 7.51.1, `aws.backup.RegionSettings`
# docstring) lists in each map. DescribeRegionSettings returns them all, so a map that leaves
# one out shows a difference on every preview.
REGION_SETTINGS_OPT_IN_TYPES = (
    "Aurora",
    "CloudFormation",
    "DSQL",
    "DocumentDB",
    "DynamoDB",
    "EBS",
    "EC2",
    "EFS",
    "FSx",
    "Neptune",
    "RDS",
    "Redshift",
    "Redshift Serverless",
    "S3",
    "SAP HANA on Amazon EC2",
    "Storage Gateway",
    "VirtualMachine",
)
REGION_SETTINGS_MANAGEMENT_TYPES = ("CloudFormation", "DSQL", "DynamoDB", "EFS")

CopyAccess = Literal["accounts", "organization"]
LockMode = Literal["governance", "compliance"]
ExportFormat = Literal["DYNAMODB_JSON", "ION"]
ExportType = Literal["FULL_EXPORT", "INCREMENTAL_EXPORT"]
BucketEncryption = Literal["SSE_S3", "KMS"]


class ConfigError(pulumi.RunError):
    """Every problem found in the stack configuration, each naming its key path.

    A `pulumi.RunError` so that the Pulumi CLI prints the message without a stack trace.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid stack configuration ({count} {noun}):\n{listing}")


@dataclass(frozen=True)
class AccountAccess:
    """How to reach one AWS account: its id pins the provider, the role (if any) is assumed."""

    account_id: str
    role_arn: str | None


@dataclass(frozen=True)
class GlobalSettingsConfig:
    """The organization's AWS Backup global settings other than cross-account backup.

    UpdateGlobalSettings replaces every setting; the stack that owns them must state each one
    so that it never switches off an organization's multi-party approval or delegation.
    """

    is_mpa_enabled: bool
    is_delegated_administrator_enabled: bool


@dataclass(frozen=True)
class OrganizationConfig:
    """The Organizations management account and where the backup policy is attached."""

    id: str
    management_account: AccountAccess
    region: str
    policy_targets: tuple[str, ...]
    # One stack per organization owns `aws.backup.GlobalSettings` (management account only).
    manage_global_settings: bool
    global_settings: GlobalSettingsConfig | None


@dataclass(frozen=True)
class VaultLockConfig:
    """AWS Backup Vault Lock on the destination vault(s)."""

    mode: LockMode
    min_retention_days: int
    max_retention_days: int | None
    # Compliance mode only: the lock becomes immutable this many days after it is set.
    changeable_for_days: int | None


@dataclass(frozen=True)
class DestinationConfig:
    """The central account whose vault(s) receive the copies."""

    account: AccountAccess
    region: str
    vault_name: str
    dr_region: str | None
    allow_copies_from: CopyAccess
    vault_lock: VaultLockConfig | None

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary Region, then the DR Region if any."""
        return (self.region,) if self.dr_region is None else (self.region, self.dr_region)


@dataclass(frozen=True)
class SourceAccountConfig:
    """A member account whose resources are backed up, and the Regions it runs backups in."""

    account: AccountAccess
    regions: tuple[str, ...]
    # With backupPlan.regionSettings: whether this stack owns the account's Region settings.
    manage_region_settings: bool = True


@dataclass(frozen=True)
class SelectionTag:
    """Resources carrying this tag with one of these values are backed up."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class RegionSettingsConfig:
    """AWS Backup Region settings (service opt-in, full management) of each source account."""

    opt_in: tuple[tuple[str, bool], ...]
    full_management: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class BackupPlanConfig:
    """The one backup plan that the Organizations backup policy deploys to every target."""

    name: str
    regions: tuple[str, ...]
    schedule_expression: str
    start_window_minutes: int
    complete_window_minutes: int
    delete_after_days: int
    cold_storage_after_days: int | None
    copy_delete_after_days: int
    copy_cold_storage_after_days: int | None
    source_vault_name: str
    selection_tag: SelectionTag
    service_role_name: str
    # False: the policy names an existing role (e.g. the console's) and the stack creates none.
    create_service_role: bool
    windows_vss: bool
    recovery_point_tags: tuple[tuple[str, str], ...]
    resource_types: tuple[str, ...] = ()
    region_settings: RegionSettingsConfig | None = None

    @property
    def service_role_path(self) -> str:
        """IAM path of the service role: `service-role/X` lives at `/service-role/`."""
        prefix, _, _ = self.service_role_name.rpartition("/")
        return f"/{prefix}/" if prefix else "/"

    @property
    def service_role_short_name(self) -> str:
        """The service role's name without its path."""
        return self.service_role_name.rpartition("/")[2]


@dataclass(frozen=True)
class ExportBucketConfig:
    """The S3 bucket (possibly outside the organization) that receives DynamoDB exports."""

    account: AccountAccess
    region: str
    name: str
    encryption: BucketEncryption


@dataclass(frozen=True)
class DynamoDbExportConfig:
    """The scheduled DynamoDB export Lambda deployed to every source account and Region."""

    bucket: ExportBucketConfig
    schedule_expression: str
    catch_up_schedule_expression: str | None
    export_format: ExportFormat
    export_type: ExportType
    max_concurrent_exports: int
    full_export_interval_days: int
    retention_days: int
    include_tables: tuple[str, ...]
    exclude_tables: tuple[str, ...]
    log_retention_days: int


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
    def standard_tags(self) -> tuple[tuple[str, str], ...]:
        """Tags on every resource (provider default tags) and on the backup plans."""
        return (
            ("ManagedBy", "pulumi"),
            ("Project", self.project),
            ("Environment", self.environment),
        )


@cache
def known_regions() -> frozenset[str]:
    """Commercial AWS Regions where AWS Backup is available, from botocore's bundled endpoints."""
    import boto3

    return frozenset(boto3.session.Session().get_available_regions("backup"))


# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922}
    | {3288, 3653}
)


class _Reader:
    """Reads typed values out of nested config objects, collecting problems by key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def section(
        self, raw: Any, path: str, known: Iterable[str], *, required: bool = True
    ) -> Mapping[str, Any] | None:
        """A config object; unknown keys are reported (they are nearly always typos)."""
        if raw is None:
            if required:
                self.problem(path, "is required")
            return None
        if not isinstance(raw, Mapping):
            self.problem(path, f"must be an object, got {type(raw).__name__}")
            return None
        known_keys = sorted(known)
        for key in raw:
            if key not in known_keys:
                self.problem(_join(path, str(key)), unknown_key_message(str(key), known_keys))
        return raw

    def value(
        self,
        raw: Mapping[str, Any] | None,
        path: str,
        key: str,
        kind: type[T],
        *,
        default: T | None = None,
        required: bool = True,
    ) -> T | None:
        """One scalar of the given type; `bool` is never accepted where `int` is expected."""
        full = _join(path, key)
        value = None if raw is None else raw.get(key)
        if value is None:
            if required and default is None and raw is not None:
                self.problem(full, "is required")
            return default
        if kind is int and isinstance(value, str) and INTEGER.fullmatch(value.strip()):
            value = int(value)
        if kind is bool and isinstance(value, str) and value.lower() in {"true", "false"}:
            value = value.lower() == "true"
        if kind is str and isinstance(value, int) and not isinstance(value, bool):
            # YAML reads an unquoted 012345678901 as the number 12345678901.
            self.problem(
                full, f'must be a string: quote it ({key}: "{value}"), got the number {value}'
            )
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(full, f"must be {_kind_name(kind)}, got {value!r}")
            return default
        return value

    def text(
        self,
        raw: Mapping[str, Any] | None,
        path: str,
        key: str,
        pattern: re.Pattern[str] | None = None,
        what: str = "",
        *,
        default: str | None = None,
        required: bool = True,
    ) -> str | None:
        """A string, checked against `pattern` when given."""
        value = self.value(raw, path, key, str, default=default, required=required)
        if value is not None and pattern is not None and not pattern.fullmatch(value):
            self.problem(_join(path, key), f"must be {what}, got {value!r}")
            return None
        return value

    def text_list(
        self,
        raw: Mapping[str, Any] | None,
        path: str,
        key: str,
        check: Callable[[str, str], None] | None = None,
        *,
        required: bool = True,
        allow_empty: bool = False,
    ) -> tuple[str, ...]:
        """A list of strings; `check(item_path, item)` validates each item."""
        full = _join(path, key)
        value = None if raw is None else raw.get(key)
        if value is None:
            if required and raw is not None:
                self.problem(full, "is required")
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            hint = ""
            if isinstance(value, list) and any(
                isinstance(item, int) and not isinstance(item, bool) for item in value
            ):
                hint = " (quote numbers such as account ids: YAML reads them unquoted as numbers)"
            self.problem(full, f"must be a list of strings{hint}, got {value!r}")
            return ()
        if not value and not allow_empty:
            self.problem(full, "must not be empty")
        if len(set(value)) != len(value):
            self.problem(full, f"has duplicates: {value!r}")
        if check is not None:
            for index, item in enumerate(value):
                check(f"{full}[{index}]", item)
        return tuple(value)

    def region(
        self, raw: Mapping[str, Any] | None, path: str, key: str, *, required: bool = True
    ) -> str | None:
        """An AWS Region name that AWS Backup serves."""
        value = self.value(raw, path, key, str, required=required)
        if value is not None:
            self.check_region(_join(path, key), value)
        return value

    def check_region(self, path: str, value: str) -> None:
        if value not in known_regions():
            self.problem(path, f"is not a known AWS Region: {value!r}")

    def days(
        self,
        raw: Mapping[str, Any] | None,
        path: str,
        key: str,
        *,
        low: int = 1,
        high: int = MAX_RETENTION_DAYS,
        required: bool = True,
        default: int | None = None,
    ) -> int | None:
        """An integer in [low, high]."""
        value = self.value(raw, path, key, int, required=required, default=default)
        if value is not None and not low <= value <= high:
            self.problem(_join(path, key), f"must be between {low} and {high}, got {value}")
            return None
        return value

    def account(self, raw: Mapping[str, Any] | None, path: str) -> AccountAccess | None:
        """`accountId` (required, 12 digits) and `roleArn` (optional, in that account)."""
        account_id = self.text(raw, path, "accountId", ACCOUNT_ID, "a 12-digit account id")
        role_arn = self.text(
            raw,
            path,
            "roleArn",
            ROLE_ARN,
            "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            required=False,
        )
        if account_id is None:
            return None
        if role_arn is not None:
            match = ROLE_ARN.fullmatch(role_arn)
            if match is not None and match["account"] != account_id:
                self.problem(
                    _join(path, "roleArn"),
                    f"is in account {match['account']} but accountId is {account_id}",
                )
                return None
        return AccountAccess(account_id=account_id, role_arn=role_arn)

    def schedule(
        self, raw: Mapping[str, Any] | None, path: str, key: str, *, allow_rate: bool = True
    ) -> str | None:
        """An AWS schedule: `cron(6 fields)`, or `rate(N unit)` where `allow_rate`.

        AWS Backup plans take cron only; EventBridge takes both.
        """
        value = self.value(raw, path, key, str)
        if value is None:
            return None
        problem = _schedule_problem(value, allow_rate)
        if problem is not None:
            self.problem(_join(path, key), f"{problem}, got {value!r}")
            return None
        return value


def _schedule_problem(value: str, allow_rate: bool) -> str | None:
    cron = CRON.fullmatch(value)
    if cron is not None:
        fields = cron["fields"].split()
        if len(fields) != 6:
            return (
                "AWS cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
                f"not {len(fields)}"
            )
        if (fields[2] == "?") == (fields[4] == "?"):
            return "AWS cron needs '?' in exactly one of day-of-month and day-of-week"
        return None
    rate = RATE.fullmatch(value) if allow_rate else None
    if rate is not None:
        count = int(rate["value"])
        if count == 0:
            return "a rate must be at least 1"
        if (count == 1) == bool(rate["plural"]):
            return f"EventBridge wants rate(1 {rate['unit']}) or rate(N {rate['unit']}s)"
        return None
    return "must be cron(...) with 6 fields" + (" or rate(N unit)" if allow_rate else "")


def unknown_key_message(key: str, known: Sequence[str]) -> str:
    """`is not a known key`, with the nearest known key when one is close (nearly always a typo)."""
    # Case-insensitive first: `dynamoDbExport` for `dynamodbExport` is the commonest slip.
    by_lower = {name.lower(): name for name in known}
    nearest = by_lower.get(key.lower())
    if nearest is None:
        matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        nearest = matches[0] if matches else None
    suggestion = f"; did you mean {nearest!r}?" if nearest is not None else ""
    return f"is not a known key{suggestion} (known: {', '.join(sorted(known))})"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false"}.get(kind, kind.__name__)


def _check_vault_name(
    reader: _Reader, path: str, name: str | None, section: Mapping[str, Any] | None
) -> None:
    if name is None:
        return
    defaulted = section is not None and section.get(path.rpartition(".")[2]) is None
    if defaulted and len(name) > MAX_VAULT_NAME:
        reader.problem(
            path,
            f"the default name {name!r} (<project>-<environment>-...) is longer than AWS Backup's "
            f"{MAX_VAULT_NAME} characters: set it explicitly or shorten the environment",
        )
    elif not VAULT_NAME.fullmatch(name):
        reader.problem(path, f"must be 2-50 letters, digits, '-' or '_', got {name!r}")
    elif name.lower() == "default":
        reader.problem(
            path,
            "must not be the Default vault: it is encrypted with an AWS managed key, "
            "which AWS Backup cannot copy across accounts",
        )


def _lifecycle_fits(
    reader: _Reader, path: str, delete_key: str, cold_key: str, delete: int | None, cold: int | None
) -> None:
    if delete is not None and cold is not None and delete < cold + MIN_COLD_STORAGE_DAYS:
        reader.problem(
            _join(path, delete_key),
            f"must be at least {cold_key} + {MIN_COLD_STORAGE_DAYS} "
            f"({cold} + {MIN_COLD_STORAGE_DAYS} = {cold + MIN_COLD_STORAGE_DAYS}), got {delete}",
        )


def _read_global_settings(
    reader: _Reader, section: Mapping[str, Any] | None, manage: bool | None
) -> GlobalSettingsConfig | None:
    path = "organization.globalSettings"
    raw = None if section is None else section.get("globalSettings")
    if manage is False:
        if raw is not None:
            reader.problem(
                path,
                "is only used with organization.manageGlobalSettings: true (the stack that "
                "owns the organization's AWS Backup global settings); remove it here",
            )
        return None
    settings = reader.section(
        raw, path, ["isMpaEnabled", "isDelegatedAdministratorEnabled"], required=section is not None
    )
    if settings is None:
        if raw is None and section is not None:
            # Replace the generic "is required" with why it is required.
            reader.problems[-1] = (
                f"{path}: is required while organization.manageGlobalSettings is true: "
                "UpdateGlobalSettings sets every global setting, so state "
                "{isMpaEnabled, isDelegatedAdministratorEnabled} as the organization has them "
                "(or set manageGlobalSettings: false where another stack owns them)"
            )
        return None
    mpa = reader.value(settings, path, "isMpaEnabled", bool)
    delegated = reader.value(settings, path, "isDelegatedAdministratorEnabled", bool)
    if mpa is None or delegated is None:
        return None
    return GlobalSettingsConfig(mpa, delegated)


def _read_organization(reader: _Reader, raw: Any) -> OrganizationConfig | None:
    path = "organization"
    section = reader.section(
        raw,
        path,
        [
            "id",
            "managementAccount",
            "region",
            "policyTargets",
            "manageGlobalSettings",
            "globalSettings",
        ],
    )
    org_id = reader.text(section, path, "id", ORGANIZATION_ID, "an organization id (o-...)")
    management_raw = reader.section(
        None if section is None else section.get("managementAccount"),
        "organization.managementAccount",
        ["accountId", "roleArn"],
        required=section is not None,
    )
    management = reader.account(management_raw, "organization.managementAccount")
    region = reader.region(section, path, "region")

    def check_target(item_path: str, target: str) -> None:
        if not (
            ROOT_ID.fullmatch(target) or OU_ID.fullmatch(target) or ACCOUNT_ID.fullmatch(target)
        ):
            reader.problem(
                item_path,
                f"must be a root (r-...), an OU (ou-...-...) or a 12-digit account id, got {target!r}",
            )

    targets = reader.text_list(section, path, "policyTargets", check_target)
    manage = reader.value(section, path, "manageGlobalSettings", bool, default=True)
    global_settings = _read_global_settings(reader, section, manage)
    if org_id is None or management is None or region is None or manage is None:
        return None
    if manage and global_settings is None:
        return None
    return OrganizationConfig(org_id, management, region, targets, manage, global_settings)


def _read_vault_lock(reader: _Reader, raw: Any, path: str) -> VaultLockConfig | None:
    section = reader.section(
        raw,
        path,
        ["mode", "minRetentionDays", "maxRetentionDays", "changeableForDays"],
        required=False,
    )
    if section is None:
        return None
    mode = reader.text(
        section,
        path,
        "mode",
        re.compile("governance|compliance"),
        "'governance' (removable by users with the permission) or 'compliance' (immutable "
        "once changeableForDays have passed)",
    )
    minimum = reader.days(section, path, "minRetentionDays")
    maximum = reader.days(section, path, "maxRetentionDays", required=False)
    changeable = reader.days(
        section, path, "changeableForDays", low=MIN_CHANGEABLE_FOR_DAYS, required=False
    )
    # AWS Backup Developer Guide, "AWS Backup Vault Lock": ChangeableForDays is what makes a
    # lock a compliance lock; without it the lock stays in governance mode.
    if mode == "compliance" and changeable is None and "changeableForDays" not in section:
        reader.problem(
            _join(path, "changeableForDays"),
            f"is required with mode: compliance (the grace period, at least {MIN_CHANGEABLE_FOR_DAYS} "
            "days, after which nobody, not even the account root, can remove the lock)",
        )
        return None
    if mode == "governance" and "changeableForDays" in section:
        reader.problem(
            _join(path, "changeableForDays"),
            "is refused with mode: governance: setting it turns the lock into a compliance lock "
            "that becomes immutable; use mode: compliance if that is what you want",
        )
        return None
    if minimum is not None and maximum is not None and maximum < minimum:
        reader.problem(
            _join(path, "maxRetentionDays"), f"must be at least minRetentionDays ({minimum})"
        )
        return None
    if minimum is None or mode is None:
        return None
    lock_mode: LockMode = "compliance" if mode == "compliance" else "governance"
    return VaultLockConfig(lock_mode, minimum, maximum, changeable)


def _read_destination(reader: _Reader, raw: Any, prefix: str) -> DestinationConfig | None:
    path = "destination"
    section = reader.section(
        raw,
        path,
        ["accountId", "roleArn", "region", "vaultName", "drRegion", "allowCopiesFrom", "vaultLock"],
    )
    account = reader.account(section, path)
    region = reader.region(section, path, "region")
    vault_name = reader.text(section, path, "vaultName", default=f"{prefix}-central")
    _check_vault_name(reader, "destination.vaultName", vault_name, section)
    dr_region = reader.region(section, path, "drRegion", required=False)
    if dr_region is not None and dr_region == region:
        reader.problem("destination.drRegion", f"must differ from destination.region ({region})")
    allow = reader.text(
        section,
        path,
        "allowCopiesFrom",
        re.compile("accounts|organization"),
        "'accounts' or 'organization'",
        default="accounts",
    )
    lock = _read_vault_lock(
        reader, None if section is None else section.get("vaultLock"), "destination.vaultLock"
    )
    if account is None or region is None or vault_name is None or allow is None:
        return None
    copy_access: CopyAccess = "organization" if allow == "organization" else "accounts"
    return DestinationConfig(account, region, vault_name, dr_region, copy_access, lock)


def _read_sources(
    reader: _Reader, raw: Any, owns_region_settings: bool
) -> tuple[SourceAccountConfig, ...]:
    path = "sourceAccounts"
    if raw is None:
        reader.problem(path, "is required")
        return ()
    if not isinstance(raw, list) or not raw:
        reader.problem(path, "must be a non-empty list of {accountId, roleArn, regions}")
        return ()
    sources: list[SourceAccountConfig] = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        section = reader.section(
            item, item_path, ["accountId", "roleArn", "regions", "manageRegionSettings"]
        )
        account = reader.account(section, item_path)
        regions = reader.text_list(section, item_path, "regions", reader.check_region)
        manage = reader.value(section, item_path, "manageRegionSettings", bool, default=True)
        if section is not None and "manageRegionSettings" in section and not owns_region_settings:
            reader.problem(
                f"{item_path}.manageRegionSettings",
                "only applies when backupPlan.regionSettings is set (this stack then owns the "
                "Region settings of every source account unless it says false here); remove it",
            )
        if account is not None and regions and manage is not None:
            sources.append(SourceAccountConfig(account, regions, manage))
    return tuple(sources)


def _read_type_map(
    reader: _Reader, raw: Any, path: str, known: Sequence[str]
) -> tuple[tuple[str, bool], ...] | None:
    """A {resource type: bool} map naming every type in `known`, no more and no fewer."""
    if raw is None:
        reader.problem(path, "is required")
        return None
    if not isinstance(raw, Mapping):
        reader.problem(path, f"must map resource types to true or false, got {raw!r}")
        return None
    entries: dict[str, bool] = {}
    for key, value in raw.items():
        key_path = f"{path}.{key}"
        if key not in known:
            reader.problem(key_path, unknown_key_message(str(key), known))
        elif not isinstance(value, bool):
            reader.problem(key_path, f"must be true or false, got {value!r}")
        else:
            entries[key] = value
    missing = [name for name in known if name not in raw]
    if missing:
        # The provider reads back every type: an unlisted one is a difference on every preview.
        reader.problem(
            path,
            f"must list every resource type the provider reads back; missing: {', '.join(missing)}",
        )
    if len(entries) != len(known):
        return None
    return tuple(sorted(entries.items()))


def _read_region_settings(reader: _Reader, raw: Any) -> RegionSettingsConfig | None:
    path = "backupPlan.regionSettings"
    section = reader.section(raw, path, ["optIn", "fullManagement"], required=False)
    if section is None:
        return None
    opt_in = _read_type_map(
        reader, section.get("optIn"), f"{path}.optIn", REGION_SETTINGS_OPT_IN_TYPES
    )
    full = _read_type_map(
        reader,
        section.get("fullManagement"),
        f"{path}.fullManagement",
        REGION_SETTINGS_MANAGEMENT_TYPES,
    )
    if opt_in is None or full is None:
        return None
    return RegionSettingsConfig(opt_in, full)


def _read_backup_plan(reader: _Reader, raw: Any, prefix: str) -> BackupPlanConfig | None:
    path = "backupPlan"
    section = reader.section(
        raw,
        path,
        [
            "name",
            "regions",
            "scheduleExpression",
            "startWindowMinutes",
            "completeWindowMinutes",
            "deleteAfterDays",
            "coldStorageAfterDays",
            "copyDeleteAfterDays",
            "copyColdStorageAfterDays",
            "sourceVaultName",
            "selectionTag",
            "serviceRoleName",
            "createServiceRole",
            "windowsVss",
            "recoveryPointTags",
            "resourceTypes",
            "regionSettings",
        ],
    )
    name = reader.text(section, path, "name", PLAN_NAME, "1-50 letters, digits, '-', '_' or '.'")
    regions = reader.text_list(section, path, "regions", reader.check_region)
    schedule = reader.schedule(section, path, "scheduleExpression", allow_rate=False)
    start = reader.value(section, path, "startWindowMinutes", int)
    if start is not None and start < MIN_START_WINDOW_MINUTES:
        reader.problem(
            "backupPlan.startWindowMinutes",
            f"must be at least {MIN_START_WINDOW_MINUTES}, got {start}",
        )
    complete = reader.value(section, path, "completeWindowMinutes", int)
    if start is not None and complete is not None and complete <= start:
        reader.problem(
            "backupPlan.completeWindowMinutes",
            f"must be greater than startWindowMinutes ({start}), got {complete}",
        )
    delete = reader.days(section, path, "deleteAfterDays")
    cold = reader.days(section, path, "coldStorageAfterDays", required=False)
    _lifecycle_fits(reader, path, "deleteAfterDays", "coldStorageAfterDays", delete, cold)
    copy_delete = reader.days(section, path, "copyDeleteAfterDays")
    copy_cold = reader.days(section, path, "copyColdStorageAfterDays", required=False)
    _lifecycle_fits(
        reader, path, "copyDeleteAfterDays", "copyColdStorageAfterDays", copy_delete, copy_cold
    )
    source_vault = reader.text(section, path, "sourceVaultName", default=f"{prefix}-source")
    _check_vault_name(reader, "backupPlan.sourceVaultName", source_vault, section)
    tag_section = reader.section(
        None if section is None else section.get("selectionTag"),
        "backupPlan.selectionTag",
        ["key", "values"],
        required=section is not None,
    )
    tag_key = reader.text(
        tag_section, "backupPlan.selectionTag", "key", re.compile(r".{1,128}"), "1-128 characters"
    )
    tag_values = reader.text_list(tag_section, "backupPlan.selectionTag", "values")
    role_name = reader.text(
        section,
        path,
        "serviceRoleName",
        ROLE_NAME_WITH_PATH,
        "an IAM role name, optionally with a path (service-role/AWSBackupDefaultServiceRole)",
        default=f"{prefix}-backup-service",
    )
    create_role = reader.value(section, path, "createServiceRole", bool, default=True)
    windows_vss = reader.value(section, path, "windowsVss", bool, default=False)

    def check_resource_type(item_path: str, name: str) -> None:
        if name not in REGION_SETTINGS_OPT_IN_TYPES:
            reader.problem(item_path, unknown_key_message(name, REGION_SETTINGS_OPT_IN_TYPES))

    resource_types = reader.text_list(
        section, path, "resourceTypes", check_resource_type, required=False
    )
    region_settings = _read_region_settings(
        reader, None if section is None else section.get("regionSettings")
    )
    tags_raw = None if section is None else section.get("recoveryPointTags", {})
    tags: tuple[tuple[str, str], ...] = ()
    if not isinstance(tags_raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags_raw.items()
    ):
        reader.problem(
            "backupPlan.recoveryPointTags", f"must map tag keys to string values, got {tags_raw!r}"
        )
    else:
        tags = tuple(sorted(tags_raw.items()))
    if (
        name is None
        or schedule is None
        or start is None
        or complete is None
        or delete is None
        or copy_delete is None
        or source_vault is None
        or tag_key is None
        or role_name is None
        or create_role is None
        or windows_vss is None
        or not regions
        or not tag_values
    ):
        return None
    return BackupPlanConfig(
        name=name,
        regions=regions,
        schedule_expression=schedule,
        start_window_minutes=start,
        complete_window_minutes=complete,
        delete_after_days=delete,
        cold_storage_after_days=cold,
        copy_delete_after_days=copy_delete,
        copy_cold_storage_after_days=copy_cold,
        source_vault_name=source_vault,
        selection_tag=SelectionTag(tag_key, tag_values),
        service_role_name=role_name,
        create_service_role=create_role,
        windows_vss=windows_vss,
        recovery_point_tags=tags,
        resource_types=resource_types,
        region_settings=region_settings,
    )


def _read_dynamodb_export(reader: _Reader, raw: Any) -> DynamoDbExportConfig | None:
    path = "dynamodbExport"
    section = reader.section(
        raw,
        path,
        [
            "enabled",
            "bucket",
            "scheduleExpression",
            "catchUpScheduleExpression",
            "exportFormat",
            "exportType",
            "maxConcurrentExports",
            "fullExportIntervalDays",
            "retentionDays",
            "includeTables",
            "excludeTables",
            "logRetentionDays",
        ],
        required=False,
    )
    if section is None or reader.value(section, path, "enabled", bool, default=False) is not True:
        return None
    bucket_path = "dynamodbExport.bucket"
    bucket_section = reader.section(
        section.get("bucket"), bucket_path, ["accountId", "roleArn", "region", "name", "encryption"]
    )
    bucket_account = reader.account(bucket_section, bucket_path)
    bucket_region = reader.region(bucket_section, bucket_path, "region")
    bucket_name = reader.text(
        bucket_section, bucket_path, "name", BUCKET_NAME, "a valid S3 bucket name"
    )
    encryption = reader.text(
        bucket_section,
        bucket_path,
        "encryption",
        re.compile("SSE_S3|KMS"),
        "'SSE_S3' or 'KMS'",
        default="SSE_S3",
    )
    schedule = reader.schedule(section, path, "scheduleExpression")
    # One run starts at most maxConcurrentExports exports; the rest are deferred to the next
    # run of the same UTC day (same cut). Hourly catch-up runs drain 2,500 tables in a day.
    catch_up: str | None = DEFAULT_CATCH_UP_SCHEDULE
    if section.get("catchUpScheduleExpression") == "none":
        catch_up = None
    elif section.get("catchUpScheduleExpression") is not None:
        catch_up = reader.schedule(section, path, "catchUpScheduleExpression")
    export_format = reader.text(
        section,
        path,
        "exportFormat",
        re.compile("DYNAMODB_JSON|ION"),
        "'DYNAMODB_JSON' or 'ION'",
        default="DYNAMODB_JSON",
    )
    export_type = reader.text(
        section,
        path,
        "exportType",
        re.compile("FULL_EXPORT|INCREMENTAL_EXPORT"),
        "'FULL_EXPORT' or 'INCREMENTAL_EXPORT'",
        default="FULL_EXPORT",
    )
    max_exports = reader.days(
        section, path, "maxConcurrentExports", high=MAX_DYNAMODB_EXPORTS, default=250
    )
    retention = reader.days(section, path, "retentionDays", default=35)
    full_interval = reader.days(section, path, "fullExportIntervalDays", high=365, default=7)
    if (
        export_type == "INCREMENTAL_EXPORT"
        and retention is not None
        and full_interval is not None
        and retention <= full_interval
    ):
        # Incremental exports restore only on top of a full export that is still in the bucket.
        reader.problem(
            "dynamodbExport.retentionDays",
            f"must exceed fullExportIntervalDays ({full_interval}) with INCREMENTAL_EXPORT, got {retention}",
        )
        retention = None
    log_retention = reader.value(section, path, "logRetentionDays", int, default=90)
    if log_retention is not None and log_retention not in LOG_RETENTION_DAYS:
        reader.problem(
            "dynamodbExport.logRetentionDays",
            f"must be one of CloudWatch Logs' retention periods {sorted(LOG_RETENTION_DAYS)}, got {log_retention}",
        )
        log_retention = None
    include = reader.text_list(section, path, "includeTables", required=False)
    exclude = reader.text_list(section, path, "excludeTables", required=False)
    if (
        bucket_account is None
        or bucket_region is None
        or bucket_name is None
        or schedule is None
        or max_exports is None
        or retention is None
        or full_interval is None
        or log_retention is None
    ):
        return None
    return DynamoDbExportConfig(
        bucket=ExportBucketConfig(
            bucket_account, bucket_region, bucket_name, "KMS" if encryption == "KMS" else "SSE_S3"
        ),
        schedule_expression=schedule,
        catch_up_schedule_expression=catch_up,
        export_format="ION" if export_format == "ION" else "DYNAMODB_JSON",
        export_type="INCREMENTAL_EXPORT" if export_type == "INCREMENTAL_EXPORT" else "FULL_EXPORT",
        max_concurrent_exports=max_exports,
        full_export_interval_days=full_interval,
        retention_days=retention,
        include_tables=include,
        exclude_tables=exclude,
        log_retention_days=log_retention,
    )


def _check_across_sections(
    reader: _Reader,
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    sources: Sequence[SourceAccountConfig],
    plan: BackupPlanConfig | None,
) -> None:
    """Rules that relate one section to another."""
    source_ids = {source.account.account_id for source in sources}
    if organization is not None:
        for index, target in enumerate(organization.policy_targets):
            path = f"organization.policyTargets[{index}]"
            if destination is not None and target == destination.account.account_id:
                reader.problem(
                    path,
                    f"{target} is the destination account: it must not back itself up into itself",
                )
            elif ACCOUNT_ID.fullmatch(target) and target not in source_ids:
                # Its plan would back up into a source vault and role this stack never creates.
                reader.problem(
                    path,
                    f"account {target} is not in sourceAccounts, so it has no source vault or service role",
                )
    seen: dict[str, int] = {}
    for index, source in enumerate(sources):
        account_id = source.account.account_id
        if account_id in seen:
            reader.problem(
                f"sourceAccounts[{index}].accountId",
                f"{account_id} is listed twice (also sourceAccounts[{seen[account_id]}])",
            )
        seen.setdefault(account_id, index)
        if destination is not None and account_id == destination.account.account_id:
            reader.problem(
                f"sourceAccounts[{index}].accountId",
                f"{account_id} is the destination account: a copy must leave the account it protects",
            )
        if plan is not None:
            missing = [region for region in plan.regions if region not in source.regions]
            if missing:
                reader.problem(
                    f"sourceAccounts[{index}].regions",
                    f"must cover every backupPlan.regions entry: the plan runs in {', '.join(missing)} "
                    "where this account would have no source vault",
                )
    if destination is not None and destination.vault_lock is not None and plan is not None:
        lock = destination.vault_lock
        if plan.copy_delete_after_days < lock.min_retention_days:
            reader.problem(
                "backupPlan.copyDeleteAfterDays",
                f"must be at least destination.vaultLock.minRetentionDays ({lock.min_retention_days}): "
                "the locked vault would refuse every copy",
            )
        if (
            lock.max_retention_days is not None
            and plan.copy_delete_after_days > lock.max_retention_days
        ):
            reader.problem(
                "backupPlan.copyDeleteAfterDays",
                f"must be at most destination.vaultLock.maxRetentionDays ({lock.max_retention_days}): "
                "the locked vault would refuse every copy",
            )


def _check_names(reader: _Reader, prefix: str, plan: BackupPlanConfig | None) -> None:
    """Names derived from the stack's prefix, and names this stack must not create."""
    if plan is None:
        return
    plan_key = f"{prefix}-{plan.name}"
    if len(plan_key) > MAX_PLAN_NAME:
        reader.problem(
            "backupPlan.name",
            f"becomes the plan and rule name {plan_key!r} ({len(plan_key)} characters) in the "
            f"backup policy; AWS Backup allows {MAX_PLAN_NAME}: use a shorter name or environment",
        )
    role = plan.service_role_short_name
    if len(role) > MAX_ROLE_NAME:
        reader.problem(
            "backupPlan.serviceRoleName",
            f"{role!r} is {len(role)} characters; IAM role names take at most {MAX_ROLE_NAME}",
        )
    if plan.create_service_role and role == CONSOLE_SERVICE_ROLE:
        reader.problem(
            "backupPlan.serviceRoleName",
            f"{CONSOLE_SERVICE_ROLE} is the role the AWS Backup console creates in any account "
            "where someone has used it, so creating it fails there (EntityAlreadyExists); leave "
            "serviceRoleName unset for the stack's own role, or set "
            "backupPlan.createServiceRole: false to use the console's existing role",
        )
    settings = plan.region_settings
    if settings is None:
        return
    if not plan.resource_types:
        reader.problem(
            "backupPlan.resourceTypes",
            "is required with backupPlan.regionSettings: the resource types the plan backs up, "
            "each of which must be opted in",
        )
    opt_in = dict(settings.opt_in)
    for index, name in enumerate(plan.resource_types):
        if opt_in.get(name) is False:
            reader.problem(
                f"backupPlan.regionSettings.optIn.{name}",
                f"must be true: backupPlan.resourceTypes[{index}] is {name}, and AWS Backup "
                "skips tag-selected resources of types that are not opted in",
            )
    if opt_in.get("DynamoDB") and not dict(settings.full_management).get("DynamoDB"):
        # Developer Guide, "Advanced DynamoDB backup": needed for cross-account copies, and off
        # by default in accounts that had a vault before 21 November 2021.
        reader.problem(
            "backupPlan.regionSettings.fullManagement.DynamoDB",
            "must be true while DynamoDB is opted in: cross-account and cross-Region copies of "
            "DynamoDB backups need advanced DynamoDB backup",
        )


STACK_KEYS = (
    "environment",
    "organization",
    "destination",
    "sourceAccounts",
    "backupPlan",
    "dynamodbExport",
)


def parse_stack_config(project: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config values (already decoded from JSON/YAML) into a `StackConfig`.

    `raw` holds every key of the project's namespace, without the `<project>:` part; a key
    this program does not know is a problem (nearly always a typo that would drop a section).
    Raises `ConfigError` listing every problem found, each prefixed with its key path.
    """
    reader = _Reader()
    namespaced = [f"{project}:{key}" for key in STACK_KEYS]
    for key in raw:
        if key not in STACK_KEYS:
            reader.problem(f"{project}:{key}", unknown_key_message(f"{project}:{key}", namespaced))
    environment = reader.text(
        raw, "", "environment", ENVIRONMENT, "1-20 lowercase letters, digits or '-'"
    )
    # Defaults derived from an invalid environment would only repeat its problem.
    prefix = f"{project}-{environment or 'env'}"
    plan_raw = raw.get("backupPlan")
    owns_region_settings = isinstance(plan_raw, Mapping) and "regionSettings" in plan_raw
    organization = _read_organization(reader, raw.get("organization"))
    destination = _read_destination(reader, raw.get("destination"), prefix)
    sources = _read_sources(reader, raw.get("sourceAccounts"), owns_region_settings)
    plan = _read_backup_plan(reader, plan_raw, prefix)
    dynamodb_export = _read_dynamodb_export(reader, raw.get("dynamodbExport"))
    _check_across_sections(reader, organization, destination, sources, plan)
    _check_names(reader, prefix, plan)
    if reader.problems:
        raise ConfigError(reader.problems)
    assert environment and organization and destination and plan  # no problems: all present
    return StackConfig(
        project, environment, organization, destination, sources, plan, dynamodb_export
    )


def project_config_keys(project: str) -> list[str]:
    """Every config key of the project's namespace the engine handed to this program.

    `pulumi.Config` can only fetch keys by name, so unknown (misspelt) keys are found in the
    runtime's config map (filled by the language host, or by `set_all_config` under mocks) and
    in `PULUMI_CONFIG`, which is where `pulumi.runtime.get_config` looks too.
    """
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    namespace = f"{project}:"
    return sorted(name.removeprefix(namespace) for name in names if name.startswith(namespace))


def load_stack_config() -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi runtime."""
    project = pulumi.get_project()
    config = pulumi.Config(project)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for key in sorted(set(STACK_KEYS) | set(project_config_keys(project))):
        try:
            # Only known object sections are decoded; anything else is reported by name.
            structured = key in STACK_KEYS and key != "environment"
            raw[key] = config.get_object(key) if structured else config.get(key)
        except Exception as error:  # noqa: BLE001 - any decoding failure is a user-facing config problem
            problems.append(f"{key}: is not valid JSON/YAML ({error})")
    if problems:
        raise ConfigError(problems)
    return parse_stack_config(
        project, {key: value for key, value in raw.items() if value is not None}
    )
