"""Shopify-style ranked routing: an ordered list of ranking rules, each a tie-breaker for the ones before."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.strategies.base import Plan, SourcingContext, register, walk


class RankingRule(StrEnum):
    """Rules that rank candidate locations (smaller key ranks first)."""

    MINIMISE_SPLITS = "minimise_splits"
    CLOSEST = "closest"
    PRIORITY = "priority"
    HIGHEST_STOCK = "highest_stock"
    IN_MARKET = "in_market"


def _key(rule: RankingRule, ctx: SourcingContext) -> npt.NDArray[np.float64]:
    n = len(ctx.cand)
    if rule is RankingRule.CLOSEST:
        return np.asarray(ctx.dist, dtype=np.float64)
    if rule is RankingRule.PRIORITY:
        return np.arange(n, dtype=np.float64)
    if rule is RankingRule.HIGHEST_STOCK:
        return -ctx.atp.sum(axis=0).astype(np.float64)
    if rule is RankingRule.IN_MARKET:
        market = ctx.order.market
        return np.array([ctx.network.locations[i].market != market for i in ctx.cand], dtype=np.float64)
    return -ctx.units_coverable().astype(np.float64)


@register("ranked")
@dataclass(frozen=True)
class Ranked:
    """Rank candidates lexicographically by ``rules``, then walk the ranking within the cutoff.

    When ``minimise_splits`` comes first, the walk is a greedy cover: each next shipment is the
    location that can ship the most of what is still missing, ties broken by the remaining rules.
    """

    rules: tuple[RankingRule, ...] = (RankingRule.MINIMISE_SPLITS, RankingRule.CLOSEST, RankingRule.PRIORITY)
    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Lexicographic ranking, then a (greedy-cover) walk."""
        keys = [_key(rule, ctx) for rule in reversed(self.rules)]
        order = np.lexsort(keys) if keys else np.arange(len(ctx.cand))
        k = min(ctx.model.cutoff, len(ctx.cand))
        ranked = [int(j) for j in order[:k]]
        names = ", ".join(r.value for r in self.rules)
        if self.rules and self.rules[0] is RankingRule.MINIMISE_SPLITS:
            plan = _greedy_cover(ctx, ranked)
        else:
            plan = walk(ctx, ranked)
        plan.why = f"ranked by [{names}]"
        return plan


def _greedy_cover(ctx: SourcingContext, ranked: list[int]) -> Plan:
    """Repeatedly ship from the ranked location covering most of the remaining units."""
    plan = Plan()
    remaining = list(ctx.line_qty)
    stock = ctx.stock(ranked)
    limit = ctx.model.max_shipments
    while sum(remaining) and len(plan.picks) < limit:
        best, best_units = -1, 0
        for j in ranked:
            if j in plan.picks:
                continue
            avail = stock[j]
            units = 0
            used: dict[int, int] = {}
            for i, need in enumerate(remaining):
                r = ctx.line_row[i]
                take = min(need, avail[r] - used.get(r, 0))
                if take > 0:
                    units += take
                    used[r] = used.get(r, 0) + take
            if units > best_units:
                best, best_units = j, units
        if best < 0:
            break
        plan.considered.append(best)
        avail = stock[best]
        for i, need in enumerate(remaining):
            r = ctx.line_row[i]
            take = min(need, avail[r])
            if take > 0:
                plan.take(best, i, take)
                avail[r] -= take
                remaining[i] -= take
    if sum(remaining) and len(plan.picks) >= limit:
        plan.shortfall = f"max_shipments {limit} reached"
    return plan
