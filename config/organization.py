"""The organization section and the member accounts: who administers, where the policy goes,
how member accounts are prepared, and the source accounts of providers mode."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from config.scalars import (
    RESOURCE_POLICY_ID,
    Bool,
    OrganizationId,
    PolicyTargets,
    Region,
    Regions,
    RoleName,
    _digits_to_int,
    _unique,
    between,
    matches,
    number_schema,
    pattern_schema,
)
from config.section import AccountAccess, Section

MemberDeployment = Literal["providers", "stackSets"]
# The services the delegated administrator is registered for (components/organization_settings).
DelegatedService = Literal[
    "backup.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com"
]


class GlobalSettingsConfig(Section):
    """The organization's AWS Backup global settings other than cross-account backup.

    UpdateGlobalSettings replaces every setting; the stack that owns them must state each one
    so that it never switches off an organization's multi-party approval or delegation.
    """

    is_mpa_enabled: Bool = Field(description="Multi-party approval, as the organization has it")
    is_delegated_administrator_enabled: Bool = Field(
        description="Delegated administration of AWS Backup, as the organization has it"
    )


class StackSetConfig(Section):
    """How the member StackSet rolls out (stackSets mode)."""

    retain_stacks_on_account_removal: Bool = Field(
        default=True,
        description="Keep an account's member stack (its vault, key and role) when the account "
        "leaves a targeted OU",
    )
    max_concurrent_percentage: Annotated[
        int, BeforeValidator(_digits_to_int), Strict(), between(1, 100), number_schema(1, 100)
    ] = Field(default=25, description="Share of the accounts deployed at once, per Region")
    failure_tolerance_percentage: Annotated[
        int, BeforeValidator(_digits_to_int), Strict(), between(0, 100), number_schema(0, 100)
    ] = Field(default=10, description="Share of the accounts that may fail before it stops")
    region_concurrency: Literal["SEQUENTIAL", "PARALLEL"] = Field(
        default="PARALLEL", description="Regions one after another, or at once"
    )
    iam_region: Region | None = Field(
        default=None,
        description="The one plan Region whose stack instance creates the member accounts' IAM "
        "roles (IAM is global); default the first backupPlan.regions entry. Changing it moves "
        "every role between instances: see docs/organization-scale.md before you do",
    )


class OrganizationConfig(Section):
    """The Organizations management account and where the backup policy is attached."""

    id: OrganizationId = Field(description="Organization id, o-...")
    management_account: AccountAccess = Field(description="The management account")
    region: Region = Field(description="Where the Organizations and global AWS Backup calls go")
    policy_targets: PolicyTargets = Field(
        description="Roots (r-...), OUs (ou-...-...) or account ids the backup policy is "
        "attached to; an account must be one of sourceAccounts"
    )
    manage_global_settings: Bool = Field(
        default=True,
        description="This stack owns the organization's one aws.backup.GlobalSettings; "
        "exactly one stack per organization may",
    )
    global_settings: GlobalSettingsConfig | None = Field(
        default=None,
        description="Required while manageGlobalSettings is true: the other global settings, "
        "as the organization has them",
    )
    member_deployment: MemberDeployment = Field(
        default="providers",
        description="providers: sourceAccounts through this stack's providers; stackSets: "
        "every account under the targeted roots/OUs through a service-managed StackSet",
    )
    delegated_administrator: AccountAccess | None = Field(
        default=None,
        description="Member account that holds the backup policy, its attachments and the "
        "StackSet instead of the management account",
    )
    extra_delegation_statements: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="Statements of the organization's one resource policy that are not this "
        "program's (other services' delegations), kept beside its own",
    )
    import_resource_policy_id: (
        Annotated[
            str,
            Strict(),
            matches(RESOURCE_POLICY_ID, "a resource policy id (rp-...)"),
            pattern_schema(RESOURCE_POLICY_ID),
        ]
        | None
    ) = Field(
        default=None,
        description="Id of the organization's existing resource policy, to adopt it "
        "(pulumi import) instead of failing to create a second one",
    )
    create_resource_policy: Bool = Field(
        default=False,
        description="The owning stack creates the organization's resource policy, which does "
        "not exist yet; where one exists, adopt it with importResourcePolicyId instead "
        "(PutResourcePolicy would overwrite it)",
    )
    import_delegated_administrator_registrations: Annotated[
        tuple[DelegatedService, ...], AfterValidator(_unique)
    ] = Field(
        default=(),
        description="Services the delegated administrator is already registered for (in the "
        "console, for StackSets, or by `make doctor`'s advice): the owning stack adopts those "
        "registrations (pulumi import) instead of failing to create them",
    )
    stack_set: StackSetConfig = Field(
        default_factory=StackSetConfig, description="StackSet rollout (stackSets mode)"
    )
    doctor_role_name: RoleName | None = Field(
        default=None,
        description="Read-only role `make doctor` assumes in accounts it finds only under the "
        "targeted roots and OUs (optionally with a path); the member template creates it in "
        "stackSets mode. Unset: such accounts are reported unknown",
    )


class SourceAccountConfig(AccountAccess):
    """A member account whose resources are backed up, and the Regions it runs backups in."""

    regions: Regions = Field(
        description="Regions with a source vault (and exporter); must cover backupPlan.regions"
    )
    manage_region_settings: Bool = Field(
        default=True,
        description="With backupPlan.regionSettings: false leaves this account's Region "
        "settings alone",
    )


SourceAccounts = Annotated[tuple[SourceAccountConfig, ...], Field(min_length=1)]
