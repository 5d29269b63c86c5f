"""AWS Backup documents: the destination vault access policy and the Organizations backup policy.

Backup policy syntax: AWS Organizations User Guide, "Backup policy syntax and examples"
(orgs_manage_policies_backup_syntax). Every value is set with the `@@assign` operator, numbers
are strings, and `copy_actions` are keyed by the destination vault ARN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policies.arns import PARTITION, account_root
from policies.statements import (
    PolicyDocument,
    RoleScope,
    aws_principals,
    document,
    scoped_allows,
)

# AWS Organizations quota: "Maximum size of a policy document: ... Backup policies: 10,000 characters".
MAX_BACKUP_POLICY_CHARACTERS = 10_000
COPY_INTO_VAULT = "backup:CopyIntoBackupVault"
SELECTION_NAME = "tagged-resources"
# Child control operator (Organizations User Guide, "Inheritance operators"): `@@none` on a
# node stops policies attached lower in the tree (an OU's, an account's) from changing it.
CHILD_CONTROL = "@@operators_allowed_for_child_policies"
NO_CHILD_CHANGES = ["@@none"]


class PolicyTooLargeError(ValueError):
    """The rendered backup policy exceeds what AWS Organizations accepts."""


def vault_access_policy(vault_arn: str, copiers: RoleScope) -> PolicyDocument:
    """Lets the source accounts' backup service role (in the accounts of `copiers`) copy into
    this vault. Nothing else: no read, no delete, no policy changes.

    A copy job runs as the IAM role of the plan that made the recovery point, which the
    backup policy names (`iam_role_arn`), so that role is the principal the vault's policy
    sees; "The absence of this policy will deny attempts to copy into the destination
    account" (AWS Backup Developer Guide, "Creating backup copies across AWS accounts").
    """
    return document(
        *scoped_allows("AllowCopiesFromSourceBackupRoles", COPY_INTO_VAULT, vault_arn, copiers)
    )


def copy_back_vault_policy(
    vault_arn: str, destination_account_id: str, copy_back_role_arn: str
) -> PolicyDocument:
    """A source vault's access policy admitting copies back from the destination's copy-back
    role only.

    AWS Backup restores only in the account that holds the recovery point ("AWS Backup does
    not support recovering resources from one AWS account to another. However, you can copy
    a backup from one account to a different account and then restore it in that account",
    Developer Guide, "Creating backup copies across AWS accounts"); the copy back into this
    vault is refused unless its access policy allows `backup:CopyIntoBackupVault` (same page).
    The copy job runs as the role it is started with, so, as for the central vaults, only that
    role is admitted (`aws:PrincipalArn`, which is the role's ARN for its sessions: IAM User
    Guide, "AWS global condition context keys"), under the destination account's root as the
    principal, as `workload_key_statements` does: the policy then does not depend on the role
    existing when it is set (a member account's stack instance may come before it).
    """
    return document(
        {
            "Sid": "AllowCopiesBackFromDestinationCopyBackRole",
            "Effect": "Allow",
            "Principal": aws_principals([account_root(destination_account_id)]),
            "Action": COPY_INTO_VAULT,
            "Resource": vault_arn,
            "Condition": {"ArnLike": {"aws:PrincipalArn": copy_back_role_arn}},
        }
    )


def _assign(value: Any) -> dict[str, Any]:
    return {"@@assign": value}


def _tags(tags: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        key: {"tag_key": _assign(key), "tag_value": _assign(value)} for key, value in sorted(tags)
    }


def _lifecycle(delete_after_days: int, cold_storage_after_days: int | None) -> dict[str, Any]:
    lifecycle = {"delete_after_days": _assign(str(delete_after_days))}
    if cold_storage_after_days is not None:
        lifecycle["move_to_cold_storage_after_days"] = _assign(str(cold_storage_after_days))
    return lifecycle


def backup_policy_document(
    *,
    plan_name: str,
    regions: Sequence[str],
    schedule_expression: str,
    start_window_minutes: int,
    complete_window_minutes: int,
    delete_after_days: int,
    cold_storage_after_days: int | None,
    source_vault_name: str,
    copy_target_vault_arns: Sequence[str],
    copy_delete_after_days: int,
    copy_cold_storage_after_days: int | None,
    selection_tag_key: str,
    selection_tag_values: Sequence[str],
    service_role_name: str,
    windows_vss: bool,
    recovery_point_tags: Sequence[tuple[str, str]],
    plan_tags: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The Organizations BACKUP_POLICY document for one plan with one rule.

    `plan_name` keys both the plan and its rule: pass the stack's namespaced name, since
    Organizations merges inherited policies by plan key. The plan is locked against child
    policies (`lock_against_child_policies`) but the top-level `plans` node is not, so another
    stack's differently named plan still merges in beside it.
    Backups land in `source_vault_name` in each member account (never `Default`, whose AWS
    managed key cannot be shared), then are copied to every `copy_target_vault_arns` entry.
    The service role is named per member account through the `$account` variable.
    """
    copy_lifecycle = _lifecycle(copy_delete_after_days, copy_cold_storage_after_days)
    rule = {
        "schedule_expression": _assign(schedule_expression),
        "start_backup_window_minutes": _assign(str(start_window_minutes)),
        "complete_backup_window_minutes": _assign(str(complete_window_minutes)),
        "lifecycle": _lifecycle(delete_after_days, cold_storage_after_days),
        "target_backup_vault_name": _assign(source_vault_name),
        "recovery_point_tags": _tags(recovery_point_tags),
        "copy_actions": {
            arn: {"target_backup_vault_arn": _assign(arn), "lifecycle": copy_lifecycle}
            for arn in copy_target_vault_arns
        },
    }
    plan = {
        "regions": _assign(list(regions)),
        "rules": {plan_name: rule},
        "selections": {
            "tags": {
                SELECTION_NAME: {
                    "iam_role_arn": _assign(
                        f"arn:{PARTITION}:iam::$account:role/{service_role_name}"
                    ),
                    "tag_key": _assign(selection_tag_key),
                    "tag_value": _assign(list(selection_tag_values)),
                }
            }
        },
        "advanced_backup_settings": {
            "ec2": {"windows_vss": _assign("enabled" if windows_vss else "disabled")}
        },
        "backup_plan_tags": _tags(plan_tags),
    }
    return {"plans": {plan_name: lock_against_child_policies(plan)}}


def lock_against_child_policies(node: dict[str, Any]) -> dict[str, Any]:
    """A copy of `node` with `@@none` child control on it and on every object below it.

    AWS's example ("Backup policy syntax and examples", the policy that prevents child
    policies from changing a plan) repeats the operator on every node rather than relying on
    a parent's lock covering its descendants, so this does too. Values of `@@assign` are
    strings or lists, never objects, so they are left as they are.
    """
    locked: dict[str, Any] = {CHILD_CONTROL: list(NO_CHILD_CHANGES)}
    for key, value in node.items():
        locked[key] = lock_against_child_policies(value) if isinstance(value, dict) else value
    return locked


def render_backup_policy(policy: dict[str, Any]) -> str:
    """Compact JSON of a backup policy, refused when over AWS's 10,000-character limit."""
    rendered = json.dumps(policy, separators=(",", ":"), sort_keys=True)
    if len(rendered) > MAX_BACKUP_POLICY_CHARACTERS:
        raise PolicyTooLargeError(
            f"the organization backup policy is {len(rendered):,} characters; AWS Organizations "
            f"accepts at most {MAX_BACKUP_POLICY_CHARACTERS:,} (use fewer copy targets, regions, "
            "selection values or tags)"
        )
    return rendered
