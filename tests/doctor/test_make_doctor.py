"""`make doctor` and `make bench PART=doctor`: what they run, and that `make doctor` installs
only the runtime requirements (it runs in the deploy workflow's venv)."""

from __future__ import annotations

from pathlib import Path

from tests.tools import test_makefile
from tests.tools.test_makefile import imported_outside_runtime


def dry_run(tmp_path: Path, *args: str) -> list[str]:
    return test_makefile.dry_run(tmp_path, *args).splitlines()


def test_make_doctor_installs_the_runtime_only_and_passes_its_options(tmp_path: Path) -> None:
    commands = dry_run(tmp_path, "doctor", "STACK=prod", "FORMAT=json", "ARGS=--allow-deploy-role")

    assert any("-r requirements.lock" in line for line in commands)
    assert not any("requirements-dev" in line for line in commands)
    assert commands[-1] == (
        "venv/bin/python -m tools.doctor --stack prod --format json --allow-deploy-role"
    )


def test_make_doctor_defaults_to_text(tmp_path: Path) -> None:
    assert (
        dry_run(tmp_path, "doctor")[-1]
        == "venv/bin/python -m tools.doctor --stack dev --format text"
    )


def test_bench_part_doctor_runs_only_the_doctor_benchmark(tmp_path: Path) -> None:
    benches = [line for line in dry_run(tmp_path, "bench", "PART=doctor") if "bench/" in line]

    assert benches == ["venv/bin/python bench/doctor.py"]


def test_the_doctor_imports_only_what_requirements_txt_installs() -> None:
    assert imported_outside_runtime("import tools.doctor.__main__") == {}
