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
NotResource, NotPrincipal, Federated principals other than IAM OIDC providers (SAML,
Cognito, public web identity providers), CanonicalUser principals, BinaryEquals, unknown
operators, a plain operator on a context key with several values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flows.conditions import Clause, clauses
from flows.matching import UnresolvedError, arn_pattern, like, strings, substitute
from flows.principals import Match, principal_match, principal_values
from flows.request import Request
from flows.types import (
    ACCOUNT_ID,
    NOT_MODELLED_ELEMENTS,
    STATEMENT_ELEMENTS,
    VARIABLES_VERSION,
    VERSIONS,
    Decision,
    PolicyType,
    ResourceKind,
)

__all__ = [
    "Decision",
    "Evaluation",
    "PolicyDecision",
    "PolicyType",
    "Request",
    "ResourceKind",
    "StatementResult",
    "check_policy",
    "evaluate",
    "evaluate_policy",
]

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
    clauses: tuple[Clause, ...]

    def evaluate(
        self, request: Request, context: Mapping[str, tuple[str, ...]], variables: bool
    ) -> StatementResult:
        def missed(reason: str) -> StatementResult:
            return StatementResult(self.index, self.sid, self.effect, False, reason=reason)

        where = f"statement {self.index}"
        if not any(
            like(((a.lower(), True),)).fullmatch(request.action.lower()) for a in self.actions
        ):
            return missed(f"action {request.action!r} matches none of {list(self.actions)}")
        if self.resources is not None:
            why = _resource_mismatch(self.resources, request.resource, context, variables)
            if why:
                return missed(why)
        match: Match | None = None
        if self.principal is not None:
            match = principal_match(self.principal, request.caller, where)
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
            pieces = substitute(pattern, context, variables)
        except UnresolvedError as missing:
            # "the resource that includes a policy variable with no value will not match any
            # resource" (IAM User Guide, "IAM policy elements: Variables and tags").
            unresolved.append(f"{pattern!r} (variable ${{{missing.key}}} has no value)")
            continue
        if arn_pattern(pieces, trailing_star_crosses_colons=True).fullmatch(resource):
            return ""
    detail = f"; {', '.join(unresolved)} match nothing" if unresolved else ""
    return f"resource {resource!r} matches none of {list(patterns)}{detail}"


def _statement(raw: Any, index: int, policy_type: PolicyType) -> _Statement:
    where = f"statement {index}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} is not an object")
    for element in NOT_MODELLED_ELEMENTS:
        if element in raw:
            raise NotImplementedError(f"{where}: {element} is not modelled")
    unknown = set(raw) - STATEMENT_ELEMENTS
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
        principal_values(raw["Principal"], where)
    resources = raw.get("Resource")
    return _Statement(
        index=index,
        sid=raw.get("Sid"),
        effect=effect,
        actions=tuple(strings(raw["Action"], f"{where}: Action")),
        resources=None if resources is None else tuple(strings(resources, f"{where}: Resource")),
        principal=raw.get("Principal"),
        clauses=clauses(raw.get("Condition"), where),
    )


def _statements(policy: Mapping[str, Any], policy_type: PolicyType) -> list[_Statement]:
    version = policy.get("Version")
    if version is not None and version not in VERSIONS:
        raise ValueError(f"policy Version {version!r} is not one of {list(VERSIONS)}")
    if "Statement" not in policy:
        raise ValueError("policy has no Statement")
    raw = policy["Statement"]
    return [
        _statement(s, i, policy_type) for i, s in enumerate(raw if isinstance(raw, list) else [raw])
    ]


def check_policy(policy: Mapping[str, Any], policy_type: PolicyType = "resource") -> None:
    """Read a document the way `evaluate_policy` does, without a request.

    Raises NotImplementedError for anything the evaluator does not model (NotAction,
    NotResource, NotPrincipal, Federated principals other than OIDC providers, CanonicalUser
    principals, BinaryEquals) and
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

    6. A web identity (an IAM OIDC provider's token, AssumeRoleWithWebIdentity): the role's
       trust policy alone decides; it must name the provider as Federated ("Create a role for
       OpenID Connect federation").

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
    if request.caller.kind == "web_identity" and (
        identity_policies or resource_kind != "role_trust"
    ):
        raise ValueError(
            "a web identity only assumes a role: give the role's trust policy as resource_policy, "
            "resource_kind='role_trust', and no identity policies"
        )
    if resource_account is None or not ACCOUNT_ID.fullmatch(resource_account):
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
