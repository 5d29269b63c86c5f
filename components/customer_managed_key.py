"""A customer managed KMS key with rotation on and an alias: what every vault and bucket uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class CustomerManagedKeyArgs:
    """The key's purpose, alias and policy document (plain data from `policies/`)."""

    description: str
    alias: str
    policy: dict[str, Any]
    region: str
    provider: aws.Provider


class CustomerManagedKey(pulumi.ComponentResource):
    """Symmetric key, yearly rotation, 30-day deletion window, protected from `pulumi destroy`."""

    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: CustomerManagedKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:CustomerManagedKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        key = aws.kms.Key(
            f"{name}-key",
            region=args.region,
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(args.policy),
            # Deleting this key makes everything it encrypted unreadable.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )
        aws.kms.Alias(
            f"{name}-alias",
            region=args.region,
            name=args.alias,
            target_key_id=key.key_id,
            opts=child,
        )
        self.arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"arn": self.arn, "key_id": self.key_id})
