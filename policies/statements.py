"""Small builders shared by every policy document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def organization_condition(organization: OrganizationScope) -> dict[str, dict[str, Any]]:
    """Limits a statement to principals of one AWS Organization (or some of its OUs)."""
    return organization.condition()
