"""IAM trust policies for the roles this program creates."""

from __future__ import annotations

from collections.abc import Sequence

from policies.statements import PolicyDocument, document, service_principal

RESTORES_POLICY = "service-role/AWSBackupServiceRolePolicyForRestores"
BACKUP_SERVICE_ROLE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    RESTORES_POLICY,
)
# A copy job's role: the default service role's backup policy (copy and snapshot sharing).
COPY_JOB_ROLE_POLICIES = ("service-role/AWSBackupServiceRolePolicyForBackup",)
# S3 backups need their own managed policies on the role (AWS Backup Developer Guide,
# "Amazon S3 backups": "AWSBackupServiceRolePolicyForS3Backup" and "...ForS3Restore"); unlike
# the two above they live at the root path.
S3_RESTORE_POLICY = "AWSBackupServiceRolePolicyForS3Restore"
S3_BACKUP_SERVICE_ROLE_POLICIES = (
    "AWSBackupServiceRolePolicyForS3Backup",
    S3_RESTORE_POLICY,
)


def backup_service_role_policies(resource_types: Sequence[str]) -> tuple[str, ...]:
    """The managed policies the plan's service role needs for these resource types."""
    if "S3" in resource_types:
        return BACKUP_SERVICE_ROLE_POLICIES + S3_BACKUP_SERVICE_ROLE_POLICIES
    return BACKUP_SERVICE_ROLE_POLICIES


def split_role_name(name_with_path: str) -> tuple[str, str]:
    """`service-role/Name` -> (`/service-role/`, `Name`); a bare name lives at `/`."""
    prefix, _, name = name_with_path.rpartition("/")
    return (f"/{prefix}/" if prefix else "/", name)


def service_trust_policy(service: str) -> PolicyDocument:
    """Lets one AWS service (e.g. `backup`, `lambda`) assume the role, and nothing else."""
    return document(
        {
            "Sid": f"Trust{service.capitalize()}Service",
            "Effect": "Allow",
            "Principal": service_principal(service),
            "Action": "sts:AssumeRole",
        }
    )
