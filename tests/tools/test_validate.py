"""`make validate`: config and cross-stack check only, the same verdict and messages as `make plan`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.loader import ROOT, load_stack_file
from tools import plan, validate
from tools.offline import run_program


def _build_files() -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in (ROOT / "build").rglob("*")}


def test_a_valid_stack_passes_and_nothing_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    before = _build_files()

    assert validate.main(["--stack", "dev"]) == 0

    captured = capsys.readouterr()
    assert re.match(r"stack dev: configuration valid; \d+ resources in 4 accounts", captured.out)
    assert "cross-stack check: dev collides with none of: prod" in captured.err
    assert _build_files() == before


def test_bad_config_gets_exit_2_and_the_messages_plan_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, config = load_stack_file("dev")
    destination = json.loads(config[f"{project}:destination"])
    destination["vaultName"] = "Default"
    config[f"{project}:destination"] = json.dumps(destination)
    monkeypatch.setattr(validate, "run_program", lambda stack: run_program(stack, config))

    assert validate.main(["--stack", "dev"]) == 2
    validated = capsys.readouterr()
    assert plan.main(["--stack", "dev", "--out", str(tmp_path / "out")]) == 2
    planned = capsys.readouterr()

    assert "destination.vaultName" in validated.err
    assert "Traceback" not in validated.err
    assert validated.err == planned.err
    assert validated.out == planned.out == ""


def test_a_missing_stack_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main(["--stack", "nosuchstack"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: no stack file Pulumi.nosuchstack.yaml")
    assert "Traceback" not in err
