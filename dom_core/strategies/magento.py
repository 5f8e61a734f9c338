"""Magento MSI-style source selection: priority-based and distance-based walks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.strategies.base import Plan, SourcingContext, register, walk


@register("priority")
@dataclass(frozen=True)
class PriorityBased:
    """Sources in the stock's priority order; take min(available, still needed) from each."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Magento's priority-based algorithm."""
        plan = walk(ctx, range(min(ctx.model.cutoff, len(ctx.cand))))
        plan.why = "priority: sources walked in priority order"
        return plan


@register("distance")
@dataclass(frozen=True)
class DistanceBased:
    """The same walk with sources sorted by great-circle distance to the shipping address."""

    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Magento's distance-based algorithm (Haversine, offline); ties by priority."""
        dist = ctx.dist
        k = min(ctx.model.cutoff, len(ctx.cand))
        order = _nearest(dist, k)
        plan = walk(ctx, order)
        plan.scores = dict(zip(order, dist.take(order).tolist(), strict=True))
        plan.why = "distance: sources walked nearest first"
        return plan


def _nearest(dist: npt.NDArray[np.float64], k: int) -> list[int]:
    """``np.argsort(dist, kind="stable")[:k]``: the k nearest, ties by position, without sorting them all.

    Every candidate farther than the k-th smallest distance ranks after the k nearest, so only those
    at most that far are sorted (in position order, stably, so ties keep the priority order).
    """
    near = np.flatnonzero(dist <= np.partition(dist, k - 1)[k - 1])
    order: list[int] = near.take(np.argsort(dist.take(near), kind="stable")[:k]).tolist()
    return order
