"""The command line: config errors exit 2 without a trace, the role documents print, and the
sessions refuse anything but reads and ambient credentials in the wrong account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from policies.doctor import doctor_permissions
from tools.doctor.__main__ import main
from tools.doctor.access import MutatingCallError, Route, Sessions, UnreachableError


def test_a_missing_stack_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "no-such-stack"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no stack file Pulumi.no-such-stack.yaml")
    assert "Traceback" not in err


def test_an_invalid_stack_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: aws-backup-copy\nruntime: python\n")
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws-backup-copy:environment: Bad!\n")

    assert main(["--stack", "bad"], root=tmp_path) == 2
    err = capsys.readouterr().err
    assert "error: stack bad: invalid stack configuration" in err
    assert "environment: must be 1-20 lowercase letters" in err
    assert "Traceback" not in err


def test_print_role_gives_the_stacks_doctor_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "sandbox", "--print-role"]) == 0
    documents = json.loads(capsys.readouterr().out)

    assert documents["roleName"] == "BackupDoctor"
    assert documents["permissionsPolicy"] == doctor_permissions()
    [trust] = documents["trustPolicy"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::888888888888:root"}


@pytest.fixture
def sessions() -> Iterator[Sessions]:
    with mock_aws():
        yield Sessions("us-east-1", base=boto3.Session(region_name="us-east-1"))


def test_a_mutating_call_never_leaves_the_process(sessions: Sessions) -> None:
    route = Route(
        "210987654321", "arn:aws:iam::210987654321:role/Reader", "destination.previewRoleArn"
    )
    backup = sessions.client(route, "backup", "eu-west-1")

    with pytest.raises(MutatingCallError, match="CreateBackupVault"):
        backup.create_backup_vault(BackupVaultName="nope")
    assert backup.list_backup_vaults()["BackupVaultList"] == []


def test_ambient_credentials_must_be_in_the_account(sessions: Sessions) -> None:
    # moto's ambient account is 123456789012.
    here = Route("123456789012", None, "destination")
    elsewhere = Route("210987654321", None, "sourceAccounts[0]")

    assert sessions.credentials(here) is None
    with pytest.raises(UnreachableError, match=r"set sourceAccounts\[0\]\.previewRoleArn"):
        sessions.credentials(elsewhere)


def test_a_member_behind_an_unreachable_home_account_is_reported_as_itself(
    sessions: Sessions,
) -> None:
    home = Route("210987654321", None, "organization.delegatedAdministrator")
    member = Route(
        "333333333333",
        "arn:aws:iam::333333333333:role/BackupDoctor",
        "organization.doctorRoleName",
        via=home,
    )

    with pytest.raises(UnreachableError) as raised:
        sessions.credentials(member)
    assert raised.value.route == member
    assert "is assumed from ambient credentials" in raised.value.fix
    assert "organization.delegatedAdministrator.previewRoleArn" in raised.value.fix
