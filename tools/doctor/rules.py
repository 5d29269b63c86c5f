"""The doctor's decisions, as pure functions of what AWS answered: no calls, no clients.

Each returns a status and a text that says what is wrong and how to fix it (empty when ok).
Policies are read the way the checks need, not evaluated in full: "does an Allow statement
name this account for these actions", with conditions left aside; `flows/evaluator.py`
is the project's evaluator where a test needs more.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config import VaultLockConfig
from policies.arns import PARTITION
from policies.backup import COPY_INTO_VAULT
from policies.kms import WORKLOAD_KEY_ACTIONS
from policies.organizations import OWN_SIDS
from policies.statements import RoleScope
from tools.doctor.model import Status

# What the destination account's AWS Backup service-linked role needs on a workload key to copy
# a snapshot-based recovery point out (policies/kms.py, workload_key_statements).
WORKLOAD_KEY_NEEDS = (*WORKLOAD_KEY_ACTIONS, "kms:CreateGrant")
# Resource types AWS Config must record for Backup Audit Manager (AWS Backup Developer Guide,
# "Turning on resource tracking").
BACKUP_CONFIG_TYPES = (
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::Backup::RecoveryPoint",
)
Verdict = tuple[Status, str]
OK: Verdict = ("ok", "")
# How far back `destination.copies-from-outside-scope` looks at a central vault's copies.
RECENT_COPY_DAYS = 30


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement may be given bare)."""
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, Mapping)]


def normalize(value: Any) -> Any:
    """A policy with lists sorted and one-element lists unwrapped, for comparing two versions.

    AWS may return a stored policy with its lists reordered or a one-element list as a bare
    value; neither changes what it allows.
    """
    if isinstance(value, Mapping):
        return {str(key): normalize(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = sorted((normalize(item) for item in value), key=json.dumps)
        return items[0] if len(items) == 1 else items
    return value


def same_policy(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Whether two policy documents say the same thing, up to order and list wrapping."""
    return bool(normalize(left) == normalize(right))


def parse_policy(text: str | None) -> dict[str, Any] | None:
    """A policy document from the JSON text AWS returns; None when absent or not an object."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _covers(patterns: Iterable[Any], action: str) -> bool:
    # IAM action names are case-insensitive; `*` and `?` are the only wildcards.
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in patterns)


def allows_action(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement covers `action` (Action or NotAction)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not _covers(as_list(statement["NotAction"]), action)
    return _covers(as_list(statement.get("Action")), action)


def principals(statement: Mapping[str, Any]) -> list[str]:
    """The AWS principals a statement names; `*` for everyone."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(name) for name in as_list(principal.get("AWS"))]
    return []


def names_account(statement: Mapping[str, Any], account_id: str) -> bool:
    """Whether a statement's principal is the account, one of its roles, or everyone."""
    prefix = f"arn:{PARTITION}:iam::{account_id}:"
    return any(p in ("*", account_id) or p.startswith(prefix) for p in principals(statement))


# --- workload keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFacts:
    """What the doctor could learn about one KMS key.

    `manager` is DescribeKey's `KeyManager` ("AWS" for an AWS managed key, "CUSTOMER"), None
    when the key could not be described; `policy` None when it could not be read; `unreadable`
    says why.
    """

    arn: str
    manager: str | None = None
    policy: Mapping[str, Any] | None = None
    unreadable: str = ""


def destination_key_grants(policy: Mapping[str, Any], destination: str) -> tuple[bool, list[str]]:
    """(some Allow statement names the destination, the needed actions none of them allow)."""
    named = [s for s in statements(policy) if s.get("Effect") == "Allow"]
    named = [s for s in named if names_account(s, destination)]
    missing = [a for a in WORKLOAD_KEY_NEEDS if not any(allows_action(s, a) for s in named)]
    return bool(named), missing


def shared_key_verdict(key: KeyFacts, when_aws_managed: Status, consequence: str) -> Verdict:
    """A key another account must use: `unknown` when it could not be described,
    `when_aws_managed` with `consequence` for an AWS managed key ("The key policy of an AWS
    managed key is immutable", AWS Backup Developer Guide, "Encryption for backups in AWS
    Backup"), else ok."""
    if key.manager is None:
        return "unknown", f"cannot describe key {key.arn}: {key.unreadable}"
    if key.manager == "AWS":
        return when_aws_managed, f"key {key.arn} is AWS managed and cannot be shared: {consequence}"
    return OK


def workload_key_verdict(
    key: KeyFacts, destination: str, statements_file: str, re_encrypt: str
) -> Verdict:
    """Can the destination copy a backup that keeps this key (RDS, Aurora, EBS, ...)?

    `failure` for an AWS managed key: "Cross-account copy with AWS managed keys isn't supported
    for resources that aren't fully managed by AWS Backup. The key policy of an AWS managed key
    is immutable" (AWS Backup Developer Guide, "Encryption for backups in AWS Backup"); the fix
    is `re_encrypt`. `warning` when a customer managed key's policy shows no statement for the
    destination account (or its roles, the AWS Backup service-linked role among them) with
    what a copy needs; `unknown` when the key or its policy could not be read.
    """
    status, fix = shared_key_verdict(key, "failure", re_encrypt)
    if status != "ok":
        return status, fix
    if key.policy is None:
        return "unknown", (
            f"cannot read the policy of key {key.arn}: {key.unreadable}; it needs the "
            f"statements in {statements_file}"
        )
    named, missing = destination_key_grants(key.policy, destination)
    if not named:
        return "warning", (
            f"the policy of key {key.arn} has no statement for the destination account "
            f"{destination} or its AWS Backup service-linked role: add the statements in "
            f"{statements_file}"
        )
    if missing:
        return "warning", (
            f"the policy of key {key.arn} lets the destination account {destination} do none "
            f"of {', '.join(missing)}: add the statements in {statements_file}"
        )
    return OK


# --- the destination vault -------------------------------------------------------------------


def _admits_organization(statement: Mapping[str, Any], organization_id: str) -> bool:
    if "*" not in principals(statement):
        return False
    condition = statement.get("Condition") or {}
    equals = condition.get("StringEquals") or {}
    return organization_id in as_list(equals.get("aws:PrincipalOrgID"))


def vault_policy_verdict(
    actual: Mapping[str, Any] | None,
    expected: Mapping[str, Any],
    copiers: Sequence[str],
    organization_id: str | None,
    redeploy: str,
) -> Verdict:
    """Does the destination vault's access policy admit every copy the stack expects?

    Copies are refused unless the policy allows `backup:CopyIntoBackupVault` ("The absence of
    this policy will deny attempts to copy into the destination account", AWS Backup Developer
    Guide, "Creating backup copies across AWS accounts"). `copiers` are the accounts named in
    the stack's policy; `organization_id` is set when it admits the organization instead.
    """
    if actual is None:
        return "failure", (
            f"the vault has no access policy, so every copy is refused: {redeploy} restores it"
        )
    if same_policy(actual, expected):
        return OK
    allowing = [s for s in statements(actual) if allows_action(s, COPY_INTO_VAULT)]
    if organization_id is not None and not any(
        _admits_organization(s, organization_id) for s in allowing
    ):
        return "failure", (
            f"the access policy does not admit copies from organization {organization_id}: "
            f"{redeploy} restores the stack's"
        )
    refused = [a for a in copiers if not any(names_account(s, a) for s in allowing)]
    if refused:
        return "failure", (
            f"the access policy refuses copies from {', '.join(refused)}: {redeploy} restores "
            "the stack's"
        )
    return "warning", f"the access policy differs from the stack's: {redeploy} restores it"


def copies_outside_scope_verdict(
    copiers: Iterable[str],
    scope: RoleScope,
    under_targeted_ous: set[str] | None,
    choice: str,
) -> Verdict:
    """Did accounts the copy-in scope no longer admits copy into the vault recently?

    `copiers` are the accounts of the source vaults of the vault's recent recovery points;
    `under_targeted_ous` the active accounts the organization walk found under the targeted
    OUs, None when the walk could not be read. Those accounts' next copies are refused (the
    vault and key admit the backup service role of the scope's accounts only); their copies
    already in the vault stay until they expire.
    """
    outside: list[str] = []
    undecided: list[str] = []
    for account in sorted(set(copiers)):
        if scope.whole_organization or account in scope.account_ids:
            continue
        if scope.ou_ids and under_targeted_ous is None:
            undecided.append(account)
        elif not (scope.ou_ids and under_targeted_ous and account in under_targeted_ous):
            outside.append(account)
    if outside:
        return "warning", (
            f"copies in the last {RECENT_COPY_DAYS} days came from {', '.join(outside)}, which "
            f"destination.allowCopiesFrom ({choice}) does not admit: their next copies fail. "
            "Add them to sourceAccounts or organization.policyTargets, or accept it (their copies "
            "stay until they expire)"
        )
    if undecided:
        return "unknown", (
            f"copies came from {', '.join(undecided)}; whether they are under the targeted OUs "
            "could not be read (see the organization checks)"
        )
    return OK


def lock_verdict(
    lock: VaultLockConfig | None, vault: Mapping[str, Any], now: datetime, redeploy: str
) -> Verdict:
    """Is the vault's Vault Lock (DescribeBackupVault) what `destination.vaultLock` says?

    A lock with a `LockDate` is a compliance lock, immutable from that date (DescribeBackupVault:
    "The date and time when Backup Vault Lock configuration cannot be changed or deleted"); one
    without can be changed or removed at any time (governance).
    """
    locked = bool(vault.get("Locked"))
    lock_date = vault.get("LockDate")
    immutable = isinstance(lock_date, datetime) and lock_date <= now
    if lock is None:
        if not locked:
            return OK
        return "warning", (
            "the vault has a Vault Lock that destination.vaultLock does not describe: add "
            f"destination.vaultLock (minRetentionDays {vault.get('MinRetentionDays')}) so the "
            "stack knows it"
            + (
                ""
                if immutable
                else ", or remove it: aws backup delete-backup-vault-lock-configuration"
            )
        )
    if not locked:
        return "failure", (
            f"destination.vaultLock is set but the vault is not locked: {redeploy} locks it"
        )
    actual = (vault.get("MinRetentionDays"), vault.get("MaxRetentionDays"))
    wanted = (lock.min_retention_days, lock.max_retention_days)
    problems = []
    if actual != wanted:
        problems.append(f"retention is {actual[0]}..{actual[1]} days, not {wanted[0]}..{wanted[1]}")
    if lock.mode == "governance" and lock_date is not None:
        problems.append(f"it is a compliance lock (lock date {lock_date}), not governance")
    if lock.mode == "compliance" and lock_date is None:
        problems.append("it is a governance lock, not compliance (no lock date)")
    if not problems:
        return OK
    if immutable:
        return "failure", (
            f"{'; '.join(problems)}, and the lock is immutable since {lock_date}: set "
            "destination.vaultLock to what the vault has (pulumi up cannot change it)"
        )
    return "failure", f"{'; '.join(problems)}: {redeploy} applies destination.vaultLock"


# --- AWS Config, Region settings -------------------------------------------------------------


def unrecorded_backup_types(group: Mapping[str, Any]) -> list[str]:
    """The AWS Backup resource types a recorder's recording group leaves out."""
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    if group.get("allSupported") or strategy == "ALL_SUPPORTED_RESOURCE_TYPES":
        return []
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        excluded = set((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or [])
        return [name for name in BACKUP_CONFIG_TYPES if name in excluded]
    listed = set(group.get("resourceTypes") or [])
    return [name for name in BACKUP_CONFIG_TYPES if name not in listed]


def recorder_verdict(
    recorders: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]]
) -> Verdict:
    """Does AWS Config record AWS Backup's resources here, as audit frameworks need?

    "Before you create your first compliance-related framework, you must turn on resource
    tracking" (AWS Backup Developer Guide, "Turning on resource tracking"); without it a
    framework stays INACTIVE and reports nothing.
    """
    if not recorders:
        return "failure", (
            "no AWS Config recorder: turn on resource tracking (AWS Backup console, Settings, "
            "Resource tracking) or create one with aws configservice "
            "put-configuration-recorder and start-configuration-recorder"
        )
    recording = {str(s.get("name")) for s in statuses if s.get("recording")}
    active = [r for r in recorders if str(r.get("name")) in recording]
    if not active:
        names = ", ".join(str(r.get("name")) for r in recorders)
        return "failure", (
            f"AWS Config recorder {names} is not recording: aws configservice "
            f"start-configuration-recorder --configuration-recorder-name {names.split(', ')[0]}"
        )
    left_out = [
        name
        for name in BACKUP_CONFIG_TYPES
        if all(name in unrecorded_backup_types(r.get("recordingGroup") or {}) for r in active)
    ]
    if left_out:
        return "warning", (
            f"AWS Config does not record {', '.join(left_out)}: add them to the recorder's "
            "recording group, or the frameworks here stay PARTIALLY_ACTIVE"
        )
    return OK


def missing_opt_in(resource_types: Iterable[str], preferences: Mapping[str, Any]) -> list[str]:
    """The resource types not opted in (a type the Region does not list counts as not)."""
    return sorted({name for name in resource_types if preferences.get(name) is not True})


def backup_type_of_engine(engine: str) -> str:
    """The AWS Backup resource type of an RDS-API engine (Aurora, DocumentDB, Neptune, RDS)."""
    if engine.startswith("aurora"):
        return "Aurora"
    if engine == "docdb":
        return "DocumentDB"
    if engine == "neptune":
        return "Neptune"
    return "RDS"


# --- the Organizations resource policy -------------------------------------------------------


def _unowned_statements(
    actual: Mapping[str, Any], expected: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    wanted = [normalize(s) for s in statements(expected)]
    return [s for s in statements(actual) if normalize(s) not in wanted]


def resource_policy_verdict(
    actual: Mapping[str, Any] | None,
    policy_id: str | None,
    expected: Mapping[str, Any] | None,
    delegate: str,
    import_id: str | None,
    redeploy: str,
) -> Verdict:
    """Is the organization's one resource policy the one this configuration expects?

    `expected` is the stack's own policy when it owns it (manageGlobalSettings and a delegate),
    None when another stack does: then the policy only has to delegate to `delegate`. The
    policy is one per organization: a stack that owns it but finds another one fails to
    create its own unless told to adopt it (`importResourcePolicyId`).
    """
    if expected is None:
        # Creating backup policies is what the delegate needs the resource policy for.
        delegating = [s for s in statements(actual or {}) if names_account(s, delegate)]
        if any(allows_action(s, "organizations:CreatePolicy") for s in delegating):
            return OK
        return "failure", (
            f"no Organizations resource policy delegates backup policies to {delegate}, so it "
            "cannot manage them: pulumi up on the stack with manageGlobalSettings: true creates it"
        )
    if actual is None:
        return "failure", (
            f"the Organizations resource policy is missing, so {delegate} cannot manage backup "
            f"policies: {redeploy} creates it"
        )
    if same_policy(actual, expected):
        return OK
    sids = {s.get("Sid") for s in statements(actual)}
    if not set(OWN_SIDS) <= sids:
        if import_id is not None and import_id == policy_id:
            return "warning", f"{policy_id} is not yet the stack's: {redeploy} adopts it"
        return "failure", (
            f"resource policy {policy_id} exists and is not the stack's: pulumi up cannot create "
            f"a second one; set organization.importResourcePolicyId: {policy_id} and put its "
            "statements in organization.extraDelegationStatements"
        )
    extra = [str(s.get("Sid", "(no Sid)")) for s in _unowned_statements(actual, expected)]
    if extra:
        return "warning", (
            f"resource policy {policy_id} has statements {', '.join(extra)} that "
            f"organization.extraDelegationStatements does not list: {redeploy} would remove "
            "them; add them there"
        )
    return (
        "warning",
        f"resource policy {policy_id} differs from the stack's: {redeploy} restores it",
    )
