"""The request: who calls, what, on which resource, with which context keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from flows.types import ACCOUNT_ID, OIDC_PROVIDER, SERVICE_PRINCIPAL, ContextValue, PrincipalKind

# --- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    kind: PrincipalKind
    name: str  # the ARN, or the service principal's name
    partition: str = ""
    account: str | None = None
    role_name: str = ""  # for a role or an assumed-role session


def _parse_caller(principal: str) -> Caller:
    if SERVICE_PRINCIPAL.fullmatch(principal):
        return Caller("service", principal)
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not ACCOUNT_ID.fullmatch(parts[4]):
        raise ValueError(
            f"principal {principal!r} is neither an IAM ARN (user, role, assumed-role session, "
            "federated user, account root) nor a service principal such as 'events.amazonaws.com'"
        )
    _, partition, service, _, account, resource = parts
    if OIDC_PROVIDER.fullmatch(principal):
        return Caller("web_identity", principal, partition, account)
    if service == "iam" and resource == "root":
        return Caller("root", principal, partition, account)
    if service == "iam" and resource.startswith("user/"):
        return Caller("user", principal, partition, account)
    if service == "iam" and resource.startswith("role/"):
        return Caller("role", principal, partition, account, resource.rsplit("/", 1)[1])
    session = resource.split("/")
    if service == "sts" and session[0] == "assumed-role" and len(session) == 3:
        return Caller("session", principal, partition, account, session[1])
    if service == "sts" and session[0] == "federated-user" and len(session) == 2:
        return Caller("federated_user", principal, partition, account)
    raise ValueError(f"principal {principal!r}: unrecognised IAM principal ARN")


def _context_values(key: str, value: ContextValue) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value) or None
    raise TypeError(f"context key {key!r}: give a str, a list of str, or None (absent)")


@dataclass(frozen=True)
class Request:
    """One request as AWS would evaluate it.

    `principal` is an IAM ARN (`arn:aws:iam::111122223333:role/Name`, `...:user/Name`,
    `...:root`, `arn:aws:sts::111122223333:assumed-role/Name/session`,
    `...:federated-user/Name`), a service principal (`events.amazonaws.com`), or an IAM OIDC
    identity provider (`arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com`)
    for AssumeRoleWithWebIdentity with a token it issued, whose claims the test gives as context
    keys such as `token.actions.githubusercontent.com:sub` (IAM User Guide, "Available keys for
    AWS OIDC federation"); no other key is filled in for it. A role ARN
    stands for a session of that role whose session name does not matter. `context` maps
    condition keys (case insensitive) to a value, a list of values, or None for "absent".

    The keys AWS documents for the principal itself are filled in unless `context` names them
    ("AWS global condition context keys"): for an IAM principal `aws:PrincipalArn` (for a
    session, the role's ARN; its path cannot be known from the session ARN, so give the key for
    a role with a path), `aws:PrincipalAccount`, `aws:PrincipalIsAWSService` = "false", and for
    a user `aws:username`; for a service principal `aws:PrincipalIsAWSService` = "true" and
    `aws:PrincipalServiceName`. For a service principal, `aws:PrincipalArn` and
    `aws:PrincipalOrgID` are absent (AWS lists neither for service principals) and so is
    `aws:PrincipalAccount` unless given.
    """

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    principal_account: str | None = None

    def __post_init__(self) -> None:
        caller = _parse_caller(self.principal)
        if caller.kind != "service" and self.principal_account not in (None, caller.account):
            raise ValueError(
                f"principal_account {self.principal_account!r} differs from the account in "
                f"{self.principal!r}; leave it out for an ARN"
            )
        if ":" not in self.action:
            raise ValueError(f"action {self.action!r}: write it as 'service:Action'")
        keys = [key.lower() for key in self.context]
        if len(set(keys)) != len(keys):
            raise ValueError(f"context names a key twice (keys are case insensitive): {keys}")
        for key, value in self.context.items():
            _context_values(key, value)

    @cached_property
    def caller(self) -> Caller:
        """The parsed principal."""
        return _parse_caller(self.principal)

    @property
    def is_service(self) -> bool:
        """True for a service principal such as `events.amazonaws.com`."""
        return self.caller.kind == "service"

    @property
    def account(self) -> str | None:
        """The principal's account: from its ARN, or `principal_account` for a service."""
        return self.caller.account or self.principal_account

    def with_context(self, **context: ContextValue) -> Request:
        """The same request with keys added or replaced (None removes a key)."""
        merged = {k: v for k, v in self.context.items() if k.lower() not in _lower(context)}
        return Request(
            self.principal,
            self.action,
            self.resource,
            {**merged, **context},
            self.principal_account,
        )

    def full_context(self) -> dict[str, tuple[str, ...]]:
        """The request context as evaluated: lower-cased keys, derived keys, absent ones left out."""
        caller = self.caller
        derived: dict[str, ContextValue] = {}
        if caller.kind == "web_identity":
            pass  # an unsigned call: only the token's claims, which the context gives
        elif caller.kind == "service":
            derived["aws:principalisawsservice"] = "true"
            derived["aws:principalservicename"] = caller.name
            if self.principal_account is not None:
                derived["aws:principalaccount"] = self.principal_account
        else:
            derived["aws:principalisawsservice"] = "false"
            derived["aws:principalaccount"] = caller.account
            derived["aws:principalarn"] = (
                f"arn:{caller.partition}:iam::{caller.account}:role/{caller.role_name}"
                if caller.kind == "session"
                else caller.name
            )
            if caller.kind == "user":
                derived["aws:username"] = caller.name.rsplit("/", 1)[1]
        merged = {**derived, **{key.lower(): value for key, value in self.context.items()}}
        resolved = {key: _context_values(key, value) for key, value in merged.items()}
        return {key: values for key, values in resolved.items() if values is not None}


def _lower(mapping: Mapping[str, Any]) -> set[str]:
    return {key.lower() for key in mapping}
