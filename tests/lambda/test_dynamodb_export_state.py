"""The exporter's state store at account scale: every item under DynamoDB's 400 KB.

Item sizes are counted as DynamoDB counts them (bench.export_emulator.item_size); moto
also refuses items over about 405,000 bytes. Table names are the longest DynamoDB
allows (255 characters) and random, so compression cannot hide their size.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from continuation import PRIOR_RATIOS, add_to_fit, history_predicts, trusted_ratios
from export_run import REQUEUE_MAX
from moto import mock_aws
from state_store import (
    FAILED_CHARS,
    HISTORY_CHUNK,
    MEASURED_CHUNK,
    PLAN_CHUNK,
    PlanEntry,
    RunState,
    StateStore,
    Tracked,
    history_key,
    history_table,
)

from bench.export_emulator import TABLE_KEY, item_size

REGION = "eu-west-1"
STATE_TABLE = "ddb-export-state"
CUT = datetime(2025, 3, 10, tzinfo=UTC)
# DynamoDB's item size limit: 400 KB, and "1 KB = 1024 bytes" (Developer Guide,
# "Constraints in Amazon DynamoDB").
ITEM_LIMIT = 400 * 1024
# The most an account has in flight (DynamoDB service quotas).
IN_FLIGHT = 300


@pytest.fixture
def store(aws_env: None) -> Iterator[StateStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=STATE_TABLE, **TABLE_KEY)
        yield StateStore(client, STATE_TABLE)


def _longest_names(count: int) -> list[str]:
    rng = random.Random(count)
    alphabet = string.ascii_letters + string.digits + "_.-"
    return [f"{i:06d}" + "".join(rng.choices(alphabet, k=249)) for i in range(count)]


def _state(store: StateStore) -> RunState:
    state = RunState(
        cut=CUT,
        run_id="r1",
        created=CUT.timestamp(),
        deadline=(CUT + timedelta(days=1)).timestamp(),
        scheduled=True,
    )
    assert store.create(state, "owner", (CUT + timedelta(minutes=16)).timestamp())
    return state


def _sizes() -> dict[str, int]:
    client = boto3.client("dynamodb", region_name=REGION)
    items: list[dict[str, Any]] = [
        item
        for page in client.get_paginator("scan").paginate(TableName=STATE_TABLE)
        for item in page["Items"]
    ]
    return {item["pk"]["S"]: item_size(item) for item in items}


@pytest.mark.parametrize("tables", [2_500, 20_000])
def test_a_days_state_stays_under_the_item_limit_at_any_table_count(
    store: StateStore, tables: int
) -> None:
    names = _longest_names(tables)
    state = _state(store)
    # The history a cut starts from: a full and an incremental duration per table.
    history = {history_key(name, "FULL_EXPORT"): 1234.5 + i for i, name in enumerate(names)}
    history.update({history_key(name, "INCREMENTAL_EXPORT"): 99.25 for name in names})
    store.write_history(state, history, set(names))
    reason = "incremental requested but previous export ends 2025-03-08T00:00:00+00:00, " * 2
    store.write_plan(
        state,
        [
            PlanEntry(name, "INCREMENTAL_EXPORT", 3, "2025-03-09T00:00:00+00:00", reason, 1.5e3)
            for name in names
        ],
    )
    # Every export of the day ends, IN_FLIGHT at a time; each wave saves the state.
    measured: dict[str, float] = {}
    for start in range(0, tables, IN_FLIGHT):
        wave = {history_key(name, "FULL_EXPORT"): 777.0 for name in names[start : start + 300]}
        state.measured.update(wave)
        measured.update(wave)
        store.save(state, release=False)

    sizes = _sizes()
    run_item = sizes.pop(f"cut#{CUT.isoformat()}")
    assert max(sizes.values()) < ITEM_LIMIT
    # At most MEASURED_CHUNK - 1 durations wait in the run item, whatever the table count.
    assert run_item < 64 * 1024
    assert len(sizes) >= 2 * tables / HISTORY_CHUNK + tables / PLAN_CHUNK + tables / 550
    assert store.read_history(state) == {**history, **measured}
    assert len(store.read_plan(state, tables)) == tables


def test_the_run_item_stays_under_the_item_limit_when_full(store: StateStore) -> None:
    state = _state(store)
    # Tables waiting in the run item: REQUEUE_MAX, plus the last batch of the wave that
    # reached it, plus a wave's exports that FAILED.
    waiting = REQUEUE_MAX + 2 * IN_FLIGHT
    names = _longest_names(2 * IN_FLIGHT + MEASURED_CHUNK + waiting)
    failure = "export FAILED: S3AccessDenied; starting attempt 7 after its back-off "
    state.requeue = [
        PlanEntry(
            name,
            "INCREMENTAL_EXPORT",
            7,
            "2025-03-09T00:00:00+00:00",
            "incremental requested but previous export ends 2025-03-08T00:00:00+00:00",
            1402.5,
            checked=False,
            tries=6,
            not_before=1.7e9 + i / 3,
            failed=(failure + name)[:FAILED_CHARS],
        )
        for i, name in enumerate(names[-waiting:])
    ]
    names = names[:-waiting]
    state.missed_tables = names[:50]
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/{}/export/01741572000000-0123abcd"
    state.in_flight = [
        Tracked(arn.format(name), name, 1.7e9, 1.7e9 + 900.5, 123.25, 2, "FULL_EXPORT", 1400.75)
        for name in names[:IN_FLIGHT]
    ]
    state.foreign = [
        Tracked(arn.format(name), "", 1.7e9, 1.7e9 + 900.5, 123.25)
        for name in names[IN_FLIGHT : 2 * IN_FLIGHT]
    ]
    state.measured = {history_key(name, "FULL_EXPORT"): 777.5 for name in names[-249:]}
    state.durations = [600.0 + i / 7 for i in range(256)]
    state.ratios = [0.9 + i / 997 for i in range(256)]
    state.history_fit = add_to_fit([], 700.0, 650.0)

    store.save(state, release=True)

    assert max(_sizes().values()) < ITEM_LIMIT
    assert store.load(CUT) == state


def test_history_is_kept_apart_by_export_type() -> None:
    full, incremental = history_key("t", "FULL_EXPORT"), history_key("t", "INCREMENTAL_EXPORT")

    assert full != incremental
    assert history_table(full) == history_table(incremental) == "t"


def test_history_is_trusted_only_while_it_predicted_durations() -> None:
    rng = random.Random(3)
    expected = [rng.uniform(480, 1500) for _ in range(500)]
    within_a_tenth: list[float] = []
    unrelated: list[float] = []
    for value in expected:
        within_a_tenth = add_to_fit(within_a_tenth, value * rng.uniform(0.9, 1.1), value)
        unrelated = add_to_fit(unrelated, rng.uniform(480, 1500), value)
    few: list[float] = []
    for value in expected[:7]:
        few = add_to_fit(few, value, value)

    assert history_predicts(within_a_tenth) is True
    assert history_predicts(unrelated) is False
    assert history_predicts(few) is None  # too few to tell: tried
    ratios = [1.0] * 8
    assert trusted_ratios(ratios, None) == ratios
    assert trusted_ratios(ratios[:7], True) == PRIOR_RATIOS
    assert trusted_ratios(ratios, False) is None
