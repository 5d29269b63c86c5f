"""Rules of the operations sections: restore tests that could not run, overrides AWS Backup
could not read, names over AWS's limits, and settings that would be silently unused."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from config.backup_plan import BackupPlanConfig
from config.destination import DestinationConfig
from config.operations import (
    FSX_PLACEMENT,
    LIST_OVERRIDES,
    PLACEMENT_OVERRIDES,
    REGIONAL_OVERRIDES,
    AuditConfig,
    MonitoringConfig,
    RestoreTestingConfig,
)
from config.organization import OrganizationConfig
from config.scalars import MAX_ROLE_NAME
from policies.alerts import ROUTES
from policies.restore import MAX_NAME as MAX_RESTORE_TESTING_NAME
from policies.restore import plan_name as restore_plan_name
from policies.restore import role_name as restore_role_name
from policies.restore import selection_name as restore_selection_name


def operations_rules(
    prefix: str,
    restore_testing: RestoreTestingConfig | None,
    plan: BackupPlanConfig | None,
    destination: DestinationConfig | None,
    audit: AuditConfig | None,
) -> Iterable[str]:
    """Restore tests that could not run, and settings that would be silently unused."""
    if restore_testing is not None:
        regions = destination.regions if destination is not None else ()
        yield from _restore_testing_rules(prefix, restore_testing, plan, regions)
        yield from _selection_rules(restore_testing, destination)
    if audit is not None and not audit.enabled and audit.report_bucket is not None:
        yield "audit.reportBucket: is only used with audit.enabled: true; remove it or enable audit"


def _restore_testing_rules(
    prefix: str,
    restore: RestoreTestingConfig,
    plan: BackupPlanConfig | None,
    regions: Sequence[str],
) -> Iterable[str]:
    """`regions`: the destination vault Regions (none known when destination is invalid)."""
    path = "restoreTesting"
    yield from _restore_testing_names(prefix, restore)
    # The Regions whose plans run: placement is needed there only.
    tested = tested_regions(restore, regions)
    for index, name in enumerate(restore.resource_types):
        if plan is not None and plan.resource_types and name not in plan.resource_types:
            yield (
                f"{path}.resourceTypes[{index}]: {name} is not in backupPlan.resourceTypes, so "
                "the central vault would hold no recovery point of it to test; back it up or "
                "remove it here"
            )
        if name in PLACEMENT_OVERRIDES:
            yield from _placement_rule(restore, name, tested)
    layers = [(f"{path}.metadataOverrides", restore.metadata_overrides)]
    for region, by_type in restore.region_metadata_overrides.items():
        at = f"{path}.regionMetadataOverrides.{region}"
        if regions and region not in regions:
            yield (
                f"{at}: {region} is neither destination.region nor destination.drRegion "
                f"({', '.join(regions)}), so it would never be used"
            )
        layers.append((at, by_type))
    for at, by_type in layers:
        for name, values in by_type.items():
            yield from _override_rules(f"{at}.{name}", restore, name, values)
    if len(tested) > 1:
        regional = {key.lower() for key in REGIONAL_OVERRIDES}
        for name, values in restore.metadata_overrides.items():
            for key in values:
                if key.lower() in regional:
                    yield (
                        f"{path}.metadataOverrides.{name}.{key}: names things of one Region, but "
                        f"tests run in {' and '.join(tested)}: give it per Region under "
                        f"{path}.regionMetadataOverrides.<region>.{name}.{key}"
                    )


# What one run of a wildcard selection restores into the destination account, and the default
# quota it meets there per Region. A run restores "one eligible recovery point per protected
# resource in selection" (AWS Backup Developer Guide, "Restore testing"), and the central vault
# holds the copies of every source account. Quotas: DynamoDB Developer Guide, "Service, account,
# and table quotas" (2,500 tables per Region); RDS User Guide, "Quotas and constraints for Amazon
# RDS" (40 DB instances, 40 DB clusters per Region). Each restore past a quota fails, and each
# failure is an alert.
RESTORED_AS: dict[str, tuple[str, str | None]] = {
    "Aurora": ("Aurora cluster", "40 DB clusters"),
    "DocumentDB": ("DocumentDB cluster", None),
    "DynamoDB": ("DynamoDB table", "2,500 tables"),
    "EBS": ("EBS volume", None),
    "EC2": ("EC2 instance", None),
    "EFS": ("EFS file system", None),
    "FSx": ("FSx file system", None),
    "Neptune": ("Neptune cluster", None),
    "RDS": ("RDS DB instance", "40 DB instances"),
    "S3": ("S3 bucket", None),
}


def everything_restored(resource_type: str, account_id: str, regions: Sequence[str]) -> str:
    """The arithmetic of a wildcard selection of one type, for messages."""
    what, quota = RESTORED_AS[resource_type]
    where = " and ".join(regions) or "each vault Region"
    limit = f", whose default quota is {quota} per Region" if quota else ", within its quotas there"
    return (
        f"each run restores one recovery point of every {what} of every source account that "
        f"has a copy in the central vault, in {where}, into the destination account "
        f"{account_id}{limit}"
    )


def tested_regions(restore: RestoreTestingConfig, regions: Sequence[str]) -> list[str]:
    """The vault Regions (`destination.regions`: primary, then DR) whose plans run."""
    if not regions:
        return []
    return list(restore.schedules(regions[0], regions[1] if len(regions) > 1 else None))


def _selection_rules(
    restore: RestoreTestingConfig, destination: DestinationConfig | None
) -> Iterable[str]:
    """Each tested type picks a sample, unless the wildcard is chosen with its arithmetic in
    view; selections and the DR plan must be of use."""
    path = "restoreTesting"
    for name in restore.selections:
        if name not in restore.resource_types:
            yield (
                f"{path}.selections.{name}: {name} is not in restoreTesting.resourceTypes, so "
                "it would never be used"
            )
    if not restore.samples:
        return  # the previous release's form: a deprecation warning, not a problem
    unselected = [name for name in restore.resource_types if restore.selection(name) is None]
    if restore.allow_all_resources and not unselected:
        yield (
            f"{path}.allowAllResources: every type has a selection, so it would never be used; "
            "remove it"
        )
    if not restore.allow_all_resources and destination is not None:
        tested = tested_regions(restore, destination.regions)
        for name in unselected:
            yield (
                f"{path}.selections.{name}: is required: "
                f"{everything_restored(name, destination.account_id, tested)}; choose a few "
                f"by tag ({path}.selections.{name}.tag: {{key, value}}) or by ARN "
                f"({path}.selections.{name}.protectedResourceArns, at most 30), or accept "
                f"every resource with {path}.allowAllResources: true"
            )
    if restore.dr_region is not None and destination is not None and destination.dr_region is None:
        yield (
            f"{path}.drRegion: destination.drRegion is not set, so there is no DR vault "
            "to test; remove it"
        )


def restore_testing_warnings(
    restore: RestoreTestingConfig | None, destination: DestinationConfig
) -> Iterable[str]:
    """A section in the previous release's form still deploys, with a deprecation warning."""
    if restore is None or restore.samples:
        return
    tested = " and ".join(tested_regions(restore, destination.regions))
    types = ", ".join(restore.resource_types)
    quotas = ", ".join(
        f"{quota} ({name})"
        for name in restore.resource_types
        if (quota := RESTORED_AS[name][1]) is not None
    )
    yield (
        "restoreTesting: deprecated form (no selections, allowAllResources or drRegion): each "
        f"run restores one recovery point of every {types} resource of every source account, "
        f"in {tested}, into the destination account {destination.account_id}"
        + (f" (default quotas per Region: {quotas})" if quotas else "")
        + ". This release keeps it; the next refuses it. Add restoreTesting.selections.<type> "
        "(a tag, or at most 30 ARNs) or allowAllResources: true, and drRegion: "
        "{scheduleExpression} to keep testing the DR Region (docs/configuration.md, "
        "restoreTesting)"
    )


def _override_rules(
    at: str, restore: RestoreTestingConfig, name: str, values: Mapping[str, str]
) -> Iterable[str]:
    """Overrides of a type that is not tested, and lists that AWS Backup could not read."""
    if name not in restore.resource_types:
        yield f"{at}: {name} is not in restoreTesting.resourceTypes, so it would never be used"
    lists = {key.lower() for key in LIST_OVERRIDES}
    for key, value in values.items():
        if key.lower() in lists and not _is_json_list(value):
            yield (
                f"{at}.{key}: is a list: write it as a YAML list ([{value}]); AWS Backup reads "
                'list-typed overrides as JSON arrays (AWS Backup Developer Guide, "Restore '
                'testing inferred metadata")'
            )


def _is_json_list(value: str) -> bool:
    try:
        decoded = json.loads(value)
    except ValueError:
        return False
    return isinstance(decoded, list) and all(isinstance(item, str) for item in decoded)


def _placement_rule(
    restore: RestoreTestingConfig, name: str, regions: Sequence[str]
) -> Iterable[str]:
    """A type restored into a network needs its place in the destination account, in each
    vault Region: reported once for the type when no Region has it, else per Region."""
    keys = PLACEMENT_OVERRIDES[name]
    placement = keys[0] if keys else None

    def placed(region: str) -> bool:
        given = {key.lower() for key in restore.overrides(region, name)}
        return placement.lower() in given if placement is not None else bool(given)

    missing = [region for region in regions if not placed(region)]
    if not missing:
        return
    source = 'AWS Backup Developer Guide, "Restore testing inferred metadata"'
    why = (
        "without it AWS Backup restores into the destination account's default VPC where one "
        "exists (its default subnets and security group: not the network a recovery uses, and "
        f"in the account that holds the vaults) and fails where there is none ({source})"
    )
    if placement is None:
        what, wanted = "", f"give {FSX_PLACEMENT}"
        why = f"AWS Backup cannot infer these for FSx ({source})"
    else:
        security_groups = keys[1]
        network = "subnet" if name == "EC2" else "DB subnet group"
        what = f".{placement}"
        wanted = (
            f"the destination account's {network} to restore into, with {security_groups} "
            "for its security groups"
        )
    if len(missing) == len(regions):
        where = " (here, or per Region under restoreTesting.regionMetadataOverrides)"
        yield (
            f"restoreTesting.metadataOverrides.{name}{what}: is required to test {name}"
            f"{where if len(regions) > 1 else ''}: {wanted}; {why}"
        )
        return
    for region in missing:
        yield (
            f"restoreTesting.regionMetadataOverrides.{region}.{name}{what}: is required to test "
            f"{name} in {region}: {wanted}; {why}"
        )


def _restore_testing_names(prefix: str, restore: RestoreTestingConfig) -> Iterable[str]:
    """Names derived from the prefix that must fit restore testing's and IAM's limits."""
    limit = MAX_RESTORE_TESTING_NAME
    names = [("restoreTesting", "the restore testing plan name", restore_plan_name(prefix), limit)]
    names.extend(
        (f"restoreTesting.resourceTypes[{index}]", "the selection name", selection, limit)
        for index, selection in enumerate(
            restore_selection_name(prefix, name) for name in restore.resource_types
        )
    )
    names.append(("restoreTesting", "the IAM role name", restore_role_name(prefix), MAX_ROLE_NAME))
    for key, what, name, most in names:
        if len(name) > most:
            yield (
                f"{key}: becomes {what} {name!r} ({len(name)} characters), which allows at most "
                f"{most}: use a shorter environment"
            )


# One report plan covers at most 300 accounts x Regions, a quota AWS does not raise (AWS Backup
# Developer Guide, "AWS Backup quotas", Backup Audit Manager). The stack splits its report plans
# per Region (deploy/audit.py), so a plan over listed accounts holds at most 300 of them; an OU
# scope is counted by `make doctor`, which can see its members.
MAX_REPORT_ACCOUNT_REGIONS = 300


def report_accounts(organization: OrganizationConfig, destination: DestinationConfig) -> list[str]:
    """The accounts a report plan lists: the account targets and the destination (none for a
    targeted root, which a plan covers as `ROOT`)."""
    targets = organization.policy_targets
    if any(target.startswith("r-") for target in targets):
        return []
    return sorted({t for t in targets if t.isdigit()} | {destination.account_id})


def report_scope_rules(
    organization: OrganizationConfig, destination: DestinationConfig, audit: AuditConfig | None
) -> Iterable[str]:
    """Report plans over listed accounts stay within AWS's accounts x Regions quota."""
    if audit is None or not audit.enabled:
        return
    accounts = report_accounts(organization, destination)
    if len(accounts) > MAX_REPORT_ACCOUNT_REGIONS:
        yield (
            f"organization.policyTargets: lists {len(accounts)} accounts (with the destination), "
            f"but an audit report plan covers at most {MAX_REPORT_ACCOUNT_REGIONS} accounts x "
            "Regions (AWS Backup quotas, not adjustable), and the stack's plans are one per "
            "Region: target the accounts' OUs instead, or set audit.enabled: false"
        )


# EventBridge rule names: at most 64 characters (EventBridge API reference, PutRule, Name).
MAX_RULE_NAME = 64


def alert_rule_name_rules(prefix: str, monitoring: MonitoringConfig | None) -> Iterable[str]:
    """The central bus's rules, `<prefix>-backup-alerts-<route>`, fit EventBridge's limit."""
    if monitoring is None:
        return
    for route in ROUTES:
        name = f"{prefix}-backup-alerts-{route.name}"
        if len(name) > MAX_RULE_NAME:
            yield (
                f"monitoring: becomes the EventBridge rule name {name!r} ({len(name)} "
                f"characters), which allows at most {MAX_RULE_NAME}: use a shorter environment"
            )
