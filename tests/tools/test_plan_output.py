"""What `make plan` prints: a table within 120 columns, one line per account, one per output."""

from __future__ import annotations

from pathlib import Path

from tools import plan
from tools.cross_stack import SINGLETONS
from tools.offline import PROVIDER_TYPE, OfflineRun, RecordedResource

OUT = Path("build/stack")


def test_short_type_drops_only_the_segment_that_repeats_the_member() -> None:
    assert plan.short_type("aws:backup/vault:Vault") == "aws:backup:Vault"
    assert plan.short_type("aws:cloudwatch/eventRule:EventRule") == "aws:cloudwatch:EventRule"
    assert plan.short_type("aws:iam/rolePolicy:Policy") == "aws:iam/rolePolicy:Policy"
    assert plan.short_type("backup:index:DestinationAccount") == "backup:index:DestinationAccount"
    assert plan.short_type("pulumi:providers:aws") == "pulumi:providers:aws"


def test_shorten_keeps_both_ends_and_the_width() -> None:
    assert plan.shorten("abcdefghij", 10) == "abcdefghij"
    assert plan.shorten("abcdefghij", 5) == "ab…ij"
    assert plan.shorten("abcdefghij", 6) == "ab…hij"


def test_the_column_with_the_smaller_share_gives_way_first() -> None:
    assert plan.fit_widths([40, 40, 10], 70, (1, 3, 0)) == [20, 40, 10]
    assert plan.fit_widths([30, 30, 12], 60, (1, 1, 0)) == [24, 24, 12]
    # Nothing shrinks below the floor, nor a column without a share; nothing shrinks if it fits.
    assert plan.fit_widths([30, 30, 12], 20, (1, 1, 0), minimum=8) == [8, 8, 12]
    assert plan.fit_widths([5, 6, 7], 18, (1, 1, 1)) == [5, 6, 7]


def test_wrap_breaks_between_words_and_never_inside_one() -> None:
    words = ["word"] * 40

    lines = plan.wrap("output text =", words, width=50)

    assert all(len(line) <= 50 for line in lines)
    assert lines[0].startswith("output text = word")
    assert all(line.startswith(plan.INDENT + "word") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == "output text = " + " ".join(words)
    long_arn = "arn:aws:lambda:ap-southeast-2:111111111111:function:" + "x" * 80
    assert plan.wrap("output arn =", [long_arn], width=50) == [f"output arn = {long_arn}"]


def _within_width(line: str) -> bool:
    """120 columns, unless the line is one output whose single value has no space to break at."""
    if len(line) <= plan.WIDTH:
        return True
    for separator in (" = ", ": written to "):
        head, found, value = line.partition(separator)
        if line.startswith("output ") and found and " " not in value:
            return len(head) + len(separator) < plan.WIDTH
    return False


def test_the_plan_fits_120_columns(stack_run: OfflineRun) -> None:
    lines = plan.report(stack_run, OUT, documents=9)

    assert [line for line in lines if not _within_width(line)] == []
    table = lines[: len(stack_run.resources) + 1]
    assert all(len(line) <= plan.WIDTH for line in table)
    # Every resource keeps a row of its own, with its account and Region whole.
    assert len(set(table)) == len(table)
    for resource in stack_run.resources:
        cells = (resource.account_id or "-", resource.region or "-")
        assert any(all(f"  {cell}  " in row for cell in cells) for row in table), resource.name
    # Where anything was shortened, the reader is told where to find it whole.
    noted = f"{OUT / 'resources.json'} has every resource in full" in " ".join(lines)
    assert noted == any(plan.ELLIPSIS in row for row in table)
    assert plan.report(stack_run, OUT, documents=9) == lines


def test_maps_print_one_output_line_per_entry(prod_run: OfflineRun) -> None:
    lines = plan.format_outputs(prod_run.outputs, OUT)

    assert (
        "output destinationVaultArns[ap-southeast-2] = "
        "arn:aws:backup:ap-southeast-2:555555555555:backup-vault:central-backup-prod"
    ) in lines
    assert "output exportBucketName = dynamodb-backup-prod-777777777777" in lines
    assert (
        f"output workloadKeyPolicyStatements: written to {OUT / 'workload-key-policy.json'}"
        in lines
    )
    assert len([line for line in lines if line.startswith("output sourceVaultArns[")]) == 3


def test_outputs_that_are_not_plain_strings_stay_readable() -> None:
    outputs = {
        "nested": {"b": [1, 2.0], "a": {}},
        "note": " ".join(["a sentence long enough to need more than one line"] * 4),
        "empty": "",
        "flag": True,
    }

    lines = plan.format_outputs(outputs, OUT)

    assert all(len(line) <= plan.WIDTH for line in lines)
    assert lines[:2] == ['output empty = ""', "output flag = true"]
    assert lines[2:5] == [
        "output nested[a] = {}",
        "output nested[b][0] = 1",
        "output nested[b][1] = 2",
    ]
    assert lines[5].startswith("output note = a sentence") and lines[6].startswith("    ")


def _holdings(run: OfflineRun) -> dict[str, str]:
    return {
        summary.account_id: " ".join(plan.describe_holdings(summary))
        for summary in plan.account_summaries(run)
    }


def test_account_summaries_say_what_each_account_holds(prod_run: OfflineRun) -> None:
    assert _holdings(prod_run) == {
        # Only what AWS allows nowhere else; the policy is the delegated administrator's.
        "000000000000": "delegated administrator, global settings, Organizations resource policy",
        "444444444444": (
            "source vault, key, exporter, alert forwarding (2 Regions); "
            "Region settings, audit framework (ap-southeast-2); service role"
        ),
        # The copy-back and restore roles are AWS Backup service roles (IAM is global).
        "555555555555": (
            "destination vault, key, alert forwarding, restore testing, audit framework "
            "(2 Regions); service role"
        ),
        "666666666666": (
            "source vault, key, Region settings, service role, exporter, alert forwarding, "
            "audit framework"
        ),
        "777777777777": "export bucket, key",
        "888888888888": "backup policy, key, alert bus and topic, audit reports",
    }


def test_a_summary_line_counts_every_aws_resource_of_its_account(prod_run: OfflineRun) -> None:
    summaries = {summary.account_id: summary for summary in plan.account_summaries(prod_run)}
    aws = [r for r in prod_run.resources if r.custom and r.type != PROVIDER_TYPE]

    assert plan.format_summary(summaries["777777777777"]) == [
        "account 777777777777 (ap-southeast-2), 9 resources: export bucket, key"
    ]
    assert sum(summary.resources for summary in summaries.values()) == len(aws)
    for account, summary in summaries.items():
        assert summary.resources == sum(1 for r in aws if r.account_id == account)


def test_the_stack_that_does_not_own_the_global_settings_shows_none(dev_run: OfflineRun) -> None:
    assert _holdings(dev_run)["000000000000"] == "backup policy"


def test_every_singleton_and_every_component_of_the_stacks_has_a_label(
    stack_run: OfflineRun,
) -> None:
    # A singleton has one owning stack: the summary must say which stack holds it.
    assert set(SINGLETONS) <= set(plan.HOLDING_LABELS)
    components = {resource.type for resource in stack_run.resources if not resource.custom}
    assert components <= set(plan.HOLDING_LABELS)


def test_an_unlabelled_component_is_named_after_its_type() -> None:
    parent = RecordedResource("urn:c", "backup:index:AuditTrail", "c", {}, False, None, None)
    child = RecordedResource("urn:r", "aws:sns/topic:Topic", "r", {}, True, "urn:c", None)

    assert plan.holding_label(child, parent) == "audit trail"
    assert plan.holding_label(child, None) == "topic"


def _described(regions: tuple[str, ...]) -> str:
    summary = plan.AccountSummary(
        account_id="123456789012",
        regions=regions,
        resources=4,
        holdings={
            "source vault": frozenset(regions),
            "Region settings": frozenset(regions[:1]),
            "service role": frozenset(),
        },
    )
    return " ".join(plan.describe_holdings(summary))


def test_one_region_goes_without_saying() -> None:
    assert _described(("ap-southeast-2",)) == "source vault, Region settings, service role"


def test_what_is_in_only_some_regions_names_them() -> None:
    assert _described(("ap-southeast-1", "ap-southeast-2", "us-east-1")) == (
        "source vault (3 Regions); Region settings (ap-southeast-1); service role"
    )
