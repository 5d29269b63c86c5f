"""Cross-stack check: what one stack would create must not be what another stack creates.

Every `Pulumi.<stack>.yaml` in the project folder is a stack that may deploy into the same
accounts. AWS refuses a second resource with a name that is already taken (an S3 bucket name
anywhere, an IAM role name in an account, a vault name in an account and Region, ...), and a
singleton with two owners is changed back and forth by each `pulumi up`. Each stack is run
offline under mocks, the names and singletons it would create are collected as `Claim`s with
the scope AWS makes them unique in, and every claim of the checked stack that another stack
also makes is a collision.

Two stacks that attach their backup policies where the same accounts inherit both, and that
select resources by the same tag with a common value, back those resources up twice: that is
reported as a warning (OU membership cannot be known offline, so only shared targets, a
targeted root or shared source accounts count as overlap).

Two stacks that name the same `roleArn` are a warning too: whoever may deploy one of them (its
pipeline role) may then change the other's resources, so each environment's deploy roles must be
its own, even in an account the environments share (docs/pipeline.md, "Deploy roles per
environment").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from config import ConfigError, StackConfig
from config.errors import Marks
from config.loader import ROOT, parse_source, project_values, read_stack, stack_names
from tools.offline import OfflineRun, run_program

Level = Literal["global", "organization", "account", "region"]

# Resource type -> (what it is, the input holding its physical name, where AWS keeps it unique).
# Sources: S3 bucket names are unique across all accounts (Amazon S3 User Guide, "Bucket naming
# rules"); Organizations policy names within the organization (CreatePolicy:
# DuplicatePolicyException); IAM names within the account, whatever the path (IAM User Guide,
# "IAM identifiers": "names must be unique within an account"); the rest within an account and
# Region (their ARNs carry both).
NAMED: dict[str, tuple[str, str, Level]] = {
    "aws:s3/bucket:Bucket": ("S3 bucket", "bucket", "global"),
    "aws:organizations/policy:Policy": ("Organizations policy", "name", "organization"),
    "aws:iam/role:Role": ("IAM role", "name", "account"),
    "aws:iam/policy:Policy": ("IAM policy", "name", "account"),
    "aws:backup/vault:Vault": ("backup vault", "name", "region"),
    "aws:kms/alias:Alias": ("KMS alias", "name", "region"),
    "aws:lambda/function:Function": ("Lambda function", "name", "region"),
    "aws:cloudwatch/logGroup:LogGroup": ("log group", "name", "region"),
    "aws:cloudwatch/eventRule:EventRule": ("EventBridge rule", "name", "region"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("CloudWatch alarm", "name", "region"),
    "aws:sns/topic:Topic": ("SNS topic", "name", "region"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("schedule group", "name", "region"),
    "aws:dynamodb/table:Table": ("DynamoDB table", "name", "region"),
    "aws:sqs/queue:Queue": ("SQS queue", "name", "region"),
    "aws:cloudformation/stackSet:StackSet": ("StackSet", "name", "region"),
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": ("restore testing plan", "name", "region"),
    "aws:backup/framework:Framework": ("Backup Audit Manager framework", "name", "region"),
    "aws:backup/reportPlan:ReportPlan": ("Backup Audit Manager report plan", "name", "region"),
    # One delegated administrator registration per service in an organization.
    "aws:organizations/delegatedAdministrator:DelegatedAdministrator": (
        "delegated administrator registration for",
        "servicePrincipal",
        "organization",
    ),
}
# Resource type -> (what it is, where there is exactly one of it).
# GlobalSettings: one per organization, set from the management account (UpdateGlobalSettings);
# RegionSettings: one per account and Region (UpdateRegionSettings).
FRAMEWORK = "aws:backup/framework:Framework"
SINGLETONS: dict[str, tuple[str, Level]] = {
    "aws:backup/globalSettings:GlobalSettings": ("AWS Backup global settings", "organization"),
    "aws:backup/regionSettings:RegionSettings": ("AWS Backup Region settings", "region"),
    "aws:organizations/resourcePolicy:ResourcePolicy": (
        "Organizations resource policy",
        "organization",
    ),
}


@dataclass(frozen=True, order=True)
class Claim:
    """A physical name (or a singleton) a stack would create, in the scope AWS keeps it in."""

    kind: str
    name: str
    scope: str


@dataclass
class CheckResult:
    """Collisions (the stack must not deploy) and warnings (worth a look, not a failure)."""

    collisions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def _scope(level: Level, resource: Any, organization_id: str) -> str:
    if level == "global":
        return "across AWS"
    if level == "organization":
        return f"in organization {organization_id}"
    if level == "account":
        return f"in account {resource.account_id}"
    return f"in account {resource.account_id}, {resource.region}"


def _controls_text(controls: list[dict[str, Any]]) -> str:
    """`NAME param=value, …; NAME …`, sorted: what makes two frameworks duplicates."""
    parts = []
    for control in controls:
        values = sorted(f"{p['name']}={p['value']}" for p in control.get("inputParameters") or [])
        scope = json.dumps(control.get("scope"), sort_keys=True) if control.get("scope") else ""
        parts.append(" ".join([control["name"], *values, scope]).strip())
    return "; ".join(sorted(parts))


def claims(run: OfflineRun, organization_id: str) -> dict[Claim, str]:
    """Every name and singleton the run would create -> the logical name that creates it."""
    found: dict[Claim, str] = {}
    for resource in run.resources:
        named = NAMED.get(resource.type)
        if named is not None:
            kind, name_input, level = named
            name = resource.inputs.get(name_input)
            if isinstance(name, str):
                found[Claim(kind, name, _scope(level, resource, organization_id))] = resource.name
            if resource.type == FRAMEWORK:
                # AWS also refuses a second framework with the same controls, whatever its
                # name ("You cannot deploy duplicate frameworks (frameworks that contain the
                # same controls and parameters)", Developer Guide, "Working with AWS Backup
                # Audit Manager frameworks").
                found[
                    Claim(
                        "Backup Audit Manager framework with the controls",
                        _controls_text(resource.inputs.get("controls") or []),
                        _scope("region", resource, organization_id),
                    )
                ] = resource.name
            continue
        singleton = SINGLETONS.get(resource.type)
        if singleton is not None:
            kind, level = singleton
            found[Claim(kind, "(one per scope)", _scope(level, resource, organization_id))] = (
                resource.name
            )
    return found


# What is claimed -> the key that decides whether a stack claims it, when two stacks do. The
# OrganizationSettings component (global settings, the delegated administrator's registration,
# the resource policy) is declared by the stack with organization.manageGlobalSettings.
CONTROLS = "Backup Audit Manager framework with the controls"
CLAIM_KEYS = {
    "AWS Backup global settings": "organization.manageGlobalSettings",
    "Organizations resource policy": "organization.manageGlobalSettings",
    "delegated administrator registration for": "organization.manageGlobalSettings",
    "AWS Backup Region settings": "backupPlan.regionSettings",
    CONTROLS: "audit.enabled",
}
# How to fix a collision by the key that causes it (otherwise: change the key in one of them).
FIXES = {
    "organization.manageGlobalSettings": "set organization.manageGlobalSettings: false",
    "backupPlan.regionSettings": "set manageRegionSettings: false on those sourceAccounts",
    "audit.enabled": "set audit.enabled: false",
}


@dataclass(frozen=True)
class Side:
    """One stack of a comparison: its config, its claims, and where its keys are."""

    stack: str
    config: StackConfig
    claims: Mapping[Claim, str]
    marks: Marks
    # Each `roleArn` the stack file names -> the key paths naming it.
    roles: Mapping[str, list[str]] = field(default_factory=dict)


def _named_key(claim: Claim, config: StackConfig) -> str:
    """The key that names `claim` in this stack, when the name is one the config gives."""
    export = config.dynamodb_export
    names = {
        ("S3 bucket", export.bucket.name if export else ""): "dynamodbExport.bucket.name",
        ("backup vault", config.destination.vault_name): "destination.vaultName",
        ("backup vault", config.backup_plan.source_vault_name): "backupPlan.sourceVaultName",
        ("IAM role", config.backup_plan.service_role_short_name): "backupPlan.serviceRoleName",
    }
    return names.get((claim.kind, claim.name), "")


def cause(claim: Claim, mine: Side, theirs: Side) -> str:
    """The config key whose value both stacks share, so that both claim `claim`; '' if none."""
    prefix = mine.config.name_prefix
    same_environment = mine.config.environment == theirs.config.environment
    if same_environment and (prefix in claim.name or prefix.replace("-", "_") in claim.name):
        return "environment"
    named = _named_key(claim, mine.config)
    if named and named == _named_key(claim, theirs.config):
        return named
    return CLAIM_KEYS.get(claim.kind, "")


def _what(claim: Claim) -> str:
    return claim.kind if claim.name == "(one per scope)" else f"{claim.kind} {claim.name!r}"


def _where(key: str, *sides: Side) -> str:
    lines = [(side.marks.file, side.marks.line(key)) for side in sides]
    return ", ".join(f"{file}:{line}" if line else file for file, line in lines)


def collisions(mine: Side, theirs: Side) -> list[str]:
    """The claims both stacks make, one line per cause: the key to change and where it is.

    Two stacks with one `environment` share every name (hundreds of claims, one line); a
    shared bucket name, two owners of the organization's settings, ... each name their key.
    A name no single key explains gets a line of its own.
    """
    groups: dict[tuple[str, str], list[Claim]] = {}
    for claim in sorted(mine.claims.keys() & theirs.claims.keys()):
        key = cause(claim, mine, theirs)
        groups.setdefault((key, "" if key else _what(claim)), []).append(claim)
    both = f"stacks {mine.stack!r} and {theirs.stack!r}"
    messages = []
    for (key, _), claims in groups.items():
        fix = f"{FIXES.get(key, f'change {key}')} in one of them ({_where(key, mine, theirs)})"
        if key == "environment":
            kinds = ", ".join(sorted({claim.kind for claim in claims}))
            messages.append(
                f"{both} have the same environment {mine.config.environment!r}, so "
                f"{len(claims)} names they would create are the same ({kinds}): {fix}"
            )
            continue
        first = claims[0]
        what = "Backup Audit Manager frameworks with the same controls"
        what = what if first.kind == CONTROLS else _what(first)
        scopes = [claim.scope.removeprefix("in ") for claim in claims]
        where = "in " + " and ".join(dict.fromkeys(scopes)) if scopes[0] != "across AWS" else ""
        names = f" ({mine.stack}: {mine.claims[first]}, {theirs.stack}: {theirs.claims[first]})"
        messages.append(
            f"{both} would both create {what} {where or first.scope}"
            f"{names if len(claims) == 1 else ''}{': ' + fix if key else ''}"
        )
    return messages


def _reach(config: StackConfig) -> set[str]:
    sources = {source.account.account_id for source in config.source_accounts}
    return set(config.organization.policy_targets) | sources


def double_backup_warning(
    stack: str, config: StackConfig, other: str, other_config: StackConfig
) -> str | None:
    """Two stacks whose policies reach the same accounts and select by the same tag value."""
    if config.organization.id != other_config.organization.id:
        return None
    tag, other_tag = config.backup_plan.selection_tag, other_config.backup_plan.selection_tag
    common_values = sorted(set(tag.values) & set(other_tag.values))
    if tag.key != other_tag.key or not common_values:
        return None
    shared = sorted(_reach(config) & _reach(other_config))
    roots = sorted(
        target
        for target in (
            *config.organization.policy_targets,
            *other_config.organization.policy_targets,
        )
        if target.startswith("r-")
    )
    if not shared and not roots:
        return None
    where = ", ".join(shared) if shared else f"everything under {', '.join(roots)}"
    return (
        f"stacks {stack!r} and {other!r} both back up resources tagged "
        f"{tag.key}={'|'.join(common_values)} and both reach {where}: such resources would be "
        "backed up and copied twice (use distinct selection tag values per environment)"
    )


def role_arn_paths(values: Any) -> dict[str, list[str]]:
    """Every `roleArn` in a stack's project values -> the key paths naming it, in file order."""
    found: dict[str, list[str]] = {}

    def walk(value: Any, where: str) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                child_path = f"{where}.{key}" if where else str(key)
                if key == "roleArn" and isinstance(child, str):
                    found.setdefault(child, []).append(child_path)
                else:
                    walk(child, child_path)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{where}[{index}]")

    walk(values, "")
    return found


def shared_role_warnings(mine: Side, theirs: Side) -> list[str]:
    """One warning per deploy role both stacks assume, naming each stack's key paths and lines."""

    def paths(side: Side, role_arn: str) -> str:
        named = []
        for path in side.roles[role_arn]:
            line = side.marks.line(path)
            named.append(f"{path} ({side.marks.file}:{line})" if line else path)
        return f"{side.stack}: {', '.join(named)}"

    return [
        f"stacks {mine.stack!r} and {theirs.stack!r} both deploy through {role_arn} "
        f"({paths(mine, role_arn)}; {paths(theirs, role_arn)}): whoever may deploy one may "
        "change the other's resources; give each environment deploy roles of its own, even in "
        'a shared account (docs/pipeline.md, "Deploy roles per environment")'
        for role_arn in sorted(mine.roles.keys() & theirs.roles.keys())
    ]


def _side(stack: str, root: Path, run: OfflineRun | None = None) -> tuple[Side | None, list[str]]:
    """The stack's side of a comparison and its notes (partial, ...); no side when the values
    it needs could not be read. Raises ConfigError when the stack is invalid."""
    source = read_stack(stack, root)
    config, notes = parse_source(source)
    if config is None:
        return None, notes
    if run is None:
        run = run_program(stack, source.encoded)
    roles = role_arn_paths(project_values(source.project, source.encoded))
    return Side(stack, config, claims(run, config.organization.id), source.marks, roles), notes


def check_stack(stack: str, run: OfflineRun | None = None, root: Path = ROOT) -> CheckResult:
    """Compare `stack` with every other stack file in `root`.

    `run` is the stack's own offline run when the caller already has it. Raises ConfigError
    when `stack` itself is invalid; another stack that cannot be evaluated, or only in part
    (secrets, ESC imports without the Pulumi CLI), is a warning saying what was not compared.
    """
    result = CheckResult()
    mine, _ = _side(stack, root, run)
    if mine is None:
        result.warnings.append(f"stack {stack!r} was not compared: values it needs were not read")
        return result
    for other in stack_names(root):
        if other == stack:
            continue
        try:
            theirs, notes = _side(other, root)
        except ConfigError as error:
            first = error.problems[0] if error.problems else str(error)
            result.warnings.append(
                f"stack {other!r} was not checked: its configuration is invalid ({first})"
            )
            continue
        partial = [note.removeprefix("partial: ") for note in notes if note.startswith("partial")]
        if theirs is None:
            result.warnings.append(f"stack {other!r} was not checked: {'; '.join(partial)}")
            continue
        result.warnings += [f"stack {other!r} was checked in part: {note}" for note in partial]
        result.checked.append(other)
        result.collisions.extend(collisions(mine, theirs))
        warning = double_backup_warning(stack, mine.config, other, theirs.config)
        if warning is not None:
            result.warnings.append(warning)
        result.warnings.extend(shared_role_warnings(mine, theirs))
    return result


def format_result(stack: str, result: CheckResult) -> Iterable[str]:
    """Lines for the terminal: collisions as errors, then warnings."""
    for message in result.collisions:
        yield f"error: {message}"
    for message in result.warnings:
        yield f"warning: {message}"
    if not result.collisions:
        checked = ", ".join(result.checked) if result.checked else "no other stack"
        yield f"cross-stack check: {stack} collides with none of: {checked}"
