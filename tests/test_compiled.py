"""The compiled build is used only while it matches the sources, and it decides exactly as they do."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dom_core import compiled
from dom_core.compiled import COMPILED_MODULES, RECIPE, matching_build, prefer_compiled, source_tag
from tests.sim.conftest import ROOT, TINY, run_script


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the compiled modules' sources and the build recipe, as a repository root."""
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    for module in (*COMPILED_MODULES, RECIPE):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / module, tmp_path / module)
    return tmp_path


def _fake_build(root: Path, complete: bool = True) -> Path:
    folder = root / ".compiled" / source_tag(root)
    (folder / "dom_core").mkdir(parents=True)
    if complete:
        (folder / "COMPLETE").write_text(folder.name)
    return folder


def test_the_tag_follows_every_source_byte(sources: Path) -> None:
    tag = source_tag(sources)
    for module in (COMPILED_MODULES[0], COMPILED_MODULES[-1], RECIPE):
        path = sources / module
        text = path.read_bytes()
        path.write_bytes(text + b" ")
        assert source_tag(sources) != tag, module
        path.write_bytes(text)
        assert source_tag(sources) == tag


def test_a_build_is_used_only_while_complete_and_matching(
    sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert matching_build(sources) is None  # nothing built
    partial = _fake_build(sources, complete=False)
    assert matching_build(sources) is None  # an interrupted build
    (partial / "COMPLETE").write_text(partial.name)
    assert matching_build(sources) == partial
    monkeypatch.setenv(compiled.PURE_ENV, "1")
    assert matching_build(sources) is None  # the sources on request
    monkeypatch.delenv(compiled.PURE_ENV)
    engine = sources / "dom_core/engine.py"
    engine.write_text(engine.read_text() + "\n# edited\n")
    assert matching_build(sources) is None  # stale: the edited source runs
    engine.unlink()
    assert matching_build(sources) is None  # a source missing: no tag, the sources run


def test_prefer_compiled_puts_the_build_first(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _fake_build(sources)
    monkeypatch.setattr(compiled, "_current_build", lambda: build)
    assert prefer_compiled("dom_core", ["/src/dom_core"]) == [str(build / "dom_core"), "/src/dom_core"]
    assert prefer_compiled("sim", ["/src/sim"]) == ["/src/sim"]  # no folder for it in this build
    monkeypatch.setattr(compiled, "_current_build", lambda: None)
    assert prefer_compiled("dom_core", ["/src/dom_core"]) == ["/src/dom_core"]


RUN_ALL = """
import sys
from dom_core.compiled import active
from sim.runner import run_one
from sim.scenario import StrategyRun, load_scenario
from sim.world import build_world
from tests.sim.conftest import digest

world = build_world(load_scenario(sys.argv[1]))
print(active())
STRATEGIES = [
    "split_shipments", "distance", "ranked", "cheapest", "greenest", "fastest", "balance_stock",
    "ship_from_primary", "split_by_line_items", "no_split",
]
for strategy in STRATEGIES:
    print(strategy, digest(run_one(world, StrategyRun(strategy=strategy), 0)))
"""


def _run(pure: bool) -> list[str]:
    return run_script(RUN_ALL, str(TINY), env={compiled.PURE_ENV: "1" if pure else "0"}, timeout=300)


def test_the_compiled_build_gives_the_sources_results() -> None:
    """Every table of a run of each strategy, compiled against pure Python, equal to the last bit."""
    if compiled.matching_build() is None:
        if os.environ.get("DOM_REQUIRE_COMPILED") == "1":
            pytest.fail("no compiled build matches the sources: `python tools/build_compiled.py` failed?")
        pytest.skip("no compiled build for the current sources (python tools/build_compiled.py)")
    fast, pure = _run(pure=False), _run(pure=True)
    assert fast[0] == "True" and pure[0] == "False"  # each process ran what it was meant to
    assert len(fast) == 11
    assert fast[1:] == pure[1:]


def _build_tool(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_compiled", ROOT / RECIPE)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setenv(compiled.PURE_ENV, "1")  # as the tool sets for itself
    spec.loader.exec_module(tool)
    return tool


def test_the_build_tool_names_a_listed_source_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _build_tool(monkeypatch)
    monkeypatch.setattr(tool, "COMPILED_MODULES", (*COMPILED_MODULES, "dom_core/no_such_module.py"))
    with pytest.raises(SystemExit, match=r"COMPILED_MODULES.*dom_core/no_such_module\.py"):
        tool.build(force=True)


def test_the_build_tool_rejects_a_job_count_below_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _build_tool(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["build_compiled.py", "--jobs", "0"])
    with pytest.raises(SystemExit) as exit_info:
        tool.main()
    assert exit_info.value.code == 2
    assert "--jobs: must be at least 1, got 0" in capsys.readouterr().err
