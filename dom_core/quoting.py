"""Vectorised carrier quotes: cost, promise and CO2e of one parcel from many candidate locations.

Objective-based strategies score every candidate location at once with numpy; the scalar
``CarrierCatalog.choose`` prices the final shipments. Both follow the same rules (tests check they
agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dom_core.carriers import (
    ROAD_CIRCUITY,
    CarrierCatalog,
    CarrierService,
    LinearRateCard,
    Objective,
    ZoneRateCard,
)
from dom_core.geo import KM_PER_MILE
from dom_core.model import HOURS_PER_DAY

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
    if kg <= card.weight_limits_kg[-1]:  # within the table: the price depends on the bracket only
        column = _zone_column(card, int(np.searchsorted(card.weight_limits_kg, kg, side="left")))
    else:
        column = np.array([card.price(limit, kg, 1) for limit in card.zone_limits_km], dtype=np.float64)
    result: F = column[z]
    return result


@lru_cache(maxsize=1024)
def _zone_column(card: ZoneRateCard, bracket: int) -> F:
    """Scalar price() per zone for a weight bracket (each zone's limit lies in that zone), so
    surcharges and rounding are exactly the scalar ones and ties between services stay ties."""
    kg = card.weight_limits_kg[bracket]
    column = np.array([card.price(limit, kg, 1) for limit in card.zone_limits_km], dtype=np.float64)
    column.setflags(write=False)
    return column


@dataclass(frozen=True, slots=True)
class _ServiceTable:
    """A catalogue's parcel services as (services x 1) columns, so each figure is one numpy op."""

    max_km: F
    max_kg: F
    pickup: F
    weekday_only: npt.NDArray[np.bool_]
    promise_days: F
    extra_days_per_1000_km: F
    co2_per_tkm: F
    last_mile: F
    name_rank: npt.NDArray[np.intp]


@lru_cache(maxsize=64)
def _table(services: tuple[CarrierService, ...]) -> _ServiceTable:
    def col(values: list[float]) -> F:
        return np.array(values, dtype=np.float64)[:, None]

    return _ServiceTable(
        col([s.max_km for s in services]),
        col([s.max_kg for s in services]),
        col([s.pickup_cutoff_hour for s in services]),
        np.array([not s.works_weekends for s in services])[:, None],
        col([s.transit.quantile(s.promise_quantile, 0.0) for s in services]),
        col([s.transit.extra_days_per_1000_km for s in services]),
        col([s.linehaul_kg_co2_per_tkm for s in services]),
        col([s.last_mile_kg_co2_per_parcel for s in services]),
        np.argsort(np.argsort([s.name for s in services], kind="stable"))[:, None],
    )


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
    t = _table(services)
    n = km.shape[0]
    row = km[None, :]
    ok = (row <= t.max_km) & (kg <= t.max_kg)
    cost = np.vstack([_prices(s, km, kg, items) for s in services])
    day = math.floor(now / HOURS_PER_DAY)
    hour = now - day * HOURS_PER_DAY
    days = day + (hour >= np.minimum(cutoff_hours[None, :], t.pickup))
    dow = days % 7
    days = days + np.where(t.weekday_only & (dow == 5), 2, np.where(t.weekday_only & (dow == 6), 1, 0))
    ship = days * HOURS_PER_DAY + t.pickup
    prom = (
        ship + (t.promise_days + t.extra_days_per_1000_km * row / 1000.0) * HOURS_PER_DAY
    )  # same float ops as scalar
    co2 = t.co2_per_tkm * (kg / 1000.0) * row * ROAD_CIRCUITY + t.last_mile
    if deadline is not None:
        meets = ok & (prom <= deadline)
        any_meets = meets.any(axis=0)
        fastest_mode = ~any_meets
        ok = np.where(any_meets, meets, ok)
    else:
        fastest_mode = None
    primary, secondary = {
        Objective.CHEAPEST: (cost, prom),
        Objective.FASTEST: (prom, cost),
        Objective.GREENEST: (co2, cost),
    }[objective]
    if fastest_mode is not None and fastest_mode.any():
        primary = np.where(fastest_mode, prom, primary)
        secondary = np.where(fastest_mode, cost, secondary)
    # lexicographic (primary, secondary, service name) per candidate, exactly like choose()
    names = np.broadcast_to(t.name_rank, primary.shape)
    best = np.lexsort((names, secondary, np.where(ok, primary, np.inf)), axis=0)[0]
    cols = np.arange(n)
    service = np.where(ok.any(axis=0), best, -1).astype(np.int64)
    return QuoteArrays(service, cost[best, cols], ship[best, cols], prom[best, cols], co2[best, cols])
