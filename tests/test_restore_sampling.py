"""Restore tests sample: per type a tag or at most 30 ARNs, the wildcard only when chosen with
its arithmetic in view, the DR Region optional and on its own schedule; a section in the
previous release's form still deploys, with a deprecation warning."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from config import ConfigError, StackConfig, parse_stack_config
from config.loader import load_stack_file, project_values
from tools.offline import OfflineRun, run_program
from tools.validate import checked_run

PLAN = "aws:backup/restoreTestingPlan:RestoreTestingPlan"
SELECTION = "aws:backup/restoreTestingSelection:RestoreTestingSelection"
PRIMARY, DR = "ap-southeast-2", "ap-southeast-1"
TAG = {"tag": {"key": "restore-test", "value": "true"}}
# The previous release's form: no selections, allowAllResources or drRegion.
PREVIOUS_FORM: dict[str, Any] = {
    "scheduleExpression": "cron(0 18 ? * SUN *)",
    "selectionWindowDays": 7,
    "validationWindowHours": 4,
    "resourceTypes": ["DynamoDB", "EFS"],
}


def prod_raw(restore_testing: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, encoded = load_stack_file("prod")
    raw = project_values(project, encoded)
    raw["restoreTesting"] = restore_testing
    return project, raw


def parse(restore_testing: dict[str, Any]) -> StackConfig:
    return parse_stack_config(*prod_raw(restore_testing))


def problems(restore_testing: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse(restore_testing)
    return caught.value.problems


def run(restore_testing: dict[str, Any]) -> OfflineRun:
    project, config = load_stack_file("prod")
    config[f"{project}:restoreTesting"] = json.dumps(restore_testing)
    return run_program("prod", config)


def sampling(**changes: Any) -> dict[str, Any]:
    """The previous form plus sampling keys: a tag for DynamoDB and EFS."""
    return {**PREVIOUS_FORM, "selections": {"DynamoDB": TAG, "EFS": TAG}, **changes}


def selections(found: OfflineRun) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (str(s.region), s.inputs["protectedResourceType"]): s.inputs
        for s in found.of_type(SELECTION)
    }


def test_a_type_without_a_sample_is_refused_with_the_arithmetic() -> None:
    [problem] = problems(sampling(selections={"EFS": TAG}))

    assert problem.startswith("restoreTesting.selections.DynamoDB: is required: ")
    # What a run would restore, where, into which account, against which quota.
    assert "one recovery point of every DynamoDB table of every source account" in problem
    assert f"in {PRIMARY}," in problem and "destination account 555555555555" in problem
    assert "default quota is 2,500 tables per Region" in problem
    assert "restoreTesting.allowAllResources: true" in problem
    assert "protectedResourceArns, at most 30" in problem


def test_the_wildcard_is_an_explicit_choice() -> None:
    found = run(sampling(selections={"EFS": TAG}, allowAllResources=True))

    chosen = selections(found)
    assert chosen[(PRIMARY, "DynamoDB")]["protectedResourceArns"] == ["*"]
    assert "protectedResourceConditions" not in chosen[(PRIMARY, "DynamoDB")]
    assert "protectedResourceArns" not in chosen[(PRIMARY, "EFS")]
    assert found.warnings == []
    # Chosen but unused: every type has its sample.
    assert problems(sampling(allowAllResources=True)) == (
        "restoreTesting.allowAllResources: every type has a selection, so it would never be "
        "used; remove it",
    )


def test_a_sample_names_at_most_thirty_resources_and_one_way_of_choosing() -> None:
    arn = "arn:aws:dynamodb:ap-southeast-2:444444444444:table/t{}"
    too_many = {"protectedResourceArns": [arn.format(n) for n in range(31)]}
    both = {**TAG, "protectedResourceArns": [arn.format(1)]}

    for selection, expected in (
        (too_many, "restoreTesting.selections.DynamoDB.protectedResourceArns: "),
        (both, "restoreTesting.selections.DynamoDB: give either tag or protectedResourceArns"),
        ({}, "restoreTesting.selections.DynamoDB: give either tag or protectedResourceArns"),
        ({"protectedResourceArns": ["*"]}, "restoreTesting.selections.DynamoDB."),
        (
            {"tag": {"key": "aws:ResourceTag/restore-test", "value": "true"}},
            "restoreTesting.selections.DynamoDB.tag.key: is the tag key alone",
        ),
    ):
        found = problems(sampling(selections={"DynamoDB": selection, "EFS": TAG}))
        assert any(p.startswith(expected) for p in found), found
    assert "at most 30" in " ".join(
        problems(sampling(selections={"DynamoDB": too_many, "EFS": TAG}))
    )
    # Thirty is allowed, and rendered as they are.
    thirty = {"protectedResourceArns": [arn.format(n) for n in range(30)]}
    chosen = selections(run(sampling(selections={"DynamoDB": thirty, "EFS": TAG})))
    assert chosen[(PRIMARY, "DynamoDB")]["protectedResourceArns"] == thirty["protectedResourceArns"]


def test_a_selection_of_a_type_not_tested_is_refused() -> None:
    found = problems(sampling(selections={"DynamoDB": TAG, "EFS": TAG, "EBS": TAG}))

    assert found == (
        "restoreTesting.selections.EBS: EBS is not in restoreTesting.resourceTypes, so it "
        "would never be used",
    )


def test_the_dr_region_is_tested_only_when_asked_and_on_its_own_schedule() -> None:
    without = run(sampling())
    paused = run(sampling(drRegion={"scheduleExpression": "cron(0 3 1 * ? *)", "enabled": False}))
    monthly = run(sampling(drRegion={"scheduleExpression": "cron(0 3 1 * ? *)"}))

    assert [p.region for p in without.of_type(PLAN)] == [PRIMARY]
    assert [p.region for p in paused.of_type(PLAN)] == [PRIMARY]
    plans = {p.region: p.inputs["scheduleExpression"] for p in monthly.of_type(PLAN)}
    assert plans == {PRIMARY: "cron(0 18 ? * SUN *)", DR: "cron(0 3 1 * ? *)"}
    assert {region for region, _ in selections(monthly)} == {PRIMARY, DR}


def test_a_dr_plan_without_a_dr_vault_is_refused() -> None:
    project, raw = prod_raw(sampling(drRegion={"scheduleExpression": "cron(0 3 1 * ? *)"}))
    raw["destination"] = {k: v for k, v in raw["destination"].items() if k != "drRegion"}
    raw["restoreTesting"].pop("regionMetadataOverrides", None)

    with pytest.raises(ConfigError) as caught:
        parse_stack_config(project, raw)

    assert caught.value.problems == (
        "restoreTesting.drRegion: destination.drRegion is not set, so there is no DR vault to "
        "test; remove it",
    )


def test_placement_is_needed_only_where_tests_run() -> None:
    rds = {"protectedResourceArns": ["arn:aws:rds:ap-southeast-2:444444444444:db:orders"]}
    primary_only = {PRIMARY: {"RDS": {"dbSubnetGroupName": "tests"}}}
    section = sampling(
        resourceTypes=["DynamoDB", "EFS", "RDS"],
        selections={"DynamoDB": TAG, "EFS": TAG, "RDS": rds},
        regionMetadataOverrides=primary_only,
    )

    parse(section)  # the DR Region is not tested: no placement there
    tested_too = {**section, "drRegion": {"scheduleExpression": "cron(0 3 1 * ? *)"}}
    [problem] = problems(tested_too)
    assert problem.startswith(
        f"restoreTesting.regionMetadataOverrides.{DR}.RDS.dbSubnetGroupName: is required to "
        f"test RDS in {DR}"
    )


def test_the_previous_form_keeps_the_wildcard_in_both_regions_with_a_warning() -> None:
    found = run(PREVIOUS_FORM)

    chosen = selections(found)
    assert {region for region, _ in chosen} == {PRIMARY, DR}
    assert all(inputs["protectedResourceArns"] == ["*"] for inputs in chosen.values())
    [warning] = found.warnings
    assert warning.startswith("restoreTesting: deprecated form")
    assert "every DynamoDB, EFS resource of every source account" in warning
    assert f"in {PRIMARY} and {DR}" in warning
    assert "2,500 tables (DynamoDB)" in warning
    assert "the next refuses it" in warning


def test_make_validate_and_plan_print_the_warning_with_the_stack_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = run_program

    def previous_form(stack: str, *args: Any, **kwargs: Any) -> OfflineRun:
        return run(PREVIOUS_FORM) if stack == "prod" and not args else original(stack, *args)

    monkeypatch.setattr("tools.validate.run_program", previous_form)
    err = io.StringIO()

    assert checked_run("prod", err) is not None
    assert "warning: stack prod: restoreTesting: deprecated form" in err.getvalue()


def test_the_example_stacks_sample_and_warn_of_nothing(prod_run: OfflineRun) -> None:
    assert prod_run.warnings == []
    assert all(s.inputs.get("protectedResourceArns") != ["*"] for s in prod_run.of_type(SELECTION))
