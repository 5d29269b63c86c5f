"""What moto 5.2.5 cannot answer, which `tests/support/doctor_fakes.py` answers on purpose.

Each test fails once moto learns the call, so the fake can be dropped rather than kept out of
habit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "eu-west-1"


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def not_answered(call: Any) -> bool:
    """moto answers 404 "Not yet implemented", or raises NotImplementedError in-process."""
    try:
        call()
    except NotImplementedError:
        return True
    except ClientError as error:
        return bool(error.response["ResponseMetadata"]["HTTPStatusCode"] == 404)
    return False


def test_backup_settings_vault_policies_and_recovery_points_are_not_implemented(
    aws: boto3.Session,
) -> None:
    backup = aws.client("backup")
    backup.create_backup_vault(BackupVaultName="vault")

    assert not_answered(backup.describe_global_settings)
    assert not_answered(backup.describe_region_settings)
    assert not_answered(lambda: backup.get_backup_vault_access_policy(BackupVaultName="vault"))
    assert not_answered(
        lambda: backup.put_backup_vault_access_policy(BackupVaultName="vault", Policy="{}")
    )
    assert not_answered(
        lambda: backup.list_recovery_points_by_backup_vault(BackupVaultName="vault")
    )


def test_organizations_lacks_resource_policies_backup_policies_and_backup_delegation(
    aws: boto3.Session,
) -> None:
    organizations = aws.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    account = organizations.create_account(AccountName="a", Email="a@example.com")
    account_id = account["CreateAccountStatus"]["AccountId"]

    assert not_answered(organizations.describe_resource_policy)
    with pytest.raises(NotImplementedError):
        organizations.create_policy(
            Name="p", Description="d", Type="BACKUP_POLICY", Content=json.dumps({"plans": {}})
        )
    for principal in (
        "backup.amazonaws.com",
        "member.org.stacksets.cloudformation.amazonaws.com",
    ):
        with pytest.raises(ClientError, match="unrecognized service principal"):
            organizations.register_delegated_administrator(
                AccountId=account_id, ServicePrincipal=principal
            )


def test_every_kms_key_is_customer_managed_and_no_ebs_default_key(aws: boto3.Session) -> None:
    kms = aws.client("kms")

    assert kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    assert not_answered(aws.client("ec2").get_ebs_default_kms_key_id)


def test_any_role_can_be_assumed(aws: boto3.Session) -> None:
    sts = aws.client("sts")
    role = "arn:aws:iam::210987654321:role/DoesNotExist"

    credentials = sts.assume_role(RoleArn=role, RoleSessionName="gaps")["Credentials"]
    assert credentials["AccessKeyId"]
