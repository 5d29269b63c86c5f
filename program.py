"""The Pulumi program: the composition root of one stack.

It reads like the architecture page (docs/architecture.md): from the validated configuration,
the organization as this stack sees it (`topology.Topology`) and the documents AWS limits in
size (`documents`), then the destination, the members, the export bucket, operations and, last,
the organization's singletons and backup policy, which must wait for everything it names.
"""

from __future__ import annotations

import pulumi

from config import ConfigError, StackConfig
from deploy.audit import declare_audit
from deploy.destination import (
    declare_copy_back_role,
    declare_destination,
    declare_restore_testing,
)
from deploy.export import declare_export_bucket
from deploy.loader import StackConfigError, load_stack_config
from deploy.members import declare_member_stack_set, declare_prepared_accounts
from deploy.monitoring import declare_monitoring
from deploy.organization import declare_backup_policy, declare_organization_settings
from documents import sized_documents
from policies.kms import workload_key_statements
from providers import ProviderRegistry
from topology import Topology


def deploy(config: StackConfig) -> None:
    """Declare every resource of the stack and export its outputs.

    Everything that can be refused for the config's sake is computed before the first
    resource is declared, so a bad stack file never leaves a half-deployed stack.
    """
    topology = Topology(config)
    documents = sized_documents(topology)
    providers = ProviderRegistry(config.name_prefix, dict(config.standard_tags))

    destination = declare_destination(topology, documents.key_policies, providers)
    copy_back_role = (
        declare_copy_back_role(topology, providers) if config.destination.allow_copy_back else None
    )
    declare_restore_testing(topology, providers, destination)
    bucket = (
        declare_export_bucket(topology, documents.export_bucket_policy, providers)
        if documents.export_bucket_policy is not None
        else None
    )
    members = declare_prepared_accounts(topology, providers, bucket)
    settings = declare_organization_settings(topology, providers)
    before_policy: list[pulumi.Resource] = [destination, *members.resources]
    before_policy.extend(declare_monitoring(topology, providers))
    before_policy.extend(declare_audit(topology, providers))
    if settings is not None:
        before_policy.append(settings)
    if topology.stack_sets:
        stack_set = declare_member_stack_set(topology, providers, bucket, settings)
        before_policy.append(stack_set)
        pulumi.export("memberStackSetName", stack_set.stack_set_name)
    organization = declare_backup_policy(
        topology, documents.backup_policy, before_policy, providers
    )

    pulumi.export("destinationVaultArns", destination.vault_arns)
    pulumi.export("destinationKeyArns", destination.key_arns)
    pulumi.export("sourceVaultArns", members.vault_arns)
    pulumi.export("backupServiceRoleArns", members.service_role_arns)
    pulumi.export("organizationPolicyId", organization.policy_id)
    # For workload teams: what their RDS/EBS/... keys must allow for copies to leave the account.
    pulumi.export(
        "workloadKeyPolicyStatements",
        workload_key_statements(config.destination.account_id),
    )
    if copy_back_role is not None:
        pulumi.export("copyBackRoleArn", copy_back_role.role_arn)
    if bucket is not None:
        pulumi.export("exportBucketName", bucket.bucket_name)
        pulumi.export("exporterFunctionArns", members.exporter_arns)


def main() -> None:
    """Entry point used by `__main__.py` (and so by `pulumi up` and the offline plan).

    A document AWS would refuse for its size is a configuration problem like any other: the
    Pulumi CLI reports it without a stack trace.
    """
    config = load_stack_config()
    try:
        deploy(config)
    except ConfigError as error:
        raise StackConfigError(error.problems) from None
