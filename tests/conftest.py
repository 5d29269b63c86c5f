"""Shared fixtures: the repo root on sys.path and offline runs of the real stacks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.offline import OfflineRun, run_program  # noqa: E402 - needs the path above


@pytest.fixture(scope="session")
def dev_run() -> OfflineRun:
    """The dev stack, run once under mocks."""
    return run_program("dev")


@pytest.fixture(scope="session")
def prod_run() -> OfflineRun:
    """The prod stack, run once under mocks."""
    return run_program("prod")


@pytest.fixture(scope="session")
def sandbox_run() -> OfflineRun:
    """The sandbox stack (stackSets mode), run once under mocks."""
    return run_program("sandbox")


@pytest.fixture(params=["dev", "prod"])
def stack_run(
    request: pytest.FixtureRequest, dev_run: OfflineRun, prod_run: OfflineRun
) -> OfflineRun:
    """Each real stack in providers mode, in turn."""
    return dev_run if request.param == "dev" else prod_run


@pytest.fixture(params=["dev", "prod", "sandbox"])
def any_stack_run(
    request: pytest.FixtureRequest,
    dev_run: OfflineRun,
    prod_run: OfflineRun,
    sandbox_run: OfflineRun,
) -> OfflineRun:
    """Every example stack, both member deployment modes, in turn."""
    runs = {"dev": dev_run, "prod": prod_run, "sandbox": sandbox_run}
    return runs[str(request.param)]
