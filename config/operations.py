"""The operations sections: alerts (monitoring), restore testing and audit."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict
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
