"""Parameter sweeps: designs, space files, resuming, local vs Dask, Pareto and sensitivity, ``dom sweep``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from dom_core.yamlio import ConfigError
from sim import sweep as sweep_mod
from sim.cli import app
from sim.scenario import Scenario
from sim.sweep import Tick, local_pool, run_sweep
from sim.sweep_design import BASELINE_ID, design_points, grid_size
from sim.sweep_report import build, dominance, pareto_table, sensitivity
from sim.sweep_space import SweepPlan, SweepSpace, load_space, plan
from tests.sim.conftest import variant

SPACE = """\
strategy: {kind: cheapest}
design: grid
replications: 2
knobs:
  max_shipments: {values: [1, 3]}
  split_penalty: {min: 0.0, max: 4.0, levels: 2}
"""
KPIS = ["cost_per_order", "delivery_days_mean", "co2_kg_per_order", "fill_rate", "orders"]


@pytest.fixture(scope="module")
def small(tiny: Scenario) -> Scenario:
    """tiny.yaml cut to 2 days of 150 orders: a run takes ~0.05 s."""
    return variant(tiny, horizon_days=2, demand__orders_per_day=150)


def space_of(text: str, scenario: Scenario) -> SweepPlan:
    return plan(SweepSpace.model_validate(yaml.safe_load(text)), scenario)


@pytest.fixture(scope="module")
def small_plan(small: Scenario) -> SweepPlan:
    return space_of(SPACE, small)


# ------------------------------------------------------------------------------------------ designs
def test_grid_takes_every_combination_of_levels(small: Scenario) -> None:
    text = """\
strategy: {kind: cheapest}
knobs:
  max_shipments: {values: [1, 2, 3]}
  store_participation: {min: 0.0, max: 1.0, levels: 4}
  safety_stock: {min: 0, max: 1}
"""
    p = space_of(text, small)
    points = design_points(p, "grid", 0, 0)
    assert grid_size(p) == 3 * 4 * 2  # safety stock's 3 levels 0, 0.5, 1 round to 0 and 1
    assert len(points) == 1 + 24 and points[0].is_baseline
    combos = {tuple(pt.values.values()) for pt in points[1:]}
    assert len(combos) == 24
    assert {pt.values["store_participation"] for pt in points[1:]} == {0.0, 0.333333, 0.666667, 1.0}
    assert points[0].values == {"max_shipments": None, "store_participation": 1.0, "safety_stock": None}


@pytest.mark.parametrize("design", ["random", "sobol", "lhs"])
def test_sampled_designs_stay_in_bounds_and_are_seeded(small: Scenario, design: str) -> None:
    text = """\
strategy: {kind: weighted}
knobs:
  max_shipments: {values: [1, 3]}
  safety_stock: {min: 0, max: 4}
  demand_factor: {min: 0.5, max: 1.5}
  time: {min: 0.0, max: 2.0}
"""
    p = space_of(text, small)
    points = design_points(p, design, 40, seed=3)  # type: ignore[arg-type]
    assert [pt.point_id for pt in points] == list(range(41))
    for pt in points[1:]:
        v = pt.values
        assert v["max_shipments"] in (1, 3) and isinstance(v["max_shipments"], int)
        assert v["safety_stock"] in range(5) and isinstance(v["safety_stock"], int)
        assert 0.5 <= v["demand_factor"] <= 1.5 and 0.0 <= v["time"] <= 2.0  # type: ignore[operator]
    assert len({pt.values["safety_stock"] for pt in points[1:]}) == 5  # every whole number is drawn
    again = design_points(p, design, 40, seed=3)  # type: ignore[arg-type]
    other = design_points(p, design, 40, seed=4)  # type: ignore[arg-type]
    assert again == points and other != points
    if design == "lhs":  # one value in each of the 40 strata of a continuous knob
        strata = sorted(int((pt.values["demand_factor"] - 0.5) * 40) for pt in points[1:])  # type: ignore[operator]
        assert strata == list(range(40))


def test_points_set_knobs_and_strategy_parameters(small_plan: SweepPlan) -> None:
    base, point = design_points(small_plan, "grid", 0, 0)[:2]
    assert small_plan.run.strategy == {"kind": "cheapest", "split_penalty": 2.0}  # the strategy's default
    assert point.knobs().max_shipments == 1 and base.knobs().max_shipments is None
    assert point.run(small_plan.run).strategy == {"kind": "cheapest", "split_penalty": 0.0}


# ------------------------------------------------------------------------------------------ space files
def failing_space(tmp_path: Path, small: Scenario, text: str, needle: str) -> tuple[str, int]:
    """The error of a space file and the line of ``needle`` in it."""
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if needle in row)
    with pytest.raises(ConfigError) as info:
        load_space(path, small)
    return " ".join(str(info.value).split()), line


@pytest.mark.parametrize(
    ("change", "needle", "field", "message"),
    [
        ("desgin: grid\n", "desgin", "desgin", "Extra inputs are not permitted"),
        ("knobs:\n  store_participation: {min: 0.8, max: 0.2}\n", "store_participation",
         "knobs.store_participation", "min 0.8 is above max 0.2"),
        ("knobs:\n  store_participation:\n    min: 0.5\n    max: 1.5\n", "min: 0.5",
         "knobs.store_participation.min", "store_participation must be from 0 to 1, got 1.5"),
        ("knobs:\n  max_shipments: {values: [1, 2.5]}\n", "max_shipments", "knobs.max_shipments.values",
         "needs whole numbers"),
        ("knobs:\n  demand_factor: {min: 0.5, max: 1.0, step: 2}\n", "demand_factor",
         "knobs.demand_factor.step", "Extra inputs are not permitted"),
        ("knobs:\n  capacity_factor: {min: 1, max: 2}\nbaseline: {demand_factor: 1.0}\n", "baseline",
         "baseline.demand_factor", "is not one of the swept knobs"),
        ("strategy: {kind: cheapest}\nknobs:\n  spilt_penalty: {min: 0, max: 1}\n", "spilt_penalty",
         "knobs.spilt_penalty", "not a knob of strategy 'cheapest'"),
        ("knobs:\n  split_penalty: {min: 0, max: 1}\n", "split_penalty", "knobs.split_penalty",
         "not a knob of strategy 'split_shipments'"),
        ("strategy: {kind: weighted}\nknobs:\n  time:\n    values:\n      - 1\n      - fast\n", "fast",
         "knobs.time.values.1", "Input should be a valid number"),
    ],
)
def test_space_errors_name_the_field_and_the_line(
    tmp_path: Path, small: Scenario, change: str, needle: str, field: str, message: str
) -> None:
    text = "design: sobol\npoints: 4\n" + change
    if "knobs:" not in change:
        text += "knobs:\n  max_shipments: {values: [1, 2]}\n"
    error, line = failing_space(tmp_path, small, text, needle)
    assert str(tmp_path / "space.yaml") in error
    assert f"{field} (line {line}):" in error, error
    assert message in error, error


def test_shipped_space_validates_against_the_default_scenario() -> None:
    from sim.scenario import load_scenario
    from tests.sim.conftest import ROOT

    default = load_scenario(ROOT / "scenarios" / "default.yaml")
    p = load_space(ROOT / "scenarios" / "sweeps" / "sweep_space.yaml", default)
    assert p.space.strategy_knobs == ["split_penalty", "time"]
    assert len(design_points(p, p.space.design, p.space.points, p.space.seed or 0)) == p.space.points + 1


# ------------------------------------------------------------------------------------------ running
@pytest.fixture(scope="module")
def reference(small: Scenario, small_plan: SweepPlan, tmp_path_factory: pytest.TempPathFactory
              ) -> pl.DataFrame:
    """The small sweep (baseline + 4 grid points x 2 replications), run in this process."""
    points = design_points(small_plan, "grid", 0, 0)
    return run_sweep(small, small_plan.run, points, 2, tmp_path_factory.mktemp("ref")).rows


def kpi_rows(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.drop("seconds").sort("point_id", "replication")


def test_common_random_numbers_and_knobs_take_effect(reference: pl.DataFrame) -> None:
    orders = reference.pivot("replication", index="point_id", values="orders")
    assert orders.select(pl.exclude("point_id").n_unique()).row(0) == (1, 1)  # same demand at every point
    one, three = (reference.filter(pl.col("point_id") == i) for i in (1, 3))  # max_shipments 1 vs 3
    assert (one["split_rate"] == 0).all() and not one["cost_per_order"].equals(three["cost_per_order"])


def test_an_interrupted_sweep_resumes_and_skips_finished_points(
    small: Scenario, small_plan: SweepPlan, reference: pl.DataFrame, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    points = design_points(small_plan, "grid", 0, 0)
    ran: list[tuple[int, int]] = []
    real = sweep_mod.run_task

    def counting(task: sweep_mod.TaskSpec) -> sweep_mod.Row:
        ran.append((task.point_id, task.replication))
        return real(task)

    monkeypatch.setattr(sweep_mod, "run_task", counting)

    def stop_after_two_points(t: Tick) -> None:
        if t.point_finished and t.points_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(small, small_plan.run, points, 2, tmp_path, on_tick=stop_after_two_points)
    assert ran == [(0, 0), (0, 1), (1, 0), (1, 1)] and len(list((tmp_path / "points").glob("*.parquet"))) == 2
    ran.clear()
    resumed = run_sweep(small, small_plan.run, points, 2, tmp_path)
    assert sorted(ran) == [(p, r) for p in (2, 3, 4) for r in (0, 1)]
    assert (resumed.runs_executed, resumed.points_reused) == (6, 2)
    assert kpi_rows(resumed.rows).equals(kpi_rows(reference))
    ran.clear()
    more = run_sweep(small, small_plan.run, points, 3, tmp_path)  # one more replication: only it runs
    assert sorted(ran) == [(p, 2) for p in range(5)] and more.rows.height == 15
    ran.clear()
    run_sweep(small, small_plan.run, points[:3], 2, tmp_path)
    assert ran == []


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_dask_and_local_processes_give_the_local_run_point_for_point(
    small: Scenario, small_plan: SweepPlan, reference: pl.DataFrame, dask_address: str, tmp_path: Path
) -> None:
    points = design_points(small_plan, "grid", 0, 0)
    dask = sweep_mod.dask_cluster(dask_address)
    on_dask = run_sweep(small, small_plan.run, points, 2, tmp_path / "dask", dask)
    assert on_dask.runs_executed == 10
    assert kpi_rows(on_dask.rows).equals(kpi_rows(reference))
    pooled = run_sweep(small, small_plan.run, points, 2, tmp_path / "pool", local_pool(2))
    assert kpi_rows(pooled.rows).equals(kpi_rows(reference))


# ------------------------------------------------------------------------------------------ report
def stats_of(means: dict[int, dict[str, float]]) -> pl.DataFrame:
    return pl.DataFrame([{"point_id": p, "kpi": k, "mean": v, "ci95": 0.1} for p, row in means.items()
                         for k, v in row.items()])


def test_pareto_front_on_constructed_points() -> None:
    means = {  # cost, days, CO2e: 0 and 3 are dominated by 1; 4 by 0-3; 5 (NaN cost: the worst) by 6
        0: (5.0, 3.0, 0.5), 1: (4.0, 3.0, 0.5), 2: (6.0, 2.0, 0.4), 3: (4.0, 3.5, 0.5), 4: (7.0, 3.5, 0.6),
        5: (math.nan, 1.0, 0.1), 6: (9.0, 1.0, 0.1),
    }
    stats = stats_of({p: dict(zip(("cost_per_order", "delivery_days_mean", "co2_kg_per_order"), v,
                                  strict=True)) for p, v in means.items()})
    knobs = pl.DataFrame({"point_id": list(means), "split_penalty": [float(p) for p in means]})
    front = pareto_table(stats, knobs).sort("point_id")
    assert front["pareto"].to_list() == [False, True, True, False, False, False, True]
    assert front["dominated_by"].to_list() == [1, 0, 0, 1, 4, 1, 0]
    assert front["cost_per_order_ci95"].to_list() == [0.1] * 7
    assert dominance(np.array([[1.0, 1.0], [1.0, 1.0]])).tolist() == [0, 0]  # ties dominate nobody


def test_sensitivity_ranks_the_knob_that_moves_each_kpi() -> None:
    rng = np.random.default_rng(5)
    x1, x2 = rng.random(30), rng.random(30)
    knobs = pl.DataFrame({"point_id": range(31), "x1": [0.5, *x1], "x2": [0.5, *x2], "fixed": [1.0] * 31})
    cost = 3.0 * x1 + 0.2 * x2
    days = np.exp(-5 * x2)  # monotone but not linear in x2
    means = {0: {"cost_per_order": 99.0, "delivery_days_mean": -99.0, "fill_rate": 1.0}}  # the baseline
    means |= {i + 1: {"cost_per_order": c, "delivery_days_mean": d, "fill_rate": 1.0}
              for i, (c, d) in enumerate(zip(cost, days, strict=True))}
    sens = sensitivity(stats_of(means), knobs)
    assert set(sens["knob"]) == {"x1", "x2"} and set(sens["kpi"]) == {"cost_per_order", "delivery_days_mean"}
    row = {(r["kpi"], r["knob"]): r for r in sens.iter_rows(named=True)}
    assert row[("cost_per_order", "x1")]["rank"] == 1 and row[("cost_per_order", "x1")]["src"] > 0.95
    assert row[("cost_per_order", "x1")]["r2"] == pytest.approx(1.0)
    assert row[("delivery_days_mean", "x2")]["rank"] == 1
    assert row[("delivery_days_mean", "x2")]["spearman"] == pytest.approx(-1.0)


def test_report_tables(small_plan: SweepPlan, reference: pl.DataFrame) -> None:
    points = design_points(small_plan, "grid", 0, 0)
    report = build(points, small_plan.knob_names, reference, {"kind": "sweep"})
    assert report.points.columns[:8] == ["point_id", "max_shipments", "split_penalty", "kpi", "mean", "ci95",
                                         "replications", "diff_vs_baseline"]
    base = report.points.filter(pl.col("point_id") == BASELINE_ID, pl.col("kpi") == "cost_per_order").row(
        0, named=True)
    assert base["max_shipments"] is None and base["replications"] == 2 and base["diff_vs_baseline"] == 0.0
    expected = reference.filter(pl.col("point_id") == 1)["cost_per_order"].mean()
    got = report.points.filter(pl.col("point_id") == 1, pl.col("kpi") == "cost_per_order")["mean"][0]
    assert got == pytest.approx(expected)
    assert report.pareto.height == 5 and report.pareto["pareto"].any()
    assert set(report.sensitivity["knob"]) <= {"max_shipments", "split_penalty"}


# ------------------------------------------------------------------------------------------ dom sweep
def test_dom_sweep_writes_the_tables_and_resumes(small: Scenario, tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(small.model_dump(mode="json")), encoding="utf-8")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    out = tmp_path / "out"
    args = ["sweep", str(scenario), "--space", str(space), "--design", "lhs", "--points", "3",
            "--replications", "2", "--seed", "5", "--out", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "point 3 done (4/4 points, 8/8 runs)" in " ".join(first.stderr.split())
    assert "Pareto front" in first.stdout and "Sensitivity" in first.stdout
    for name in ("points", "pareto", "sensitivity", "runs"):
        assert (out / f"{name}.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sweep" and manifest["design"] == "lhs" and manifest["points"] == 3
    assert manifest["knobs"] == ["max_shipments", "split_penalty"] and manifest["runs_executed"] == 8
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "(0 runs, 4 reused from an earlier run)" in " ".join(again.stdout.split())
    bad = CliRunner().invoke(app, [*args[:4], "--design", "factorial"])
    assert bad.exit_code == 2 and "--design: 'factorial' is not one of grid" in " ".join(bad.stderr.split())
