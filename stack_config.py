"""Typed, validated stack configuration.

Every key a user can set is read here, once, and checked here, once. Problems are collected
and reported together in one :class:`ConfigError` naming each key path, so a user fixes a
stack file in one pass instead of one `pulumi preview` per typo.
"""

from __future__ import annotations

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

CopyAccess = Literal["accounts", "organization"]
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
        super().__init__(f"invalid stack configuration ({len(self.problems)} problems):\n{listing}")


@dataclass(frozen=True)
class AccountAccess:
    """How to reach one AWS account: its id pins the provider, the role (if any) is assumed."""

    account_id: str
    role_arn: str | None


@dataclass(frozen=True)
class OrganizationConfig:
    """The Organizations management account and where the backup policy is attached."""

    id: str
    management_account: AccountAccess
    region: str
    policy_targets: tuple[str, ...]


@dataclass(frozen=True)
class VaultLockConfig:
    """AWS Backup Vault Lock on the destination vault(s)."""

    min_retention_days: int
    max_retention_days: int | None
    # None: governance mode (the lock can be removed); a number: compliance mode after that grace.
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


@dataclass(frozen=True)
class SelectionTag:
    """Resources carrying this tag with one of these values are backed up."""

    key: str
    values: tuple[str, ...]


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
    windows_vss: bool
    recovery_point_tags: tuple[tuple[str, str], ...]

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
        known_keys = set(known)
        for key in raw:
            if key not in known_keys:
                self.problem(
                    _join(path, str(key)),
                    f"is not a known key (known: {', '.join(sorted(known_keys))})",
                )
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
            self.problem(full, f"must be a list of strings, got {value!r}")
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


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false"}.get(kind, kind.__name__)


def _check_vault_name(reader: _Reader, path: str, name: str | None) -> None:
    if name is None:
        return
    if not VAULT_NAME.fullmatch(name):
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


def _read_organization(reader: _Reader, raw: Any) -> OrganizationConfig | None:
    path = "organization"
    section = reader.section(raw, path, ["id", "managementAccount", "region", "policyTargets"])
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
    if org_id is None or management is None or region is None:
        return None
    return OrganizationConfig(org_id, management, region, targets)


def _read_vault_lock(reader: _Reader, raw: Any, path: str) -> VaultLockConfig | None:
    section = reader.section(
        raw, path, ["minRetentionDays", "maxRetentionDays", "changeableForDays"], required=False
    )
    if section is None:
        return None
    minimum = reader.days(section, path, "minRetentionDays")
    maximum = reader.days(section, path, "maxRetentionDays", required=False)
    changeable = reader.days(
        section, path, "changeableForDays", low=MIN_CHANGEABLE_FOR_DAYS, required=False
    )
    if minimum is not None and maximum is not None and maximum < minimum:
        reader.problem(
            _join(path, "maxRetentionDays"), f"must be at least minRetentionDays ({minimum})"
        )
        return None
    if minimum is None:
        return None
    return VaultLockConfig(minimum, maximum, changeable)


def _read_destination(reader: _Reader, raw: Any) -> DestinationConfig | None:
    path = "destination"
    section = reader.section(
        raw,
        path,
        ["accountId", "roleArn", "region", "vaultName", "drRegion", "allowCopiesFrom", "vaultLock"],
    )
    account = reader.account(section, path)
    region = reader.region(section, path, "region")
    vault_name = reader.text(section, path, "vaultName")
    _check_vault_name(reader, "destination.vaultName", vault_name)
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


def _read_sources(reader: _Reader, raw: Any) -> tuple[SourceAccountConfig, ...]:
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
        section = reader.section(item, item_path, ["accountId", "roleArn", "regions"])
        account = reader.account(section, item_path)
        regions = reader.text_list(section, item_path, "regions", reader.check_region)
        if account is not None and regions:
            sources.append(SourceAccountConfig(account, regions))
    return tuple(sources)


def _read_backup_plan(reader: _Reader, raw: Any) -> BackupPlanConfig | None:
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
            "windowsVss",
            "recoveryPointTags",
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
    source_vault = reader.text(section, path, "sourceVaultName")
    _check_vault_name(reader, "backupPlan.sourceVaultName", source_vault)
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
        default="service-role/AWSBackupDefaultServiceRole",
    )
    windows_vss = reader.value(section, path, "windowsVss", bool, default=False)
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
        windows_vss=windows_vss,
        recovery_point_tags=tags,
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

    Raises `ConfigError` listing every problem found, each prefixed with its key path.
    """
    reader = _Reader()
    environment = reader.text(
        raw, "", "environment", ENVIRONMENT, "1-20 lowercase letters, digits or '-'"
    )
    organization = _read_organization(reader, raw.get("organization"))
    destination = _read_destination(reader, raw.get("destination"))
    sources = _read_sources(reader, raw.get("sourceAccounts"))
    plan = _read_backup_plan(reader, raw.get("backupPlan"))
    dynamodb_export = _read_dynamodb_export(reader, raw.get("dynamodbExport"))
    _check_across_sections(reader, organization, destination, sources, plan)
    if reader.problems:
        raise ConfigError(reader.problems)
    assert environment and organization and destination and plan  # no problems: all present
    return StackConfig(
        project, environment, organization, destination, sources, plan, dynamodb_export
    )


def load_stack_config() -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi runtime."""
    project = pulumi.get_project()
    config = pulumi.Config(project)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for key in STACK_KEYS:
        try:
            raw[key] = config.get_object(key) if key != "environment" else config.get(key)
        except Exception as error:  # noqa: BLE001 - any decoding failure is a user-facing config problem
            problems.append(f"{key}: is not valid JSON/YAML ({error})")
    if problems:
        raise ConfigError(problems)
    return parse_stack_config(project, raw)
