"""Every flow of the catalogue, as AWS evaluates it, over the documents the stacks render.

For each stack (the three examples, and generated organizations of every shape in both member
modes), each hop's request with its documented context is allowed and its negatives are
denied. A failure names the stack, the flow, the hop, the request and the statement that
denies it or fails to allow it (`flows.evaluator`'s explanation).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from config import StackConfig, parse_stack_config
from config.loader import load_stack_file, project_values
from flows.catalogue import DOCS, render
from flows.hops import HOPS
from tests.flows.cases import Case, Organization, stack_cases
from tools.offline import OfflineRun, run_program

ORG = "o-a1b2c3d4e5"
OTHER = "r-ab12/ou-ab12-other000"
GENERATED_OUS = ("ou-ab12-gen00001", "ou-ab12-gen00002", "ou-ab12-gen00003")


@dataclass(frozen=True)
class Stack:
    """A stack to check: how to run it, where its accounts sit, which members to try."""

    name: str
    config: dict[str, str]
    paths: dict[str, str]
    members: list[str]


def _example(stack: str, paths: dict[str, str], members: list[str]) -> Stack:
    return Stack(stack, load_stack_file(stack)[1], paths, members)


def _edited(stack: str, name: str, **sections: Callable[[Any], Any]) -> dict[str, str]:
    project, config = load_stack_file(stack)
    for section, edit in sections.items():
        key = f"{project}:{section}"
        config[key] = json.dumps(edit(json.loads(config[key]) if key in config else None))
    config[f"{project}:environment"] = name
    return config


def _generated_providers() -> Stack:
    """12 source accounts: 11 under 3 targeted OUs and 1 targeted directly; one account under
    a targeted OU that the stack does not prepare; copies in from the policy's targets."""
    accounts = [str(200_000_000_000 + index) for index in range(12)]
    paths = {a: f"r-ab12/{GENERATED_OUS[i % 3]}" for i, a in enumerate(accounts[:11])}
    paths[accounts[11]] = OTHER
    unprepared = "200000000099"
    paths[unprepared] = f"r-ab12/{GENERATED_OUS[1]}/ou-ab12-deeper01"

    def organization(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "policyTargets": [*GENERATED_OUS, accounts[11]]}

    def sources(_: Any) -> list[dict[str, Any]]:
        return [
            {
                "accountId": account,
                "roleArn": f"arn:aws:iam::{account}:role/BackupDeployer",
                "regions": ["ap-southeast-2"],
            }
            for account in accounts
        ]

    def destination(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "allowCopiesFrom": "policyTargets"}

    config = _edited(
        "prod",
        "genp",
        organization=organization,
        sourceAccounts=sources,
        destination=destination,
    )
    return Stack("generated-providers", config, paths, [accounts[0], accounts[11], unprepared])


def _generated_stack_sets() -> Stack:
    """3 targeted OUs (one nested below another OU), members in each, one account outside."""
    members = ["300000000001", "300000000002", "300000000003"]
    paths = {
        members[0]: f"r-ab12/{GENERATED_OUS[0]}",
        members[1]: f"r-ab12/ou-ab12-parent00/{GENERATED_OUS[1]}",
        members[2]: f"r-ab12/{GENERATED_OUS[2]}/ou-ab12-child000",
    }

    def organization(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "policyTargets": list(GENERATED_OUS)}

    config = _edited("sandbox", "gens", organization=organization)
    return Stack("generated-stacksets", config, paths, members)


def stacks() -> list[Stack]:
    """The example stacks and the generated ones."""
    return [
        _example(
            "dev",
            {"111111111111": OTHER, "121212121212": "r-ab12/ou-ab12-cdef3456"},
            ["111111111111", "121212121212"],
        ),
        _example(
            "prod",
            {
                "444444444444": OTHER,
                "666666666666": OTHER,
                "777777777777": "r-ab12/ou-ab12-prod7890",
            },
            ["444444444444", "666666666666", "777777777777"],
        ),
        _example(
            "sandbox",
            {
                "131313131313": "r-ab12/ou-ab12-sbx11111",
                "141414141414": "r-ab12/ou-ab12-sbx22222/ou-ab12-deeper00",
            },
            ["131313131313", "141414141414"],
        ),
        _generated_providers(),
        _generated_stack_sets(),
    ]


STACKS = {stack.name: stack for stack in stacks()}


@cache
def cases_of(name: str) -> tuple[Case, ...]:
    """The cases of one stack, its program run once under mocks."""
    stack = STACKS[name]
    project = "aws-backup-copy"
    config: StackConfig = parse_stack_config(project, project_values(project, stack.config))
    run: OfflineRun = run_program(name, stack.config)
    organization = Organization(ORG, stack.paths)
    return tuple(stack_cases(run, config, organization, stack.members))


@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_flow_is_allowed_for_its_caller_and_denied_for_the_others(name: str) -> None:
    flow_of = {hop.id: hop.flow for hop in HOPS}
    failures = []
    for case in cases_of(name):
        decision = case.decide()
        if decision.allowed != case.allowed:
            expected = "allowed" if case.allowed else "denied"
            failures.append(
                f"{name}: flow {flow_of[case.hop]}, hop {case.hop}: {case.label} should be "
                f"{expected}, is {decision.decision}\n{decision.explain()}"
            )
    assert not failures, "\n\n".join(failures)


def test_without_an_organization_key_only_the_statements_that_do_not_need_it_admit() -> None:
    """The copy-in cases without `aws:PrincipalOrgPaths` or `aws:PrincipalOrgID` (AWS documents
    neither for the requests AWS Backup makes): a named account is still admitted by its
    account's statement, an account admitted only by its OU path is not, so that a missing key
    shows which copies would fail (the acceptance runbook proves each admission path)."""
    wrong = []
    checked = 0
    for case in (case for name in sorted(STACKS) for case in cases_of(name)):
        if not case.admitted_by:
            continue
        checked += 1
        decision = case.decide()
        assert decision.resource is not None
        sids = [s.sid or "" for s in decision.resource.deciding]
        if not sids or not all(sid.endswith(tuple(case.admitted_by)) for sid in sids):
            wrong.append(f"{case.label}: admitted by {sids}, expected {sorted(case.admitted_by)}")
    assert checked, "no case without an organization key is admitted in any stack"
    assert wrong == []


def test_every_hop_of_the_catalogue_is_exercised_both_ways() -> None:
    """The catalogue and the tests stay in step: each hop has an allowed and a denied case."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for name in STACKS:
        for case in cases_of(name):
            (allowed if case.allowed else denied).add(case.hop)
    hops = {hop.id for hop in HOPS}
    assert hops - allowed == set(), "hops with no allowed case"
    assert hops - denied == set(), "hops with no denied case"
    assert (allowed | denied) - hops == set(), "cases of hops the catalogue does not list"


def test_the_catalogue_page_is_the_rendered_one() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/flows.md is stale: python -m flows.catalogue --write"
    )
