"""Small builders shared by every policy document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policies.arns import account_root, iam_role

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]

VERSION = "2012-10-17"


def document(*statements: Statement) -> PolicyDocument:
    """A policy document holding `statements` in order."""
    return {"Version": VERSION, "Statement": list(statements)}


def aws_principals(arns: Sequence[str]) -> dict[str, str | list[str]]:
    """`{"AWS": arn}` for one principal, `{"AWS": [arns]}` for several, sorted for stable diffs."""
    ordered = sorted(set(arns))
    return {"AWS": ordered[0] if len(ordered) == 1 else ordered}


def service_principal(service: str) -> dict[str, str]:
    """`{"Service": "<service>.amazonaws.com"}`."""
    return {"Service": f"{service}.amazonaws.com"}


@dataclass(frozen=True)
class OrganizationScope:
    """Principals of one AWS Organization, or only of accounts under some of its OUs."""

    organization_id: str
    ou_ids: tuple[str, ...] = ()

    def condition(self) -> dict[str, dict[str, Any]]:
        """`aws:PrincipalOrgID`, narrowed by `aws:PrincipalOrgPaths` when OUs are given.

        OU paths are `o-…/r-…/ou-…/…/`; `o-…/*/ou-…/*` matches an OU at any depth and every
        OU below it (IAM User Guide, "aws:PrincipalOrgPaths"). The organization id stays as
        a condition with a fixed value, which is what S3 counts as "not public" (Amazon S3
        User Guide, "The meaning of public").
        """
        condition: dict[str, dict[str, Any]] = {
            "StringEquals": {"aws:PrincipalOrgID": self.organization_id}
        }
        if self.ou_ids:
            paths = [f"{self.organization_id}/*/{ou}/*" for ou in sorted(self.ou_ids)]
            condition["ForAnyValue:StringLike"] = {"aws:PrincipalOrgPaths": paths}
        return condition


@dataclass(frozen=True)
class RoleScope:
    """Roles of given names in some accounts of one organization: who a statement admits.

    The accounts are named ones (each by its root principal, which delegates to that account's
    IAM policies), accounts under OUs (`aws:PrincipalOrgPaths`), or every account of the
    organization (`aws:PrincipalOrgID`). In each, only a role whose ARN matches one of
    `role_names` (name with its IAM path, `service-role/X`) is admitted: `aws:PrincipalArn` is
    the role's ARN, path included, also for a role session (IAM User Guide, "AWS global
    condition context keys", aws:PrincipalArn).
    """

    organization_id: str
    role_names: tuple[str, ...]
    account_ids: tuple[str, ...] = ()
    ou_ids: tuple[str, ...] = ()
    whole_organization: bool = False

    @property
    def is_empty(self) -> bool:
        """True when the scope admits no account at all."""
        return not (self.whole_organization or self.account_ids or self.ou_ids)

    def role_condition(self) -> dict[str, dict[str, Any]]:
        """`aws:PrincipalArn` is one of the roles, in whichever account the principal is."""
        patterns = sorted(iam_role("*", name) for name in self.role_names)
        return {"ArnLike": {"aws:PrincipalArn": patterns[0] if len(patterns) == 1 else patterns}}


def merge_conditions(*conditions: dict[str, Any] | None) -> dict[str, Any]:
    """One Condition block from several: keys under the same operator are combined (AND)."""
    merged: dict[str, Any] = {}
    for condition in conditions:
        for operator, keys in (condition or {}).items():
            merged.setdefault(operator, {}).update(keys)
    return merged


def scoped_allows(
    sid: str,
    actions: Sequence[str] | str,
    resource: str,
    scope: RoleScope,
    *conditions: dict[str, Any] | None,
) -> list[Statement]:
    """Allow statements admitting `scope` for `actions` on `resource`, under `conditions`.

    AWS evaluates several operators, and several keys, of one Condition block with a logical
    AND (IAM User Guide, "Creating a condition with multiple context keys or values"), so
    "these accounts, or any account under these OUs" takes two statements: one for the named
    accounts, one for the OUs. The whole organization takes one.
    """
    action: str | list[str] = actions if isinstance(actions, str) else sorted(actions)

    def allow(suffix: str, principal: Any, *scoping: dict[str, Any] | None) -> Statement:
        return {
            "Sid": f"{sid}{suffix}",
            "Effect": "Allow",
            "Principal": principal,
            "Action": action,
            "Resource": resource,
            "Condition": merge_conditions(*scoping, scope.role_condition(), *conditions),
        }

    if scope.whole_organization:
        organization = OrganizationScope(scope.organization_id)
        return [allow("InOrganization", {"AWS": "*"}, organization.condition())]
    statements = []
    if scope.account_ids:
        roots = aws_principals([account_root(account) for account in scope.account_ids])
        statements.append(allow("InNamedAccounts", roots))
    if scope.ou_ids:
        units = OrganizationScope(scope.organization_id, tuple(scope.ou_ids))
        statements.append(allow("UnderTargetedOUs", {"AWS": "*"}, units.condition()))
    return statements
