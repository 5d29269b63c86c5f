"""IAM trust policies for the roles this program creates."""

from __future__ import annotations

from policies.statements import PolicyDocument, document, service_principal

BACKUP_SERVICE_ROLE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
)


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
