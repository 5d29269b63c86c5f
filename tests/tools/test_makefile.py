"""The Makefile: `make help` lists every target, and `make plan` installs only what it needs."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.fresh_interpreter import modules_imported_by

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
# Imported when installed, never needed: setuptools' .pth hook runs at interpreter start, and
# botocore takes certifi's CA bundle when there is one, else its own (botocore/httpsession.py).
OPTIONAL_IMPORTS = {"_distutils_hack", "certifi"}


def make(*args: str, cwd: Path = ROOT) -> str:
    """make's output; `-n` runs nothing, so no test here can install anything by mistake."""
    # A make above pytest (`make unit`) must not pass its flags or level down.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    completed = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


def phony_targets() -> list[str]:
    return [
        target
        for line in MAKEFILE.read_text().splitlines()
        if line.startswith(".PHONY:")
        for target in line.removeprefix(".PHONY:").split()
    ]


def test_help_lists_every_target_with_a_one_line_description() -> None:
    listed = {}
    for line in make("-s", "help").splitlines():
        target, _, description = line.strip().partition(" ")
        listed[target] = description.strip()

    assert set(listed) == set(phony_targets())
    assert all(listed.values()), listed
    assert listed["validate"].startswith("Config and cross-stack check")


def test_make_alone_shows_the_help_and_installs_nothing() -> None:
    assert make("-n") == make("-n", "help")


def dry_run(tmp_path: Path, *args: str) -> str:
    """What `make -n ARGS` would run in a copy without a venv: every install step it takes."""
    for name in ("Makefile", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return make("-n", *args, cwd=tmp_path)


def _installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if "pip install" in line]


def test_plan_and_validate_install_only_the_runtime_requirements(tmp_path: Path) -> None:
    for target in ("plan", "validate", "plan-diff", "pipeline-policies"):
        commands = dry_run(tmp_path, target)

        assert "-r requirements.lock" in commands
        assert "requirements-dev" not in commands


def test_the_test_targets_add_the_dev_tools(tmp_path: Path) -> None:
    for target in ("test", "lint", "typecheck", "unit", "bench"):
        commands = dry_run(tmp_path, target)

        assert "-r requirements-dev.lock" in commands, target


def test_every_install_is_from_a_lock_file_with_hashes(tmp_path: Path) -> None:
    installs = _installs(dry_run(tmp_path, "test"))

    assert len(installs) == 2
    assert all("--require-hashes" in line and ".txt" not in line for line in installs), installs


def test_make_lock_compiles_each_lock_with_hashes_on_python_3_11(tmp_path: Path) -> None:
    commands = dry_run(tmp_path, "lock")
    compiles = [line for line in commands.splitlines() if "pip-compile " in line]

    assert "sys.version_info[:2] != (3, 11)" in commands
    assert [line.split("--output-file ")[1].split()[0] for line in compiles] == [
        "requirements-dev.lock",
        "requirements.lock",
        "policy_pack/requirements.lock",
    ]
    assert all(
        "--generate-hashes" in line and "PIP_CONFIG_FILE=/dev/null" in line for line in compiles
    )
    # Runtime and pack locks take the dev lock's versions: one version of each package everywhere.
    assert all("--constraint requirements-dev.lock" in line for line in compiles[1:])


def _runtime_distributions() -> set[str]:
    """requirements.txt and everything it pulls in, as installed here."""
    pending = [
        Requirement(line.split("#")[0].strip())
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    found: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        for spec in importlib.metadata.distribution(name).requires or []:
            dependency = Requirement(spec)
            if dependency.marker is None or dependency.marker.evaluate({"extra": ""}):
                pending.append(dependency)
    return found


def imported_outside_runtime(code: str) -> dict[str, list[str]]:
    """Modules `code` imports, run in a fresh interpreter, that requirements.txt does not
    install (module -> its distributions)."""
    imported = modules_imported_by(code)
    owners = importlib.metadata.packages_distributions()
    runtime = _runtime_distributions()
    return {
        module: owners[module]
        for module in imported
        if module in owners
        and module not in OPTIONAL_IMPORTS
        and not {canonicalize_name(d) for d in owners[module]} & runtime
    }


def test_the_offline_plan_imports_only_what_requirements_txt_installs() -> None:
    code = "from tools import plan\nfrom tools.offline import run_program\nrun_program('dev')"

    assert imported_outside_runtime(code) == {}
