"""The example stack files are the ones people copy: they follow the conventions the docs give."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "aws-backup-copy"
STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")
)


@pytest.mark.parametrize("stack", STACKS)
def test_export_bucket_names_carry_their_account_id(stack: str) -> None:
    # S3 bucket names are unique across all accounts (Amazon S3 User Guide, "General purpose
    # bucket naming rules"): the account id keeps a copied example from taking, or failing on,
    # a name someone else already holds.
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    export = config.get(f"{PROJECT}:dynamodbExport") or {}
    if not export.get("enabled"):
        pytest.skip(f"{stack} has no export bucket")
    bucket = export["bucket"]

    assert bucket["name"].endswith(f"-{bucket['accountId']}"), bucket["name"]
