"""The Principal element: accounts, roles, sessions, service principals and OIDC providers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from flows.matching import strings
from flows.request import Caller
from flows.types import ACCOUNT_ID, OIDC_PROVIDER

# --- principals --------------------------------------------------------------------------------

Match = Literal["direct", "account"]


def principal_values(element: Any, where: str) -> list[tuple[str, str]]:
    """(type, value) pairs of a Principal element, checked: "*" gives [("*", "*")]."""
    if element == "*":
        return [("*", "*")]
    if not isinstance(element, Mapping) or not element:
        raise ValueError(f"{where}: Principal must be \"*\" or an object such as {{'AWS': ...}}")
    pairs = []
    for kind, values in element.items():
        if kind == "CanonicalUser":
            raise NotImplementedError(f"{where}: Principal {kind!r} is not modelled")
        if kind not in ("AWS", "Service", "Federated"):
            raise ValueError(f"{where}: unknown principal type {kind!r}")
        for value in strings(values, f"{where}: Principal {kind}"):
            if kind == "AWS" and value != "*":
                _principal_arn(value, where)
            if kind == "Federated" and not OIDC_PROVIDER.fullmatch(value):
                # SAML providers, Amazon Cognito and the public web identity providers.
                raise NotImplementedError(
                    f"{where}: Principal Federated {value!r}: only IAM OIDC providers are modelled"
                )
            pairs.append((kind, value))
    return pairs


def _principal_arn(value: str, where: str) -> tuple[str, str, str, str]:
    """(partition, service, account, resource) of an AWS principal; an account id is its root."""
    if "*" in value or "?" in value:
        raise ValueError(f"{where}: a principal cannot hold a wildcard ({value!r})")
    if ACCOUNT_ID.fullmatch(value):
        return "", "iam", value, "root"
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not ACCOUNT_ID.fullmatch(parts[4]):
        raise ValueError(f"{where}: principal {value!r} is not an account id or IAM ARN")
    _, partition, service, _, account, resource = parts
    return partition, service, account, resource


def _aws_principal(value: str, caller: Caller, where: str) -> Match | None:
    if caller.kind == "web_identity":
        # A web identity is no IAM principal of the provider's account: {"AWS": ...} never
        # names it (its trust statement names the provider as Federated).
        if value == "*":
            raise NotImplementedError(f"{where}: {{'AWS': '*'}} for a web identity is not modelled")
        return None
    if value == "*":
        if caller.kind == "service":
            # AWS documents "*" and {"AWS": "*"} as equivalent for anonymous users only, and
            # services behave differently: say so rather than guess.
            raise NotImplementedError(
                f"{where}: whether Principal {{'AWS': '*'}} covers service principal "
                f"{caller.name!r} is not documented; use \"*\" or {{'Service': ...}}"
            )
        return "direct"
    if caller.kind == "service":
        return None
    partition, service, account, resource = _principal_arn(value, where)
    if service == "iam" and resource == "root":
        same = account == caller.account and partition in ("", caller.partition)
        return "account" if same else None
    if value == caller.name:
        return "direct"
    # A role ARN names the role; a request from one of its sessions matches it (role names are
    # unique in an account whatever their path).
    is_session_of = (
        service == "iam"
        and resource.startswith("role/")
        and caller.kind == "session"
        and (partition, account, resource.rsplit("/", 1)[1])
        == (caller.partition, caller.account, caller.role_name)
    )
    return "direct" if is_session_of else None


def principal_match(element: Any, caller: Caller, where: str) -> Match | None:
    found: list[Match] = []
    for kind, value in principal_values(element, where):
        names_service = kind == "Service" and caller.kind == "service" and caller.name == value
        names_provider = (
            kind == "Federated" and caller.kind == "web_identity" and caller.name == value
        )
        if kind == "*" or names_service or names_provider:
            found.append("direct")
        elif kind == "AWS":
            match = _aws_principal(value, caller, where)
            if match:
                found.append(match)
    return "direct" if "direct" in found else "account" if found else None
