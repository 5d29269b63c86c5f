"""The read-only role `make doctor` assumes in member accounts it finds under targeted OUs.

Accounts the stack names (destination, sources, ...) are read through their `previewRoleArn`;
an account that is only under a targeted root or OU has none, so `organization.doctorRoleName`
names a role that exists in every such account (the member template creates it in stackSets
mode; the docs show it for providers mode). The doctor assumes it from the account it runs
in, the delegated administrator if there is one, else the management account (role chaining:
"When you use role chaining, your new credentials are limited to a maximum duration of one
hour", IAM User Guide, "Methods to assume a role", which the doctor's minutes fit).

Its permissions are exactly the calls the doctor makes in a member account, each a Describe,
List or Get, rather than an AWS managed policy: `ViewOnlyAccess`
(arn:aws:iam::aws:policy/job-function/ViewOnlyAccess, "permissions to view resources and basic
metadata across all AWS services", AWS Managed Policy Reference) and `SecurityAudit` read every
service, far more than these fourteen calls, and change whenever AWS edits them. `tests/doctor`
checks that every call the doctor made in its moto run is in these lists.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.arns import account_root
from policies.statements import PolicyDocument, aws_principals, document

# Every API call the doctor makes in a member account, as IAM actions (service prefix and
# operation name; the Resource Groups Tagging API's prefix is `tag`).
MEMBER_READ_ACTIONS = (
    "backup:DescribeBackupVault",
    "backup:DescribeRegionSettings",
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "ec2:DescribeInstances",
    "ec2:DescribeVolumes",
    "ec2:GetEbsDefaultKmsKeyId",
    "ec2:GetEbsEncryptionByDefault",
    "iam:GetRole",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "tag:GetResources",
)
# The calls it makes in the account it runs from (management or delegated administrator),
# through that account's preview role, and in the destination and export bucket accounts.
ORGANIZATION_READ_ACTIONS = (
    "backup:DescribeGlobalSettings",
    "organizations:DescribeAccount",
    "organizations:DescribeOrganization",
    "organizations:DescribeOrganizationalUnit",
    "organizations:DescribeResourcePolicy",
    "organizations:ListAWSServiceAccessForOrganization",
    "organizations:ListAccountsForParent",
    "organizations:ListDelegatedAdministrators",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListPoliciesForTarget",
    "organizations:ListRoots",
)
DESTINATION_READ_ACTIONS = (
    "backup:DescribeBackupVault",
    "backup:GetBackupVaultAccessPolicy",
    "backup:ListRecoveryPointsByBackupVault",
    "kms:DescribeKey",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
)


def doctor_trust_policy(runner_account_id: str, runner_role_arns: Sequence[str]) -> PolicyDocument:
    """Lets the account the doctor runs from assume the role, through its named roles only.

    The principal is the account, narrowed by `aws:PrincipalArn` to the roles the doctor runs
    as there (its preview role, and its deploy role for `--allow-deploy-role` in the deploy
    workflow): for a role session, `aws:PrincipalArn` is the role's ARN ("Do not specify the
    assumed role session ARN", IAM User Guide, "AWS global condition context keys"). Naming
    the account rather than the roles keeps the trust valid before those roles exist. Without
    named roles, any principal the account's IAM policies allow may assume it.
    """
    statement: dict[str, object] = {
        "Sid": "TrustTheDoctorsHomeAccount",
        "Effect": "Allow",
        "Principal": aws_principals([account_root(runner_account_id)]),
        "Action": "sts:AssumeRole",
    }
    roles = sorted(set(runner_role_arns))
    if roles:
        statement["Condition"] = {
            "ArnEquals": {"aws:PrincipalArn": roles[0] if len(roles) == 1 else roles}
        }
    return document(statement)


def doctor_permissions() -> PolicyDocument:
    """Read-only: the exact Describe, List and Get calls the doctor makes in a member account."""
    return document(
        {
            "Sid": "DoctorReadsOnly",
            "Effect": "Allow",
            "Action": list(MEMBER_READ_ACTIONS),
            "Resource": "*",
        }
    )
