"""The doctor benchmark (bench/doctor.py): its rows count what its table says."""

from __future__ import annotations

from moto import mock_aws

from bench.doctor import GOAL, Row, table, time_run
from tests.doctor.world import build


def test_a_timed_run_counts_checks_calls_and_fixture_answers() -> None:
    with mock_aws():
        world = build(members=1, regions=("eu-west-1", "eu-central-1"))
        row = time_run(world, workers=2, latency_s=0.0, setup_s=1.0)

    assert (row.accounts, row.regions, row.workers, row.latency_ms) == (1, 2, 2, 0)
    assert row.not_ok == 0
    assert row.checks > 20
    # moto_server answers most calls over HTTP; the fixtures the few it lacks.
    assert row.http_calls > row.fixture_answers > 0


def test_the_table_says_whether_the_goal_is_met() -> None:
    fast = Row("providers", *GOAL, 8, 20, 1570, 0, 2077, 157, 12.5, 50)
    slow = Row("stackSets", *GOAL, 8, 20, 1570, 0, 2077, 157, 75.0, 50)
    one_worker = Row("providers", *GOAL, 1, 20, 1570, 0, 2077, 157, 95.0, 50)
    no_latency = Row("providers", *GOAL, 8, 0, 1570, 0, 2077, 157, 9.0, 50)

    lines = table([fast, slow, one_worker, no_latency])

    assert "goal 50 accounts x 3 Regions under 60 s, providers: met (12.5 s)" in lines
    assert "goal 50 accounts x 3 Regions under 60 s, stackSets: NOT met (75.0 s)" in lines
    assert sum("goal" in line for line in lines) == 2
