"""The operations guide explains every check the doctor reports, and lists exactly the
doctor role's permissions."""

from __future__ import annotations

import re
from pathlib import Path

from policies.doctor import MEMBER_READ_ACTIONS
from tools.doctor.model import CHECKS

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def section() -> str:
    text = OPERATIONS.read_text()
    start = text.index("## `make doctor`")
    return text[start : text.index("\n## ", start + 1)]


def test_every_check_has_a_row() -> None:
    rows = re.findall(r"^\| `([a-z.-]+)` \|", section(), flags=re.MULTILINE)

    assert rows == list(CHECKS)


def test_the_doctor_roles_permissions_are_listed() -> None:
    paragraph = section().split("**What the roles need.**")[1].split("The preview roles")[0]

    assert sorted(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", paragraph)) == sorted(MEMBER_READ_ACTIONS)
