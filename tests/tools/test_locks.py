"""The lock files: every requirement pinned with hashes, the same versions everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# requirements file -> the lock compiled from it (and from the files it includes).
LOCKS = {
    ("requirements.txt",): "requirements.lock",
    ("requirements.txt", "requirements-dev.txt"): "requirements-dev.lock",
    ("requirements.txt", "policy_pack/requirements.txt"): "policy_pack/requirements.lock",
}
ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>\S+)(?P<rest>(?:\s*\\\n\s+--hash=\S+)*)", re.M
)


def pins(requirements: str) -> dict[str, str]:
    """`name -> version` of each `name==version` line in a requirements file (not `-r` lines)."""
    found: dict[str, str] = {}
    for line in (ROOT / requirements).read_text().splitlines():
        text = line.split("#")[0].strip()
        if not text or text.startswith("-"):
            continue
        requirement = Requirement(text)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", f"{requirements}: {text} is not pinned"
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


def locked(lock: str) -> dict[str, tuple[str, int]]:
    """`name -> (version, number of hashes)` of each entry of a lock file."""
    return {
        canonicalize_name(m["name"]): (m["version"], m["rest"].count("--hash=sha256:"))
        for m in ENTRY.finditer((ROOT / lock).read_text())
    }


@pytest.mark.parametrize(("sources", "lock"), list(LOCKS.items()))
def test_every_pin_is_in_its_lock_at_the_same_version(sources: tuple[str, ...], lock: str) -> None:
    entries = locked(lock)
    for source in sources:
        for name, version in pins(source).items():
            assert name in entries, f"{source} pins {name}, {lock} lacks it: run `make lock`"
            assert entries[name][0] == version, (
                f"{source} pins {name}=={version}, {lock} has {entries[name][0]}: run `make lock`"
            )


@pytest.mark.parametrize("lock", sorted(set(LOCKS.values())))
def test_every_locked_package_has_hashes_and_the_dev_locks_version(lock: str) -> None:
    entries = locked(lock)
    dev = locked("requirements-dev.lock")

    assert entries
    # `pip install --require-hashes` refuses an entry without one.
    assert all(count > 0 for _, count in entries.values()), lock
    assert "Python 3.11" in (ROOT / lock).read_text().splitlines()[1]
    # One version of each package in the program's venv, the test venv and the pipeline's.
    differ = {
        name: (v, dev.get(name, ("absent", 0))[0])
        for name, (v, _) in entries.items()
        if dev.get(name, ("absent", 0))[0] != v
    }
    assert differ == {}, lock
