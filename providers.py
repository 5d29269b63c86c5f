"""One explicit AWS provider per account: every resource names its provider and its Region.

pulumi-aws 7 resources take `region=` themselves (pulumi/pulumi-aws#5226), so one provider
serves every Region of an account. Each provider is a plugin process of its own, 300-430 MB
(pulumi/pulumi-aws#5860): one per account instead of one per account and Region keeps a
preview of many accounts and Regions small.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from config import AccountAccess

# Set to `true` by the pull-request workflow only (docs/pipeline.md): its `pulumi preview` then
# assumes each account's read-only `previewRoleArn`. Every other run (a human's `pulumi up` and
# its preview phase, `pulumi preview --expect-no-changes`, `pulumi refresh`) assumes `roleArn`,
# so its plan shows no provider input change against the state the deploys wrote.
PREVIEW_ROLES_VARIABLE = "BACKUP_COPY_USE_PREVIEW_ROLES"
_SWITCH_VALUES = {"true": True, "false": False, "": False}


class PreviewSwitchError(pulumi.RunError):
    """A bad BACKUP_COPY_USE_PREVIEW_ROLES; a RunError, so the CLI prints only the message."""


def provider_name(account_id: str) -> str:
    """`aws-<account>`: the provider's logical name, whatever role it assumes."""
    return f"aws-{account_id}"


def use_preview_roles(environ: Mapping[str, str], previewing: bool) -> bool:
    """Whether providers assume the preview roles: only when the pull-request workflow says so.

    `pulumi.runtime.is_dry_run()` alone is not the switch: it is also true during the preview
    phase of `pulumi up` and for drift checks, which must see the deploy roles the state holds.
    Raises PreviewSwitchError for a value other than true/false, and for `true` outside a
    preview (a preview role cannot deploy).
    """
    raw = environ.get(PREVIEW_ROLES_VARIABLE, "")
    value = _SWITCH_VALUES.get(raw.strip().lower())
    if value is None:
        raise PreviewSwitchError(
            f"{PREVIEW_ROLES_VARIABLE}={raw!r}: use true (pull-request previews, read-only "
            "preview roles) or false / unset (the deploy roles)"
        )
    if value and not previewing:
        raise PreviewSwitchError(
            f"{PREVIEW_ROLES_VARIABLE}=true is for `pulumi preview` only: the preview roles "
            "cannot deploy; unset it for `pulumi up`, `pulumi refresh` and `pulumi destroy`"
        )
    return value


def role_for_this_run(access: AccountAccess, preview_roles: bool) -> str | None:
    """The role to assume: the read-only preview role when the switch is on and one is set."""
    if preview_roles and access.preview_role_arn is not None:
        return access.preview_role_arn
    return access.role_arn


class ProviderRegistry:
    """Creates each account's provider once and hands the same one to every user of it."""

    def __init__(
        self,
        name_prefix: str,
        tags: Mapping[str, str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._session_name = name_prefix[:64]
        self._tags = dict(tags)
        self._providers: dict[str, aws.Provider] = {}
        # Read once, before any resource is declared: a bad value stops the run up front.
        self._preview_roles = use_preview_roles(
            os.environ if environ is None else environ, pulumi.runtime.is_dry_run()
        )

    def get(self, access: AccountAccess, home_region: str) -> aws.Provider:
        """The provider acting in `access.account_id`.

        `home_region` is the provider's default Region, used by global services (IAM,
        Organizations) and by the first caller's resources; every regional resource passes its
        own `region=`. The config validator ensures one role (and preview role) per account.
        """
        provider = self._providers.get(access.account_id)
        if provider is None:
            provider = self._create(access, home_region)
            self._providers[access.account_id] = provider
        return provider

    def _create(self, access: AccountAccess, home_region: str) -> aws.Provider:
        # The role is an input, never part of the name: a pull-request preview (preview role)
        # and an update (deploy role) address the same provider, which only shows an input
        # change; every other run uses the deploy role and shows none.
        role_arn = role_for_this_run(access, self._preview_roles)
        assume_roles = None
        if role_arn is not None:
            # A typed ProviderAssumeRoleArgs: a plain dict with `role_arn` is silently dropped
            # by the provider (pulumi/pulumi-aws#5271) and the deploy would run as the caller.
            assume_roles = [
                aws.ProviderAssumeRoleArgs(role_arn=role_arn, session_name=self._session_name)
            ]
        return aws.Provider(
            provider_name(access.account_id),
            region=home_region,
            # Refuses to act if the credentials resolve to any other account.
            allowed_account_ids=[access.account_id],
            assume_roles=assume_roles,
            default_tags=aws.ProviderDefaultTagsArgs(tags=self._tags),
        )
