"""Experiments: strategies x replications in one or two processes, paired comparison, Parquet output."""

from __future__ import annotations

import json
import math
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from dom_core.errors import DomError
from sim import runner
from sim.engines import Knobs
from sim.metrics import KPI_NAMES
from sim.runner import ExperimentResult, run_experiment
from sim.scenario import Scenario
from sim.tables import TABLES
from tests.sim.conftest import run_script, variant

STRATEGIES = ["split_shipments", "cheapest"]


@pytest.fixture(scope="module")
def experiment_scenario(tiny: Scenario) -> Scenario:
    return variant(
        tiny,
        horizon_days=3,
        experiment__strategies=STRATEGIES,
        experiment__baseline="split_shipments",
        experiment__replications=3,
    )


@pytest.fixture(scope="module")
def serial(experiment_scenario: Scenario) -> ExperimentResult:
    return run_experiment(experiment_scenario, workers=1)


PARALLEL = """
import sys
from sim.runner import run_experiment
from sim.scenario import Scenario
scenario = Scenario.model_validate_json(open(sys.argv[1]).read())
run_experiment(scenario, workers=2).write(sys.argv[2])
"""


def test_one_or_two_workers_give_the_same_results(
    experiment_scenario: Scenario, serial: ExperimentResult, tmp_path: Path
) -> None:
    """workers=2 runs in a fresh interpreter: forking this one, which has used polars, deadlocks
    (test_workers_are_not_forked_from_a_polars_process)."""
    spec = tmp_path / "scenario.json"
    spec.write_text(experiment_scenario.model_dump_json())
    run_script(PARALLEL, str(spec), str(tmp_path / "out"), env={}, timeout=300)
    parallel_kpis = pl.read_parquet(tmp_path / "out" / "kpis.parquet")
    parallel_comparison = pl.read_parquet(tmp_path / "out" / "comparison.parquet")
    # rtol: KPI means sum floats in polars' random group order (test_kpis_are_bitwise_reproducible)
    assert_frame_equal(serial.kpi_table, parallel_kpis, check_exact=False, rel_tol=1e-12, abs_tol=0)
    assert_frame_equal(serial.comparison, parallel_comparison, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    for name in TABLES:
        written = pl.read_parquet(tmp_path / "out" / f"{name}.parquet")
        assert written.equals(pl.concat([r.tables[name] for r in serial.runs], how="vertical")), name


class InlinePool:
    """A stand-in for ProcessPoolExecutor that records how it was made and runs tasks inline."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        InlinePool.made.append(kwargs)
        if "initializer" in kwargs:
            kwargs["initializer"](*kwargs.get("initargs", ()))

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future


def test_workers_are_not_forked_from_a_polars_process(
    experiment_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "ProcessPoolExecutor", InlinePool)
    InlinePool.made.clear()
    result = runner.run_experiment(variant(experiment_scenario, experiment__replications=1), workers=2)
    assert result.kpi_table.height == 2
    assert len(InlinePool.made) == 1
    context = InlinePool.made[0].get("mp_context")
    start = context.get_start_method() if context is not None else multiprocessing.get_start_method()
    assert start in ("spawn", "forkserver")


def test_kpi_table_has_every_run(serial: ExperimentResult) -> None:
    table = serial.kpi_table
    assert table.height == len(STRATEGIES) * 3
    assert table.select("strategy", "replication").rows() == [(s, r) for r in range(3) for s in STRATEGIES]
    assert set(KPI_NAMES) <= set(table.columns)
    assert (table["orders"] > 0).all()


def test_comparison_is_paired_against_the_baseline(serial: ExperimentResult) -> None:
    comp, kpis = serial.comparison, serial.kpi_table
    measured = [k for k in KPI_NAMES if k != "cost_over_bound"]  # no bound requested: left out
    assert comp.height == len(STRATEGIES) * len(measured)
    assert set(comp["baseline"]) == {"split_shipments"}
    base = comp.filter(pl.col("strategy") == "split_shipments")
    assert (base["diff_vs_baseline"] == 0).all() and (base["diff_ci95"] == 0).all()
    assert not base["significant"].any()
    t = stats.t.ppf(0.975, 2)
    for row in comp.filter(pl.col("strategy") == "cheapest").iter_rows(named=True):
        kpi = row["kpi"]
        mine = kpis.filter(pl.col("strategy") == "cheapest").sort("replication")[kpi].to_numpy()
        theirs = kpis.filter(pl.col("strategy") == "split_shipments").sort("replication")[kpi].to_numpy()
        diffs = mine - theirs
        if any(math.isnan(d) for d in diffs):
            continue
        assert row["mean"] == pytest.approx(mine.mean())
        assert row["diff_vs_baseline"] == pytest.approx(diffs.mean(), abs=1e-12)
        assert row["diff_ci95"] == pytest.approx(t * diffs.std(ddof=1) / math.sqrt(3), abs=1e-12)
        assert row["significant"] == (abs(row["diff_vs_baseline"]) > row["diff_ci95"])
    cost = comp.filter((pl.col("strategy") == "cheapest") & (pl.col("kpi") == "cost_per_order")).row(
        0, named=True
    )
    assert cost["diff_ci95"] > 0  # paired differences really vary across replications


def test_results_are_written_as_parquet(serial: ExperimentResult, tmp_path: Path) -> None:
    out = serial.write(tmp_path / "results")
    for name in TABLES:
        df = pl.read_parquet(out / f"{name}.parquet")
        expected = sum(r.tables[name].height for r in serial.runs)
        assert df.height == expected
        assert {"strategy", "replication"} <= set(df.columns)
        assert pd.read_parquet(out / f"{name}.parquet").shape == df.shape
    assert_frame_equal(pl.read_parquet(out / "kpis.parquet"), serial.kpi_table)
    assert_frame_equal(pl.read_parquet(out / "comparison.parquet"), serial.comparison)
    assert pd.read_parquet(out / "comparison.parquet")["kpi"].tolist() == serial.comparison["kpi"].to_list()
    assert pl.read_csv(out / "comparison.csv").height == serial.comparison.height
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["strategies"] == STRATEGIES and manifest["baseline"] == "split_shipments"
    assert manifest["replications"] == 3 and manifest["seed"] == serial.scenario.seed
    assert Scenario.model_validate(manifest["scenario_spec"]) == serial.scenario


def test_a_run_pickles_to_equal_tables(serial: ExperimentResult) -> None:
    """Workers send runs to the parent pickled (tables as Arrow IPC): nothing changes on the way."""
    run = serial.runs[0]
    back = pickle.loads(pickle.dumps(run))
    assert set(back.tables) == set(TABLES)
    for name, table in run.tables.items():
        assert_frame_equal(back.tables[name], table)
    assert (back.strategy, back.replication, back.orders, back.events) == (
        run.strategy,
        run.replication,
        run.orders,
        run.events,
    )
    assert repr(back.kpis) == repr(run.kpis)  # NaN KPIs (no bound) included


@pytest.mark.parametrize("strategies", [["split_shipments"], STRATEGIES])
def test_runs_share_their_replications_demand_only_when_strategies_are_compared(
    experiment_scenario: Scenario, monkeypatch: pytest.MonkeyPatch, strategies: list[str]
) -> None:
    seen: list[tuple[int, object]] = []
    real = runner.run_one

    def spying(*args: Any, shared: Any = None, **kwargs: Any) -> runner.RunResult:
        seen.append((args[2], shared))
        return real(*args, shared=shared, **kwargs)

    monkeypatch.setattr(runner, "run_one", spying)
    scenario = variant(
        experiment_scenario, experiment__strategies=strategies, experiment__baseline=strategies[0]
    )
    runner.run_experiment(scenario, workers=1)
    assert [rep for rep, _ in seen] == [rep for rep in range(3) for _ in strategies]
    if len(strategies) == 1:
        assert all(shared is None for _, shared in seen)  # a lone strategy keeps no orders
    else:
        by_rep = {rep: {id(shared) for r, shared in seen if r == rep} for rep in range(3)}
        assert all(len(ids) == 1 for ids in by_rep.values()) and len(set().union(*by_rep.values())) == 3
        assert all(shared is not None and shared.replication == rep for rep, shared in seen)


@pytest.mark.parametrize(("replications", "workers"), [(5, 2), (4, 2), (3, 2), (1, 2), (5, 3), (2, 1)])
def test_a_replication_goes_to_one_worker_but_the_last_ones_run_by_run(
    experiment_scenario: Scenario, replications: int, workers: int
) -> None:
    spec = variant(
        experiment_scenario,
        experiment__strategies=["split_shipments", "cheapest", "distance"],
        experiment__baseline="split_shipments",
    )
    runs = spec.experiment.runs()
    tasks = runner.batches(runs, replications, workers)
    # every run of every replication exactly once
    done = sorted((rep, run.name) for rep, chunk in tasks for run in chunk)
    assert done == sorted((rep, run.name) for rep in range(replications) for run in runs)
    whole = [rep for rep, chunk in tasks if len(chunk) > 1]
    assert whole == list(range(replications - replications % workers))  # shares out evenly
    singles = [rep for rep, chunk in tasks if len(chunk) == 1]
    assert set(singles).isdisjoint(whole) and len(singles) == len(runs) * (replications % workers)
    # longest first (the objective strategy scores every candidate), in a replication and among singles
    firsts = [chunk[0].name for _, chunk in tasks[: len(whole) + 1]]
    assert set(firsts) == {"cheapest"}


def test_a_lone_strategy_runs_replication_by_replication(experiment_scenario: Scenario) -> None:
    lone = variant(experiment_scenario, experiment__strategies=["distance"], experiment__baseline="distance")
    (run,) = lone.experiment.runs()
    assert runner.batches([run], 4, 2) == [(rep, [run]) for rep in range(4)]


def test_an_experiment_without_runs_is_refused_before_any_work(experiment_scenario: Scenario) -> None:
    """A scenario copied with model_copy(update=...) is not validated again: the runner checks its numbers
    (0 replications once ended in a polars ColumnNotFoundError after the empty run loop)."""
    exp = experiment_scenario.experiment
    for update, workers, message in (
        ({"replications": 0}, None, "experiment.replications: must be at least 1, got 0"),
        ({"replications": -1}, 2, "experiment.replications: must be at least 1, got -1"),
        ({}, 0, "workers: must be at least 1, got 0"),
        ({"workers": 0}, None, "experiment.workers: must be at least 1, got 0"),
        ({"strategies": []}, None, "experiment.strategies: needs at least one strategy"),
    ):
        scenario = experiment_scenario.model_copy(update={"experiment": exp.model_copy(update=update)})
        with pytest.raises(DomError) as caught:
            run_experiment(scenario, workers=workers, on_done=lambda *_: pytest.fail("a run started"))
        assert str(caught.value) == message


def test_knobs_out_of_range_are_refused_naming_the_knob() -> None:
    Knobs(1e-3, 1e-3, 1, 0, 0.0)  # the ends of the ranges are allowed
    Knobs(store_participation=1.0)
    for knob, value, allowed in (
        ("demand_factor", 0.0, "greater than 0"),
        ("capacity_factor", math.nan, "a finite number greater than 0"),
        ("max_shipments", 0, "at least 1"),
        ("safety_stock", -1, "at least 0"),
        ("store_participation", 1.01, "from 0 to 1"),
    ):
        with pytest.raises(DomError, match=f"^{knob}: must be {allowed}, got "):
            Knobs(**{knob: value})
