"""Small builders shared by every policy document."""

from __future__ import annotations

from collections.abc import Sequence
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


def organization_condition(organization_id: str) -> dict[str, dict[str, str]]:
    """Limits a statement to principals of one AWS Organization."""
    return {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
