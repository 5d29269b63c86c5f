"""The organization side: cross-account backup switched on, the backup policy and its targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    provider: aws.Provider
    # Set in the one stack that owns the organization's AWS Backup global settings: every
    # setting UpdateGlobalSettings knows, as strings. None: another stack owns them.
    global_settings: Mapping[str, str] | None = None


class OrganizationBackupPolicy(pulumi.ComponentResource):
    """Runs in the management account, the only account where these calls succeed."""

    policy_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: OrganizationBackupPolicyArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("backup:index:OrganizationBackupPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        settings: list[pulumi.Resource] = []
        if args.global_settings is not None:
            settings.append(
                aws.backup.GlobalSettings(
                    f"{name}-global-settings",
                    global_settings=dict(args.global_settings),
                    # Its name before it covered every setting: renamed in place, not replaced.
                    opts=pulumi.ResourceOptions.merge(
                        child,
                        pulumi.ResourceOptions(
                            aliases=[pulumi.Alias(name=f"{name}-cross-account-backup")]
                        ),
                    ),
                )
            )
        policy = aws.organizations.Policy(
            f"{name}-policy",
            name=args.policy_name,
            description=args.description,
            type="BACKUP_POLICY",
            content=args.content,
            # Copy jobs fail until cross-account backup is on: enable it first.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=settings)),
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
