"""Stack files read as Pulumi reads them: numbers, secrets, ESC imports, and file and line."""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError
from config.loader import ROOT, load_stack_file, parse_source, parse_stack_file, read_stack

DEV = (ROOT / "Pulumi.dev.yaml").read_text()


def project(tmp_path: Path, text: str, name: str = "t") -> Path:
    """A project folder with Pulumi.yaml and `Pulumi.<name>.yaml` holding `text`."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    return tmp_path


def edited(old: str, new: str, text: str = DEV) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The line number of the only line of `text` that holds `fragment`."""
    [number] = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return number


def problems(root: Path, stack: str = "t") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_file(stack, root)
    return list(caught.value.problems)


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `pulumi` on PATH, whatever the machine has."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


# --- numbers: what Pulumi reads, and the exact message ------------------------------------------


@pytest.mark.parametrize(
    ("written", "reads"),
    [
        # Not octal digits: Go's YAML reader (Pulumi's) makes it the decimal number.
        ("012345678901", "the number 12345678901, its zero dropped"),
        # Octal digits: YAML 1.1 and Go read the octal number.
        ("012345670123", "the octal number 1402433619"),
        ("000000000000", "the octal number 0"),
    ],
)
def test_an_unquoted_id_with_a_leading_zero_says_what_pulumi_reads_and_how_to_quote_it(
    tmp_path: Path, written: str, reads: str
) -> None:
    text = edited('accountId: "222222222222"', f"accountId: {written}")
    root = project(tmp_path, text)

    line = line_of(text, f"accountId: {written}")
    assert problems(root) == [
        f"Pulumi.t.yaml:{line}: destination.accountId: unquoted {written} is {reads}: quote it "
        f'(accountId: "{written}")'
    ]


def test_the_program_gets_the_number_pulumi_would_give(tmp_path: Path) -> None:
    # PyYAML alone reads 012345678901 as the string "012345678901", which would pass here and
    # fail under Pulumi; the loader reads it as Pulumi does.
    root = project(tmp_path, edited('accountId: "222222222222"', "accountId: 012345678901"))

    project_name, encoded = load_stack_file("t", root)

    assert json.loads(encoded[f"{project_name}:destination"])["accountId"] == 12345678901


def test_a_leading_zero_in_a_list_is_quoted_as_a_list_item(tmp_path: Path) -> None:
    text = edited("      - ou-ab12-cdef3456\n", "      - ou-ab12-cdef3456\n      - 012345670123\n")
    root = project(tmp_path, text)

    assert problems(root) == [
        f"Pulumi.t.yaml:{line_of(text, '- 012345670123')}: organization.policyTargets[1]: "
        'unquoted 012345670123 is the octal number 1402433619: quote it (- "012345670123")'
    ]


def test_a_plain_unquoted_id_keeps_its_message_and_gains_its_line(tmp_path: Path) -> None:
    text = edited('accountId: "222222222222"', "accountId: 222222222222")
    root = project(tmp_path, text)

    assert problems(root) == [
        f"Pulumi.t.yaml:{line_of(text, 'accountId: 222222222222')}: destination.accountId: must "
        'be a string: quote it (accountId: "222222222222"), got the number 222222222222'
    ]


def test_a_leading_zero_number_that_passes_is_a_warning(tmp_path: Path) -> None:
    text = edited("retentionDays: 35", "retentionDays: 035")
    root = project(tmp_path, text)

    config, notes = parse_source(read_stack("t", root))

    assert config is not None and config.dynamodb_export is not None
    assert config.dynamodb_export.retention_days == 29
    assert notes == [
        f"Pulumi.t.yaml:{line_of(text, 'retentionDays: 035')}: dynamodbExport.retentionDays: "
        "unquoted 035 is the octal number 29; write 35 if that is meant"
    ]


# --- file and line --------------------------------------------------------------------------------


def test_a_problem_carries_the_file_and_line_of_its_key(tmp_path: Path) -> None:
    text = edited(
        "    allowCopiesFrom: accounts\n", "    allowCopiesFrom: accounts\n    vaultName: Default\n"
    )
    root = project(tmp_path, text)

    [problem] = problems(root)

    assert problem.startswith(f"Pulumi.t.yaml:{line_of(text, 'vaultName: Default')}: ")
    assert problem.endswith(
        "destination.vaultName: must not be the Default vault: it is "
        "encrypted with an AWS managed key, which AWS Backup cannot copy "
        "across accounts"
    )


def test_a_missing_key_points_at_where_it_belongs(tmp_path: Path) -> None:
    text = edited('  - accountId: "111111111111"\n      roleArn:', "  - roleArn:")
    root = project(tmp_path, text)

    assert (
        f"Pulumi.t.yaml:{line_of(text, '  - roleArn:')}: sourceAccounts[0].accountId: is required"
        in problems(root)
    )


# --- secrets: never a type error, and never silent ----------------------------------------------


def test_a_secret_is_not_checked_and_the_check_says_so(tmp_path: Path, no_pulumi: None) -> None:
    text = edited(
        "    roleArn: arn:aws:iam::222222222222:role/BackupDeployer-dev\n",
        "    roleArn:\n      secure: v1:AAAA\n",
    )
    root = project(tmp_path, text)

    source = read_stack("t", root)
    config, notes = parse_source(source)

    assert config is not None and config.destination.role_arn is None
    assert notes == [
        "partial: destination.roleArn is a secret: not checked "
        f"(Pulumi.t.yaml:{line_of(text, 'secure: v1:AAAA') - 1})"
    ]
    # The ciphertext never reaches the program.
    assert "v1:AAAA" not in json.dumps(source.encoded)


def test_a_secret_the_config_needs_makes_the_check_partial_not_a_type_error(
    tmp_path: Path, no_pulumi: None
) -> None:
    text = edited("    id: o-a1b2c3d4e5\n", "    id:\n      secure: v1:BBBB\n")
    root = project(tmp_path, text)

    config, notes = parse_source(read_stack("t", root))

    assert config is None
    assert notes == [
        f"partial: organization.id is a secret: not checked (Pulumi.t.yaml:"
        f"{line_of(text, 'secure: v1:BBBB') - 1})"
    ]
    # Code that needs a whole config (make doctor) gets the same words, not a type error.
    assert problems(root) == notes


# --- ESC imports --------------------------------------------------------------------------------


def test_an_esc_import_without_the_cli_is_named_and_missing_keys_are_not_checked(
    tmp_path: Path, no_pulumi: None
) -> None:
    start = DEV.index("  aws-backup-copy:backupPlan:")
    end = DEV.index("  aws-backup-copy:dynamodbExport:")
    text = "environment:\n  - backup/dev\n" + DEV[:start] + DEV[end:]
    root = project(tmp_path, text)

    config, notes = parse_source(read_stack("t", root))

    assert config is None
    assert notes == [
        "partial: Pulumi.t.yaml imports the ESC environment backup/dev, which only the Pulumi "
        "CLI opens (the Pulumi CLI is not on PATH): the values it sets are not checked",
        "partial: backupPlan is not set in Pulumi.t.yaml: not checked",
    ]


def test_a_complete_stack_with_an_esc_import_is_still_partial(
    tmp_path: Path, no_pulumi: None
) -> None:
    root = project(tmp_path, "environment:\n  - backup/dev\n" + DEV)

    config, notes = parse_source(read_stack("t", root))

    assert config is not None
    assert [note.partition(" imports ")[0] for note in notes] == ["partial: Pulumi.t.yaml"]


def fake_pulumi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listing: Any, code: int = 0
) -> Path:
    """A `pulumi` on PATH that prints `listing` as JSON (or fails), recording its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pulumi-args.json"
    script = bin_dir / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + chr(10))\n"
        f"print({json.dumps(listing)!r})\n"
        f"if {code}: print('error: no stack named t found', file=sys.stderr)\n"
        f"sys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def resolved_listing(encoded: dict[str, str]) -> dict[str, Any]:
    """What `pulumi config --json` prints for these values (pkg/cmd/pulumi/config)."""
    listing: dict[str, Any] = {}
    for key, value in encoded.items():
        entry: dict[str, Any] = {"value": value, "secret": False}
        if value.startswith(("{", "[")):
            entry["objectValue"] = json.loads(value)
        listing[key] = entry
    return listing


def test_with_the_cli_an_esc_import_is_resolved_by_pulumi_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file lacks backupPlan; the environment provides it, and a secret pulumi hides.
    start = DEV.index("  aws-backup-copy:backupPlan:")
    end = DEV.index("  aws-backup-copy:dynamodbExport:")
    root = project(tmp_path, "environment:\n  - backup/dev\n" + DEV[:start] + DEV[end:])
    _, encoded = load_stack_file("dev")
    listing = resolved_listing(encoded)
    listing["aws-backup-copy:monitoring"] = {"secret": True}
    log = fake_pulumi(tmp_path, monkeypatch, listing)

    config, notes = parse_source(read_stack("t", root))

    # Read once per process however often the tools read the stack (it opens ESC environments).
    read_stack("t", root)
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        ["config", "--json", "--open", "--non-interactive", "--stack", "t"]
    ]
    assert config is not None and config.backup_plan.name == "daily"
    assert notes == [
        "partial: monitoring holds a secret, which pulumi config does not show: not checked"
    ]


def test_a_failing_cli_falls_back_to_the_file_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, "environment:\n  - backup/dev\n" + DEV)
    fake_pulumi(tmp_path, monkeypatch, {}, code=255)

    config, notes = parse_source(read_stack("t", root))

    assert config is not None
    assert len(notes) == 1
    assert re.fullmatch(
        r"partial: Pulumi\.t\.yaml imports the ESC environment backup/dev, which only the "
        r"Pulumi CLI opens \(pulumi config failed: error: no stack named t found\): the values "
        r"it sets are not checked",
        notes[0],
    ), notes
