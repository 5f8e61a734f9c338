"""Experiments can report every strategy's cost over a lower bound on the same orders."""

from __future__ import annotations

import math

import polars as pl

from sim.model import Knobs
from sim.runner import lost_sale_penalty, replication_bound, run_experiment
from sim.scenario import Scenario
from sim.world import World


def test_cost_over_bound_is_reported_and_never_below_one(tiny: Scenario) -> None:
    scenario = tiny.model_copy(update={"experiment": tiny.experiment.model_copy(update={"bound": True})})
    result = run_experiment(scenario, workers=1)
    ratios = result.kpi_table["cost_over_bound"]
    assert ratios.null_count() == 0
    assert all(math.isfinite(r) and r >= 1.0 for r in ratios)
    row = result.comparison.filter((pl.col("kpi") == "cost_over_bound") & (pl.col("strategy") == "cheapest"))
    assert row.height == 1 and row["mean"][0] >= 1.0


def test_bound_is_off_by_default_and_same_for_every_strategy_of_a_replication(
    tiny: Scenario, tiny_world: World
) -> None:
    result = run_experiment(tiny, workers=1)
    assert all(math.isnan(r) for r in result.kpi_table["cost_over_bound"])
    bound, penalty = replication_bound(tiny_world, 0, Knobs())
    again, _ = replication_bound(tiny_world, 0, Knobs())
    assert bound == again > 0
    assert penalty == lost_sale_penalty(tiny_world) > 0
