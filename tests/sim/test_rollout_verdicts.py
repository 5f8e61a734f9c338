"""Go/no-go judging: each criterion test against the 95% CI of constructed differences (pass, fail,
inconclusive), the stage's overall verdict, and the verdicts and risks built from constructed runs."""

from __future__ import annotations

import math

import polars as pl
import pytest

from sim.rehearsal import BASELINE, SEGMENT_SUMS, RunSummary
from sim.rehearsal_report import RISKS, SEGMENTS, STAGES, VERDICTS, build, kpi_value
from sim.rollout import BIG_BANG, STAGED
from sim.scenario import load_scenario
from sim.verdicts import GO, INCONCLUSIVE, NO_GO, judge, label, overall, passes
from sim.world import World, build_world
from tests.sim.conftest import DATA


@pytest.mark.parametrize(
    ("test", "threshold", "low", "high", "expected"),
    [
        ("max_drop", 0.01, -0.008, 0.004, True),  # the whole CI above -0.01
        ("max_drop", 0.01, -0.03, -0.012, False),  # the whole CI below
        ("max_drop", 0.01, -0.015, 0.002, None),  # straddles -0.01
        ("max_rise", 0.5, -0.2, 0.4, True),
        ("max_rise", 0.5, 0.6, 0.9, False),
        ("max_rise", 0.5, 0.3, 0.7, None),
        ("must_fall", 0.0, -0.9, -0.1, True),
        ("must_fall", 0.0, 0.0, 0.0, False),  # no change is not a fall
        ("must_fall", 0.0, -0.4, 0.2, None),
        ("must_rise", 0.0, 0.1, 0.3, True),
        ("must_rise", 0.0, -0.3, -0.1, False),
        ("max", 2.0, 0.0, 2.0, True),
        ("max", 2.0, 2.5, 4.0, False),
        ("max", 2.0, 1.0, 3.0, None),
        ("min", 0.95, 0.96, 0.99, True),
        ("min", 0.95, 0.90, 0.94, False),
        ("max_drop", 0.01, math.nan, math.nan, None),  # one replication: no CI, no verdict
    ],
)
def test_a_test_passes_fails_or_is_inconclusive_by_its_ci(
    test: str, threshold: float, low: float, high: float, expected: bool | None
) -> None:
    assert passes(test, threshold, low, high) is expected


def test_judging_uses_the_95_percent_ci_of_the_replications() -> None:
    falls = judge("cost_per_order", "must_fall", 0.0, [-0.50, -0.52, -0.48])
    assert falls.passed is True and falls.verdict == GO
    assert falls.low < -0.5 < falls.high < 0 and falls.mean == pytest.approx(-0.5)
    drop = judge("on_time_rate", "max_drop", 0.01, [-0.020, -0.021, -0.019])
    assert drop.verdict == NO_GO and drop.criterion == "on_time_rate max_drop 0.01"
    unsure = judge("fill_rate", "max_drop", 0.005, [-0.010, 0.000, 0.004])
    assert unsure.passed is None and unsure.verdict == INCONCLUSIVE and unsure.low < -0.005 < unsure.high
    assert label("cost_per_order", "must_fall", 0.0) == "cost_per_order must_fall"
    assert overall([falls]) == GO
    assert overall([falls, unsure]) == INCONCLUSIVE
    assert overall([falls, unsure, drop]) == NO_GO
    with pytest.raises(ValueError, match="unknown criterion test"):
        passes("at_most", 1.0, 0.0, 0.5)


def test_kpis_pool_segment_sums() -> None:
    sums = dict.fromkeys(SEGMENT_SUMS, 0.0) | {
        "units": 10,
        "allocated": 9,
        "shipped": 4,
        "on_time": 3,
        "cost": 40,
    }
    row = pl.Series([float(sums[k]) for k in SEGMENT_SUMS]).to_numpy()
    assert kpi_value("fill_rate", row) == 0.9
    assert kpi_value("on_time_rate", row) == 0.75
    assert kpi_value("cost_per_order", row) == 10.0
    assert kpi_value("late_orders", row) == 1.0
    assert math.isnan(kpi_value("cost_per_order", row * 0))  # nothing shipped: no cost per order


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(load_scenario(DATA / "rollout_tiny.yaml"))


def summary(world: World, plan: str, rep: int) -> RunSummary:
    """A constructed run: the plans cost 1 less per order and are 5 points less on time than the baseline
    in every replication; their fill rate differs by -1, 0 and +0.4 points by replication; the staged plan
    overloads FR-S001 on 3 days in its second stage."""
    rows, locs = [], []
    changed = plan != BASELINE
    for stage in (0, 1):
        for market in world.market_names:
            for channel in world.scenario.demand.channels:
                fill = 0.9 + (0.01 * (rep - 1) if rep < 2 else 0.004) * changed
                rows.append(
                    {
                        "stage_index": stage,
                        "market": market,
                        "channel": channel,
                        "orders": 100.0,
                        "units": 200.0,
                        "allocated": 200.0 * fill,
                        "cost": 100.0 * (10 - changed),
                        "co2": 50.0,
                        "shipped": 100.0,
                        "on_time": 100.0 * (0.9 - 0.05 * changed),
                        "days": 250.0,
                        "split": 10.0,
                    }
                )
        overloaded = 3.0 if plan == STAGED and stage == 1 else 0.0
        locs.append(
            {
                "stage_index": stage,
                "location": "FR-S001",
                "stockout_days": 1.0,
                "capacity_overload_days": overloaded,
                "walk_in_lost_units": 0.0,
                "backlog_growth": 0.0,
            }
        )
    return RunSummary(plan, rep, pl.DataFrame(rows), pl.DataFrame(locs), 0.1, 400)


def test_verdicts_and_tables_follow_the_criteria_on_constructed_runs(world: World) -> None:
    runs = [summary(world, plan, rep) for rep in range(3) for plan in (BASELINE, STAGED, BIG_BANG)]
    result = build(world, runs, {"seed": 1})
    assert result.stages.schema == pl.Schema(STAGES) and result.segments.schema == pl.Schema(SEGMENTS)
    assert result.risks.schema == pl.Schema(RISKS) and result.verdicts.schema == pl.Schema(VERDICTS)
    v = {(r["plan"], r["stage"], r["criterion"]): r for r in result.verdicts.iter_rows(named=True)}
    for plan in (STAGED, BIG_BANG):
        for stage in ("fr-web", "all-web"):
            assert v[(plan, stage, "cost_per_order must_fall")]["verdict"] == GO
            assert v[(plan, stage, "cost_per_order must_fall")]["diff_mean"] == pytest.approx(-1.0)
            assert v[(plan, stage, "on_time_rate max_drop 0.01")]["verdict"] == NO_GO
            assert v[(plan, stage, "fill_rate max_drop 0.005")]["verdict"] == INCONCLUSIVE
            assert v[(plan, stage, "fill_rate max_drop 0.005")]["passed"] is None
            assert v[(plan, stage, "overall")]["verdict"] == NO_GO
    assert v[(STAGED, "fr-web", "capacity_overload_days max 2")]["verdict"] == GO
    assert v[(STAGED, "all-web", "capacity_overload_days max 2")]["verdict"] == NO_GO
    assert v[(STAGED, "all-web", "capacity_overload_days max 2")]["diff_mean"] == 3.0  # the plan's value
    seg = result.segments.filter(plan=STAGED, stage="fr-web", kpi="cost_per_order")
    assert seg.filter(in_stage=True).select("market", "channel").rows() == [("FR", "web")]
    assert seg["diff_mean"].to_list() == pytest.approx([-1.0] * 4)
    assert seg["significant"].all() and (seg["replications"] == 3).all()
    overload = result.risks.filter(plan=STAGED, stage="all-web", signal="capacity_overload_days")
    assert overload.select("scope", "in_stage", "baseline", "plan_value", "diff").rows() == [
        ("FR-S001", True, 0.0, 3.0, 3.0)
    ]
    spill = result.risks.filter(plan=STAGED, stage="fr-web", signal="spillover_cost_per_order")
    assert sorted(spill["scope"]) == ["DE/marketplace", "DE/web", "FR/marketplace"]
    assert not result.risks.filter(plan=BIG_BANG, signal="spillover_cost_per_order").height
