"""Each validation rule refuses bad input with a message that names the offending key."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from config import ConfigError, parse_stack_config
from config.loader import load_stack_file, project_values

PROJECT = "aws-backup-copy"


@functools.cache
def _stack_values(stack: str) -> dict[str, Any]:
    project, encoded = load_stack_file(stack)
    return project_values(project, encoded)


def stack_values(stack: str) -> dict[str, Any]:
    """A stack file's values, decoded, without the project namespace (a fresh copy)."""
    return copy.deepcopy(_stack_values(stack))


def problems_for(mutate: Callable[[dict[str, Any]], None], stack: str = "dev") -> list[str]:
    raw = copy.deepcopy(stack_values(stack))
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(PROJECT, raw)
    return list(caught.value.problems)


def test_real_stacks_parse() -> None:
    dev = parse_stack_config(PROJECT, stack_values("dev"))
    prod = parse_stack_config(PROJECT, stack_values("prod"))

    assert dev.destination.vault_name == "aws-backup-copy-dev-central"
    assert dev.destination.dr_region is None
    assert prod.destination.regions == ("ap-southeast-2", "ap-southeast-1")
    assert prod.backup_plan.service_role_path == "/"
    assert prod.backup_plan.service_role_short_name == "aws-backup-copy-prod-backup-service"
    assert prod.dynamodb_export is not None and prod.dynamodb_export.bucket.encryption == "KMS"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path (list indexes as numbers) to `value`."""

    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()

RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("account id is 12 digits", _set("destination.accountId", "2222"), "destination.accountId"),
    (
        "account id is required",
        _set("sourceAccounts.0.accountId", _DELETE),
        "sourceAccounts[0].accountId: is required",
    ),
    ("organization id format", _set("organization.id", "org-123"), "organization.id"),
    ("known Region", _set("destination.region", "mars-east-1"), "destination.region"),
    (
        "known Region in a list",
        _set("sourceAccounts.0.regions", ["ap-southeast-2", "eu-nowhere-9"]),
        "sourceAccounts[0].regions[1]",
    ),
    ("known DR Region", _set("destination.drRegion", "xx-1"), "destination.drRegion"),
    ("DR Region differs", _set("destination.drRegion", "ap-southeast-2"), "destination.drRegion"),
    (
        "role ARN in the same account",
        _set("destination.roleArn", "arn:aws:iam::111111111111:role/X"),
        "destination.roleArn: is in account 111111111111",
    ),
    (
        "role ARN format",
        _set("organization.managementAccount.roleArn", "BackupDeployer"),
        "organization.managementAccount.roleArn",
    ),
    (
        "cron has 6 fields",
        _set("backupPlan.scheduleExpression", "cron(10 14 * * *)"),
        "backupPlan.scheduleExpression",
    ),
    (
        "cron needs ?",
        _set("backupPlan.scheduleExpression", "cron(10 14 * * * *)"),
        "backupPlan.scheduleExpression",
    ),
    (
        "cron has ? in one day field only",
        _set("dynamodbExport.scheduleExpression", "cron(0 3 ? * ? *)"),
        "dynamodbExport.scheduleExpression",
    ),
    (
        "rate is plural above 1",
        _set("dynamodbExport.scheduleExpression", "rate(5 minute)"),
        "dynamodbExport.scheduleExpression",
    ),
    (
        "rate is singular for 1",
        _set("dynamodbExport.scheduleExpression", "rate(1 days)"),
        "dynamodbExport.scheduleExpression",
    ),
    (
        "backup plans take cron only",
        _set("backupPlan.scheduleExpression", "rate(12 hours)"),
        "backupPlan.scheduleExpression",
    ),
    (
        "digits only, not any numeral",
        _set("backupPlan.startWindowMinutes", "²"),
        "backupPlan.startWindowMinutes: must be a whole number",
    ),
    (
        "account target must be a source",
        _set("organization.policyTargets", ["ou-ab12-cdef3456", "999999999999"]),
        "organization.policyTargets[1]: account 999999999999 is not in sourceAccounts",
    ),
    (
        "destination is not a target",
        _set("organization.policyTargets", ["222222222222"]),
        "organization.policyTargets[0]: 222222222222 is the destination account",
    ),
    (
        "incremental exports keep a full base",
        lambda raw: raw["dynamodbExport"].update(
            exportType="INCREMENTAL_EXPORT", fullExportIntervalDays=35
        ),
        "dynamodbExport.retentionDays: must exceed fullExportIntervalDays (35)",
    ),
    (
        "schedule is cron or rate",
        _set("backupPlan.scheduleExpression", "daily"),
        "backupPlan.scheduleExpression",
    ),
    (
        "start window >= 60",
        _set("backupPlan.startWindowMinutes", 30),
        "backupPlan.startWindowMinutes",
    ),
    (
        "complete window > start",
        _set("backupPlan.completeWindowMinutes", 60),
        "backupPlan.completeWindowMinutes",
    ),
    ("delete after >= 1", _set("backupPlan.deleteAfterDays", 0), "backupPlan.deleteAfterDays"),
    (
        "delete after <= 36500",
        _set("backupPlan.copyDeleteAfterDays", 40000),
        "backupPlan.copyDeleteAfterDays",
    ),
    (
        "cold storage + 90",
        _set("backupPlan.coldStorageAfterDays", 10),
        "backupPlan.deleteAfterDays: must be at least coldStorageAfterDays + 90",
    ),
    (
        "copy cold storage + 90",
        _set("backupPlan.copyColdStorageAfterDays", 30),
        "backupPlan.copyDeleteAfterDays: must be at least copyColdStorageAfterDays + 90",
    ),
    (
        "vault name pattern",
        _set("destination.vaultName", "central backup!"),
        "destination.vaultName",
    ),
    (
        "vault name never Default",
        _set("destination.vaultName", "Default"),
        "destination.vaultName: must not be the Default vault",
    ),
    (
        "source vault never Default",
        _set("backupPlan.sourceVaultName", "default"),
        "backupPlan.sourceVaultName: must not be the Default vault",
    ),
    (
        "policy target format",
        _set("organization.policyTargets", ["ou-ab12-cdef3456", "team-a"]),
        "organization.policyTargets[1]",
    ),
    (
        "policy targets required",
        _set("organization.policyTargets", []),
        "organization.policyTargets: must not be empty",
    ),
    (
        "no duplicate source",
        lambda raw: raw["sourceAccounts"].append(copy.deepcopy(raw["sourceAccounts"][0])),
        "sourceAccounts[1].accountId: 111111111111 is listed twice",
    ),
    (
        "destination is not a source",
        _set("sourceAccounts.0", {"accountId": "222222222222", "regions": ["ap-southeast-2"]}),
        "sourceAccounts[0].accountId: 222222222222 is the destination account",
    ),
    (
        "source regions cover plan",
        _set("backupPlan.regions", ["ap-southeast-2", "eu-west-1"]),
        "sourceAccounts[0].regions: must cover every backupPlan.regions entry",
    ),
    (
        "unknown key is a typo",
        _set("destination.valtName", "x"),
        "destination.valtName: is not a known key",
    ),
    (
        "numbers are numbers",
        _set("backupPlan.startWindowMinutes", "soon"),
        "backupPlan.startWindowMinutes: must be a whole number",
    ),
    (
        "booleans are booleans",
        _set("backupPlan.windowsVss", "maybe"),
        "backupPlan.windowsVss: must be true or false",
    ),
    ("section must be an object", _set("destination", "central"), "destination: must be an object"),
    ("section is required", _set("backupPlan", _DELETE), "backupPlan: is required"),
    (
        "selection values are strings",
        _set("backupPlan.selectionTag.values", [True]),
        "backupPlan.selectionTag.values",
    ),
    (
        "copy access mode",
        _set("destination.allowCopiesFrom", "everyone"),
        "destination.allowCopiesFrom",
    ),
    (
        "export bucket name",
        _set("dynamodbExport.bucket.name", "Bad_Bucket"),
        "dynamodbExport.bucket.name",
    ),
    (
        "export concurrency <= 300",
        _set("dynamodbExport.maxConcurrentExports", 301),
        "dynamodbExport.maxConcurrentExports",
    ),
    ("export format", _set("dynamodbExport.exportFormat", "CSV"), "dynamodbExport.exportFormat"),
    ("export type", _set("dynamodbExport.exportType", "DELTA"), "dynamodbExport.exportType"),
    (
        "export schedule",
        _set("dynamodbExport.scheduleExpression", "cron(0 3 * * *)"),
        "dynamodbExport.scheduleExpression",
    ),
    (
        "log retention is a CloudWatch value",
        _set("dynamodbExport.logRetentionDays", 45),
        "dynamodbExport.logRetentionDays",
    ),
    (
        "bucket account role matches",
        _set("dynamodbExport.bucket.roleArn", "arn:aws:iam::111111111111:role/X"),
        "dynamodbExport.bucket.roleArn",
    ),
]


def _region_settings(raw: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = raw["backupPlan"]["regionSettings"]
    return settings


RULES += [
    (
        "the console's role is not created",
        _set("backupPlan.serviceRoleName", "service-role/AWSBackupDefaultServiceRole"),
        "backupPlan.serviceRoleName: AWSBackupDefaultServiceRole is the role the AWS Backup console creates",
    ),
    (
        "derived plan name fits AWS Backup",
        _set("backupPlan.name", "a-very-long-plan-name-for-nightly"),
        "backupPlan.name: becomes the plan and rule name 'aws-backup-copy-dev-a-very-long-plan-name-for-nightly'",
    ),
    (
        "account ids are quoted strings",
        _set("destination.accountId", 222222222222),
        'destination.accountId: must be a string: quote it (accountId: "222222222222")',
    ),
    (
        "account ids in target lists are quoted",
        _set("organization.policyTargets", [111111111111]),
        "organization.policyTargets: must be a list of strings (quote numbers such as account ids",
    ),
    (
        "a nested typo gets the nearest key",
        _set("destination.valtName", "x"),
        "destination.valtName: is not a known key; did you mean 'vaultName'?",
    ),
    (
        "dev does not own global settings, so it sets none",
        _set(
            "organization.globalSettings",
            {"isMpaEnabled": False, "isDelegatedAdministratorEnabled": False},
        ),
        "organization.globalSettings: is only used with organization.manageGlobalSettings: true",
    ),
    (
        "the owner states every global setting",
        _set("organization.manageGlobalSettings", True),
        "organization.globalSettings: is required while organization.manageGlobalSettings is true",
    ),
    (
        "manageRegionSettings needs regionSettings",
        _set("sourceAccounts.0.manageRegionSettings", False),
        "sourceAccounts[0].manageRegionSettings: only applies when backupPlan.regionSettings is set",
    ),
]


def _stack_sets(raw: dict[str, Any]) -> None:
    raw["organization"]["memberDeployment"] = "stackSets"
    del raw["sourceAccounts"]
    raw["organization"]["policyTargets"] = ["ou-ab12-cdef3456"]


def _then(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(raw)

    return mutate


RULES += [
    (
        "one role per account",
        _then(
            _set("dynamodbExport.bucket.accountId", "222222222222"),
            _set("dynamodbExport.bucket.roleArn", "arn:aws:iam::222222222222:role/Other"),
            _set(
                "dynamodbExport.bucket.previewRoleArn",
                "arn:aws:iam::222222222222:role/BackupPreviewer",
            ),
        ),
        "dynamodbExport.bucket.roleArn: account 222222222222 is also reached through destination "
        "with roleArn arn:aws:iam::222222222222:role/BackupDeployer",
    ),
    (
        "preview role in the same account",
        _set("destination.previewRoleArn", "arn:aws:iam::111111111111:role/Previewer"),
        "destination.previewRoleArn: is in account 111111111111",
    ),
    (
        "providers mode needs sourceAccounts",
        _set("sourceAccounts", _DELETE),
        "sourceAccounts: is required with organization.memberDeployment: providers",
    ),
    (
        "stackSets mode refuses sourceAccounts",
        _set("organization.memberDeployment", "stackSets"),
        "sourceAccounts: is refused with organization.memberDeployment: stackSets",
    ),
    (
        "stackSets targets OUs and roots",
        _then(
            _stack_sets, _set("organization.policyTargets", ["ou-ab12-cdef3456", "111111111111"])
        ),
        "organization.policyTargets[1]: 111111111111 is an account; with memberDeployment: stackSets",
    ),
    (
        "stackSets mode has no source accounts to admit copies from",
        _then(_stack_sets, _set("destination.allowCopiesFrom", "accounts")),
        "destination.allowCopiesFrom: accounts admits the sourceAccounts, which memberDeployment: "
        "stackSets has none of",
    ),
    (
        "deployment modes are named",
        _set("organization.memberDeployment", "terraform"),
        "organization.memberDeployment: must be 'providers' or 'stackSets'",
    ),
    (
        "the management account is not its own delegated administrator",
        _set("organization.delegatedAdministrator", {"accountId": "000000000000"}),
        "organization.delegatedAdministrator.accountId: must be a member account",
    ),
    (
        "delegation statements belong to the owner",
        _then(
            _set("organization.delegatedAdministrator", {"accountId": "888888888888"}),
            _set("organization.extraDelegationStatements", [{"Sid": "Other"}]),
        ),
        "organization.extraDelegationStatements: belongs to the organization's delegation",
    ),
]

PROD_RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "lock mode is named",
        _set("destination.vaultLock.mode", _DELETE),
        "destination.vaultLock.mode: is required",
    ),
    (
        "lock mode is governance or compliance",
        _set("destination.vaultLock.mode", "strict"),
        "destination.vaultLock.mode: must be 'governance'",
    ),
    (
        "compliance needs its grace period",
        _set("destination.vaultLock.changeableForDays", _DELETE),
        "destination.vaultLock.changeableForDays: is required with mode: compliance",
    ),
    (
        "governance refuses a grace period",
        _set("destination.vaultLock.mode", "governance"),
        "destination.vaultLock.changeableForDays: is refused with mode: governance",
    ),
    (
        "opt-in map lists every type",
        lambda raw: _region_settings(raw)["optIn"].pop("FSx"),
        "backupPlan.regionSettings.optIn.FSx: is required: list every resource type the provider reads back",
    ),
    (
        "management map lists every type",
        lambda raw: _region_settings(raw)["fullManagement"].pop("DSQL"),
        "backupPlan.regionSettings.fullManagement.DSQL: is required: list every resource type",
    ),
    (
        "unknown resource type in a map",
        lambda raw: _region_settings(raw)["optIn"].update({"Dynamodb": True}),
        "backupPlan.regionSettings.optIn.Dynamodb: is not a known key; did you mean 'DynamoDB'?",
    ),
    (
        "opt-in values are booleans",
        lambda raw: _region_settings(raw)["optIn"].update({"EBS": "yes"}),
        "backupPlan.regionSettings.optIn.EBS: must be true or false",
    ),
    (
        "plan types are opted in",
        lambda raw: _region_settings(raw)["optIn"].update({"RDS": False}),
        "backupPlan.regionSettings.optIn.RDS: must be true: backupPlan.resourceTypes[4] is RDS",
    ),
    (
        "DynamoDB copies need advanced backup",
        lambda raw: _region_settings(raw)["fullManagement"].update({"DynamoDB": False}),
        "backupPlan.regionSettings.fullManagement.DynamoDB: must be true while DynamoDB is opted in",
    ),
    (
        "resource types are required with region settings",
        _set("backupPlan.resourceTypes", _DELETE),
        "backupPlan.resourceTypes: is required with backupPlan.regionSettings",
    ),
    (
        "resource types are AWS Backup's names",
        _set("backupPlan.resourceTypes", ["EBS", "Dynamo"]),
        "backupPlan.resourceTypes[1]: is not a known resource type; did you mean 'DynamoDB'?",
    ),
]


PROD_RULES += [
    (
        "extra delegation statements use their own Sids",
        _set("organization.extraDelegationStatements", [{"Sid": "DelegateBackupPoliciesManage"}]),
        "organization.extraDelegationStatements[0].Sid: DelegateBackupPoliciesManage is one of",
    ),
    (
        "stackSets mode has no Region settings",
        _then(_stack_sets, _set("organization.policyTargets", ["ou-ab12-prod7890"])),
        "backupPlan.regionSettings: is refused with memberDeployment: stackSets",
    ),
    (
        "a delegated administrator needs AWS Backup's delegation switched on",
        _set("organization.globalSettings.isDelegatedAdministratorEnabled", False),
        "organization.globalSettings.isDelegatedAdministratorEnabled: must be true",
    ),
]


def _restore(raw: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = raw["restoreTesting"]
    return section


def _test_also(resource_type: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: _restore(raw)["resourceTypes"].append(resource_type)


# prod tests DynamoDB, EFS and RDS in ap-southeast-2 and its DR Region ap-southeast-1.
PROD_RULES += [
    (
        "restore schedules are AWS cron with 6 fields",
        _set("restoreTesting.scheduleExpression", "cron(0 18 ? * SUN)"),
        "restoreTesting.scheduleExpression: AWS cron needs 6 fields",
    ),
    (
        "restore schedules take ? in one day field",
        _set("restoreTesting.scheduleExpression", "cron(0 18 * * SUN *)"),
        "restoreTesting.scheduleExpression: AWS cron needs '?' in exactly one",
    ),
    (
        "restore schedules take hours 0-23",
        _set("restoreTesting.scheduleExpression", "cron(0 24 ? * SUN *)"),
        "restoreTesting.scheduleExpression: AWS cron hours must be 0-23 (24 is not)",
    ),
    (
        "restore schedules take no rate()",
        _set("restoreTesting.scheduleExpression", "rate(7 days)"),
        "restoreTesting.scheduleExpression: must be cron(...) with 6 fields, got 'rate(7 days)'",
    ),
    (
        "selection window is at least a day",
        _set("restoreTesting.selectionWindowDays", 0),
        "restoreTesting.selectionWindowDays: must be between 1 and 365, got 0",
    ),
    (
        "selection window is at most a year",
        _set("restoreTesting.selectionWindowDays", 366),
        "restoreTesting.selectionWindowDays: must be between 1 and 365, got 366",
    ),
    (
        "validation window is at most a week",
        _set("restoreTesting.validationWindowHours", 169),
        "restoreTesting.validationWindowHours: must be between 1 and 168, got 169",
    ),
    (
        "a validation window of 0 says why the provider refuses it",
        _set("restoreTesting.validationWindowHours", 0),
        "restoreTesting.validationWindowHours: must be between 1 and 168, got 0: the AWS "
        "provider refuses 0",
    ),
    (
        "restore types are AWS Backup's names",
        _set("restoreTesting.resourceTypes", ["DynamoDB", "Dynamo"]),
        "restoreTesting.resourceTypes[1]: is not a known resource type; did you mean 'DynamoDB'?",
    ),
    (
        "a type is tested once",
        _test_also("EFS"),
        "restoreTesting.resourceTypes: has duplicates",
    ),
    (
        "something is tested",
        _set("restoreTesting.resourceTypes", []),
        "restoreTesting.resourceTypes: must not be empty",
    ),
    (
        "a tested type is one the plan backs up",
        _test_also("Neptune"),
        "restoreTesting.resourceTypes[3]: Neptune is not in backupPlan.resourceTypes, so the "
        "central vault would hold no recovery point of it to test",
    ),
    (
        "EC2 needs a subnet in the destination account",
        _test_also("EC2"),
        "restoreTesting.metadataOverrides.EC2.subnetId: is required to test EC2 (here, or per "
        "Region under restoreTesting.regionMetadataOverrides): the destination account's subnet "
        "to restore into, with securityGroupIds for its security groups; without it AWS Backup "
        "restores into the destination account's default VPC",
    ),
    (
        "RDS needs its DB subnet group in every vault Region",
        lambda raw: _restore(raw).update(
            metadataOverrides={},
            regionMetadataOverrides={
                "ap-southeast-2": {
                    "RDS": {"dbSubnetGroupName": "restore-tests", "vpcSecurityGroupIds": ["sg-1"]}
                }
            },
        ),
        "restoreTesting.regionMetadataOverrides.ap-southeast-1.RDS.dbSubnetGroupName: is "
        "required to test RDS in ap-southeast-1: the destination account's DB subnet group",
    ),
    (
        "FSx placement depends on the file system type",
        _then(
            _test_also("FSx"),
            lambda raw: raw["backupPlan"]["resourceTypes"].append("FSx"),
            lambda raw: raw["backupPlan"]["regionSettings"]["optIn"].update(FSx=True),
        ),
        "restoreTesting.metadataOverrides.FSx: is required to test FSx (here, or per Region "
        "under restoreTesting.regionMetadataOverrides): give subnetIds and securityGroupIds "
        "(FSx for Lustre, OpenZFS and Windows File Server",
    ),
    (
        "overrides of an untested type are never used",
        lambda raw: _restore(raw)["metadataOverrides"].update(EC2={"instanceType": "t3.micro"}),
        "restoreTesting.metadataOverrides.EC2: EC2 is not in restoreTesting.resourceTypes, so it "
        "would never be used",
    ),
    (
        "override types are AWS Backup's names",
        lambda raw: _restore(raw)["metadataOverrides"].update(Rds={"dbSubnetGroupName": "x"}),
        "restoreTesting.metadataOverrides.Rds: is not a known resource type; did you mean 'RDS'?",
    ),
    (
        "Region overrides are for a vault Region",
        lambda raw: _restore(raw)["regionMetadataOverrides"].update(
            {"us-east-1": {"RDS": {"vpcSecurityGroupIds": ["sg-1"]}}}
        ),
        "restoreTesting.regionMetadataOverrides.us-east-1: us-east-1 is neither "
        "destination.region nor destination.drRegion (ap-southeast-2, ap-southeast-1)",
    ),
    (
        "Region overrides name a Region",
        lambda raw: _restore(raw)["regionMetadataOverrides"].update({"mars-east-1": {}}),
        "restoreTesting.regionMetadataOverrides.mars-east-1: is not a known AWS Region",
    ),
    (
        "ids of one Region are given per Region",
        lambda raw: _restore(raw)["metadataOverrides"]["RDS"].update(
            vpcSecurityGroupIds=["sg-0a1b2c3d4e5f60718"]
        ),
        "restoreTesting.metadataOverrides.RDS.vpcSecurityGroupIds: names things of one Region, "
        "but tests run in ap-southeast-2 and ap-southeast-1: give it per Region under "
        "restoreTesting.regionMetadataOverrides.<region>.RDS.vpcSecurityGroupIds",
    ),
    (
        "list overrides are lists",
        lambda raw: _restore(raw)["regionMetadataOverrides"]["ap-southeast-1"]["RDS"].update(
            vpcSecurityGroupIds="sg-0f1e2d3c4b5a69788"
        ),
        "restoreTesting.regionMetadataOverrides.ap-southeast-1.RDS.vpcSecurityGroupIds: is a "
        "list: write it as a YAML list ([sg-0f1e2d3c4b5a69788])",
    ),
    (
        "override lists hold strings",
        lambda raw: _restore(raw)["regionMetadataOverrides"]["ap-southeast-1"]["RDS"].update(
            vpcSecurityGroupIds=[1]
        ),
        "restoreTesting.regionMetadataOverrides.ap-southeast-1.RDS.vpcSecurityGroupIds: must be "
        "a string or a list of strings, got [1]",
    ),
]


# Ownership of the organization's singletons (prod owns them and has a delegate).
PROD_RULES += [
    (
        "the owner says whether it creates or adopts the resource policy",
        _set("organization.createResourcePolicy", _DELETE),
        "organization.createResourcePolicy: the organization has one resource policy; set "
        "createResourcePolicy: true if none exists yet, or importResourcePolicyId",
    ),
    (
        "the owner does not both create and adopt the resource policy",
        _set("organization.importResourcePolicyId", "rp-abcdefgh12"),
        "organization.createResourcePolicy: the organization has one resource policy; set only one",
    ),
    (
        "registrations are adopted by name of service",
        _set("organization.importDelegatedAdministratorRegistrations", ["backup"]),
        "organization.importDelegatedAdministratorRegistrations[0]: must be",
    ),
    (
        "a root target in providers mode reaches accounts the stack does not prepare",
        _set("organization.policyTargets", ["r-ab12"]),
        "organization.policyTargets[0]: r-ab12 is the root: with memberDeployment: providers",
    ),
    (
        "an existing service role must be named",
        _set("backupPlan.createServiceRole", False),
        "backupPlan.serviceRoleName: is required with createServiceRole: false",
    ),
]
RULES_FOR_NON_OWNERS = [
    (
        "a targeted root admits the whole organization only when the stack file says so",
        _set("organization.policyTargets", ["r-ab12"]),
        "destination.allowCopiesFrom: organization.policyTargets targets the root r-ab12, so "
        "its default, policyTargets, would let every account",
    ),
    (
        "only the owner creates the resource policy",
        _set("organization.createResourcePolicy", True),
        "organization.createResourcePolicy: belongs to the organization's delegation",
    ),
    (
        "only the owner adopts registrations",
        _set("organization.importDelegatedAdministratorRegistrations", ["backup.amazonaws.com"]),
        "organization.importDelegatedAdministratorRegistrations: belongs to the organization's",
    ),
    (
        "the IAM Region is a plan Region",
        _set("organization.stackSet", {"iamRegion": "us-west-2"}),
        "organization.stackSet.iamRegion: us-west-2 is not one of backupPlan.regions",
    ),
]


@pytest.mark.parametrize(
    ("rule", "mutate", "expected"),
    RULES_FOR_NON_OWNERS,
    ids=[rule for rule, _, _ in RULES_FOR_NON_OWNERS],
)
def test_sandbox_rule_names_the_key(
    rule: str, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = problems_for(mutate, stack="sandbox")

    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize(
    ("rule", "mutate", "expected"), PROD_RULES, ids=[rule for rule, _, _ in PROD_RULES]
)
def test_prod_rule_names_the_key(
    rule: str, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = problems_for(mutate, stack="prod")

    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_defaulted_name_that_would_be_too_long_says_how_to_fix_it() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    project = "aws-backup-copy-with-a-much-longer-project-name"

    with pytest.raises(ConfigError) as caught:
        parse_stack_config(project, raw)

    assert any(
        p.startswith(
            "destination.vaultName: the default name 'aws-backup-copy-with-a-much-longer-project-name-dev-central'"
        )
        and "set it explicitly" in p
        for p in caught.value.problems
    ), caught.value.problems


def test_defaults_carry_project_and_environment() -> None:
    dev = parse_stack_config(PROJECT, stack_values("dev"))
    prod = parse_stack_config(PROJECT, stack_values("prod"))

    assert dev.destination.vault_name == "aws-backup-copy-dev-central"
    assert dev.backup_plan.source_vault_name == "aws-backup-copy-dev-source"
    assert prod.backup_plan.source_vault_name == "aws-backup-copy-prod-source"
    assert dev.backup_plan.service_role_name == "aws-backup-copy-dev-backup-service"
    assert dev.backup_plan.create_service_role is True
    assert dev.plan_key == "aws-backup-copy-dev-daily"
    assert dev.organization.manage_global_settings is False
    assert prod.organization.manage_global_settings is True


def test_an_existing_console_role_may_be_named_when_not_created() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    raw["backupPlan"]["serviceRoleName"] = "service-role/AWSBackupDefaultServiceRole"
    raw["backupPlan"]["createServiceRole"] = False

    plan = parse_stack_config(PROJECT, raw).backup_plan

    assert plan.service_role_short_name == "AWSBackupDefaultServiceRole"
    assert plan.create_service_role is False


@pytest.mark.parametrize(("rule", "mutate", "expected"), RULES, ids=[rule for rule, _, _ in RULES])
def test_rule_names_the_key(
    rule: str, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = problems_for(mutate)

    assert any(problem.startswith(expected) for problem in problems), problems


def test_vault_lock_must_admit_the_copy_retention() -> None:
    problems = problems_for(_set("backupPlan.copyDeleteAfterDays", 500), stack="prod")

    assert any(
        p.startswith("backupPlan.copyDeleteAfterDays: must be at most destination.vaultLock")
        for p in problems
    )


def test_vault_lock_compliance_grace_is_at_least_three_days() -> None:
    problems = problems_for(_set("destination.vaultLock.changeableForDays", 1), stack="prod")

    assert any(p.startswith("destination.vaultLock.changeableForDays") for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    def break_three_things(raw: dict[str, Any]) -> None:
        raw["destination"]["vaultName"] = "Default"
        raw["backupPlan"]["startWindowMinutes"] = 5
        raw["organization"]["id"] = "nope"

    problems = problems_for(break_three_things)

    assert len(problems) == 3
    message = str(ConfigError(problems))
    assert "destination.vaultName" in message and "backupPlan.startWindowMinutes" in message
    assert "organization.id" in message


def test_field_errors_and_cross_section_rules_are_reported_together() -> None:
    def break_both_kinds(raw: dict[str, Any]) -> None:
        raw["backupPlan"]["startWindowMinutes"] = "soon"  # a field of one section
        raw["organization"]["policyTargets"] = ["999999999999"]  # relates two sections

    problems = problems_for(break_both_kinds)

    assert problems == [
        "backupPlan.startWindowMinutes: must be a whole number, got 'soon'",
        "organization.policyTargets[0]: account 999999999999 is not in sourceAccounts, so it "
        "has no source vault or service role",
    ]


def test_non_mapping_lists_and_missing_everything_never_crash() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(PROJECT, {"sourceAccounts": "111111111111", "organization": [1]})

    problems = caught.value.problems
    assert "environment: is required" in problems
    assert any(p.startswith("sourceAccounts: must be a list") for p in problems)
    assert any(p.startswith("organization: must be an object") for p in problems)


def test_role_arn_is_optional() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    del raw["destination"]["roleArn"]

    config = parse_stack_config(PROJECT, raw)

    assert config.destination.account.role_arn is None
    assert config.destination.account.account_id == "222222222222"


def test_catch_up_runs_hourly_unless_switched_off() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    export = parse_stack_config(PROJECT, raw).dynamodb_export
    raw["dynamodbExport"]["catchUpScheduleExpression"] = "none"
    switched_off = parse_stack_config(PROJECT, raw).dynamodb_export

    assert export is not None and export.catch_up_schedule == "cron(5 * * * ? *)"
    assert switched_off is not None and switched_off.catch_up_schedule is None


def test_valid_schedules_pass() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    for expression in (
        "rate(1 hour)",
        "rate(15 minutes)",
        "cron(0 3 * * ? *)",
        "cron(0 3 ? * MON-FRI *)",
    ):
        raw["dynamodbExport"]["scheduleExpression"] = expression
        export = parse_stack_config(PROJECT, raw).dynamodb_export
        assert export is not None and export.schedule_expression == expression


def test_export_is_off_unless_enabled() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    raw["dynamodbExport"]["enabled"] = False

    assert parse_stack_config(PROJECT, raw).dynamodb_export is None


WRONG_VALUES: list[Any] = [None, 7, "x", True, [], {}, [{}], ["x"]]


def _paths(node: Any, prefix: str = "") -> list[str]:
    """Every dotted path (list indexes as numbers) in a decoded config."""
    children: Iterable[tuple[str, Any]]
    if isinstance(node, dict):
        children = node.items()
    elif isinstance(node, list):
        children = ((str(index), value) for index, value in enumerate(node))
    else:
        return []
    paths = []
    for key, value in children:
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        paths.extend(_paths(value, path))
    return paths


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_any_wrong_type_anywhere_is_a_config_error_never_a_crash(stack: str) -> None:
    paths = _paths(stack_values(stack))
    for path in paths:
        for wrong in WRONG_VALUES:
            raw = copy.deepcopy(stack_values(stack))
            _set(path, wrong)(raw)
            try:
                parse_stack_config(PROJECT, raw)
            except ConfigError as error:
                # The offending key, or the object/list holding it, is named.
                named = re.sub(r"\.(\d+)", r"[\1]", path)
                keys = [problem.split(": ", 1)[0] for problem in error.problems]
                # (A switch such as manageGlobalSettings is named in the problem it causes.)
                assert any(named.startswith(key) or key.startswith(named) for key in keys) or any(
                    named in problem for problem in error.problems
                ), (path, keys)
            # Any other exception fails the test with the path in the traceback.
    assert len(paths) > 40


def test_restore_overrides_reach_aws_backup_as_it_reads_them() -> None:
    raw = stack_values("prod")
    restore = raw["restoreTesting"]
    restore["metadataOverrides"]["RDS"]["DBInstanceClass"] = "db.t4g.micro"
    restore["regionMetadataOverrides"]["ap-southeast-1"]["RDS"]["dbinstanceclass"] = "db.t3.micro"
    restore["regionMetadataOverrides"]["ap-southeast-1"]["RDS"]["vpcSecurityGroupIds"] = [
        "sg-1",
        "sg-2",
    ]

    config = parse_stack_config(PROJECT, raw).restore_testing

    assert config is not None
    # Lists become JSON arrays; the Region's value wins over the shared one whatever its case.
    assert config.overrides("ap-southeast-1", "RDS") == {
        "dbSubnetGroupName": "restore-tests",
        "dbinstanceclass": "db.t3.micro",
        "vpcSecurityGroupIds": '["sg-1","sg-2"]',
    }
    assert config.overrides("ap-southeast-2", "RDS") == {
        "dbSubnetGroupName": "restore-tests",
        "DBInstanceClass": "db.t4g.micro",
        "vpcSecurityGroupIds": '["sg-0a1b2c3d4e5f60718"]',
    }
    assert config.overrides("ap-southeast-2", "DynamoDB") == {}


def test_ebs_restores_need_no_network_placement() -> None:
    raw = stack_values("prod")
    raw["restoreTesting"]["resourceTypes"].append("EBS")
    raw["restoreTesting"]["selections"]["EBS"] = {"tag": {"key": "restore-test", "value": "1"}}

    config = parse_stack_config(PROJECT, raw).restore_testing

    assert config is not None and "EBS" in config.resource_types


def test_restore_testing_names_that_would_not_fit_say_so() -> None:
    # <project>-<environment> of 37 characters: its plan name would take 51.
    project = "organization-wide-backups-copies"

    with pytest.raises(ConfigError) as caught:
        parse_stack_config(project, stack_values("prod"))

    assert (
        "restoreTesting: becomes the restore testing plan name "
        "'organization_wide_backups_copies_prod_restore_tests' (51 characters), which allows at "
        "most 50: use a shorter environment"
    ) in caught.value.problems


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 18 ? * SUN *)",
        "cron(0 5 * * ? *)",
        "cron(0/30 */6 ? * MON-FRI *)",
        "cron(15 3 ? * 6#3 *)",
        "cron(0 5 L * ? 2030)",
    ],
)
def test_valid_restore_schedules_pass(expression: str) -> None:
    raw = stack_values("prod")
    raw["restoreTesting"]["scheduleExpression"] = expression

    config = parse_stack_config(PROJECT, raw).restore_testing

    assert config is not None and config.schedule_expression == expression


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("us-east-l", "us-east-1"), ("US-EAST-1", "us-east-1"), ("ap-southest-2", "ap-southeast-2")],
)
def test_a_mistyped_region_gets_the_region_meant(typed: str, meant: str) -> None:
    problems = problems_for(_set("destination.region", typed))

    assert problems == [
        f"destination.region: is not a known AWS Region: {typed!r}; did you mean {meant!r}?"
    ]


def test_a_region_like_nothing_known_gets_no_suggestion() -> None:
    problems = problems_for(_set("destination.region", "xx-1"))

    assert problems == ["destination.region: is not a known AWS Region: 'xx-1'"]


def test_a_number_for_an_id_is_quoted_as_is_only_when_it_can_be_what_was_written() -> None:
    # Twelve digits: what was written. Fewer: YAML may have read 012345670123 as 1402433619, so
    # quoting the number would quote the wrong id (the offline tools quote the file's text).
    assert problems_for(_set("destination.accountId", 222222222222)) == [
        'destination.accountId: must be a string: quote it (accountId: "222222222222"), got the '
        "number 222222222222"
    ]
    # One problem for the item: not also "sourceAccounts: must not be empty".
    assert problems_for(_set("sourceAccounts.0.accountId", 1402433619)) == [
        "sourceAccounts[0].accountId: must be a string: quote it as written, got the number "
        "1402433619"
    ]
