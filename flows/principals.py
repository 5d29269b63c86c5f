"""The Principal element: accounts, roles, sessions and service principals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from flows.matching import strings
from flows.request import Caller
from flows.types import ACCOUNT_ID

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
        if kind in ("Federated", "CanonicalUser"):
            raise NotImplementedError(f"{where}: Principal {kind!r} is not modelled")
        if kind not in ("AWS", "Service"):
            raise ValueError(f"{where}: unknown principal type {kind!r}")
        for value in strings(values, f"{where}: Principal {kind}"):
            if kind == "AWS" and value != "*":
                _principal_arn(value, where)
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
        if kind == "*" or names_service:
            found.append("direct")
        elif kind == "AWS":
            match = _aws_principal(value, caller, where)
            if match:
                found.append(match)
    return "direct" if "direct" in found else "account" if found else None
