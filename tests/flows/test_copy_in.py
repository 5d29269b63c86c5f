"""Copy into the central vaults, as AWS evaluates it, over the example stacks' rendered documents.

The hop: a copy job in a source account runs as the backup service role the backup policy names
(`iam_role_arn`), calls `backup:CopyIntoBackupVault` on the central vault, and uses the central
key through grants it creates for AWS Backup (`kms:CreateGrant` with `kms:GrantIsForAWSResource`,
through `backup.<region>.amazonaws.com`). A principal of an account in an organization carries
`aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` (IAM User Guide, "AWS global condition context
keys"). Each stack admits its own backup role in its own scope, and nobody else: not another
role of a source account, not an account outside the scope, not another environment's role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from flows.evaluator import Request, evaluate_policy
from tools.offline import OfflineRun

ORG = "o-a1b2c3d4e5"


@dataclass(frozen=True)
class Caller:
    """A principal as AWS sees it: its role ARN and where its account sits in the organization."""

    account: str
    role: str
    ou_path: str = "r-ab12/ou-ab12-other000"

    @property
    def arn(self) -> str:
        """The ARN in `aws:PrincipalArn` (a role session is matched by its role's ARN)."""
        return f"arn:aws:iam::{self.account}:role/{self.role}"

    def context(self) -> dict[str, Any]:
        """The organization keys AWS sets for a principal of an account in the organization."""
        return {"aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [f"{ORG}/{self.ou_path}/"]}


# stack -> (the destination account, callers that must be admitted, callers that must not)
SCOPES: dict[str, tuple[str, list[Caller], list[Caller]]] = {
    "dev": (
        "222222222222",
        [Caller("111111111111", "aws-backup-copy-dev-backup-service")],
        [
            Caller("111111111111", "Admin"),
            # An account under dev's targeted OU that the stack does not prepare.
            Caller("121212121212", "aws-backup-copy-dev-backup-service", "r-ab12/ou-ab12-cdef3456"),
            Caller("444444444444", "aws-backup-copy-prod-backup-service"),
        ],
    ),
    "prod": (
        "555555555555",
        [
            Caller("444444444444", "aws-backup-copy-prod-backup-service"),
            Caller("666666666666", "aws-backup-copy-prod-backup-service"),
            Caller(
                "777777777777", "aws-backup-copy-prod-backup-service", "r-ab12/ou-ab12-prod7890"
            ),
        ],
        [
            Caller("444444444444", "Admin"),
            Caller("777777777777", "Admin", "r-ab12/ou-ab12-prod7890"),
            # The organization outside prod's targets, and dev's backup role.
            Caller(
                "121212121212", "aws-backup-copy-prod-backup-service", "r-ab12/ou-ab12-cdef3456"
            ),
            Caller("111111111111", "aws-backup-copy-dev-backup-service", "r-ab12/ou-ab12-prod7890"),
        ],
    ),
    "sandbox": (
        "999999999999",
        [
            Caller(
                "131313131313", "aws-backup-copy-sandbox-backup-service", "r-ab12/ou-ab12-sbx11111"
            ),
            Caller(
                "141414141414",
                "aws-backup-copy-sandbox-backup-service",
                "r-ab12/ou-ab12-sbx22222/ou-ab12-deeper00",
            ),
        ],
        [
            Caller("131313131313", "Admin", "r-ab12/ou-ab12-sbx11111"),
            Caller(
                "121212121212", "aws-backup-copy-sandbox-backup-service", "r-ab12/ou-ab12-cdef3456"
            ),
        ],
    ),
}


def _documents(run: OfflineRun, type_token: str, account: str) -> dict[str, dict[str, Any]]:
    """Region -> the policy document of each resource of this type in `account`."""
    found = {}
    for resource in run.of_type(type_token):
        if resource.account_id == account and resource.parent_name.startswith("destination"):
            assert resource.region is not None
            found[resource.region] = json.loads(resource.inputs["policy"])
    return found


@pytest.mark.parametrize("stack", sorted(SCOPES))
def test_only_the_stacks_backup_role_in_its_scope_copies_into_the_central_vaults(
    stack: str, request: pytest.FixtureRequest
) -> None:
    run: OfflineRun = request.getfixturevalue(f"{stack}_run")
    destination, admitted, refused = SCOPES[stack]
    vault_policies = _documents(run, "aws:backup/vaultPolicy:VaultPolicy", destination)
    key_policies = _documents(run, "aws:kms/key:Key", destination)
    assert vault_policies and vault_policies.keys() == key_policies.keys()

    for region, vault_policy in vault_policies.items():
        vault = (
            f"arn:aws:backup:{region}:{destination}:backup-vault:aws-backup-copy-{stack}-central"
        )
        if stack == "prod":
            vault = f"arn:aws:backup:{region}:{destination}:backup-vault:central-backup-prod"
        key = f"arn:aws:kms:{region}:{destination}:key/central"
        for caller in admitted + refused:
            expected = caller in admitted
            copy = Request(caller.arn, "backup:CopyIntoBackupVault", vault, caller.context())
            grant = Request(
                caller.arn,
                "kms:CreateGrant",
                key,
                {
                    **caller.context(),
                    "kms:ViaService": f"backup.{region}.amazonaws.com",
                    "kms:GrantIsForAWSResource": "true",
                },
            )
            assert evaluate_policy(vault_policy, copy).allowed is expected, (
                stack,
                region,
                "vault",
                caller,
            )
            assert evaluate_policy(key_policies[region], grant).allowed is expected, (
                stack,
                region,
                "key",
                caller,
            )
