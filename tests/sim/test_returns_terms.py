"""The ``returns`` section's policy mapping and ``terms``: built into the world's returns engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from dom_core.returns import Disposition, Grade, NeedsStock, ReturnTerms
from dom_core.yamlio import ConfigError
from sim.runner import run_one
from sim.scenario import Scenario, StrategyRun, load_scenario
from sim.world import World, build_world
from tests.sim.conftest import TINY, variant


def restocked(world: World) -> int:
    result = run_one(world, StrategyRun(strategy="split_shipments"), 1, record_events=False)
    return int(result.tables["returns"]["restocked"].sum())


def test_default_terms_are_the_engines_defaults(tiny: Scenario, tiny_world: World) -> None:
    assert tiny.returns.terms.build() == ReturnTerms()
    assert tiny_world.returns_engine(tiny_world.network).terms == ReturnTerms()


def test_refurbishing_grade_b_restocks_fewer_units(tiny: Scenario, tiny_world: World) -> None:
    refurbish_b = build_world(variant(tiny, returns__terms={"disposition": {"B": "refurbish"}}))
    terms = refurbish_b.returns_engine(refurbish_b.network).terms
    assert terms.disposition[Grade.B] is Disposition.REFURBISH
    assert terms.disposition[Grade.A] is Disposition.RESTOCK  # grades not listed keep the default
    default = restocked(tiny_world)
    assert 0 < restocked(refurbish_b) < default


def test_policy_mapping(tiny: Scenario) -> None:
    world = build_world(variant(tiny, returns__policy={"kind": "needs_stock", "radius_km": 50}))
    assert world.returns_engine(world.network).policy == NeedsStock(radius_km=50)
    assert restocked(world) > 0


def broken(tmp_path: Path, new: list[str]) -> tuple[Path, int]:
    """tiny.yaml with ``new`` lines in place of ``policy: nearest``; returns the file and its line."""
    lines = TINY.read_text(encoding="utf-8").splitlines()
    at = lines.index("  policy: nearest")
    lines[at : at + 1] = new
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, at + 1


@pytest.mark.parametrize(
    ("new", "offset", "expected"),
    [
        (["  terms:", "    disposition: {E: refurbish}"], 1, "returns.terms.disposition.E"),
        (["  terms:", "    disposition: {B: recycle}"], 1, "returns.terms.disposition.B"),
        (["  terms:", "    refund_share: {C: 1.5}"], 1, "returns.terms.refund_share.C"),
        (["  terms:", "    window_days: 0"], 1, "returns.terms.window_days"),
        (["  terms:", "    refund: 0.5"], 1, "returns.terms.refund"),
        (["  policy: {kind: needs_stock, radius: 50}"], 0, "returns.policy"),
        (["  policy: nowhere"], 0, "returns.policy"),
    ],
)
def test_bad_settings_name_the_field(tmp_path: Path, new: list[str], offset: int, expected: str) -> None:
    path, line = broken(tmp_path, new)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert expected in message
    assert f"line {line + offset}" in message
