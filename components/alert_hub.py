"""Where alerts gather: one event bus in the monitoring account, a rule, a topic, emails."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.customer_managed_key import CustomerManagedKey, CustomerManagedKeyArgs
from policies.alerts import ROUTES, input_template, topic_key_policy, topic_policy
from policies.statements import PolicyDocument


@dataclass(frozen=True)
class AlertHubArgs:
    """The bus (and its policy, built by the caller), the topic and who gets the emails."""

    account_id: str
    region: str
    name: str
    bus_policy: PolicyDocument
    key_alias: str
    emails: Sequence[str]
    provider: aws.Provider


class AlertHub(pulumi.ComponentResource):
    """Bus admitting the member accounts, a rule per route publishing a readable message to a
    topic encrypted with its own key, and an email subscription per address."""

    bus_arn: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertHubArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:AlertHub", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        bus = aws.cloudwatch.EventBus(f"{name}-bus", region=args.region, name=args.name, opts=child)
        aws.cloudwatch.EventBusPolicy(
            f"{name}-bus-policy",
            region=args.region,
            event_bus_name=bus.name,
            policy=json.dumps(args.bus_policy),
            opts=child,
        )
        key = CustomerManagedKey(
            f"{name}-topic",
            CustomerManagedKeyArgs(
                description=f"Encrypts the alerts of topic {args.name}",
                alias=args.key_alias,
                policy=topic_key_policy(args.account_id),
                region=args.region,
                provider=args.provider,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            region=args.region,
            name=args.name,
            kms_master_key_id=key.arn,
            opts=child,
        )
        for route in ROUTES:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{route.name}",
                region=args.region,
                name=f"{args.name}-{route.name}",
                description=f"Publishes {route.name} forwarded by the member accounts",
                event_bus_name=bus.name,
                event_pattern=json.dumps(route.pattern),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{route.name}-target",
                region=args.region,
                rule=rule.name,
                event_bus_name=bus.name,
                arn=topic.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=dict(route.paths), input_template=input_template(route)
                ),
                opts=child,
            )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            region=args.region,
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: json.dumps(topic_policy(arn, args.account_id))),
            opts=child,
        )
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                region=args.region,
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.bus_arn = bus.arn
        self.topic_arn = topic.arn
        self.register_outputs({"bus_arn": self.bus_arn, "topic_arn": self.topic_arn})
