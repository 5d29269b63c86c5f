"""One explicit AWS provider per account: every resource names its provider and its Region.

pulumi-aws 7 resources take `region=` themselves (pulumi/pulumi-aws#5226), so one provider
serves every Region of an account. Each provider is a plugin process of its own, 300-430 MB
(pulumi/pulumi-aws#5860): one per account instead of one per account and Region keeps a
preview of many accounts and Regions small.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from config import AccountAccess


def provider_name(account_id: str) -> str:
    """`aws-<account>`: the provider's logical name, whatever role it assumes."""
    return f"aws-{account_id}"


def role_for_this_run(access: AccountAccess, previewing: bool) -> str | None:
    """The role to assume: the read-only preview role during `pulumi preview`, if any."""
    if previewing and access.preview_role_arn is not None:
        return access.preview_role_arn
    return access.role_arn


class ProviderRegistry:
    """Creates each account's provider once and hands the same one to every user of it."""

    def __init__(self, name_prefix: str, tags: Mapping[str, str]) -> None:
        self._session_name = name_prefix[:64]
        self._tags = dict(tags)
        self._providers: dict[str, aws.Provider] = {}

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
        # The role is an input, never part of the name: a preview (preview role) and an update
        # (deploy role) address the same provider, which only shows an input change.
        role_arn = role_for_this_run(access, pulumi.runtime.is_dry_run())
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
