"""tools.inventory: the resource inventory `make plan` writes for `make plan-diff`."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tools import plan, validate
from tools.inventory import (
    INVENTORY_FILE,
    build_inventory,
    inventory_entry,
    normalize,
    render_inventory,
    resource_key,
)
from tools.offline import PROVIDER_TYPE, OfflineRun, RecordedResource, run_program

STACK_URN = "urn:pulumi:dev::aws-backup-copy::pulumi:pulumi:Stack::aws-backup-copy-dev"


def recorded(
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    parent: str | None = None,
    account: str | None = "111111111111",
    region: str | None = "ap-southeast-2",
) -> RecordedResource:
    parent_urn = f"urn:pulumi:dev::p::backup:index:Thing::{parent}" if parent else STACK_URN
    return RecordedResource(
        urn=f"urn:pulumi:dev::p::{type_token}::{name}",
        type=type_token,
        name=name,
        inputs=inputs,
        custom=not type_token.startswith("backup:index:"),
        parent_urn=parent_urn,
        provider_ref=None,
        account_id=account,
        region=region,
    )


# --- pure pieces -------------------------------------------------------------------------------


def test_whole_numbers_lose_the_engines_float_but_keep_their_type() -> None:
    assert normalize({"days": 35.0, "ratio": 0.5, "on": True, "off": False, "none": None}) == {
        "days": 35,
        "ratio": 0.5,
        "on": True,
        "off": False,
        "none": None,
    }
    assert json.dumps(normalize(7.0)) == "7"
    assert normalize((1.0, "a")) == [1, "a"]


def test_assets_are_recorded_by_repository_path_and_content_hash(tmp_path: Path) -> None:
    handler = tmp_path / "lambda" / "handler.py"
    handler.parent.mkdir()
    handler.write_text("print('hi')\n")
    digest = hashlib.sha256(b"print('hi')\n").hexdigest()
    code = pulumi.AssetArchive(
        {"handler.py": pulumi.FileAsset(str(handler)), "x": pulumi.StringAsset("x")}
    )

    assert normalize({"code": code}, tmp_path) == {
        "code": {
            "archive": {
                "handler.py": {"file": "lambda/handler.py", "sha256": digest},
                "x": {"text sha256": hashlib.sha256(b"x").hexdigest()},
            }
        }
    }


def test_a_directory_archive_hash_follows_its_content(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a = 1\n")
    before = normalize(pulumi.FileArchive(str(tmp_path / "pkg")), tmp_path)
    (tmp_path / "pkg" / "a.py").write_text("a = 2\n")
    after = normalize(pulumi.FileArchive(str(tmp_path / "pkg")), tmp_path)

    assert before["file"] == after["file"] == "pkg"
    assert before["sha256"] != after["sha256"]


def test_an_input_that_is_not_data_fails_loudly_naming_the_resource() -> None:
    resource = recorded("aws:s3/bucket:Bucket", "b", {"bucket": object()})
    with pytest.raises(TypeError, match=r"aws:s3/bucket:Bucket b: cannot record a object"):
        inventory_entry(resource)


def test_policy_inputs_are_decoded_and_listed_as_documents() -> None:
    document = {"Version": "2012-10-17", "Statement": []}
    resource = recorded(
        "aws:iam/role:Role",
        "exporter-role",
        {"assumeRolePolicy": json.dumps(document), "name": "r", "path": "/"},
        parent="exporter",
    )

    entry = inventory_entry(resource)

    assert entry == {
        "type": "aws:iam/role:Role",
        "name": "exporter-role",
        "parent": "exporter",
        "account": "111111111111",
        "region": "ap-southeast-2",
        "custom": True,
        "protect": False,
        "deleteBeforeReplace": False,
        "retainOnDelete": False,
        "importId": None,
        "ignoreChanges": [],
        "dependsOn": [],
        "documents": ["assumeRolePolicy"],
        "inputs": {"assumeRolePolicy": document, "name": "r", "path": "/"},
    }


def test_provider_configuration_is_decoded_from_the_engines_json() -> None:
    provider = recorded(
        PROVIDER_TYPE,
        "aws-111111111111-ap-southeast-2",
        {
            "allowedAccountIds": '["111111111111"]',
            "assumeRoles": '[{"roleArn": "arn:aws:iam::111111111111:role/Deployer"}]',
            "region": "ap-southeast-2",
            "skipRegionValidation": "true",
        },
    )

    inputs = inventory_entry(provider)["inputs"]

    assert inputs == {
        "allowedAccountIds": ["111111111111"],
        "assumeRoles": [{"roleArn": "arn:aws:iam::111111111111:role/Deployer"}],
        "region": "ap-southeast-2",
        "skipRegionValidation": True,
    }


def test_components_are_entries_without_placement() -> None:
    component = recorded("backup:index:ExportBucket", "export-bucket", {}, None, None, None)
    entry = inventory_entry(component)
    assert (entry["parent"], entry["account"], entry["region"], entry["custom"]) == (
        None,
        None,
        None,
        False,
    )


def test_inventory_keys_are_type_and_name_and_must_be_unique() -> None:
    run = OfflineRun(
        stack="dev",
        resources=[
            recorded("backup:index:SourceAccount", "source-1", {}),
            recorded("backup:index:CustomerManagedKey", "source-1", {}, parent="source-1"),
        ],
    )
    inventory = build_inventory(run)
    assert sorted(inventory["resources"]) == [
        "backup:index:CustomerManagedKey::source-1",
        "backup:index:SourceAccount::source-1",
    ]
    assert inventory["stack"] == "dev"

    run.resources.append(recorded("backup:index:SourceAccount", "source-1", {}))
    with pytest.raises(ValueError, match="backup:index:SourceAccount::source-1"):
        build_inventory(run)


def test_rendering_is_sorted_so_registration_order_does_not_matter() -> None:
    first = recorded("aws:s3/bucket:Bucket", "a", {"z": 1, "a": 2})
    second = recorded("aws:kms/key:Key", "b", {"description": "k"})
    one = render_inventory(build_inventory(OfflineRun("dev", [first, second])))
    other = render_inventory(build_inventory(OfflineRun("dev", [second, first])))
    assert one == other
    assert one.endswith("}\n")
    assert one.index('"a": 2') < one.index('"z": 1')


# --- the real program ---------------------------------------------------------------------------


def test_every_registered_resource_is_in_the_inventory(prod_run: OfflineRun) -> None:
    resources = build_inventory(prod_run)["resources"]

    assert len(resources) == len(prod_run.resources)
    lock = resources[
        resource_key(
            "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
            "destination-ap-southeast-2-vault-lock",
        )
    ]
    assert lock["account"] == "555555555555" and lock["parent"] == "destination"
    assert lock["inputs"]["minRetentionDays"] == 30
    key_policy = resources[resource_key("aws:kms/key:Key", "destination-ap-southeast-2-key")]
    assert key_policy["inputs"]["policy"]["Version"] == "2012-10-17"
    provider = resources[resource_key(PROVIDER_TYPE, "aws-555555555555")]
    assert provider["inputs"]["assumeRoles"][0]["roleArn"].endswith(":role/BackupDeployer-prod")
    function = resources[
        resource_key(
            "aws:lambda/function:Function", "exporter-444444444444-ap-southeast-2-function"
        )
    ]
    assert function["inputs"]["code"]["archive"]["handler.py"]["file"] == (
        "lambda/dynamodb_export/handler.py"
    )


def test_plan_command_writes_the_inventory_next_to_the_documents(
    tmp_path: Path, dev_run: OfflineRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "run_program", lambda stack: dev_run)

    assert plan.main(["--stack", "dev", "--out", str(tmp_path)]) == 0

    written = (tmp_path / INVENTORY_FILE).read_text(encoding="utf-8")
    assert written == render_inventory(build_inventory(dev_run))
    assert (tmp_path / "organization-policy.json").is_file()


LIFECYCLE_PROGRAM = """
import pulumi
import pulumi_aws as aws

provider = aws.Provider("aws-111111111111", region="eu-west-1", allowed_account_ids=["111111111111"])
first = aws.sns.Topic("first", region="eu-west-1", opts=pulumi.ResourceOptions(provider=provider))
aws.sns.Topic(
    "second",
    region="eu-west-1",
    opts=pulumi.ResourceOptions(
        provider=provider,
        retain_on_delete=True,
        import_="arn:aws:sns:eu-west-1:111111111111:second",
        ignore_changes=["tags", "displayName"],
        depends_on=[first],
    ),
)
"""


def test_lifecycle_options_reach_the_inventory_from_the_engines_request(tmp_path: Path) -> None:
    """What a reviewer must see in `make plan-diff`: retain on delete, an import, ignored
    inputs and dependencies, recorded from the registration the engine receives."""
    (tmp_path / "Pulumi.yaml").write_text("name: lifecycle\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(LIFECYCLE_PROGRAM, encoding="utf-8")

    run = run_program("test", config={}, root=tmp_path)
    resources = build_inventory(run, root=tmp_path)["resources"]

    second = resources[resource_key("aws:sns/topic:Topic", "second")]
    assert second["retainOnDelete"] is True
    assert second["importId"] == "arn:aws:sns:eu-west-1:111111111111:second"
    assert second["ignoreChanges"] == ["displayName", "tags"]
    assert second["dependsOn"] == [resource_key("aws:sns/topic:Topic", "first")]
    first = resources[resource_key("aws:sns/topic:Topic", "first")]
    assert (first["retainOnDelete"], first["importId"], first["ignoreChanges"]) == (False, None, [])


def test_dependencies_are_inventory_keys_of_nested_resources() -> None:
    child = "urn:pulumi:dev::p::backup:index:DestinationAccount$aws:kms/key:Key::dest-key"
    resource = recorded("aws:backup/vault:Vault", "vault", {})
    resource.dependencies = (child, "urn:pulumi:dev::p::backup:index:SourceAccount::source-1")

    assert inventory_entry(resource)["dependsOn"] == [
        "aws:kms/key:Key::dest-key",
        "backup:index:SourceAccount::source-1",
    ]


def test_the_real_stacks_record_their_dependencies_and_ignored_inputs(
    sandbox_run: OfflineRun,
) -> None:
    resources = build_inventory(sandbox_run)["resources"]

    stack_set = next(e for e in resources.values() if e["type"].endswith("stackSet:StackSet"))
    assert stack_set["ignoreChanges"] == ["administrationRoleArn"]
    [policy] = [
        e for e in resources.values() if e["type"] == "backup:index:OrganizationBackupPolicy"
    ]
    # The backup policy waits for the destination vaults it copies into (its resources register
    # under it, so they wait too).
    assert "aws:backup/vault:Vault::destination-eu-west-1-vault" in policy["dependsOn"]
