"""The backup plan section: schedule, lifecycle, selection, service role and Region settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, Field, Strict, create_model, field_validator
from pydantic.json_schema import WithJsonSchema

from config.errors import problem as _problem
from config.errors import unknown_key_message
from config.scalars import (
    MAX_ROLE_NAME,
    MAX_VAULT_NAME,
    Bool,
    CronSchedule,
    Days,
    Minutes,
    PlanName,
    Regions,
    RoleName,
    StartMinutes,
    TagKey,
    TagValues,
    Text,
    VaultName,
    _unique,
)
from config.section import Section, default_name

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


class SelectionTag(Section):
    """Resources carrying this tag with one of these values are backed up."""

    key: TagKey = Field(description="Tag key")
    values: TagValues = Field(description="Tag values; any of them selects")


class CompleteMap(Section):
    """A map that must name every key: the provider reads every one back."""

    every_key: ClassVar[bool] = True


def _type_map(name: str, types: Sequence[str], what: str) -> type[Section]:
    """A model with one required boolean per resource type (keys exactly as AWS spells them)."""
    fields: dict[str, Any] = {
        type_name.replace(" ", "_"): (Bool, Field(alias=type_name, description=what))
        for type_name in types
    }
    model: type[Section] = create_model(name, __base__=CompleteMap, **fields)
    return model


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
        default_name("source", MAX_VAULT_NAME)
    )
    _default_role_name = field_validator("service_role_name", mode="before")(
        default_name("backup-service", MAX_ROLE_NAME)
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
