"""A checked history as the columnar orders a replay places, and each replication's demand stream on them.

The orders (times, markets, channels, destinations, fulfilment types, pickup stores, lines) are the
history's, the same in every replication; only the random parts are drawn per replication, from the
same named streams as generated demand: transit quantiles, and the returns the history does not know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from dom_core.model import FulfilmentType
from sim.demand import MAX_SHIPMENT_DRAWS, DemandStream, triangular_ppf
from sim.history import CheckedHistory
from sim.rng import stream
from sim.shared import DemandLists, SharedDemand, demand_lists
from sim.world import World

F = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
FULFILMENT = tuple(FulfilmentType)


@dataclass(frozen=True)
class ReplayOrders:
    """The placeable orders of a history, time-ordered, as arrays (lines at ``line_start`` offsets)."""

    t: F
    market: IntArr
    channel: IntArr
    lat: F
    lon: F
    fulfilment: IntArr  # index into FulfilmentType
    pickup: IntArr  # location index, -1 if none
    line_start: IntArr
    line_sku: IntArr
    line_qty: IntArr
    return_qty: IntArr  # per line, as the history says (used when returns_known)
    return_at: F  # per line: hour of the return as the history says it, NaN if it does not say
    returns_known: IntArr  # one value: 1 if the history's returns decide which lines come back
    channels: list[str]

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def horizon_days(self) -> float:
        """Days from day 0 to the end of the day of the last order (at least one)."""
        return float(max(1, math.floor(float(self.t.max()) / 24.0) + 1)) if len(self) else 1.0

    def save(self, path: Path) -> None:
        """Write the arrays to an uncompressed ``.npz`` file (for worker processes)."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "channels"}
        np.savez(path, channels=np.array(self.channels, dtype=str), **arrays)

    @classmethod
    def load(cls, path: Path) -> ReplayOrders:
        """Read arrays written by ``save``."""
        with np.load(path) as data:
            values = {f.name: data[f.name] for f in fields(cls) if f.name != "channels"}
            return cls(**values, channels=[str(c) for c in data["channels"].tolist()])


def replay_orders(world: World, checked: CheckedHistory, returns: str = "auto") -> ReplayOrders:
    """The orders of a checked history on ``world`` (returns: 'history', 'model' or 'auto': the history's
    when any of its lines records a return)."""
    net, rows = world.network, checked.rows
    channels = list(world.scenario.demand.channel_names)
    channels += sorted(set(rows["channel"].unique().to_list()) - set(channels))
    new = (rows["order_id"] != rows["order_id"].shift(1)).fill_null(True)
    heads = rows.filter(new)
    n_lines = np.bincount(np.cumsum(new.to_numpy()) - 1, minlength=heads.height).astype(np.int64)
    line_start = np.zeros(heads.height + 1, dtype=np.int64)
    np.cumsum(n_lines, out=line_start[1:])
    pickup = heads["pickup_location"].replace_strict(net.loc_index, default=-1, return_dtype=pl.Int64)
    pickup = pl.Series(np.where(heads["fulfilment"].is_in(["pickup_in_store", "ship_to_store"]), pickup, -1))
    # destinations for returns where the history gives none: the pickup store, else the market's centre
    centre = {m: _centre(world, m) for m in world.market_names}
    store_lat = pl.Series([net.lats[p] if p >= 0 else math.nan for p in pickup.to_list()])
    store_lon = pl.Series([net.lons[p] if p >= 0 else math.nan for p in pickup.to_list()])
    market_lat = heads["market"].replace_strict({m: c[0] for m, c in centre.items()}, return_dtype=pl.Float64)
    market_lon = heads["market"].replace_strict({m: c[1] for m, c in centre.items()}, return_dtype=pl.Float64)
    lat = heads["lat"].fill_null(store_lat.fill_nan(None)).fill_null(market_lat)
    lon = heads["lon"].fill_null(store_lon.fill_nan(None)).fill_null(market_lon)
    known = returns == "history" or (returns == "auto" and bool((rows["return_qty"] > 0).any()))
    t_line = np.repeat(heads["t"].to_numpy(), n_lines)
    return_at = t_line + rows["return_days"].fill_null(math.nan).to_numpy() * 24.0
    return ReplayOrders(
        heads["t"].to_numpy().astype(np.float64),
        heads["market"]
        .replace_strict({m: i for i, m in enumerate(world.market_names)}, return_dtype=pl.Int64)
        .to_numpy(),
        heads["channel"]
        .replace_strict({c: i for i, c in enumerate(channels)}, return_dtype=pl.Int64)
        .to_numpy(),
        lat.to_numpy().astype(np.float64),
        lon.to_numpy().astype(np.float64),
        heads["fulfilment"]
        .replace_strict({f.value: i for i, f in enumerate(FULFILMENT)}, return_dtype=pl.Int64)
        .to_numpy(),
        pickup.to_numpy().astype(np.int64),
        line_start,
        rows["sku"].replace_strict(net.sku_index, return_dtype=pl.Int64).to_numpy(),
        rows["qty"].to_numpy().astype(np.int64),
        rows["return_qty"].fill_null(0).clip(0).to_numpy().astype(np.int64),
        return_at.astype(np.float64),
        np.array([int(known)], dtype=np.int64),
        channels,
    )


def _centre(world: World, market: str) -> tuple[float, float]:
    """Mean coordinates of a market's locations."""
    idx = [i for i, loc in enumerate(world.network.locations) if loc.market == market]
    return float(world.network.lats[idx].mean()), float(world.network.lons[idx].mean())


def replay_stream(world: World, orders: ReplayOrders, replication: int) -> DemandStream:
    """The demand stream of a replication: the history's orders with the replication's random draws."""
    seed, n, total = world.scenario.seed, len(orders), int(orders.line_start[-1])
    u_transit = stream(seed, replication, "transit").random((n, MAX_SHIPMENT_DRAWS))
    r = stream(seed, replication, "returns")
    u_return, u_delay, u_grade = r.random(total), r.random(total), r.random(total)
    return DemandStream(
        orders.t,
        orders.market,
        orders.channel,
        orders.lat,
        orders.lon,
        [FULFILMENT[i] for i in orders.fulfilment.tolist()],
        orders.pickup,
        orders.line_start,
        orders.line_sku,
        orders.line_qty,
        u_transit,
        u_return,
        u_delay,
        u_grade,
        orders.channels,
    )


def replay_lists(world: World, demand: DemandStream, orders: ReplayOrders) -> DemandLists:
    """Per-line return draws: the scenario's return model, or the history's returns where it records them
    (which lines and how many units; when, if it says, else the model's delay)."""
    lists = demand_lists(world, demand)
    if not orders.returns_known[0]:
        return lists
    delay = world.scenario.returns.delay_days
    days = np.asarray(triangular_ppf(demand.u_return_delay, delay.min, delay.mode, delay.max))
    returned = orders.return_qty > 0
    return DemandLists(
        lists.fulfilment,
        [d if r else None for r, d in zip(returned.tolist(), days.tolist(), strict=True)],
        orders.return_at.tolist(),
        orders.return_qty.tolist(),
    )


def replay_demand(world: World, orders: ReplayOrders, replication: int, share: bool) -> SharedDemand:
    """A replication's replay demand for the runs of every strategy on it (``share``: they also share the
    orders as placed and their engines' preparations, as generated demand does below its size limit)."""
    demand = replay_stream(world, orders, replication)
    if share:
        point = world.network.point
        home = np.flatnonzero(demand.pickup < 0)
        lats, lons = demand.lat.take(home).tolist(), demand.lon.take(home).tolist()
        world.network.prime_distances([point(a, b) for a, b in zip(lats, lons, strict=True)])
    shared = SharedDemand(world, demand, replication, 1.0, replay_lists(world, demand, orders))
    shared.share_orders = share
    return shared


def history_demand_rate(world: World, orders: ReplayOrders) -> None:
    """Set the world's expected units a day per (SKU, location) from the history (replenishment levels and
    days of cover follow the replayed demand): each market's units over its locations by pick capacity,
    plus walk-in sales at the stores."""
    from sim.world import _add_walk_in_rate

    net = world.network
    n_sku, n_loc = len(net.skus), len(net.locations)
    line_market = np.repeat(orders.market, np.diff(orders.line_start))
    units = np.zeros((n_sku, len(world.market_names)))
    np.add.at(units, (orders.line_sku, line_market), orders.line_qty)
    units /= orders.horizon_days
    rate = np.zeros((n_sku, n_loc))
    for m, name in enumerate(world.market_names):
        members = [i for i, loc in enumerate(net.locations) if loc.market == name]
        cap = np.array([net.locations[i].pick_capacity_per_day for i in members], dtype=np.float64)
        if members and cap.sum() > 0:
            rate[:, members] = units[:, [m]] * (cap / cap.sum())[None, :]
    world.demand_rate = rate
    _add_walk_in_rate(world)
    world.initial.demand_rate = world.demand_rate
