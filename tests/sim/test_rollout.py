"""Staged rollouts in the simulation: the candidate applies only where and when a stage is live, with the
same demand and draws, and a malformed rollout section is an error naming the field and the line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from dom_core.yamlio import ConfigError
from sim.model import Simulation
from sim.rollout import big_bang_plan, candidate_network, segments, staged_plan, stages
from sim.scenario import Scenario, StrategyRun, load_scenario
from sim.tables import TABLES
from sim.world import World, build_world
from tests.sim.conftest import DATA

ROLLOUT = DATA / "rollout_tiny.yaml"
CURRENT = StrategyRun(strategy="as_configured")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(ROLLOUT)


@pytest.fixture(scope="module")
def world(scenario: Scenario) -> World:
    return build_world(scenario)


def tables(sim: Simulation) -> dict[str, pl.DataFrame]:
    records = sim.run()
    return {name: records.table(name) for name in TABLES}


def test_stages_widen_the_rollout_and_the_plans_go_live_accordingly(world: World, scenario: Scenario) -> None:
    assert scenario.rollout is not None
    found = stages(world, scenario.rollout)
    assert [(s.name, s.start_day, s.end_day) for s in found] == [("fr-web", 2, 3), ("all-web", 3, 5)]
    assert [s.label for s in found[0].live] == ["FR/web"]
    assert [s.label for s in found[1].live] == ["DE/web", "FR/web"]  # stage 0's segments stay live
    staged = staged_plan(world, scenario.rollout)
    assert dict(staged.live_from) == {("FR", "web"): 48.0, ("DE", "web"): 72.0}
    assert staged.live_hour("DE", "marketplace") == float("inf")
    assert set(big_bang_plan(world, scenario.rollout).live_from) == {
        (s.market, s.channel) for s in segments(world)
    }


def test_decisions_equal_the_baseline_before_the_stage_and_outside_its_segments(
    world: World, scenario: Scenario
) -> None:
    """FR web goes live on day 2; DE shares no stock with FR (disjoint locations, models, replenishment
    and returns), so every DE order, and every order decided before day 2, is decided as in the baseline."""
    assert scenario.rollout is not None
    one_stage = scenario.rollout.model_copy(update={"stages": scenario.rollout.stages[:1]})
    plan = staged_plan(world, one_stage)
    base = tables(Simulation(world, CURRENT, 0))
    staged_sim = Simulation(world, CURRENT, 0, rollout=plan)
    staged = tables(staged_sim)
    assert staged_sim.staged is not None and staged_sim.staged.decisions_on_candidate > 0

    def rows(t: dict[str, pl.DataFrame], where: pl.Expr) -> pl.DataFrame:
        return t["orders"].filter(where).sort("order_ref", "attempt")

    de = pl.col("market") == "DE"
    assert rows(staged, de).height > 500
    assert rows(staged, de).equals(rows(base, de))  # order for order, every column
    de_refs = rows(base, de)["order_ref"].implode()
    de_shipments = [t["shipments"].filter(pl.col("order_ref").is_in(de_refs)) for t in (base, staged)]
    assert de_shipments[0].equals(de_shipments[1])
    before = pl.col("decided_at") < 48.0
    assert rows(staged, before).height > 200
    assert rows(staged, before).equals(rows(base, before))
    early = [t["events"].filter(pl.col("t") < 48.0) for t in (base, staged)]
    assert early[0].equals(early[1])  # the whole network's state until the stage starts
    fr_web_later = (pl.col("market") == "FR") & (pl.col("channel") == "web") & ~before
    assert not rows(staged, fr_web_later).equals(rows(base, fr_web_later))  # the candidate did decide


def test_a_stage_covering_everything_from_day_0_equals_a_plain_run_of_the_candidate(
    world: World, scenario: Scenario
) -> None:
    assert scenario.rollout is not None
    staged = tables(Simulation(world, CURRENT, 1, rollout=big_bang_plan(world, scenario.rollout)))
    candidate = candidate_network(world.network, scenario.rollout.candidate)
    plain = tables(Simulation(replace(world, network=candidate, _returns_engine=None), CURRENT, 1))
    for name in TABLES:
        assert staged[name].height > 0 or name == "explanations", name
        assert staged[name].equals(plain[name]), name


def test_the_candidate_changes_only_the_named_inventory_models(world: World, scenario: Scenario) -> None:
    assert scenario.rollout is not None
    spec = scenario.rollout.candidate.model_copy(update={"inventory_models": ["fr-web"], "cutoff": 2})
    net = candidate_network(world.network, spec)
    by_name = {m.name: m for m in net.inventory_models}
    assert by_name["fr-web"].max_shipments == 1 and by_name["fr-web"].cutoff == 2
    assert by_name["fr-web"].strategy is not None and by_name["fr-web"].strategy.name == "cheapest"
    before = {m.name: m for m in world.network.inventory_models}
    for name in ("de-web", "de-mp", "fr-mp"):
        assert by_name[name] is before[name]
    assert net.locations is world.network.locations  # same locations, so the same ledger indices


def broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """rollout_tiny.yaml with the line ``old`` replaced by ``new``; returns the file and its line number."""
    lines = ROLLOUT.read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines) if line == old]
    assert len(hits) == 1, old
    lines[hits[0]] = new
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, hits[0] + 1


CASES = {
    "misspelt stage field": (
        "      start_day: 3",
        "      strat_day: 3",
        "rollout.stages.1.strat_day",
        "Extra",
    ),
    "stages out of order": (
        "      start_day: 3",
        "      start_day: 1",
        "rollout.stages.1.start_day",
        "later than",
    ),
    "stage after the horizon": (
        "      start_day: 3",
        "      start_day: 9",
        "rollout.stages.1.start_day",
        "horizon",
    ),
    "unknown market": (
        "      where: {markets: [FR], channels: [web]}",
        "      where: {markets: [UK], channels: [web]}",
        "rollout.stages.0.where.markets.0",
        "unknown market 'UK'",
    ),
    "unknown channel": (
        "      where: {channels: [web]}",
        "      where: {channels: [app]}",
        "rollout.stages.1.where.channels.0",
        "unknown channel 'app'",
    ),
    "unknown strategy": (
        "    strategy: cheapest",
        "    strategy: cheapestt",
        "rollout.candidate.strategy",
        "cheapestt",
    ),
    "bad max_shipments": (
        "    max_shipments: 1",
        "    max_shipments: 0",
        "rollout.candidate.max_shipments",
        "greater than or equal to 1",
    ),
    "unknown criterion": (
        "    fill_rate: {max_drop: 0.005}",
        "    fill_ratio: {max_drop: 0.005}",
        "rollout.criteria.fill_ratio.[key]",
        "Input should be",
    ),
    "criterion without a test": (
        "    fill_rate: {max_drop: 0.005}",
        "    fill_rate: {scope: network}",
        "rollout.criteria.fill_rate",
        "needs at least one of",
    ),
    "negative drop": (
        "    on_time_rate: {max_drop: 0.01}",
        "    on_time_rate: {max_drop: -0.01}",
        "rollout.criteria.on_time_rate.max_drop",
        "greater than or equal to 0",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_rollout_section_names_the_field_and_the_line(tmp_path: Path, case: str) -> None:
    old, new, field, message = CASES[case]
    path, line = broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    text = " ".join(str(info.value).split())
    assert f"{field} (line {line})" in text, text
    assert message in text, text
