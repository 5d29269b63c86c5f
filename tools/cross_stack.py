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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from config import ConfigError, StackConfig
from config.loader import ROOT, load_stack_file, parse_stack_file, project_name
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


def collisions(
    stack: str, mine: Mapping[Claim, str], other: str, theirs: Mapping[Claim, str]
) -> list[str]:
    """One message per claim both stacks make, naming both stacks, the scope and the name."""
    messages = []
    for claim in sorted(mine.keys() & theirs.keys()):
        what = (
            f"{claim.kind}" if claim.name == "(one per scope)" else f"{claim.kind} {claim.name!r}"
        )
        messages.append(
            f"stacks {stack!r} and {other!r} would both create {what} {claim.scope} "
            f"({stack}: {mine[claim]}, {other}: {theirs[claim]})"
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


def unreadable_reason(path: Path, project: str) -> str | None:
    """Why a stack file cannot be evaluated offline, or None when it can."""
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return "it is not valid YAML"
    if not isinstance(content, dict):
        return "it is not a YAML mapping"
    if content.get("environment"):
        return "it imports Pulumi ESC environments, which only the Pulumi CLI can resolve"
    config = content.get("config") or {}
    secrets = sorted(
        key
        for key, value in config.items()
        if str(key).startswith(f"{project}:") and _has_secret(value)
    )
    if secrets:
        return f"{', '.join(secrets)} holds secure values, which only the Pulumi CLI can decrypt"
    return None


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def other_stacks(stack: str, root: Path) -> list[str]:
    """Every other stack with a `Pulumi.<name>.yaml` in `root`."""
    names = (
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
    )
    return sorted(name for name in names if name != stack)


def _evaluate(stack: str, root: Path) -> tuple[StackConfig, dict[Claim, str]]:
    config = parse_stack_file(stack, root)
    _, encoded = load_stack_file(stack, root)
    run = run_program(stack, encoded)
    return config, claims(run, config.organization.id)


def check_stack(stack: str, run: OfflineRun | None = None, root: Path = ROOT) -> CheckResult:
    """Compare `stack` with every other stack file in `root`.

    `run` is the stack's own offline run when the caller already has it. Raises ConfigError
    when `stack` itself is invalid; another stack that cannot be evaluated is a warning.
    """
    project = project_name(root)
    config = parse_stack_file(stack, root)
    if run is None:
        _, encoded = load_stack_file(stack, root)
        run = run_program(stack, encoded)
    mine = claims(run, config.organization.id)
    result = CheckResult()
    for other in other_stacks(stack, root):
        reason = unreadable_reason(root / f"Pulumi.{other}.yaml", project)
        if reason is not None:
            result.warnings.append(f"stack {other!r} was not checked: {reason}")
            continue
        try:
            other_config, theirs = _evaluate(other, root)
        except ConfigError as error:
            first = error.problems[0] if error.problems else str(error)
            result.warnings.append(
                f"stack {other!r} was not checked: its configuration is invalid ({first})"
            )
            continue
        result.checked.append(other)
        result.collisions.extend(collisions(stack, mine, other, theirs))
        warning = double_backup_warning(stack, config, other, other_config)
        if warning is not None:
            result.warnings.append(warning)
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
