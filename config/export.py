"""The DynamoDB export section: the bucket (possibly outside the organization) and the schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.scalars import (
    DEFAULT_CATCH_UP_SCHEDULE,
    Bool,
    BucketName,
    CatchUpSchedule,
    Days,
    ExportSlots,
    IntervalDays,
    LogRetentionDays,
    Patterns,
    Region,
    Schedule,
)
from config.section import AccountAccess, Section

ExportFormat = Literal["DYNAMODB_JSON", "ION"]
ExportType = Literal["FULL_EXPORT", "INCREMENTAL_EXPORT"]
BucketEncryption = Literal["SSE_S3", "KMS"]


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
