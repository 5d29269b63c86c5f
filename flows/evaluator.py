"""An offline evaluator of AWS's documented policy evaluation logic, for the forms this project uses.

It decides one request (a principal, an action, a resource and an *assumed* request context)
against identity policies and a resource policy (a bucket, vault, event bus or topic policy, a
KMS key policy, a role trust policy), the way the IAM User Guide describes it:

- "Policy evaluation logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
  and "Policy evaluation for requests within a single account": an explicit Deny in any policy
  wins; otherwise an Allow is needed; within one account an Allow in the identity policies *or*
  in the resource policy is enough, except for KMS key policies and role trust policies, which
  "must explicitly allow access for principals".
- "Cross-account policy evaluation logic"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
  across accounts *both* the identity policies in the caller's account and the resource policy
  must allow.
- AWS KMS Developer Guide, "Default key policy" and "Allowing users in other accounts to use a
  KMS key": a key policy statement naming the account (`arn:aws:iam::111122223333:root`) does not
  give any user or role access; it lets the account delegate through IAM policies.
- "AWS JSON policy elements: Principal": an account id or account root ARN delegates to the
  account; a role ARN matches that role's sessions; an assumed-role session ARN matches only that
  session; no wildcard inside a principal ARN.
- "IAM JSON policy elements: Action / Resource": `*` and `?` wildcards; action names are case
  insensitive, resource ARNs are not; a Resource wildcard stays within its colon-separated ARN
  segment unless it is the segment's last character (then it may cross colons); a statement of
  a resource policy without Resource applies to the resource the policy is attached to (a role
  trust policy).
- "IAM JSON policy elements: Condition operators" and "Single-valued vs. multivalued context
  keys": the String, Numeric, Date, Bool, IP address and ARN operators, `...IfExists`, `Null`,
  and the `ForAnyValue:`/`ForAllValues:` set operators, with the documented outcomes for a key
  that is absent (false, except: negated operators and `...IfExists` are true, `ForAllValues` is
  true, `Null` tests exactly that). Several values for one key are OR (for negated operators:
  none may match); several keys and operators are AND. Condition key names are case
  insensitive.
- "IAM policy elements: Variables and tags": `${key}` in Resource and in String/ARN/Bool
  condition values (`Version` "2012-10-17" only), `${key, 'default'}`, and `${*}`, `${?}`,
  `${$}` for literal characters; a variable with no value makes that Resource entry match
  nothing and that condition value equal to or like nothing.

What it does NOT model (each can change a real decision; a flow test must not rely on this
evaluator for them): KMS grants, AWS Organizations SCPs and RCPs, permissions boundaries,
session policies, VPC endpoint policies, S3 ACLs and Block Public Access, anonymous callers,
and service-side behaviour (which keys a service actually puts in the request context, KMS's
list of operations that work across accounts, a service's own checks). The context is what
the caller assumes it to be; only the keys AWS documents for the principal itself are filled
in (see `Request`). Anything else it does not model raises rather than passes: NotAction,
NotResource, NotPrincipal, Federated and CanonicalUser principals, BinaryEquals, unknown
operators, a plain operator on a context key with several values.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

ContextValue = str | Sequence[str] | None
Decision = Literal["allowed", "explicitly_denied", "implicitly_denied"]
PolicyType = Literal["identity", "resource"]
ResourceKind = Literal["generic", "kms", "role_trust"]
PrincipalKind = Literal["root", "user", "role", "session", "federated_user", "service"]

# The policy language version that has policy variables ("IAM JSON policy elements: Version").
VARIABLES_VERSION = "2012-10-17"
_VERSIONS = (VARIABLES_VERSION, "2008-10-17")
_NOT_MODELLED_ELEMENTS = ("NotAction", "NotResource", "NotPrincipal")
_STATEMENT_ELEMENTS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
_ACCOUNT_ID = re.compile(r"\d{12}")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"(?P<key>[^,]+?)\s*,\s*'(?P<default>.*)'")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


# --- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Caller:
    kind: PrincipalKind
    name: str  # the ARN, or the service principal's name
    partition: str = ""
    account: str | None = None
    role_name: str = ""  # for a role or an assumed-role session


def _parse_caller(principal: str) -> _Caller:
    if _SERVICE_PRINCIPAL.fullmatch(principal):
        return _Caller("service", principal)
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT_ID.fullmatch(parts[4]):
        raise ValueError(
            f"principal {principal!r} is neither an IAM ARN (user, role, assumed-role session, "
            "federated user, account root) nor a service principal such as 'events.amazonaws.com'"
        )
    _, partition, service, _, account, resource = parts
    if service == "iam" and resource == "root":
        return _Caller("root", principal, partition, account)
    if service == "iam" and resource.startswith("user/"):
        return _Caller("user", principal, partition, account)
    if service == "iam" and resource.startswith("role/"):
        return _Caller("role", principal, partition, account, resource.rsplit("/", 1)[1])
    session = resource.split("/")
    if service == "sts" and session[0] == "assumed-role" and len(session) == 3:
        return _Caller("session", principal, partition, account, session[1])
    if service == "sts" and session[0] == "federated-user" and len(session) == 2:
        return _Caller("federated_user", principal, partition, account)
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
    `...:federated-user/Name`) or a service principal (`events.amazonaws.com`). A role ARN
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
    def caller(self) -> _Caller:
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
        if caller.kind == "service":
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


# --- policy variables and wildcards ------------------------------------------------------------


class _UnresolvedError(Exception):
    """A policy variable whose key has no value in the request context."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


# A policy string after variable substitution: (text, wildcards_apply) pieces. Only the policy's
# own text carries wildcards; substituted values and ${*}, ${?}, ${$} are literal.
_Pieces = tuple[tuple[str, bool], ...]


def _substitute(text: str, context: Mapping[str, tuple[str, ...]], variables: bool) -> _Pieces:
    if not variables:
        return ((text, True),)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        pieces.append((text[position : match.start()], True))
        pieces.append((_variable_value(match.group(1), context), False))
        position = match.end()
    rest = text[position:]
    if "${" in rest:
        raise ValueError(f"policy value {text!r}: '${{' without a closing '}}'")
    pieces.append((rest, True))
    return tuple(piece for piece in pieces if piece[0])


def _variable_value(body: str, context: Mapping[str, tuple[str, ...]]) -> str:
    if body in _ESCAPES:
        return _ESCAPES[body]
    defaulted = _DEFAULTED.fullmatch(body.strip())
    key = (defaulted.group("key") if defaulted else body).strip()
    values = context.get(key.lower())
    if values is None:
        if defaulted:
            return defaulted.group("default")
        raise _UnresolvedError(key)
    if len(values) > 1:
        raise ValueError(
            f"policy variable ${{{key}}}: the context gives it {len(values)} values; a "
            "multivalued key cannot be a policy variable (IAM User Guide, 'Single-valued vs. "
            "multivalued context keys')"
        )
    return values[0]


def _text(pieces: _Pieces) -> str:
    return "".join(text for text, _ in pieces)


def _glob(text: str, any_run: str, any_one: str) -> str:
    return "".join(any_run if c == "*" else any_one if c == "?" else re.escape(c) for c in text)


def _like(pieces: _Pieces) -> re.Pattern[str]:
    """StringLike: `*` is any run of characters, `?` any one character."""
    return re.compile(
        "".join(_glob(t, ".*", ".") if wild else re.escape(t) for t, wild in pieces), re.DOTALL
    )


def _arn_pattern(pieces: _Pieces, trailing_star_crosses_colons: bool) -> re.Pattern[str]:
    """An ARN pattern: the first five colons separate segments; a wildcard stays in its segment.

    The sixth segment (the resource part, which may itself hold colons) matches freely. With
    `trailing_star_crosses_colons` (the Resource element), a `*` that ends a segment may run on
    past colons, as "IAM JSON policy elements: Resource" documents; the ARN condition operators
    check "each of the six colon-delimited components ... separately".
    """
    text = _text(pieces)
    wild_at = [w for t, w in pieces for _ in t]
    regex: list[str] = []
    colons = 0
    for i, c in enumerate(text):
        in_resource = colons >= 5
        if c == ":" and not in_resource:
            colons += 1
            regex.append(":")
        elif c == "*" and wild_at[i]:
            ends_segment = i + 1 == len(text) or text[i + 1] == ":"
            free = in_resource or (trailing_star_crosses_colons and ends_segment)
            regex.append(".*" if free else "[^:]*")
        elif c == "?" and wild_at[i]:
            regex.append("." if in_resource else "[^:]")
        else:
            regex.append(re.escape(c))
    return re.compile("".join(regex), re.DOTALL)


def _as_list(value: Any, what: str) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{what} is an empty list")
    return values


def _strings(value: Any, what: str) -> list[str]:
    values = _as_list(value, what)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} must be a string or a list of strings, got {value!r}")
    return values


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

    def matches(self, value: str, pieces: _Pieces, what: str) -> bool:
        """The positive comparison (before negation)."""
        policy = _text(pieces)
        if self.compare == "equals":
            return value == policy
        if self.compare == "ignorecase":
            return value.lower() == policy.lower()
        if self.compare == "like":
            return _like(pieces).fullmatch(value) is not None
        if self.compare == "arn":
            if policy.count(":") < 5:
                raise ValueError(f"{what}: policy value {policy!r} is not an ARN pattern")
            pattern = _arn_pattern(pieces, trailing_star_crosses_colons=False)
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
class _Clause:
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
    ) -> _Pieces | None:
        try:
            return _substitute(value, context, variables)
        except _UnresolvedError:
            # "When policy variables reference a condition context key that has no value ...
            # the value is effectively null. There is no equal or like value."
            return None

    @staticmethod
    def _one(op: _Operator, value: str, policy_values: list[_Pieces | None], label: str) -> bool:
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


def _clauses(condition: Any, where: str) -> tuple[_Clause, ...]:
    if condition is None:
        return ()
    if not isinstance(condition, Mapping):
        raise ValueError(f"{where}: Condition must be an object of operator -> {{key: values}}")
    clauses = []
    for name, keys in condition.items():
        if not isinstance(keys, Mapping) or not keys:
            raise ValueError(f"{where}: Condition {name!r} must map keys to values")
        for key, values in keys.items():
            clause = _Clause(name, key, tuple(_condition_values(values, where, key)))
            clause.parts()  # an operator it does not know raises here, before any request
            clauses.append(clause)
    return tuple(clauses)


def _condition_values(values: Any, where: str, key: str) -> list[str]:
    normalised = []
    for value in _as_list(values, f"{where}: condition key {key}"):
        # JSON policies may write true/false and numbers unquoted.
        if isinstance(value, bool):
            normalised.append("true" if value else "false")
        elif isinstance(value, int | float | str):
            normalised.append(str(value))
        else:
            raise ValueError(f"{where}: condition key {key}: unsupported value {value!r}")
    return normalised


# --- principals --------------------------------------------------------------------------------

_Match = Literal["direct", "account"]


def _principal_values(element: Any, where: str) -> list[tuple[str, str]]:
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
        for value in _strings(values, f"{where}: Principal {kind}"):
            if kind == "AWS" and value != "*":
                _principal_arn(value, where)
            pairs.append((kind, value))
    return pairs


def _principal_arn(value: str, where: str) -> tuple[str, str, str, str]:
    """(partition, service, account, resource) of an AWS principal; an account id is its root."""
    if "*" in value or "?" in value:
        raise ValueError(f"{where}: a principal cannot hold a wildcard ({value!r})")
    if _ACCOUNT_ID.fullmatch(value):
        return "", "iam", value, "root"
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT_ID.fullmatch(parts[4]):
        raise ValueError(f"{where}: principal {value!r} is not an account id or IAM ARN")
    _, partition, service, _, account, resource = parts
    return partition, service, account, resource


def _aws_principal(value: str, caller: _Caller, where: str) -> _Match | None:
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


def _principal_match(element: Any, caller: _Caller, where: str) -> _Match | None:
    found: list[_Match] = []
    for kind, value in _principal_values(element, where):
        names_service = kind == "Service" and caller.kind == "service" and caller.name == value
        if kind == "*" or names_service:
            found.append("direct")
        elif kind == "AWS":
            match = _aws_principal(value, caller, where)
            if match:
                found.append(match)
    return "direct" if "direct" in found else "account" if found else None


# --- statements and policies -------------------------------------------------------------------


@dataclass(frozen=True)
class StatementResult:
    """How one statement met the request."""

    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    matched: bool
    # The principal matched through an account (account id or `:root`): a delegation to that
    # account's IAM policies, not a grant to the caller itself.
    via_account: bool = False
    reason: str = ""  # why it did not match; empty when it matched

    @property
    def label(self) -> str:
        """`statement 2 ('Sid')`, or `statement 2` without a Sid."""
        return f"statement {self.index}" + (f" ({self.sid!r})" if self.sid else "")

    def describe(self) -> str:
        """One line: the statement, its effect, and whether/why it applied."""
        outcome = "applies" + (" (through the account)" if self.via_account else "")
        return f"{self.label} [{self.effect}]: {outcome if self.matched else self.reason}"


@dataclass(frozen=True)
class PolicyDecision:
    """One policy's decision: explicit Deny, Allow, or neither (implicit deny)."""

    name: str
    decision: Decision
    statements: tuple[StatementResult, ...]

    @property
    def allowed(self) -> bool:
        """True when an Allow statement applies and no Deny statement does."""
        return self.decision == "allowed"

    @property
    def explicitly_denied(self) -> bool:
        """True when a Deny statement applies."""
        return self.decision == "explicitly_denied"

    @property
    def deciding(self) -> tuple[StatementResult, ...]:
        """The statements that denied (explicit deny) or allowed; none for an implicit deny."""
        effect = {"allowed": "Allow", "explicitly_denied": "Deny"}.get(self.decision)
        return tuple(s for s in self.statements if s.matched and s.effect == effect)

    @property
    def allows_directly(self) -> bool:
        """An Allow names the caller itself (or everyone), not only its account."""
        return self.allowed and any(not s.via_account for s in self.deciding)

    def summary(self) -> str:
        """One line: the decision and the statements that made it."""
        if self.decision == "implicitly_denied":
            return f"{self.name}: no statement applies"
        verb = "allows" if self.allowed else "denies"
        return f"{self.name} {verb} by " + ", ".join(s.label for s in self.deciding)

    def explain(self) -> str:
        """Every statement and whether/why it applied."""
        return "\n".join([self.summary(), *(f"  {s.describe()}" for s in self.statements)])


@dataclass(frozen=True)
class _Statement:
    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    resources: tuple[str, ...] | None  # None: the resource the policy is attached to
    principal: Any
    clauses: tuple[_Clause, ...]

    def evaluate(
        self, request: Request, context: Mapping[str, tuple[str, ...]], variables: bool
    ) -> StatementResult:
        def missed(reason: str) -> StatementResult:
            return StatementResult(self.index, self.sid, self.effect, False, reason=reason)

        where = f"statement {self.index}"
        if not any(
            _like(((a.lower(), True),)).fullmatch(request.action.lower()) for a in self.actions
        ):
            return missed(f"action {request.action!r} matches none of {list(self.actions)}")
        if self.resources is not None:
            why = _resource_mismatch(self.resources, request.resource, context, variables)
            if why:
                return missed(why)
        match: _Match | None = None
        if self.principal is not None:
            match = _principal_match(self.principal, request.caller, where)
            if match is None:
                return missed(
                    f"principal {request.principal!r} is not in Principal {self.principal}"
                )
        failures = []
        for clause in self.clauses:
            holds, why = clause.evaluate(context, variables)
            if not holds:
                failures.append(why)
        if failures:
            return missed("; ".join(failures))
        return StatementResult(self.index, self.sid, self.effect, True, match == "account")


def _resource_mismatch(
    patterns: Iterable[str],
    resource: str,
    context: Mapping[str, tuple[str, ...]],
    variables: bool,
) -> str:
    unresolved = []
    for pattern in patterns:
        try:
            pieces = _substitute(pattern, context, variables)
        except _UnresolvedError as missing:
            # "the resource that includes a policy variable with no value will not match any
            # resource" (IAM User Guide, "IAM policy elements: Variables and tags").
            unresolved.append(f"{pattern!r} (variable ${{{missing.key}}} has no value)")
            continue
        if _arn_pattern(pieces, trailing_star_crosses_colons=True).fullmatch(resource):
            return ""
    detail = f"; {', '.join(unresolved)} match nothing" if unresolved else ""
    return f"resource {resource!r} matches none of {list(patterns)}{detail}"


def _statement(raw: Any, index: int, policy_type: PolicyType) -> _Statement:
    where = f"statement {index}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} is not an object")
    for element in _NOT_MODELLED_ELEMENTS:
        if element in raw:
            raise NotImplementedError(f"{where}: {element} is not modelled")
    unknown = set(raw) - _STATEMENT_ELEMENTS
    if unknown:
        raise ValueError(f"{where}: unknown elements {sorted(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"{where}: Effect must be 'Allow' or 'Deny', not {effect!r}")
    if "Action" not in raw:
        raise ValueError(f"{where}: no Action")
    if policy_type == "identity" and "Principal" in raw:
        raise ValueError(f"{where}: an identity policy cannot have a Principal element")
    if policy_type == "resource" and "Principal" not in raw:
        raise ValueError(f"{where}: a resource policy statement needs a Principal element")
    if policy_type == "identity" and "Resource" not in raw:
        raise ValueError(f"{where}: an identity policy statement needs a Resource element")
    if "Principal" in raw:
        _principal_values(raw["Principal"], where)
    resources = raw.get("Resource")
    return _Statement(
        index=index,
        sid=raw.get("Sid"),
        effect=effect,
        actions=tuple(_strings(raw["Action"], f"{where}: Action")),
        resources=None if resources is None else tuple(_strings(resources, f"{where}: Resource")),
        principal=raw.get("Principal"),
        clauses=_clauses(raw.get("Condition"), where),
    )


def _statements(policy: Mapping[str, Any], policy_type: PolicyType) -> list[_Statement]:
    version = policy.get("Version")
    if version is not None and version not in _VERSIONS:
        raise ValueError(f"policy Version {version!r} is not one of {list(_VERSIONS)}")
    if "Statement" not in policy:
        raise ValueError("policy has no Statement")
    raw = policy["Statement"]
    return [
        _statement(s, i, policy_type) for i, s in enumerate(raw if isinstance(raw, list) else [raw])
    ]


def check_policy(policy: Mapping[str, Any], policy_type: PolicyType = "resource") -> None:
    """Read a document the way `evaluate_policy` does, without a request.

    Raises NotImplementedError for anything the evaluator does not model (NotAction,
    NotResource, NotPrincipal, Federated or CanonicalUser principals, BinaryEquals) and
    ValueError for a malformed document or an unknown operator, so that a test can show every
    document it relies on is one the evaluator reads completely.
    """
    _statements(policy, policy_type)


def evaluate_policy(
    policy: Mapping[str, Any],
    request: Request,
    policy_type: PolicyType = "resource",
    name: str = "",
) -> PolicyDecision:
    """Decide `request` against one policy document: explicit Deny, Allow, or implicit deny.

    A resource policy's Allow may match the caller only through its account (`via_account` on
    the statement): the policy then delegates to that account's IAM policies, which `evaluate`
    takes into account. Raises NotImplementedError for elements not modelled and ValueError
    for a malformed document.
    """
    statements = _statements(policy, policy_type)
    context = request.full_context()
    variables = policy.get("Version") == VARIABLES_VERSION
    results = tuple(s.evaluate(request, context, variables) for s in statements)
    if any(r.matched and r.effect == "Deny" for r in results):
        decision: Decision = "explicitly_denied"
    elif any(r.matched and r.effect == "Allow" for r in results):
        decision = "allowed"
    else:
        decision = "implicitly_denied"
    return PolicyDecision(name or f"{policy_type} policy", decision, results)


# --- the whole request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The final decision for a request, with every policy's decision behind it."""

    decision: Decision
    reason: str
    identity: tuple[PolicyDecision, ...]
    resource: PolicyDecision | None

    @property
    def allowed(self) -> bool:
        """True when AWS would allow the request (under the modelled policy types)."""
        return self.decision == "allowed"

    def explain(self) -> str:
        """The reason, then each policy statement by statement: for a failing flow test."""
        policies = [*self.identity, *([self.resource] if self.resource else [])]
        return "\n".join([f"{self.decision}: {self.reason}", *(p.explain() for p in policies)])


def evaluate(
    request: Request,
    *,
    identity_policies: Sequence[Mapping[str, Any]] = (),
    resource_policy: Mapping[str, Any] | None = None,
    resource_account: str | None = None,
    resource_kind: ResourceKind = "generic",
) -> Evaluation:
    """Decide `request` the way AWS combines identity and resource policies.

    The cases (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation
    logic"; AWS KMS Developer Guide, "Default key policy", "Allowing users in other accounts to
    use a KMS key"):

    1. A Deny that applies in any given policy: explicitly denied.
    2. A service principal caller: only `resource_policy` is evaluated (a service principal has
       no identity policies); allowed when it allows.
    3. An IAM caller in `resource_account`, `resource_kind="generic"`: allowed when an identity
       policy allows, or the resource policy allows the caller itself (a statement naming only
       the account delegates to the identity policies, so it adds nothing on its own).
    4. Same account, `resource_kind="kms"` (a key policy) or `"role_trust"` (a role trust
       policy): the resource policy must allow; naming the caller (or "*") is enough, naming
       the account needs an identity policy that allows as well.
    5. An IAM caller in another account, any kind: an identity policy must allow and the
       resource policy must allow the caller or its account.

    The account root user is allowed by its own account without identity policies ("all
    requests are implicitly denied with the exception of the AWS account root user").
    `resource_account` is required for an IAM caller; for `kms` and `role_trust` the resource
    policy is required (a key or a role always has one).
    """
    if resource_kind not in ("generic", "kms", "role_trust"):
        raise ValueError(f"resource_kind {resource_kind!r}: use 'generic', 'kms' or 'role_trust'")
    if resource_kind != "generic" and resource_policy is None:
        raise ValueError(f"resource_kind {resource_kind!r} needs its resource_policy")
    resource = (
        evaluate_policy(resource_policy, request, "resource", f"{resource_kind} resource policy")
        if resource_policy is not None
        else None
    )
    if request.is_service:
        if identity_policies:
            raise ValueError("a service principal has no identity policies: leave them out")
        return _service_decision(resource)
    if resource_account is None or not _ACCOUNT_ID.fullmatch(resource_account):
        raise ValueError(f"resource_account {resource_account!r}: give the owner's 12-digit id")
    identity = tuple(
        evaluate_policy(p, request, "identity", f"identity policy {i}")
        for i, p in enumerate(identity_policies)
    )
    denials = [p for p in (*identity, resource) if p is not None and p.explicitly_denied]
    if denials:
        return Evaluation(
            "explicitly_denied", "; ".join(p.summary() for p in denials), identity, resource
        )
    return _iam_decision(request, identity, resource, resource_account, resource_kind)


def _service_decision(resource: PolicyDecision | None) -> Evaluation:
    if resource is None:
        return Evaluation(
            "implicitly_denied", "no resource policy for a service principal", (), None
        )
    if resource.decision == "implicitly_denied":
        reason = "service principal: " + resource.summary()
    else:
        reason = "service principal: only the resource policy applies; " + resource.summary()
    return Evaluation(resource.decision, reason, (), resource)


def _iam_decision(
    request: Request,
    identity: tuple[PolicyDecision, ...],
    resource: PolicyDecision | None,
    resource_account: str,
    resource_kind: ResourceKind,
) -> Evaluation:
    root = request.caller.kind == "root"
    identity_allows = root or any(p.allowed for p in identity)
    if root:
        identity_says = "the account root user is allowed by its own account"
    elif identity_allows:
        identity_says = "; ".join(p.summary() for p in identity if p.allowed)
    else:
        identity_says = "no identity policy allows" + (
            f" ({'; '.join(p.summary() for p in identity)})" if identity else " (none given)"
        )
    direct = resource is not None and resource.allows_directly
    for_account = resource is not None and resource.allowed
    resource_says = resource.summary() if resource else "no resource policy"
    if request.account != resource_account:
        allowed = identity_allows and for_account
        reason = f"cross-account (caller {request.account}, resource {resource_account}), both must allow: {identity_says}; {resource_says}"
    elif resource_kind == "generic":
        allowed = identity_allows or direct
        reason = f"same account, either may allow: {identity_says}; {resource_says}"
    else:
        allowed = direct or (for_account and identity_allows)
        reason = (
            f"same account, the {resource_kind} policy must allow (naming the account delegates "
            f"to identity policies): {resource_says}; {identity_says}"
        )
    return Evaluation("allowed" if allowed else "implicitly_denied", reason, identity, resource)
