"""Staged rollouts of a rule change: the candidate's rules as a network, the segments (market x channel) of
a world, the stages' time windows, and the plans a rehearsal runs against the all-current baseline:
``staged`` (each segment goes live when its first stage starts) and ``big_bang`` (everything from day 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dom_core.config import LocationSelector
from dom_core.errors import DomError
from dom_core.model import HOURS_PER_DAY
from dom_core.network import InventoryModel, Network
from dom_core.rules import build_filter
from dom_core.strategies import build_strategy
from sim.rollout_spec import CandidateSpec, RolloutSpec
from sim.world import World

STAGED, BIG_BANG = "staged", "big_bang"
PLANS = (STAGED, BIG_BANG)


@dataclass(frozen=True)
class Segment:
    """A market x channel, with the inventory model serving it under the current rules."""

    market: str
    channel: str
    model: str

    @property
    def label(self) -> str:
        """``market/channel``."""
        return f"{self.market}/{self.channel}"


@dataclass(frozen=True)
class Stage:
    """A stage's time window and the segments the candidate is live on during it (this stage's and every
    earlier one's)."""

    name: str
    index: int
    start_day: float
    end_day: float  # the next stage's start, or the horizon
    live: tuple[Segment, ...]


@dataclass(frozen=True)
class RolloutPlan:
    """Where and from when a run applies the candidate: ``live_from[(market, channel)]`` is the simulated
    hour from which the segment's orders are sourced with the candidate's rules (never if absent)."""

    name: str
    candidate: CandidateSpec
    live_from: Mapping[tuple[str, str], float]

    def live_hour(self, market: str, channel: str) -> float:
        """The hour the candidate goes live on a segment (infinity: never)."""
        return self.live_from.get((market, channel), math.inf)


def candidate_network(network: Network, candidate: CandidateSpec) -> Network:
    """``network`` with the candidate's settings applied to its inventory models (the named ones, or all);
    errors name the candidate's field."""
    names = {m.name for m in network.inventory_models}
    for j, name in enumerate(candidate.inventory_models or []):
        if name not in names:
            raise DomError(f"rollout.candidate.inventory_models[{j}]", f"unknown inventory model {name!r}")
    chosen = set(candidate.inventory_models or names)
    changes = _changes(network, candidate)
    models = tuple(replace(m, **changes) if m.name in chosen else m for m in network.inventory_models)
    try:
        return Network(network.locations, network.skus, models)
    except DomError as exc:
        raise DomError(f"rollout.candidate ({exc.field})", exc.problem) from None


def _changes(network: Network, candidate: CandidateSpec) -> dict[str, Any]:
    where = "rollout.candidate"
    changes: dict[str, Any] = {}
    if candidate.strategy is not None:
        changes["strategy"] = build_strategy(candidate.strategy, f"{where}.strategy")
    if candidate.cutoff is not None:
        changes["cutoff"] = candidate.cutoff
    if candidate.max_shipments is not None:
        changes["max_shipments"] = candidate.max_shipments
    if candidate.filters is not None:
        changes["filters"] = tuple(
            build_filter(f, f"{where}.filters[{i}]") for i, f in enumerate(candidate.filters)
        )
    if candidate.locations is not None:
        locs = candidate.locations
        ids = locs.select(list(network.locations)) if isinstance(locs, LocationSelector) else tuple(locs)
        for i, loc_id in enumerate(ids):
            network.loc_idx(loc_id, f"{where}.locations[{i}]")
        if not ids:
            raise DomError(f"{where}.locations", "selects no location")
        changes["locations"] = ids
    return changes


def segments(world: World) -> list[Segment]:
    """Every market x channel of the world that an inventory model serves, markets first."""
    net = world.network
    return [
        Segment(m, c, net.inventory_model(m, c).name)
        for m in world.market_names
        for c in world.scenario.demand.channel_names
        if net.has_inventory_model(m, c)
    ]


def stages(world: World, spec: RolloutSpec) -> list[Stage]:
    """The stages with their windows and live segments; a stage matching no segment is an error."""
    segs = segments(world)
    out: list[Stage] = []
    live: list[Segment] = []
    horizon = world.scenario.horizon_days
    for i, stage in enumerate(spec.stages):
        mine = [s for s in segs if stage.where.matches(s.market, s.channel, s.model)]
        if not mine:
            raise DomError(
                f"rollout.stages[{i}].where", "matches no segment (market x channel) of the scenario"
            )
        live += [s for s in mine if s not in live]
        end = spec.stages[i + 1].start_day if i + 1 < len(spec.stages) else horizon
        ordered = tuple(s for s in segs if s in live)
        out.append(Stage(stage.name, i, stage.start_day, end, ordered))
    return out


def staged_plan(world: World, spec: RolloutSpec) -> RolloutPlan:
    """The staged plan: each segment goes live when the first stage covering it starts."""
    live: dict[tuple[str, str], float] = {}
    for stage in stages(world, spec):
        for s in stage.live:
            live.setdefault((s.market, s.channel), stage.start_day * HOURS_PER_DAY)
    return RolloutPlan(STAGED, spec.candidate, live)


def big_bang_plan(world: World, spec: RolloutSpec) -> RolloutPlan:
    """The all-at-once plan: the candidate everywhere from the start."""
    return RolloutPlan(BIG_BANG, spec.candidate, {(s.market, s.channel): 0.0 for s in segments(world)})


def plan(world: World, spec: RolloutSpec, name: str) -> RolloutPlan | None:
    """The plan called ``name`` (``baseline``: no rollout, None)."""
    if name == STAGED:
        return staged_plan(world, spec)
    if name == BIG_BANG:
        return big_bang_plan(world, spec)
    return None


def serving_locations(network: Network, segs: tuple[Segment, ...] | list[Segment]) -> set[str]:
    """The locations the inventory models of ``segs`` list (on ``network``: pass the candidate's)."""
    out: set[str] = set()
    for s in segs:
        model: InventoryModel = network.inventory_model(s.market, s.channel)
        out.update(model.locations)
    return out
