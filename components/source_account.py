"""A source account in one Region: the CMK and vault that the org backup policy backs up into."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.customer_managed_key import CustomerManagedKey, CustomerManagedKeyArgs
from config import RegionSettingsConfig
from policies import arns
from policies.backup import copy_back_vault_policy
from policies.kms import source_key_policy


@dataclass(frozen=True)
class SourceAccountArgs:
    """One source account and Region, and the destination account it copies to."""

    account_id: str
    region: str
    vault_name: str
    key_alias: str
    destination_account_id: str
    provider: aws.Provider
    # Set: this stack owns the account's AWS Backup Region settings here; None: it leaves
    # them alone (they are account-wide and may belong to someone else).
    region_settings: RegionSettingsConfig | None = None
    # Let this role of the destination account copy recovery points back into this vault.
    copy_back_role_arn: str | None = None


class SourceAccount(pulumi.ComponentResource):
    """The source vault, on a rotating CMK the destination account may read copies with.

    The org policy cannot use the `Default` vault: its AWS managed key cannot be shared.
    With Region settings given, also the account's one `aws.backup.RegionSettings` here; with
    copy back allowed, the vault's access policy admitting the destination account's copies.
    """

    vault_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SourceAccountArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:SourceAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        key = CustomerManagedKey(
            name,
            CustomerManagedKeyArgs(
                description=f"Encrypts backups in vault {args.vault_name} ({args.region})",
                alias=args.key_alias,
                policy=source_key_policy(args.account_id, args.destination_account_id),
                region=args.region,
                provider=args.provider,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        vault = aws.backup.Vault(
            f"{name}-vault",
            region=args.region,
            name=args.vault_name,
            kms_key_arn=key.arn,
            # Deleting the vault would need every recovery point in it deleted first.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )
        if args.copy_back_role_arn is not None:
            aws.backup.VaultPolicy(
                f"{name}-vault-policy",
                region=args.region,
                backup_vault_name=vault.name,
                policy=json.dumps(
                    copy_back_vault_policy(
                        arns.backup_vault(args.region, args.account_id, args.vault_name),
                        args.destination_account_id,
                        args.copy_back_role_arn,
                    )
                ),
                opts=child,
            )
        if args.region_settings is not None:
            aws.backup.RegionSettings(
                f"{name}-region-settings",
                region=args.region,
                resource_type_opt_in_preference=args.region_settings.opt_in_map,
                resource_type_management_preference=args.region_settings.full_management_map,
                opts=child,
            )
        self.vault_arn = vault.arn
        self.key_arn = key.arn
        self.register_outputs({"vault_arn": self.vault_arn, "key_arn": self.key_arn})
