"""The AWS Backup service role that the org backup policy names in every member account."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies import arns
from policies.iam import service_trust_policy


@dataclass(frozen=True)
class BackupServiceRoleArgs:
    """The role's name and IAM path, the AWS managed policies (names with path) it gets, and
    what it is for (its IAM description)."""

    role_name: str
    role_path: str
    managed_policies: Sequence[str]
    provider: aws.Provider
    description: str = "Used by AWS Backup plans deployed by the organization backup policy"


class BackupServiceRole(pulumi.ComponentResource):
    """A role trusting `backup.amazonaws.com` with AWS's managed backup and restore policies."""

    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BackupServiceRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:BackupServiceRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            path=args.role_path,
            assume_role_policy=json.dumps(service_trust_policy("backup")),
            description=args.description,
            opts=child,
        )
        for policy in args.managed_policies:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy.rpartition('/')[2]}",
                role=role.name,
                policy_arn=arns.aws_managed_policy(policy),
                opts=child,
            )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
