"""Restore testing in the destination account: a plan per vault Region, a selection per type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_service_role import BackupServiceRole, BackupServiceRoleArgs
from policies.restore import recovery_point_selection


@dataclass(frozen=True)
class RestoreTestSelection:
    """One resource type to test, its selection's name and its restore metadata overrides.

    Which resources: `protected_resource_arns` (at most 30, or the wildcard), or else the
    `tag_conditions` (`StringEquals` entries); the provider takes exactly one of the two.
    """

    name: str
    resource_type: str
    metadata_overrides: Mapping[str, str]
    protected_resource_arns: Sequence[str] | None
    tag_conditions: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True)
class RestoreTestRegion:
    """One vault Region: the vault whose recovery points are tested, when, and what."""

    region: str
    # An output of the vault's ARN, so that the plan waits for the vault.
    vault_arn: pulumi.Input[str]
    schedule_expression: str
    selections: Sequence[RestoreTestSelection]


@dataclass(frozen=True)
class RestoreTestingArgs:
    """How far back tests look, how long results are kept, and the role restores run as."""

    plan_name: str
    selection_window_days: int
    validation_window_hours: int
    regions: Sequence[RestoreTestRegion]
    role_name: str
    role_policies: Sequence[str]
    provider: aws.Provider


class RestoreTesting(pulumi.ComponentResource):
    """One restore role (IAM is global), and in each tested vault Region a restore testing plan
    over that Region's vault only, on its own schedule, with one selection per resource type."""

    role_arn: pulumi.Output[str]
    plan_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: RestoreTestingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:RestoreTesting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        role = BackupServiceRole(
            f"{name}-service",
            BackupServiceRoleArgs(
                role_name=args.role_name,
                role_path="/",
                managed_policies=args.role_policies,
                provider=args.provider,
                description="Assumed by AWS Backup to run the stack's scheduled restore tests",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # A test that starts before the role has its policies fails.
        after_role = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role]))
        self.role_arn = role.role_arn
        self.plan_arns = {}
        for place in args.regions:
            region = place.region
            plan = aws.backup.RestoreTestingPlan(
                f"{name}-{region}",
                region=region,
                name=args.plan_name,
                schedule_expression=place.schedule_expression,
                recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                    **recovery_point_selection(place.vault_arn, args.selection_window_days)
                ),
                opts=child,
            )
            for selection in place.selections:
                aws.backup.RestoreTestingSelection(
                    f"{name}-{region}-{selection.resource_type.lower()}",
                    region=region,
                    name=selection.name,
                    restore_testing_plan_name=plan.name,
                    protected_resource_type=selection.resource_type,
                    protected_resource_arns=(
                        list(selection.protected_resource_arns)
                        if selection.protected_resource_arns is not None
                        else None
                    ),
                    protected_resource_conditions=(
                        aws.backup.RestoreTestingSelectionProtectedResourceConditionsArgs(
                            string_equals=[
                                aws.backup.RestoreTestingSelectionProtectedResourceConditionsStringEqualArgs(
                                    key=entry["key"], value=entry["value"]
                                )
                                for entry in selection.tag_conditions
                            ]
                        )
                        if selection.tag_conditions
                        else None
                    ),
                    iam_role_arn=role.role_arn,
                    validation_window_hours=args.validation_window_hours,
                    # None when there are none: AWS Backup then infers every value.
                    restore_metadata_overrides=dict(selection.metadata_overrides) or None,
                    opts=after_role,
                )
            self.plan_arns[region] = plan.arn
        self.register_outputs({"role_arn": self.role_arn, "plan_arns": self.plan_arns})
