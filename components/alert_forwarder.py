"""Forwarding an account's AWS Backup failures (and exporter alarms) to the central bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies.alerts import FailureRule, forwarder_permissions, forwarder_trust_policy


@dataclass(frozen=True)
class AlertForwarderArgs:
    """The rules of one account in each of its Regions, and the bus they send to."""

    regions: Sequence[str]
    rules: Sequence[FailureRule]
    # Regions where an exporter runs, with the rule for its alarms.
    alarm_rule: FailureRule | None
    alarm_regions: Sequence[str]
    name_prefix: str
    role_name: str
    bus_arn: str
    provider: aws.Provider


class AlertForwarder(pulumi.ComponentResource):
    """The account's forwarding role (IAM is global: once) and its rules in each Region."""

    def __init__(
        self, name: str, args: AlertForwarderArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:AlertForwarder", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            assume_role_policy=json.dumps(forwarder_trust_policy()),
            description="Lets EventBridge forward AWS Backup failures to the central bus",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.name,
            policy=json.dumps(forwarder_permissions(args.bus_arn)),
            opts=child,
        )
        for region in args.regions:
            rules = list(args.rules)
            if args.alarm_rule is not None and region in args.alarm_regions:
                rules.append(args.alarm_rule)
            for rule_spec in rules:
                rule = aws.cloudwatch.EventRule(
                    f"{name}-{region}-{rule_spec.name}",
                    region=region,
                    name=f"{args.name_prefix}-{rule_spec.name}",
                    description="Forwards to the central backup alerts bus",
                    event_pattern=json.dumps(rule_spec.pattern),
                    opts=child,
                )
                aws.cloudwatch.EventTarget(
                    f"{name}-{region}-{rule_spec.name}-target",
                    region=region,
                    rule=rule.name,
                    arn=args.bus_arn,
                    role_arn=role.arn,
                    opts=child,
                )
        self.register_outputs({})
