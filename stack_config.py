"""Typed, validated stack configuration: pydantic v2 models, one definition for two uses.

The models below say what every key a user can set may hold: they validate a stack's config
(types, formats, ranges, unknown keys) and they generate the JSON Schema for stack files
(`tools/schema.py` writes `schema/stack.schema.json`), so the two cannot drift. Each section is
validated on its own; rules that relate keys to each other (within a section or across
sections) then run on whatever parsed, and their problems are merged with the field errors.
A user sees every problem in one `ConfigError`, each with its key path and how to fix it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import WithJsonSchema
from pydantic_core import ErrorDetails, PydanticCustomError

from policies.alerts import JOB_STATES
from policies.organizations import OWN_SIDS
from policies.restore import MAX_NAME as MAX_RESTORE_TESTING_NAME
from policies.restore import plan_name as restore_plan_name
from policies.restore import role_name as restore_role_name
from policies.restore import selection_name as restore_selection_name

ACCOUNT_ID = re.compile(r"^\d{12}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
ROLE_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
ROOT_ID = re.compile(r"^r-[0-9a-z]{4,32}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
POLICY_TARGET = re.compile(
    rf"^(?:{ROOT_ID.pattern[1:-1]}|{OU_ID.pattern[1:-1]}|{ACCOUNT_ID.pattern[1:-1]})$"
)
# AWS Backup API reference, CreateBackupVault: `^[a-zA-Z0-9\-\_]{2,50}$`.
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
# CreateBackupPlan (BackupPlanName, RuleName): 1-50 of letters, digits, '-', '_', '.'.
PLAN_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")
ROLE_NAME_WITH_PATH = re.compile(r"^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
RESOURCE_POLICY_ID = re.compile(r"^rp-[0-9a-z]{8,128}$")
# S3 general purpose bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
TAG_KEY = re.compile(r"^.{1,128}$")
CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
# EventBridge: "rate(1 hour)" but "rate(2 hours)": singular for 1, plural otherwise.
RATE = re.compile(r"^rate\((?P<value>[0-9]+) (?P<unit>minute|hour|day)(?P<plural>s?)\)$")
SCHEDULE = re.compile(r"^(cron|rate)\(.+\)$")
DIGITS = re.compile(r"^-?[0-9]+$")

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
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096),
    *(1827, 2192, 2557, 2922, 3288, 3653),
)

CopyAccess = Literal["accounts", "policyTargets", "organization"]
MemberDeployment = Literal["providers", "stackSets"]
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


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose text is reported as it is, after the key path."""
    return PydanticCustomError("config", "{message}", {"message": message})


@cache
def known_regions() -> frozenset[str]:
    """Commercial AWS Regions where AWS Backup is available, from botocore's bundled endpoints."""
    import boto3

    return frozenset(boto3.session.Session().get_available_regions("backup"))


# --- scalar types: the check and the JSON Schema from one place -----------------------------


def _digits_to_int(value: Any) -> Any:
    # `pulumi config set --path` may store numbers as strings; only plain digits count.
    if isinstance(value, str) and DIGITS.fullmatch(value.strip()):
        return int(value)
    return value


def _text_to_bool(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return value


_DIGIT_STRING = {"type": "string", "pattern": r"^\s*-?[0-9]+\s*$"}
Bool = Annotated[
    bool,
    BeforeValidator(_text_to_bool),
    Strict(),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}),
]


def between(low: int, high: int | None = None) -> AfterValidator:
    """Checks a whole number is in [low, high] (no upper bound when `high` is None)."""

    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _problem(f"must be {bound}, got {value}")
        return value

    return AfterValidator(check)


def number_schema(low: int, high: int | None = None) -> WithJsonSchema:
    """The JSON Schema of such a number: an integer in range, or its digits in a string."""
    number: dict[str, Any] = {"type": "integer", "minimum": low}
    if high is not None:
        number["maximum"] = high
    return WithJsonSchema({"anyOf": [number, _DIGIT_STRING]})


def matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    """Checks a string matches `pattern`; `what` says what it must be, in the error message."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise _problem(f"must be {what}, got {value!r}")
        return value

    return AfterValidator(check)


def pattern_schema(pattern: re.Pattern[str]) -> WithJsonSchema:
    """The JSON Schema of a string matching `pattern`.

    Python's named groups `(?P<name>...)` are not ECMA-262 regular expressions, which JSON
    Schema uses; plain groups match the same strings in both.
    """
    return WithJsonSchema(
        {"type": "string", "pattern": re.sub(r"\(\?P<\w+>", "(", pattern.pattern)}
    )


def _known_region(value: str) -> str:
    if value not in known_regions():
        raise _problem(f"is not a known AWS Region: {value!r}")
    return value


# The values each AWS cron field takes (Amazon EventBridge User Guide, "Using cron and rate
# expressions to schedule rules"; AWS Backup and restore testing schedules use the same form).
CRON_FIELDS = (
    ("minutes", 0, 59),
    ("hours", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 1, 7),
    ("year", 1970, 2199),
)


def _cron_range_problem(fields: Sequence[str]) -> str | None:
    """A number outside its field's values (`cron(60 25 ...)`), which AWS refuses on deploy.

    Only what comes before a `/` counts: after it is an increment, not a value.
    """
    for (name, low, high), field in zip(CRON_FIELDS, fields, strict=True):
        for part in field.split(","):
            for number in re.findall(r"\d+", part.partition("/")[0]):
                if not low <= int(number) <= high:
                    return f"AWS cron {name} must be {low}-{high} ({number} is not)"
    return None


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
        return _cron_range_problem(fields)
    rate = RATE.fullmatch(value) if allow_rate else None
    if rate is not None:
        count = int(rate["value"])
        if count == 0:
            return "a rate must be at least 1"
        if (count == 1) == bool(rate["plural"]):
            return f"EventBridge wants rate(1 {rate['unit']}) or rate(N {rate['unit']}s)"
        return None
    return "must be cron(...) with 6 fields" + (" or rate(N unit)" if allow_rate else "")


def schedule_check(allow_rate: bool) -> AfterValidator:
    """Checks an AWS schedule: `cron(6 fields)`, or `rate(N unit)` where `allow_rate`.

    AWS Backup plans take cron only; EventBridge takes both. `none` passes where `allow_none`.
    """

    def check(value: str) -> str:
        problem = _schedule_problem(value, allow_rate)
        if problem is not None:
            raise _problem(f"{problem}, got {value!r}")
        return value

    return AfterValidator(check)


def _catch_up_check(value: str) -> str:
    if value == "none":
        return value
    problem = _schedule_problem(value, allow_rate=True)
    if problem is not None:
        raise _problem(f"{problem} (or none), got {value!r}")
    return value


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise _problem(f"has duplicates: {list(values)!r}")
    return values


def _not_default_vault(name: str) -> str:
    if name.lower() == "default":
        raise _problem(
            "must not be the Default vault: it is encrypted with an AWS managed key, "
            "which AWS Backup cannot copy across accounts"
        )
    return name


def _log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise _problem(
            f"must be one of CloudWatch Logs' retention periods {list(LOG_RETENTION_DAYS)}, got {days}"
        )
    return days


Text = Annotated[str, Strict()]
AccountId = Annotated[
    str, Strict(), matches(ACCOUNT_ID, "a 12-digit account id"), pattern_schema(ACCOUNT_ID)
]
RoleArn = Annotated[
    str,
    Strict(),
    matches(ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
    pattern_schema(ROLE_ARN),
]
OrganizationId = Annotated[
    str,
    Strict(),
    matches(ORGANIZATION_ID, "an organization id (o-...)"),
    pattern_schema(ORGANIZATION_ID),
]
PolicyTarget = Annotated[
    str,
    Strict(),
    matches(POLICY_TARGET, "a root (r-...), an OU (ou-...-...) or a 12-digit account id"),
    pattern_schema(POLICY_TARGET),
]
Region = Annotated[str, Strict(), AfterValidator(_known_region), pattern_schema(REGION_NAME)]
Days = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    between(1, MAX_RETENTION_DAYS),
    number_schema(1, MAX_RETENTION_DAYS),
]
GraceDays = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    between(MIN_CHANGEABLE_FOR_DAYS, MAX_RETENTION_DAYS),
    number_schema(MIN_CHANGEABLE_FOR_DAYS, MAX_RETENTION_DAYS),
]
StartMinutes = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    between(MIN_START_WINDOW_MINUTES),
    number_schema(MIN_START_WINDOW_MINUTES),
]
Minutes = Annotated[int, BeforeValidator(_digits_to_int), Strict(), between(1), number_schema(1)]
ExportSlots = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    between(1, MAX_DYNAMODB_EXPORTS),
    number_schema(1, MAX_DYNAMODB_EXPORTS),
]
IntervalDays = Annotated[
    int, BeforeValidator(_digits_to_int), Strict(), between(1, 365), number_schema(1, 365)
]
LogRetentionDays = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    AfterValidator(_log_retention),
    WithJsonSchema({"enum": list(LOG_RETENTION_DAYS)}),
]
VaultName = Annotated[
    str,
    Strict(),
    matches(VAULT_NAME, "2-50 letters, digits, '-' or '_'"),
    AfterValidator(_not_default_vault),
    pattern_schema(VAULT_NAME),
]
PlanName = Annotated[
    str,
    Strict(),
    matches(PLAN_NAME, "1-50 letters, digits, '-', '_' or '.'"),
    pattern_schema(PLAN_NAME),
]
RoleName = Annotated[
    str,
    Strict(),
    matches(
        ROLE_NAME_WITH_PATH,
        "an IAM role name, optionally with a path (service-role/AWSBackupDefaultServiceRole)",
    ),
    pattern_schema(ROLE_NAME_WITH_PATH),
]
TagKey = Annotated[str, Strict(), matches(TAG_KEY, "1-128 characters"), pattern_schema(TAG_KEY)]
BucketName = Annotated[
    str, Strict(), matches(BUCKET_NAME, "a valid S3 bucket name"), pattern_schema(BUCKET_NAME)
]
Environment = Annotated[
    str,
    Strict(),
    matches(ENVIRONMENT, "1-20 lowercase letters, digits or '-'"),
    pattern_schema(ENVIRONMENT),
]
CronSchedule = Annotated[
    str,
    Strict(),
    schedule_check(allow_rate=False),
    WithJsonSchema({"type": "string", "pattern": r"^cron\(.+\)$"}),
]
Schedule = Annotated[str, Strict(), schedule_check(allow_rate=True), pattern_schema(SCHEDULE)]
CatchUpSchedule = Annotated[
    str,
    Strict(),
    AfterValidator(_catch_up_check),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": SCHEDULE.pattern}, {"const": "none"}]}),
]
Regions = Annotated[tuple[Region, ...], Field(min_length=1), AfterValidator(_unique)]
PolicyTargets = Annotated[tuple[PolicyTarget, ...], Field(min_length=1), AfterValidator(_unique)]
TagValues = Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(_unique)]
Patterns = Annotated[tuple[Text, ...], AfterValidator(_unique)]


# --- models -----------------------------------------------------------------------------------


def _drop_nulls(value: Any) -> Any:
    # A YAML key with no value (`key:` or `key: ~`) means "not set": its default applies.
    if isinstance(value, Mapping):
        return {key: item for key, item in value.items() if item is not None}
    return value


class Section(BaseModel):
    """A config object: camelCase keys, unknown keys refused, immutable once parsed."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _unset_nulls(cls, value: Any) -> Any:
        return _drop_nulls(value)


class AccountAccess(Section):
    """How to reach one AWS account: its id pins the provider, the role (if any) is assumed."""

    account_id: AccountId = Field(description="12-digit AWS account id, in quotes")
    role_arn: RoleArn | None = Field(
        default=None,
        description="IAM role `pulumi up` assumes in this account (it must be in that "
        "account); unset: ambient credentials",
    )
    preview_role_arn: RoleArn | None = Field(
        default=None,
        description="Read-only IAM role `pulumi preview` assumes in this account instead of "
        "roleArn; unset: roleArn",
    )

    @field_validator("role_arn", "preview_role_arn")
    @classmethod
    def _role_in_account(cls, role_arn: str | None, info: ValidationInfo) -> str | None:
        account_id = info.data.get("account_id")
        match = ROLE_ARN.fullmatch(role_arn or "")
        if match is not None and account_id is not None and match["account"] != account_id:
            raise _problem(f"is in account {match['account']} but accountId is {account_id}")
        return role_arn

    @property
    def account(self) -> AccountAccess:
        """The account id and roles, without the rest of the section."""
        return AccountAccess(
            account_id=self.account_id,
            role_arn=self.role_arn,
            preview_role_arn=self.preview_role_arn,
        )


class GlobalSettingsConfig(Section):
    """The organization's AWS Backup global settings other than cross-account backup.

    UpdateGlobalSettings replaces every setting; the stack that owns them must state each one
    so that it never switches off an organization's multi-party approval or delegation.
    """

    is_mpa_enabled: Bool = Field(description="Multi-party approval, as the organization has it")
    is_delegated_administrator_enabled: Bool = Field(
        description="Delegated administration of AWS Backup, as the organization has it"
    )


class StackSetConfig(Section):
    """How the member StackSet rolls out (stackSets mode)."""

    retain_stacks_on_account_removal: Bool = Field(
        default=True,
        description="Keep an account's member stack (its vault, key and role) when the account "
        "leaves a targeted OU",
    )
    max_concurrent_percentage: Annotated[
        int, BeforeValidator(_digits_to_int), Strict(), between(1, 100), number_schema(1, 100)
    ] = Field(default=25, description="Share of the accounts deployed at once, per Region")
    failure_tolerance_percentage: Annotated[
        int, BeforeValidator(_digits_to_int), Strict(), between(0, 100), number_schema(0, 100)
    ] = Field(default=10, description="Share of the accounts that may fail before it stops")
    region_concurrency: Literal["SEQUENTIAL", "PARALLEL"] = Field(
        default="PARALLEL", description="Regions one after another, or at once"
    )


class OrganizationConfig(Section):
    """The Organizations management account and where the backup policy is attached."""

    id: OrganizationId = Field(description="Organization id, o-...")
    management_account: AccountAccess = Field(description="The management account")
    region: Region = Field(description="Where the Organizations and global AWS Backup calls go")
    policy_targets: PolicyTargets = Field(
        description="Roots (r-...), OUs (ou-...-...) or account ids the backup policy is "
        "attached to; an account must be one of sourceAccounts"
    )
    manage_global_settings: Bool = Field(
        default=True,
        description="This stack owns the organization's one aws.backup.GlobalSettings; "
        "exactly one stack per organization may",
    )
    global_settings: GlobalSettingsConfig | None = Field(
        default=None,
        description="Required while manageGlobalSettings is true: the other global settings, "
        "as the organization has them",
    )
    member_deployment: MemberDeployment = Field(
        default="providers",
        description="providers: sourceAccounts through this stack's providers; stackSets: "
        "every account under the targeted roots/OUs through a service-managed StackSet",
    )
    delegated_administrator: AccountAccess | None = Field(
        default=None,
        description="Member account that holds the backup policy, its attachments and the "
        "StackSet instead of the management account",
    )
    extra_delegation_statements: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="Statements of the organization's one resource policy that are not this "
        "program's (other services' delegations), kept beside its own",
    )
    import_resource_policy_id: (
        Annotated[
            str,
            Strict(),
            matches(RESOURCE_POLICY_ID, "a resource policy id (rp-...)"),
            pattern_schema(RESOURCE_POLICY_ID),
        ]
        | None
    ) = Field(
        default=None,
        description="Id of the organization's existing resource policy, to adopt it "
        "(pulumi import) instead of failing to create a second one",
    )
    stack_set: StackSetConfig = Field(
        default_factory=StackSetConfig, description="StackSet rollout (stackSets mode)"
    )
    doctor_role_name: RoleName | None = Field(
        default=None,
        description="Read-only role `make doctor` assumes in accounts it finds only under the "
        "targeted roots and OUs (optionally with a path); the member template creates it in "
        "stackSets mode. Unset: such accounts are reported unknown",
    )

    @property
    def administrator(self) -> AccountAccess:
        """Where the organization's backup work is administered: the delegated administrator,
        else the management account (the policy, the StackSet, the audit reports)."""
        return self.delegated_administrator or self.management_account


class VaultLockConfig(Section):
    """AWS Backup Vault Lock on the destination vault(s)."""

    mode: LockMode = Field(
        description="governance: removable by users with the permission; compliance: "
        "immutable once changeableForDays have passed"
    )
    min_retention_days: Days = Field(description="Shortest retention the vault accepts")
    max_retention_days: Days | None = Field(
        default=None, description="Longest retention the vault accepts"
    )
    changeable_for_days: GraceDays | None = Field(
        default=None,
        description="Compliance mode only (required there): days after which nobody can "
        "remove the lock, at least 3",
    )


def _default_name(suffix: str, limit: int) -> Callable[[Any, ValidationInfo], Any]:
    """A `before` validator that fills an unset name with `<prefix>-<suffix>`."""

    def fill(value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            return value
        prefix = (info.context or {}).get("prefix", "")
        name = f"{prefix}-{suffix}"
        if len(name) > limit:
            raise _problem(
                f"the default name {name!r} (<project>-<environment>-{suffix}) is longer than "
                f"{limit} characters: set it explicitly or shorten the environment"
            )
        return name

    return fill


class DestinationConfig(AccountAccess):
    """The central account whose vault(s) receive the copies."""

    region: Region = Field(description="Primary Region of the central vault")
    # `None` is replaced by the derived default before validation (validate_default).
    vault_name: VaultName = Field(
        default=None,
        validate_default=True,
        description="Default <project>-<environment>-central; never Default",
    )
    dr_region: Region | None = Field(
        default=None, description="A second vault, key and copy action in this Region"
    )
    allow_copies_from: CopyAccess | None = Field(
        default=None,
        description="Accounts whose backup service role may copy into the central vaults. "
        "accounts: the sourceAccounts (the default in providers mode); policyTargets: every "
        "account under the targeted OUs, and the targeted and source accounts (the default in "
        "stackSets mode); organization: every account of the organization, an explicit "
        "opt-in (docs/architecture.md, Who may copy in)",
    )
    vault_lock: VaultLockConfig | None = Field(default=None, description="Vault Lock")
    allow_copy_back: Bool = Field(
        default=False,
        description="Let copies go back from the central vault to a source account's vault "
        "(a restore into a source account starts with such a copy)",
    )

    _default_vault_name = field_validator("vault_name", mode="before")(
        _default_name("central", MAX_VAULT_NAME)
    )

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary Region, then the DR Region if any."""
        return (self.region,) if self.dr_region is None else (self.region, self.dr_region)


class SourceAccountConfig(AccountAccess):
    """A member account whose resources are backed up, and the Regions it runs backups in."""

    regions: Regions = Field(
        description="Regions with a source vault (and exporter); must cover backupPlan.regions"
    )
    manage_region_settings: Bool = Field(
        default=True,
        description="With backupPlan.regionSettings: false leaves this account's Region "
        "settings alone",
    )


SourceAccounts = Annotated[tuple[SourceAccountConfig, ...], Field(min_length=1)]


class SelectionTag(Section):
    """Resources carrying this tag with one of these values are backed up."""

    key: TagKey = Field(description="Tag key")
    values: TagValues = Field(description="Tag values; any of them selects")


def _type_map(name: str, types: Sequence[str], what: str) -> type[Section]:
    """A model with one required boolean per resource type (keys exactly as AWS spells them)."""
    fields: dict[str, Any] = {
        type_name.replace(" ", "_"): (Bool, Field(alias=type_name, description=what))
        for type_name in types
    }
    return create_model(name, __base__=Section, **fields)


OptInPreferences = _type_map(
    "OptInPreferences", REGION_SETTINGS_OPT_IN_TYPES, "Back up resources of this type"
)
ManagementPreferences = _type_map(
    "ManagementPreferences",
    REGION_SETTINGS_MANAGEMENT_TYPES,
    "Full AWS Backup management of this type",
)


def _as_map(preferences: BaseModel) -> dict[str, bool]:
    return {str(key): bool(value) for key, value in preferences.model_dump(by_alias=True).items()}


class RegionSettingsConfig(Section):
    """AWS Backup Region settings (service opt-in, full management) of each source account."""

    opt_in: OptInPreferences = Field(  # type: ignore[valid-type]
        description="Every resource type the provider knows: true to opt in"
    )
    full_management: ManagementPreferences = Field(  # type: ignore[valid-type]
        description="Every full-management type: DynamoDB true whenever DynamoDB is opted in"
    )

    @property
    def opt_in_map(self) -> dict[str, bool]:
        """{resource type as AWS spells it: opted in}."""
        return _as_map(self.opt_in)

    @property
    def full_management_map(self) -> dict[str, bool]:
        """{resource type as AWS spells it: fully managed by AWS Backup}."""
        return _as_map(self.full_management)


def _resource_type(name: str) -> str:
    if name not in REGION_SETTINGS_OPT_IN_TYPES:
        raise _problem(unknown_key_message(name, REGION_SETTINGS_OPT_IN_TYPES, "resource type"))
    return name


ResourceType = Annotated[
    str,
    Strict(),
    AfterValidator(_resource_type),
    WithJsonSchema({"enum": list(REGION_SETTINGS_OPT_IN_TYPES)}),
]
ResourceTypes = Annotated[tuple[ResourceType, ...], AfterValidator(_unique)]


class BackupPlanConfig(Section):
    """The one backup plan that the Organizations backup policy deploys to every target."""

    name: PlanName = Field(
        description="Plan name; the policy's plan and rule key is <project>-<environment>-<name>"
    )
    regions: Regions = Field(description="Regions the plan runs in")
    schedule_expression: CronSchedule = Field(
        description="AWS cron(...) with 6 fields; AWS Backup takes no rate()"
    )
    start_window_minutes: StartMinutes = Field(description="At least 60")
    complete_window_minutes: Minutes = Field(description="More than startWindowMinutes")
    delete_after_days: Days = Field(description="Retention of the backups")
    cold_storage_after_days: Days | None = Field(
        default=None, description="Move to cold storage after; delete >= cold + 90"
    )
    copy_delete_after_days: Days = Field(description="Retention of the copies")
    copy_cold_storage_after_days: Days | None = Field(
        default=None, description="Copies to cold storage after; delete >= cold + 90"
    )
    source_vault_name: VaultName = Field(
        default=None,
        validate_default=True,
        description="Default <project>-<environment>-source; never Default",
    )
    selection_tag: SelectionTag = Field(description="Resources with this tag are backed up")
    service_role_name: RoleName = Field(
        default=None,
        validate_default=True,
        description="Default <project>-<environment>-backup-service; optionally with a path",
    )
    create_service_role: Bool = Field(
        default=True,
        description="false: the policy names an existing role of that name in every target "
        "account and the stack creates none",
    )
    windows_vss: Bool = Field(default=False, description="Windows VSS for EC2 backups")
    recovery_point_tags: dict[Text, Text] = Field(
        default_factory=dict, description="Tags put on recovery points"
    )
    resource_types: ResourceTypes = Field(
        default=(),
        description="AWS Backup resource types the plan backs up; required with regionSettings",
    )
    region_settings: RegionSettingsConfig | None = Field(
        default=None,
        description="Own the Region settings of every source account and plan Region",
    )

    _default_vault_name = field_validator("source_vault_name", mode="before")(
        _default_name("source", MAX_VAULT_NAME)
    )
    _default_role_name = field_validator("service_role_name", mode="before")(
        _default_name("backup-service", MAX_ROLE_NAME)
    )

    @property
    def service_role_path(self) -> str:
        """IAM path of the service role: `service-role/X` lives at `/service-role/`."""
        prefix, _, _ = self.service_role_name.rpartition("/")
        return f"/{prefix}/" if prefix else "/"

    @property
    def service_role_short_name(self) -> str:
        """The service role's name without its path."""
        return self.service_role_name.rpartition("/")[2]


class ExportBucketConfig(AccountAccess):
    """The S3 bucket (possibly outside the organization) that receives DynamoDB exports."""

    region: Region = Field(description="The bucket's Region")
    name: BucketName = Field(description="Bucket name")
    encryption: BucketEncryption = Field(default="SSE_S3", description="SSE_S3 or KMS")


class DynamoDbExportConfig(Section):
    """The scheduled DynamoDB export Lambda deployed to every source account and Region."""

    enabled: Bool = Field(default=False, description="Off unless true")
    bucket: ExportBucketConfig = Field(description="Where exports land")
    schedule_expression: Schedule = Field(description="EventBridge schedule of the daily run")
    catch_up_schedule_expression: CatchUpSchedule = Field(
        default=DEFAULT_CATCH_UP_SCHEDULE,
        description="Runs that pick up deferred tables; none to switch off",
    )
    export_format: ExportFormat = Field(default="DYNAMODB_JSON", description="Export format")
    export_type: ExportType = Field(default="FULL_EXPORT", description="Export type")
    max_concurrent_exports: ExportSlots = Field(
        default=280,
        description="Most exports in flight in the account (of DynamoDB's 300); 20 are left "
        "for other tools",
    )
    full_export_interval_days: IntervalDays = Field(
        default=7, description="With INCREMENTAL_EXPORT: a full export every N days"
    )
    retention_days: Days = Field(default=35, description="How long exports are kept")
    include_tables: Patterns = Field(default=(), description="fnmatch patterns of tables to export")
    exclude_tables: Patterns = Field(default=(), description="fnmatch patterns of tables to skip")
    log_retention_days: LogRetentionDays = Field(
        default=90, description="A CloudWatch Logs retention value"
    )

    @property
    def catch_up_schedule(self) -> str | None:
        """The catch-up schedule, or None when switched off."""
        value = self.catch_up_schedule_expression
        return None if value == "none" else value


DEFAULT_ALERT_STATES = ("FAILED", "ABORTED", "EXPIRED", "PARTIAL")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _job_state(value: str) -> str:
    if value not in JOB_STATES:
        raise _problem(unknown_key_message(value, JOB_STATES, "job state"))
    if value in ("COMPLETED",):
        raise _problem("is a success, not a failure: alerts are for jobs that need a person")
    return value


JobState = Annotated[
    str, Strict(), AfterValidator(_job_state), WithJsonSchema({"enum": list(JOB_STATES)})
]
Email = Annotated[str, Strict(), matches(EMAIL, "an email address"), pattern_schema(EMAIL)]


class MonitoringConfig(Section):
    """Failed backup, copy and restore jobs, and the exporter's alarms, reach these people."""

    account_id: AccountId | None = Field(
        default=None,
        description="Account of the central event bus and topic; default the delegated "
        "administrator, else the destination account",
    )
    role_arn: RoleArn | None = Field(default=None, description="Deploy role in that account")
    preview_role_arn: RoleArn | None = Field(
        default=None, description="Read-only preview role in that account"
    )
    emails: Annotated[tuple[Email, ...], Field(min_length=1), AfterValidator(_unique)] = Field(
        description="Who gets an email per failed job or alarm (each must confirm once)"
    )
    states: Annotated[tuple[JobState, ...], Field(min_length=1), AfterValidator(_unique)] = Field(
        default=DEFAULT_ALERT_STATES,
        description="Job states that alert; each job type matches those it has",
    )

    @property
    def has_roles(self) -> bool:
        """Whether the section names roles of its own (else another section's are used)."""
        return self.role_arn is not None or self.preview_role_arn is not None


# AWS Backup API reference, RestoreTestingSelectionForCreate.ProtectedResourceType.
RESTORE_TEST_TYPES = (
    "Aurora",
    "DocumentDB",
    "DynamoDB",
    "EBS",
    "EC2",
    "EFS",
    "FSx",
    "Neptune",
    "RDS",
    "S3",
)
# Where a restore test puts what it restores. Without these overrides AWS Backup infers the
# default VPC of the account it restores in (the destination account here), "if the default is
# not present [...] the restore will not be successful", and a restore there would not test the
# network a real recovery uses either. The first key of each is what places the resource (the
# console and the troubleshooting list call them Subnet and Subnet group); without the second
# the resource gets its VPC's default security group. AWS Backup Developer Guide, "Restore
# testing inferred metadata" and "Restore testing failure troubleshooting". EBS volumes need no
# network: AWS Backup infers a random Availability Zone for them. FSx: AWS Backup "is not able
# to infer a complete set of metadata", and the keys depend on the file system type.
PLACEMENT_OVERRIDES: dict[str, tuple[str, ...]] = {
    "Aurora": ("dbSubnetGroupName", "vpcSecurityGroupIds"),
    "DocumentDB": ("dbSubnetGroupName", "vpcSecurityGroupIds"),
    "EC2": ("subnetId", "securityGroupIds"),
    "FSx": (),
    "Neptune": ("dbSubnetGroupName", "vpcSecurityGroupIds"),
    "RDS": ("dbSubnetGroupName", "vpcSecurityGroupIds"),
}
FSX_PLACEMENT = (
    "subnetIds and securityGroupIds (FSx for Lustre, OpenZFS and Windows File Server, which also "
    "needs windowsConfiguration.activeDirectoryId) or ontapConfiguration.storageVirtualMachineId "
    "(FSx for NetApp ONTAP)"
)
# Overrides whose values are lists: RestoreMetadataOverrides is a map of strings, so AWS Backup
# reads these as JSON arrays in a string (same page, "Format for list-typed override values").
LIST_OVERRIDES = (
    "availabilityZones",
    "enableCloudwatchLogsExports",
    "securityGroupIds",
    "subnetIds",
    "vpcSecurityGroupIds",
)
# Overrides that name things of one Region (subnets, security groups, Availability Zones):
# with a DR Region they differ per Region, so they belong in regionMetadataOverrides.
REGIONAL_OVERRIDES = (
    "availabilityZone",
    "availabilityZones",
    "securityGroupIds",
    "subnetId",
    "subnetIds",
    "vpcSecurityGroupIds",
)


def _restore_type(name: str) -> str:
    if name not in RESTORE_TEST_TYPES:
        raise _problem(unknown_key_message(name, RESTORE_TEST_TYPES, "resource type"))
    return name


RestoreType = Annotated[
    str, Strict(), AfterValidator(_restore_type), WithJsonSchema({"enum": list(RESTORE_TEST_TYPES)})
]


def _list_as_json(value: Any) -> Any:
    # A YAML list becomes the JSON array string AWS Backup reads (see LIST_OVERRIDES).
    if isinstance(value, list | tuple):
        if not all(isinstance(item, str) for item in value):
            raise _problem(f"must be a string or a list of strings, got {value!r}")
        return json.dumps(list(value), separators=(",", ":"))
    return value


OverrideValue = Annotated[
    str,
    BeforeValidator(_list_as_json),
    Strict(),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


MAX_VALIDATION_WINDOW_HOURS = 168


def _validation_window(hours: int) -> int:
    if hours == 0:
        # The AWS Backup API takes 0-168, but the pinned provider validates 1-168
        # (terraform-provider-aws restore_testing_selection.go, int64validator.Between(1, 168)):
        # 0 would pass here and fail in `pulumi preview`.
        raise _problem(
            "must be between 1 and 168, got 0: the AWS provider refuses 0 (the API's 'no "
            "validation window'); 1 keeps each restored resource for an hour"
        )
    if not 1 <= hours <= MAX_VALIDATION_WINDOW_HOURS:
        raise _problem(f"must be between 1 and {MAX_VALIDATION_WINDOW_HOURS}, got {hours}")
    return hours


class RestoreTestingConfig(Section):
    """Restore tests of the copies in each destination vault Region."""

    schedule_expression: CronSchedule = Field(
        description="AWS cron(...) of the test runs, in UTC (6 fields, as backupPlan)"
    )
    selection_window_days: Annotated[
        int, BeforeValidator(_digits_to_int), Strict(), between(1, 365), number_schema(1, 365)
    ] = Field(description="Test the latest recovery point of the last N days (1-365)")
    validation_window_hours: Annotated[
        int,
        BeforeValidator(_digits_to_int),
        Strict(),
        AfterValidator(_validation_window),
        number_schema(1, MAX_VALIDATION_WINDOW_HOURS),
    ] = Field(description="Hours a restored resource is kept for validation (1-168)")
    resource_types: Annotated[
        tuple[RestoreType, ...], Field(min_length=1), AfterValidator(_unique)
    ] = Field(description="AWS Backup resource types to test, one selection each")
    metadata_overrides: dict[RestoreType, dict[Text, OverrideValue]] = Field(
        default_factory=dict,
        description="Per type, restore metadata overrides in every vault Region (AWS Backup's "
        "keys; lists as YAML lists); EC2, RDS, Aurora, DocumentDB, Neptune and FSx need their "
        "subnet (group) here or per Region",
    )
    region_metadata_overrides: dict[Region, dict[RestoreType, dict[Text, OverrideValue]]] = Field(
        default_factory=dict,
        description="Per destination vault Region and type, overrides that differ by Region "
        "(subnet and security group ids); they win over metadataOverrides",
    )

    def overrides(self, region: str, resource_type: str) -> dict[str, str]:
        """The overrides of one type's selection in one Region: the Region's win, key by key
        (AWS Backup reads the keys case-insensitively)."""
        merged: dict[str, tuple[str, str]] = {}
        for layer in (
            self.metadata_overrides.get(resource_type, {}),
            self.region_metadata_overrides.get(region, {}).get(resource_type, {}),
        ):
            merged.update({key.lower(): (key, value) for key, value in layer.items()})
        return dict(merged.values())


class AuditConfig(Section):
    """AWS Backup Audit Manager frameworks and reports."""

    enabled: Bool = Field(default=False, description="Deploy frameworks and report plans")
    report_bucket: BucketName | None = Field(
        default=None,
        description="Existing bucket for the reports; default a bucket the stack creates",
    )


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
        """`destination.allowCopiesFrom`, or its default: the source accounts in providers mode,
        the policy's targets in stackSets mode (which lists no source accounts)."""
        chosen = self.destination.allow_copies_from
        if chosen is not None:
            return chosen
        return "accounts" if self.organization.member_deployment == "providers" else "policyTargets"

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


# --- error messages ---------------------------------------------------------------------------


def unknown_key_message(key: str, known: Sequence[str], noun: str = "key") -> str:
    """`is not a known key`, with the nearest known key when one is close (nearly always a typo)."""
    # Case-insensitive first: `dynamoDbExport` for `dynamodbExport` is the commonest slip.
    by_lower = {name.lower(): name for name in known}
    nearest = by_lower.get(key.lower())
    if nearest is None:
        matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        nearest = matches[0] if matches else None
    suggestion = f"; did you mean {nearest!r}?" if nearest is not None else ""
    return f"is not a known {noun}{suggestion} (known: {', '.join(sorted(known))})"


def key_path(loc: Iterable[int | str]) -> str:
    """`('sourceAccounts', 0, 'regions', 1)` -> `sourceAccounts[0].regions[1]`."""
    path = ""
    for part in loc:
        if part == "[key]":
            # pydantic marks a map key that failed its check; the key itself is already named.
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _model_at(root: Any, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the last element of `loc`, following fields by alias."""
    current = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        by_alias = {field.alias or name: field for name, field in current.model_fields.items()}
        field = by_alias.get(part) or current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside Annotated[...], X | None and tuple[X, ...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated or origin is tuple:
            annotation = get_args(annotation)[0]
        elif origin is not None and type(None) in get_args(annotation):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _aliases(section: Any, loc: Sequence[int | str]) -> list[int | str]:
    """`loc` with field names replaced by the keys users write (a default's error uses names)."""
    named: list[int | str] = []
    for index, part in enumerate(loc):
        model = _model_at(section, loc[:index])
        field = model.model_fields.get(part) if isinstance(part, str) and model else None
        named.append(field.alias if field is not None and field.alias else part)
    return named


def _kind(value: Any) -> str:
    kinds = {
        dict: "an object",
        list: "a list",
        bool: "true/false",
        int: "a number",
        str: "a string",
    }
    return kinds.get(type(value), type(value).__name__)


def _message(error: ErrorDetails, section: Any, section_loc: Sequence[int | str]) -> str:
    """One pydantic error in this project's words (`loc` includes the section's key)."""
    kind, value, loc = error["type"], error["input"], error["loc"]
    if kind == "config":
        return str(error["ctx"]["message"])
    if kind == "missing" and _model_at(section, section_loc[:-1]) in (
        OptInPreferences,
        ManagementPreferences,
    ):
        return (
            "is required: list every resource type the provider reads back (true or false); "
            "a map without it shows a difference on every preview"
        )
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        model = _model_at(section, section_loc[:-1])
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        return unknown_key_message(str(loc[-1]), known)
    if kind == "string_type" and isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 012345678901 as the number 12345678901.
        return f'must be a string: quote it ({loc[-1]}: "{value}"), got the number {value}'
    if kind == "string_type":
        return f"must be a string, got {value!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {value!r}"
    if kind == "bool_type":
        return f"must be true or false, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be an object, got {_kind(value)}"
    if kind in ("tuple_type", "list_type"):
        hint = ""
        if isinstance(value, int) and not isinstance(value, bool):
            hint = " (quote numbers such as account ids: YAML reads them unquoted as numbers)"
        return f"must be a list{hint}, got {value!r}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, got {value!r}"
    return f"{error['msg']}, got {value!r}"


def _problems(key: str, section: Any, error: ValidationError) -> list[str]:
    problems = []
    errors = error.errors()
    # A list whose items failed is also reported "too short" by pydantic: the items say it all.
    with_item_errors = {e["loc"][:-1] for e in errors if e["loc"] and isinstance(e["loc"][-1], int)}
    for details in errors:
        loc = details["loc"]
        if details["type"] == "too_short" and loc in with_item_errors:
            continue
        value = details["input"]
        number = isinstance(value, int) and not isinstance(value, bool)
        if details["type"] == "string_type" and number and loc and isinstance(loc[-1], int):
            # A number in a list of strings: say so on the list, as YAML users expect.
            problems.append(
                f"{key_path((key, *loc[:-1]))}: must be a list of strings (quote numbers such "
                f"as account ids: YAML reads them unquoted as numbers), got {value!r}"
            )
            continue
        message = _message({**details, "loc": (key, *loc)}, section, loc)
        problems.append(f"{key_path((key, *_aliases(section, loc)))}: {message}")
    return list(dict.fromkeys(problems))


# --- rules that relate keys to each other ----------------------------------------------------


def _section_rules(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    plan: BackupPlanConfig | None,
    export: DynamoDbExportConfig | None,
) -> Iterable[str]:
    """Rules between keys of one section."""
    if organization is not None:
        if organization.manage_global_settings and organization.global_settings is None:
            yield (
                "organization.globalSettings: is required while "
                "organization.manageGlobalSettings is true: UpdateGlobalSettings sets every "
                "global setting, so state {isMpaEnabled, isDelegatedAdministratorEnabled} as "
                "the organization has them (or set manageGlobalSettings: false where another "
                "stack owns them)"
            )
        if not organization.manage_global_settings and organization.global_settings is not None:
            yield (
                "organization.globalSettings: is only used with "
                "organization.manageGlobalSettings: true (the stack that owns the "
                "organization's AWS Backup global settings); remove it here"
            )
    if destination is not None:
        if destination.dr_region == destination.region:
            yield f"destination.drRegion: must differ from destination.region ({destination.region})"
        lock = destination.vault_lock
        if lock is not None:
            yield from _vault_lock_rules(lock)
    if plan is not None:
        if plan.complete_window_minutes <= plan.start_window_minutes:
            yield (
                f"backupPlan.completeWindowMinutes: must be greater than startWindowMinutes "
                f"({plan.start_window_minutes}), got {plan.complete_window_minutes}"
            )
        yield from _lifecycle_fits(
            "deleteAfterDays",
            "coldStorageAfterDays",
            plan.delete_after_days,
            plan.cold_storage_after_days,
        )
        yield from _lifecycle_fits(
            "copyDeleteAfterDays",
            "copyColdStorageAfterDays",
            plan.copy_delete_after_days,
            plan.copy_cold_storage_after_days,
        )
    if (
        export is not None
        and export.export_type == "INCREMENTAL_EXPORT"
        and export.retention_days <= export.full_export_interval_days
    ):
        # Incremental exports restore only on top of a full export that is still in the bucket.
        yield (
            "dynamodbExport.retentionDays: must exceed fullExportIntervalDays "
            f"({export.full_export_interval_days}) with INCREMENTAL_EXPORT, got {export.retention_days}"
        )


def _vault_lock_rules(lock: VaultLockConfig) -> Iterable[str]:
    path = "destination.vaultLock"
    # AWS Backup Developer Guide, "AWS Backup Vault Lock": ChangeableForDays is what makes a
    # lock a compliance lock; without it the lock stays in governance mode.
    if lock.mode == "compliance" and lock.changeable_for_days is None:
        yield (
            f"{path}.changeableForDays: is required with mode: compliance (the grace period, at "
            f"least {MIN_CHANGEABLE_FOR_DAYS} days, after which nobody, not even the account "
            "root, can remove the lock)"
        )
    if lock.mode == "governance" and lock.changeable_for_days is not None:
        yield (
            f"{path}.changeableForDays: is refused with mode: governance: setting it turns the "
            "lock into a compliance lock that becomes immutable; use mode: compliance if that "
            "is what you want"
        )
    if lock.max_retention_days is not None and lock.max_retention_days < lock.min_retention_days:
        yield f"{path}.maxRetentionDays: must be at least minRetentionDays ({lock.min_retention_days})"


def _lifecycle_fits(delete_key: str, cold_key: str, delete: int, cold: int | None) -> Iterable[str]:
    if cold is not None and delete < cold + MIN_COLD_STORAGE_DAYS:
        yield (
            f"backupPlan.{delete_key}: must be at least {cold_key} + {MIN_COLD_STORAGE_DAYS} "
            f"({cold} + {MIN_COLD_STORAGE_DAYS} = {cold + MIN_COLD_STORAGE_DAYS}), got {delete}"
        )


def _cross_section_rules(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    sources: Sequence[SourceAccountConfig] | None,
    plan: BackupPlanConfig | None,
    owns_region_settings: bool,
) -> Iterable[str]:
    """Rules that relate one section to another, on whichever sections parsed."""
    if destination is not None and destination.vault_lock is not None and plan is not None:
        lock = destination.vault_lock
        if plan.copy_delete_after_days < lock.min_retention_days:
            yield (
                "backupPlan.copyDeleteAfterDays: must be at least "
                f"destination.vaultLock.minRetentionDays ({lock.min_retention_days}): the locked "
                "vault would refuse every copy"
            )
        if (
            lock.max_retention_days is not None
            and plan.copy_delete_after_days > lock.max_retention_days
        ):
            yield (
                "backupPlan.copyDeleteAfterDays: must be at most "
                f"destination.vaultLock.maxRetentionDays ({lock.max_retention_days}): the locked "
                "vault would refuse every copy"
            )
    if (
        organization is not None
        and destination is not None
        and organization.member_deployment == "stackSets"
        and destination.allow_copies_from == "accounts"
    ):
        yield (
            "destination.allowCopiesFrom: accounts admits the sourceAccounts, which "
            "memberDeployment: stackSets has none of: use policyTargets (the default there) or "
            "remove the key"
        )
    source_ids = None if sources is None else {source.account_id for source in sources}
    if organization is not None:
        for index, target in enumerate(organization.policy_targets):
            path = f"organization.policyTargets[{index}]"
            if destination is not None and target == destination.account_id:
                yield f"{path}: {target} is the destination account: it must not back itself up into itself"
            elif (
                source_ids is not None and ACCOUNT_ID.fullmatch(target) and target not in source_ids
            ):
                # Its plan would back up into a source vault and role this stack never creates.
                yield (
                    f"{path}: account {target} is not in sourceAccounts, so it has no source "
                    "vault or service role"
                )
    seen: dict[str, int] = {}
    for index, source in enumerate(sources or ()):
        path = f"sourceAccounts[{index}]"
        if source.account_id in seen:
            yield (
                f"{path}.accountId: {source.account_id} is listed twice "
                f"(also sourceAccounts[{seen[source.account_id]}])"
            )
        seen.setdefault(source.account_id, index)
        if destination is not None and source.account_id == destination.account_id:
            yield (
                f"{path}.accountId: {source.account_id} is the destination account: a copy must "
                "leave the account it protects"
            )
        if plan is not None:
            missing = [region for region in plan.regions if region not in source.regions]
            if missing:
                yield (
                    f"{path}.regions: must cover every backupPlan.regions entry: the plan runs in "
                    f"{', '.join(missing)} where this account would have no source vault"
                )
        if "manage_region_settings" in source.model_fields_set and not owns_region_settings:
            yield (
                f"{path}.manageRegionSettings: only applies when backupPlan.regionSettings is set "
                "(this stack then owns the Region settings of every source account unless it "
                "says false here); remove it"
            )


def _deployment_rules(
    organization: OrganizationConfig | None,
    sources_given: bool,
    plan: BackupPlanConfig | None,
) -> Iterable[str]:
    """How member accounts are prepared (providers or StackSets), and by whom."""
    if organization is None:
        return
    mode = organization.member_deployment
    if mode == "providers" and not sources_given:
        yield (
            "sourceAccounts: is required with organization.memberDeployment: providers (the "
            "accounts this stack prepares); or set memberDeployment: stackSets to prepare every "
            "account under the targeted roots and OUs"
        )
    if mode == "stackSets":
        if sources_given:
            yield (
                "sourceAccounts: is refused with organization.memberDeployment: stackSets: the "
                "StackSet prepares every account under organization.policyTargets; remove it"
            )
        for index, target in enumerate(organization.policy_targets):
            if ACCOUNT_ID.fullmatch(target):
                # Service-managed StackSets deploy to OUs, never to a single account id.
                yield (
                    f"organization.policyTargets[{index}]: {target} is an account; with "
                    "memberDeployment: stackSets the policy and the StackSet target roots (r-...) "
                    "and OUs (ou-...) only"
                )
        if plan is not None and plan.region_settings is not None:
            yield (
                "backupPlan.regionSettings: is refused with memberDeployment: stackSets: "
                "CloudFormation has no resource for AWS Backup Region settings; set them in "
                "each account (see docs/operations.md) and let `make doctor` check them"
            )
    delegate = organization.delegated_administrator
    if delegate is not None and delegate.account_id == organization.management_account.account_id:
        yield (
            "organization.delegatedAdministrator.accountId: must be a member account: the "
            "management account cannot be its own delegated administrator"
        )
    owner = organization.manage_global_settings
    settings = organization.global_settings
    if (
        owner
        and delegate is not None
        and settings is not None
        and not settings.is_delegated_administrator_enabled
    ):
        yield (
            "organization.globalSettings.isDelegatedAdministratorEnabled: must be true with "
            "organization.delegatedAdministrator: AWS Backup's cross-account management "
            "setting is what lets the registered delegated administrator act for it"
        )
    for index, statement in enumerate(organization.extra_delegation_statements):
        if statement.get("Sid") in OWN_SIDS:
            yield (
                f"organization.extraDelegationStatements[{index}].Sid: {statement['Sid']} is one "
                "of this program's own statements; give yours another Sid"
            )
    for key, given in (
        ("extraDelegationStatements", bool(organization.extra_delegation_statements)),
        ("importResourcePolicyId", organization.import_resource_policy_id is not None),
    ):
        if given and (delegate is None or not owner):
            yield (
                f"organization.{key}: belongs to the organization's resource policy, which the "
                "stack with manageGlobalSettings: true and a delegatedAdministrator owns; "
                "remove it here"
            )


def _operations_rules(
    prefix: str,
    restore_testing: RestoreTestingConfig | None,
    plan: BackupPlanConfig | None,
    destination: DestinationConfig | None,
    audit: AuditConfig | None,
) -> Iterable[str]:
    """Restore tests that could not run, and settings that would be silently unused."""
    if restore_testing is not None:
        regions = destination.regions if destination is not None else ()
        yield from _restore_testing_rules(prefix, restore_testing, plan, regions)
    if audit is not None and not audit.enabled and audit.report_bucket is not None:
        yield "audit.reportBucket: is only used with audit.enabled: true; remove it or enable audit"


def _restore_testing_rules(
    prefix: str,
    restore: RestoreTestingConfig,
    plan: BackupPlanConfig | None,
    regions: Sequence[str],
) -> Iterable[str]:
    """`regions`: the destination vault Regions (none known when destination is invalid)."""
    path = "restoreTesting"
    yield from _restore_testing_names(prefix, restore)
    for index, name in enumerate(restore.resource_types):
        if plan is not None and plan.resource_types and name not in plan.resource_types:
            yield (
                f"{path}.resourceTypes[{index}]: {name} is not in backupPlan.resourceTypes, so "
                "the central vault would hold no recovery point of it to test; back it up or "
                "remove it here"
            )
        if name in PLACEMENT_OVERRIDES:
            yield from _placement_rule(restore, name, regions)
    layers = [(f"{path}.metadataOverrides", restore.metadata_overrides)]
    for region, by_type in restore.region_metadata_overrides.items():
        at = f"{path}.regionMetadataOverrides.{region}"
        if regions and region not in regions:
            yield (
                f"{at}: {region} is neither destination.region nor destination.drRegion "
                f"({', '.join(regions)}), so it would never be used"
            )
        layers.append((at, by_type))
    for at, by_type in layers:
        for name, values in by_type.items():
            yield from _override_rules(f"{at}.{name}", restore, name, values)
    if len(regions) > 1:
        regional = {key.lower() for key in REGIONAL_OVERRIDES}
        for name, values in restore.metadata_overrides.items():
            for key in values:
                if key.lower() in regional:
                    yield (
                        f"{path}.metadataOverrides.{name}.{key}: names things of one Region, but "
                        f"tests run in {' and '.join(regions)}: give it per Region under "
                        f"{path}.regionMetadataOverrides.<region>.{name}.{key}"
                    )


def _override_rules(
    at: str, restore: RestoreTestingConfig, name: str, values: Mapping[str, str]
) -> Iterable[str]:
    """Overrides of a type that is not tested, and lists that AWS Backup could not read."""
    if name not in restore.resource_types:
        yield f"{at}: {name} is not in restoreTesting.resourceTypes, so it would never be used"
    lists = {key.lower() for key in LIST_OVERRIDES}
    for key, value in values.items():
        if key.lower() in lists and not _is_json_list(value):
            yield (
                f"{at}.{key}: is a list: write it as a YAML list ([{value}]); AWS Backup reads "
                'list-typed overrides as JSON arrays (AWS Backup Developer Guide, "Restore '
                'testing inferred metadata")'
            )


def _is_json_list(value: str) -> bool:
    try:
        decoded = json.loads(value)
    except ValueError:
        return False
    return isinstance(decoded, list) and all(isinstance(item, str) for item in decoded)


def _placement_rule(
    restore: RestoreTestingConfig, name: str, regions: Sequence[str]
) -> Iterable[str]:
    """A type restored into a network needs its place in the destination account, in each
    vault Region: reported once for the type when no Region has it, else per Region."""
    keys = PLACEMENT_OVERRIDES[name]
    placement = keys[0] if keys else None

    def placed(region: str) -> bool:
        given = {key.lower() for key in restore.overrides(region, name)}
        return placement.lower() in given if placement is not None else bool(given)

    missing = [region for region in regions if not placed(region)]
    if not missing:
        return
    source = 'AWS Backup Developer Guide, "Restore testing inferred metadata"'
    why = (
        "without it AWS Backup restores into the destination account's default VPC, and fails "
        f"where there is none ({source})"
    )
    if placement is None:
        what, wanted = "", f"give {FSX_PLACEMENT}"
        why = f"AWS Backup cannot infer these for FSx ({source})"
    else:
        security_groups = keys[1]
        network = "subnet" if name == "EC2" else "DB subnet group"
        what = f".{placement}"
        wanted = (
            f"the destination account's {network} to restore into, with {security_groups} "
            "for its security groups"
        )
    if len(missing) == len(regions):
        where = " (here, or per Region under restoreTesting.regionMetadataOverrides)"
        yield (
            f"restoreTesting.metadataOverrides.{name}{what}: is required to test {name}"
            f"{where if len(regions) > 1 else ''}: {wanted}; {why}"
        )
        return
    for region in missing:
        yield (
            f"restoreTesting.regionMetadataOverrides.{region}.{name}{what}: is required to test "
            f"{name} in {region}: {wanted}; {why}"
        )


def _restore_testing_names(prefix: str, restore: RestoreTestingConfig) -> Iterable[str]:
    """Names derived from the prefix that must fit restore testing's and IAM's limits."""
    limit = MAX_RESTORE_TESTING_NAME
    names = [("restoreTesting", "the restore testing plan name", restore_plan_name(prefix), limit)]
    names.extend(
        (f"restoreTesting.resourceTypes[{index}]", "the selection name", selection, limit)
        for index, selection in enumerate(
            restore_selection_name(prefix, name) for name in restore.resource_types
        )
    )
    names.append(("restoreTesting", "the IAM role name", restore_role_name(prefix), MAX_ROLE_NAME))
    for key, what, name, most in names:
        if len(name) > most:
            yield (
                f"{key}: becomes {what} {name!r} ({len(name)} characters), which allows at most "
                f"{most}: use a shorter environment"
            )


def _one_role_per_account(
    organization: OrganizationConfig | None,
    destination: DestinationConfig | None,
    sources: Sequence[SourceAccountConfig] | None,
    export: DynamoDbExportConfig | None,
    monitoring: MonitoringConfig | None = None,
) -> Iterable[str]:
    """One provider per account assumes one role (and one preview role) in it."""
    accesses: list[tuple[str, AccountAccess]] = []
    if organization is not None:
        accesses.append(("organization.managementAccount", organization.management_account))
        if organization.delegated_administrator is not None:
            accesses.append(
                ("organization.delegatedAdministrator", organization.delegated_administrator)
            )
    if destination is not None:
        accesses.append(("destination", destination))
    accesses.extend((f"sourceAccounts[{i}]", source) for i, source in enumerate(sources or ()))
    if export is not None:
        accesses.append(("dynamodbExport.bucket", export.bucket))
    if monitoring is not None and monitoring.account_id is not None and monitoring.has_roles:
        accesses.append(
            (
                "monitoring",
                AccountAccess(
                    account_id=monitoring.account_id,
                    role_arn=monitoring.role_arn,
                    preview_role_arn=monitoring.preview_role_arn,
                ),
            )
        )
    first: dict[str, tuple[str, AccountAccess]] = {}
    for path, access in accesses:
        earlier = first.setdefault(access.account_id, (path, access))
        if earlier[1].account == access.account:
            continue
        for key, mine, theirs in (
            ("roleArn", access.role_arn, earlier[1].role_arn),
            ("previewRoleArn", access.preview_role_arn, earlier[1].preview_role_arn),
        ):
            if mine != theirs:
                yield (
                    f"{path}.{key}: account {access.account_id} is also reached through "
                    f"{earlier[0]} with {key} {theirs or '(none)'}; the stack has one provider per "
                    "account, which assumes one role: use the same one"
                )


def _name_rules(prefix: str, plan: BackupPlanConfig | None) -> Iterable[str]:
    """Names derived from the stack's prefix, and names this stack must not create."""
    if plan is None:
        return
    plan_key = f"{prefix}-{plan.name}"
    if len(plan_key) > MAX_PLAN_NAME:
        yield (
            f"backupPlan.name: becomes the plan and rule name {plan_key!r} ({len(plan_key)} "
            f"characters) in the backup policy; AWS Backup allows {MAX_PLAN_NAME}: use a shorter "
            "name or environment"
        )
    role = plan.service_role_short_name
    if len(role) > MAX_ROLE_NAME:
        yield (
            f"backupPlan.serviceRoleName: {role!r} is {len(role)} characters; IAM role names take "
            f"at most {MAX_ROLE_NAME}"
        )
    if plan.create_service_role and role == CONSOLE_SERVICE_ROLE:
        yield (
            f"backupPlan.serviceRoleName: {CONSOLE_SERVICE_ROLE} is the role the AWS Backup "
            "console creates in any account where someone has used it, so creating it fails "
            "there (EntityAlreadyExists); leave serviceRoleName unset for the stack's own role, "
            "or set backupPlan.createServiceRole: false to use the console's existing role"
        )
    settings = plan.region_settings
    if settings is None:
        return
    if not plan.resource_types:
        yield (
            "backupPlan.resourceTypes: is required with backupPlan.regionSettings: the resource "
            "types the plan backs up, each of which must be opted in"
        )
    opt_in = settings.opt_in_map
    for index, name in enumerate(plan.resource_types):
        if not opt_in[name]:
            yield (
                f"backupPlan.regionSettings.optIn.{name}: must be true: "
                f"backupPlan.resourceTypes[{index}] is {name}, and AWS Backup skips "
                "tag-selected resources of types that are not opted in"
            )
    if opt_in["DynamoDB"] and not settings.full_management_map["DynamoDB"]:
        # Developer Guide, "Advanced DynamoDB backup": needed for cross-account copies, off by
        # default in accounts that had a vault before 21 November 2021, and not switched on by
        # a backup policy ("you need to manually opt-in").
        yield (
            "backupPlan.regionSettings.fullManagement.DynamoDB: must be true while DynamoDB is "
            "opted in: cross-account and cross-Region copies of DynamoDB backups need advanced "
            "DynamoDB backup"
        )


# --- parsing ----------------------------------------------------------------------------------


@cache
def _adapter(key: str) -> TypeAdapter[Any]:
    return TypeAdapter(SECTIONS[key])


def _parse_section(key: str, raw: Any, prefix: str, problems: list[str]) -> Any:
    if raw is None:
        if key not in OPTIONAL_KEYS:
            problems.append(f"{key}: is required")
        return None
    try:
        return _adapter(key).validate_python(raw, context={"prefix": prefix})
    except ValidationError as error:
        problems.extend(_problems(key, SECTIONS[key], error))
        return None


def _parse_export(raw: Any, prefix: str, problems: list[str]) -> DynamoDbExportConfig | None:
    """The export section when enabled; a disabled one is only checked for unknown keys."""
    if isinstance(raw, Mapping) and _text_to_bool(raw.get("enabled", False)) is False:
        known = [f.alias or n for n, f in DynamoDbExportConfig.model_fields.items()]
        problems.extend(
            f"dynamodbExport.{key}: {unknown_key_message(str(key), known)}"
            for key in raw
            if key not in known
        )
        return None
    export: DynamoDbExportConfig | None = _parse_section("dynamodbExport", raw, prefix, problems)
    return export


def parse_stack_config(project: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config values (already decoded from JSON/YAML) into a `StackConfig`.

    `raw` holds every key of the project's namespace, without the `<project>:` part; a key
    this program does not know is a problem (nearly always a typo that would drop a section).
    Raises `ConfigError` listing every problem found, each prefixed with its key path.
    """
    problems: list[str] = []
    namespaced = [f"{project}:{key}" for key in STACK_KEYS]
    for key in raw:
        if key not in SECTIONS:
            problems.append(
                f"{project}:{key}: {unknown_key_message(f'{project}:{key}', namespaced)}"
            )
    environment: str | None = _parse_section("environment", raw.get("environment"), "", problems)
    # Defaults derived from an invalid environment would only repeat its problem.
    prefix = f"{project}-{environment or 'env'}"
    organization: OrganizationConfig | None = _parse_section(
        "organization", raw.get("organization"), prefix, problems
    )
    destination: DestinationConfig | None = _parse_section(
        "destination", raw.get("destination"), prefix, problems
    )
    sources: tuple[SourceAccountConfig, ...] | None = _parse_section(
        "sourceAccounts", raw.get("sourceAccounts"), prefix, problems
    )
    plan: BackupPlanConfig | None = _parse_section(
        "backupPlan", raw.get("backupPlan"), prefix, problems
    )
    export = _parse_export(raw.get("dynamodbExport"), prefix, problems)
    monitoring: MonitoringConfig | None = _parse_section(
        "monitoring", raw.get("monitoring"), prefix, problems
    )
    restore_testing: RestoreTestingConfig | None = _parse_section(
        "restoreTesting", raw.get("restoreTesting"), prefix, problems
    )
    audit: AuditConfig | None = _parse_section("audit", raw.get("audit"), prefix, problems)
    problems.extend(_operations_rules(prefix, restore_testing, plan, destination, audit))
    plan_raw = raw.get("backupPlan")
    owns_region_settings = isinstance(plan_raw, Mapping) and "regionSettings" in plan_raw
    problems.extend(_section_rules(organization, destination, plan, export))
    problems.extend(
        _cross_section_rules(organization, destination, sources, plan, owns_region_settings)
    )
    problems.extend(_name_rules(prefix, plan))
    sources_given = raw.get("sourceAccounts") is not None
    problems.extend(_deployment_rules(organization, sources_given, plan))
    problems.extend(_one_role_per_account(organization, destination, sources, export, monitoring))
    if problems:
        raise ConfigError(problems)
    assert environment and organization and destination and plan  # no problems: all present
    return StackConfig(
        project,
        environment,
        organization,
        destination,
        sources or (),
        plan,
        export,
        monitoring,
        restore_testing,
        audit if audit is not None and audit.enabled else None,
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
            structured = key in SECTIONS and key != "environment"
            raw[key] = config.get_object(key) if structured else config.get(key)
        except Exception as error:  # noqa: BLE001 - any decoding failure is a user-facing config problem
            problems.append(f"{key}: is not valid JSON/YAML ({error})")
    if problems:
        raise ConfigError(problems)
    return parse_stack_config(
        project, {key: value for key, value in raw.items() if value is not None}
    )
