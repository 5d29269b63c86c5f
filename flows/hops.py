"""The hops of the flow catalogue, as data: who calls what, with which context, allowed by
which policies, documented where (`flows.catalogue` renders them into docs/flows.md)."""

from __future__ import annotations

from dataclasses import dataclass

# AWS pages, by a short name.
XACCT = 'AWS Backup Developer Guide, "Creating backup copies across AWS accounts"'
ENCRYPTION = 'AWS Backup Developer Guide, "Encryption for backups in AWS Backup"'
LAG = 'AWS Backup Developer Guide, "Logically air-gapped vault" ("Key policy for copy/restore", "IAM Role")'
VAULT_POLICIES = 'AWS Backup Developer Guide, "Vault access policies"'
BACKUP_ROLE_POLICY = "AWS Managed Policy Reference, AWSBackupServiceRolePolicyForBackup"
LINKED_ROLE_POLICY = "AWS Managed Policy Reference, AWSBackupServiceLinkedRolePolicyForBackup"
RESTORES_POLICY = "AWS Managed Policy Reference, AWSBackupServiceRolePolicyForRestores"
GLOBAL_KEYS = 'IAM User Guide, "AWS global condition context keys"'
CROSS_ACCOUNT = 'IAM User Guide, "Cross-account policy evaluation logic"'
KMS_KEYS = (
    'AWS KMS Developer Guide, "AWS KMS condition keys" (kms:ViaService, kms:GrantIsForAWSResource)'
)
KMS_EXTERNAL = 'AWS KMS Developer Guide, "Allowing users in other accounts to use a KMS key"'
BACKUP_POLICY_SYNTAX = (
    'AWS Organizations User Guide, "Backup policy syntax and examples" (iam_role_arn)'
)
DDB_EXPORT = 'Amazon DynamoDB Developer Guide, "Requesting a table export in DynamoDB"'
ACCESS_ANALYZER = 'IAM User Guide, "IAM Access Analyzer policy generation" (${aws:PrincipalAccount} in a bucket policy Resource)'
SCHEDULER = 'EventBridge Scheduler User Guide, "Cross-service confused deputy prevention"'
EB_CROSS_ACCOUNT = 'EventBridge User Guide, "Sending and receiving events between AWS accounts"'
EB_BUS_PERMISSIONS = 'EventBridge User Guide, "Permissions for event buses"'
EB_RESOURCE_BASED = 'EventBridge User Guide, "Using resource-based policies for Amazon EventBridge" (Amazon SNS permissions: "You can\'t use Condition blocks in Amazon SNS topic policies for EventBridge")'
SNS_KEYS = 'Amazon SNS Developer Guide, "Key management" ("Enable compatibility between event sources from AWS services and encrypted topics")'
REPORT_PLANS = 'AWS Backup Developer Guide, "Creating report plans" (the report bucket policy)'
RESTORE_TESTING = (
    'AWS Backup Developer Guide, "Restore testing" and "Using roles for restore testing"'
)
STACKSETS = (
    'AWS CloudFormation User Guide, "Activate trusted access for StackSets with AWS Organizations"'
)
DELEGATION = 'AWS Organizations User Guide, "Delegated administrator for AWS Organizations"'
ASSUME_ROLE = (
    'IAM User Guide, "Methods to assume a role" and "Roles terms and concepts" (trust policies)'
)


@dataclass(frozen=True)
class Hop:
    """One request a flow makes, as AWS evaluates it."""

    id: str
    flow: str
    title: str
    caller: str
    action: str
    resource: str
    present: tuple[str, ...]
    absent: tuple[str, ...]
    policies: tuple[str, ...]
    sources: tuple[str, ...]
    # What AWS documents: "documented", "inferred" (from two documented facts), or
    # "not documented"; for the last two, `proof` names the runbook step that proves it.
    confidence: str = "documented"
    proof: str = ""


BACKUP_ROLE = (
    "`arn:aws:iam::<member>:role/<backupPlan.serviceRoleName>` (the role the backup policy names)"
)
LINKED_ROLE = (
    "`arn:aws:iam::<account>:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup`"
)
COPY_BACK_ROLE = "`arn:aws:iam::<destination>:role/<prefix>-copy-back` (the copy-back job's role)"
ORG_KEYS = (
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
)
NO_SOURCE_KEYS = ("aws:SourceArn", "aws:SourceAccount", "aws:CalledVia")

HOPS: tuple[Hop, ...] = (
    # --- backup into the source vault -----------------------------------------------------------
    Hop(
        "backup.assume-service-role",
        "backup",
        "AWS Backup assumes the backup service role",
        "`backup.amazonaws.com`",
        "sts:AssumeRole",
        "the backup service role in each member account",
        (),
        ("aws:SourceArn", "aws:SourceAccount (AWS Backup documents none for this trust)"),
        ("the role's trust policy",),
        (BACKUP_POLICY_SYNTAX, ASSUME_ROLE),
    ),
    Hop(
        "backup.source-key-grant",
        "backup",
        "The backup service role grants AWS Backup the source vault key",
        BACKUP_ROLE,
        "kms:CreateGrant, kms:DescribeKey",
        "the source vault key (same account)",
        ("kms:ViaService = backup.<region>", "kms:GrantIsForAWSResource", *ORG_KEYS[:2]),
        NO_SOURCE_KEYS,
        ("source key policy (account root delegates to IAM)", f"identity: {BACKUP_ROLE_POLICY}"),
        (ENCRYPTION, BACKUP_ROLE_POLICY),
    ),
    # --- copy into the central vaults ---------------------------------------------------------
    Hop(
        "copy-in.vault",
        "copy-in",
        "The copy job puts the copy into each central vault (primary and DR Region)",
        BACKUP_ROLE,
        "backup:CopyIntoBackupVault",
        "each destination vault",
        ORG_KEYS,
        NO_SOURCE_KEYS,
        (
            "destination vault access policy (role by aws:PrincipalArn, scope by account, OU path or organization)",
            f"identity: {BACKUP_ROLE_POLICY} (BackupVaultPermissions)",
        ),
        (XACCT, VAULT_POLICIES, BACKUP_ROLE_POLICY, GLOBAL_KEYS),
        "inferred",
        "acceptance runbook step 4: the copy job's IamRoleArn is the backup service role, and a copy by another role fails",
    ),
    Hop(
        "copy-in.central-key",
        "copy-in",
        "The copy job's role grants AWS Backup the central key (each vault Region)",
        BACKUP_ROLE,
        "kms:CreateGrant (for AWS resources), kms:DescribeKey",
        "each destination vault key",
        (
            *ORG_KEYS,
            "kms:ViaService = backup.<region> (which Region for a DR copy: not documented)",
            "kms:GrantIsForAWSResource",
        ),
        NO_SOURCE_KEYS,
        (
            "destination key policy",
            f"identity: {BACKUP_ROLE_POLICY} (KMSPermissions, KMSCreateGrantPermissions)",
        ),
        (LAG, KMS_KEYS, KMS_EXTERNAL, CROSS_ACCOUNT),
        "inferred",
        "acceptance runbook step 4: CloudTrail CreateGrant on the central and DR keys, with the caller and kms:ViaService; no call by the backup role through EC2 (the key no longer admits one)",
    ),
    Hop(
        "copy-in.workload-key",
        "copy-in",
        "The destination's service-linked role reads a snapshot kept on the workload's key",
        f"the destination account's {LINKED_ROLE}",
        "kms:ReEncryptFrom, kms:CreateGrant, kms:DescribeKey, kms:ListGrants, kms:GenerateDataKeyWithoutPlaintext",
        "the RDS/Aurora/EBS/DocumentDB/Neptune resource's customer managed key (source account)",
        (
            "kms:ViaService = ec2|rds.<region>",
            "kms:GrantIsForAWSResource (CreateGrant)",
            "aws:PrincipalArn",
        ),
        NO_SOURCE_KEYS,
        (
            "the workload key's policy with `workloadKeyPolicyStatements`",
            f"identity: {LINKED_ROLE_POLICY}",
        ),
        (XACCT, ENCRYPTION, LINKED_ROLE_POLICY),
        "inferred",
        "acceptance runbook steps 1-4: an EBS and an RDS copy on keys with only these statements complete",
    ),
    Hop(
        "copy-in.source-vault-key",
        "copy-in",
        "The destination account reads a fully managed recovery point (EFS, DynamoDB, S3) under the source vault key",
        "a principal of the destination account (AWS does not name it)",
        "kms:Decrypt, kms:DescribeKey, kms:GenerateDataKey; kms:CreateGrant with the vault context",
        "the source vault key",
        (
            "kms:ViaService = backup.<region>",
            "kms:EncryptionContextKeys = aws:backup:backup-vault (CreateGrant)",
        ),
        NO_SOURCE_KEYS,
        ("source key policy (the destination account root, through AWS Backup only)",),
        (ENCRYPTION, XACCT),
        "not documented",
        "acceptance runbook step 4: CloudTrail on the source vault key during an EFS copy names the caller",
    ),
    # --- copy back ----------------------------------------------------------------------------
    Hop(
        "copy-back.source-vault",
        "copy-back",
        "A copy back lands in the source vault",
        COPY_BACK_ROLE,
        "backup:CopyIntoBackupVault",
        "each source vault",
        ORG_KEYS,
        NO_SOURCE_KEYS,
        (
            "source vault access policy (the copy-back role by aws:PrincipalArn, under the destination account root)",
            f"identity: {BACKUP_ROLE_POLICY}",
        ),
        (XACCT, VAULT_POLICIES),
    ),
    Hop(
        "copy-back.source-vault-key-grant",
        "copy-back",
        "The copy-back job's role grants AWS Backup the source vault key (fully managed types: EFS, DynamoDB, S3)",
        COPY_BACK_ROLE,
        "kms:CreateGrant (for AWS resources), kms:DescribeKey",
        "each source vault key",
        (
            "kms:ViaService = backup.<region>",
            "kms:GrantIsForAWSResource",
            "kms:EncryptionContextKeys = aws:backup:backup-vault, or none: not documented for a copy's grant",
            *ORG_KEYS,
        ),
        NO_SOURCE_KEYS,
        (
            "source key policy (the destination account, through AWS Backup, for AWS resources; no encryption context condition)",
            f"identity: {BACKUP_ROLE_POLICY} (KMSPermissions, KMSCreateGrantPermissions)",
        ),
        (LAG, ENCRYPTION, KMS_EXTERNAL, CROSS_ACCOUNT),
        "not documented",
        "acceptance runbook step 7: CloudTrail CreateGrant on the source vault key during the EFS and DynamoDB copies back, with its caller, granteePrincipal and constraints (encryption context)",
    ),
    Hop(
        "copy-back.central-key-snapshot",
        "copy-back",
        "The source account's service-linked role reads a snapshot copy back under the central key",
        f"the source account's {LINKED_ROLE}",
        "kms:ReEncryptFrom, kms:CreateGrant, kms:DescribeKey, kms:ListGrants, kms:GenerateDataKeyWithoutPlaintext",
        "each destination vault key",
        (
            "kms:ViaService = ec2|rds|fsx.<region> (never backup: the role's policy allows nothing through AWS Backup)",
            "kms:GrantIsForAWSResource (CreateGrant)",
            *ORG_KEYS,
        ),
        NO_SOURCE_KEYS,
        ("destination key policy (copy-back statements)", f"identity: {LINKED_ROLE_POLICY}"),
        (XACCT, LINKED_ROLE_POLICY),
        "inferred",
        "acceptance runbook step 7: the EBS or RDS copy back completes; CloudTrail names the caller",
    ),
    Hop(
        "copy-back.central-key-grant",
        "copy-back",
        "The copy-back job's role grants AWS Backup the central key (fully managed types: EFS, DynamoDB, S3)",
        COPY_BACK_ROLE,
        "kms:CreateGrant (for AWS resources), kms:DescribeKey",
        "each destination vault key (the role's own account)",
        ("kms:ViaService = backup.<region>", "kms:GrantIsForAWSResource", *ORG_KEYS[:2]),
        NO_SOURCE_KEYS,
        (
            "destination key policy (account root delegates to IAM)",
            f"identity: {BACKUP_ROLE_POLICY} (KMSPermissions, KMSCreateGrantPermissions)",
        ),
        (LAG, BACKUP_ROLE_POLICY, LINKED_ROLE_POLICY),
        "inferred",
        "acceptance runbook step 7: CloudTrail on the central key during the EFS and DynamoDB copies back names the copy-back role as the caller of CreateGrant; no source account principal calls it",
    ),
    # --- DynamoDB export ----------------------------------------------------------------------
    Hop(
        "export.put-object",
        "export",
        "DynamoDB writes an export under the exporter's own prefix",
        "`arn:aws:iam::<member>:role/<prefix>-ddb-export-<region>`",
        "s3:PutObject, s3:PutObjectAcl, s3:AbortMultipartUpload",
        "`<bucket>/<environment>/<its account>/<region>/...`",
        (
            "aws:PrincipalArn",
            "aws:PrincipalAccount (fills ${aws:PrincipalAccount})",
            "aws:PrincipalOrgID/OrgPaths (stackSets)",
        ),
        NO_SOURCE_KEYS,
        ("export bucket policy (bucket account)", "identity: the exporter role's inline policy"),
        (DDB_EXPORT, ACCESS_ANALYZER, CROSS_ACCOUNT),
        "documented",
        "acceptance runbook step 6: an export lands under its own prefix",
    ),
    Hop(
        "export.bucket-key",
        "export",
        "The export is encrypted with the bucket's key (encryption: KMS)",
        "`arn:aws:iam::<member>:role/<prefix>-ddb-export-<region>`",
        "kms:GenerateDataKey, kms:Decrypt",
        "the export bucket key",
        ("aws:PrincipalArn", "kms:ViaService (s3 or dynamodb: not documented)"),
        NO_SOURCE_KEYS,
        ("export bucket key policy", "identity: the exporter role's inline policy"),
        (DDB_EXPORT, KMS_EXTERNAL),
        "inferred",
        "acceptance runbook step 6 with encryption: KMS",
    ),
    Hop(
        "exporter.state-table",
        "exporter",
        "The exporter reads and writes its own state table, and no other stack's",
        "`arn:aws:iam::<member>:role/<prefix>-ddb-export-<region>`",
        "dynamodb:GetItem, PutItem, UpdateItem, Query, DeleteItem",
        "`<prefix>-dynamodb-export-state` in its account and Region",
        ("aws:PrincipalArn",),
        (),
        ("identity: the exporter role's inline policy (same account)",),
        ('IAM User Guide, "Policy evaluation for requests within a single account"',),
    ),
    Hop(
        "exporter.schedules",
        "exporter",
        "EventBridge Scheduler runs the exporter's one-time continuations",
        "`scheduler.amazonaws.com`",
        "sts:AssumeRole",
        "the exporter's scheduler role",
        ("aws:SourceAccount", "aws:SourceArn = the schedule group ARN"),
        (),
        ("the scheduler role's trust policy",),
        (SCHEDULER,),
    ),
    # --- alerts -------------------------------------------------------------------------------
    Hop(
        "alerts.assume-forwarder",
        "alerts",
        "EventBridge assumes the forwarding role of a member account",
        "`events.amazonaws.com`",
        "sts:AssumeRole",
        "`<prefix>-alert-forwarder` in each member account",
        (),
        (),
        ("the forwarder role's trust policy",),
        (EB_CROSS_ACCOUNT,),
    ),
    Hop(
        "alerts.put-events",
        "alerts",
        "A member rule forwards a failure to the central bus",
        "`arn:aws:iam::<member>:role/<prefix>-alert-forwarder`",
        "events:PutEvents",
        "the central bus",
        ORG_KEYS,
        NO_SOURCE_KEYS,
        (
            "central bus policy (the forwarder role by aws:PrincipalArn)",
            "identity: the forwarder role's inline policy",
        ),
        (EB_CROSS_ACCOUNT, EB_BUS_PERMISSIONS),
        "inferred",
        "acceptance runbook step 8: an exporter alarm set to ALARM reaches the email",
    ),
    Hop(
        "alerts.publish",
        "alerts",
        "A central rule publishes to the alert topic (and so can any other rule of the monitoring account: the documented residual)",
        "`events.amazonaws.com`",
        "sns:Publish",
        "the alert topic",
        (),
        (
            "every condition key: Condition blocks are not supported in SNS topic policies for EventBridge",
        ),
        ("topic policy (events.amazonaws.com, this topic, no condition)",),
        (EB_RESOURCE_BASED,),
    ),
    Hop(
        "alerts.topic-key",
        "alerts",
        "EventBridge encrypts the message with the topic key",
        "`events.amazonaws.com`",
        "kms:GenerateDataKey*, kms:Decrypt",
        "the alert topic key",
        (),
        (
            "aws:SourceAccount, aws:SourceArn, aws:SourceOrgID (not supported in the key policy for this hop)",
        ),
        ("topic key policy",),
        (SNS_KEYS,),
    ),
    # --- reports ------------------------------------------------------------------------------
    Hop(
        "reports.put-object",
        "reports",
        "Backup Audit Manager delivers a report",
        "`arn:aws:iam::<administering account>:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports`",
        "s3:PutObject",
        "the report bucket",
        ("aws:PrincipalArn", "aws:PrincipalAccount", "s3:x-amz-acl = bucket-owner-full-control"),
        NO_SOURCE_KEYS,
        ("report bucket policy (the role has no s3:PutObject of its own)",),
        (REPORT_PLANS,),
        "documented",
        "acceptance runbook step 9: a report job delivers a CSV",
    ),
    # --- restore testing ----------------------------------------------------------------------
    Hop(
        "restore-testing.assume",
        "restore-testing",
        "AWS Backup assumes the restore testing role",
        "`backup.amazonaws.com`",
        "sts:AssumeRole",
        "`<prefix>-restore-testing` in the destination account",
        (),
        ("aws:SourceArn", "aws:SourceAccount"),
        ("the restore role's trust policy",),
        (RESTORE_TESTING,),
    ),
    Hop(
        "restore-testing.central-key",
        "restore-testing",
        "A restore test reads a copy under the central key",
        "`arn:aws:iam::<destination>:role/<prefix>-restore-testing`",
        "kms:Decrypt, kms:CreateGrant, ... through the storage service",
        "each destination vault key (same account)",
        (
            "kms:ViaService = dynamodb|ec2|elasticfilesystem|rds.<region>",
            "kms:GrantIsForAWSResource",
        ),
        NO_SOURCE_KEYS,
        ("destination key policy (account root delegates to IAM)", f"identity: {RESTORES_POLICY}"),
        (RESTORE_TESTING, RESTORES_POLICY),
    ),
    # --- StackSets, delegation, doctor -------------------------------------------------------------
    Hop(
        "stacksets.code-bucket",
        "stacksets",
        "A member account's stack instance reads the exporter's code",
        "the StackSet execution role in a member account (`stacksets-exec-*`)",
        "s3:GetObject, s3:GetObjectVersion",
        "the code bucket in each Region (administering account)",
        ("aws:PrincipalOrgID", "aws:PrincipalArn"),
        NO_SOURCE_KEYS,
        (
            "code bucket policy (organization)",
            "identity: the execution role (AdministratorAccess by default)",
        ),
        (STACKSETS,),
        "inferred",
        "the first StackSet deployment: the member stacks create their exporter functions",
    ),
    Hop(
        "organization.delegated-policies",
        "organization",
        "The delegated administrator manages backup policies, and only backup policies",
        "a role of the delegated administrator account",
        "organizations:CreatePolicy, UpdatePolicy, AttachPolicy, ... with organizations:PolicyType = BACKUP_POLICY",
        "the organization's policies and targets",
        ("organizations:PolicyType", "aws:PrincipalAccount"),
        (),
        (
            "the organization's resource policy (management account)",
            "identity: the delegated administrator's deploy role",
        ),
        (DELEGATION,),
    ),
    Hop(
        "doctor.assume",
        "doctor",
        "make doctor assumes its read-only role in a member account it found under a targeted OU",
        "the administering account's preview or deploy role",
        "sts:AssumeRole",
        "`<organization.doctorRoleName>` in each member account (member template)",
        ("aws:PrincipalArn",),
        (),
        ("the doctor role's trust policy",),
        (ASSUME_ROLE, GLOBAL_KEYS),
    ),
    Hop(
        "doctor.read",
        "doctor",
        "make doctor reads, and cannot write",
        "`arn:aws:iam::<member>:role/<organization.doctorRoleName>`",
        "the Describe, List and Get calls of `policies/doctor.py`",
        "the member account's resources",
        (),
        (),
        ("identity: the doctor role's inline policy",),
        ('IAM User Guide, "Policy evaluation for requests within a single account"',),
    ),
)

FLOWS = tuple(dict.fromkeys(hop.flow for hop in HOPS))
