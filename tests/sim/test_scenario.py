"""Scenario files: every mistake is a ConfigError naming the file, the field and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dom_core.errors import DomError
from dom_core.yamlio import ConfigError
from sim.scenario import Scenario, load_scenario
from sim.world import build_world
from tests.sim.conftest import BASE_STOCK, TINY, variant


def broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """tiny.yaml with the one line ``old`` replaced by ``new``; returns the file and that line's number."""
    lines = TINY.read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines) if line == old]
    assert len(hits) == 1, old
    lines[hits[0]] = new
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, hits[0] + 1


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert isinstance(info.value, DomError)
    return " ".join(str(info.value).split())


def test_shipped_scenarios_and_fixtures_validate() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in [*sorted((root / "scenarios").glob("*.yaml")), TINY, BASE_STOCK]:
        scenario = load_scenario(path)
        assert scenario.experiment.runs()
        assert scenario.baseline in [r.name for r in scenario.experiment.runs()]


CASES = {
    "bad indentation": (
        "  walk_in_units_per_store_day: 30",
        "   walk_in_units_per_store_day: 30",
        ["not valid YAML"],
    ),
    "unknown field": (
        "  stockout: lost_sale",
        "  stockuot: lost_sale",
        ["operations.stockuot", "Extra inputs"],
    ),
    "wrong type": ("horizon_days: 4", "horizon_days: four", ["horizon_days", "valid number"]),
    "negative orders_per_day": (
        "  orders_per_day: 300",
        "  orders_per_day: -5",
        ["demand.orders_per_day", "greater than 0"],
    ),
    "unknown strategy": (
        "    - cheapest",
        "    - cheapestest",
        ["experiment.strategies", "unknown strategy 'cheapestest'"],
    ),
    "wrong nested type": (
        "  replications: 2",
        "  replications: [2]",
        ["experiment.replications", "valid integer"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_names_the_field_and_the_line(tmp_path: Path, case: str) -> None:
    old, new, words = CASES[case]
    path, line = broken(tmp_path, old, new)
    message = error_of(path)
    assert str(path) in message
    for word in words:
        assert word in message, message
    lines = [int(n) for n in re.findall(r"line (\d+)", message)]
    if case == "unknown strategy":  # reported at the list, see the precise test below
        assert lines and line - 2 <= lines[0] <= line
    else:
        assert lines and lines[0] == line, message


def test_baseline_must_be_one_of_the_strategies(tmp_path: Path) -> None:
    path, line = broken(tmp_path, "  baseline: split_shipments", "  baseline: nearest")
    message = error_of(path)
    assert "baseline 'nearest' is not one of the strategies ['split_shipments', 'cheapest']" in message
    lines = [int(n) for n in re.findall(r"line (\d+)", message)]
    assert lines and lines[0] in (line - 1, line)  # the experiment block or the baseline line itself


def test_unknown_strategy_is_reported_at_its_item(tmp_path: Path) -> None:
    path, line = broken(tmp_path, "    - cheapest", "    - cheapestest")
    assert f"experiment.strategies.1 (line {line})" in error_of(path)


def test_model_rules(tiny: Scenario) -> None:
    with pytest.raises(ValueError, match="warmup_days must be shorter"):
        variant(tiny, warmup_days=4)
    with pytest.raises(ValueError, match="min <= mode <= max"):
        variant(tiny, replenishment__supplier_lead_time={"min": 3, "mode": 1, "max": 5})
    with pytest.raises(ValueError, match="strategy labels must be unique"):
        variant(tiny, experiment__strategies=["cheapest", "cheapest"])
    with pytest.raises(ValueError, match=r"needs network\.locations or a generate section"):
        variant(tiny, generate=None)


def test_missing_file_and_unknown_country(tmp_path: Path) -> None:
    assert "cannot read file" in error_of(tmp_path / "nope.yaml")
    market = next(line for line in TINY.read_text(encoding="utf-8").splitlines() if "country: DE" in line)
    path, _ = broken(tmp_path, market, market.replace("country: DE", "country: QQ"))
    with pytest.raises(ValueError, match=r"generate\.markets\.country: no places known for country 'QQ'"):
        build_world(load_scenario(path))
