"""How the doctor reaches each account: one boto3 session, explicit credentials per route.

A route is the role the doctor assumes to read an account, possibly from another route's
session (the doctor role in member accounts is assumed from the account the doctor runs in),
or no role at all: the ambient credentials, which must then be in that account. Every client
comes from one boto3 session, so the service models are loaded once however many accounts
there are; clients are created under a lock (a boto3 session is not thread-safe) and then used
from the worker threads (clients are).

Every client refuses, before anything is sent, any operation that is not a Describe, List or
Get (and STS's AssumeRole, which changes nothing in the account): the doctor is read-only by
construction, not by discipline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

READ_VERBS = ("Describe", "List", "Get")
SESSION_NAME = "make-doctor"
# Standard retries back off on throttling (Organizations and IAM have low request rates);
# short timeouts keep an unreachable endpoint from stalling a run.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=16,
)

# (client, account id, Region): lets tests and the benchmark add botocore event handlers to
# every client the doctor makes (fixtures for calls moto lacks, latency).
ClientHook = Callable[[Any, str, str], None]


class MutatingCallError(RuntimeError):
    """The doctor tried an API call that could change something."""


def refuse_mutations(model: Any, **_: Any) -> None:
    """`before-parameter-build` handler: only read operations leave the process."""
    name = model.name
    if name.startswith(READ_VERBS) or (
        model.service_model.service_name == "sts" and name == "AssumeRole"
    ):
        return
    raise MutatingCallError(f"make doctor is read-only; it refused {name}")


@dataclass(frozen=True)
class Route:
    """How to reach one account.

    `role_arn` None: the ambient credentials (which must be in `account_id`). `via`: assume
    `role_arn` from that route's session instead of the ambient one. `source` is the config
    key the role came from, for fixes.
    """

    account_id: str
    role_arn: str | None
    source: str
    via: Route | None = None

    def describe(self) -> str:
        """How the route reads, for messages: `role arn (from <key>)` or ambient credentials."""
        if self.role_arn is None:
            return "ambient credentials"
        chain = f" via {self.via.describe()}" if self.via is not None else ""
        return f"{self.role_arn} ({self.source}){chain}"


class UnreachableError(Exception):
    """An account the doctor cannot read; `fix` says how to let it."""

    def __init__(self, route: Route, fix: str) -> None:
        super().__init__(fix)
        self.route = route
        self.fix = fix


Credentials = dict[str, str]


class Sessions:
    """Credentials per route and clients per (route, service, Region), made once each."""

    def __init__(
        self,
        home_region: str,
        base: boto3.Session | None = None,
        client_hook: ClientHook | None = None,
        config: Config = CLIENT_CONFIG,
    ) -> None:
        self.home_region = home_region
        self.base = base or boto3.Session()
        self.client_hook = client_hook
        self.config = config
        self._lock = threading.Lock()
        self._route_locks: dict[Route, threading.Lock] = {}
        self._credentials: dict[Route, Credentials | None] = {}
        self._failures: dict[Route, UnreachableError] = {}
        self._clients: dict[tuple[Route | None, str, str], Any] = {}
        self._ambient_account: str | None = None

    def _new_client(
        self, service: str, region: str, credentials: Credentials | None, account: str
    ) -> Any:
        keys = {} if credentials is None else credentials
        with self._lock:
            client = self.base.client(service, region_name=region, config=self.config, **keys)
        # Every handler of `before-parameter-build` runs, before any request is built; a
        # `before-call` handler could be pre-empted by a more specific one that answers.
        client.meta.events.register("before-parameter-build", refuse_mutations)
        if self.client_hook is not None:
            self.client_hook(client, account, region)
        return client

    def ambient_account(self) -> str:
        """The account of the ambient credentials (sts:GetCallerIdentity needs no permission)."""
        if self._ambient_account is None:
            sts = self._new_client("sts", self.home_region, None, "")
            self._ambient_account = str(sts.get_caller_identity()["Account"])
        return self._ambient_account

    def credentials(self, route: Route) -> Credentials | None:
        """The route's credentials (None: ambient), assumed once; UnreachableError if not."""
        with self._lock:
            lock = self._route_locks.setdefault(route, threading.Lock())
        with lock:
            if route in self._failures:
                raise self._failures[route]
            if route in self._credentials:
                return self._credentials[route]
            try:
                found = self._resolve(route)
            except UnreachableError as error:
                self._failures[route] = error
                raise
            self._credentials[route] = found
            return found

    def _resolve(self, route: Route) -> Credentials | None:
        if route.role_arn is None:
            try:
                ambient = self.ambient_account()
            except (ClientError, BotoCoreError) as error:
                raise UnreachableError(route, f"no usable ambient credentials ({error})") from None
            if ambient != route.account_id:
                raise UnreachableError(
                    route,
                    f"{route.source} names no previewRoleArn and the ambient credentials are in "
                    f"account {ambient}: set {route.source}.previewRoleArn, or run with "
                    f"credentials of account {route.account_id}",
                )
            return None
        parent = None
        if route.via is not None:
            try:
                parent = self.credentials(route.via)
            except UnreachableError as error:
                # Said once per account it blocks, as that account's own problem.
                raise UnreachableError(
                    route, f"{route.role_arn} is assumed from {route.via.describe()}: {error.fix}"
                ) from None
        sts = self._new_client("sts", self.home_region, parent, route.account_id)
        try:
            answer = sts.assume_role(RoleArn=route.role_arn, RoleSessionName=SESSION_NAME)
        except (ClientError, BotoCoreError) as error:
            who = route.via.describe() if route.via is not None else "the ambient credentials"
            raise UnreachableError(
                route,
                f"cannot assume {route.role_arn} ({route.source}) from {who}: {error}; check "
                "that the role exists and trusts them",
            ) from None
        found = answer["Credentials"]
        return {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }

    def client(self, route: Route, service: str, region: str) -> Any:
        """A client for `service` in `region` with the route's credentials (made once)."""
        credentials = self.credentials(route)
        key = (route, service, region)
        with self._lock:
            cached = self._clients.get(key)
        if cached is not None:
            return cached
        client = self._new_client(service, region, credentials, route.account_id)
        with self._lock:
            return self._clients.setdefault(key, client)


@dataclass(frozen=True)
class Reader:
    """One account as the checks see it: its route, and clients on it."""

    sessions: Sessions
    route: Route

    @property
    def account_id(self) -> str:
        """The account this reader reads."""
        return self.route.account_id

    def client(self, service: str, region: str) -> Any:
        """A client in `region`; raises UnreachableError when the account cannot be reached."""
        return self.sessions.client(self.route, service, region)

    def pages(self, service: str, region: str, operation: str, **params: Any) -> Any:
        """Every page of a paginated operation (List* calls may return empty pages with a token)."""
        return self.client(service, region).get_paginator(operation).paginate(**params)
