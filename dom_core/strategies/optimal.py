"""Optimising strategies: the exact per-order optimum, and (registered from ``dom_core.optimise``) the
look-ahead strategies that price stock with LP dual values or round an LP plan.

``optimal`` chooses, for each order on its own, the locations and units that minimise

    sum over shipments of  w_cost * (carrier cost + handling) + w_time * promised days + w_co2 * kg CO2e
    + split_penalty * (shipments - 1) + lost_sale * units left unserved

over every split of the order's units across at most ``max_shipments`` locations, respecting ATP,
the model's cutoff (the ``cutoff`` locations with the best cost per unit they can ship) and, when a
capacity book is known, the pick capacity left today. Shipments are priced with the engine's carrier
rules (cheapest service meeting the promise), so the realised cost is the optimised one. See
``dom_core.optimise.order`` for the method (sound pruning, DP over locations, CP-SAT fallback).

Capacity: the strategy reads a ``capacity`` attribute of the context if the engine provides one, else
its own ``capacity`` field (pass the engine's ``CapacityBook``: ``Optimal(capacity=engine.capacity)``).
A location whose shipments assigned today reached ``capacity_share x pick_capacity_per_day`` is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from dom_core.capacity import CapacityBook
from dom_core.carriers import Objective
from dom_core.optimise.order import OrderSolution, solve_order
from dom_core.optimise.shipments import Weights
from dom_core.strategies.base import Plan, SourcingContext, register


def capacity_exhausted(
    ctx: SourcingContext, book: CapacityBook | None, share: float
) -> npt.NDArray[np.bool_] | None:
    """Per candidate: no pick capacity left today (None when no capacity book is known)."""
    if book is None:
        return None
    locs = ctx.network.locations
    full = [book.assigned(int(i), ctx.now) >= share * locs[i].pick_capacity_per_day for i in ctx.cand]
    return np.array(full, dtype=bool)


def solution_plan(ctx: SourcingContext, sol: OrderSolution, label: str) -> Plan:
    """A Plan from an optimiser solution, with its reasons."""
    plan = Plan(considered=list(sol.pool), scores=dict(sol.rank_key))
    for pos, lines in sol.picks.items():
        for i, qty in lines.items():
            plan.take(pos, i, qty)
    ids = ", ".join(ctx.network.locations[ctx.cand[p]].id for p in sorted(sol.picks))
    plan.why = (
        f"{label}: least total score {sol.value:.2f} over {len(sol.pool)} locations ({sol.method}); "
        f"ships from {ids or 'nowhere'}"
    )
    if sol.unserved:
        m = ctx.model.max_shipments
        plan.shortfall = f"{label}: not enough ATP within the cutoff and max_shipments {m}"
    return plan


@register("optimal")
@dataclass(frozen=True)
class Optimal:
    """Per-order optimum of shipping + handling + split penalty (+ weighted days and CO2e)."""

    cost: float = 1.0
    time: float = 0.0
    co2: float = 0.0
    split_penalty: float = 0.0
    lost_sale: float = 1000.0
    respect_cutoff: bool = True
    capacity_share: float = 1.0
    capacity: CapacityBook | None = field(default=None, compare=False, repr=False)
    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    @property
    def weights(self) -> Weights:
        """The objective weights."""
        return Weights(self.cost, self.time, self.co2, self.split_penalty, self.lost_sale)

    def exhausted(self, ctx: SourcingContext) -> npt.NDArray[np.bool_] | None:
        """Candidates without pick capacity left today (ctx.capacity if the engine sets it, else ours)."""
        book = ctx.capacity or self.capacity
        return capacity_exhausted(ctx, book, self.capacity_share)

    def plan(self, ctx: SourcingContext) -> Plan:
        """The exact per-order optimum."""
        sol = solve_order(
            ctx,
            self.weights,
            cutoff=ctx.model.cutoff if self.respect_cutoff else None,
            exclude=self.exhausted(ctx),
            objective=self.carrier_objective,
        )
        return solution_plan(ctx, sol, self.name)


from dom_core.optimise import lookahead as _lookahead  # noqa: E402  (registers lookahead, lp_rounding)

__all__ = ["Optimal", "capacity_exhausted", "solution_plan"]
_REGISTERED = (_lookahead,)
