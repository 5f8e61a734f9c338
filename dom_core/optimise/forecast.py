"""Demand forecasts for the look-ahead strategies, and the LP over them that prices stock.

A forecast gives representative orders ("order types") with the expected number of such orders over
the coming period. ``FixedForecast`` scales a known distribution to the time left in the horizon (the
literature's setting: known demand, no replenishment); ``HistoryForecast`` takes the orders seen in
the last ``window_hours`` as the next ``horizon_hours``' demand (an empirical, self-contained forecast).

``ForecastLP`` solves the DLP of ``dom_core.optimise.lp`` over a forecast and the current ATP, and
keeps its stock shadow prices (dual values: what one more unit at (SKU, location) would save over the
period) and its flows as per-(region, SKU) location marginals for LP rounding.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog
from dom_core.model import Order
from dom_core.network import Network
from dom_core.optimise.costs import CostModel, OrderCosts, all_order_costs, lost_sale_penalty

F = npt.NDArray[np.float64]


class Forecast(Protocol):
    """Expected demand of the coming period as (order type, expected count) pairs."""

    def observe(self, order: Order) -> None:
        """See an order as it is sourced (history-based forecasts learn from it)."""
        ...

    def demand(self, now: float) -> list[tuple[Order, float]]:
        """Order types and expected counts from ``now`` on."""
        ...


@dataclass
class FixedForecast:
    """A known demand distribution: ``types`` with expected counts over [start, end], spread uniformly."""

    types: list[tuple[Order, float]]
    start: float
    end: float

    def observe(self, order: Order) -> None:
        """Nothing to learn."""

    def demand(self, now: float) -> list[tuple[Order, float]]:
        """The types, scaled to the share of the horizon still ahead."""
        left = max(0.0, min(1.0, (self.end - now) / max(self.end - self.start, 1e-9)))
        return [(o, w * left) for o, w in self.types if w * left > 0]


@dataclass
class HistoryForecast:
    """The orders of the last ``window_hours`` repeat, scaled to the next ``horizon_hours``."""

    window_hours: float = 24.0
    horizon_hours: float = 72.0
    _seen: deque[Order] = field(default_factory=deque, repr=False)
    _ids: set[str] = field(default_factory=set, repr=False)

    def observe(self, order: Order) -> None:
        """Remember the order (once, however often it is decided)."""
        if order.id not in self._ids:
            self._ids.add(order.id)
            self._seen.append(order)

    def demand(self, now: float) -> list[tuple[Order, float]]:
        """Orders seen in the window, each weighted horizon / window."""
        while self._seen and self._seen[0].created_at < now - self.window_hours:
            self._ids.discard(self._seen.popleft().id)
        scale = self.horizon_hours / self.window_hours
        return [(o, scale) for o in self._seen]


def region(lat: float, lon: float, degrees: float) -> tuple[int, int]:
    """A lat/lon grid cell: orders of one cell share LP marginals."""
    return math.floor(lat / degrees), math.floor(lon / degrees)


def trim(costs: list[OrderCosts], stock: npt.NDArray[np.int64], keep: int) -> list[OrderCosts]:
    """Keep, per order, the ``keep`` cheapest locations (by a full-order shipment) holding any of it."""
    out = []
    for c in costs:
        has = (stock[np.asarray(c.sku)][:, c.loc] > 0).any(axis=0)
        full = c.fixed + (c.unit * np.asarray(c.qty)[:, None]).sum(axis=0) + c.line * len(c.qty)
        idx = np.flatnonzero(has)
        idx = idx[np.argsort(full[idx], kind="stable")[:keep]]
        idx.sort()
        out.append(OrderCosts(c.order, c.loc[idx], c.fixed[idx], c.unit[:, idx], c.line[idx], c.sku, c.qty))
    return out


@dataclass
class ForecastLP:
    """The DLP over a forecast: stock shadow prices and (region, SKU) -> location marginals."""

    shadow: F
    marginals: dict[tuple[tuple[int, int], int], dict[int, float]]
    by_sku: dict[int, dict[int, float]]
    value: float
    seconds: float


def solve_forecast(
    network: Network,
    carriers: CarrierCatalog,
    atp: npt.NDArray[np.int64],
    demand: list[tuple[Order, float]],
    *,
    locations_per_type: int = 10,
    region_degrees: float = 0.5,
    cost_model: CostModel | None = None,
) -> ForecastLP:
    """Solve the DLP of ``demand`` on ``atp`` (SKU x location); empty prices without demand."""
    from dom_core.optimise.lp import _solve

    shadow = np.zeros(atp.shape)
    if not demand:
        return ForecastLP(shadow, {}, {}, 0.0, 0.0)
    model = CostModel() if cost_model is None else cost_model
    costs = all_order_costs(network, carriers, [o for o, _ in demand], model)
    penalty = lost_sale_penalty(costs, model)
    costs = trim(costs, atp, locations_per_type)
    weights = [demand[c.order][1] for c in costs]
    bound = _solve(costs, weights, atp, penalty, "auto", None)
    marg: dict[tuple[tuple[int, int], int], dict[int, float]] = {}
    by_sku: dict[int, dict[int, float]] = {}
    entry, line, loc, units = bound.flow
    for e, i, p, u in zip(entry.tolist(), line.tolist(), loc.tolist(), units.tolist(), strict=True):
        o = demand[costs[e].order][0]
        s = costs[e].sku[i]
        cell = marg.setdefault((region(o.lat, o.lon, region_degrees), s), {})
        cell[p] = cell.get(p, 0.0) + u
        glob = by_sku.setdefault(s, {})
        glob[p] = glob.get(p, 0.0) + u
    return ForecastLP(bound.shadow, marg, by_sku, bound.value, bound.seconds)
