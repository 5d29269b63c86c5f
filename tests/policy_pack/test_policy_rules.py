"""Each CrossGuard rule on good and bad inputs, directly and through the pulumi_policy objects."""

import json
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy_pack import rules

ORG_ID = "o-abc123def4"
ACCOUNT = "111111111111"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def run_resource_rule(name: str, type_token: str, props: dict[str, Any]) -> list[str]:
    policy = next(p for p in rules.policies() if p.name == name)
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    args = ResourceValidationArgs(
        type_token, unknown_checking_proxy(props), f"urn:x::{name}", "res", opts(), None
    )
    policy.validate(args, report)
    return found


def policy_resource(
    type_token: str, name: str, props: dict[str, Any], deps: dict[str, list[PolicyResource]]
) -> PolicyResource:
    return PolicyResource(
        type_token,
        unknown_checking_proxy(props),
        f"urn:pulumi:dev::backup::{type_token}::{name}",
        name,
        opts(),
        None,
        None,
        [],
        deps,
    )


ALL_ON = dict.fromkeys(rules.PUBLIC_ACCESS_FLAGS, True)


# --- vault name --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Default", "default", " DEFAULT "])
def test_vault_named_default_is_rejected(name: str) -> None:
    assert rules.check_vault_not_default({"name": name})


@pytest.mark.parametrize("name", ["backup-copies-dev", "DefaultCopies", None])
def test_other_vault_names_pass(name: str | None) -> None:
    assert rules.check_vault_not_default({"name": name}) == []


def test_vault_default_through_policy_object() -> None:
    found = run_resource_rule(
        "backup-vault-not-default", rules.BACKUP_VAULT, {"name": "Default", "kmsKeyArn": "k"}
    )
    assert len(found) == 1
    assert "Default" in found[0]
    # Other resource types are not looked at.
    assert run_resource_rule("backup-vault-not-default", rules.KMS_KEY, {"name": "Default"}) == []


# --- vault key ---------------------------------------------------------------------------------


def test_vault_with_customer_managed_key_passes() -> None:
    arn = "arn:aws:kms:ap-southeast-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert rules.check_vault_customer_managed_key({"kmsKeyArn": arn}) == []


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "aws/backup",
        "alias/aws/backup",
        "arn:aws:kms:ap-southeast-2:111111111111:alias/aws/backup",
    ],
)
def test_vault_without_customer_managed_key_is_rejected(key: str | None) -> None:
    props = {} if key is None else {"kmsKeyArn": key}
    assert rules.check_vault_customer_managed_key(props)


def test_vault_key_through_policy_object() -> None:
    name = "backup-vault-customer-managed-key"
    assert run_resource_rule(name, rules.BACKUP_VAULT, {"name": "v"})
    assert run_resource_rule(name, rules.BACKUP_VAULT, {"name": "v", "kmsKeyArn": "arn:k"}) == []


# --- key rotation ------------------------------------------------------------------------------


def test_key_rotation() -> None:
    assert rules.check_key_rotation({"enableKeyRotation": True}) == []
    assert rules.check_key_rotation({"enableKeyRotation": False})
    assert rules.check_key_rotation({})
    assert run_resource_rule("kms-key-rotation-enabled", rules.KMS_KEY, {"policy": doc()})
    assert (
        run_resource_rule("kms-key-rotation-enabled", rules.KMS_KEY, {"enableKeyRotation": True})
        == []
    )


# --- public resource policies ------------------------------------------------------------------

ROOT: dict[str, Any] = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


@pytest.mark.parametrize(
    "principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::222222222222:root", "*"]}]
)
def test_principal_star_without_condition_is_rejected(principal: Any) -> None:
    statement = {"Sid": "Open", "Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt"}
    problems = rules.check_policy_not_public({"policy": doc(ROOT, statement)})
    assert len(problems) == 1
    assert "'Open'" in problems[0]


def test_not_principal_allow_is_rejected() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT["Principal"]["AWS"]}}
    assert rules.check_policy_not_public({"policy": doc(statement)})


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
        {"StringEquals": {"aws:principalorgid": [ORG_ID]}},
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT, "222222222222"]}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{ORG_ID}/r-ab12/*"]}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
    ],
)
def test_principal_star_with_scoping_condition_passes(condition: dict[str, Any]) -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": condition}
    assert rules.check_policy_not_public({"policy": doc(ROOT, statement)}) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID}},
        {"StringNotEquals": {"aws:PrincipalOrgID": ORG_ID}},
        {"Null": {"aws:PrincipalOrgID": "false"}},
        {"StringLike": {"aws:PrincipalOrgID": "*"}},
        {"Bool": {"aws:SecureTransport": "true"}},
    ],
)
def test_conditions_that_do_not_scope_are_rejected(condition: dict[str, Any]) -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Condition": condition}
    assert rules.check_policy_not_public({"policy": doc(statement)})


def test_deny_statements_and_named_principals_pass() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint"}
    service = {"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "*"}
    assert rules.check_policy_not_public({"policy": doc(ROOT, deny, service)}) == []


def test_policy_given_as_dict_and_single_statement_object() -> None:
    open_dict = {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}}
    assert rules.check_policy_not_public({"policy": open_dict})
    assert rules.check_policy_not_public({"policy": {"Statement": ROOT}}) == []


def test_missing_or_malformed_policy() -> None:
    assert rules.check_policy_not_public({}) == []
    assert rules.check_policy_not_public({"policy": "{not json"})
    assert rules.check_policy_not_public({"policy": "[]"})


@pytest.mark.parametrize(
    "type_token",
    [rules.KMS_KEY, rules.BACKUP_VAULT_POLICY, rules.S3_BUCKET_POLICY, rules.KMS_KEY_POLICY],
)
def test_public_policy_through_policy_object(type_token: str) -> None:
    open_statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}
    found = run_resource_rule(
        "resource-policy-not-public", type_token, {"policy": doc(open_statement)}
    )
    assert len(found) == 1
    assert type_token in found[0]
    good = run_resource_rule("resource-policy-not-public", type_token, {"policy": doc(ROOT)})
    assert good == []


# --- IAM wildcard actions ----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["*", "s3:*", ["dynamodb:DescribeTable", "iam:*"]])
def test_iam_wildcard_actions_are_rejected(action: Any) -> None:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    assert rules.check_iam_no_wildcard_actions({"policy": doc(statement)})


def test_iam_not_action_allow_is_rejected() -> None:
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert rules.check_iam_no_wildcard_actions({"policy": doc(statement)})


def test_iam_specific_and_partial_wildcards_pass() -> None:
    allow = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:Get*"], "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert rules.check_iam_no_wildcard_actions({"policy": doc(allow, deny)}) == []


def test_iam_role_inline_policies_are_checked() -> None:
    props = {
        "assumeRolePolicy": doc(),
        "inlinePolicies": [{"name": "export", "policy": doc({"Effect": "Allow", "Action": "*"})}],
    }
    problems = rules.check_iam_no_wildcard_actions(props)
    assert len(problems) == 1
    assert "'export'" in problems[0]


@pytest.mark.parametrize("type_token", [rules.IAM_POLICY, rules.IAM_ROLE_POLICY])
def test_iam_through_policy_object(type_token: str) -> None:
    bad = {"policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}
    good = {"policy": doc({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})}
    assert run_resource_rule("iam-no-wildcard-actions", type_token, bad)
    assert run_resource_rule("iam-no-wildcard-actions", type_token, good) == []


# --- unknown values during preview -------------------------------------------------------------


def test_unknown_policy_is_left_to_the_engine() -> None:
    # The engine turns UnknownValueError into an advisory "can't run during preview" note.
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        run_resource_rule(
            "resource-policy-not-public", rules.KMS_KEY, {"policy": UNKNOWN_STRING_VALUE}
        )


# --- S3 public access block (stack rule) -------------------------------------------------------


def item(
    type_token: str, name: str, props: Any, deps: frozenset[str] = frozenset()
) -> rules.StackItem:
    return rules.StackItem(type_token, name, f"urn:{name}", props, deps)


def test_bucket_with_full_block_passes() -> None:
    items = [
        item(rules.S3_BUCKET, "exports", {"bucket": "exports-abc"}),
        item(rules.S3_PUBLIC_ACCESS_BLOCK, "exports-pab", {"bucket": "exports-abc", **ALL_ON}),
    ]
    assert rules.check_buckets_block_public_access(items) == []


def test_bucket_without_block_is_rejected() -> None:
    items = [
        item(rules.S3_BUCKET_V2, "exports", {"bucket": "exports-abc"}),
        item(rules.S3_PUBLIC_ACCESS_BLOCK, "other-pab", {"bucket": "other", **ALL_ON}),
    ]
    problems = rules.check_buckets_block_public_access(items)
    assert problems == [("S3 bucket 'exports' has no BucketPublicAccessBlock", "urn:exports")]


def test_bucket_with_partial_block_is_rejected() -> None:
    flags = {**ALL_ON, "restrictPublicBuckets": False}
    del flags["ignorePublicAcls"]
    items = [
        item(rules.S3_BUCKET, "exports", {"bucket": "exports-abc", "id": "exports-abc"}),
        item(rules.S3_PUBLIC_ACCESS_BLOCK, "pab", {"bucket": "exports-abc", **flags}),
    ]
    [(message, urn)] = rules.check_buckets_block_public_access(items)
    assert "ignorePublicAcls, restrictPublicBuckets" in message
    assert urn == "urn:exports"


def test_block_matched_through_property_dependency_when_bucket_id_unknown() -> None:
    props = unknown_checking_proxy({"bucket": UNKNOWN_STRING_VALUE, **ALL_ON})
    items = [
        item(rules.S3_BUCKET, "exports", unknown_checking_proxy({"bucket": UNKNOWN_STRING_VALUE})),
        item(rules.S3_PUBLIC_ACCESS_BLOCK, "pab", props, frozenset({"urn:exports"})),
    ]
    assert rules.check_buckets_block_public_access(items) == []


def test_stack_policy_object_uses_property_dependencies() -> None:
    policy = next(p for p in rules.policies() if isinstance(p, StackValidationPolicy))
    bucket = policy_resource(rules.S3_BUCKET, "exports", {"bucket": UNKNOWN_STRING_VALUE}, {})
    lonely = policy_resource(rules.S3_BUCKET, "lonely", {"bucket": "lonely-1"}, {})
    block = policy_resource(
        rules.S3_PUBLIC_ACCESS_BLOCK,
        "exports-pab",
        {"bucket": UNKNOWN_STRING_VALUE, **ALL_ON},
        {"bucket": [bucket]},
    )
    found: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append((message, urn))

    policy.validate(StackValidationArgs([bucket, lonely, block]), report)
    assert found == [("S3 bucket 'lonely' has no BucketPublicAccessBlock", lonely.urn)]


# --- violations() over a whole resource list ---------------------------------------------------

KEY_ARN = "arn:aws:kms:ap-southeast-2:111111111111:key/k"
GOOD_STACK: list[tuple[str, str, dict[str, Any]]] = [
    (rules.KMS_KEY, "dest-key", {"enableKeyRotation": True, "policy": doc(ROOT)}),
    (rules.BACKUP_VAULT, "dest-vault", {"name": "copies", "kmsKeyArn": KEY_ARN}),
    (rules.S3_BUCKET, "exports", {"bucket": "exports-1", "id": "exports-1"}),
    (rules.S3_PUBLIC_ACCESS_BLOCK, "exports-pab", {"bucket": "exports-1", **ALL_ON}),
    (rules.IAM_ROLE_POLICY, "export", {"policy": doc({"Effect": "Allow", "Action": "s3:Put*"})}),
    ("aws:organizations/policy:Policy", "org", {"content": "{}"}),
]


def test_violations_on_a_compliant_stack_is_empty() -> None:
    assert rules.violations(GOOD_STACK) == []


def test_violations_lists_each_broken_rule() -> None:
    bad = [
        (rules.KMS_KEY, "k", {"policy": doc({"Effect": "Allow", "Principal": "*"})}),
        (rules.BACKUP_VAULT, "v", {"name": "Default"}),
        (rules.S3_BUCKET, "b", {"bucket": "b-1"}),
        (rules.IAM_POLICY, "p", {"policy": doc({"Effect": "Allow", "Action": "*"})}),
    ]
    found = rules.violations(bad)
    prefixes = sorted(message.split(":")[0] for message in found)
    assert prefixes == sorted(
        [
            "backup-vault-not-default",
            "backup-vault-customer-managed-key",
            "kms-key-rotation-enabled",
            "resource-policy-not-public",
            "iam-no-wildcard-actions",
            "s3-bucket-public-access-blocked",
        ]
    )


def test_violations_matches_block_by_bucket_resource_name() -> None:
    stack = [
        (rules.S3_BUCKET, "exports", {}),
        (rules.S3_PUBLIC_ACCESS_BLOCK, "pab", {"bucket": "exports", **ALL_ON}),
    ]
    assert rules.violations(stack) == []


def test_pack_registers_every_rule_once() -> None:
    names = [p.name for p in rules.policies()]
    assert len(names) == len(set(names)) == len(rules.RESOURCE_RULES) + 1
