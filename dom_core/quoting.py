"""Vectorised carrier quotes: cost, promise and CO2e of one parcel from many candidate locations.

Objective-based strategies score every candidate location at once with numpy; the scalar
``CarrierCatalog.choose`` prices the final shipments. Both follow the same rules (tests check they
agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dom_core.carriers import (
    HOURS_PER_DAY,
    ROAD_CIRCUITY,
    CarrierCatalog,
    CarrierService,
    LinearRateCard,
    Objective,
    ZoneRateCard,
)
from dom_core.geo import KM_PER_MILE

F = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class QuoteArrays:
    """Per-candidate best quote: service index (-1: none serves), cost, ship time, promise, CO2e."""

    service: npt.NDArray[np.int64]
    cost: F
    ship_at: F
    promised_at: F
    co2_kg: F


def _prices(service: CarrierService, km: F, kg: float, items: int) -> F:
    card = service.rate_card
    if isinstance(card, LinearRateCard):
        return card.per_package + items * (card.per_item + card.per_item_mile * km / KM_PER_MILE)
    assert isinstance(card, ZoneRateCard)
    return _zone_prices(card, km, kg)


def _zone_prices(card: ZoneRateCard, km: F, kg: float) -> F:
    z = np.minimum(np.searchsorted(card.zone_limits_km, km, side="left"), len(card.zone_limits_km) - 1)
    # one scalar price() per zone (each zone's limit lies in that zone), so surcharges and rounding
    # are exactly the scalar ones and ties between services stay ties
    column = np.array([card.price(limit, kg, 1) for limit in card.zone_limits_km], dtype=np.float64)
    result: F = column[z]
    return result


def _ship_at(service: CarrierService, now: float, cutoff_hours: F) -> F:
    day = math.floor(now / HOURS_PER_DAY)
    hour = now - day * HOURS_PER_DAY
    days = day + (hour >= np.minimum(cutoff_hours, service.pickup_cutoff_hour)).astype(np.float64)
    if not service.works_weekends:
        dow = days % 7
        days = days + np.where(dow == 5, 2.0, np.where(dow == 6, 1.0, 0.0))
    result: F = days * HOURS_PER_DAY + service.pickup_cutoff_hour
    return result


def quote_many(
    catalog: CarrierCatalog,
    objective: Objective,
    now: float,
    cutoff_hours: F,
    km: F,
    kg: float,
    items: int,
    deadline: float | None = None,
) -> QuoteArrays:
    """Best quote per candidate (same selection rules as ``CarrierCatalog.choose``)."""
    services = catalog.parcel_services()
    n = km.shape[0]
    cost = np.empty((len(services), n))
    ship = np.empty((len(services), n))
    prom = np.empty((len(services), n))
    co2 = np.empty((len(services), n))
    ok = np.empty((len(services), n), dtype=bool)
    for i, s in enumerate(services):
        ok[i] = (km <= s.max_km) & (kg <= s.max_kg)
        cost[i] = _prices(s, km, kg, items)
        ship[i] = _ship_at(s, now, cutoff_hours)
        t = s.transit
        prom[i] = ship[i] + (t.quantile(s.promise_quantile, 0.0) + t.extra_days_per_1000_km * km / 1000.0) * HOURS_PER_DAY
        co2[i] = s.linehaul_kg_co2_per_tkm * (kg / 1000.0) * km * ROAD_CIRCUITY + s.last_mile_kg_co2_per_parcel
    if deadline is not None:
        meets = ok & (prom <= deadline)
        any_meets = meets.any(axis=0)
        fastest_mode = ~any_meets
        ok = np.where(any_meets, meets, ok)
    else:
        fastest_mode = np.zeros(n, dtype=bool)
    keys = {
        Objective.CHEAPEST: (cost, prom),
        Objective.FASTEST: (prom, cost),
        Objective.GREENEST: (co2, cost),
    }
    primary, secondary = keys[objective]
    if fastest_mode.any():
        primary = np.where(fastest_mode, prom, primary)
        secondary = np.where(fastest_mode, cost, secondary)
    # lexicographic (primary, secondary, service name) per candidate, exactly like choose()
    name_rank = np.argsort(np.argsort([s.name for s in services], kind="stable"))
    names = np.broadcast_to(name_rank[:, None], primary.shape)
    best = np.lexsort((names, secondary, np.where(ok, primary, np.inf)), axis=0)[0]
    cols = np.arange(n)
    none = ~ok.any(axis=0)
    service = np.where(none, -1, best).astype(np.int64)
    return QuoteArrays(service, cost[best, cols], ship[best, cols], prom[best, cols], co2[best, cols])
