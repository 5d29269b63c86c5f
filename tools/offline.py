"""Runs the Pulumi program in-process under recording mocks: no cloud, no Pulumi CLI.

The mocks answer like AWS would where it matters for review: each resource gets ARNs in
the account and Region of the provider it was declared with, so rendered documents read
like the real ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import runpy
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from config.loader import ROOT, project_name, read_stack

PROVIDER_TYPE = "pulumi:providers:aws"

# Resource type -> the input that holds a JSON policy document, and the file suffix it gets.
POLICY_PROPERTIES: dict[str, tuple[str, str]] = {
    "aws:kms/key:Key": ("policy", "policy"),
    "aws:backup/vaultPolicy:VaultPolicy": ("policy", "policy"),
    "aws:organizations/policy:Policy": ("content", "policy"),
    "aws:iam/role:Role": ("assumeRolePolicy", "trust-policy"),
    "aws:iam/rolePolicy:RolePolicy": ("policy", "policy"),
    "aws:iam/policy:Policy": ("policy", "policy"),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", "policy"),
    "aws:cloudformation/stackSet:StackSet": ("templateBody", "template"),
}
# Documents with a name of their own rather than `<resource>-<suffix>`.
DOCUMENT_STEMS = {"aws:cloudformation/stackSet:StackSet": "member-template"}


@dataclass(frozen=True)
class ProviderInfo:
    """What a mocked AWS provider was configured with."""

    account_id: str
    region: str
    inputs: Mapping[str, Any]


@dataclass
class RecordedResource:
    """One registered resource: its inputs, the provider it uses and its parent component."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent_urn: str | None
    provider_ref: str | None
    account_id: str | None = None
    region: str | None = None
    # Resource options the engine would act on: a protected resource cannot be deleted or
    # replaced without an explicit unprotect; delete-before-replace orders a replacement.
    protect: bool = False
    delete_before_replace: bool = False
    # Kept in the cloud when removed from the program or the stack is destroyed.
    retain_on_delete: bool = False
    # `pulumi import` of an existing resource instead of creating it (the `import_` option).
    import_id: str | None = None
    ignore_changes: tuple[str, ...] = ()
    # URNs this resource waits for (`depends_on`, as the engine receives them).
    dependencies: tuple[str, ...] = ()

    @property
    def parent_name(self) -> str:
        """Logical name of the parent resource (the component), or '' for top-level ones."""
        if not self.parent_urn or "::pulumi:pulumi:Stack::" in self.parent_urn:
            return ""
        return self.parent_urn.split("::")[-1]


@dataclass
class OfflineRun:
    """Everything one offline run of the program registered and exported."""

    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, ProviderInfo] = field(default_factory=dict)
    # What the program logged as warnings (`pulumi.log.warn`), for the tools to print.
    warnings: list[str] = field(default_factory=list)

    def provider_of(self, resource: RecordedResource) -> ProviderInfo | None:
        """The mocked provider a resource was declared with; None for a default provider."""
        return _lookup_provider(self.providers, resource.provider_ref)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """Resources of one type, in registration order."""
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> RecordedResource:
        """The resource with this logical name (names are unique in this program)."""
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def policy_documents(self) -> list[tuple[RecordedResource, str, Any]]:
        """(resource, file stem, decoded document) for every policy document the program sends."""
        found = []
        for resource in self.resources:
            spec = POLICY_PROPERTIES.get(resource.type)
            if spec is None or spec[0] not in resource.inputs:
                continue
            prop, suffix = spec
            stem = DOCUMENT_STEMS.get(resource.type) or (
                resource.name
                if resource.name.endswith(f"-{suffix}")
                else f"{resource.name}-{suffix}"
            )
            value = resource.inputs[prop]
            found.append((resource, stem, json.loads(value) if isinstance(value, str) else value))
        return found

    def documents(self) -> dict[str, Any]:
        """Every policy document, keyed by a readable file stem."""
        return {stem: document for _, stem, document in self.policy_documents()}


def _lookup_provider(
    providers: Mapping[str, ProviderInfo], provider_ref: str | None
) -> ProviderInfo | None:
    # A provider reference is `<provider urn>::<provider id>`; the mocks key providers by id.
    return providers.get(provider_ref.rsplit("::", 1)[-1]) if provider_ref else None


def _fake_id(urn: str, length: int = 8) -> str:
    return hashlib.sha256(urn.encode()).hexdigest()[:length]


def _provider_from_inputs(inputs: Mapping[str, Any]) -> ProviderInfo:
    # Provider configuration reaches the engine JSON-encoded where it is not a plain string.
    allowed = inputs.get("allowedAccountIds", "[]")
    allowed_ids = json.loads(allowed) if isinstance(allowed, str) else list(allowed)
    account_id = allowed_ids[0] if allowed_ids else "000000000000"
    return ProviderInfo(account_id=account_id, region=str(inputs.get("region", "")), inputs=inputs)


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers resource registrations with plausible AWS ids and ARNs."""

    def __init__(self) -> None:
        self.providers: dict[str, ProviderInfo] = {}
        self._lock = threading.Lock()

    def provider_of(self, provider_ref: str | None) -> ProviderInfo | None:
        """The provider a `urn::id` reference points at, if it is one of ours."""
        return _lookup_provider(self.providers, provider_ref)

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        """Invent an id and the computed outputs (ARNs) AWS would return."""
        inputs = dict(args.inputs)
        if args.typ == PROVIDER_TYPE:
            provider_id = f"provider-{args.name}"
            with self._lock:
                self.providers[provider_id] = _provider_from_inputs(inputs)
            return provider_id, inputs
        provider = self.provider_of(args.provider)
        account = provider.account_id if provider else "000000000000"
        # pulumi-aws 7: a resource's own `region` input wins over its provider's default.
        region = str(inputs.get("region") or (provider.region if provider else "us-east-1"))
        resource_id, outputs = _computed_outputs(args.typ, args.name, inputs, account, region)
        return resource_id, {**inputs, **outputs}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """The program makes no invokes; any invoke is a bug worth seeing."""
        raise NotImplementedError(f"unexpected invoke {args.token}: the program must not call out")


# Resources whose id is one of their inputs and whose ARN is built from it.
NAMED_ARNS: dict[str, tuple[str, str]] = {
    "aws:kms/alias:Alias": ("name", "arn:aws:kms:{region}:{account}:{value}"),
    "aws:backup/vault:Vault": ("name", "arn:aws:backup:{region}:{account}:backup-vault:{value}"),
    "aws:s3/bucket:Bucket": ("bucket", "arn:aws:s3:::{value}"),
    "aws:lambda/function:Function": ("name", "arn:aws:lambda:{region}:{account}:function:{value}"),
    "aws:cloudwatch/logGroup:LogGroup": (
        "name",
        "arn:aws:logs:{region}:{account}:log-group:{value}",
    ),
    "aws:cloudwatch/eventRule:EventRule": (
        "name",
        "arn:aws:events:{region}:{account}:rule/{value}",
    ),
    "aws:dynamodb/table:Table": ("name", "arn:aws:dynamodb:{region}:{account}:table/{value}"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": (
        "name",
        "arn:aws:scheduler:{region}:{account}:schedule-group/{value}",
    ),
}


def _computed_outputs(
    type_token: str, name: str, inputs: Mapping[str, Any], account: str, region: str
) -> tuple[str, dict[str, Any]]:
    """The id and outputs AWS computes for the resource types this program declares."""
    unique = _fake_id(f"{type_token}/{account}/{region}/{name}", 32)
    service = type_token.split(":")[1].split("/")[0]
    if type_token == "aws:kms/key:Key":
        key_id = f"{unique[:8]}-{unique[8:12]}-{unique[12:16]}-{unique[16:20]}-{unique[20:32]}"
        return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
    named = NAMED_ARNS.get(type_token)
    if named is not None:
        name_input, template = named
        value = str(inputs.get(name_input, name))
        return value, {
            "arn": template.format(region=region, account=account, value=value),
            name_input: value,
        }
    if type_token == "aws:iam/role:Role":
        role = str(inputs.get("name", name))
        path = str(inputs.get("path", "/"))
        return role, {
            "arn": f"arn:aws:iam::{account}:role{path}{role}",
            "uniqueId": f"AROA{unique[:17].upper()}",
        }
    if type_token == "aws:organizations/policy:Policy":
        policy_id = f"p-{unique[:8]}"
        return policy_id, {
            "arn": f"arn:aws:organizations::{account}:policy/o-mock/backup_policy/{policy_id}"
        }
    return f"{name}-{unique[:8]}", {"arn": f"arn:aws:{service}:{region}:{account}:{name}"}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also remembers each registration's parent and provider."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.recorded: list[RecordedResource] = []
        self._record_lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """Register as the stock mock monitor does, and record the request."""
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
            with self._record_lock:
                self.recorded.append(
                    RecordedResource(
                        urn=response.urn,
                        type=request.type,
                        name=request.name,
                        inputs=dict(inputs),
                        custom=bool(request.custom),
                        parent_urn=request.parent or None,
                        provider_ref=request.provider or None,
                        protect=bool(request.protect),
                        delete_before_replace=bool(request.deleteBeforeReplace),
                        retain_on_delete=bool(request.retainOnDelete),
                        import_id=request.importId or None,
                        ignore_changes=tuple(request.ignoreChanges),
                        dependencies=tuple(request.dependencies),
                    )
                )
        return response


class WarningLog(logging.Logger):
    """The mock engine's log: warnings are kept (the tools print them with the stack's name),
    nothing reaches stderr on its own, and errors still do."""

    def __init__(self, stack: str) -> None:
        super().__init__(f"pulumi.offline.{stack}", logging.WARNING)
        self.messages: list[str] = []

    def handle(self, record: logging.LogRecord) -> None:
        """Keep a warning; pass anything worse on to stderr."""
        if record.levelno == logging.WARNING:
            self.messages.append(record.getMessage())
        else:
            print(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    return _sync_await(output.future())


def run_program(
    stack: str,
    config: Mapping[str, str] | None = None,
    root: Path = ROOT,
    *,
    preview: bool = False,
) -> OfflineRun:
    """Run `__main__.py` for `stack` under mocks and return what it registered and exported.

    The stack's config is `read_stack`'s: the stack file as Pulumi reads it, ESC imports
    resolved by the Pulumi CLI where it is installed, secrets left out. `config` replaces it
    when given (for tests of bad input); `preview` runs the program as `pulumi preview` would
    (`pulumi.runtime.is_dry_run()` is true). Providers assume the preview roles only when
    BACKUP_COPY_USE_PREVIEW_ROLES=true is in the environment, as in the pull-request workflow
    (providers.py).
    """
    if config is None:
        source = read_stack(stack, root)
        project, stack_config = source.project, source.encoded
    else:
        project, stack_config = project_name(root), dict(config)
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    warnings = WarningLog(stack)
    # A fresh root stack for every run, so that outputs of one run never leak into the next.
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=warnings
    )
    pulumi.runtime.set_all_config(stack_config)

    def program() -> None:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    root_stack = pulumi.runtime.get_root_resource()
    run = OfflineRun(stack=stack, providers=dict(mocks.providers), warnings=warnings.messages)
    exported = getattr(root_stack, "outputs", {})
    run.outputs = {name: _resolve(value) for name, value in exported.items()}
    for resource in monitor.recorded:
        provider = run.provider_of(resource)
        if provider is not None:
            resource.account_id = provider.account_id
            resource.region = str(resource.inputs.get("region") or provider.region)
        elif resource.type == PROVIDER_TYPE:
            info = _provider_from_inputs(resource.inputs)
            resource.account_id, resource.region = info.account_id, info.region
        run.resources.append(resource)
    return run
