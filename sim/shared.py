"""A replication's demand as the runs on it read it, shared between the runs of its strategies."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dom_core.engine import PreparedOrders
from dom_core.model import Order
from sim.demand import DemandStream, generate_demand, triangular_ppf
from sim.world import World


@dataclass
class SharedDemand:
    """One replication's demand stream and its orders as placed, for the runs of every strategy on it.

    Common random numbers make the stream identical for every strategy, and ``Order``s are immutable, so
    the runs of one replication in one process build each order once (``orders[k]``, filled on first use)
    instead of once per strategy, their engines prepare each order once (``prepared``: its lines,
    destination and candidates), and per-line draws are read from ``lists``. A lone run does without: a
    million-order run would keep them all.
    """

    world: World
    demand: DemandStream
    replication: int
    demand_factor: float
    lists: DemandLists = field(repr=False)
    orders: list[Order | None] = field(init=False, repr=False)
    prepared: PreparedOrders = field(default_factory=PreparedOrders, repr=False)
    share_orders: bool = True  # False: each run builds its own orders (a long replay keeps none)

    def __post_init__(self) -> None:
        self.orders = [None] * len(self.demand)


@dataclass(slots=True)
class DemandLists:
    """Demand values a run reads per order or line, as Python lists (cheaper to read than numpy scalars;
    numeric columns read once per order use ``item`` instead, to keep memory flat on long runs)."""

    fulfilment: list[str]  # per order: the fulfilment type's value
    return_delay: list[float | None]  # per line: days from delivery to its return (None: kept)
    return_at: list[float] | None = None  # replay: per line, the hour the history has it back (NaN: unsaid)
    return_qty: list[int] | None = None  # replay: per line, the units the history has returned


def demand_lists(world: World, demand: DemandStream) -> DemandLists:
    """The lists of a demand stream; a line returns when its uniform falls below its SKU's return rate."""
    delay = world.scenario.returns.delay_days
    returned = ~(demand.u_return >= world.return_rate[demand.line_sku])
    # the same float operations as triangular_ppf on one uniform at a time
    days = np.asarray(triangular_ppf(demand.u_return_delay, delay.min, delay.mode, delay.max))
    return DemandLists(
        [f.value for f in demand.fulfilment],
        [d if r else None for r, d in zip(returned.tolist(), days.tolist(), strict=True)],
    )


def shared_demand(world: World, replication: int, demand_factor: float = 1.0) -> SharedDemand:
    """The demand of a replication, to share between the runs of its strategies; its home-delivery
    customers' distances to every location are computed at once, for every run on it to look up."""
    demand = generate_demand(world, replication, demand_factor)
    point = world.network.point
    home = np.flatnonzero(demand.pickup < 0)  # the others ship to a store
    lats, lons = demand.lat.take(home).tolist(), demand.lon.take(home).tolist()
    world.network.prime_distances([point(a, b) for a, b in zip(lats, lons, strict=True)])
    return SharedDemand(world, demand, replication, demand_factor, demand_lists(world, demand))
