"""Magento MSI-style source selection: priority-based and distance-based walks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
        order = ctx.nearest(min(ctx.model.cutoff, len(ctx.cand)))
        plan = walk(ctx, order)
        if ctx.explain:  # the scores only show in the explanation
            plan.scores = dict(zip(order, ctx.dist_of(order), strict=True))
        plan.why = "distance: sources walked nearest first"
        return plan
