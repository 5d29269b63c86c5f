"""The stack-file JSON Schema: current, valid, and as strict as the validator on each key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tools.schema import SCHEMA_HEADER, SCHEMA_PATH, render, stack_file_schema

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "aws-backup-copy"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def stack_file(stack: str) -> dict[str, Any]:
    content: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return content


def errors(validator: Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_committed_schema_is_the_generated_one() -> None:
    # Stale means a key changed in stack_config.py without `make schema`.
    assert SCHEMA_PATH.read_text() == render(stack_file_schema(PROJECT))


def test_every_stack_file_points_editors_at_the_schema() -> None:
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        assert path.read_text().splitlines()[0] == SCHEMA_HEADER, path.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_pass(validator: Draft202012Validator, stack: str) -> None:
    assert errors(validator, stack_file(stack)) == []


def test_a_stack_file_as_pulumi_stack_init_writes_it_passes(
    validator: Draft202012Validator,
) -> None:
    # Quick start: copy Pulumi.dev.yaml, then `pulumi stack init` adds its secrets settings.
    passphrase = {"encryptionsalt": "v1:3n1J8y2kR9s=:v1:Q3o1X4+abc:Zm9vYmFy", **stack_file("dev")}
    kms = {
        "secretsprovider": "awskms://alias/pulumi?region=ap-southeast-2",
        "encryptedkey": "AQICAHh4Ym9vYmFy",
        **stack_file("dev"),
    }

    assert errors(validator, passphrase) == []
    assert errors(validator, kms) == []


def test_secrets_may_stand_anywhere(validator: Draft202012Validator) -> None:
    document = stack_file("prod")
    config = document["config"]
    config[f"{PROJECT}:destination"]["roleArn"] = {"secure": "v1:AAAA"}
    config[f"{PROJECT}:dynamodbExport"]["bucket"] = {"secure": "v1:BBBB"}
    config[f"{PROJECT}:environment"] = {"secure": "v1:CCCC"}

    assert errors(validator, document) == []


def test_a_stack_on_esc_may_leave_the_config_to_its_environments(
    validator: Draft202012Validator,
) -> None:
    assert errors(validator, {"environment": ["backup/prod"]}) == []
    assert errors(validator, {"encryptionsalt": "v1:x"}) != []


def test_keys_of_other_namespaces_are_allowed(validator: Draft202012Validator) -> None:
    document = stack_file("dev")
    document["config"]["aws:region"] = "ap-southeast-2"
    document["config"]["pulumi:tags"] = {"team": "platform"}

    assert errors(validator, document) == []


BAD: list[tuple[str, str, Any]] = [
    ("unknown project key", f"{PROJECT}:dynamoDbExport", {"enabled": True}),
    ("unknown nested key", f"{PROJECT}:destination.valtName", "x"),
    ("account id format", f"{PROJECT}:destination.accountId", "2222"),
    ("account id as a number", f"{PROJECT}:destination.accountId", 222222222222),
    ("organization id format", f"{PROJECT}:organization.id", "org-123"),
    ("role ARN format", f"{PROJECT}:organization.managementAccount.roleArn", "BackupDeployer"),
    ("policy target format", f"{PROJECT}:organization.policyTargets", ["team-a"]),
    ("vault name format", f"{PROJECT}:destination.vaultName", "central backup!"),
    ("bucket name format", f"{PROJECT}:dynamodbExport.bucket.name", "Bad_Bucket"),
    ("whole number", f"{PROJECT}:backupPlan.startWindowMinutes", "soon"),
    ("number range", f"{PROJECT}:backupPlan.startWindowMinutes", 30),
    ("boolean", f"{PROJECT}:backupPlan.windowsVss", "maybe"),
    ("enum", f"{PROJECT}:destination.allowCopiesFrom", "everyone"),
    ("list, not a string", f"{PROJECT}:sourceAccounts", "111111111111"),
    ("empty list", f"{PROJECT}:organization.policyTargets", []),
    ("backup plans take cron only", f"{PROJECT}:backupPlan.scheduleExpression", "rate(1 day)"),
    ("resource type names", f"{PROJECT}:backupPlan.resourceTypes", ["Dynamo"]),
    ("log retention values", f"{PROJECT}:dynamodbExport.logRetentionDays", 45),
    ("required key", f"{PROJECT}:backupPlan.selectionTag", None),
    ("required section", f"{PROJECT}:destination", None),
    ("unknown top-level key", "configs", {}),
]


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    key, _, rest = path.partition(".")
    node = document["config"] if key.startswith(f"{PROJECT}:") else document
    parts = [key, *rest.split(".")] if rest else [key]
    for part in parts[:-1]:
        node = node[part]
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


@pytest.mark.parametrize(("case", "path", "value"), BAD, ids=[case for case, _, _ in BAD])
def test_the_schema_refuses(
    validator: Draft202012Validator, case: str, path: str, value: Any
) -> None:
    document = copy.deepcopy(stack_file("dev"))
    _set(document, path, value)

    assert errors(validator, document) != [], case
