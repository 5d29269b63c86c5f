"""One explicit AWS provider per (account, Region, role): every resource names its provider."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from stack_config import AccountAccess


class ProviderRegistry:
    """Creates each account/Region provider once and hands the same one to every user of it."""

    def __init__(self, name_prefix: str, tags: Mapping[str, str]) -> None:
        self._session_name = name_prefix[:64]
        self._tags = dict(tags)
        self._providers: dict[tuple[str, str, str | None], aws.Provider] = {}

    def get(self, access: AccountAccess, region: str) -> aws.Provider:
        """The provider acting in `access.account_id` and `region`, assuming `access.role_arn`."""
        key = (access.account_id, region, access.role_arn)
        provider = self._providers.get(key)
        if provider is None:
            provider = self._create(access, region, suffix=len(self._providers))
            self._providers[key] = provider
        return provider

    def _create(self, access: AccountAccess, region: str, suffix: int) -> aws.Provider:
        name = f"aws-{access.account_id}-{region}"
        if any(key[:2] == (access.account_id, region) for key in self._providers):
            # Same account and Region reached through a second role: keep names unique.
            name = f"{name}-{suffix}"
        assume_roles = None
        if access.role_arn is not None:
            # A typed ProviderAssumeRoleArgs: a plain dict with `role_arn` is silently dropped
            # by the provider (pulumi/pulumi-aws#5271) and the deploy would run as the caller.
            assume_roles = [
                aws.ProviderAssumeRoleArgs(
                    role_arn=access.role_arn,
                    session_name=self._session_name,
                )
            ]
        return aws.Provider(
            name,
            region=region,
            # Refuses to act if the credentials resolve to any other account.
            allowed_account_ids=[access.account_id],
            assume_roles=assume_roles,
            default_tags=aws.ProviderDefaultTagsArgs(tags=self._tags),
            opts=pulumi.ResourceOptions(),
        )
