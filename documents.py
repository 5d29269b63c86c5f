"""Every document the stack renders from its topology, as plain data.

The backup policy, the central keys' policies, the export bucket's policy, the organization's
delegation policy and the member template's contents: built here from `policies/` (the
builders) and `topology.Topology` (who, where, which scope), with the AWS size limits checked
before anything is declared. Pure: the program declares them, `make doctor` compares what is
deployed with them, and the flow tests evaluate them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config import ConfigError
from policies.audit import audit_name
from policies.backup import PolicyTooLargeError, backup_policy_document, render_backup_policy
from policies.iam import backup_service_role_policies, split_role_name
from policies.kms import KeyPolicyTooLargeError, check_key_policy_size, destination_key_policy
from policies.member_template import (
    AuditSpec,
    DoctorRoleSpec,
    ExporterSpec,
    MemberTemplateArgs,
    ServiceRoleSpec,
)
from policies.organizations import backup_policy_delegation, delegation_resource_policy
from policies.s3 import BucketPolicyTooLargeError, check_bucket_policy_size, export_bucket_policy
from policies.statements import PolicyDocument
from topology import Topology


def organization_backup_policy(topology: Topology) -> str:
    """The rendered BACKUP_POLICY document; a size problem is reported as a config error."""
    config = topology.config
    plan = config.backup_plan
    document = backup_policy_document(
        plan_name=config.plan_key,
        regions=plan.regions,
        schedule_expression=plan.schedule_expression,
        start_window_minutes=plan.start_window_minutes,
        complete_window_minutes=plan.complete_window_minutes,
        delete_after_days=plan.delete_after_days,
        cold_storage_after_days=plan.cold_storage_after_days,
        source_vault_name=plan.source_vault_name,
        copy_target_vault_arns=topology.copy_target_vault_arns,
        copy_delete_after_days=plan.copy_delete_after_days,
        copy_cold_storage_after_days=plan.copy_cold_storage_after_days,
        selection_tag_key=plan.selection_tag.key,
        selection_tag_values=plan.selection_tag.values,
        service_role_name=plan.service_role_name,
        windows_vss=plan.windows_vss,
        recovery_point_tags=sorted(plan.recovery_point_tags.items()),
        plan_tags=config.standard_tags,
    )
    try:
        return render_backup_policy(document)
    except PolicyTooLargeError as error:
        raise ConfigError([f"backupPlan: {error}"]) from None


def destination_key_policies(topology: Topology) -> dict[str, PolicyDocument]:
    """Region -> the destination vault key's policy; one KMS would refuse for its size is a
    config error."""
    destination = topology.config.destination
    policy = destination_key_policy(
        destination.account_id,
        topology.copy_in_scope,
        topology.copy_back_scope if destination.allow_copy_back else None,
    )
    try:
        check_key_policy_size(policy)
    except KeyPolicyTooLargeError as error:
        raise ConfigError([f"destination: {error}"]) from None
    return {region: policy for region in destination.regions}


def export_bucket_policy_document(topology: Topology) -> PolicyDocument | None:
    """The export bucket's policy (None without export); one S3 would refuse for its size is a
    config error."""
    export = topology.config.dynamodb_export
    if export is None:
        return None
    policy = export_bucket_policy(
        export.bucket.name,
        topology.config.environment,
        topology.export_writers,
        topology.member_scope,
    )
    try:
        check_bucket_policy_size(policy)
    except BucketPolicyTooLargeError as error:
        raise ConfigError([f"dynamodbExport: {error}"]) from None
    return policy


def delegation_policy(topology: Topology) -> PolicyDocument | None:
    """The organization's resource policy, when this stack owns it (and delegates)."""
    organization = topology.config.organization
    delegate = organization.delegated_administrator
    if delegate is None or not topology.owns_delegation:
        return None
    own = backup_policy_delegation(
        organization.management_account.account_id, organization.id, delegate.account_id
    )
    return delegation_resource_policy(own, organization.extra_delegation_statements)


@dataclass(frozen=True)
class SizedDocuments:
    """The documents AWS limits in size, built and checked before anything is declared."""

    backup_policy: str
    export_bucket_policy: PolicyDocument | None
    key_policies: dict[str, PolicyDocument]


def sized_documents(topology: Topology) -> SizedDocuments:
    """Build every document AWS limits in size: each one that is too large is reported in one
    config error, not only the first, so a bad stack file never leaves a half-deployed stack."""
    problems: list[str] = []

    def attempt(build: Callable[[Topology], Any]) -> Any:
        try:
            return build(topology)
        except ConfigError as error:
            problems.extend(error.problems)
            return None

    built = (
        attempt(organization_backup_policy),
        attempt(export_bucket_policy_document),
        attempt(destination_key_policies),
    )
    if problems:
        raise ConfigError(problems)
    return SizedDocuments(*built)


def doctor_role_spec(topology: Topology) -> DoctorRoleSpec | None:
    """The member template's doctor role, when `organization.doctorRoleName` is set: trusted
    by the administering account's preview and deploy roles."""
    name = topology.config.organization.doctor_role_name
    if name is None:
        return None
    home = topology.administering_account
    path, short_name = split_role_name(name)
    return DoctorRoleSpec(
        name=short_name,
        path=path,
        runner_account_id=home.account_id,
        runner_role_arns=[arn for arn in (home.preview_role_arn, home.role_arn) if arn],
    )


def member_template_args(
    topology: Topology, code_key: str, kms_key_arn: str | None
) -> MemberTemplateArgs:
    """What the member template holds, from the same topology as providers mode."""
    config = topology.config
    prefix = topology.prefix
    plan = config.backup_plan
    exporter = None
    if topology.exporter is not None:
        exporter = ExporterSpec(
            settings=topology.exporter,
            role_names={region: topology.exporter_role_name(region) for region in plan.regions},
            code_buckets=topology.code_buckets,
            code_key=code_key,
            kms_key_arn=kms_key_arn,
        )
    return MemberTemplateArgs(
        description=f"{prefix}: source vault, key, backup service role, exporter",
        regions=plan.regions,
        primary_region=topology.iam_region,
        destination_account_id=config.destination.account_id,
        copy_back_role_arn=topology.copy_back_role_arn,
        source_vault_name=plan.source_vault_name,
        source_key_alias=f"alias/{prefix}-source-vault",
        service_role=(
            ServiceRoleSpec(
                name=plan.service_role_short_name,
                path=plan.service_role_path,
                managed_policies=backup_service_role_policies(plan.resource_types),
            )
            if plan.create_service_role
            else None
        ),
        exporter=exporter,
        alerts=topology.alert_forwarding,
        audit=(
            AuditSpec(audit_name(prefix, "backup_copy"), topology.audit_member_controls)
            if config.audit is not None
            else None
        ),
        doctor=doctor_role_spec(topology),
    )
