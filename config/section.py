"""What every section of the stack configuration shares: strict objects, and account access."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from config.errors import problem as _problem
from config.scalars import ROLE_ARN, AccountId, RoleArn

# --- models -----------------------------------------------------------------------------------


def _drop_nulls(value: Any) -> Any:
    # A YAML key with no value (`key:` or `key: ~`) means "not set": its default applies.
    if isinstance(value, Mapping):
        return {key: item for key, item in value.items() if item is not None}
    return value


class Section(BaseModel):
    """A config object: camelCase keys, unknown keys refused, immutable once parsed."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _unset_nulls(cls, value: Any) -> Any:
        return _drop_nulls(value)


class AccountAccess(Section):
    """How to reach one AWS account: its id pins the provider, the role (if any) is assumed."""

    account_id: AccountId = Field(description="12-digit AWS account id, in quotes")
    role_arn: RoleArn | None = Field(
        default=None,
        description="IAM role `pulumi up` assumes in this account (it must be in that "
        "account); unset: ambient credentials",
    )
    preview_role_arn: RoleArn | None = Field(
        default=None,
        description="Read-only IAM role `pulumi preview` assumes in this account instead of "
        "roleArn; unset: roleArn",
    )

    @field_validator("role_arn", "preview_role_arn")
    @classmethod
    def _role_in_account(cls, role_arn: str | None, info: ValidationInfo) -> str | None:
        account_id = info.data.get("account_id")
        match = ROLE_ARN.fullmatch(role_arn or "")
        if match is not None and account_id is not None and match["account"] != account_id:
            raise _problem(f"is in account {match['account']} but accountId is {account_id}")
        return role_arn

    @property
    def account(self) -> AccountAccess:
        """The account id and roles, without the rest of the section."""
        return AccountAccess(
            account_id=self.account_id,
            role_arn=self.role_arn,
            preview_role_arn=self.preview_role_arn,
        )


def default_name(suffix: str, limit: int) -> Callable[[Any, ValidationInfo], Any]:
    """A `before` validator that fills an unset name with `<prefix>-<suffix>`."""

    def fill(value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            return value
        prefix = (info.context or {}).get("prefix", "")
        name = f"{prefix}-{suffix}"
        if len(name) > limit:
            raise _problem(
                f"the default name {name!r} (<project>-<environment>-{suffix}) is longer than "
                f"{limit} characters: set it explicitly or shorten the environment"
            )
        return name

    return fill
