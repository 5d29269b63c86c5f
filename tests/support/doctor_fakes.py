"""Answers, on purpose, for the AWS calls the doctor makes that moto 5.2.5 cannot answer.

Checked against moto 5.2.5 (`tests/doctor/test_moto_gaps.py` fails once moto catches up, so
these fakes can go):

- AWS Backup DescribeGlobalSettings, DescribeRegionSettings and GetBackupVaultAccessPolicy
  answer 404 "Not yet implemented" (PutBackupVaultAccessPolicy too, so no policy can be set);
  ListRecoveryPointsByBackupVault is not implemented (and copy jobs, which make them, neither);
- Organizations DescribeResourcePolicy is not implemented; CreatePolicy refuses the
  BACKUP_POLICY type, so ListPoliciesForTarget never lists one; RegisterDelegatedAdministrator
  refuses `backup.amazonaws.com` and the StackSets principal;
- KMS DescribeKey reports `KeyManager: CUSTOMER` for every key, `aws/*` ones included;
- EC2 GetEbsDefaultKmsKeyId is not implemented;
- STS AssumeRole lets anyone assume any role ("the role does not need to exist"), so an
  account the doctor cannot reach is made by refusing named roles here.

Everything else (Organizations accounts and OUs, vaults and Vault Lock, IAM, KMS policies,
RDS, EC2, the tagging API, AWS Config, S3) is moto's. The fakes are botocore event handlers
on each client the doctor makes (`Sessions(client_hook=...)`): `before-call` returns the
answer instead of sending the request, and `after-call` corrects DescribeKey.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

Answer = tuple[AWSResponse, dict[str, Any]]
# (account, Region, the call's parameters) -> the parsed answer, or an error code.
Responder = Callable[[str, str, dict[str, Any]], "dict[str, Any] | str | None"]


def _answer(body: dict[str, Any] | str) -> Answer:
    if isinstance(body, str):
        error = {"Error": {"Code": body, "Message": f"{body} (doctor_fakes)"}}
        return AWSResponse("", 400, {}, None), {
            **error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
    return AWSResponse("", 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


@dataclass
class Gaps:
    """What the calls moto lacks should answer, per account (and Region)."""

    # account -> DescribeGlobalSettings' GlobalSettings
    global_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    # (account, Region) -> {"ResourceTypeOptInPreference": ..., "ResourceTypeManagementPreference": ...}
    region_settings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (account, Region, vault name) -> access policy JSON
    vault_policies: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (account, Region, vault name) -> its recovery points (RecoveryPointByBackupVault shapes)
    recovery_points: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # The organization's resource policy: (id, JSON content), or None
    resource_policy: tuple[str, str] | None = None
    # target id -> names of the BACKUP_POLICY policies attached to it
    backup_policies: dict[str, list[str]] = field(default_factory=dict)
    # service principal -> delegated administrator account ids
    delegated: dict[str, list[str]] = field(default_factory=dict)
    # key ARNs that KMS manages (KeyManager AWS)
    aws_managed_keys: set[str] = field(default_factory=set)
    # (account, Region) -> the EBS default key ARN
    ebs_default_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    # role ARNs AssumeRole refuses
    refused_roles: set[str] = field(default_factory=set)
    # Seconds each answered call takes (the benchmark's latency).
    latency: float = 0.0
    answered: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def responders(self) -> dict[str, Responder]:
        """`service.Operation` -> how to answer it."""
        return {
            "backup.DescribeGlobalSettings": lambda a, r, p: {
                "GlobalSettings": self.global_settings.get(a, {})
            },
            "backup.DescribeRegionSettings": lambda a, r, p: self.region_settings.get(
                (a, r), {"ResourceTypeOptInPreference": {}, "ResourceTypeManagementPreference": {}}
            ),
            "backup.GetBackupVaultAccessPolicy": self._vault_policy,
            "backup.ListRecoveryPointsByBackupVault": self._recovery_points,
            "organizations.DescribeResourcePolicy": self._resource_policy,
            "organizations.ListPoliciesForTarget": self._attached,
            "organizations.ListDelegatedAdministrators": lambda a, r, p: {
                "DelegatedAdministrators": [
                    {"Id": account} for account in self.delegated.get(p["ServicePrincipal"], [])
                ]
            },
            "ec2.GetEbsDefaultKmsKeyId": lambda a, r, p: {
                "KmsKeyId": self.ebs_default_keys.get((a, r), f"arn:aws:kms:{r}:{a}:alias/aws/ebs")
            },
            "sts.AssumeRole": lambda a, r, p: (
                "AccessDenied" if p["RoleArn"] in self.refused_roles else None
            ),
        }

    def _vault_policy(
        self, account: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | str:
        policy = self.vault_policies.get((account, region, params["BackupVaultName"]))
        if policy is None:
            return "ResourceNotFoundException"
        return {"BackupVaultName": params["BackupVaultName"], "Policy": policy}

    def _recovery_points(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        points = self.recovery_points.get((account, region, params["BackupVaultName"]), [])
        after = params.get("ByCreatedAfter")
        return {
            "RecoveryPoints": [
                point for point in points if after is None or point["CreationDate"] >= after
            ]
        }

    def _resource_policy(
        self, account: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any] | str:
        if self.resource_policy is None:
            return "ResourcePolicyNotFoundException"
        policy_id, content = self.resource_policy
        return {"ResourcePolicy": {"ResourcePolicySummary": {"Id": policy_id}, "Content": content}}

    def _attached(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if params.get("Filter") != "BACKUP_POLICY":
            return None  # moto answers the policy types it has
        names = self.backup_policies.get(params["TargetId"], [])
        return {
            "Policies": [{"Id": f"p-{index:08d}", "Name": name} for index, name in enumerate(names)]
        }

    def install(self, client: Any, account: str, region: str) -> None:
        """Register the fakes on one client (a `Sessions` client hook)."""
        service = client.meta.service_model.service_id.hyphenize()
        for name, responder in self.responders().items():
            owner, operation = name.split(".")
            if owner != service:
                continue
            client.meta.events.register(
                f"before-parameter-build.{service}.{operation}", _keep_params
            )
            client.meta.events.register(
                f"before-call.{service}.{operation}",
                self._handler(name, responder, account, region),
            )
        if service == "kms":
            client.meta.events.register("after-call.kms.DescribeKey", self._key_manager)

    def _handler(
        self, name: str, responder: Responder, account: str, region: str
    ) -> Callable[..., Answer | None]:
        def handle(context: dict[str, Any], **_: Any) -> Answer | None:
            body = responder(account, region, context.get("doctor_params", {}))
            if body is None:
                return None
            with self._lock:
                self.answered[name] += 1
            time.sleep(self.latency)
            return _answer(body)

        return handle

    def _key_manager(self, parsed: dict[str, Any], **_: Any) -> None:
        metadata = parsed.get("KeyMetadata")
        if metadata is not None and metadata.get("Arn") in self.aws_managed_keys:
            metadata["KeyManager"] = "AWS"


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # `before-call` sees only the serialized request; the fakes answer from the parameters.
    context["doctor_params"] = dict(params)
