"""Small builders for CloudFormation templates as plain data."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# A `${...}` that CloudFormation substitutes (`${AWS::AccountId}`, `${Role.Arn}`), as opposed
# to an IAM policy variable (`${aws:PrincipalAccount}`), which Fn::Sub must leave alone.
_SUBSTITUTION = re.compile(r"\$\{(?!aws:)[^}]+\}")
_IAM_VARIABLE = re.compile(r"\$\{(aws:[^}]+)\}")

# CloudFormation User Guide, "DeletionPolicy attribute" and "UpdateReplacePolicy attribute":
# with Retain, deleting the stack (an account leaving a targeted OU, the StackSet removed) or
# replacing the resource leaves it in the account.
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def sub(value: Any) -> Any:
    """`value` with every string that names a pseudo parameter or attribute as `Fn::Sub`.

    The builders in `policies/` take account ids and Regions as strings; given
    `${AWS::AccountId}` and `${AWS::Region}` they produce strings that each stack instance
    fills in with its own account and Region. IAM policy variables in the same string are
    escaped (`${!aws:...}`), as Fn::Sub requires for text it must write literally
    (CloudFormation User Guide, "Fn::Sub").
    """
    if isinstance(value, str):
        if not _SUBSTITUTION.search(value):
            return value
        return {"Fn::Sub": _IAM_VARIABLE.sub(r"${!\1}", value)}
    if isinstance(value, Mapping):
        return {key: sub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sub(item) for item in value]
    return value


def ref(logical_id: str) -> dict[str, str]:
    """`{"Ref": logical_id}`."""
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    """`{"Fn::GetAtt": [logical_id, attribute]}`."""
    return {"Fn::GetAtt": [logical_id, attribute]}


def find_in_map(mapping: str, key: Any, name: str) -> dict[str, list[Any]]:
    """`{"Fn::FindInMap": [mapping, key, name]}`."""
    return {"Fn::FindInMap": [mapping, key, name]}


def resource(
    type_name: str,
    properties: Mapping[str, Any],
    *,
    condition: str | None = None,
    retain: bool = False,
    depends_on: Sequence[str] = (),
) -> dict[str, Any]:
    """One resource entry of a template."""
    entry: dict[str, Any] = {"Type": type_name, "Properties": dict(properties)}
    if condition is not None:
        entry["Condition"] = condition
    if depends_on:
        entry["DependsOn"] = list(depends_on)
    if retain:
        entry.update(RETAIN)
    return entry
