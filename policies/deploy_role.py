"""The per-account roles' permissions: `BackupDeployer-<env>` and `BackupPreviewer`.

A deploy role acts only on its environment's resources, even in an account environments share:
by name where the ARN carries one (Service Authorization Reference, each service's "Resource
types" table: IAM `role/${RoleNameWithPath}`, AWS Backup `backup-vault:${BackupVaultName}`,
S3 `${BucketName}`, Lambda `function:${FunctionName}`, ...), by `kms:ResourceAliases` for KMS
keys (whose ARNs carry only an id: AWS KMS Developer Guide, "Use aliases to control access to
KMS keys"), and by the `Environment` tag for Organizations policies (`aws:ResourceTag/...` and
`aws:RequestTag/...` on CreatePolicy, UpdatePolicy, AttachPolicy, ...; `organizations:PolicyType`
on the same actions: Service Authorization Reference, "AWS Organizations"). Account-wide
singletons (global and Region settings, the organization's resource policy, delegated
administrator registrations) have no name to scope by: only the owning stack's role gets them.
The preview role only reads. policies/pipeline.py puts them together with the pipeline's roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.arns import PARTITION, aws_managed_policy
from policies.doctor import (
    DESTINATION_READ_ACTIONS,
    MEMBER_READ_ACTIONS,
    ORGANIZATION_READ_ACTIONS,
)
from policies.iam import (
    BACKUP_SERVICE_ROLE_POLICIES,
    S3_BACKUP_SERVICE_ROLE_POLICIES,
)
from policies.statements import PolicyDocument, Statement, document

# The tag key the program's providers put on every resource (`standard_tags`: Environment).
ENVIRONMENT_TAG = "Environment"
# A policy variable, so that one document serves the deploy role in every account and only
# ever names resources of the account it is in (IAM User Guide, "IAM policy elements:
# Variables and tags": aws:PrincipalAccount is a single-valued key usable as a variable).
THIS_ACCOUNT = "${aws:PrincipalAccount}"

# What refresh, preview and `make doctor` read: Describe, Get and List only. AWS's
# `ReadOnlyAccess` managed policy is a superset, if you prefer one AWS keeps current.
READ_ACTIONS = tuple(
    sorted(
        {
            "backup:Describe*",
            "backup:Get*",
            "backup:List*",
            "cloudformation:Describe*",
            "cloudformation:List*",
            "cloudwatch:Describe*",
            "cloudwatch:ListTagsForResource",
            "dynamodb:Describe*",
            "dynamodb:ListTagsOfResource",
            "events:Describe*",
            "events:List*",
            "iam:Get*",
            "iam:List*",
            "kms:Describe*",
            "kms:Get*",
            "kms:List*",
            "lambda:Get*",
            "lambda:List*",
            "logs:Describe*",
            "logs:ListTagsForResource",
            "logs:ListTagsLogGroup",
            "organizations:Describe*",
            "organizations:List*",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "scheduler:Get*",
            "scheduler:List*",
            "sns:Get*",
            "sns:List*",
            *MEMBER_READ_ACTIONS,
            *ORGANIZATION_READ_ACTIONS,
            *DESTINATION_READ_ACTIONS,
        }
    )
)
# The managed policies the program attaches to the roles it creates (policies/iam.py): the
# only ones a deploy role may attach, so that it cannot attach AdministratorAccess to a role
# of its own name (`iam:PolicyARN`, Service Authorization Reference, "AWS Identity and Access
# Management (IAM)": AttachRolePolicy, DetachRolePolicy).
ATTACHABLE_POLICIES = tuple(
    aws_managed_policy(name)
    for name in (*BACKUP_SERVICE_ROLE_POLICIES, *S3_BACKUP_SERVICE_ROLE_POLICIES)
)
# Service-linked roles AWS Backup uses, created once per account by whoever first needs them
# (AWS Backup Developer Guide, "Using roles to back up and copy", "Using roles for restore
# testing": AWSServiceRoleForBackupRestoreTesting trusts restore-testing.backup.amazonaws.com;
# audit reports: AWSServiceRoleForBackupReports). Shared by every environment, and harmless.
SERVICE_LINKED_ROLE_SERVICES = (
    "backup.amazonaws.com",
    "reports.backup.amazonaws.com",
    "restore-testing.backup.amazonaws.com",
)
# The delegated-administrator registrations the program makes (OrganizationSettings).
DELEGATED_SERVICES = ("backup.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com")


def read_statement() -> Statement:
    """Describe, Get and List on everything: what refresh, preview and the doctor read."""
    return {"Sid": "Read", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"}


def preview_role_permissions() -> PolicyDocument:
    """`BackupPreviewer`: reads only, in whichever account it is in."""
    return document(read_statement())


@dataclass(frozen=True)
class DeployScope:
    """What one environment's deploy roles may change.

    `prefix` is the program's name prefix `<project>-<environment>`; vault and bucket names
    configured outside it (`destination.vaultName`, `dynamodbExport.bucket.name`, ...) are
    listed in `extra_vault_names` and `extra_bucket_names`. The singletons go only to the stack
    that owns them (`organization.manageGlobalSettings`, and the delegated administrator and
    resource policy with it; `backupPlan.regionSettings`).

    A prefix matches every longer name: environments `dev` and `dev-eu` would match each
    other's `aws-backup-copy-dev-*`; give environments names none of which starts with
    another's followed by `-`.
    """

    project: str
    environment: str
    extra_vault_names: tuple[str, ...] = ()
    extra_bucket_names: tuple[str, ...] = ()
    owns_organization_singletons: bool = False
    owns_region_settings: bool = False

    @property
    def prefix(self) -> str:
        """`<project>-<environment>`, the start of every name the program gives."""
        return f"{self.project}-{self.environment}"

    @property
    def underscore_prefix(self) -> str:
        """The prefix of Backup Audit Manager and restore testing names (no `-` allowed)."""
        return self.prefix.replace("-", "_")


def _arn(service: str, resource: str, region: str = "*") -> str:
    return f"arn:{PARTITION}:{service}:{region}:{THIS_ACCOUNT}:{resource}"


def _named_statements(scope: DeployScope) -> list[Statement]:
    """Statements scoped by the names in each resource's ARN."""
    name, underscored = f"{scope.prefix}-*", f"{scope.underscore_prefix}_*"
    vaults = [name, *scope.extra_vault_names]
    buckets = [name, *scope.extra_bucket_names]
    role_arn = f"arn:{PARTITION}:iam::{THIS_ACCOUNT}:role/{name}"
    return [
        {
            "Sid": "RolesOfThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:PassRole",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            "Resource": role_arn,
        },
        {
            "Sid": "AttachOnlyTheProgramsManagedPolicies",
            "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": role_arn,
            "Condition": {"ArnEquals": {"iam:PolicyARN": list(ATTACHABLE_POLICIES)}},
        },
        {
            "Sid": "AwsBackupServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:{PARTITION}:iam::{THIS_ACCOUNT}:role/aws-service-role/*",
            "Condition": {
                "StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLE_SERVICES)}
            },
        },
        {
            "Sid": "VaultsOfThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "backup:*BackupVault*",
                "backup:ListTags",
                "backup:TagResource",
                "backup:UntagResource",
            ],
            "Resource": [_arn("backup", f"backup-vault:{vault}") for vault in vaults],
        },
        {
            "Sid": "AuditAndRestoreTestingOfThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "backup:*Framework*",
                "backup:*ReportPlan*",
                "backup:*RestoreTesting*",
                "backup:ListTags",
                "backup:TagResource",
                "backup:UntagResource",
            ],
            "Resource": [
                _arn("backup", f"framework:{underscored}"),
                _arn("backup", f"report-plan:{underscored}"),
                _arn("backup", f"restore-testing-plan:{underscored}"),
            ],
        },
        {
            "Sid": "BucketsOfThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "s3:*Bucket*",
                "s3:*EncryptionConfiguration",
                "s3:*LifecycleConfiguration",
            ],
            "Resource": [f"arn:{PARTITION}:s3:::{bucket}" for bucket in buckets],
        },
        {
            "Sid": "ObjectsOfThisEnvironmentsCodeBuckets",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:{PARTITION}:s3:::{name}/*",
        },
        {
            "Sid": "ExporterAndAlertsOfThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:*Alarm*",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "dynamodb:*ContinuousBackups",
                "dynamodb:*Table",
                "dynamodb:*TimeToLive",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
                "events:*EventBus*",
                "events:*Rule",
                "events:*Targets*",
                "events:PutPermission",
                "events:RemovePermission",
                "events:TagResource",
                "events:UntagResource",
                "lambda:*Function*",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:UntagResource",
                "logs:*MetricFilter",
                "logs:*RetentionPolicy",
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:TagResource",
                "logs:UntagResource",
                "scheduler:*ScheduleGroup",
                "scheduler:TagResource",
                "scheduler:UntagResource",
                "sns:*SubscriptionAttributes",
                "sns:*Topic*",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:Unsubscribe",
                "sns:UntagResource",
            ],
            "Resource": [
                _arn("cloudwatch", f"alarm:{name}"),
                _arn("dynamodb", f"table/{name}"),
                _arn("events", f"event-bus/{name}"),
                # A rule on a custom bus is `rule/<bus>/<rule>`: the bus is ours too.
                _arn("events", f"rule/{name}"),
                _arn("lambda", f"function:{name}"),
                _arn("logs", f"log-group:/aws/lambda/{name}"),
                _arn("scheduler", f"schedule-group/{name}"),
                _arn("sns", name),
            ],
        },
        {
            "Sid": "MemberStackSetOfThisEnvironment",
            "Effect": "Allow",
            "Action": ["cloudformation:*StackInstances", "cloudformation:*StackSet*"],
            "Resource": [
                _arn("cloudformation", f"stackset/{name}"),
                _arn("cloudformation", f"stackset-target/{name}"),
            ],
        },
    ]


def _key_statements(scope: DeployScope) -> list[Statement]:
    """KMS keys by their aliases; new keys by the Environment tag they are created with.

    AWS KMS Developer Guide: "kms:ResourceAliases" (ForAnyValue: the key has one of our
    aliases); "Controlling access to aliases" (CreateAlias needs permission on the alias and on
    the key); "Managing KMS key tags with API operations" ("To add tags when creating a KMS key,
    the caller must have kms:TagResource permission in an IAM policy. At a minimum, the
    permission must cover all KMS keys in the account and Region"). A key that already has
    another environment's alias can be neither tagged nor aliased by this role
    (ForAllValues over its aliases: true for none, false for any foreign one).
    """
    alias = f"alias/{scope.prefix}-*"
    keys = _arn("kms", "key/*")
    only_our_aliases = {"ForAllValues:StringLike": {"kms:ResourceAliases": alias}}
    tagged_ours = {f"aws:ResourceTag/{ENVIRONMENT_TAG}": scope.environment}
    return [
        {
            "Sid": "KeysAliasedForThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "kms:CancelKeyDeletion",
                "kms:CreateGrant",
                "kms:DescribeKey",
                "kms:DisableKeyRotation",
                "kms:EnableKeyRotation",
                "kms:GetKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:ListResourceTags",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:UpdateKeyDescription",
            ],
            "Resource": keys,
            "Condition": {"ForAnyValue:StringLike": {"kms:ResourceAliases": alias}},
        },
        {
            "Sid": "CreateKeysTaggedForThisEnvironment",
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {f"aws:RequestTag/{ENVIRONMENT_TAG}": scope.environment}},
        },
        {
            "Sid": "TagNewKeysForThisEnvironment",
            "Effect": "Allow",
            "Action": "kms:TagResource",
            "Resource": keys,
            "Condition": {
                "StringEquals": {f"aws:RequestTag/{ENVIRONMENT_TAG}": scope.environment},
                **only_our_aliases,
            },
        },
        {
            "Sid": "AliasesOfThisEnvironment",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            "Resource": _arn("kms", alias),
        },
        {
            "Sid": "AliasKeysTaggedForThisEnvironment",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            "Resource": keys,
            "Condition": {"StringEquals": tagged_ours, **only_our_aliases},
        },
    ]


def _organization_policy_statements(scope: DeployScope) -> list[Statement]:
    """Backup policies by the Environment tag, attached only as BACKUP_POLICY.

    CreatePolicy with tags also needs organizations:TagResource (CreatePolicy API reference:
    "If the request includes tags, then the requester must have the organizations:TagResource
    permission"). Tagging is allowed only where the policy has no Environment tag yet or has
    this environment's (`StringEqualsIfExists`), so a deploy role cannot re-tag another
    environment's policy into its own scope.
    """
    policies = f"arn:{PARTITION}:organizations::*:policy/o-*/backup_policy/*"
    organizations = f"arn:{PARTITION}:organizations::*"
    environment = {f"aws:RequestTag/{ENVIRONMENT_TAG}": scope.environment}
    return [
        {
            "Sid": "CreateBackupPoliciesTaggedForThisEnvironment",
            "Effect": "Allow",
            "Action": "organizations:CreatePolicy",
            "Resource": policies,
            "Condition": {
                "StringEquals": {**environment, "organizations:PolicyType": "BACKUP_POLICY"}
            },
        },
        {
            "Sid": "TagBackupPoliciesForThisEnvironment",
            "Effect": "Allow",
            "Action": "organizations:TagResource",
            "Resource": policies,
            "Condition": {
                "StringEqualsIfExists": {
                    **environment,
                    f"aws:ResourceTag/{ENVIRONMENT_TAG}": scope.environment,
                }
            },
        },
        {
            "Sid": "BackupPoliciesTaggedForThisEnvironment",
            "Effect": "Allow",
            "Action": [
                "organizations:AttachPolicy",
                "organizations:DeletePolicy",
                "organizations:DetachPolicy",
                "organizations:UntagResource",
                "organizations:UpdatePolicy",
            ],
            "Resource": policies,
            "Condition": {
                "StringEquals": {f"aws:ResourceTag/{ENVIRONMENT_TAG}": scope.environment}
            },
        },
        {
            "Sid": "AttachBackupPoliciesToTargets",
            "Effect": "Allow",
            "Action": ["organizations:AttachPolicy", "organizations:DetachPolicy"],
            "Resource": [
                f"{organizations}:account/o-*/*",
                f"{organizations}:ou/o-*/ou-*",
                f"{organizations}:root/o-*/r-*",
            ],
            "Condition": {"StringEquals": {"organizations:PolicyType": "BACKUP_POLICY"}},
        },
    ]


def _singleton_statements(scope: DeployScope) -> list[Statement]:
    """Account- and organization-wide settings: only for the stack that owns them."""
    statements: list[Statement] = []
    if scope.owns_organization_singletons:
        statements += [
            {
                "Sid": "OrganizationSettingsOwnedByThisEnvironment",
                "Effect": "Allow",
                "Action": [
                    "backup:UpdateGlobalSettings",
                    "organizations:DeleteResourcePolicy",
                    "organizations:PutResourcePolicy",
                ],
                "Resource": "*",
            },
            {
                # The provider's default tags on the resource policy (docs/organization-scale.md).
                "Sid": "TagTheResourcePolicyOwnedByThisEnvironment",
                "Effect": "Allow",
                "Action": ["organizations:TagResource", "organizations:UntagResource"],
                "Resource": f"arn:{PARTITION}:organizations::*:resourcepolicy/o-*/*",
            },
            {
                "Sid": "DelegatedAdministratorsOwnedByThisEnvironment",
                "Effect": "Allow",
                "Action": [
                    "organizations:DeregisterDelegatedAdministrator",
                    "organizations:RegisterDelegatedAdministrator",
                ],
                "Resource": f"arn:{PARTITION}:organizations::*:account/o-*/*",
                "Condition": {
                    "StringEquals": {"organizations:ServicePrincipal": list(DELEGATED_SERVICES)}
                },
            },
        ]
    if scope.owns_region_settings:
        statements.append(
            {
                "Sid": "RegionSettingsOwnedByThisEnvironment",
                "Effect": "Allow",
                "Action": "backup:UpdateRegionSettings",
                "Resource": "*",
            }
        )
    return statements


def deploy_role_permissions(scope: DeployScope) -> PolicyDocument:
    """`BackupDeployer-<env>`: read everything, change only this environment's resources."""
    return document(
        read_statement(),
        *_named_statements(scope),
        *_key_statements(scope),
        *_organization_policy_statements(scope),
        *_singleton_statements(scope),
    )
