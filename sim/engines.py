"""The rules a run sources with: its network with the analyst's knobs turned, its sourcing engine, and under
a staged rollout which engine decides each order (the candidate's where and when a stage is live)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dom_core.capacity import CapacityBook
from dom_core.engine import SourcingEngine
from dom_core.model import Capability
from dom_core.network import Network
from dom_core.strategies import build_strategy
from sim.demand import DemandStream
from sim.options import KNOBS
from sim.scenario import AS_CONFIGURED, StrategyRun
from sim.world import World

if TYPE_CHECKING:
    from sim.rollout import RolloutPlan


@dataclass(frozen=True)
class Knobs:
    """Rule knobs an analyst turns without editing the scenario file."""

    demand_factor: float = 1.0
    capacity_factor: float = 1.0
    max_shipments: int | None = None
    safety_stock: int | None = None
    store_participation: float = 1.0  # share of stores allowed to ship online orders

    def __post_init__(self) -> None:
        for name, allowed in KNOBS.items():  # a DomError names the knob and its range
            allowed.check(name, getattr(self, name))


def network_with_knobs(world: World, knobs: Knobs) -> Network:
    """The world's network, with max-shipment and store-participation knobs applied (a copy if changed)."""
    net = world.network
    if knobs.max_shipments is None and knobs.store_participation >= 1.0:
        return net
    models = tuple(
        replace(m, max_shipments=knobs.max_shipments) if knobs.max_shipments is not None else m
        for m in net.inventory_models
    )
    locations = net.locations
    if knobs.store_participation < 1.0:
        stores = [i for i, loc in enumerate(locations) if loc.is_store]
        keep = set(stores[: round(knobs.store_participation * len(stores))])
        locations = tuple(
            replace(loc, capabilities=loc.capabilities - {Capability.SHIP_TO_HOME})
            if i in set(stores) - keep
            else loc
            for i, loc in enumerate(locations)
        )
    return Network(locations, net.skus, models)


def run_engine(world: World, network: Network, run: StrategyRun) -> SourcingEngine:
    """The engine of a run: the run's strategy for every inventory model, or each model's own."""
    strategy = None if run.strategy == AS_CONFIGURED else build_strategy(run.strategy)
    return SourcingEngine(
        network, world.carriers, strategy=strategy, capacity=CapacityBook(), calendar=world.calendar
    )


class StagedEngines:
    """Which engine decides an order under a staged rollout: the candidate's for an order of a segment
    (market x channel) whose stage is live at the decision time, the current one otherwise.

    Both engines reserve in the run's one ledger and count in one capacity book; the candidate's network
    holds the same locations and SKUs (so the same indices), only its inventory models differ.
    """

    def __init__(
        self, current: SourcingEngine, plan: RolloutPlan, demand: DemandStream, markets: list[str]
    ) -> None:
        """Engines for the orders of ``demand`` (whose market numbers index ``markets``)."""
        from sim.rollout import candidate_network

        if current.strategy is not None:
            raise ValueError(
                "a staged rollout runs on the scenario's rules as configured (strategy as_configured)"
            )
        self.current = current
        self.plan = plan
        self.candidate = SourcingEngine(
            candidate_network(current.network, plan.candidate),
            current.carriers,
            capacity=current.capacity,
            calendar=current.calendar,
        )
        hours = [[plan.live_hour(m, c) for c in demand.channels] for m in markets]
        self.live_from: list[float] = [  # per order: the hour its segment goes live (infinity: never)
            hours[m][c] for m, c in zip(demand.market.tolist(), demand.channel.tolist(), strict=True)
        ]
        self.decisions_on_candidate = 0

    def engine_for(self, k: int, now: float) -> SourcingEngine:
        """The engine deciding order ``k`` at simulated hour ``now``."""
        if now >= self.live_from[k]:
            self.decisions_on_candidate += 1
            return self.candidate
        return self.current

    def network_for(self, k: int, now: float) -> Network:
        """The network (inventory models) order ``k`` is sourced on at ``now``."""
        return self.candidate.network if now >= self.live_from[k] else self.current.network
