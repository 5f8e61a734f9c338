"""Every notebook's code cells run top to bottom against freshly simulated results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.runner import run_experiment
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = load_scenario(ROOT / "tests" / "sim" / "data" / "tiny.yaml")
    return run_experiment(scenario, workers=1).write(tmp_path_factory.mktemp("results"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(notebook: Path, results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOM_RESULTS", str(results))
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    namespace: dict[str, object] = {}
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    for cell in code:
        exec(compile("".join(cell["source"]), f"{notebook.name}", "exec"), namespace)
    summary = namespace["summary"]
    assert summary.height > 0  # type: ignore[attr-defined]
    assert set(summary["strategy"]) == {
        r.name for r in load_scenario(ROOT / "tests/sim/data/tiny.yaml").experiment.runs()
    }  # type: ignore[index]
