"""Settings of the DynamoDB exporter and the consistent cut of one run.

Everything the function reads from its environment or its event is parsed and
checked here, so that a bad deployment fails with one message naming every
offending variable instead of a KeyError in the middle of a run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# AWS documents at most 300 exports in flight per account (DynamoDB service quotas);
# anything above would only turn into LimitExceededException.
AWS_EXPORT_LIMIT = 300
# 20 slots of the 300 stay free for other tools (docs/dynamodb-exporter.md, "The cap").
DEFAULT_MAX_CONCURRENT_EXPORTS = 280
DEFAULT_WORKER_THREADS = 16
MAX_WORKER_THREADS = 64
# Incremental deployments take a full export every this many days, so a restore never
# needs objects older than the bucket's retention (which must exceed the interval).
DEFAULT_FULL_EXPORT_INTERVAL_DAYS = 7
MAX_FULL_EXPORT_INTERVAL_DAYS = 365
# Point-in-time recovery keeps at most 35 days (RecoveryPeriodInDays 1..35): an older
# cut cannot be exported from any table. Nor does any table keep less than a day.
PITR_MAX_WINDOW = timedelta(days=35)
MIN_PITR_WINDOW = timedelta(days=1)

SSE_ALGORITHMS = ("AES256", "KMS")
EXPORT_FORMATS = ("DYNAMODB_JSON", "ION")
EXPORT_TYPES = ("FULL_EXPORT", "INCREMENTAL_EXPORT")
VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")

# ENV becomes the first segment of every S3 key; keep it to characters that need no
# escaping and cannot smuggle in extra path segments.
_ENV_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# S3 bucket naming rules (general purpose buckets), close enough to reject typos early.
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
_TIME_OF_DAY_PATTERN = re.compile(r"^(\d{1,2}):(\d{2})$")
# DynamoDB table names (API reference, CreateTable TableName): 3-255 of these characters.
_TABLE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# EventBridge Scheduler group names: 1-64 of these characters (API reference, CreateScheduleGroup).
_SCHEDULE_GROUP_PATTERN = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class ConfigurationError(Exception):
    """The function's environment is unusable; the message names every bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


class InvalidEventError(ValueError):
    """The invocation event carries a field that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    """All settings of one deployment, parsed from the environment."""

    bucket: str
    bucket_owner: str
    env: str
    sse_algorithm: str = "AES256"
    kms_key_id: str | None = None
    export_format: str = "DYNAMODB_JSON"
    export_type: str = "FULL_EXPORT"
    view_type: str = "NEW_AND_OLD_IMAGES"
    max_concurrent_exports: int = DEFAULT_MAX_CONCURRENT_EXPORTS
    include_tables: tuple[str, ...] = ()
    exclude_tables: tuple[str, ...] = ()
    export_time_of_day: time = time(0, 0)
    worker_threads: int = DEFAULT_WORKER_THREADS
    full_export_interval_days: int = DEFAULT_FULL_EXPORT_INTERVAL_DAYS
    # The run state of each cut lives in this DynamoDB table of the exporter's own account;
    # it is never exported (see handler).
    state_table: str = "dynamodb-export-state"
    # Continuations (EventBridge Scheduler one-time schedules) are on when both are set.
    schedule_group: str | None = None
    scheduler_role_arn: str | None = None

    @property
    def continuations(self) -> bool:
        """True when a run that leaves work schedules its own continuation."""
        return self.schedule_group is not None and self.scheduler_role_arn is not None

    @property
    def incremental(self) -> bool:
        """True when the deployment chains incremental exports."""
        return self.export_type == "INCREMENTAL_EXPORT"

    def is_periodic_full_day(self, cut: datetime) -> bool:
        """True when an incremental deployment takes a full export at this cut.

        Stateless on purpose: the cut's UTC date alone decides, so every run of the
        day (and every table) agrees without reading the chain.
        """
        return cut.astimezone(UTC).date().toordinal() % self.full_export_interval_days == 0


def _get(environ: Mapping[str, str], name: str) -> str | None:
    # Deployment tools often pass optional settings as empty strings: treat as unset.
    value = environ.get(name, "").strip()
    return value or None


def _choice(
    environ: Mapping[str, str],
    name: str,
    allowed: tuple[str, ...],
    problems: list[str],
) -> str:
    raw = _get(environ, name)
    if raw is None:
        return allowed[0]
    value = raw.upper()
    if value not in allowed:
        problems.append(f"{name}={raw!r} must be one of {', '.join(allowed)}")
        return allowed[0]
    return value


def _int_in_range(
    environ: Mapping[str, str],
    name: str,
    default: int,
    low: int,
    high: int,
    problems: list[str],
) -> int:
    raw = _get(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not an integer")
        return default
    if not low <= value <= high:
        problems.append(f"{name}={value} must be between {low} and {high}")
        return default
    return value


def _patterns(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _get(environ, name) or ""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _matching(
    environ: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str, problems: list[str]
) -> str | None:
    value = _get(environ, name)
    if value is not None and not pattern.match(value):
        problems.append(f"{name}={value!r} is not {what}")
        return None
    return value


def _time_of_day(environ: Mapping[str, str], problems: list[str]) -> time:
    name = "EXPORT_TIME_OF_DAY"
    raw = _get(environ, name)
    if raw is None:
        return time(0, 0)
    match = _TIME_OF_DAY_PATTERN.match(raw)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        problems.append(f"{name}={raw!r} must be HH:MM (UTC, 00:00-23:59)")
        return time(0, 0)
    return time(int(match.group(1)), int(match.group(2)))


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Parse the environment into Settings.

    Raises ConfigurationError listing every problem found, not just the first one.
    """
    problems: list[str] = []

    bucket = _get(environ, "S3_BUCKET_DEST")
    if bucket is None:
        problems.append("S3_BUCKET_DEST is required (name of the destination bucket)")
    elif not _BUCKET_PATTERN.match(bucket):
        problems.append(f"S3_BUCKET_DEST={bucket!r} is not a valid S3 bucket name")

    owner = _get(environ, "S3_BUCKET_OWNER")
    if owner is None:
        problems.append("S3_BUCKET_OWNER is required (12-digit account id owning the bucket)")
    elif not _ACCOUNT_PATTERN.match(owner):
        problems.append(f"S3_BUCKET_OWNER={owner!r} must be a 12-digit AWS account id")

    env = _get(environ, "ENV")
    if env is None:
        problems.append("ENV is required (first segment of the S3 prefix)")
    elif not _ENV_PATTERN.match(env):
        problems.append(f"ENV={env!r} may only contain letters, digits, '.', '_' and '-'")

    sse = _choice(environ, "S3_SSE_ALGORITHM", SSE_ALGORITHMS, problems)
    kms_key_id = _get(environ, "S3_SSE_KMS_KEY_ID")
    if sse == "KMS" and kms_key_id is None:
        problems.append("S3_SSE_KMS_KEY_ID is required when S3_SSE_ALGORITHM=KMS")
    if sse != "KMS" and kms_key_id is not None:
        # A key id that is silently ignored would mean data encrypted with another key
        # than the operator believes.
        problems.append("S3_SSE_KMS_KEY_ID is set but S3_SSE_ALGORITHM is not KMS")

    export_format = _choice(environ, "EXPORT_FORMAT", EXPORT_FORMATS, problems)
    export_type = _choice(environ, "EXPORT_TYPE", EXPORT_TYPES, problems)
    view_type = _choice(environ, "EXPORT_VIEW_TYPE", VIEW_TYPES, problems)
    if _get(environ, "EXPORT_VIEW_TYPE") is not None and export_type != "INCREMENTAL_EXPORT":
        problems.append("EXPORT_VIEW_TYPE only applies to EXPORT_TYPE=INCREMENTAL_EXPORT")

    max_exports = _int_in_range(
        environ,
        "MAX_CONCURRENT_EXPORTS",
        DEFAULT_MAX_CONCURRENT_EXPORTS,
        1,
        AWS_EXPORT_LIMIT,
        problems,
    )
    threads = _int_in_range(
        environ, "WORKER_THREADS", DEFAULT_WORKER_THREADS, 1, MAX_WORKER_THREADS, problems
    )
    time_of_day = _time_of_day(environ, problems)
    # Accepted (and range-checked) with full exports too, where it has no effect, so
    # that a deployment can always pass it.
    full_interval = _int_in_range(
        environ,
        "FULL_EXPORT_INTERVAL_DAYS",
        DEFAULT_FULL_EXPORT_INTERVAL_DAYS,
        1,
        MAX_FULL_EXPORT_INTERVAL_DAYS,
        problems,
    )

    state_table = _matching(
        environ, "STATE_TABLE", _TABLE_NAME_PATTERN, "a DynamoDB table name", problems
    )
    if _get(environ, "STATE_TABLE") is None:
        problems.append("STATE_TABLE is required (DynamoDB table holding the run state)")
    group = _matching(
        environ,
        "SCHEDULE_GROUP",
        _SCHEDULE_GROUP_PATTERN,
        "an EventBridge Scheduler group name",
        problems,
    )
    scheduler_role = _matching(
        environ, "SCHEDULER_ROLE_ARN", _ROLE_ARN_PATTERN, "an IAM role ARN", problems
    )
    # Half a continuation setup would silently fall back to catch-up runs only.
    for present, missing in (
        ("SCHEDULE_GROUP", "SCHEDULER_ROLE_ARN"),
        ("SCHEDULER_ROLE_ARN", "SCHEDULE_GROUP"),
    ):
        if _get(environ, present) is not None and _get(environ, missing) is None:
            problems.append(f"{missing} is required when {present} is set (continuations)")

    if problems:
        raise ConfigurationError(problems)
    # The checks above guarantee these are set; the asserts narrow the types.
    assert bucket is not None and owner is not None and env is not None
    assert state_table is not None
    return Settings(
        bucket=bucket,
        bucket_owner=owner,
        env=env,
        sse_algorithm=sse,
        kms_key_id=kms_key_id,
        export_format=export_format,
        export_type=export_type,
        view_type=view_type,
        max_concurrent_exports=max_exports,
        include_tables=_patterns(environ, "INCLUDE_TABLES"),
        exclude_tables=_patterns(environ, "EXCLUDE_TABLES"),
        export_time_of_day=time_of_day,
        worker_threads=threads,
        full_export_interval_days=full_interval,
        state_table=state_table,
        schedule_group=group,
        scheduler_role_arn=scheduler_role,
    )


def _parse_instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidEventError(
            f"event field {field!r} must be an ISO-8601 string, got {type(value).__name__}"
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEventError(
            f"event field {field!r}={value!r} is not an ISO-8601 date-time"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidEventError(
            f"event field {field!r}={value!r} has no time zone (add 'Z' or '+00:00')"
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+05:00: valid ISO-8601, but before datetime.min in UTC.
        raise InvalidEventError(f"event field {field!r}={value!r} is out of range in UTC") from None


def resolve_cut(event: Any, settings: Settings, now: datetime) -> datetime:
    """Return the instant every table is exported as of (UTC, whole seconds).

    `exportTime` in the event (manual backfill) wins; otherwise the UTC date of the
    EventBridge `time` field (or of `now`) at EXPORT_TIME_OF_DAY. Using the event's
    time, not the clock, keeps a Lambda retry or a late catch-up run on the same cut.

    Raises InvalidEventError, naming the field, for anything else: a non-string, a
    malformed or zone-less date-time, one outside datetime's range, or a cut in the
    future or more than 35 days back (no table's PITR window reaches it).
    """
    fields: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    now = now.astimezone(UTC)
    if fields.get("exportTime") is not None:
        cut = _parse_instant(fields["exportTime"], "exportTime")
        source = "event field 'exportTime'"
    else:
        if fields.get("time") is not None:
            day: date = _parse_instant(fields["time"], "time").date()
            source = "date of event field 'time' at EXPORT_TIME_OF_DAY"
        else:
            day = now.astimezone(UTC).date()
            source = "today at EXPORT_TIME_OF_DAY"
        cut = datetime.combine(day, settings.export_time_of_day, tzinfo=UTC)
    return _checked_cut(cut, source, now)


def _checked_cut(cut: datetime, source: str, now: datetime) -> datetime:
    # DynamoDB exports at per-second granularity; dropping fractions keeps the cut
    # comparable with the ExportTime that DescribeExport reports back.
    cut = cut.replace(microsecond=0)
    if cut > now:
        raise InvalidEventError(
            f"export time {cut.isoformat()} ({source}) is in the future "
            f"(now {now.replace(microsecond=0).isoformat()})"
        )
    # Comparing with now - 35 days, not subtracting from the cut, cannot overflow;
    # it also keeps cuts like year 1 away from the engine's date arithmetic.
    if cut < now - PITR_MAX_WINDOW:
        raise InvalidEventError(
            f"export time {cut.isoformat()} ({source}) is more than 35 days before now "
            f"({now.replace(microsecond=0).isoformat()}): outside every table's "
            "point-in-time recovery window"
        )
    return cut


_RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# A chain of a few minutes' waves for a day; far above any real wave count.
MAX_WAVE = 100_000


@dataclass(frozen=True)
class Continuation:
    """A run scheduled by an earlier run of the same cut (EventBridge Scheduler payload)."""

    cut: datetime
    run_id: str
    wave: int

    def payload(self, settings: Settings) -> dict[str, Any]:
        """The event the schedule sends: a few hundred bytes whatever the table count."""
        return {
            "continuation": {
                "exportTime": self.cut.isoformat(),
                "runId": self.run_id,
                "wave": self.wave,
                "stateTable": settings.state_table,
            }
        }


def parse_continuation(event: Any, settings: Settings, now: datetime) -> Continuation | None:
    """The event's `continuation` object, or None for a scheduled or manual run.

    Raises InvalidEventError naming the field (`continuation.exportTime`, ...) when it
    is malformed, or when it points at another state table than this deployment's.
    """
    fields: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    raw = fields.get("continuation")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidEventError(
            f"event field 'continuation' must be an object, got {type(raw).__name__}"
        )
    field = "continuation.exportTime"
    cut = _checked_cut(_parse_instant(raw.get("exportTime"), field), f"event field {field!r}", now)
    run_id = raw.get("runId")
    if not isinstance(run_id, str) or not _RUN_ID_PATTERN.match(run_id):
        raise InvalidEventError(
            f"event field 'continuation.runId'={run_id!r} must be 1-64 letters, digits or '-'"
        )
    wave = raw.get("wave")
    # bool is an int subclass; True is not a wave number.
    if not isinstance(wave, int) or isinstance(wave, bool) or not 1 <= wave <= MAX_WAVE:
        raise InvalidEventError(
            f"event field 'continuation.wave'={wave!r} must be an integer 1..{MAX_WAVE}"
        )
    table = raw.get("stateTable")
    if table != settings.state_table:
        raise InvalidEventError(
            f"event field 'continuation.stateTable'={table!r} is not this deployment's "
            f"state table {settings.state_table!r}"
        )
    return Continuation(cut=cut, run_id=run_id, wave=wave)


@dataclass(frozen=True)
class Scope:
    """Where the function runs: every table it exports belongs to this account and Region."""

    partition: str
    account: str
    region: str

    def table_arn(self, table: str) -> str:
        """ARN of a table of this account and Region."""
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{table}"

    def account_root(self, settings: Settings) -> str:
        """{ENV}/{account}/{region}/: everything this exporter writes, with a trailing slash.

        Same-named tables of other accounts and Regions land elsewhere, and the bucket
        policy can let each exporter role write under its own root only.
        """
        return f"{settings.env}/{self.account}/{self.region}/"


def s3_prefix(settings: Settings, scope: Scope, table: str, cut: datetime) -> str:
    """{ENV}/{account}/{region}/{table}/{YYYY}/{MM}/{DD} (AWS adds AWSDynamoDB/<id>/)."""
    return f"{table_root(settings, scope, table)}{cut:%Y}/{cut:%m}/{cut:%d}"


def table_root(settings: Settings, scope: Scope, table: str) -> str:
    """Prefix under which all exports of one table live, with a trailing slash."""
    return f"{scope.account_root(settings)}{table}/"


# AWS accepts incremental windows from 15 minutes to 24 hours.
INCREMENTAL_MIN_WINDOW = timedelta(minutes=15)
INCREMENTAL_MAX_WINDOW = timedelta(hours=24)
