"""Objective-based strategies: cheapest, fastest, greenest, balance-stock and a weighted blend.

Each candidate is scored for shipping the whole order at once (vectorised carrier quotes):

    score_j = w_cost * (shipping_j + handling_j) + w_time * promised_days_j + w_co2 * kg_co2e_j
              + w_balance * units * mean_r 1 / (1 + days_of_cover_rj)

The plan is the best single location that covers the order, unless a greedy cover (cheapest score per
unit covered, paying ``split_penalty`` per extra shipment) serves more units or costs less.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import ge, mul
from typing import ClassVar

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
from dom_core.model import FulfilmentType
from dom_core.network import Network
from dom_core.quoting import QuoteArrays, quote_many
from dom_core.strategies.base import IntpArray, Plan, SourcingContext, register

F = npt.NDArray[np.float64]
_MIN = np.minimum.reduce  # ndarray.min without its Python wrapper


def candidate_scores(
    ctx: SourcingContext,
    objective: Objective,
    w_cost: float,
    w_time: float,
    w_co2: float,
    w_balance: float,
) -> F:
    """Score of shipping the whole order from each candidate (lower is better; inf if unservable)."""
    net = ctx.network
    kg = sum(map(mul, ctx.line_qty, ctx.line_kg))
    items = sum(ctx.line_qty)
    handling = _handling(net, ctx.cand, ctx.n_lines)
    # Without a deadline, cheapest and greenest scores need no promise: the best cost, or the best
    # (CO2e, cost), over the services taking the parcel decides them, whichever service wins a tie.
    # Orders that some candidate cannot ship by any service are scored by quote_many as before.
    with_co2 = objective is Objective.GREENEST
    by_cost = objective is Objective.CHEAPEST and not w_co2
    if ctx.deadline is None and not (w_time or w_balance) and (with_co2 or by_cost):
        best = _ParcelTable.of(ctx.carriers).best(ctx.dist, kg, items, with_co2=with_co2)
        if best is not None:
            fast: F = best[0] + handling if w_cost == 1.0 else w_cost * (best[0] + handling)  # 1.0 * x == x
            return fast + w_co2 * best[1] if w_co2 else fast
    q = quote_many(
        ctx.carriers, objective, ctx.now, net.cutoff_hours[ctx.cand], ctx.dist, kg, items, ctx.deadline
    )
    if ctx.calendar is not None:
        q = _on_calendar(ctx, q)
    score: F = w_cost * (q.cost + handling)
    if w_time:
        score = score + w_time * (q.promised_at - ctx.now) / 24.0
    if w_co2:
        score = score + w_co2 * q.co2_kg
    if w_balance:
        cover = np.vstack([ctx.ledger.days_of_cover(s, ctx.cand) for s in ctx.row_sku])
        score = score + w_balance * items * (1.0 / (1.0 + cover)).mean(axis=0)
    if ctx.order.fulfilment in (FulfilmentType.PICKUP_IN_STORE, FulfilmentType.SHIP_TO_STORE):
        return score  # picked up or moved by the store transfer: no parcel service needs to accept it
    result: F = np.where(q.service < 0, np.inf, score)
    return result


def _on_calendar(ctx: SourcingContext, q: QuoteArrays) -> QuoteArrays:
    """Each candidate's quote with its pickup moved past closed days and its promise past holidays."""
    cal = ctx.calendar
    assert cal is not None
    services = ctx.carriers.parcel_services()
    ship, prom = q.ship_at.copy(), q.promised_at.copy()
    market = ctx.order.market
    for j, (loc, s) in enumerate(zip(ctx.cand.tolist(), q.service.tolist(), strict=True)):
        if s >= 0:
            weekdays_only = not services[s].works_weekends
            ship[j], prom[j] = cal.move(loc, market, ship.item(j), prom.item(j), weekdays_only)
    return QuoteArrays(q.service, q.cost, ship, prom, q.co2_kg)


_HANDLING: dict[tuple[int, int], tuple[F, F, IntpArray, F]] = {}  # (lines, id(cand)) -> (.., handling)


def _handling(net: Network, cand: IntpArray, lines: int) -> F:
    """Handling cost per candidate of an order of ``lines`` lines, kept for the candidate arrays the
    engine passes again and again (one per inventory model and fulfilment type)."""
    key = (lines, id(cand))  # the entry holds ``cand``, so no other array has its id meanwhile
    hit = _HANDLING.get(key)
    if (
        hit is not None
        and hit[2] is cand
        and hit[0] is net.handling_per_order
        and hit[1] is net.handling_per_line
    ):
        return hit[3]
    handling = net.handling_per_order[cand] + net.handling_per_line[cand] * lines
    handling.setflags(write=False)
    if len(_HANDLING) >= 64:  # pickup orders bring a new one-candidate array each
        _HANDLING.clear()
    _HANDLING[key] = (net.handling_per_order, net.handling_per_line, cand, handling)
    return handling


@dataclass(frozen=True, slots=True)
class _Parcel:
    """One parcel service's pricing and CO2e constants (``quote_many``'s figures, same float operations)."""

    service: CarrierService
    zone_limits: F | None  # None: a linear rate card
    columns: dict[int, F]  # weight bracket -> price per zone, the last zone repeated (for z == len)
    co2_per_tkm: float
    last_mile: float

    def column(self, card: ZoneRateCard, bracket: int) -> F:
        """Price per zone (the last one repeated) of a weight bracket within the card's table."""
        column = self.columns.get(bracket)
        if column is None:  # scalar price() per zone at the bracket's limit, like quote_many's
            column = self.columns[bracket] = _column(card, card.weight_limits_kg[bracket])
        return column

    def prices(self, km: F, kg: float, items: int, zones: dict[int, npt.NDArray[np.intp]]) -> F:
        """Price per distance, as ``quote_many`` prices it."""
        card = self.service.rate_card
        if isinstance(card, LinearRateCard):
            linear: F = card.per_package + items * (card.per_item + card.per_item_mile * km / KM_PER_MILE)
            return linear
        assert isinstance(card, ZoneRateCard) and self.zone_limits is not None
        z = zones.get(id(self.zone_limits))
        if z is None:
            z = zones[id(self.zone_limits)] = np.searchsorted(self.zone_limits, km, side="left")
        if kg <= card.weight_limits_kg[-1]:
            column = self.column(card, bisect_left(card.weight_limits_kg, kg))
        else:
            column = _column(card, kg)
        price: F = column.take(z)
        return price


def _column(card: ZoneRateCard, kg: float) -> F:
    prices = [card.price(limit, kg, 1) for limit in card.zone_limits_km]
    return np.array([*prices, prices[-1]], dtype=np.float64)


_TABLES: dict[int, tuple[CarrierCatalog, _ParcelTable]] = {}


@dataclass(frozen=True, slots=True)
class _Services:
    """The parcel services taking a parcel's weight, as (services x 1) columns."""

    parcels: tuple[_Parcel, ...]
    co2_per_tkm: F
    last_mile: F
    limited: tuple[tuple[int, float], ...]  # (row, max_km) of services with a distance limit


@dataclass(frozen=True, slots=True)
class _Bracket:
    """Zone-card services taking one interval of parcel weights, priced per band of the table's zones.

    Every price is the one ``_Parcel.prices`` gives at a distance in that band: within a band no
    service's zone and no distance limit changes. ``last_mile`` is inf where the price is (no service).
    """

    price: F  # services x (bands + 1)
    last_mile: F  # services x (bands + 1)
    co2_per_tkm: F  # services x 1
    cheapest: F  # price.min(axis=0)
    unservable: bool  # some band has no service


@dataclass(frozen=True, slots=True)
class _ParcelTable:
    """A catalogue's parcel services prepared for scoring many candidates at once."""

    parcels: tuple[_Parcel, ...]
    by_weight: dict[tuple[bool, ...], _Services]
    # Weights at which a service's acceptance or rate-card bracket changes, and distances at which a
    # zone or a distance limit does: within those intervals and bands, prices are constants.
    kg_limits: tuple[float, ...]
    bands: F
    brackets: dict[int, _Bracket | None]  # kg interval -> its prices; None: priced per parcel

    @staticmethod
    def of(catalog: CarrierCatalog) -> _ParcelTable:
        """The (cached) table of ``catalog``."""
        cached = _TABLES.get(id(catalog))
        if cached is None or cached[0] is not catalog:
            parcels = []
            shared: dict[tuple[float, ...], F] = {}  # services with one zone table share its lookups
            kg_limits: set[float] = set()
            km_limits: set[float] = set()
            for s in catalog.parcel_services():
                card = s.rate_card
                limits = None
                if isinstance(card, ZoneRateCard):
                    limits = shared.setdefault(card.zone_limits_km, np.array(card.zone_limits_km))
                    kg_limits.update(float(w) for w in card.weight_limits_kg)
                    km_limits.update(float(z) for z in card.zone_limits_km)
                kg_limits.add(float(s.max_kg))
                if s.max_km < np.inf:
                    km_limits.add(float(s.max_km))
                parcels.append(
                    _Parcel(s, limits, {}, s.linehaul_kg_co2_per_tkm, s.last_mile_kg_co2_per_parcel)
                )
            bands = np.array(sorted(km_limits), dtype=np.float64)
            table = _ParcelTable(tuple(parcels), {}, tuple(sorted(kg_limits)), bands, {})
            cached = _TABLES[id(catalog)] = (catalog, table)
        return cached[1]

    def _services(self, kg: float) -> _Services:
        takes = tuple(kg <= p.service.max_kg for p in self.parcels)
        services = self.by_weight.get(takes)
        if services is None:
            parcels = tuple(p for p, ok in zip(self.parcels, takes, strict=True) if ok)
            services = self.by_weight[takes] = _Services(
                parcels,
                np.array([p.co2_per_tkm for p in parcels], dtype=np.float64)[:, None],
                np.array([p.last_mile for p in parcels], dtype=np.float64)[:, None],
                tuple((i, p.service.max_km) for i, p in enumerate(parcels) if p.service.max_km < np.inf),
            )
        return services

    def _bracket(self, kg: float) -> _Bracket | None:
        """Prices per band for the weight interval holding ``kg`` (None: some service taking it has a
        linear card or no bracket for it, or none takes it)."""
        services = self._services(kg)
        if not services.parcels:
            return None
        lows = [-np.inf, *self.bands.tolist()]  # a distance in band b is > lows[b] and <= bands[b]
        rows = []
        for p in services.parcels:
            card = p.service.rate_card
            if not isinstance(card, ZoneRateCard) or kg > card.weight_limits_kg[-1]:
                return None
            column = p.column(card, bisect_left(card.weight_limits_kg, kg)).tolist()
            max_km = p.service.max_km
            zones = card.zone_limits_km
            rows.append([np.inf if max_km <= low else column[bisect_right(zones, low)] for low in lows])
        price = np.array(rows, dtype=np.float64)
        cheapest = price.min(axis=0)
        return _Bracket(
            price,
            np.where(price == np.inf, np.inf, services.last_mile),
            services.co2_per_tkm,
            cheapest,
            not (cheapest < np.inf).all(),
        )

    def best(self, km: F, kg: float, items: int, *, with_co2: bool) -> tuple[F, F] | None:
        """Per distance: (cost, CO2e) of the best service taking the parcel, by cost, or by (CO2e, cost)
        ``with_co2`` (else the CO2e is not computed); None if some distance has no service."""
        g = bisect_left(self.kg_limits, kg) if kg >= 0.0 else -1  # NaN and negative weights: priced apart
        try:
            bracket = self.brackets[g]
        except KeyError:
            bracket = self.brackets[g] = self._bracket(kg) if g >= 0 else None
        if bracket is not None:
            band = self.bands.searchsorted(km, side="left")
            if with_co2:  # the same float operations as quote_many's CO2e
                price = bracket.price.take(band, axis=1)
                last_mile = bracket.last_mile.take(band, axis=1)  # inf where no price: as quote_many's
                co2 = bracket.co2_per_tkm * (kg / 1000.0) * km * ROAD_CIRCUITY + last_mile
                least = _MIN(co2, axis=0)
                cost = _MIN(np.where(co2 == least, price, np.inf), axis=0)
            else:
                least = cost = bracket.cheapest.take(band)
            if bracket.unservable and not (cost < np.inf).all():
                return None
            return cost, least
        return self._best(km, kg, items, with_co2=with_co2)

    def _best(self, km: F, kg: float, items: int, *, with_co2: bool) -> tuple[F, F] | None:
        """``best`` service by service (linear cards, weights beyond a table)."""
        services = self._services(kg)
        if not services.parcels:
            return None
        zones: dict[int, npt.NDArray[np.intp]] = {}
        price = np.vstack([p.prices(km, kg, items, zones) for p in services.parcels])
        for row, max_km in services.limited:
            price[row, km > max_km] = np.inf
        if with_co2:  # the same float operations as quote_many's CO2e
            co2 = services.co2_per_tkm * (kg / 1000.0) * km * ROAD_CIRCUITY + services.last_mile
            co2[price == np.inf] = np.inf
            least = co2.min(axis=0)
            cost = np.where(co2 == least, price, np.inf).min(axis=0)
        else:
            least = cost = price.min(axis=0)
        if not (cost < np.inf).all():
            return None
        return cost, least


@register("weighted")
@dataclass(frozen=True)
class Weighted:
    """A weighted blend of cost, delivery days, kg CO2e and stock balance, with a split penalty."""

    cost: float = 1.0
    time: float = 0.0
    co2: float = 0.0
    balance: float = 0.0
    split_penalty: float = 2.0
    name: ClassVar[str]
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        """Best single location or greedy cover by score per unit."""
        scores = candidate_scores(ctx, self.carrier_objective, self.cost, self.time, self.co2, self.balance)
        k = min(ctx.model.cutoff, len(ctx.cand))
        top = scores.argsort(kind="stable")[:k]
        top_scores: list[float] = scores.take(top).tolist()
        # sorted: all finite unless the first is -inf or the last inf or NaN
        if top_scores and not (-math.inf < top_scores[0] and top_scores[-1] < math.inf):
            top = top[np.isfinite(scores.take(top))]
            top_scores = scores.take(top).tolist()
        ranked: list[int] = top.tolist()
        cols: list[list[int]] = ctx.atp.take(top, axis=1).T.tolist()  # per ranked candidate: ATP per row
        need = ctx.row_units()
        full = -1  # the best-scored candidate that ships the whole order
        for c, col in enumerate(cols):
            if all(map(ge, col, need)):
                full = c
                break
        greedy = None
        # When the best-scored candidate ships the whole order (at a score >= 0), the greedy cover
        # takes it first and alone (no lower score per unit exists), so it cannot beat it.
        skip = full == 0 and top_scores[0] >= 0
        penalty = self.split_penalty
        if full > 0 and top_scores[0] >= 0 and 0 <= penalty < math.inf and sum(ctx.line_qty) > 0:
            # Nor can it beat the best whole-order score if that is at most the two best scores plus one
            # penalty: with scores and penalty >= 0, any cover by two or more candidates scores at least
            # that (float sums are monotonic too), and a cover by one candidate is a whole-order one.
            skip = top_scores[full] <= top_scores[0] + top_scores[1] + penalty
        if not skip:
            greedy = _greedy(ctx, ranked, top_scores, cols, need)
            greedy_units = sum(sum(v.values()) for v in greedy.picks.values())
            greedy_score = sum(scores.item(j) for j in greedy.picks) + self.split_penalty * max(
                0, len(greedy.picks) - 1
            )
        if full >= 0 and (
            greedy is None or greedy_units < sum(ctx.line_qty) or top_scores[full] <= greedy_score
        ):
            j = ranked[full]
            plan = Plan({j: dict(enumerate(ctx.line_qty))}, considered=ranked)  # every line from j
            if ctx.explain:
                best = ctx.network.locations[ctx.cand[j]].id
                plan.why = f"{self.name}: {best} ships the whole order at the best score"
        else:
            assert greedy is not None
            plan = greedy
            plan.considered = ranked
            plan.why = f"{self.name}: greedy cover by score per unit (split penalty {self.split_penalty})"
        if ctx.explain:
            plan.scores = dict(zip(ranked, top_scores, strict=True))
        return plan


def _greedy(
    ctx: SourcingContext,
    ranked: list[int],
    scores: list[float],
    cols: list[list[int]],
    need: list[int],
) -> Plan:
    """Repeatedly take the ranked candidate with the lowest score per unit it can still ship.

    ``scores`` (finite) and ``cols`` (per candidate: ATP per SKU row) are aligned with ``ranked``;
    ``need`` is per SKU row. A candidate ships min(still needed, ATP) of each row (lines of one SKU
    share its row). Ties go to the better-ranked candidate.
    """
    plan = Plan()
    remaining = list(ctx.line_qty)
    left = list(need)  # still needed per SKU row
    usable = list(range(len(ranked)))  # positions not picked yet, in rank order
    line_row = ctx.line_row
    limit = ctx.model.max_shipments
    while any(left) and len(plan.picks) < limit:
        pos, least = -1, math.inf
        for c in usable:
            units = 0
            for a, n in zip(cols[c], left, strict=True):
                units += a if a < n else n
            if units > 0 and scores[c] / units < least:
                pos, least = c, scores[c] / units
        if pos < 0:
            break
        usable.remove(pos)
        best = ranked[pos]
        avail = cols[pos]  # not read again: the candidate is picked
        for i, want in enumerate(remaining):
            r = line_row[i]
            take = min(want, avail[r])
            if take > 0:
                plan.take(best, i, take)
                avail[r] -= take
                remaining[i] -= take
                left[r] -= take
    if any(left) and len(plan.picks) >= limit:
        plan.shortfall = f"max_shipments {ctx.model.max_shipments} reached"
    return plan


@register("cheapest")
@dataclass(frozen=True)
class Cheapest(Weighted):
    """Least shipping + handling + split penalty; cheapest carrier service that meets the promise."""


@register("fastest")
@dataclass(frozen=True)
class Fastest(Weighted):
    """Earliest promised delivery (cost breaks ties); fastest carrier service."""

    cost: float = 0.01
    time: float = 100.0
    split_penalty: float = 0.5
    carrier_objective: ClassVar[Objective] = Objective.FASTEST


@register("greenest")
@dataclass(frozen=True)
class Greenest(Weighted):
    """Least kg CO2e (cost breaks ties); greenest carrier service."""

    cost: float = 0.01
    co2: float = 100.0
    split_penalty: float = 20.0  # every extra parcel adds its own last-mile emissions
    carrier_objective: ClassVar[Objective] = Objective.GREENEST


@register("balance_stock")
@dataclass(frozen=True)
class BalanceStock(Weighted):
    """Protect locations with low days of cover: take from where stock lasts longest (cost breaks ties)."""

    cost: float = 0.05
    balance: float = 50.0
