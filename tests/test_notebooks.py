"""Every notebook runs top to bottom in a real Jupyter kernel (nbclient, the venv's ``python3`` kernel) with
the repository root as its working directory, in its quick mode (``DOM_NOTEBOOK_QUICK=1``: short horizons,
few replications), and what it concludes is checked; notebooks are committed without outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from sim.retail_files import scenario_with_network
from sim.runner import run_experiment
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TINY = ROOT / "tests" / "sim" / "data" / "tiny.yaml"
MARK = "NOTEBOOK-SUMMARY "
# appended to a copy of each notebook: prints the kernel's ``summary`` (a dict, or a polars DataFrame) and
# the kernel's interpreter prefix as one JSON line
PROBE = (
    "import json as _json, sys as _sys\n"
    "_summary = summary.to_dicts() if hasattr(summary, 'to_dicts') else summary\n"
    f"print({MARK!r} + _json.dumps({{'summary': _summary, 'prefix': _sys.prefix}}, default=str))"
)
CELL_TIMEOUT = 300  # seconds; a quick-mode notebook takes well under a minute in all


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small strategy comparison's results folder, for explore_results.ipynb."""
    return run_experiment(load_scenario(TINY), workers=1).write(tmp_path_factory.mktemp("results"))


def execute(notebook: Path) -> Any:
    """Run the notebook in a fresh kernel and return its ``summary`` (as JSON values)."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(new_code_cell(PROBE))
    client = NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    line = next(x for x in text.splitlines() if x.startswith(MARK))
    out = json.loads(line[len(MARK) :])
    assert out["prefix"] == sys.prefix, "the python3 kernel runs another interpreter than this venv's"
    return out["summary"]


def check_explore(summary: Any) -> None:
    assert summary, "an empty comparison"
    assert {row["strategy"] for row in summary} == {r.name for r in load_scenario(TINY).experiment.runs()}


def check_tune(summary: Any) -> None:
    # the tuned model serves France only: Germany's cost must not move by a cent in any candidate
    assert summary["germany_untouched"] is True
    assert summary["candidates"][0] == "as-configured"
    assert "as-configured" not in summary["pareto"], "today's rules should be dominated"
    assert summary["pick"] in summary["pareto"]
    assert summary["pick"] != "as-configured"
    # the pick's saving is significant (its 95% CI excludes zero)
    assert summary["cost_per_order_diff"] < -summary["cost_per_order_diff_ci95"] < 0


def check_rehearse(summary: Any) -> None:
    rollout = load_scenario(ROOT / "scenarios" / "rollout.yaml").rollout
    assert rollout is not None
    stage_names = [s.name for s in rollout.stages]
    assert summary["stages"] == stage_names
    assert len(summary["criteria"]) == len(rollout.criteria)
    for plan in ("staged", "big_bang"):
        assert set(summary[plan]) == set(stage_names)
        assert set(summary[plan].values()) <= {"go", "no-go", "inconclusive"}
    live = summary["live"]
    first, last = stage_names[0], stage_names[-1]
    assert [seg for seg, stages in live.items() if stages[first]] == ["NL/web"]
    assert all(stages[last] for stages in live.values())
    # once live, the candidate (cheapest locations, one shipment) makes the big web segments cheaper
    assert summary["heat_cost"]["DE/web"]["all-web"] < 0
    assert summary["heat_cost"]["FR/web"]["all-web"] < 0


def check_returns(summary: Any) -> None:
    assert summary["same_demand"] is True  # common random numbers: every policy saw the same orders
    share, cost, days = summary["to_store_share"], summary["returns_cost"], summary["days_of_stock_recovered"]
    for terms in ("restock A-B", "refurbish B-C"):
        assert share[f"DC only / {terms}"] == 0.0
        assert share[f"store only / {terms}"] == 1.0
        assert 0.0 < share[f"nearest / {terms}"] < 1.0
        # a prepaid label for every unit sent to a DC: the dearest flow
        assert cost[f"DC only / {terms}"] > cost[f"store only / {terms}"]
    for where in ("nearest", "DC only", "store only"):
        assert days[f"{where} / refurbish B-C"] < days[f"{where} / restock A-B"]
    assert summary["refurbish_b_extra_cost"] > 0
    assert f"{summary['choice']['where']} / {summary['choice']['terms']}" in summary["policies"]


def check_replay(summary: Any) -> None:
    reasons = summary["not_placed"]
    assert set(reasons) >= {
        "unknown SKU",
        "unknown market",
        "no inventory model serves its market and channel",
        "unknown pickup store",
    }
    # an unknown SKU drops only its line; every other reason drops the whole order
    dropped = sum(v["orders"] for reason, v in reasons.items() if reason != "unknown SKU")
    assert summary["history_orders"] - summary["orders_placed"] == dropped
    sample = ROOT / "data" / "sample_retailer"
    scenario, _ = scenario_with_network(sample / "scenario.yaml", sample)  # its network is in its files
    assert summary["strategies"] == [r.name for r in scenario.experiment.runs()]
    cost = summary["cost_per_order"]
    assert summary["cheapest"] == "cheapest"
    assert cost["cheapest"] < cost[summary["baseline"]]


CHECKS: dict[str, Callable[[Any], None]] = {
    "explore_results.ipynb": check_explore,
    "tune_market_rules.ipynb": check_tune,
    "rehearse_rollout.ipynb": check_rehearse,
    "returns_policy.ipynb": check_returns,
    "replay_history.ipynb": check_replay,
}


def test_every_notebook_is_checked() -> None:
    assert {p.name for p in NOTEBOOKS} == set(CHECKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(
    notebook: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the kernel inherits this process's environment
    monkeypatch.setenv("DOM_NOTEBOOK_QUICK", "1")
    if notebook.name == "explore_results.ipynb":
        monkeypatch.setenv("DOM_RESULTS", str(request.getfixturevalue("results")))
    CHECKS[notebook.name](execute(notebook))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{notebook.name} cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{notebook.name} cell {i} has an execution count"
