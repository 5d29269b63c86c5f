"""The destination section: the central account, its vault(s), Vault Lock and who may copy in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from config.scalars import MAX_VAULT_NAME, Bool, Days, GraceDays, Region, VaultName
from config.section import AccountAccess, Section, default_name

CopyAccess = Literal["accounts", "policyTargets", "organization"]
LockMode = Literal["governance", "compliance"]


class VaultLockConfig(Section):
    """AWS Backup Vault Lock on the destination vault(s)."""

    mode: LockMode = Field(
        description="governance: removable by users with the permission; compliance: "
        "immutable once changeableForDays have passed"
    )
    min_retention_days: Days = Field(description="Shortest retention the vault accepts")
    max_retention_days: Days | None = Field(
        default=None, description="Longest retention the vault accepts"
    )
    changeable_for_days: GraceDays | None = Field(
        default=None,
        description="Compliance mode only (required there): days after which nobody can "
        "remove the lock, at least 3",
    )


class DestinationConfig(AccountAccess):
    """The central account whose vault(s) receive the copies."""

    region: Region = Field(description="Primary Region of the central vault")
    # `None` is replaced by the derived default before validation (validate_default).
    vault_name: VaultName = Field(
        default=None,
        validate_default=True,
        description="Default <project>-<environment>-central; never Default",
    )
    dr_region: Region | None = Field(
        default=None, description="A second vault, key and copy action in this Region"
    )
    allow_copies_from: CopyAccess | None = Field(
        default=None,
        description="Accounts whose backup service role may copy into the central vaults. "
        "accounts: the sourceAccounts (the default in providers mode); policyTargets: every "
        "account under the targeted OUs, and the targeted and source accounts (the default in "
        "stackSets mode; a targeted root needs organization); organization: every account of "
        "the organization, an explicit opt-in (docs/architecture.md, Who may copy in)",
    )
    vault_lock: VaultLockConfig | None = Field(default=None, description="Vault Lock")
    allow_copy_back: Bool = Field(
        default=False,
        description="Let copies go back from the central vault to a source account's vault "
        "(a restore into a source account starts with such a copy)",
    )

    _default_vault_name = field_validator("vault_name", mode="before")(
        default_name("central", MAX_VAULT_NAME)
    )

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary Region, then the DR Region if any."""
        return (self.region,) if self.dr_region is None else (self.region, self.dr_region)

    def copies_from(self, member_deployment: str) -> CopyAccess:
        """`allowCopiesFrom`, or its default: the source accounts in providers mode, the
        policy's targets in stackSets mode (which lists no source accounts)."""
        if self.allow_copies_from is not None:
            return self.allow_copies_from
        return "accounts" if member_deployment == "providers" else "policyTargets"
