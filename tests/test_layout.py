"""The layout holds: pure layers import no Pulumi module, modules stay small, and the
architecture page's "where things live" table names every module that exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# Modules of the Pulumi program's side: they may import Pulumi, the pure layers may not.
PROGRAM_SIDE = ("pulumi", "pulumi_aws", "program", "deploy", "components", "providers")
# What a module may hold at most; generated files, tests, benchmarks and the deployed Lambda
# (whose hash is in the plan) are not held to it.
MAX_MODULE_LINES = 520
EXEMPT = ("tests/", "bench/", "lambda/", "venv/", "build/")


def imported_by(statement: str) -> set[str]:
    """Top-level modules a fresh interpreter has loaded after running `statement`."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.partition(".")[0] for name in json.loads(completed.stdout.splitlines()[-1])}


@pytest.mark.parametrize(
    "module",
    ["config", "topology", "documents", "flows.evaluator", "policies.kms", "tools.doctor.__main__"],
)
def test_pure_layers_import_neither_pulumi_nor_the_program(module: str) -> None:
    assert imported_by(f"import {module}") & set(PROGRAM_SIDE) == set()


def test_the_program_side_still_imports_pulumi() -> None:
    """The check above would pass for a broken subprocess too: the program side must show."""
    assert {"pulumi", "pulumi_aws", "deploy"} <= imported_by("import program")


def python_modules() -> list[Path]:
    """Every Python file the project holds, tests and the exempt folders aside."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(EXEMPT) and "/." not in f"/{relative}":
            found.append(path)
    return found


def test_no_module_is_over_the_size_limit() -> None:
    over = {
        path.relative_to(ROOT).as_posix(): lines
        for path in python_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert over == {}


def where_things_live() -> set[str]:
    """The modules and folders the "Where things live" table of docs/architecture.md names."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("## Where things live") :]
    section = section[: section.index("\n## ", 1)]
    cells = re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE)
    return {name for cell in cells for name in re.findall(r"`([^`]+)`", cell)}


def test_the_architecture_page_names_every_module() -> None:
    named = where_things_live()
    unnamed = set()
    for path in python_modules():
        relative = path.relative_to(ROOT).as_posix()
        parts = relative.split("/")
        # A folder named as a whole (`components/`) covers every file below it.
        folders = {"/".join(parts[:depth]) + "/" for depth in range(1, len(parts))}
        if relative not in named and not folders & named:
            unnamed.add(relative)
    assert unnamed == set(), "modules the table does not name"
    stale = {entry for entry in named if not (ROOT / entry.rstrip("/")).exists()}
    assert stale == set(), "entries naming nothing in the tree"
