"""The operations sections: alerts (monitoring), restore testing and audit."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, model_validator
from pydantic.json_schema import WithJsonSchema

from config.errors import problem as _problem
from config.errors import unknown_key_message
from config.scalars import (
    AccountId,
    Bool,
    BucketName,
    CronSchedule,
    Region,
    RoleArn,
    TagKey,
    Text,
    _digits_to_int,
    _unique,
    between,
    matches,
    number_schema,
    pattern_schema,
)
from config.section import Section
from policies.alerts import JOB_STATES

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


# A selection names at most 30 protected resources, or takes conditions instead (AWS Backup API
# reference, RestoreTestingSelectionForCreate: "you can include up to 30 specific protected
# resource ARNs in ProtectedResourceArns"; "Restore testing quotas and parameters").
MAX_SELECTION_ARNS = 30
# The ARN of one resource (S3 buckets have neither Region nor account in theirs); no wildcard.
PROTECTED_RESOURCE_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:[^*\s]+$")
TAG_VALUE = re.compile(r"^.{0,256}$")


def _not_reserved_tag(key: str) -> str:
    # AWS reserves the `aws:` prefix for its own tags; the condition key is built from this
    # (`aws:ResourceTag/<key>`, policies/restore.py), so the prefix is never written here.
    if key.lower().startswith("aws:"):
        raise _problem(
            "is the tag key alone (the stack writes aws:ResourceTag/<key>); a tag key cannot "
            "start with aws:"
        )
    return key


ProtectedResourceArn = Annotated[
    str,
    Strict(),
    matches(PROTECTED_RESOURCE_ARN, "the ARN of one protected resource (no wildcard)"),
    pattern_schema(PROTECTED_RESOURCE_ARN),
]


class RestoreTag(Section):
    """Resources whose latest recovery point in the vault carries this tag are tested."""

    key: Annotated[TagKey, AfterValidator(_not_reserved_tag)] = Field(
        description="Tag key (without aws:ResourceTag/)"
    )
    value: Annotated[Text, matches(TAG_VALUE, "at most 256 characters")] = Field(
        description="Tag value; only this value selects"
    )


class RestoreSelection(Section):
    """The resources of one type that a restore test picks: by tag, or by ARN."""

    tag: RestoreTag | None = Field(
        default=None,
        description="Test the resources carrying this tag (their copies in the vault must "
        "carry it too)",
    )
    protected_resource_arns: (
        Annotated[
            tuple[ProtectedResourceArn, ...],
            Field(min_length=1, max_length=MAX_SELECTION_ARNS),
            AfterValidator(_unique),
        ]
        | None
    ) = Field(
        default=None,
        description=f"Test exactly these resources (at most {MAX_SELECTION_ARNS} ARNs of the "
        "source accounts' resources)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> RestoreSelection:
        # The provider takes exactly one of protected_resource_arns and
        # protected_resource_conditions; AWS refuses specific ARNs together with conditions
        # (CreateRestoreTestingSelection: "Cannot select by both protected resource types AND
        # specific ARNs").
        if (self.tag is None) == (self.protected_resource_arns is None):
            raise _problem("give either tag or protectedResourceArns (exactly one)")
        return self


class DrRegionRestoreTests(Section):
    """The DR Region's restore testing plan: optional, on its own schedule."""

    enabled: Bool = Field(default=True, description="false: no restore tests in the DR Region")
    schedule_expression: CronSchedule = Field(
        description="AWS cron(...) of the DR Region's test runs, in UTC (usually rarer than "
        "the primary's)"
    )


# The keys that make a restoreTesting section sample; a section with none of them is the
# previous release's form (every resource, both Regions), kept for one release.
SAMPLING_KEYS = frozenset({"selections", "allow_all_resources", "dr_region"})


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
    selections: dict[RestoreType, RestoreSelection] = Field(
        default_factory=dict,
        description="Per type, the resources tested: by tag or by at most 30 ARNs",
    )
    allow_all_resources: Bool = Field(
        default=False,
        description="true: a type without a selection tests every resource of that type in "
        "the vault (each run restores one recovery point per resource)",
    )
    dr_region: DrRegionRestoreTests | None = Field(
        default=None,
        description="Restore tests in destination.drRegion too, on their own schedule; "
        "unset: the DR Region is not tested",
    )

    @property
    def samples(self) -> bool:
        """False for a section in the previous release's form (none of the sampling keys):
        every resource of each type is tested, in every vault Region, on one schedule."""
        return bool(SAMPLING_KEYS & self.model_fields_set)

    def selection(self, resource_type: str) -> RestoreSelection | None:
        """The type's selection; None: every resource of the type (the wildcard)."""
        return self.selections.get(resource_type)

    def schedules(self, primary: str, dr: str | None) -> dict[str, str]:
        """Vault Region -> the cron of its tests: the primary always, the DR Region with
        `drRegion.enabled` (on its schedule), or in the previous form on the primary's."""
        tested = {primary: self.schedule_expression}
        if dr is None:
            return tested
        if not self.samples:
            tested[dr] = self.schedule_expression
        elif self.dr_region is not None and self.dr_region.enabled:
            tested[dr] = self.dr_region.schedule_expression
        return tested

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
