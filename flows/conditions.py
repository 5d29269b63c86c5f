"""Condition operators, with AWS's documented outcomes for absent and multivalued keys."""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from flows.matching import (
    Pieces,
    UnresolvedError,
    arn_pattern,
    as_list,
    like,
    literal_text,
    substitute,
)

# --- conditions --------------------------------------------------------------------------------


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _date(value: str, what: str) -> datetime:
    # W3C ISO 8601 dates or epoch seconds ("IAM JSON policy elements: Condition operators").
    try:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is neither ISO 8601 nor epoch seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ip_in(value: str, network: str, what: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        raise ValueError(f"{what}: {value!r} / {network!r} is not an IP address / CIDR") from None


def _arn_value(value: str, what: str) -> str:
    if value.count(":") < 5 or not value.startswith("arn:"):
        raise ValueError(f"{what}: request value {value!r} is not an ARN")
    return value


@dataclass(frozen=True)
class _Operator:
    """A base condition operator: how one request value compares with one policy value."""

    family: Literal["string", "arn", "bool", "numeric", "date", "ip"]
    compare: str  # equals, ignorecase, like, arn, bool, ip, or a key of _ORDERS
    negated: bool = False

    @property
    def takes_variables(self) -> bool:
        # "You can use a policy variable with the String / ARN / Boolean condition operator";
        # not with Numeric, Date, IP address, Binary or Null.
        return self.family in ("string", "arn", "bool")

    def matches(self, value: str, pieces: Pieces, what: str) -> bool:
        """The positive comparison (before negation)."""
        policy = literal_text(pieces)
        if self.compare == "equals":
            return value == policy
        if self.compare == "ignorecase":
            return value.lower() == policy.lower()
        if self.compare == "like":
            return like(pieces).fullmatch(value) is not None
        if self.compare == "arn":
            if policy.count(":") < 5:
                raise ValueError(f"{what}: policy value {policy!r} is not an ARN pattern")
            pattern = arn_pattern(pieces, trailing_star_crosses_colons=False)
            return pattern.fullmatch(_arn_value(value, what)) is not None
        if self.compare == "bool":
            if policy.lower() not in ("true", "false"):
                raise ValueError(f"{what}: Bool takes 'true' or 'false', not {policy!r}")
            return value.lower() == policy.lower()
        if self.compare == "ip":
            return _ip_in(value, policy, what)
        left: float | datetime
        right: float | datetime
        if self.family == "numeric":
            left, right = _number(value, what), _number(policy, what)
        else:
            left, right = _date(value, what), _date(policy, what)
        return bool(_ORDERS[self.compare](left, right))


# Numeric and Date operators share their names: Equals, LessThan, ... (and NotEquals).
_ORDERS = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}


def _ordered(family: Literal["numeric", "date"]) -> dict[str, _Operator]:
    prefix = family.capitalize()
    operators = {f"{prefix}{name}": _Operator(family, name) for name in _ORDERS}
    operators[f"{prefix}NotEquals"] = _Operator(family, "Equals", negated=True)
    return operators


# Every base operator this evaluator knows ("IAM JSON policy elements: Condition operators").
OPERATORS: Mapping[str, _Operator] = {
    "StringEquals": _Operator("string", "equals"),
    "StringNotEquals": _Operator("string", "equals", negated=True),
    "StringEqualsIgnoreCase": _Operator("string", "ignorecase"),
    "StringNotEqualsIgnoreCase": _Operator("string", "ignorecase", negated=True),
    "StringLike": _Operator("string", "like"),
    "StringNotLike": _Operator("string", "like", negated=True),
    # "The ArnEquals and ArnLike condition operators behave identically."
    "ArnEquals": _Operator("arn", "arn"),
    "ArnLike": _Operator("arn", "arn"),
    "ArnNotEquals": _Operator("arn", "arn", negated=True),
    "ArnNotLike": _Operator("arn", "arn", negated=True),
    "Bool": _Operator("bool", "bool"),
    "IpAddress": _Operator("ip", "ip"),
    "NotIpAddress": _Operator("ip", "ip", negated=True),
    **_ordered("numeric"),
    **_ordered("date"),
}
SET_OPERATORS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class Clause:
    """One `operator: {key: values}` pair of a Condition block."""

    operator: str
    key: str
    values: tuple[str, ...]

    def parts(self) -> tuple[str | None, str, bool]:
        """(set operator, base operator, IfExists)."""
        set_operator, _, base = self.operator.rpartition(":")
        if set_operator and set_operator not in SET_OPERATORS:
            raise ValueError(f"condition operator {self.operator!r}: unknown set operator")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base == "Null":
            if set_operator or if_exists:
                raise ValueError(f"condition operator {self.operator!r} is not valid")
            return None, base, False
        if base == "BinaryEquals":
            raise NotImplementedError(f"condition operator {self.operator!r} is not modelled")
        if base not in OPERATORS:
            raise ValueError(f"condition operator {self.operator!r} is unknown")
        return set_operator or None, base, if_exists

    def evaluate(self, context: Mapping[str, tuple[str, ...]], variables: bool) -> tuple[bool, str]:
        """(holds, why not) for this clause against the request context."""
        set_operator, base, if_exists = self.parts()
        label = f"condition {self.operator} {self.key}"
        present = context.get(self.key.lower())
        if base == "Null":
            wanted = {v.lower() for v in self.values}
            if not wanted <= {"true", "false"}:
                raise ValueError(f"{label}: Null takes 'true' or 'false'")
            holds = ("true" if present is None else "false") in wanted
            state = "absent" if present is None else f"present ({list(present)})"
            return holds, "" if holds else f"{label}: key {self.key} {state}"
        op = OPERATORS[base]
        if present is None:
            if if_exists:
                return True, ""
            holds = set_operator == "ForAllValues" or (set_operator is None and op.negated)
            return holds, "" if holds else f"{label}: key {self.key} absent"
        if set_operator is None and len(present) > 1:
            raise ValueError(
                f"{label}: the context gives {len(present)} values; a multivalued key needs "
                "ForAnyValue: or ForAllValues: (IAM User Guide, 'Single-valued vs. multivalued "
                "context keys')"
            )
        policy_values = [
            self._resolve(v, context, variables and op.takes_variables) for v in self.values
        ]
        results = [self._one(op, value, policy_values, label) for value in present]
        holds = all(results) if set_operator == "ForAllValues" else any(results)
        return holds, "" if holds else self._why(op, set_operator, present, results, label)

    @staticmethod
    def _resolve(
        value: str, context: Mapping[str, tuple[str, ...]], variables: bool
    ) -> Pieces | None:
        try:
            return substitute(value, context, variables)
        except UnresolvedError:
            # "When policy variables reference a condition context key that has no value ...
            # the value is effectively null. There is no equal or like value."
            return None

    @staticmethod
    def _one(op: _Operator, value: str, policy_values: list[Pieces | None], label: str) -> bool:
        hit = any(p is not None and op.matches(value, p, label) for p in policy_values)
        # Several values for a negated operator: the request value may match none of them.
        return not hit if op.negated else hit

    def _why(
        self,
        op: _Operator,
        set_operator: str | None,
        present: tuple[str, ...],
        results: list[bool],
        label: str,
    ) -> str:
        relation = {
            ("equals", False): "not in",
            ("equals", True): "is in",
            ("ignorecase", False): "not in (ignoring case)",
            ("ignorecase", True): "is in (ignoring case)",
        }.get((op.compare, op.negated))
        if relation is None:
            relation = "matches one of" if op.negated else "matches none of"
        failing = [v for v, ok in zip(present, results, strict=True) if not ok]
        if set_operator == "ForAnyValue":
            return f"{label}: no request value of {list(present)} holds ({relation} {list(self.values)})"
        return f"{label}: request value {failing[0]!r} {relation} {list(self.values)}"


def clauses(condition: Any, where: str) -> tuple[Clause, ...]:
    if condition is None:
        return ()
    if not isinstance(condition, Mapping):
        raise ValueError(f"{where}: Condition must be an object of operator -> {{key: values}}")
    clauses = []
    for name, keys in condition.items():
        if not isinstance(keys, Mapping) or not keys:
            raise ValueError(f"{where}: Condition {name!r} must map keys to values")
        for key, values in keys.items():
            clause = Clause(name, key, tuple(_condition_values(values, where, key)))
            clause.parts()  # an operator it does not know raises here, before any request
            clauses.append(clause)
    return tuple(clauses)


def _condition_values(values: Any, where: str, key: str) -> list[str]:
    normalised = []
    for value in as_list(values, f"{where}: condition key {key}"):
        # JSON policies may write true/false and numbers unquoted.
        if isinstance(value, bool):
            normalised.append("true" if value else "false")
        elif isinstance(value, int | float | str):
            normalised.append(str(value))
        else:
            raise ValueError(f"{where}: condition key {key}: unsupported value {value!r}")
    return normalised
