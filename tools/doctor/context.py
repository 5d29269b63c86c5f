"""What one run checks, derived from the stack's configuration: accounts, routes, names.

Accounts the configuration names (management, delegated administrator, destination, sources,
export bucket, monitoring) are read through their `previewRoleArn`, else the ambient
credentials; with `--allow-deploy-role` through their `roleArn` where one is set (the deploy
workflow holds those credentials already). Accounts found only under a targeted root or OU are
read through `organization.doctorRoleName`, assumed from the account the doctor runs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, ParamSpec

from botocore.exceptions import BotoCoreError, ClientError

from config import AccountAccess, StackConfig
from policies import arns
from tools.doctor.access import Reader, Route, Sessions, UnreachableError
from tools.doctor.model import GLOBAL, Finding
from topology import Topology

P = ParamSpec("P")
# Who creates a member account's source vault and service role.
Preparer = Literal["stack", "stackSet", "nobody"]


@dataclass(frozen=True)
class Options:
    """Command-line choices."""

    allow_deploy_role: bool = False
    # Before the first `pulumi up`: what the stack creates is not checked, prerequisites are.
    before_deploy: bool = False
    workers: int = 8


@dataclass(frozen=True)
class Member:
    """An account the backup policy reaches: who prepares it, and where it was found."""

    account_id: str
    preparer: Preparer
    # The policy target it was found under; "" for an account the configuration lists.
    target: str = ""


def _named_accesses(config: StackConfig) -> Iterator[tuple[str, AccountAccess]]:
    organization = config.organization
    yield "organization.managementAccount", organization.management_account
    if organization.delegated_administrator is not None:
        yield "organization.delegatedAdministrator", organization.delegated_administrator
    yield "destination", config.destination
    for index, source in enumerate(config.source_accounts):
        yield f"sourceAccounts[{index}]", source
    if config.dynamodb_export is not None:
        yield "dynamodbExport.bucket", config.dynamodb_export.bucket
    monitoring = config.monitoring_access
    if monitoring is not None:
        yield "monitoring", monitoring


def access_route(path: str, access: AccountAccess, allow_deploy_role: bool) -> Route:
    """The route to an account the configuration names, from its access's roles."""
    if allow_deploy_role and access.role_arn is not None:
        return Route(access.account_id, access.role_arn, f"{path}.roleArn")
    if access.preview_role_arn is not None:
        return Route(access.account_id, access.preview_role_arn, f"{path}.previewRoleArn")
    return Route(access.account_id, None, path)


@dataclass
class Context:
    """One run: the configuration, how to reach each account, and the options."""

    stack: str
    config: StackConfig
    sessions: Sessions
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        self.named: dict[str, Route] = {}
        for path, access in _named_accesses(self.config):
            route = access_route(path, access, self.options.allow_deploy_role)
            # One provider per account (stack_config): the first section naming it is enough.
            self.named.setdefault(access.account_id, route)
        self.topology = Topology(self.config)
        self.prepared = set(self.topology.prepared_account_ids)

    @property
    def redeploy(self) -> str:
        """The command that brings what the stack manages back to its configuration."""
        return f"pulumi up -s {self.stack}"

    @property
    def statements_file(self) -> str:
        """Where `make plan` writes the statements workload keys need."""
        return f"build/{self.stack}/workload-key-policy.json (make plan STACK={self.stack})"

    def management(self) -> Reader:
        """The management account, where Organizations and the global settings are read."""
        account_id = self.config.organization.management_account.account_id
        return Reader(self.sessions, self.named[account_id])

    def reader(self, account_id: str) -> Reader | None:
        """How to read an account; None when it is not named and there is no doctor role."""
        route = self.named.get(account_id)
        if route is not None:
            return Reader(self.sessions, route)
        role_name = self.config.organization.doctor_role_name
        if role_name is None:
            return None
        home = self.named[self.topology.administering_account.account_id]
        role_arn = arns.iam_role(account_id, role_name)
        route = Route(account_id, role_arn, "organization.doctorRoleName", via=home)
        return Reader(self.sessions, route)

    def preparer(self, account_id: str) -> Preparer:
        """Who creates the account's source vault and service role."""
        if account_id in self.prepared:
            return "stack"
        if self.config.organization.member_deployment == "stackSets":
            return "stackSet"
        return "nobody"

    def creates(self, preparer: Preparer) -> bool:
        """Whether a missing resource is expected because this run is before the first deploy."""
        return self.options.before_deploy and preparer != "nobody"


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call (`NoSuchEntity`, `AccessDenied`, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_error(error: Exception) -> str:
    """An AWS error as one line: its code and message (AccessDenied names the action)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')} on {error.operation_name}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


def unreachable(error: UnreachableError) -> Finding:
    """The one finding of an account the doctor cannot read: unknown, with how to let it."""
    route = error.route
    return Finding("access", "unknown", route.account_id, GLOBAL, route.describe(), error.fix)


def reach(ctx: Context, reader: Reader) -> list[Finding]:
    """[] when the account can be read (its credentials obtained), else its `access` finding."""
    try:
        ctx.sessions.credentials(reader.route)
    except UnreachableError as error:
        return [unreachable(error)]
    return []


def guarded(
    check: str,
    account: str,
    region: str,
    resource: str,
    run: Callable[P, list[Finding]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> list[Finding]:
    """`run(*args)`'s findings; an account it cannot reach, or a call it may not make, is unknown.

    Checks raise on unexpected answers rather than guess; one check's unknown never hides the
    others of the same account.
    """
    try:
        return run(*args, **kwargs)
    except UnreachableError as error:
        return [unreachable(error)]
    except (ClientError, BotoCoreError) as error:
        return [
            Finding(
                check,
                "unknown",
                account,
                region,
                resource,
                f"{describe_error(error)}; the doctor needs read access here (docs/operations.md#make-doctor)",
            )
        ]
