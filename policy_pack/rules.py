"""CrossGuard rules for the backup-copy program, as pure functions plus thin Pulumi adapters.

Every check takes plain data (a property mapping, a policy document, a list of stack items)
and returns violation messages, so the tests and `violations()` exercise the same logic that
`pulumi preview --policy-pack policy_pack` runs. The adapters at the bottom only translate
between pulumi_policy's argument objects and these functions.

Decisions worth knowing:

* IAM wildcard actions: an Allow statement in an IAM policy may not grant ``"*"`` nor a whole
  service (``"s3:*"``), and may not use ``NotAction`` (an Allow with NotAction grants everything
  else, which is broader than any list). Partial wildcards such as ``"s3:Get*"`` are accepted:
  they are the normal way to write read-only grants.
* "Public" resource policies: an Allow whose principal is ``"*"`` (or an AWS principal containing
  a wildcard), or any Allow with ``NotPrincipal``, must carry a condition that pins the caller to
  an organization or account. Conditions using ``...IfExists``, ``Null`` or negated operators do
  not count, because each of them still lets a caller without that context key in; nor does a
  condition whose only value is ``"*"``.
* Customer managed keys: an AWS managed key can only be recognised by its alias (``alias/aws/...``
  or the bare ``aws/backup``), so a vault given the key ARN of the AWS managed key is not caught
  here. The program always passes the ARN of a key it creates itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

Props = Mapping[str, Any]

BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE = "aws:iam/role:Role"

BUCKET_TYPES = frozenset({S3_BUCKET, S3_BUCKET_V2})

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

# Context keys that tie the caller to our organization or to named accounts/principals.
# Compared lower-case because IAM condition keys are case-insensitive.
SCOPING_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:SourceAccount",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceArn",
        "aws:SourceOwner",
        "kms:CallerAccount",
    )
)


# --- helpers ---------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    """A policy field may hold one value or a list of them; always get a list."""
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def parse_policy_document(document: Any) -> Mapping[str, Any] | None:
    """Return a policy document as a mapping, whether it came as a JSON string or a dict.

    None means "nothing to check" (absent or empty); a string that is not JSON raises
    ValueError so that a malformed policy is reported rather than silently accepted.
    """
    if document is None or document == "":
        return None
    if isinstance(document, Mapping):
        return document
    if isinstance(document, str):
        parsed = json.loads(document)
        if not isinstance(parsed, Mapping):
            raise ValueError("policy document is not a JSON object")
        return parsed
    raise ValueError(f"policy document has unexpected type {type(document).__name__}")


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document (``Statement`` may be one object or a list)."""
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _is_allow(statement: Mapping[str, Any]) -> bool:
    # A missing Effect is invalid in AWS; treat it as Allow so that it is checked, not skipped.
    return str(statement.get("Effect", "Allow")).lower() != "deny"


def _sid(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index}"


# --- resource policies open to "*" ------------------------------------------------------------


def _principal_is_public(principal: Any) -> bool:
    if principal is None:
        return False
    if isinstance(principal, str):
        return principal.strip() == "*"
    if isinstance(principal, Mapping):
        # Wildcards are only legal as a bare "*", so any "*" inside an AWS principal opens it up.
        return any("*" in str(value) for values in principal.values() for value in _as_list(values))
    return any(_principal_is_public(p) for p in _as_list(principal))


def _condition_scopes_caller(condition: Any) -> bool:
    """True when some condition pins the caller to an organization, account or principal."""
    if not isinstance(condition, Mapping):
        return False
    for operator, clauses in condition.items():
        op = str(operator).lower()
        # IfExists and Null pass when the key is absent; negated operators pass for everyone
        # outside the named org/account. None of them narrows "*" down.
        if op.endswith("ifexists") or op == "null" or "not" in op.split(":")[-1]:
            continue
        if not isinstance(clauses, Mapping):
            continue
        for key, values in clauses.items():
            if str(key).lower() not in SCOPING_CONDITION_KEYS:
                continue
            concrete = [v for v in _as_list(values) if str(v).strip() not in ("", "*")]
            if concrete:
                return True
    return False


def public_statements(document: Mapping[str, Any]) -> list[str]:
    """Describe each Allow statement that lets anyone in without an org/account condition."""
    problems: list[str] = []
    for index, statement in enumerate(statements(document)):
        if not _is_allow(statement):
            continue
        if "NotPrincipal" in statement:
            why = "is an Allow with NotPrincipal"
        elif _principal_is_public(statement.get("Principal")):
            why = 'allows Principal "*"'
        else:
            continue
        if _condition_scopes_caller(statement.get("Condition")):
            continue
        problems.append(
            f"{_sid(statement, index)} {why} without an organization or account condition "
            "(aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceAccount, kms:CallerAccount, ...)"
        )
    return problems


def check_policy_not_public(props: Props) -> list[str]:
    """Resource rule: the ``policy`` property must not open the resource to everyone."""
    try:
        document = parse_policy_document(props.get("policy"))
    except ValueError as error:
        return [f"policy is not a valid JSON policy document: {error}"]
    if document is None:
        return []
    return [f"policy {problem}" for problem in public_statements(document)]


# --- IAM wildcard actions ----------------------------------------------------------------------


def _is_broad_action(action: Any) -> bool:
    text = str(action).strip()
    return text == "*" or (text.endswith(":*") and text.count(":") == 1)


def wildcard_action_statements(document: Mapping[str, Any]) -> list[str]:
    """Describe each Allow statement granting ``*``, a whole service, or using NotAction."""
    problems: list[str] = []
    for index, statement in enumerate(statements(document)):
        if not _is_allow(statement):
            continue
        if "NotAction" in statement:
            problems.append(f"{_sid(statement, index)} is an Allow with NotAction")
            continue
        broad = sorted({str(a) for a in _as_list(statement.get("Action")) if _is_broad_action(a)})
        if broad:
            problems.append(f"{_sid(statement, index)} allows wildcard actions {broad}")
    return problems


def _iam_document_problems(label: str, document: Any) -> list[str]:
    try:
        parsed = parse_policy_document(document)
    except ValueError as error:
        return [f"{label} is not a valid JSON policy document: {error}"]
    if parsed is None:
        return []
    return [f"{label} {problem}" for problem in wildcard_action_statements(parsed)]


def check_iam_no_wildcard_actions(props: Props) -> list[str]:
    """Resource rule: IAM policies (standalone, inline on a role/user/group) grant no ``*``."""
    problems = _iam_document_problems("policy", props.get("policy"))
    # aws.iam.Role can carry inline policies too; check them the same way.
    for inline in _as_list(props.get("inlinePolicies")):
        if isinstance(inline, Mapping):
            label = f"inline policy {inline.get('name') or '(unnamed)'!r}"
            problems.extend(_iam_document_problems(label, inline.get("policy")))
    return problems


# --- backup vaults and KMS keys ----------------------------------------------------------------


def check_vault_not_default(props: Props) -> list[str]:
    """Resource rule: our vaults must not be called ``Default``.

    AWS creates ``Default`` itself, encrypted with the AWS managed key, and copies into a vault
    of that name would land outside the keys and policies this program controls.
    """
    name = props.get("name")
    if isinstance(name, str) and name.strip().lower() == "default":
        return [f"backup vault is named {name!r}; use a dedicated vault name"]
    return []


def check_vault_customer_managed_key(props: Props) -> list[str]:
    """Resource rule: a vault must be encrypted with a customer managed KMS key."""
    key = props.get("kmsKeyArn")
    if not isinstance(key, str) or not key.strip():
        return ["backup vault has no kmsKeyArn, so AWS would use the AWS managed aws/backup key"]
    lowered = key.strip().lower()
    if lowered.startswith("aws/") or "alias/aws/" in lowered:
        return [f"backup vault uses the AWS managed key {key!r}; use a customer managed key"]
    return []


def check_key_rotation(props: Props) -> list[str]:
    """Resource rule: every KMS key has automatic rotation switched on."""
    if props.get("enableKeyRotation") is not True:
        return ["KMS key does not set enableKeyRotation=true"]
    return []


# --- S3 public access block (stack rule) -------------------------------------------------------


@dataclass(frozen=True)
class StackItem:
    """One resource of the stack as the bucket rule needs it, detached from pulumi_policy.

    ``bucket_dependencies`` holds the URNs the engine says the ``bucket`` input was computed
    from: during a preview a new bucket's id is unknown, so that is the only link between a
    public access block and its bucket.
    """

    resource_type: str
    name: str
    urn: str
    props: Props
    bucket_dependencies: frozenset[str] = field(default_factory=frozenset)


def _known(props: Props, key: str) -> Any:
    """props[key], or None when absent or not known until the update runs."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _bucket_identifiers(item: StackItem) -> set[str]:
    ids = {item.urn, item.name}
    for key in ("bucket", "id"):
        value = _known(item.props, key)
        if isinstance(value, str) and value:
            ids.add(value)
    return ids


def check_buckets_block_public_access(items: Sequence[StackItem]) -> list[tuple[str, str]]:
    """Stack rule: each bucket has a public access block with all four flags true.

    Returns (message, urn) pairs so the adapter can attach each violation to its bucket.
    """
    blocks: list[tuple[set[str], list[str]]] = []
    for item in items:
        if item.resource_type != S3_PUBLIC_ACCESS_BLOCK:
            continue
        targets = set(item.bucket_dependencies)
        bucket = _known(item.props, "bucket")
        if isinstance(bucket, str) and bucket:
            targets.add(bucket)
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if _known(item.props, flag) is not True]
        blocks.append((targets, off))

    problems: list[tuple[str, str]] = []
    for item in items:
        if item.resource_type not in BUCKET_TYPES:
            continue
        ids = _bucket_identifiers(item)
        matching = [off for targets, off in blocks if targets & ids]
        if not matching:
            problems.append(
                (f"S3 bucket {item.name!r} has no BucketPublicAccessBlock", item.urn),
            )
        elif all(off for off in matching):
            flags = ", ".join(sorted({flag for off in matching for flag in off}))
            problems.append(
                (
                    f"S3 bucket {item.name!r} public access block does not set {flags} to true",
                    item.urn,
                ),
            )
    return problems


# --- rule table and Pulumi adapters ------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRule:
    """A per-resource rule: which resource types it looks at and the pure check to run."""

    name: str
    description: str
    resource_types: frozenset[str]
    check: Callable[[Props], list[str]]


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "backup-vault-not-default",
        "No backup vault may be named Default.",
        frozenset({BACKUP_VAULT}),
        check_vault_not_default,
    ),
    ResourceRule(
        "backup-vault-customer-managed-key",
        "Every backup vault is encrypted with a customer managed KMS key.",
        frozenset({BACKUP_VAULT}),
        check_vault_customer_managed_key,
    ),
    ResourceRule(
        "kms-key-rotation-enabled",
        "Every KMS key has automatic key rotation enabled.",
        frozenset({KMS_KEY}),
        check_key_rotation,
    ),
    ResourceRule(
        "resource-policy-not-public",
        "No key, vault or bucket policy lets '*' in without an organization or account condition.",
        frozenset({KMS_KEY, KMS_KEY_POLICY, BACKUP_VAULT_POLICY, S3_BUCKET_POLICY, *BUCKET_TYPES}),
        check_policy_not_public,
    ),
    ResourceRule(
        "iam-no-wildcard-actions",
        "No IAM policy allows '*' or a whole service ('svc:*'), and none uses Allow+NotAction.",
        frozenset({IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE}),
        check_iam_no_wildcard_actions,
    ),
)

BUCKET_RULE_NAME = "s3-bucket-public-access-blocked"
BUCKET_RULE_DESCRIPTION = (
    "Every S3 bucket has a BucketPublicAccessBlock with all four flags set to true."
)


def _resource_validation(
    rule: ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.resource_types:
            return
        for message in rule.check(args.props):
            report_violation(f"{args.resource_type} {args.name}: {message}", None)

    return validate


def stack_items(resources: Iterable[PolicyResource]) -> list[StackItem]:
    """Convert the engine's PolicyResource objects into StackItem values."""
    items: list[StackItem] = []
    for resource in resources:
        deps = resource.property_dependencies.get("bucket", [])
        items.append(
            StackItem(
                resource_type=resource.resource_type,
                name=resource.name,
                urn=resource.urn,
                props=resource.props,
                bucket_dependencies=frozenset(dep.urn for dep in deps),
            ),
        )
    return items


def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """StackValidationPolicy callback for the public access block rule."""
    for message, urn in check_buckets_block_public_access(stack_items(args.resources)):
        report_violation(message, urn)


def policies(enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY) -> list[Policy]:
    """Every policy of the pack, ready for ``PolicyPack(policies=...)``."""
    result: list[Policy] = [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_resource_validation(rule),
            enforcement_level=enforcement_level,
        )
        for rule in RESOURCE_RULES
    ]
    result.append(
        StackValidationPolicy(
            name=BUCKET_RULE_NAME,
            description=BUCKET_RULE_DESCRIPTION,
            validate=validate_stack,
            enforcement_level=enforcement_level,
        ),
    )
    return result


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def violations(resources: Iterable[tuple[str, str, Props]]) -> list[str]:
    """Run every rule of the pack over (type token, resource name, props) and list violations.

    This goes through the same Policy objects the pack registers, so it checks the wiring too.
    Props are the resource's inputs with camelCase names (as the engine hands them to
    CrossGuard). A bucket is matched to its public access block by the block's ``bucket``
    input equal to the bucket's ``bucket`` prop, its ``id`` prop or its resource name, so pass
    the mocked id in the bucket's props when the block uses ``bucket.id``.
    """
    resource_list = list(resources)
    messages: list[str] = []
    for policy in policies():
        found: list[str] = []

        def report(message: str, urn: str | None = None, sink: list[str] = found) -> None:
            sink.append(message)

        if isinstance(policy, ResourceValidationPolicy):
            for type_token, name, props in resource_list:
                urn = f"urn:pulumi:policy-check::backup::{type_token}::{name}"
                args = ResourceValidationArgs(type_token, props, urn, name, _options(), None)
                policy.validate(args, report)
        elif isinstance(policy, StackValidationPolicy):
            stack_resources = [
                PolicyResource(
                    type_token,
                    props,
                    f"urn:pulumi:policy-check::backup::{type_token}::{name}",
                    name,
                    _options(),
                    None,
                    None,
                    [],
                    {},
                )
                for type_token, name, props in resource_list
            ]
            policy.validate(StackValidationArgs(stack_resources), report)
        messages.extend(f"{policy.name}: {message}" for message in found)
    return messages
