"""Restore testing as plain data: names, the recovery point selection and the restore role.

Sources (AWS Backup Developer Guide unless said otherwise):

- "Restore testing": a plan picks recovery points, its selections pick resource types, and AWS
  Backup restores, keeps the result for the validation window, then deletes it. Plans are
  Regional (CreateRestoreTestingPlan is a Regional API, the plan's ARN carries the Region, and
  its IncludeVaults are vault ARNs). "Restore testing quotas and parameters": plan and
  selection names are at most 50 characters, 30 selections per plan.
- API reference, RestoreTestingPlanForCreate / RestoreTestingSelectionForCreate: names of only
  alphanumeric characters and underscores; `ProtectedResourceArns: ["*"]` selects every
  protected resource of the selection's type, "Alternatively, you can include up to 30
  specific protected resource ARNs"; `ProtectedResourceConditions` (`StringEquals`, a list of
  `KeyValue`) selects by tag. "Restore testing": each run restores "one eligible recovery point
  per protected resource in selection", and conditions are evaluated against the tags of the
  latest recovery point in the vault, so the tag must be on the central copies.
- Condition keys: the pinned provider documents `aws:ResourceTag/<key>` ("must start with one
  of the following prefixes: aws:ResourceTag/", pulumi-aws `aws.backup.RestoreTestingSelection`
  `protected_resource_conditions.string_equals.key`), while botocore's KeyValue says a key
  cannot start with `aws:`. The stack writes the provider's form; the acceptance runbook's
  restore testing step proves that AWS accepts it and selects the tagged copy.
- API reference, RestoreTestingRecoveryPointSelection: Algorithm `LATEST_WITHIN_WINDOW` or
  `RANDOM_WITHIN_WINDOW`, IncludeVaults as vault ARNs, RecoveryPointTypes `SNAPSHOT` and/or
  `CONTINUOUS`, SelectionWindowDays 1-365.
- "Restore testing" (create a plan, part II): "The IAM role you choose for restore testing must
  contain the permissions found in AWSBackupServiceRolePolicyForRestores"; S3 restores need
  `AWSBackupServiceRolePolicyForS3Restore` as well ("Amazon S3 backups").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from policies.iam import RESTORES_POLICY, S3_RESTORE_POLICY

T = TypeVar("T")

# Restore testing plan and selection names: letters, digits and underscores, at most 50.
MAX_NAME = 50
NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")
ALGORITHM = "LATEST_WITHIN_WINDOW"
# The organization's backup plan takes snapshots only (policies/backup.py sets no continuous
# backup), so the central vault holds no continuous recovery points to choose from.
RECOVERY_POINT_TYPES = ("SNAPSHOT",)
# Every protected resource of the selection's type that has a recovery point in the plan's
# vaults: the central vault holds the copies of every source account's resources. Only with
# `restoreTesting.allowAllResources` (or a section in the previous release's form).
ALL_PROTECTED_RESOURCES = ("*",)
RESOURCE_TAG_KEY = "aws:ResourceTag/"


def tag_condition(tag_key: str, value: str) -> dict[str, str]:
    """One `StringEquals` entry of `ProtectedResourceConditions` for a tag key and value."""
    return {"key": f"{RESOURCE_TAG_KEY}{tag_key}", "value": value}


def name_stem(name_prefix: str) -> str:
    """The stack's name prefix as restore testing names allow it (`-` and `.` become `_`)."""
    return NOT_IN_NAME.sub("_", name_prefix)


def plan_name(name_prefix: str) -> str:
    """The restore testing plan's name, the same in each vault Region (plans are Regional)."""
    return f"{name_stem(name_prefix)}_restore_tests"


def selection_name(name_prefix: str, resource_type: str) -> str:
    """One selection per resource type: `<stem>_<type>` (types are letters and digits)."""
    return f"{name_stem(name_prefix)}_{resource_type.lower()}"


def role_name(name_prefix: str) -> str:
    """The restore role: one per destination account, as IAM is global."""
    return f"{name_prefix}-restore-testing"


def role_policies(resource_types: Sequence[str]) -> tuple[str, ...]:
    """The AWS managed policies (names with path) the restore role needs for these types."""
    if "S3" in resource_types:
        return (RESTORES_POLICY, S3_RESTORE_POLICY)
    return (RESTORES_POLICY,)


def recovery_point_selection(vault_arn: T, selection_window_days: int) -> dict[str, Any]:
    """The newest snapshot of each protected resource within the window, in one vault only.

    `vault_arn` is the vault's ARN, or a Pulumi output of it (which also makes the plan wait
    for the vault).
    """
    return {
        "algorithm": ALGORITHM,
        "include_vaults": [vault_arn],
        "recovery_point_types": list(RECOVERY_POINT_TYPES),
        "selection_window_days": selection_window_days,
    }
