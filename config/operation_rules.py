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
    RestoreTestingConfig,
)
from config.scalars import MAX_ROLE_NAME
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
    for index, name in enumerate(restore.resource_types):
        if plan is not None and plan.resource_types and name not in plan.resource_types:
            yield (
                f"{path}.resourceTypes[{index}]: {name} is not in backupPlan.resourceTypes, so "
                "the central vault would hold no recovery point of it to test; back it up or "
                "remove it here"
            )
        if name in PLACEMENT_OVERRIDES:
            yield from _placement_rule(restore, name, regions)
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
    if len(regions) > 1:
        regional = {key.lower() for key in REGIONAL_OVERRIDES}
        for name, values in restore.metadata_overrides.items():
            for key in values:
                if key.lower() in regional:
                    yield (
                        f"{path}.metadataOverrides.{name}.{key}: names things of one Region, but "
                        f"tests run in {' and '.join(regions)}: give it per Region under "
                        f"{path}.regionMetadataOverrides.<region>.{name}.{key}"
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
        "without it AWS Backup restores into the destination account's default VPC, and fails "
        f"where there is none ({source})"
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
