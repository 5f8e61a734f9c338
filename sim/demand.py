"""The demand stream of a replication: order arrivals (non-homogeneous Poisson), baskets, customers,
fulfilment types and the per-order uniforms used for transit times and returns, all drawn up front
from named streams so that every strategy faces the identical stream (common random numbers)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dom_core.geo import haversine_many_km
from dom_core.model import FulfilmentType
from sim.rng import stream
from sim.world import World

F = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
MAX_SHIPMENT_DRAWS = 6  # transit uniforms pre-drawn per order (shipment k uses column min(k, 5))


@dataclass(frozen=True)
class DemandStream:
    """Columnar orders (sorted by time) and their lines (``line_start`` offsets into the line arrays)."""

    t: F
    market: IntArr
    channel: IntArr
    lat: F
    lon: F
    fulfilment: list[FulfilmentType]
    pickup: IntArr  # location index of the pickup store, -1 if none
    line_start: IntArr
    line_sku: IntArr
    line_qty: IntArr
    u_transit: F  # (orders, MAX_SHIPMENT_DRAWS)
    u_return: F  # per line: returned if below the SKU's return rate
    u_return_delay: F
    u_grade: F
    channels: list[str]

    def __len__(self) -> int:
        return int(self.t.shape[0])


def hourly_rates(world: World, demand_factor: float = 1.0) -> F:
    """Expected orders per hour over the horizon (hour-of-day x weekday x trend x promotions)."""
    d = world.scenario.demand
    if d.segments:
        from sim.segments import segmented_rates

        return segmented_rates(world, demand_factor)
    return profile_rates(
        d.total_orders_per_day,
        d.hour_profile,
        d.weekday_profile,
        d.trend_per_day,
        d.promotions,
        world.scenario.horizon_days,
        demand_factor,
    )


def profile_rates(
    orders_per_day: float,
    hour_profile: Sequence[float],
    weekday_profile: Sequence[float],
    trend_per_day: float,
    promotions: Sequence[Any],
    horizon_days: float,
    demand_factor: float = 1.0,
) -> F:
    """Expected orders per hour over ``horizon_days``: a daily volume (scaled by ``demand_factor``)
    shaped by hour-of-day and weekday profiles, a linear trend and promotions (objects with start_day,
    days and multiplier)."""
    hours = int(np.ceil(horizon_days * 24))
    h = np.arange(hours)
    day = h // 24
    hour_w = np.asarray(hour_profile) / np.mean(hour_profile)
    week_w = np.asarray(weekday_profile) / np.mean(weekday_profile)
    rate = orders_per_day / 24.0 * demand_factor * hour_w[h % 24] * week_w[day % 7]
    rate = rate * np.maximum(0.0, 1.0 + trend_per_day * day)
    for p in promotions:
        spike = (h >= p.start_day * 24) & (h < (p.start_day + p.days) * 24)
        rate = np.where(spike, rate * p.multiplier, rate)
    result: F = rate
    return result


def generate_demand(world: World, replication: int, demand_factor: float = 1.0) -> DemandStream:
    """Draw the whole demand stream of a replication (segment by segment when the demand block has them)."""
    sc = world.scenario
    d = sc.demand
    if d.segments:  # demand per market (and channel): each segment drawn on its own
        from sim.segments import generate_segmented

        return generate_segmented(world, replication, demand_factor)
    rng = stream(sc.seed, replication, "demand")
    rate = hourly_rates(world, demand_factor)
    counts = rng.poisson(rate)
    n = int(counts.sum())
    t = np.repeat(np.arange(rate.shape[0], dtype=np.float64), counts) + rng.random(n)
    t.sort()
    market = rng.choice(len(world.market_names), size=n, p=world.market_share)
    channels = list(d.channels)
    cw = np.array([d.channels[c] for c in channels], dtype=np.float64)
    channel = rng.choice(len(channels), size=n, p=cw / cw.sum())
    lat, lon, place = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    for m, name in enumerate(world.market_names):
        sel = np.flatnonzero(market == m)
        pl = world.customers[name]
        idx = rng.choice(len(pl.weights), size=sel.size, p=pl.weights)
        place[sel] = idx
        lat[sel] = np.clip(pl.lats[idx] + rng.normal(0, 0.04, sel.size), -90, 90)
        lon[sel] = np.clip(pl.lons[idx] + rng.normal(0, 0.06, sel.size), -180, 180)
    kinds = list(d.fulfilment_mix)
    kw = np.array([d.fulfilment_mix[k] for k in kinds], dtype=np.float64)
    fidx = rng.choice(len(kinds), size=n, p=kw / kw.sum())
    fulfilment = [FulfilmentType(kinds[i]) for i in fidx]
    pickup = _pickup_stores(world, market, place, fulfilment)
    for k, f in enumerate(fulfilment):  # no pickup store in the market: deliver home instead
        if pickup[k] < 0 and f in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
            fulfilment[k] = FulfilmentType.HOME_DELIVERY
    n_lines = 1 + np.minimum(d.max_lines - 1, rng.poisson(d.mean_lines - 1.0, n))
    line_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_lines, out=line_start[1:])
    total = int(line_start[-1])
    line_sku = rng.choice(len(world.popularity), size=total, p=world.popularity)
    line_qty = 1 + rng.poisson(d.mean_qty - 1.0, total)
    u_transit = stream(sc.seed, replication, "transit").random((n, MAX_SHIPMENT_DRAWS))
    r = stream(sc.seed, replication, "returns")
    u_return, u_delay, u_grade = r.random(total), r.random(total), r.random(total)
    return DemandStream(
        t,
        market.astype(np.int64),
        channel.astype(np.int64),
        lat,
        lon,
        fulfilment,
        pickup,
        line_start,
        line_sku.astype(np.int64),
        line_qty.astype(np.int64),
        u_transit,
        u_return,
        u_delay,
        u_grade,
        channels,
    )


def _pickup_stores(world: World, market: IntArr, place: IntArr, fulfilment: list[FulfilmentType]) -> IntArr:
    """Nearest pickup store of the customer's place (precomputed per place)."""
    pickup = np.full(len(fulfilment), -1, dtype=np.int64)
    net = world.network
    for m, name in enumerate(world.market_names):
        stores = world.pickup_stores[name]
        if stores.size == 0:
            continue
        pl = world.customers[name]
        nearest = np.array(
            [
                stores[
                    int(
                        np.argmin(
                            haversine_many_km(pl.lats[i], pl.lons[i], net.lats[stores], net.lons[stores])
                        )
                    )
                ]
                for i in range(len(pl.weights))
            ]
        )
        sel = np.flatnonzero(market == m)
        pickup[sel] = nearest[place[sel]]
    wants = np.array(
        [f in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE) for f in fulfilment]
    )
    result: IntArr = np.where(wants, pickup, -1) if len(fulfilment) else pickup
    return result


def triangular_ppf(u: F | float, lo: float, mode: float, hi: float) -> F | float:
    """Inverse CDF of a triangular distribution (vectorised), for common-random-number draws."""
    if hi <= lo:
        return lo + 0.0 * u
    fc = (mode - lo) / (hi - lo)
    if isinstance(u, float):  # scalar fast path (the simulation's per-parcel draws)
        if u < fc:
            return lo + math.sqrt(u * (hi - lo) * (mode - lo))
        return hi - math.sqrt((1 - u) * (hi - lo) * (hi - mode))
    u_arr = np.asarray(u, dtype=np.float64)
    left = lo + np.sqrt(u_arr * (hi - lo) * (mode - lo))
    right = hi - np.sqrt((1 - u_arr) * (hi - lo) * (hi - mode))
    out = np.where(u_arr < fc, left, right)
    return float(out) if out.ndim == 0 else out
