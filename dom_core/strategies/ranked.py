"""Shopify-style ranked routing: an ordered list of ranking rules, each a tie-breaker for the ones before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, partial
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from dom_core.carriers import Objective
from dom_core.network import NEAR_TIE
from dom_core.strategies.base import Plan, SourcingContext, register, units_coverable_by, walk


class RankingRule(StrEnum):
    """Rules that rank candidate locations (smaller key ranks first)."""

    MINIMISE_SPLITS = "minimise_splits"
    CLOSEST = "closest"
    PRIORITY = "priority"
    HIGHEST_STOCK = "highest_stock"
    IN_MARKET = "in_market"


Key = npt.NDArray[np.float64] | npt.NDArray[np.int64]


def _key(
    rule: RankingRule,
    ctx: SourcingContext,
    pos: npt.NDArray[np.intp] | None,
    coverable: npt.NDArray[np.int64] | None,
    exact: bool,
) -> Key:
    """The rule's key (smaller ranks first) for the candidates at ``pos`` (ascending; None: all of them).

    ``coverable`` is ``ctx.units_coverable()``. Integer keys stay integers (they order as their floats would).
    Unless ``exact``, ``closest`` is keyed by ``ctx.nearness`` rather than by the distances.
    """
    if rule is RankingRule.CLOSEST:
        if not exact:
            return ctx.nearness if pos is None else ctx.nearness.take(pos)
        if pos is None:
            return ctx.dist
        if 4 * len(pos) > len(ctx.cand):  # computing all candidates' distances is about as cheap
            return ctx.dist.take(pos)
        return ctx.dist_at(pos)
    if rule is RankingRule.PRIORITY:
        return np.arange(len(ctx.cand)) if pos is None else pos
    if rule is RankingRule.HIGHEST_STOCK:
        stock: npt.NDArray[np.int64] = (ctx.atp if pos is None else ctx.atp.take(pos, axis=1)).sum(axis=0)
        return -stock
    if rule is RankingRule.IN_MARKET:
        market = ctx.order.market
        locs = ctx.network.locations
        cand = ctx.cand if pos is None else ctx.cand.take(pos)
        return np.array([locs[i].market != market for i in cand], dtype=np.int64)
    assert coverable is not None
    return -(coverable if pos is None else coverable.take(pos))


def _rank(
    ctx: SourcingContext,
    rules: tuple[RankingRule, ...],
    coverable: npt.NDArray[np.int64] | None,
    k: int,
    exact: bool,
) -> list[int] | None:
    """The first ``k`` positions of the lexicographic ranking by ``rules`` (ties by position).

    Not ``exact``: ``closest`` ranks by nearness keys, and the ranking is returned only where they decide
    as the distances would, i.e. no two neighbours among the first k + 1 that agree on the rules before
    ``closest`` have keys within NEAR_TIE (else None: rank ``exact``ly).
    """
    first = _key(rules[0], ctx, None, coverable, exact)
    # Only the first k of the ranking are used: candidates ranking after the k-th by the first rule alone
    # cannot be among them, so the other rules' keys are computed for the rest only (those within NEAR_TIE
    # of the k-th nearness key may rank before it by distance).
    limit = np.partition(first, k - 1)[k - 1]
    if not exact and rules[0] is RankingRule.CLOSEST:
        limit = limit + NEAR_TIE
    pos = np.flatnonzero(first <= limit)
    keys = [first.take(pos), *(_key(rule, ctx, pos, coverable, exact) for rule in rules[1:])]
    by_rank = np.lexsort(keys[::-1])  # lexsort's last key is the primary one
    ranked: list[int] = pos.take(by_rank[:k]).tolist()
    if exact or RankingRule.CLOSEST not in rules:
        return ranked
    c = rules.index(RankingRule.CLOSEST)
    top = by_rank[: k + 1]
    near = keys[c].take(top).tolist()
    before = [key.take(top).tolist() for key in keys[:c]]
    for t in range(len(near) - 1):
        if near[t + 1] - near[t] <= NEAR_TIE and all(b[t] == b[t + 1] for b in before):
            return None
    return ranked


def _first(
    ctx: SourcingContext, rules: tuple[RankingRule, ...], coverable: npt.NDArray[np.int64] | None
) -> int:
    """The top position of the ranking by ``rules`` (``_rank(..., k=1)[0]``): the candidates with the
    smallest key of each rule in turn, the first of them in position order."""
    pos: npt.NDArray[np.intp] | None = None  # None: every candidate
    for rule in rules:
        if rule is RankingRule.MINIMISE_SPLITS and pos is None:  # the most units: no negated copy
            assert coverable is not None
            keep = (coverable == coverable.max()).nonzero()[0]
        elif rule is RankingRule.CLOSEST:
            key = _key(rule, ctx, pos, coverable, exact=False)
            keep = (key <= key.min() + NEAR_TIE).nonzero()[0]
            if len(keep) > 1:  # nearness too close to call: the nearest of these by distance
                near = keep if pos is None else pos.take(keep)
                km = _key(rule, ctx, near, coverable, exact=True)
                keep = keep.take((km == km.min()).nonzero()[0])
        else:
            key = _key(rule, ctx, pos, coverable, exact=False)
            keep = (key == key.min()).nonzero()[0]
        pos = keep if pos is None else pos.take(keep)
        if len(pos) == 1:
            break
    assert pos is not None
    return int(pos[0])


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
        n = len(ctx.cand)
        k = min(ctx.model.cutoff, n)
        coverable = ctx.units_coverable() if RankingRule.MINIMISE_SPLITS in self.rules else None
        # np.lexsort is stable, so ties already rank in priority (position) order: a priority rule, and
        # any rule after it, changes nothing and is left out.
        rules = self.rules
        if RankingRule.PRIORITY in rules:
            rules = rules[: rules.index(RankingRule.PRIORITY)]
        ranking = partial(_ranking, ctx, rules, coverable)
        if coverable is not None and self.rules[0] is RankingRule.MINIMISE_SPLITS:
            plan = _greedy_cover(ctx, ranking, k, coverable)
        else:
            plan = walk(ctx, ranking(k))
        plan.why = _why(self.rules)
        return plan


def _ranking(
    ctx: SourcingContext, rules: tuple[RankingRule, ...], coverable: npt.NDArray[np.int64] | None, k: int
) -> list[int]:
    """The first ``k`` positions of the ranking by ``rules`` (ties by position)."""
    if not rules:
        return list(range(k))
    if k == 1:
        return [_first(ctx, rules, coverable)]
    ranked = _rank(ctx, rules, coverable, k, exact=False)
    if ranked is None:  # nearness keys too close to call: rank by the distances
        ranked = _rank(ctx, rules, coverable, k, exact=True)
        assert ranked is not None
    return ranked


@cache
def _why(rules: tuple[RankingRule, ...]) -> str:
    return f"ranked by [{', '.join(r.value for r in rules)}]"


def _greedy_cover(
    ctx: SourcingContext, ranking: Callable[[int], list[int]], k: int, coverable: npt.NDArray[np.int64]
) -> Plan:
    """Repeatedly ship from the ranked location covering most of the remaining units.

    ``ranking(m)``: the first m positions of the ranking; the first k are considered. ``coverable[j]``: the
    units candidate ``j`` can ship of the whole order, i.e. the first round's counts. The ranking ranks
    by them first, so the first round picks its top location: the others are ranked only when a second
    round is needed.
    """
    plan = Plan()
    picks = plan.picks
    remaining = list(ctx.line_qty)
    stock: dict[int, list[int]] = {}  # ATP rows, fetched when first needed (one round usually suffices)
    limit = ctx.model.max_shipments
    ranked: list[int] | None = None  # the first k of the ranking, once a second round needs them
    while sum(remaining) and len(picks) < limit:
        if not picks:
            best = ranking(1)[0]
            if coverable[best] <= 0:
                break
        else:
            if ranked is None:
                ranked = ranking(k)
            best, best_units = -1, 0
            for j in ranked:
                if j in picks:
                    continue
                units = units_coverable_by(ctx, _row(ctx, stock, j), remaining)
                if units > best_units:
                    best, best_units = j, units
            if best < 0:
                break
        plan.considered.append(best)
        avail = _row(ctx, stock, best)
        taken = picks[best] = {}
        for i, need in enumerate(remaining):
            r = ctx.line_row[i]
            take = min(need, avail[r])
            if take > 0:
                taken[i] = take  # plan.take(best, i, take): a location is picked once
                avail[r] -= take
                remaining[i] -= take
    if sum(remaining) and len(picks) >= limit:
        plan.shortfall = f"max_shipments {limit} reached"
    return plan


def _row(ctx: SourcingContext, stock: dict[int, list[int]], j: int) -> list[int]:
    """The (mutable) ATP per SKU row of candidate ``j``, kept in ``stock``."""
    avail = stock.get(j)
    if avail is None:
        avail = stock[j] = ctx.atp[:, j].tolist()
    return avail
