"""Fixtures for the dashboard tests: results of a tiny scenario computed once per session, scenario
folders (one valid, one broken file) and an environment that points ``app.py`` at them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.runner import ExperimentResult, run_experiment
from sim.scenario import load_scenario

DATA = Path(__file__).parent / "data"
APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="session")
def tiny_experiment() -> ExperimentResult:
    """The tiny scenario (3 strategies x 2 replications), run in-process."""
    return run_experiment(load_scenario(DATA / "tiny.yaml"), workers=1)


@pytest.fixture(scope="session")
def session_results(tmp_path_factory: pytest.TempPathFactory, tiny_experiment: ExperimentResult) -> Path:
    """A results folder holding ``tiny/`` (read-only for the tests that share it)."""
    root = tmp_path_factory.mktemp("results")
    tiny_experiment.write(root / "tiny")
    return root


@pytest.fixture
def results_dir(tmp_path: Path, session_results: Path) -> Path:
    """A private copy of the session results, for tests that write or damage them."""
    root = tmp_path / "results"
    shutil.copytree(session_results, root)
    return root


@pytest.fixture
def scenarios_dir(tmp_path: Path) -> Path:
    """A scenario folder with the tiny scenario and a broken one."""
    root = tmp_path / "scenarios"
    root.mkdir()
    for name in ("tiny.yaml", "broken.yaml"):
        shutil.copy(DATA / name, root / name)
    return root


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, session_results: Path, tmp_path: Path) -> Iterator[Path]:
    """Point the app at the shared results and a scenario folder holding only the tiny scenario."""
    scen = tmp_path / "only-tiny"
    scen.mkdir()
    shutil.copy(DATA / "tiny.yaml", scen / "tiny.yaml")
    monkeypatch.setenv("DOM_RESULTS_DIR", str(session_results))
    monkeypatch.setenv("DOM_SCENARIOS_DIR", str(scen))
    yield session_results
