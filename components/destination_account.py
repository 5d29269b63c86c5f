"""The destination account: customer managed keys and the central vault(s) receiving copies."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.customer_managed_key import CustomerManagedKey, CustomerManagedKeyArgs
from config import VaultLockConfig
from policies import arns
from policies.backup import vault_access_policy
from policies.statements import PolicyDocument, RoleScope


@dataclass(frozen=True)
class DestinationAccountArgs:
    """What the destination account needs to know about the accounts copying into it."""

    account_id: str
    vault_name: str
    key_alias: str
    # The primary Region first, then the DR Region if any.
    regions: Sequence[str]
    provider: aws.Provider
    # The backup service role, in the accounts that may copy in.
    copiers: RoleScope
    vault_lock: VaultLockConfig | None
    # Region -> the policy of the vault key there; built (and checked against KMS's size
    # limit) by the caller before anything is declared.
    key_policies: Mapping[str, PolicyDocument]


class DestinationAccount(pulumi.ComponentResource):
    """Per Region: a rotating CMK with its alias, the vault on it, its access policy and lock."""

    vault_arns: dict[str, pulumi.Output[str]]
    key_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: DestinationAccountArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:DestinationAccount", name, None, opts)
        self.vault_arns = {}
        self.key_arns = {}
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        for region in args.regions:
            key = CustomerManagedKey(
                f"{name}-{region}",
                CustomerManagedKeyArgs(
                    description=f"Encrypts copies in backup vault {args.vault_name} ({region})",
                    alias=args.key_alias,
                    policy=args.key_policies[region],
                    region=region,
                    provider=args.provider,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            vault = aws.backup.Vault(
                f"{name}-{region}-vault",
                region=region,
                name=args.vault_name,
                kms_key_arn=key.arn,
                # Like its key: the vault holds every copy, and deleting it needs them gone.
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
            )
            aws.backup.VaultPolicy(
                f"{name}-{region}-vault-policy",
                region=region,
                backup_vault_name=vault.name,
                policy=json.dumps(
                    vault_access_policy(
                        arns.backup_vault(region, args.account_id, args.vault_name), args.copiers
                    )
                ),
                opts=child,
            )
            if args.vault_lock is not None:
                lock = args.vault_lock
                aws.backup.VaultLockConfiguration(
                    f"{name}-{region}-vault-lock",
                    region=region,
                    backup_vault_name=vault.name,
                    min_retention_days=lock.min_retention_days,
                    max_retention_days=lock.max_retention_days,
                    changeable_for_days=lock.changeable_for_days,
                    opts=pulumi.ResourceOptions.merge(
                        child,
                        pulumi.ResourceOptions(
                            # Every argument forces replacement (terraform-provider-aws
                            # vault_lock_configuration.go) and a vault has one lock: remove
                            # the old one before putting the new one, never the reverse.
                            delete_before_replace=True,
                            # A compliance lock cannot be removed once its grace period ends;
                            # a change to it must be a deliberate unprotect, not a diff.
                            protect=lock.mode == "compliance",
                        ),
                    ),
                )
            self.vault_arns[region] = vault.arn
            self.key_arns[region] = key.arn
        self.register_outputs({"vault_arns": self.vault_arns, "key_arns": self.key_arns})
