"""Each moto world is built once per session and the doctor run on it while moto is live; the
tests then read the reports, so the whole doctor suite builds four organizations."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from moto import mock_aws

from config import parse_stack_config
from config.backup_plan import REGION_SETTINGS_MANAGEMENT_TYPES, REGION_SETTINGS_OPT_IN_TYPES
from tests.doctor.world import ORG_REGION, PROJECT, STACK, Mode, World, build
from tools.doctor import __main__ as cli
from tools.doctor import run as doctor_run
from tools.doctor.access import ClientHook, Sessions
from tools.doctor.context import Context, Options
from tools.doctor.model import Finding
from tools.doctor.run import Report, run_doctor

DEFAULT = Options()


@dataclass
class Recorder:
    """Every operation the doctor's clients called, and every role it assumed."""

    calls: set[tuple[str, str]] = field(default_factory=set)
    roles: list[str] = field(default_factory=list)

    def hook(self, world: World) -> Any:
        """A `Sessions` client hook: record, then let the fakes answer what moto lacks."""

        def install(client: Any, account: str, region: str) -> None:
            service = client.meta.service_model.service_name

            def record(model: Any, **_: Any) -> None:
                self.calls.add((service, model.name))

            def assumed(params: dict[str, Any], **_: Any) -> None:
                self.roles.append(params["RoleArn"])

            client.meta.events.register("before-parameter-build", record)
            client.meta.events.register("before-parameter-build.sts.AssumeRole", assumed)
            world.gaps.install(client, account, region)

        return install


@dataclass
class Outcome:
    """A world, the doctor's report on it, and what the doctor called."""

    world: World
    report: Report
    recorder: Recorder
    variants: dict[str, Report] = field(default_factory=dict)
    cli: tuple[int, str, str] = (0, "", "")
    progress: str = ""

    def of(
        self, check: str, account: str | None = None, report: Report | None = None
    ) -> list[Finding]:
        """The findings of one check (in one account)."""
        findings = (report or self.report).findings
        return [f for f in findings if f.check == check and account in (None, f.account)]


def moto_sessions(hook: ClientHook) -> Sessions:
    """The doctor's sessions on moto, with `hook` on every client."""
    return Sessions(ORG_REGION, base=boto3.Session(region_name=ORG_REGION), client_hook=hook)


def run(
    world: World,
    options: Options = DEFAULT,
    raw: dict[str, Any] | None = None,
    recorder: Recorder | None = None,
) -> Report:
    """The doctor on a world (optionally with another stack configuration)."""
    recorder = recorder or Recorder()
    sessions = moto_sessions(recorder.hook(world))
    config = parse_stack_config(PROJECT, raw) if raw is not None else world.config
    return run_doctor(Context(STACK, config, sessions, options), progress=io.StringIO())


def progress_of(world: World) -> str:
    """What a run writes to its progress stream."""
    stream = io.StringIO()
    sessions = moto_sessions(world.gaps.install)
    run_doctor(Context(STACK, world.config, sessions), progress=stream)
    return stream.getvalue()


def run_cli(world: World, root: Path, *args: str) -> tuple[int, str, str]:
    """`python -m tools.doctor --stack doctor ...` on the world, from a folder holding its stack file."""
    (root / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    (root / f"Pulumi.{STACK}.yaml").write_text(world.stack_file())
    sessions = moto_sessions(world.gaps.install)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["--stack", STACK, *args], sessions=sessions, root=root)
    return status, out.getvalue(), err.getvalue()


def without_doctor_role(world: World) -> dict[str, Any]:
    """The world's configuration without organization.doctorRoleName."""
    raw = copy.deepcopy(world.raw)
    del raw["organization"]["doctorRoleName"]
    return raw


def with_deploy_roles(world: World) -> dict[str, Any]:
    """The world's configuration with a roleArn beside every previewRoleArn."""
    raw = copy.deepcopy(world.raw)

    def add(access: dict[str, Any]) -> None:
        if "previewRoleArn" in access:
            access["roleArn"] = access["previewRoleArn"].replace(
                "BackupPreviewer", "BackupDeployer"
            )

    organization = raw["organization"]
    for access in (organization["managementAccount"], organization["delegatedAdministrator"]):
        add(access)
    for access in (
        raw["destination"],
        raw["dynamodbExport"]["bucket"],
        *raw.get("sourceAccounts", []),
    ):
        add(access)
    return raw


def with_region_settings(world: World) -> dict[str, Any]:
    """The world's configuration with the stack owning the Region settings."""
    raw = copy.deepcopy(world.raw)
    wanted = set(raw["backupPlan"]["resourceTypes"])
    raw["backupPlan"]["regionSettings"] = {
        "optIn": {name: name in wanted for name in REGION_SETTINGS_OPT_IN_TYPES},
        "fullManagement": {name: name == "DynamoDB" for name in REGION_SETTINGS_MANAGEMENT_TYPES},
    }
    return raw


def _outcome(broken: bool, mode: Mode, root: Path) -> Iterator[Outcome]:
    with mock_aws():
        world = build(broken=broken, mode=mode)
        recorder = Recorder()
        outcome = Outcome(world, run(world, recorder=recorder), recorder)
        outcome.cli = run_cli(world, root, "--format", "json")
        if mode == "stackSets" and not broken:
            outcome.variants["no doctor role"] = run(world, raw=without_doctor_role(world))
        if mode == "providers" and broken:
            outcome.variants["before deploy"] = run(world, Options(before_deploy=True))
            outcome.variants["owned settings"] = run(world, raw=with_region_settings(world))
        if mode == "providers" and not broken:
            # Progress lines are for large organizations; lower the bar to see them here.
            with patch.object(doctor_run, "PROGRESS_FROM", 2):
                outcome.progress = progress_of(world)
            deploy = Recorder()
            outcome.variants["deploy role"] = run(
                world, Options(allow_deploy_role=True), with_deploy_roles(world), deploy
            )
            outcome.recorder.roles += [f"deploy:{role}" for role in deploy.roles]
    yield outcome


@pytest.fixture(scope="session")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """A healthy organization, providers mode."""
    yield from _outcome(False, "providers", tmp_path_factory.mktemp("healthy"))


@pytest.fixture(scope="session")
def healthy_stack_sets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """A healthy organization, stackSets mode: members found under the OUs."""
    yield from _outcome(False, "stackSets", tmp_path_factory.mktemp("healthy-stack-sets"))


@pytest.fixture(scope="session")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """An organization with every one of world.BREAKAGES, providers mode."""
    yield from _outcome(True, "providers", tmp_path_factory.mktemp("broken"))


@pytest.fixture(scope="session")
def broken_stack_sets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The same breakages in stackSets mode."""
    yield from _outcome(True, "stackSets", tmp_path_factory.mktemp("broken-stack-sets"))
