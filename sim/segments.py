"""Demand per segment (a market, or one channel of it): each segment's orders are a non-homogeneous Poisson
process of its own volume, hour and weekday profiles, trend and promotions, with its own channel mix,
fulfilment mix and basket, drawn from its own random sub-stream; the segments' orders are then merged
in time order into one demand stream. Used when the demand block lists ``segments``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dom_core.model import FulfilmentType
from sim.demand import MAX_SHIPMENT_DRAWS, DemandStream, _pickup_stores, profile_rates
from sim.demand_spec import ResolvedSegment
from sim.rng import stream
from sim.world import World

F = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
PICKUP_KINDS = (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE)


def segment_rates(seg: ResolvedSegment, horizon_days: float, demand_factor: float = 1.0) -> F:
    """Expected orders per hour of one segment over the horizon (as ``sim.demand.hourly_rates``)."""
    return profile_rates(
        seg.orders_per_day,
        seg.hour_profile,
        seg.weekday_profile,
        seg.trend_per_day,
        seg.promotions,
        horizon_days,
        demand_factor,
    )


@dataclass
class _Part:
    """One segment's orders and lines, before the merge."""

    t: F
    market: IntArr
    channel: IntArr
    lat: F
    lon: F
    place: IntArr
    fulfilment: IntArr  # index into FULFILMENT
    n_lines: IntArr
    line_sku: IntArr
    line_qty: IntArr


FULFILMENT = tuple(FulfilmentType)


def _draw(world: World, seg: ResolvedSegment, index: int, replication: int, demand_factor: float) -> _Part:
    sc = world.scenario
    rng = stream(sc.seed, replication, "demand", sub=index)
    rate = segment_rates(seg, sc.horizon_days, demand_factor)
    counts = rng.poisson(rate)
    n = int(counts.sum())
    t = np.repeat(np.arange(rate.shape[0], dtype=np.float64), counts) + rng.random(n)
    t.sort()
    names = sc.demand.channel_names
    cw = np.array(list(seg.channels.values()), dtype=np.float64)
    channel_ids = np.array([names.index(c) for c in seg.channels], dtype=np.int64)
    channel = channel_ids[rng.choice(len(cw), size=n, p=cw / cw.sum())]
    m = world.market_names.index(seg.market)
    pl = world.customers[seg.market]
    place = rng.choice(len(pl.weights), size=n, p=pl.weights)
    lat = np.clip(pl.lats[place] + rng.normal(0, 0.04, n), -90, 90)
    lon = np.clip(pl.lons[place] + rng.normal(0, 0.06, n), -180, 180)
    kinds = [FULFILMENT.index(FulfilmentType(k)) for k in seg.fulfilment_mix]
    kw = np.array(list(seg.fulfilment_mix.values()), dtype=np.float64)
    fulfilment = np.array(kinds, dtype=np.int64)[rng.choice(len(kw), size=n, p=kw / kw.sum())]
    n_lines = 1 + np.minimum(seg.max_lines - 1, rng.poisson(seg.mean_lines - 1.0, n))
    total = int(n_lines.sum())
    line_sku = rng.choice(len(world.popularity), size=total, p=world.popularity)
    line_qty = 1 + rng.poisson(seg.mean_qty - 1.0, total)
    return _Part(
        t,
        np.full(n, m, dtype=np.int64),
        channel,
        lat,
        lon,
        place.astype(np.int64),
        fulfilment,
        n_lines.astype(np.int64),
        line_sku.astype(np.int64),
        line_qty.astype(np.int64),
    )


def segmented_rates(world: World, demand_factor: float = 1.0) -> F:
    """Expected orders per hour over every segment."""
    sc = world.scenario
    rates = [segment_rates(s, sc.horizon_days, demand_factor) for s in sc.demand.resolved()]
    result: F = np.sum(rates, axis=0)
    return result


def generate_segmented(world: World, replication: int, demand_factor: float = 1.0) -> DemandStream:
    """The demand stream of a replication, segment by segment, merged in time order (ties: segment order)."""
    sc = world.scenario
    parts = [_draw(world, s, i, replication, demand_factor) for i, s in enumerate(sc.demand.resolved())]
    t = np.concatenate([p.t for p in parts])
    order = np.argsort(t, kind="stable")
    n = int(t.shape[0])

    def merged(name: str) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(p, name) for p in parts]).take(order)

    n_lines = merged("n_lines").astype(np.int64)
    old_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.concatenate([p.n_lines for p in parts]), out=old_start[1:])
    line_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_lines, out=line_start[1:])
    total = int(line_start[-1])
    # the lines of the merged orders: each order's run of lines, moved to its new place
    take = np.repeat(old_start[:-1].take(order) - line_start[:-1], n_lines) + np.arange(total)
    line_sku = np.concatenate([p.line_sku for p in parts]).take(take)
    line_qty = np.concatenate([p.line_qty for p in parts]).take(take)
    market = merged("market").astype(np.int64)
    fulfilment = [FULFILMENT[i] for i in merged("fulfilment").tolist()]
    pickup = _pickup_stores(world, market, merged("place").astype(np.int64), fulfilment)
    for k, f in enumerate(fulfilment):  # no pickup store in the market: deliver home instead
        if pickup[k] < 0 and f in PICKUP_KINDS:
            fulfilment[k] = FulfilmentType.HOME_DELIVERY
    u_transit = stream(sc.seed, replication, "transit").random((n, MAX_SHIPMENT_DRAWS))
    r = stream(sc.seed, replication, "returns")
    u_return, u_delay, u_grade = r.random(total), r.random(total), r.random(total)
    return DemandStream(
        t.take(order),
        market,
        merged("channel").astype(np.int64),
        merged("lat").astype(np.float64),
        merged("lon").astype(np.float64),
        fulfilment,
        pickup,
        line_start,
        line_sku,
        line_qty,
        u_transit,
        u_return,
        u_delay,
        u_grade,
        sc.demand.channel_names,
    )
