"""The offline plan benchmark (bench/plan.py): its generated stacks are valid and as large as
its table says, so that the rows compare what they claim to compare."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.plan import (
    SOURCE_REGIONS,
    exporter_refusal,
    most_accounts_with_exporter,
    ou_ids,
    plan_counts,
    providers_config,
    source_account_ids,
    stack_sets_config,
)
from config import StackConfig, parse_stack_config
from config.loader import project_name, project_values
from tools.offline import PROVIDER_TYPE, OfflineRun, run_program

ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"


def parsed(config: dict[str, str]) -> StackConfig:
    project = project_name()
    return parse_stack_config(project, project_values(project, config))


@pytest.fixture(scope="module")
def ten_accounts() -> OfflineRun:
    return run_program("prod", providers_config(10))


def test_the_generated_providers_stack_is_valid_with_every_account_in_both_regions() -> None:
    config = parsed(providers_config(10))

    assert config.organization.member_deployment == "providers"
    assert [source.account_id for source in config.source_accounts] == source_account_ids(10)
    assert len(set(source_account_ids(10))) == 10
    assert all(source.regions == SOURCE_REGIONS for source in config.source_accounts)
    assert config.backup_plan.regions == SOURCE_REGIONS
    assert config.dynamodb_export is not None


def test_the_generated_stack_sets_stack_is_valid_and_targets_the_ous() -> None:
    config = parsed(stack_sets_config(4))

    assert config.organization.member_deployment == "stackSets"
    assert list(config.organization.policy_targets) == ou_ids(4)
    assert len(set(ou_ids(4))) == 4


def test_providers_mode_has_exactly_one_provider_per_account_touched(
    ten_accounts: OfflineRun,
) -> None:
    touched = {r.account_id for r in ten_accounts.resources if r.custom and r.type != PROVIDER_TYPE}
    provider_accounts = Counter(p.account_id for p in ten_accounts.providers.values())

    assert set(provider_accounts) == touched
    assert max(provider_accounts.values()) == 1
    # The sources, plus the management, delegate, destination and bucket accounts.
    assert set(source_account_ids(10)) <= touched
    assert plan_counts(ten_accounts, providers_config(10)).providers == 10 + 4


def test_every_account_and_region_gets_an_exporter(ten_accounts: OfflineRun) -> None:
    assert plan_counts(ten_accounts, providers_config(10)).exporters == 10 * len(SOURCE_REGIONS)


def test_stack_sets_mode_grows_by_one_policy_attachment_per_ou() -> None:
    runs = {n: run_program("sandbox", stack_sets_config(n)) for n in (4, 40)}
    others = {
        n: Counter(r.type for r in run.resources if r.type != ATTACHMENT) for n, run in runs.items()
    }
    counts = {n: plan_counts(run, stack_sets_config(n)) for n, run in runs.items()}

    assert others[4] == others[40]
    for n, run in runs.items():
        assert sorted(r.inputs["targetId"] for r in run.of_type(ATTACHMENT)) == ou_ids(n)
    assert counts[40].resources - counts[4].resources == 40 - 4
    assert counts[4].providers == counts[40].providers == 2


def test_the_exporter_limit_is_where_the_program_starts_refusing_it() -> None:
    most = most_accounts_with_exporter(1000)

    # Each account is named once per Region: about 300 accounts in 2 Regions fit S3's 20 KB.
    assert 200 < most < 1000
    assert exporter_refusal(most) is None
    assert "export bucket policy" in (exporter_refusal(most + 1) or "")
