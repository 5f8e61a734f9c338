"""Look-ahead strategies: stock priced with LP dual values, and LP-based randomised rounding.

``lookahead`` (Acimovic and Graves, 2015): every ``refresh_hours`` the DLP over the forecast of the
coming period is solved on the current ATP; each unit taken from (SKU, location) then costs its dual
value on top of its shipping cost, and the exact per-order optimiser picks the locations. Stock that
future orders will need (e.g. the only units near a demand region) is kept for them.

``lp_rounding`` (in the spirit of Jasin and Sinha, 2015): the DLP's flows give, per region and SKU,
the share of units each location should serve. An order draws one uniform U from a hash of
(seed, order id) - deterministic, no global random state - and every line takes the location where
U falls in its cumulative shares (locations in one order for all lines: correlated rounding, so
lines with similar shares land together). The order then ships from the cheapest arrangement over
the drawn locations (exact optimiser restricted to them); if a drawn location lacks ATP, the draw is
repeated among the locations that have it, and without LP guidance the order falls back to the
dual-priced optimum.

The forecast defaults to ``HistoryForecast`` (recent orders repeat); set ``strategy.forecast`` (e.g.
a ``FixedForecast`` of a known distribution) to use another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.optimise.forecast import Forecast, ForecastLP, HistoryForecast, region, solve_forecast
from dom_core.optimise.lp import stock_array
from dom_core.optimise.order import solve_order
from dom_core.optimise.shipments import Weights
from dom_core.strategies.base import Plan, SourcingContext, register

F = npt.NDArray[np.float64]


def uniform(seed: int, key: str) -> float:
    """A deterministic uniform in [0, 1) from a hash of (seed, key)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@register("lookahead")
@dataclass(eq=False)
class Lookahead:
    """Per-order optimum with stock priced at the dual values of a DLP over the forecast."""

    refresh_hours: float = 12.0
    dual_weight: float = 1.0
    locations_per_type: int = 10
    region_degrees: float = 0.5
    split_penalty: float = 0.0
    lost_sale: float = 1000.0
    respect_cutoff: bool = True
    forecast: Any = field(default=None, compare=False, repr=False)  # a Forecast; HistoryForecast if None
    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST
    _lp: Any = field(default=None, init=False, repr=False)  # ForecastLP (Any: pydantic validates fields)
    _at: float = field(default=-np.inf, init=False, repr=False)

    def _forecast(self) -> Forecast:
        if self.forecast is None:
            self.forecast = HistoryForecast()
        fc: Forecast = self.forecast
        return fc

    def prices(self, ctx: SourcingContext) -> ForecastLP:
        """The current DLP (re-solved every ``refresh_hours`` of ``ctx.now``)."""
        fc = self._forecast()
        fc.observe(ctx.order)
        if self._lp is None or ctx.now >= self._at + self.refresh_hours:
            net = ctx.network
            atp = stock_array(net, ctx.ledger)
            self._lp = solve_forecast(
                net, ctx.carriers, atp, fc.demand(ctx.now),
                locations_per_type=self.locations_per_type, region_degrees=self.region_degrees,
            )
            self._at = ctx.now
        lp: ForecastLP = self._lp
        return lp

    def unit_price(self, ctx: SourcingContext, lp: ForecastLP) -> F:
        """Dual value per (SKU row, candidate) of the context."""
        rows = np.asarray(ctx.row_sku, dtype=np.intp)
        price: F = self.dual_weight * lp.shadow.take(rows, axis=0).take(ctx.cand, axis=1)
        return price

    def optimum(
        self, ctx: SourcingContext, lp: ForecastLP, exclude: npt.NDArray[np.bool_] | None = None
    ) -> Plan:
        """The dual-priced per-order optimum (locations in ``exclude`` may not ship)."""
        from dom_core.strategies.optimal import solution_plan

        weights = Weights(split_penalty=self.split_penalty, lost_sale=self.lost_sale)
        sol = solve_order(
            ctx, weights, cutoff=ctx.model.cutoff if self.respect_cutoff else None, exclude=exclude,
            unit_price=self.unit_price(ctx, lp), objective=self.carrier_objective,
        )
        return solution_plan(ctx, sol, self.name)

    def plan(self, ctx: SourcingContext) -> Plan:
        """Per-order optimum of shipping cost + dual value of the stock used."""
        return self.optimum(ctx, self.prices(ctx))


@register("lp_rounding")
@dataclass(eq=False)
class LpRounding(Lookahead):
    """Correlated randomised rounding of the DLP's (region, SKU) location shares, then consolidation."""

    seed: int = 0
    name: ClassVar[str]

    def draw(self, ctx: SourcingContext, lp: ForecastLP) -> list[int] | None:
        """Candidate positions drawn for the order's lines (None when the LP gives no guidance)."""
        cell = region(ctx.dest_lat, ctx.dest_lon, self.region_degrees)
        u = uniform(self.seed, ctx.order.id)
        order = np.argsort(ctx.dist, kind="stable").tolist()  # one location order for every line
        need: dict[int, int] = {}
        for r, q in zip(ctx.line_row, ctx.line_qty, strict=True):
            need[r] = need.get(r, 0) + q
        drawn: list[int] = []
        for i in range(ctx.n_lines):
            r = ctx.line_row[i]
            s = ctx.row_sku[r]
            shares = lp.marginals.get((cell, s)) or lp.by_sku.get(s)
            if not shares:
                return None
            weights = [(j, shares.get(int(ctx.cand[j]), 0.0)) for j in order if int(ctx.cand[j]) in shares]
            weights = [(j, w) for j, w in weights if w > 0 and ctx.atp[r, j] >= need[r]]
            total = sum(w for _, w in weights)
            if total <= 0:
                return None
            acc, pick = 0.0, weights[-1][0]
            for j, w in weights:
                acc += w / total
                if u < acc:
                    pick = j
                    break
            drawn.append(pick)
        return drawn

    def plan(self, ctx: SourcingContext) -> Plan:
        """Draw locations per line from the LP shares, then ship the cheapest way from those."""
        lp = self.prices(ctx)
        drawn = self.draw(ctx, lp)
        if drawn is None or len(set(drawn)) > ctx.model.max_shipments:
            plan = self.optimum(ctx, lp)
            plan.why = "lp_rounding: no LP guidance for a line, dual-priced optimum; " + plan.why
            return plan
        exclude = np.ones(len(ctx.cand), dtype=bool)
        exclude[list(set(drawn))] = False
        plan = self.optimum(ctx, lp, exclude)
        if plan.shortfall.startswith(self.name) or not plan.picks:
            return self.optimum(ctx, lp)
        ids = ", ".join(sorted({ctx.network.locations[ctx.cand[j]].id for j in drawn}))
        plan.why = f"lp_rounding: LP shares drew {ids}; " + plan.why
        return plan
