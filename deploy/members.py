"""The member accounts: the prepared accounts through this stack's providers (source vault,
key, backup service role, exporter), and the member StackSet that prepares the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.backup_service_role import BackupServiceRole, BackupServiceRoleArgs
from components.dynamodb_exporter import DynamoDbExporter, DynamoDbExporterArgs
from components.export_bucket import ExportBucket
from components.member_stack_set import MemberStackSet, MemberStackSetArgs
from components.source_account import SourceAccount, SourceAccountArgs
from documents import member_template_args
from policies.exporter_deployment import code_digest
from policies.iam import backup_service_role_policies
from policies.member_template import member_template, render_member_template
from providers import ProviderRegistry
from topology import Topology


@dataclass
class PreparedResources:
    """What the prepared member accounts hold, for dependencies and outputs."""

    resources: list[pulumi.Resource] = field(default_factory=list)
    vault_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    service_role_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    exporter_arns: dict[str, pulumi.Output[str]] = field(default_factory=dict)


def declare_prepared_accounts(
    topology: Topology, providers: ProviderRegistry, bucket: ExportBucket | None
) -> PreparedResources:
    """Source vault, key, service role (and exporter) in each account the stack prepares."""
    config = topology.config
    plan = config.backup_plan
    region_settings = plan.region_settings
    prepared = PreparedResources()
    for member in topology.prepared_accounts:
        account_id = member.access.account_id
        provider = providers.get(member.access, member.regions[0])
        if plan.create_service_role:
            role = BackupServiceRole(
                f"source-{account_id}-backup-service",
                BackupServiceRoleArgs(
                    role_name=plan.service_role_short_name,
                    role_path=plan.service_role_path,
                    managed_policies=backup_service_role_policies(plan.resource_types),
                    provider=provider,
                ),
            )
            prepared.service_role_arns[account_id] = role.role_arn
            prepared.resources.append(role)
        owns_region_settings = region_settings is not None and member.manage_region_settings
        for region in member.regions:
            # Region settings only where the plan runs: the policy backs up nothing elsewhere.
            settings_here = owns_region_settings and region in plan.regions
            source = SourceAccount(
                f"source-{account_id}-{region}",
                SourceAccountArgs(
                    account_id=account_id,
                    region=region,
                    vault_name=plan.source_vault_name,
                    key_alias=f"alias/{topology.prefix}-source-vault",
                    destination_account_id=config.destination.account_id,
                    provider=provider,
                    region_settings=region_settings if settings_here else None,
                    copy_back_role_arn=topology.copy_back_role_arn,
                ),
            )
            prepared.vault_arns[f"{account_id}/{region}"] = source.vault_arn
            prepared.resources.append(source)
            if bucket is not None and topology.exporter is not None:
                exporter = DynamoDbExporter(
                    f"exporter-{account_id}-{region}",
                    DynamoDbExporterArgs(
                        account_id=account_id,
                        region=region,
                        role_name=topology.exporter_role_name(region),
                        settings=topology.exporter,
                        kms_key_arn=bucket.kms_key_arn,
                        provider=provider,
                    ),
                    # Writes are refused until the bucket policy admits the exporter roles.
                    opts=pulumi.ResourceOptions(depends_on=[bucket]),
                )
                prepared.exporter_arns[f"{account_id}/{region}"] = exporter.function_arn
    return prepared


def declare_member_stack_set(
    topology: Topology,
    providers: ProviderRegistry,
    bucket: ExportBucket | None,
    delegation: pulumi.Resource | None,
) -> MemberStackSet:
    """The StackSet that prepares every member account under the targeted roots and OUs."""
    config = topology.config
    organization = config.organization
    admin = topology.administering_account
    code_key = f"dynamodb-export/{code_digest()}.zip"

    def template(kms_key_arn: str | None) -> str:
        return render_member_template(
            member_template(member_template_args(topology, code_key, kms_key_arn))
        )

    template_body: pulumi.Input[str] = template(None)
    if bucket is not None and bucket.kms_key_arn is not None:
        template_body = bucket.kms_key_arn.apply(template)
    return MemberStackSet(
        "members",
        MemberStackSetArgs(
            stack_set_name=f"{topology.prefix}-members",
            template_body=template_body,
            regions=config.backup_plan.regions,
            organizational_unit_ids=organization.policy_targets,
            # Copies leave the account they protect: the destination never backs up into itself.
            excluded_account_ids=[config.destination.account_id],
            call_as="DELEGATED_ADMIN" if organization.delegated_administrator else "SELF",
            preferences=organization.stack_set,
            code_buckets=dict(topology.code_buckets),
            code_key=code_key,
            organization_id=organization.id,
            region=organization.region,
            provider=providers.get(admin, organization.region),
        ),
        # The delegated administrator can call as DELEGATED_ADMIN only once registered for
        # StackSets; the export bucket's key is in the template.
        opts=pulumi.ResourceOptions(
            depends_on=[dependency for dependency in (bucket, delegation) if dependency is not None]
        ),
    )
