"""A small evaluator of resource policies, for asking "may this principal do this here?".

It models the parts of IAM policy evaluation the program's documents use (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements"): an explicit Deny wins, otherwise an
Allow must match the principal, the action, the resource and every condition. An account root
principal stands for every principal of that account. Policy variables `${key}` in Resource are
replaced from the request context. Wildcards: `*` and `?`. Conditions: the operators below,
with a list of values meaning "any of them"; a `ForAnyValue:` prefix matches when any request
value matches.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Request:
    """One request: who, what, on which resource, with which context keys."""

    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_service(self) -> bool:
        """True for a service principal (`events.amazonaws.com`), which has no ARN."""
        return not self.principal_arn.startswith("arn:")

    @property
    def account(self) -> str:
        """The principal's account (fifth field of its ARN); '' for a service principal."""
        return "" if self.is_service else self.principal_arn.split(":")[4]

    def context_with_defaults(self) -> dict[str, Any]:
        """The request context, with the keys AWS always sets for a signed request.

        A service principal (a call "made directly by an AWS service principal") gets none of
        them here: which keys such a call carries differs by service and hop (IAM User Guide,
        "AWS global condition context keys", each key's Availability), so the test states
        them in `context`.
        """
        if self.is_service:
            return dict(self.context)
        return {
            "aws:PrincipalArn": self.principal_arn,
            "aws:PrincipalAccount": self.account,
            **self.context,
        }


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if request.is_service:
        return request.principal_arn in _as_list(principal.get("Service", []))
    for arn in _as_list(principal.get("AWS", [])):
        if arn == "*" or arn == request.principal_arn:
            return True
        if arn == f"arn:aws:iam::{request.account}:root":
            return True
    return False


def _resource_matches(patterns: Any, request: Request) -> bool:
    context = request.context_with_defaults()
    for pattern in _as_list(patterns):
        resolved = _VARIABLE.sub(lambda m: str(context.get(m.group(1), "\0")), str(pattern))
        if _wildcard(resolved, request.resource):
            return True
    return False


def _operator_matches(operator: str, expected: Any, actual: Any) -> bool:
    if actual is None:
        return False
    base = operator.split(":", 1)[-1]
    values = _as_list(actual)
    wanted = [str(v) for v in _as_list(expected)]
    if base in ("StringEquals", "ArnEquals"):
        return any(str(v) in wanted for v in values)
    if base in ("StringLike", "ArnLike"):
        return any(_wildcard(w, str(v)) for v in values for w in wanted)
    if base == "Bool":
        return any(str(v).lower() in [w.lower() for w in wanted] for v in values)
    raise NotImplementedError(f"condition operator {operator} is not modelled")


def _conditions_match(condition: Mapping[str, Any] | None, request: Request) -> bool:
    context = request.context_with_defaults()
    for operator, keys in (condition or {}).items():
        for key, expected in keys.items():
            if not _operator_matches(operator, expected, context.get(key)):
                return False
    return True


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _principal_matches(statement.get("Principal"), request)
        and any(_wildcard(a, request.action) for a in _as_list(statement["Action"]))
        and _resource_matches(statement["Resource"], request)
        and _conditions_match(statement.get("Condition"), request)
    )


def allows(policy: Mapping[str, Any], request: Request) -> bool:
    """True when the policy allows the request and nothing in it denies it."""
    matching = [s for s in policy["Statement"] if _statement_matches(s, request)]
    if any(s["Effect"] == "Deny" for s in matching):
        return False
    return any(s["Effect"] == "Allow" for s in matching)
