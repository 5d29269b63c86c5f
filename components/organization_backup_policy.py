"""The organization's backup policy and where it is attached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class OrganizationBackupPolicyArgs:
    """The rendered BACKUP_POLICY document and where to attach it."""

    policy_name: str
    description: str
    content: str
    targets: Sequence[str]
    # The management account's, or the delegated administrator's once it is registered and
    # the organization's resource policy lets it manage BACKUP_POLICY.
    provider: aws.Provider


class OrganizationBackupPolicy(pulumi.ComponentResource):
    """The BACKUP_POLICY and one attachment per root, OU or account it targets."""

    policy_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: OrganizationBackupPolicyArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("backup:index:OrganizationBackupPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        policy = aws.organizations.Policy(
            f"{name}-policy",
            name=args.policy_name,
            description=args.description,
            type="BACKUP_POLICY",
            content=args.content,
            opts=child,
        )
        for target in args.targets:
            aws.organizations.PolicyAttachment(
                f"{name}-{target}",
                policy_id=policy.id,
                target_id=target,
                opts=child,
            )
        self.policy_id = policy.id
        self.register_outputs({"policy_id": self.policy_id})
