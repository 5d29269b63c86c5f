"""`make validate`: config and cross-stack check only, the same verdict and messages as `make plan`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.loader import ROOT, load_stack_file, read_stack
from tools import plan, validate
from tools.cross_stack import check_stack
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


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_missing_stack_file_is_named_with_the_stacks_there_are(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main = validate.main if command == "validate" else plan.main

    assert main(["--stack", "prd"]) == 2

    err = capsys.readouterr().err
    assert err == (
        f"error: no stack file Pulumi.prd.yaml in {ROOT}: 'prd' is not a known stack; did you "
        "mean 'prod'? (known: dev, prod, sandbox)\n"
    )


def in_folder(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """validate and plan read their stacks from `root` (the program is still this one)."""
    monkeypatch.setattr(validate, "read_stack", lambda stack: read_stack(stack, root))
    monkeypatch.setattr(
        validate, "run_program", lambda stack: run_program(stack, read_stack(stack, root).encoded)
    )
    monkeypatch.setattr(
        validate, "check_stack", lambda stack, run: check_stack(stack, run, root=root)
    )
    monkeypatch.setenv("PATH", str(root / "no-pulumi-here"))


def stack_folder(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (root / "Pulumi.t.yaml").write_text(text)
    return root


def test_a_secret_the_config_needs_is_a_partial_check_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    text = dev.replace("    id: o-a1b2c3d4e5\n", "    id:\n      secure: v1:AAAA\n")
    in_folder(monkeypatch, stack_folder(tmp_path, text))

    assert validate.main(["--stack", "t"]) == 0
    validated = capsys.readouterr()
    # Nothing can be planned without it: plan refuses, saying why.
    assert plan.main(["--stack", "t", "--out", str(tmp_path / "out")]) == 2
    planned = capsys.readouterr()

    line = text.splitlines().index("      secure: v1:AAAA")
    assert validated.err.splitlines() == [
        f"warning: partial: organization.id is a secret: not checked (Pulumi.t.yaml:{line})",
        "stack t: the program was not run: values it needs were not read (see the warnings)",
    ]
    assert validated.out == (
        "stack t: configuration valid as far as it was read (partial: see the warnings); "
        "nothing written\n"
    )
    assert planned.err == validated.err
    assert "v1:AAAA" not in validated.err + planned.err + planned.out


def test_a_secret_the_config_can_do_without_is_planned_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    old = "    previewRoleArn: arn:aws:iam::222222222222:role/BackupPreviewer\n"
    text = dev.replace(old, "    previewRoleArn:\n      secure: v1:AAAA\n")
    in_folder(monkeypatch, stack_folder(tmp_path, text))

    assert validate.main(["--stack", "t"]) == 0

    captured = capsys.readouterr()
    assert captured.err.splitlines()[0].startswith(
        "warning: partial: destination.previewRoleArn is a secret: not checked (Pulumi.t.yaml:"
    )
    assert re.match(
        r"stack t: configuration valid as far as it was read \(partial: see the warnings\); "
        r"\d+ resources in 4 accounts",
        captured.out,
    )
