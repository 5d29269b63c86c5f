"""Scalar types of the stack configuration: each value's check and its JSON Schema in one place.

Identifiers (account ids, ARNs, names) with AWS's own formats and limits, numbers in range,
schedules, Regions: a key declared with one of these types is checked when the stack is
validated and described the same way in `schema/stack.schema.json`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic.json_schema import WithJsonSchema

from config.errors import did_you_mean
from config.errors import problem as _problem

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
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096),
    *(1827, 2192, 2557, 2922, 3288, 3653),
)


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
        raise _problem(
            f"is not a known AWS Region: {value!r}{did_you_mean(value, sorted(known_regions()))}"
        )
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
