"""The organization: features, policy type, trusted access, delegation, targets, settings.

Everything here is read in the management account, which may call every Organizations List
and Describe operation (most are "only from the management account or a member account that
is a delegated administrator", Organizations API reference), and whose AWS Backup global
settings are the organization's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from config import AccountAccess
from config.scalars import ACCOUNT_ID
from documents import delegation_policy
from tools.doctor.access import Reader
from tools.doctor.context import Context, Member, error_code, guarded, reach
from tools.doctor.model import GLOBAL, Finding, ok
from tools.doctor.rules import parse_policy, resource_policy_verdict

BACKUP_PRINCIPAL = "backup.amazonaws.com"
# The principal StackSets trusted access and delegated administration use (CloudFormation User
# Guide, "Activate trusted access for StackSets with AWS Organizations").
STACK_SETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
# Organizations API reference, Account: State replaces Status; either says ACTIVE for an
# account that runs workloads. Suspended and closed accounts run no backup jobs.
ACTIVE = "ACTIVE"


@dataclass
class Organization:
    """What the walk found: the active accounts under the targets, and how many it skipped."""

    members: dict[str, Member] = field(default_factory=dict)
    skipped: int = 0
    # The target the destination account was found under, if any.
    destination_under: str | None = None
    # True once every target was walked (the accounts under OUs are known).
    walked: bool = False

    def under_organizational_units(self) -> set[str] | None:
        """The active accounts found under targeted OUs; None when the walk did not finish."""
        if not self.walked:
            return None
        return {m.account_id for m in self.members.values() if m.target.startswith("ou-")}


def _principals(ctx: Context) -> list[str]:
    if ctx.config.organization.member_deployment == "stackSets":
        return [BACKUP_PRINCIPAL, STACK_SETS_PRINCIPAL]
    return [BACKUP_PRINCIPAL]


def _features(ctx: Context, reader: Reader) -> list[Finding]:
    account, region = reader.account_id, ctx.config.organization.region
    wanted = ctx.config.organization.id
    found = reader.client("organizations", region).describe_organization()["Organization"]
    check = "organization.all-features"
    if found["Id"] != wanted:
        fix = (
            f"organization.id is {wanted} but the management account belongs to {found['Id']}: "
            "correct organization.id or organization.managementAccount"
        )
        return [Finding(check, "failure", account, GLOBAL, wanted, fix)]
    if found.get("FeatureSet") != "ALL":
        # Organizations API reference, Organization.FeatureSet: with CONSOLIDATED_BILLING
        # "only consolidated billing functionality is available": no policies at all.
        fix = (
            "only consolidated billing is enabled, so no backup policy applies: aws "
            "organizations enable-all-features (management account), then every member "
            "account accepts the handshake"
        )
        return [Finding(check, "failure", account, GLOBAL, wanted, fix)]
    return [ok(check, account, GLOBAL, wanted)]


def _roots(ctx: Context, reader: Reader, roots: set[str]) -> list[Finding]:
    """BACKUP_POLICY on each root; the root ids go to `roots`."""
    account, region = reader.account_id, ctx.config.organization.region
    found = [
        r for page in reader.pages("organizations", region, "list_roots") for r in page["Roots"]
    ]
    findings = []
    for root in found:
        # Organizations API reference, ListRoots: "Policy types can be enabled and disabled
        # in roots"; the root's PolicyTypes says which are, and their status.
        types = {p["Type"]: p["Status"] for p in root.get("PolicyTypes", [])}
        status = types.get("BACKUP_POLICY")
        check = "organization.backup-policy-type"
        if status == "ENABLED":
            findings.append(ok(check, account, GLOBAL, root["Id"]))
            continue
        fix = (
            f"BACKUP_POLICY is {status.lower().replace('_', ' ') if status else 'not enabled'} "
            f"on the root: aws organizations enable-policy-type --root-id {root['Id']} "
            "--policy-type BACKUP_POLICY"
        )
        findings.append(
            Finding(check, "warning" if status else "failure", account, GLOBAL, root["Id"], fix)
        )
    roots.update(root["Id"] for root in found)
    return findings


def _listed(
    reader: Reader, region: str, operation: str, key: str, field_name: str, **params: str
) -> set[str]:
    """One field of every item of a paginated Organizations listing."""
    pages = reader.pages("organizations", region, operation, **params)
    return {str(item[field_name]) for page in pages for item in page[key]}


def _trusted_access(ctx: Context, reader: Reader) -> list[Finding]:
    account, region = reader.account_id, ctx.config.organization.region
    enabled = _listed(
        reader,
        region,
        "list_aws_service_access_for_organization",
        "EnabledServicePrincipals",
        "ServicePrincipal",
    )
    findings = []
    for principal in _principals(ctx):
        check = "organization.trusted-access"
        if principal in enabled:
            findings.append(ok(check, account, GLOBAL, principal))
            continue
        how = (
            "CloudFormation console, StackSets, Activate trusted access (AWS recommends the "
            "service's own console), or "
            if principal == STACK_SETS_PRINCIPAL
            else ""
        )
        fix = (
            f"trusted access is off: {how}aws organizations enable-aws-service-access "
            f"--service-principal {principal}"
        )
        findings.append(Finding(check, "failure", account, GLOBAL, principal, fix))
    return findings


def _delegation(ctx: Context, reader: Reader, delegate: AccountAccess) -> list[Finding]:
    organization = ctx.config.organization
    account, region = reader.account_id, organization.region
    findings = []
    for principal in _principals(ctx):
        registered = _listed(
            reader,
            region,
            "list_delegated_administrators",
            "DelegatedAdministrators",
            "Id",
            ServicePrincipal=principal,
        )
        check = "organization.delegated-administrator"
        resource = f"{delegate.account_id} for {principal}"
        if delegate.account_id in registered:
            findings.append(ok(check, account, GLOBAL, resource))
        elif not (organization.manage_global_settings and ctx.options.before_deploy):
            owner = (
                ctx.redeploy
                if organization.manage_global_settings
                else "pulumi up on the stack with manageGlobalSettings: true"
            )
            fix = (
                f"not registered: {owner} registers it (or aws organizations "
                f"register-delegated-administrator --account-id {delegate.account_id} "
                f"--service-principal {principal})"
            )
            findings.append(Finding(check, "failure", account, GLOBAL, resource, fix))
    return findings


def _resource_policy(ctx: Context, reader: Reader, delegate: AccountAccess) -> list[Finding]:
    organization = ctx.config.organization
    expected = delegation_policy(ctx.topology)
    client = reader.client("organizations", organization.region)
    try:
        found = client.describe_resource_policy()["ResourcePolicy"]
    except ClientError as error:
        if error_code(error) != "ResourcePolicyNotFoundException":
            raise
        found = None
    if found is None and expected is not None and ctx.options.before_deploy:
        return []
    policy_id = found["ResourcePolicySummary"]["Id"] if found else None
    status, fix = resource_policy_verdict(
        parse_policy(found["Content"]) if found else None,
        policy_id,
        expected,
        delegate.account_id,
        organization.import_resource_policy_id,
        ctx.redeploy,
    )
    resource = policy_id or "resource policy"
    return [
        Finding("organization.resource-policy", status, reader.account_id, GLOBAL, resource, fix)
    ]


def _target_exists(ctx: Context, reader: Reader, target: str, roots: set[str]) -> bool:
    client = reader.client("organizations", ctx.config.organization.region)
    if target.startswith("r-"):
        return target in roots
    try:
        if target.startswith("ou-"):
            client.describe_organizational_unit(OrganizationalUnitId=target)
        else:
            client.describe_account(AccountId=target)
    except ClientError as error:
        code = error_code(error)
        if code in ("OrganizationalUnitNotFoundException", "AccountNotFoundException"):
            return False
        raise
    return True


def _policy_target(
    ctx: Context, reader: Reader, index: int, target: str, roots: set[str], live: list[str]
) -> list[Finding]:
    """The target exists (then it joins `live`, to be walked) and carries the stack's policy."""
    account, region = reader.account_id, ctx.config.organization.region
    check = "organization.policy-target"
    if not _target_exists(ctx, reader, target, roots):
        fix = (
            f"organization.policyTargets[{index}]: no {target} in organization "
            f"{ctx.config.organization.id}; correct it"
        )
        return [Finding(check, "failure", account, GLOBAL, target, fix)]
    live.append(target)
    attached = {
        policy["Name"]
        for page in reader.pages(
            "organizations",
            region,
            "list_policies_for_target",
            TargetId=target,
            Filter="BACKUP_POLICY",
        )
        for policy in page["Policies"]
    }
    name = ctx.config.plan_key
    if name in attached or ctx.options.before_deploy:
        return [ok(check, account, GLOBAL, target)]
    fix = f"backup policy {name} is not attached: {ctx.redeploy} attaches it"
    return [Finding(check, "failure", account, GLOBAL, target, fix)]


def _accounts_under(reader: Reader, region: str, target: str) -> Iterator[dict[str, Any]]:
    """Every account under a root or OU, nested OUs included (ListAccountsForParent lists an
    OU's own accounts "and not in any child OUs")."""
    parents = [target]
    while parents:
        parent = parents.pop()
        for page in reader.pages(
            "organizations", region, "list_accounts_for_parent", ParentId=parent
        ):
            yield from page["Accounts"]
        for page in reader.pages(
            "organizations", region, "list_organizational_units_for_parent", ParentId=parent
        ):
            parents.extend(unit["Id"] for unit in page["OrganizationalUnits"])


def _discover(ctx: Context, reader: Reader, live_targets: list[str], found: Organization) -> None:
    region = ctx.config.organization.region
    client = reader.client("organizations", region)
    for target in live_targets:
        if ACCOUNT_ID.fullmatch(target):
            accounts = [client.describe_account(AccountId=target)["Account"]]
        else:
            accounts = list(_accounts_under(reader, region, target))
        for account in accounts:
            account_id = account["Id"]
            if (account.get("State") or account.get("Status")) != ACTIVE:
                found.skipped += 1
            elif account_id == ctx.config.destination.account_id:
                found.destination_under = target
            elif account_id not in found.members:
                found.members[account_id] = Member(account_id, ctx.preparer(account_id), target)
    found.walked = True


def check_organization(ctx: Context) -> tuple[list[Finding], Organization]:
    """The organization-wide checks, and the active accounts the backup policy reaches."""
    reader = ctx.management()
    account = reader.account_id
    found = Organization()
    unreachable = reach(ctx, reader)
    if unreachable:
        return unreachable, found
    org_id = ctx.config.organization.id
    findings = guarded("organization.all-features", account, GLOBAL, org_id, _features, ctx, reader)
    roots: set[str] = set()
    findings += guarded(
        "organization.backup-policy-type", account, GLOBAL, "root", _roots, ctx, reader, roots
    )
    findings += guarded(
        "organization.trusted-access",
        account,
        GLOBAL,
        BACKUP_PRINCIPAL,
        _trusted_access,
        ctx,
        reader,
    )
    delegate = ctx.config.organization.delegated_administrator
    if delegate is not None:
        for check, resource, run in (
            ("organization.delegated-administrator", delegate.account_id, _delegation),
            ("organization.resource-policy", "resource policy", _resource_policy),
        ):
            findings += guarded(check, account, GLOBAL, resource, run, ctx, reader, delegate)
    live: list[str] = []
    for index, target in enumerate(ctx.config.organization.policy_targets):
        findings += guarded(
            "organization.policy-target",
            account,
            GLOBAL,
            target,
            _policy_target,
            ctx,
            reader,
            index,
            target,
            roots,
            live,
        )
    findings += guarded(
        "organization.destination-targeted",
        account,
        GLOBAL,
        "policy targets",
        _discovered,
        ctx,
        reader,
        live,
        found,
    )
    findings += guarded(
        "backup.global-settings",
        account,
        ctx.config.organization.region,
        "global settings",
        _global_settings,
        ctx,
        reader,
    )
    return findings, found


def _discovered(
    ctx: Context, reader: Reader, live: list[str], found: Organization
) -> list[Finding]:
    _discover(ctx, reader, live, found)
    check = "organization.destination-targeted"
    destination = ctx.config.destination.account_id
    if found.destination_under is None:
        return [ok(check, reader.account_id, GLOBAL, destination)]
    fix = (
        f"the destination account is under {found.destination_under}, so the backup policy runs "
        "there too and its jobs fail (no source vault): move it out of the targeted OU"
    )
    return [Finding(check, "warning", reader.account_id, GLOBAL, destination, fix)]


def _global_settings(ctx: Context, reader: Reader) -> list[Finding]:
    """Cross-account backup, and delegated administration when there is a delegate.

    DescribeGlobalSettings (AWS Backup API reference) reports the organization's
    `isCrossAccountBackupEnabled` and `isDelegatedAdministratorEnabled` as "true"/"false";
    only the management account may change them (UpdateGlobalSettings).
    """
    organization = ctx.config.organization
    owner = organization.manage_global_settings
    if owner and ctx.options.before_deploy:
        return []
    region = organization.region
    settings = reader.client("backup", region).describe_global_settings().get("GlobalSettings", {})
    wanted = ["isCrossAccountBackupEnabled"]
    if organization.delegated_administrator is not None:
        wanted.append("isDelegatedAdministratorEnabled")
    how = (
        f"{ctx.redeploy} sets it (organization.manageGlobalSettings: true)"
        if owner
        else "pulumi up on the stack with organization.manageGlobalSettings: true sets it"
    )
    findings = []
    for name in wanted:
        if settings.get(name) == "true":
            findings.append(ok("backup.global-settings", reader.account_id, region, name))
        else:
            fix = f"{name} is {settings.get(name, 'unset')}: {how}"
            findings.append(
                Finding("backup.global-settings", "failure", reader.account_id, region, name, fix)
            )
    return findings
