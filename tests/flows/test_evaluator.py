"""flows.evaluator against AWS's own worked examples.

Each test reproduces a policy, a request and the outcome AWS states for it, and names the page
(title and URL) in its docstring. Account ids and names are AWS's where the page gives them; a
placeholder such as `account-id` becomes 111122223333. Pages quoted from the awsdocs GitHub
archive (2023) say so.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from flows.evaluator import (
    Decision,
    PolicyType,
    Request,
    check_policy,
    evaluate,
    evaluate_policy,
)
from tests.support.fresh_interpreter import modules_imported_by
from tools.offline import OfflineRun

V = "2012-10-17"
ACCOUNT = "111122223333"
ALLOWED: Decision = "allowed"
DENIED: Decision = "explicitly_denied"
IMPLICIT: Decision = "implicitly_denied"


def policy(*statements: dict[str, Any], version: str | None = V) -> dict[str, Any]:
    """A policy document with these statements."""
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return document


def conditional(
    effect: str, action: str | list[str], resource: str | list[str], condition: dict[str, Any]
) -> dict[str, Any]:
    """A policy of one statement with a Condition (and no Principal or Sid)."""
    return policy(
        {"Effect": effect, "Action": action, "Resource": resource, "Condition": condition}
    )


def alone(document: dict[str, Any], request: Request) -> Decision:
    """The decision when `document` is the caller's only (identity) policy, same account."""
    account = request.account or ACCOUNT
    return evaluate(request, identity_policies=[document], resource_account=account).decision


def user(name: str, account: str = ACCOUNT) -> str:
    """An IAM user ARN."""
    return f"arn:aws:iam::{account}:user/{name}"


# --- Policy evaluation logic: single account and cross-account ---------------------------------

CARLOS_SAME_ACCOUNT = policy(
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": [
            "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*",
            "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar",
        ],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS_BUCKET_POLICY = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
        "Action": "s3:*",
        "Resource": [
            "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*",
            "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar",
        ],
    }
)
CARLOS = user("carlossalazar", "123456789012")


def test_single_account_explicit_deny_in_the_identity_policy_wins() -> None:
    """Policy evaluation for requests within a single account, "Example identity-based and
    resource-based policy evaluation":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html

    Carlos saves a file to amzn-s3-demo-bucket-carlossalazar-logs: "the identity-based policy
    explicitly denies Carlos access to any S3 buckets used for logging. Carlos is denied".
    Then to amzn-s3-demo-bucket-carlossalazar: "Both the identity-based policy and the
    resource-based policy allow the request. Therefore, AWS allows the request."
    """
    logs = Request(CARLOS, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/f")
    own = Request(CARLOS, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/f")
    kwargs: dict[str, Any] = {
        "identity_policies": [CARLOS_SAME_ACCOUNT],
        "resource_account": "123456789012",
    }

    denied = evaluate(logs, **kwargs)
    assert denied.decision == DENIED
    assert "DenyS3Logs" in denied.reason
    assert evaluate(own, resource_policy=CARLOS_BUCKET_POLICY, **kwargs).decision == ALLOWED


def test_single_account_either_policy_alone_allows() -> None:
    """Policy evaluation for requests within a single account:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html

    "If either the identity-based policy or the resource-based policy within the same account
    allows the request and the other doesn't, the request is still allowed." (Carlos's policies,
    one side at a time.)
    """
    own = Request(CARLOS, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/f")
    no_self = policy(*CARLOS_SAME_ACCOUNT["Statement"][::2])  # without AllowS3Self

    only_bucket = evaluate(
        own,
        identity_policies=[no_self],
        resource_policy=CARLOS_BUCKET_POLICY,
        resource_account="123456789012",
    )
    only_identity = evaluate(
        own, identity_policies=[CARLOS_SAME_ACCOUNT], resource_account="123456789012"
    )
    neither = evaluate(own, identity_policies=[no_self], resource_account="123456789012")

    assert (only_bucket.decision, only_identity.decision, neither.decision) == (
        ALLOWED,
        ALLOWED,
        IMPLICIT,
    )


CARLOS_CROSS_ACCOUNT = policy(
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {
        "Sid": "AllowS3ProductionObjectActions",
        "Effect": "Allow",
        "Action": "s3:*Object*",
        "Resource": "arn:aws:s3:::Production/*",
    },
    {
        "Sid": "DenyS3Logs",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"],
    },
)
PRODUCTION_BUCKET_POLICY = policy(
    {
        "Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
        "Principal": {"AWS": "arn:aws:iam::111111111111:user/carlossalazar"},
        "Resource": "arn:aws:s3:::Production/*",
    }
)


def test_cross_account_both_sides_must_allow() -> None:
    """Cross-account policy evaluation logic, "Example cross-account policy evaluation"
    (awsdocs 2023 edition):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html

    Carlos (111111111111) saves to Production-logs in 222222222222: "Because the request is
    explicitly denied within one of the accounts, the final decision is to deny the request."
    To Production: "Because both accounts allow the request, the final decision is to allow".
    """
    carlos = user("carlossalazar", "111111111111")
    kwargs: dict[str, Any] = {
        "identity_policies": [CARLOS_CROSS_ACCOUNT],
        "resource_account": "222222222222",
    }

    logs = evaluate(Request(carlos, "s3:PutObject", "arn:aws:s3:::Production-logs/f"), **kwargs)
    production = Request(carlos, "s3:PutObject", "arn:aws:s3:::Production/f")

    assert logs.decision == DENIED
    assert evaluate(production, resource_policy=PRODUCTION_BUCKET_POLICY, **kwargs).allowed
    # "The request is allowed only if both evaluations return a decision of Allow."
    assert evaluate(production, **kwargs).decision == IMPLICIT
    assert (
        evaluate(
            production, resource_policy=PRODUCTION_BUCKET_POLICY, resource_account="222222222222"
        ).decision
        == IMPLICIT
    )
    # The bucket policy does not let Carlos delete ("He can create and edit, but not delete").
    delete = Request(carlos, "s3:DeleteObject", "arn:aws:s3:::Production/f")
    assert not evaluate(delete, resource_policy=PRODUCTION_BUCKET_POLICY, **kwargs).allowed


# --- Condition operators -----------------------------------------------------------------------


def test_string_equals_on_a_principal_tag_and_a_missing_tag() -> None:
    """IAM JSON policy elements: Condition operators, "String condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    StringEquals aws:PrincipalTag/job-category = iamuser-admin. "If a user without the tag
    attempts to view or edit an access key, the condition returns false and the request is
    implicitly denied by this statement."
    """
    document = policy(
        {
            "Effect": "Allow",
            "Action": "iam:*AccessKey*",
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        }
    )
    request = Request(user("Ana"), "iam:CreateAccessKey", user("Bob"))

    tagged = request.with_context(**{"aws:PrincipalTag/job-category": "iamuser-admin"})
    assert alone(document, tagged) == ALLOWED
    assert alone(document, request) == IMPLICIT
    reason = evaluate_policy(document, request, "identity").statements[0].reason
    assert reason == (
        "condition StringEquals aws:PrincipalTag/job-category: key aws:PrincipalTag/job-category "
        "absent"
    )


def test_string_like_with_a_policy_variable_gives_each_user_a_home_directory() -> None:
    """IAM JSON policy elements: Condition operators, the StringLike "home directory" example:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    "lets an IAM user use the Amazon S3 console to manage his or her own 'home directory'":
    ListBucket with s3:prefix "", "home/" or "home/${aws:username}/", and s3:* on
    home/${aws:username} and below.
    """
    document = policy(
        {
            "Effect": "Allow",
            "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"],
            "Resource": "arn:aws:s3:::*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [
                "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}",
                "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*",
            ],
        },
    )
    bucket = "arn:aws:s3:::amzn-s3-demo-bucket"
    listing = Request(user("Bob"), "s3:ListBucket", bucket)

    assert [alone(document, listing.with_context(**{"s3:prefix": p})) for p in ("", "home/")] == [
        ALLOWED,
        ALLOWED,
    ]
    assert alone(document, listing.with_context(**{"s3:prefix": "home/Bob/"})) == ALLOWED
    assert alone(document, listing.with_context(**{"s3:prefix": "home/Alice/"})) == IMPLICIT
    assert alone(document, Request(user("Bob"), "s3:GetObject", f"{bucket}/home/Bob/a")) == ALLOWED
    assert alone(document, Request(user("Bob"), "s3:GetObject", f"{bucket}/home/Al/a")) == IMPLICIT


def test_numeric_less_than_equals_on_max_keys() -> None:
    """IAM JSON policy elements: Condition operators, "Numeric condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    NumericLessThanEquals s3:max-keys 10: "the requester can list *up to* 10 objects"; "If the
    key ... is not present in the request context, the values do not match."
    """
    document = conditional(
        "Allow",
        "s3:ListBucket",
        "arn:aws:s3:::example_bucket",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    )
    listing = Request(user("Bob"), "s3:ListBucket", "arn:aws:s3:::example_bucket")

    outcomes = [alone(document, listing.with_context(**{"s3:max-keys": n})) for n in ("10", "11")]
    assert outcomes == [ALLOWED, IMPLICIT]
    assert alone(document, listing) == IMPLICIT


def test_date_greater_than_on_token_issue_time() -> None:
    """IAM JSON policy elements: Condition operators, "Date condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    DateGreaterThan aws:TokenIssueTime 2020-01-01T00:00:01Z: credentials issued after it pass;
    "if an IAM user attempts to view or edit an access key, the request is denied" (long-term
    keys carry no aws:TokenIssueTime).
    """
    document = policy(
        {
            "Effect": "Allow",
            "Action": "iam:*AccessKey*",
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/*",
            "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        }
    )
    session = Request(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/s", "iam:ListAccessKeys", user("Bob")
    )

    assert (
        alone(document, session.with_context(**{"aws:TokenIssueTime": "2020-06-01T00:00:00Z"}))
        == ALLOWED
    )
    assert alone(document, session.with_context(**{"aws:TokenIssueTime": "1577836800"})) == IMPLICIT
    assert alone(document, Request(user("Bob"), "iam:ListAccessKeys", user("Bob"))) == IMPLICIT


def test_bool_deny_without_secure_transport() -> None:
    """IAM JSON policy elements: Condition operators, "Boolean condition operators"
    (BooleanExample):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    Deny s3:* on the bucket "if the request is not over SSL"; "This policy does not allow any
    actions".
    """
    document = policy(
        {
            "Sid": "BooleanExample",
            "Action": "s3:*",
            "Effect": "Deny",
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    get = Request(user("Bob"), "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/k")

    assert alone(document, get.with_context(**{"aws:SecureTransport": "false"})) == DENIED
    assert alone(document, get.with_context(**{"aws:SecureTransport": "true"})) == IMPLICIT


def test_ip_address_ranges_in_ipv4_and_ipv6() -> None:
    """IAM JSON policy elements: Condition operators, "IP address condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    IpAddress aws:SourceIp ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]: "the request must
    come from the IP range 203.0.113.0 to 203.0.113.255", IPv6 range mixed in.
    """
    document = conditional(
        "Allow",
        "someservice:*",
        "*",
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
    )
    call = Request(user("Bob"), "someservice:Do", "*")

    sources = ("203.0.113.255", "2001:db8:1234:5678::1", "203.0.114.1")
    outcomes = [alone(document, call.with_context(**{"aws:SourceIp": s})) for s in sources]
    assert outcomes == [ALLOWED, ALLOWED, IMPLICIT]


def test_arn_like_checks_each_segment_where_string_like_does_not() -> None:
    """IAM JSON policy elements: Condition operators, "Amazon Resource Name (ARN) condition
    operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    Pattern arn:aws:someservice:*:111122223333:finance/* against
    arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt:
    "With a StringLike condition, the match succeeds ... With an ArnLike condition ... the
    match fails."
    """
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"

    def decision(operator: str) -> Decision:
        document = policy(
            {
                "Effect": "Allow",
                "Action": "someservice:*",
                "Resource": "*",
                "Condition": {operator: {"aws:SourceArn": pattern}},
            }
        )
        request = Request(user("Bob"), "someservice:Do", "*", {"aws:SourceArn": value})
        return alone(document, request)

    assert (decision("StringLike"), decision("ArnLike")) == (ALLOWED, IMPLICIT)


def test_arn_equals_source_arn_for_an_sqs_queue() -> None:
    """IAM JSON policy elements: Condition operators, the SQS queue example:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    SendMessage "only if the service is sending the messages on behalf of a particular Amazon
    SNS topic"; "If an IAM user attempts to perform this operation directly, the condition
    returns false".
    """
    queue = "arn:aws:sqs:us-east-2:123456789012:QUEUE-ID"
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "123456789012"},
            "Action": "SQS:SendMessage",
            "Resource": queue,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"}
            },
        }
    )
    direct = Request(user("Bob", "123456789012"), "sqs:SendMessage", queue)
    topic = direct.with_context(**{"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"})

    via_topic = evaluate_policy(document, topic)
    assert via_topic.allowed and via_topic.statements[0].via_account
    assert not evaluate_policy(document, direct).allowed


def test_if_exists_skips_resources_without_the_key() -> None:
    """IAM JSON policy elements: Condition operators, "...IfExists condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    THISPOLICYDOESNOTWORK: StringLike ec2:InstanceType fails for the image, key pair ...
    "these additional resources do not have the ec2:InstanceType condition key, so the
    StringLike check fails"; with StringLikeIfExists "If the resource being checked does not
    have that condition key, then don't worry about it."
    """
    types = ["t1.*", "t2.*", "m3.*"]
    image = Request(user("Bob"), "ec2:RunInstances", "arn:aws:ec2:us-east-2::image/ami-1")
    instance = Request(
        user("Bob"), "ec2:RunInstances", f"arn:aws:ec2:us-east-2:{ACCOUNT}:instance/*"
    )

    def run(operator: str) -> list[Decision]:
        document = policy(
            {
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": "*",
                "Condition": {operator: {"ec2:InstanceType": types}},
            }
        )
        sizes = [instance.with_context(**{"ec2:InstanceType": t}) for t in ("t2.micro", "m5.large")]
        return [alone(document, r) for r in (image, *sizes)]

    assert run("StringLike") == [IMPLICIT, ALLOWED, IMPLICIT]
    assert run("StringLikeIfExists") == [ALLOWED, ALLOWED, IMPLICIT]


def test_null_tells_long_term_keys_from_temporary_credentials() -> None:
    """IAM JSON policy elements: Condition operators, "Condition operator to check existence of
    condition keys":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    Null aws:TokenIssueTime "true": "the user must not be using temporary credentials (the key
    must not exist) for the user to use the Amazon EC2 API."
    """
    document = conditional("Allow", "ec2:*", "*", {"Null": {"aws:TokenIssueTime": "true"}})
    call = Request(user("Bob"), "ec2:DescribeInstances", "*")

    assert alone(document, call) == ALLOWED
    assert (
        alone(document, call.with_context(**{"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}))
        == IMPLICIT
    )


@pytest.mark.parametrize("operator", ["StringNotLike", "ArnNotLike", "StringNotEquals"])
def test_negated_operators_hold_when_the_key_is_absent(operator: str) -> None:
    """IAM JSON policy elements: Condition operators (the "Important" note):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    "If the policy condition requires that the key is *not* matched, such as StringNotLike or
    ArnNotLike, and the right key is not present, the condition is *true*."
    """
    document = policy(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {operator: {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:t"}},
        }
    )

    assert alone(document, Request(user("Bob"), "s3:GetObject", "arn:aws:s3:::b/k")) == DENIED


def test_deny_with_a_negated_if_exists_operator_still_denies_a_missing_key() -> None:
    """IAM JSON policy elements: Condition operators, "...IfExists condition operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

    "If you are using an "Effect": "Deny" element with a negated condition operator like
    StringNotEqualsIfExists, the request is still denied even if the tag is missing."
    """
    document = conditional(
        "Deny", "ec2:*", "*", {"StringNotEqualsIfExists": {"aws:ResourceTag/team": "blue"}}
    )
    call = Request(user("Bob"), "ec2:StopInstances", "*")

    assert alone(document, call) == DENIED
    assert alone(document, call.with_context(**{"aws:ResourceTag/team": "blue"})) == IMPLICIT


def test_several_keys_are_and_several_values_are_or() -> None:
    """Condition with multiple context keys or values (awsdocs 2023 edition: "Creating a
    condition with multiple keys or values"):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html

    StringEqualsIgnoreCase on department and role tags, StringEquals aws:PrincipalAccount: "The
    user making the request must have both principal tag keys ... that include one of the tag
    key values specified in the policy. Also, the user ... must belong to the AWS account".
    """
    document = conditional(
        "Allow",
        "s3:GetObject",
        "*",
        {
            "StringEqualsIgnoreCase": {
                "aws:PrincipalTag/department": ["finance", "hr", "legal"],
                "aws:PrincipalTag/role": ["audit", "security"],
            },
            "StringEquals": {"aws:PrincipalAccount": "123456789012"},
        },
    )
    tags = {"aws:PrincipalTag/department": "HR", "aws:PrincipalTag/role": "audit"}
    read = Request(user("Bob", "123456789012"), "s3:GetObject", "arn:aws:s3:::b/k", tags)

    assert alone(document, read) == ALLOWED
    assert alone(document, read.with_context(**{"aws:PrincipalTag/role": None})) == IMPLICIT
    assert alone(document, Request(user("Bob"), read.action, read.resource, tags)) == IMPLICIT


def test_several_values_of_a_negated_operator_must_all_differ() -> None:
    """Condition with multiple context keys or values (the Note):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html

    "if there are multiple aws:PrincipalAccount values in a StringNotEquals condition operator,
    the string cannot match any of the aws:PrincipalAccount values listed to resolve the
    condition to true."
    """
    document = conditional(
        "Deny",
        "s3:*",
        "*",
        {"StringNotEquals": {"aws:PrincipalAccount": ["123456789012", "444455556666"]}},
    )

    outcomes = [
        alone(document, Request(user("Bob", account), "s3:GetObject", "arn:aws:s3:::b/k"))
        for account in ("123456789012", "444455556666", "777788889999")
    ]
    assert outcomes == [IMPLICIT, IMPLICIT, DENIED]


# --- Single-valued vs. multivalued context keys ------------------------------------------------

THREAD = "arn:aws:dynamodb:us-east-2:111122223333:table/Thread"


def _thread(effect: str, action: str, operator: str, attributes: list[str]) -> dict[str, Any]:
    return policy(
        {
            "Effect": effect,
            "Action": action,
            "Resource": "arn:aws:dynamodb:*:*:table/Thread",
            "Condition": {operator: {"dynamodb:Attributes": attributes}},
        }
    )


def test_for_all_values_allows_only_listed_attributes_and_an_empty_request() -> None:
    """Creating a condition with multiple keys or values (awsdocs 2023 edition), the DynamoDB
    Thread table; the same rules on Single-valued vs. multivalued context keys:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

    ForAllValues:StringEquals [ID, Message, Tags]: a request for Message and Tags (and ID) "is
    allowed"; "if the user's request includes the UserName attribute, the request fails."
    "When you use the ForAllValues condition operator, it returns true if there are no keys in
    the request".
    """
    document = _thread(
        "Allow", "dynamodb:GetItem", "ForAllValues:StringEquals", ["ID", "Message", "Tags"]
    )
    get = Request(user("Bob"), "dynamodb:GetItem", THREAD)

    assert (
        alone(document, get.with_context(**{"dynamodb:Attributes": ["ID", "Message", "Tags"]}))
        == ALLOWED
    )
    assert (
        alone(document, get.with_context(**{"dynamodb:Attributes": ["ID", "UserName"]})) == IMPLICIT
    )
    assert alone(document, get) == ALLOWED


def test_for_all_values_evaluation_table() -> None:
    """Creating a condition with multiple keys or values (awsdocs 2023 edition), "Evaluation logic
    for multiple values with condition set operators":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

    ForAllValues:StringEquals [PostDateTime, Message, Tags], request [PostDateTime, UserName]:
    "There's no match for UserName, so the condition operator returns false".
    """
    document = _thread(
        "Allow",
        "dynamodb:GetItem",
        "ForAllValues:StringEquals",
        ["PostDateTime", "Message", "Tags"],
    )
    request = Request(
        user("Bob"),
        "dynamodb:GetItem",
        THREAD,
        {"dynamodb:Attributes": ["PostDateTime", "UserName"]},
    )

    assert alone(document, request) == IMPLICIT
    reason = evaluate_policy(document, request, "identity").statements[0].reason
    assert "request value 'UserName' not in" in reason


def test_for_any_value_deny_on_forbidden_attributes() -> None:
    """Creating a condition with multiple keys or values (awsdocs 2023 edition), the ForAnyValue
    Deny on PutItem:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

    Deny ForAnyValue:StringEquals [ID, PostDateTime]: an update of PostDateTime and Message "is
    denied"; PutItem "with just the UserName attribute ... the request is not denied by this
    policy"; "For no matching key or a null dataset, the condition returns false."
    """
    document = _thread(
        "Deny", "dynamodb:PutItem", "ForAnyValue:StringEquals", ["ID", "PostDateTime"]
    )
    put = Request(user("Bob"), "dynamodb:PutItem", THREAD)

    attributes = (
        ["PostDateTime", "Message"],
        ["UserName", "Message", "PostDateTime"],
        ["UserName"],
    )
    outcomes = [alone(document, put.with_context(**{"dynamodb:Attributes": a})) for a in attributes]
    assert outcomes == [DENIED, DENIED, IMPLICIT]
    assert alone(document, put) == IMPLICIT


DENY_RESTRICTED_TAGS = {
    "Sid": "DenyRestrictedTags",
    "Effect": "Deny",
    "Action": ["iam:Tag*", "iam:UnTag*"],
    "Resource": ["*"],
}


@pytest.mark.parametrize(
    ("patterns", "tag_keys", "outcome"),
    [
        ("key1*", ["key1"], IMPLICIT),
        ("key1*", ["key1", "key1"], IMPLICIT),
        ("key1*", ["key2"], DENIED),
        ("key1*", None, DENIED),
        (["key1*", "key2*"], ["key1"], IMPLICIT),
        (["key1*", "key2*"], ["key1", "key1"], IMPLICIT),
        (["key1*", "key2*"], ["key1", "key2"], IMPLICIT),
        (["key1*", "key2*"], ["key3"], DENIED),
        (["key1*", "key2*"], None, DENIED),
    ],
)
def test_for_all_values_string_not_like_tables(
    patterns: str | list[str], tag_keys: list[str] | None, outcome: Decision
) -> None:
    """Multivalued context key examples, "Example: Deny policy with condition set operator
    ForAllValues" (both tables):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html

    ForAllValues:StringNotLike aws:TagKeys "key1*" (then ["key1*", "key2*"]): key1:legal and
    key1:hr + key1:personnel "No match"; key2:audit (key3:legal) "Match"; "No aws:TagKeys in the
    request context" "Match". For a Deny, Match is denied. (The tables list each tag as
    key:value; aws:TagKeys holds the keys.)
    """
    document = policy(
        {
            **DENY_RESTRICTED_TAGS,
            "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": patterns}},
        }
    )
    request = Request(user("Bob"), "iam:TagUser", user("Ann"), {"aws:TagKeys": tag_keys})

    assert alone(document, request) == outcome


@pytest.mark.parametrize(
    ("tag_keys", "outcome"),
    [
        (["webserver"], DENIED),
        (["environment", "webserver", "test"], DENIED),
        (["environment", "test"], IMPLICIT),
        (None, IMPLICIT),
    ],
)
def test_for_any_value_string_equals_table(tag_keys: list[str] | None, outcome: Decision) -> None:
    """Multivalued context key examples, "Example: Deny policy with condition set operator
    ForAnyValue":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html

    Deny ec2:CreateSnapshot(s) when ForAnyValue:StringEquals aws:TagKeys "webserver": webserver
    "Match"; environment, webserver, test "Match"; environment, test "No match"; no aws:TagKeys
    "No match".
    """
    document = conditional(
        "Deny",
        ["ec2:CreateSnapshot", "ec2:CreateSnapshots"],
        "arn:aws:ec2:us-west-2::snapshot/*",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "webserver"}},
    )
    snapshot = "arn:aws:ec2:us-west-2::snapshot/snap-1"
    request = Request(user("Bob"), "ec2:CreateSnapshot", snapshot, {"aws:TagKeys": tag_keys})

    assert alone(document, request) == outcome


def test_a_plain_operator_on_several_request_values_is_refused() -> None:
    """Single-valued vs. multivalued context keys:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

    "Multivalued context keys require a condition set operator." AWS documents no outcome for
    StringEquals on several values, so the evaluator refuses rather than guesses.
    """
    document = _thread("Allow", "dynamodb:GetItem", "StringEquals", ["ID"])
    request = Request(
        user("Bob"), "dynamodb:GetItem", THREAD, {"dynamodb:Attributes": ["ID", "Tags"]}
    )

    with pytest.raises(ValueError, match="ForAnyValue: or ForAllValues:"):
        alone(document, request)


# --- Policy variables --------------------------------------------------------------------------


def test_username_variable_in_resource_and_a_caller_without_one() -> None:
    """IAM policy elements: Variables and tags, "Resource element":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    mybucket/${aws:username}/*: "IAM replaces the variable ${aws:username} with the friendly
    name of the actual current user". A role session has no aws:username: "the resource that
    includes a policy variable with no value will not match any resource".
    """
    document = policy(
        {
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"],
        }
    )
    put = Request(user("David"), "s3:PutObject", "arn:aws:s3:::mybucket/David/notes.txt")
    session = Request(f"arn:aws:sts::{ACCOUNT}:assumed-role/David/s", put.action, put.resource)

    assert alone(document, put) == ALLOWED
    assert alone(document, Request(user("Adele"), put.action, put.resource)) == IMPLICIT
    assert alone(document, session) == IMPLICIT
    assert (
        "variable ${aws:username} has no value"
        in evaluate_policy(document, session, "identity").statements[0].reason
    )


def test_default_value_of_a_variable() -> None:
    """IAM policy elements: Variables and tags, "Specifying default values":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}: team=yellow reaches the
    -yellow bucket; "For users without team tags, it sets a default value of company-wide".
    """
    document = policy(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}",
        }
    )

    def lists(bucket: str, **tags: str) -> Decision:
        request = Request(user("Bob"), "s3:ListBucket", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET-{bucket}")
        return alone(
            document, request.with_context(**{f"aws:PrincipalTag/{k}": v for k, v in tags.items()})
        )

    assert lists("yellow", team="yellow") == ALLOWED
    assert lists("company-wide", team="yellow") == IMPLICIT
    assert lists("company-wide") == ALLOWED


def test_special_character_variables_are_literal() -> None:
    """IAM policy elements: Variables and tags, "Special characters":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    "${*} - use where you need an * (asterisk) character", likewise ${?} and ${$}: "inserting an
    * asterisk in the string would be interpreted as a wildcard".
    """
    document = policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${*}${?}${$}"}
    )

    def gets(key: str) -> Decision:
        return alone(document, Request(user("Bob"), "s3:GetObject", f"arn:aws:s3:::b/{key}"))

    assert (gets("*?$"), gets("a?$"), gets("*b$")) == (ALLOWED, IMPLICIT, IMPLICIT)


def test_a_variable_with_no_value_in_a_condition() -> None:
    """IAM policy elements: Variables and tags, "Policy variables with no value":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    Deny s3:GetObject with StringNotEquals s3:ExistingObjectTag/Team = ${aws:PrincipalTag/Team}:
    "Access is specifically denied when aws:principaltag/Team is not set" ("Inverted condition
    operators like StringNotEquals ... do match against a null value"). (AWS's JSON lacks the
    "Condition" key around StringNotEquals; it is restored here.)
    """
    document = conditional(
        "Deny",
        "s3:GetObject",
        "arn:aws:s3:::example-bucket/*",
        {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}},
    )
    get = Request(
        user("Bob"),
        "s3:GetObject",
        "arn:aws:s3:::example-bucket/k",
        {"s3:ExistingObjectTag/Team": "red"},
    )

    assert alone(document, get) == DENIED
    assert alone(document, get.with_context(**{"aws:PrincipalTag/Team": "red"})) == IMPLICIT
    assert alone(document, get.with_context(**{"aws:PrincipalTag/Team": "blue"})) == DENIED
    # StringEquals against the null value never matches.
    equals = policy(
        {
            **document["Statement"][0],
            "Effect": "Allow",
            "Condition": {
                "StringEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}
            },
        }
    )
    assert alone(equals, get) == IMPLICIT
    # "There is no equal or like value": not even the variable's own text.
    literal = get.with_context(**{"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"})
    assert alone(equals, literal) == IMPLICIT


def test_variables_need_the_2012_10_17_version() -> None:
    """IAM policy elements: Variables and tags (the Note):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    "If you don't include the Version element and set it to an appropriate version date,
    variables like ${aws:username} are treated as literal strings in the policy."
    """
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/${aws:username}/*",
    }
    named = Request(user("David"), "s3:GetObject", "arn:aws:s3:::b/David/k")
    literal = Request(user("David"), "s3:GetObject", "arn:aws:s3:::b/${aws:username}/k")

    assert alone(policy(statement), named) == ALLOWED
    assert alone(policy(statement, version=None), named) == IMPLICIT
    assert alone(policy(statement, version=None), literal) == ALLOWED


def test_a_variable_in_a_condition_of_a_resource_policy_without_resource() -> None:
    """IAM policy elements: Variables and tags, "Condition element" (the SNS topic example):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

    Principal account 999999999999, StringLike sns:endpoint https://example.com/${aws:username}/
    and StringEquals sns:Protocol https: "this permission is granted only if the URL matches
    their AWS user name." (The statement has no Resource: it covers the topic it is attached
    to.)
    """
    document = policy(
        {
            "Principal": {"AWS": "999999999999"},
            "Effect": "Allow",
            "Action": "sns:*",
            "Condition": {
                "StringLike": {"sns:endpoint": "https://example.com/${aws:username}/"},
                "StringEquals": {"sns:Protocol": "https"},
            },
        }
    )
    subscribe = Request(
        user("Bob", "999999999999"),
        "sns:Subscribe",
        "arn:aws:sns:us-east-2:999999999999:topic",
        {"sns:Protocol": "https", "sns:endpoint": "https://example.com/Bob/"},
    )

    assert evaluate_policy(document, subscribe).allowed
    other = subscribe.with_context(**{"sns:endpoint": "https://example.com/Alice/"})
    assert not evaluate_policy(document, other).allowed


# --- Principal, Action, Resource ---------------------------------------------------------------


def test_account_principals_delegate_to_the_accounts_identity_policies() -> None:
    """AWS JSON policy elements: Principal, "AWS account principals":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    "arn:aws:iam::123456789012:root" and "123456789012" "behave the same way. Both delegate
    permissions to the account"; "an administrator in that account must then grant access to an
    identity (IAM user or role) in that account."
    """
    bucket = "arn:aws:s3:::shared/k"
    read_all = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    get = Request("arn:aws:iam::123456789012:role/Reader", "s3:GetObject", bucket)

    for principal in ("arn:aws:iam::123456789012:root", "123456789012"):
        grant = policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "s3:GetObject",
                "Resource": bucket,
            }
        )
        decision = evaluate_policy(grant, get)
        assert decision.allowed and not decision.allows_directly
        kwargs: dict[str, Any] = {"resource_policy": grant, "resource_account": "444455556666"}
        assert evaluate(get, identity_policies=[read_all], **kwargs).allowed
        assert not evaluate(get, **kwargs).allowed
        # In its own account the grant adds nothing to the identity policies.
        assert not evaluate(get, resource_policy=grant, resource_account="123456789012").allowed


def test_a_role_principal_covers_its_sessions_and_a_session_principal_only_itself() -> None:
    """AWS JSON policy elements: Principal, "IAM role principals" and "Role session principals":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    A role's sessions act as "a role session principal" of that role; an assumed-role session
    principal "arn:aws:sts::AWS-account-ID:assumed-role/role-name/role-session-name" names one
    session ("you cannot use a wildcard "*" to mean all sessions").
    """
    role = "arn:aws:iam::123456789012:role/examplerole"
    session = "arn:aws:sts::123456789012:assumed-role/examplerole/examplerolesessionname"
    other_session = "arn:aws:sts::123456789012:assumed-role/examplerole/another"

    def grant(principal: str) -> dict[str, Any]:
        return policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "s3:GetObject",
                "Resource": "*",
            }
        )

    def allowed(document: dict[str, Any], caller: str) -> bool:
        return evaluate_policy(
            document, Request(caller, "s3:GetObject", "arn:aws:s3:::b/k")
        ).allowed

    assert [allowed(grant(role), c) for c in (session, other_session, role)] == [True, True, True]
    assert [allowed(grant(session), c) for c in (session, other_session)] == [True, False]
    with pytest.raises(ValueError, match="wildcard"):
        allowed(grant("arn:aws:sts::123456789012:assumed-role/examplerole/*"), session)


def test_principal_arn_of_a_session_is_the_role_arn() -> None:
    """AWS global condition context keys, aws:PrincipalArn:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

    "For IAM roles, the request context returns the ARN of the role, not the ARN of the user
    that assumed the role ... Do not specify the assumed role session ARN as a value for this
    condition key."
    """
    document = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/examplerole"}
            },
        }
    )
    session = Request(
        "arn:aws:sts::123456789012:assumed-role/examplerole/s", "s3:GetObject", "arn:aws:s3:::b/k"
    )

    assert evaluate_policy(document, session).allowed
    by_session_arn = policy(
        {
            **document["Statement"][0],
            "Condition": {"ArnEquals": {"aws:PrincipalArn": session.principal}},
        }
    )
    assert not evaluate_policy(by_session_arn, session).allowed


def test_service_principals_and_only_the_resource_policy() -> None:
    """AWS JSON policy elements: Principal, "AWS service principals" (a role that Amazon ECS and
    Elastic Load Balancing may assume):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    "The policy enables two services, Amazon ECS and Elastic Load Balancing, to assume the role."
    A service principal has no identity policies: the trust policy decides.
    """
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/ecs-service"

    def assume(service: str) -> Decision:
        request = Request(service, "sts:AssumeRole", role)
        return evaluate(request, resource_policy=trust, resource_kind="role_trust").decision

    assert [assume(s) for s in ("ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com")] == [
        ALLOWED,
        ALLOWED,
    ]
    assert assume("lambda.amazonaws.com") == IMPLICIT
    with pytest.raises(ValueError, match="no identity policies"):
        evaluate(Request("ecs.amazonaws.com", "sts:AssumeRole", role), identity_policies=[trust])


def test_all_principals_need_identity_permissions_only_across_accounts() -> None:
    """AWS JSON policy elements: Principal, "All principals":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    "using a wildcard (*) with an Allow effect grants access to all users ... For IAM users and
    role principals within your account, no other permissions are required. For principals in
    other accounts, they must also have identity-based permissions in their account".
    """
    for element in ("*", {"AWS": "*"}):
        public = policy(
            {
                "Effect": "Allow",
                "Principal": element,
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::pub/*",
            }
        )
        get = Request(user("Bob", "123456789012"), "s3:GetObject", "arn:aws:s3:::pub/k")
        read_all = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})

        assert evaluate(get, resource_policy=public, resource_account="123456789012").allowed
        assert not evaluate(get, resource_policy=public, resource_account="999999999999").allowed
        assert evaluate(
            get,
            identity_policies=[read_all],
            resource_policy=public,
            resource_account="999999999999",
        ).allowed


def test_principal_arn_deny_instead_of_not_principal() -> None:
    """AWS JSON policy elements: Principal, "All principals"
    (UsePrincipalArnInsteadOfNotPrincipalWithDeny):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    Deny s3:* with ArnNotEquals aws:PrincipalArn user-name in 444455556666: "explicitly deny
    all principals *except* for the ones specified in the Condition element".
    """
    document = policy(
        {
            "Sid": "UsePrincipalArnInsteadOfNotPrincipalWithDeny",
            "Effect": "Deny",
            "Action": "s3:*",
            "Principal": "*",
            "Resource": ["arn:aws:s3:::BUCKETNAME/*", "arn:aws:s3:::BUCKETNAME"],
            "Condition": {
                "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"}
            },
        }
    )

    def decision(caller: str) -> Decision:
        return evaluate_policy(
            document, Request(caller, "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k")
        ).decision

    assert decision(user("user-name", "444455556666")) == IMPLICIT
    assert decision(user("someone", "444455556666")) == DENIED
    assert decision("cloudtrail.amazonaws.com") == DENIED  # no aws:PrincipalArn: ArnNotEquals holds


def test_action_names_ignore_case_and_take_wildcards() -> None:
    """IAM JSON policy elements: Action:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html

    "The prefix and the action name are case insensitive. For example, iam:ListAccessKeys is the
    same as IAM:listaccesskeys"; "iam:*AccessKey*" "applies to all IAM actions that include the
    string AccessKey, including CreateAccessKey, DeleteAccessKey, ListAccessKeys, and
    UpdateAccessKey."
    """
    upper = policy({"Effect": "Allow", "Action": "IAM:listaccesskeys", "Resource": "*"})
    wild = policy({"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "*"})

    def decision(document: dict[str, Any], action: str) -> Decision:
        return alone(document, Request(user("Bob"), action, user("Bob")))

    assert decision(upper, "iam:ListAccessKeys") == ALLOWED
    actions = (
        "iam:CreateAccessKey",
        "iam:DeleteAccessKey",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
    )
    assert {decision(wild, a) for a in actions} == {ALLOWED}
    assert decision(wild, "iam:ListUsers") == IMPLICIT


def test_resource_wildcards_cross_slashes_and_names_keep_their_case() -> None:
    """IAM JSON policy elements: Resource, "Using wildcards in resource ARNs":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html

    DOC-EXAMPLE-BUCKET/*/test/* "apply to all of the following objects" (eight keys) and "would
    not match" three others; "In the Resource element, the IAM user name is case sensitive."
    """
    document = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*",
        }
    )
    matching = [
        "1/test/object.jpg",
        "1/2/test/object.jpg",
        "1/2/test/3/object.jpg",
        "1/2/3/test/4/object.jpg",
        "1///test///object.jpg",
        "1/test/.jpg",
        "/test/object.jpg",
        "1/test/",
    ]
    other = ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"]

    def gets(key: str) -> Decision:
        return alone(
            document, Request(user("Bob"), "s3:GetObject", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}")
        )

    assert {gets(k) for k in matching} == {ALLOWED}
    assert {gets(k) for k in other} == {IMPLICIT}
    bob = policy({"Effect": "Allow", "Action": "iam:GetUser", "Resource": user("Bob")})
    assert alone(bob, Request(user("Ann"), "iam:GetUser", user("bob"))) == IMPLICIT


def test_a_resource_wildcard_ending_a_segment_may_cross_colons() -> None:
    """IAM JSON policy elements: Resource, "Using wildcards in resource ARNs" (current edition,
    quoted in dherault/serverless-offline#1797):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html

    "If the wildcard (*) is the last character of a resource ARN segment, it can expand to match
    beyond colon boundaries"; elsewhere wildcards stay "within ARN segments".
    """
    queue = "arn:aws:sqs:us-east-2:111122223333:queue1"

    def matches(pattern: str) -> bool:
        document = policy({"Effect": "Allow", "Action": "sqs:*", "Resource": pattern})
        return alone(document, Request(user("Bob"), "sqs:SendMessage", queue)) == ALLOWED

    assert matches("arn:aws:sqs:us-east-*")
    assert matches("arn:aws:sqs:*:111122223333:queue?")
    assert matches("arn:aws:sqs:us-e*:queue1")  # the * ends its segment: it runs on
    assert not matches("arn:aws:sqs:us-*2:queue1")  # mid-segment: it stays in us-east-2
    assert not matches("arn:aws:sqs:us-*2:111122223333:queue1x")


# --- AWS KMS key policies ----------------------------------------------------------------------

KEY = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENABLE_IAM_POLICIES = {
    "Sid": "Enable IAM policies",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
CRYPTO = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
USE_KEY = policy(
    {
        "Sid": "AllowUseOfKeyInAccount111122223333",
        "Effect": "Allow",
        "Action": CRYPTO,
        "Resource": KEY,
    }
)


def _key(request: Request, key_policy: dict[str, Any], *identity: dict[str, Any]) -> Decision:
    return evaluate(
        request,
        identity_policies=identity,
        resource_policy=key_policy,
        resource_account=ACCOUNT,
        resource_kind="kms",
    ).decision


def test_default_key_policy_enables_iam_policies_and_nothing_more() -> None:
    """AWS KMS Developer Guide, Default key policy, "Allows access to the AWS account and enables
    IAM policies":
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html

    "When the principal in a key policy statement is the account principal, the policy statement
    doesn't give any IAM users or roles permission to use the KMS key. Instead, it allows the
    account to use IAM policies to *delegate*"; "It gives the AWS account that owns the KMS key
    full access".
    """
    decrypt = Request(f"arn:aws:iam::{ACCOUNT}:role/App", "kms:Decrypt", KEY)
    default = policy(ENABLE_IAM_POLICIES)

    assert _key(decrypt, default, USE_KEY) == ALLOWED
    assert _key(decrypt, default) == IMPLICIT
    assert (
        _key(Request(f"arn:aws:iam::{ACCOUNT}:root", "kms:ScheduleKeyDeletion", KEY), default)
        == ALLOWED
    )
    # Without that statement, IAM policies alone are ineffective for a key.
    assert (
        _key(decrypt, policy({**ENABLE_IAM_POLICIES, "Principal": {"AWS": user("Admin")}}), USE_KEY)
        == IMPLICIT
    )


def test_a_key_policy_naming_the_caller_needs_no_iam_policy_in_its_account() -> None:
    """AWS KMS Developer Guide, Condition keys, kms:ViaService (first example):
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service

    The key policy lets ExampleUser (same account) use the key "only when the request comes from
    Amazon EC2 or Amazon RDS in the US West (Oregon) region".
    """
    key_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ExampleUser"},
            "Action": [*CRYPTO[:4], "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]
                }
            },
        }
    )
    decrypt = Request(user("ExampleUser"), "kms:Decrypt", KEY)

    via = [
        decrypt.with_context(**{"kms:ViaService": f"{s}.us-west-2.amazonaws.com"})
        for s in ("ec2", "rds", "lambda")
    ]
    assert [_key(r, key_policy) for r in via] == [ALLOWED, ALLOWED, IMPLICIT]
    assert _key(decrypt, key_policy) == IMPLICIT


def test_kms_via_service_deny() -> None:
    """AWS KMS Developer Guide, Condition keys, kms:ViaService (the Deny example):
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service

    The statement "prevent[s] a customer managed key from being used for Encrypt operations when
    the request comes from AWS Lambda on behalf of ExampleUser" (next to the default statement
    and an IAM policy that allows).
    """
    key_policy = policy(
        ENABLE_IAM_POLICIES,
        {
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ExampleUser"},
            "Action": ["kms:Encrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": ["lambda.us-west-2.amazonaws.com"]}},
        },
    )
    encrypt = Request(user("ExampleUser"), "kms:Encrypt", KEY)

    def through(service: str) -> Decision:
        via = encrypt.with_context(**{"kms:ViaService": f"{service}.us-west-2.amazonaws.com"})
        return _key(via, key_policy, USE_KEY)

    assert (through("lambda"), through("ec2")) == (DENIED, ALLOWED)


def test_another_account_needs_the_key_policy_and_its_own_iam_policy() -> None:
    """AWS KMS Developer Guide, Allowing users in other accounts to use a KMS key (Steps 1 and 2):
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html

    Key policy "Allow an external account to use this KMS key" (444455556666:root) and the IAM
    policy AllowUseOfKeyInAccount111122223333: "Neither the key policy nor the IAM policy alone
    is sufficient—you must change both."
    """
    external = policy(
        ENABLE_IAM_POLICIES,
        {
            "Sid": "Allow an external account to use this KMS key",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::444455556666:root"]},
            "Action": CRYPTO,
            "Resource": "*",
        },
    )
    decrypt = Request("arn:aws:iam::444455556666:role/App", "kms:Decrypt", KEY)

    assert _key(decrypt, external, USE_KEY) == ALLOWED
    assert _key(decrypt, external) == IMPLICIT
    assert _key(decrypt, policy(ENABLE_IAM_POLICIES), USE_KEY) == IMPLICIT


def test_external_roles_named_in_a_key_policy_still_need_iam_policies() -> None:
    """AWS KMS Developer Guide, Allowing users in other accounts to use a KMS key (ExampleRole and
    ExampleUser in 444455556666):
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html

    "those users and roles cannot use the KMS key until IAM administrators in the external
    account attach the proper IAM policies"; "If an IAM policy gives KMS key access to other
    external users or roles, it has no effect."
    """
    named = policy(
        {
            "Sid": "Allow an external account to use this KMS key",
            "Effect": "Allow",
            "Principal": {
                "AWS": [
                    "arn:aws:iam::444455556666:role/ExampleRole",
                    "arn:aws:iam::444455556666:user/ExampleUser",
                ]
            },
            "Action": CRYPTO,
            "Resource": "*",
        }
    )
    role = Request("arn:aws:iam::444455556666:role/ExampleRole", "kms:Encrypt", KEY)

    assert _key(role, named, USE_KEY) == ALLOWED
    assert _key(role, named) == IMPLICIT
    assert (
        _key(Request("arn:aws:iam::444455556666:role/Other", "kms:Encrypt", KEY), named, USE_KEY)
        == IMPLICIT
    )


def test_a_key_policy_asterisk_reaches_every_account_with_iam_permission() -> None:
    """AWS KMS Developer Guide, Allowing users in other accounts to use a KMS key (the Note):
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html

    "An asterisk gives every identity in every AWS account permission to use the KMS key ...
    Users in other AWS accounts just need corresponding IAM permissions in their own accounts".
    """
    everyone = policy({"Effect": "Allow", "Principal": "*", "Action": CRYPTO, "Resource": "*"})

    assert (
        _key(Request(f"arn:aws:iam::{ACCOUNT}:role/Any", "kms:Decrypt", KEY), everyone) == ALLOWED
    )
    outsider = Request("arn:aws:iam::999999999999:role/Any", "kms:Decrypt", KEY)
    assert (_key(outsider, everyone, USE_KEY), _key(outsider, everyone)) == (ALLOWED, IMPLICIT)


def test_role_trust_policies_must_allow_the_principal_even_in_the_same_account() -> None:
    """Policy evaluation logic, "How AWS enforcement code logic evaluates requests":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html

    "For most resources, you only need an explicit allow for the principal in either an
    identity-based policy or a resource-based policy ... IAM role trust policies and KMS key
    policies are exceptions to this logic, because they must explicitly allow access for
    principals."
    """
    role = f"arn:aws:iam::{ACCOUNT}:role/Target"
    assume = Request(f"arn:aws:iam::{ACCOUNT}:role/Caller", "sts:AssumeRole", role)
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role})
    trusts_account = policy(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
    )
    trusts_other = policy(
        {"Effect": "Allow", "Principal": {"AWS": "999999999999"}, "Action": "sts:AssumeRole"}
    )

    def decision(trust: dict[str, Any], *identity: dict[str, Any]) -> Decision:
        return evaluate(
            assume,
            identity_policies=identity,
            resource_policy=trust,
            resource_account=ACCOUNT,
            resource_kind="role_trust",
        ).decision

    assert decision(trusts_account, may_assume) == ALLOWED
    assert decision(trusts_account) == IMPLICIT
    assert decision(trusts_other, may_assume) == IMPLICIT
    # The same policies read as an ordinary resource policy would allow on either side.
    assert evaluate(assume, identity_policies=[may_assume], resource_account=ACCOUNT).allowed


# --- Organizations condition keys --------------------------------------------------------------


def test_principal_org_id_admits_members_of_the_organization_only() -> None:
    """AWS global condition context keys, aws:PrincipalOrgID:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

    The bucket policy "allows members of any account in the o-xxxxxxxxxxx organization to add an
    object"; "This includes any AWS services that interact with your internal resources, such
    as AWS CloudTrail" (which carry no aws:PrincipalOrgID) among those kept out.
    """
    document = policy(
        {
            "Sid": "AllowPutObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-xxxxxxxxxxx"}},
        }
    )
    put = Request(
        "arn:aws:iam::444455556666:role/App", "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/k"
    )

    assert evaluate_policy(
        document, put.with_context(**{"aws:PrincipalOrgID": "o-xxxxxxxxxxx"})
    ).allowed
    outsider = evaluate_policy(
        document, put.with_context(**{"aws:PrincipalOrgID": "o-yyyyyyyyyyy"})
    )
    assert outsider.statements[0].reason == (
        "condition StringEquals aws:PrincipalOrgID: request value 'o-yyyyyyyyyyy' not in "
        "['o-xxxxxxxxxxx']"
    )
    assert not evaluate_policy(document, put).allowed
    cloudtrail = Request("cloudtrail.amazonaws.com", "s3:PutObject", put.resource)
    assert evaluate(cloudtrail, resource_policy=document).decision == IMPLICIT


@pytest.mark.parametrize(
    ("pattern", "operator", "direct_child", "grandchild", "elsewhere"),
    [
        (
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/",
            "ForAnyValue:StringEquals",
            True,
            False,
            False,
        ),
        (
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/*",
            "ForAnyValue:StringLike",
            True,
            True,
            False,
        ),
        (
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/ou-*",
            "ForAnyValue:StringLike",
            False,
            True,
            False,
        ),
        ("o-a1b2c3d4e5/*", "ForAnyValue:StringLike", True, True, True),
    ],
)
def test_principal_org_paths_conditions(
    pattern: str, operator: str, direct_child: bool, grandchild: bool, elsewhere: bool
) -> None:
    """AWS global condition context keys, aws:PrincipalOrgPaths (the four conditions):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

    "...attached directly to the ou-ab12-22222222 OU, but not in its child OUs"; "...directly
    to the OU or any of its child OUs"; "...only the children (and any children of those
    children)"; "every principal in the o-a1b2c3d4e5 organization, regardless of their parent
    OU."
    """
    document = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {operator: {"aws:PrincipalOrgPaths": [pattern]}},
        }
    )
    parent = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"
    paths = (parent, f"{parent}ou-ab12-33333333/", "o-a1b2c3d4e5/r-ab12/ou-ab12-44444444/")

    def allowed(path: str) -> bool:
        request = Request(
            "arn:aws:iam::444455556666:role/App",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            {"aws:PrincipalOrgPaths": [path]},
        )
        return evaluate_policy(document, request).allowed

    assert [allowed(p) for p in paths] == [direct_child, grandchild, elsewhere]


def test_principal_is_aws_service_lets_services_through_a_network_deny() -> None:
    """AWS global condition context keys, aws:PrincipalIsAWSService (Expected-network+service-
    principal):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

    "access to the bucket is restricted unless the request originates from vpc-111bbb22 or is
    from a service principal, such as CloudTrail."
    """
    document = policy(
        {
            "Sid": "ExpectedNetworkServicePrincipal",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket1/AWSLogs/111122223333/*",
            "Condition": {
                "StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-111bbb22"},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
            },
        }
    )
    key = "arn:aws:s3:::amzn-s3-demo-bucket1/AWSLogs/111122223333/log.gz"
    app = Request(f"arn:aws:iam::{ACCOUNT}:role/App", "s3:PutObject", key)

    def decision(request: Request) -> Decision:
        return evaluate_policy(document, request).decision

    assert decision(app.with_context(**{"aws:SourceVpc": "vpc-111bbb22"})) == IMPLICIT
    assert decision(app.with_context(**{"aws:SourceVpc": "vpc-999"})) == DENIED
    assert decision(app) == DENIED
    assert decision(Request("cloudtrail.amazonaws.com", "s3:PutObject", key)) == IMPLICIT


def test_principal_account_deny_except_one_account() -> None:
    """AWS global condition context keys, aws:PrincipalAccount:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

    DenyAccessFromPrincipalNotInSpecificAccount: "access is denied except to principals with the
    account number 123456789012."
    """
    document = policy(
        {
            "Sid": "DenyAccessFromPrincipalNotInSpecificAccount",
            "Action": "service:*",
            "Effect": "Deny",
            "Resource": ["arn:aws:service:us-east-1:111122223333:resource"],
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ["123456789012"]}},
        }
    )
    resource = "arn:aws:service:us-east-1:111122223333:resource"

    assert (
        alone(document, Request(user("Bob", "123456789012"), "service:Get", resource)) == IMPLICIT
    )
    assert alone(document, Request(user("Bob", "210987654321"), "service:Get", resource)) == DENIED


# --- web identity (OIDC) ----------------------------------------------------------------------

GITHUB = "token.actions.githubusercontent.com"
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"


def test_an_oidc_provider_principal_with_audience_and_subject_conditions() -> None:
    """GitHub Docs, "Configuring OpenID Connect in Amazon Web Services"
    (https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws):
    the trust policy names the IAM OIDC provider as Federated and conditions on
    `token.actions.githubusercontent.com:aud` = `sts.amazonaws.com` and
    `token.actions.githubusercontent.com:sub` = `repo:octo-org/octo-repo:ref:refs/heads/octo-branch`;
    IAM User Guide, "Create a role for OpenID Connect federation"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html): the
    claims are condition keys of the provider's name.
    """
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB_PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB}:aud": "sts.amazonaws.com",
                    f"{GITHUB}:sub": "repo:octo-org/octo-repo:ref:refs/heads/octo-branch",
                }
            },
        }
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/GitHubAction-AssumeRoleWithAction"

    def decide(subject: str, provider: str = GITHUB_PROVIDER) -> Decision:
        claims = {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": subject}
        request = Request(provider, "sts:AssumeRoleWithWebIdentity", role, claims)
        return evaluate(
            request, resource_policy=trust, resource_account=ACCOUNT, resource_kind="role_trust"
        ).decision

    assert decide("repo:octo-org/octo-repo:ref:refs/heads/octo-branch") == ALLOWED
    assert decide("repo:octo-org/octo-repo:ref:refs/heads/main") == IMPLICIT
    assert (
        decide(
            "repo:octo-org/octo-repo:ref:refs/heads/octo-branch",
            provider=(f"arn:aws:iam::444455556666:oidc-provider/{GITHUB}"),
        )
        == IMPLICIT
    )
    # The provider's account root or one of its roles is not the web identity, nor the reverse.
    by_account = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "sts:AssumeRoleWithWebIdentity",
        }
    )
    web = Request(GITHUB_PROVIDER, "sts:AssumeRoleWithWebIdentity", role, {f"{GITHUB}:sub": "x"})
    assert (
        evaluate(
            web, resource_policy=by_account, resource_account=ACCOUNT, resource_kind="role_trust"
        ).decision
        == IMPLICIT
    )
    assert (
        evaluate_policy(
            trust,
            Request(
                user("Bob"),
                "sts:AssumeRoleWithWebIdentity",
                role,
                {
                    f"{GITHUB}:aud": "sts.amazonaws.com",
                    f"{GITHUB}:sub": "repo:octo-org/octo-repo:ref:refs/heads/octo-branch",
                },
            ),
        ).decision
        == IMPLICIT
    )


@pytest.mark.parametrize(
    "provider", [f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta", "cognito-identity.amazonaws.com"]
)
def test_federated_principals_other_than_oidc_providers_are_not_modelled(provider: str) -> None:
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithSAML",
        }
    )

    with pytest.raises(NotImplementedError, match="only IAM OIDC providers"):
        check_policy(trust, "resource")


def test_a_web_identity_has_no_identity_policies() -> None:
    request = Request(
        GITHUB_PROVIDER, "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{ACCOUNT}:role/R"
    )

    with pytest.raises(ValueError, match="web identity"):
        evaluate(request, identity_policies=[policy(ANY_S3)], resource_account=ACCOUNT)


# --- what the evaluator refuses ----------------------------------------------------------------


ANY_S3 = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, NotImplementedError),
        ({"Effect": "Allow", "Action": "s3:*", "NotResource": "*"}, NotImplementedError),
        (
            {"Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "s3:*"},
            NotImplementedError,
        ),
        ({**ANY_S3, "Condition": {"BinaryEquals": {"k": "QQ=="}}}, NotImplementedError),
        ({**ANY_S3, "Condition": {"StringSortOf": {"k": "v"}}}, ValueError),
        ({**ANY_S3, "Condition": {"ForSomeValues:StringLike": {"k": "v"}}}, ValueError),
        ({**ANY_S3, "Condition": {"NullIfExists": {"k": "true"}}}, ValueError),
        ({**ANY_S3, "Principal": "*"}, ValueError),
        ({**ANY_S3, "Effect": "Permit"}, ValueError),
    ],
)
def test_what_it_does_not_model_raises(statement: dict[str, Any], error: type[Exception]) -> None:
    """Elements and operators outside the model raise instead of passing silently; an identity
    policy cannot carry a Principal ("You cannot use the Principal element in an identity-based
    policy": https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
    """
    request = Request(user("Bob"), "s3:GetObject", "arn:aws:s3:::b/k", {"k": "v"})

    with pytest.raises(error):
        evaluate_policy(policy(statement), request, "identity")


# Which documents of an offline run are IAM policies, and of which type (the Organizations
# backup policy and the StackSet template are not).
IAM_DOCUMENTS: dict[str, PolicyType] = {
    "aws:kms/key:Key": "resource",
    "aws:backup/vaultPolicy:VaultPolicy": "resource",
    "aws:iam/role:Role": "resource",  # the trust policy
    "aws:s3/bucketPolicy:BucketPolicy": "resource",
    "aws:iam/rolePolicy:RolePolicy": "identity",
    "aws:iam/policy:Policy": "identity",
}


def test_every_rendered_document_is_one_the_evaluator_reads_completely(
    any_stack_run: OfflineRun,
) -> None:
    """The flow tests may rely on the evaluator for every policy the example stacks render:
    none holds an element or operator it does not model."""
    checked = []
    for resource, stem, document in any_stack_run.policy_documents():
        if resource.type in IAM_DOCUMENTS:
            check_policy(document, IAM_DOCUMENTS[resource.type])
            checked.append(stem)
    # Resource policies `make plan` does not write out: the event bus and the alert topic.
    for token in (
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
        "aws:sns/topicPolicy:TopicPolicy",
    ):
        for resource in any_stack_run.of_type(token):
            check_policy(json.loads(resource.inputs["policy"]), "resource")
            checked.append(resource.name)

    # Key, vault, bucket, trust and role policies at the least.
    assert len(checked) >= 5, checked


def test_an_aws_wildcard_principal_against_a_service_principal_raises() -> None:
    """AWS JSON policy elements: Principal, "All principals":
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    "Principal": "*" and {"AWS": "*"} are documented as equivalent "For anonymous users" only;
    whether {"AWS": "*"} covers a service principal is left undecided, so the evaluator raises.
    """
    document = policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*"}
    )

    with pytest.raises(NotImplementedError, match="service principal"):
        evaluate_policy(
            document,
            Request("events.amazonaws.com", "sns:Publish", "arn:aws:sns:us-east-1:111122223333:t"),
        )


def test_the_evaluator_imports_the_standard_library_only() -> None:
    """flows.evaluator runs anywhere: no Pulumi (or any other third-party) module is imported."""
    imported = modules_imported_by("import flows.evaluator")
    # What the interpreter loads before any code (site hooks such as setuptools' own).
    at_start = modules_imported_by("pass")

    assert [m for m in imported if m.startswith("pulumi")] == []
    assert set(imported) - set(at_start) - set(sys.stdlib_module_names) == {"flows"}
