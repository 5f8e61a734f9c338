"""The objective strategies' promise-free scoring equals quote_many's figures, float for float."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_core.carriers import (
    CarrierCatalog,
    CarrierService,
    LinearRateCard,
    Mode,
    Objective,
    TransitTime,
    ZoneRateCard,
    default_services,
)
from dom_core.engine import SourcingEngine
from dom_core.quoting import quote_many
from dom_core.strategies.base import Plan, SourcingContext
from dom_core.strategies.objective import Cheapest, Greenest, Weighted, _ParcelTable, candidate_scores
from tests.dom_core.test_properties import World, worlds

ZONES = ((50.0, 150.0, 400.0), (25.0, 60.0))
WEIGHTS = ((1.0, 5.0, 20.0), (0.5, 2.0, 31.5))


@st.composite
def catalogs(draw: st.DrawFn) -> CarrierCatalog:
    """Two to four parcel services with zone or linear cards; prices from a few values, so ties happen.

    Zone cards have one of two zone tables and one of two weight tables, so the services' zones,
    weight brackets and distance limits interleave."""
    price = st.sampled_from([4.0, 5.5, 7.25, 9.0])
    services = []
    for i in range(draw(st.integers(2, 4))):
        if draw(st.booleans()):
            zones, weights = draw(st.sampled_from(ZONES)), draw(st.sampled_from(WEIGHTS))
            table = tuple(tuple(draw(price) for _ in weights) for _ in zones)
            card: ZoneRateCard | LinearRateCard = ZoneRateCard(
                zones, weights, table, draw(st.sampled_from([0.0, 0.1]))
            )
        else:
            card = LinearRateCard(draw(price), 0.4, draw(st.sampled_from([0.0, 0.0005])))
        services.append(
            CarrierService(
                f"s{i}",
                Mode.ROAD,
                card,
                TransitTime(1.0, 2.0, 3.0, 0.5),
                pickup_cutoff_hour=draw(st.sampled_from([14.0, 17.0])),
                max_km=draw(st.sampled_from([60.0, 100.0, math.inf])),
                max_kg=draw(st.sampled_from([20.0, 31.5])),
                linehaul_kg_co2_per_tkm=draw(st.sampled_from([0.1, 0.2])),
                last_mile_kg_co2_per_parcel=draw(st.sampled_from([0.1, 0.2])),
            )
        )
    return CarrierCatalog(tuple(services))


@settings(max_examples=300, deadline=None)
@given(
    catalog=st.one_of(st.just(default_services()), catalogs()),
    km=st.lists(
        st.sampled_from([0.0, 10.0, 25.0, 50.0, 60.0, 61.5, 100.0, 100.5, 149.9, 150.0, 420.0, 3000.0]),
        min_size=1,
    ),
    kg=st.sampled_from([0.0, 0.2, 0.5, 1.0, 1.7, 3.3, 19.9, 20.0, 25.0, 31.5, 40.0]),
    items=st.integers(1, 6),
    greenest=st.booleans(),
)
def test_best_service_figures_equal_quote_many(
    catalog: CarrierCatalog, km: list[float], kg: float, items: int, greenest: bool
) -> None:
    dist = np.array(km)
    objective = Objective.GREENEST if greenest else Objective.CHEAPEST
    q = quote_many(catalog, objective, 30.5, np.full(dist.size, 16.0), dist, kg, items)
    best = _ParcelTable.of(catalog).best(dist, kg, items, with_co2=greenest)
    if (q.service < 0).any():
        assert best is None
        return
    assert best is not None
    cost, co2 = best
    assert np.array_equal(cost, q.cost)
    if greenest:
        assert np.array_equal(co2, q.co2_kg)


def _reference_plan(self: Weighted, ctx: SourcingContext) -> Plan:
    """The plan as first written with numpy: the greedy cover always tried unless the best-scored
    candidate ships the whole order at a score >= 0."""
    scores = candidate_scores(ctx, self.carrier_objective, self.cost, self.time, self.co2, self.balance)
    top = np.argsort(scores, kind="stable")[: min(ctx.model.cutoff, len(ctx.cand))]
    top = top[np.isfinite(scores.take(top))]
    ranked: list[int] = top.tolist()
    top_scores = scores.take(top)
    atp, need = ctx.atp.take(top, axis=1), ctx.row_need()
    full = np.flatnonzero((atp >= need[:, None]).all(axis=0))
    greedy, units, score = None, 0, 0.0
    if not (full.size and full[0] == 0 and top_scores[0] >= 0):
        greedy = Plan()
        remaining, left, usable = list(ctx.line_qty), need.copy(), np.ones(len(ranked), dtype=bool)
        while left.any() and len(greedy.picks) < ctx.model.max_shipments:
            per = np.minimum(atp, left[:, None]).sum(axis=0)
            ok = usable & (per > 0)
            if not ok.any():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(ok, top_scores / per, np.inf)
            pos = int(np.argmin(ratio))
            usable[pos] = False
            avail = atp[:, pos].tolist()
            for i, want in enumerate(remaining):
                take = min(want, avail[ctx.line_row[i]])
                if take > 0:
                    greedy.take(ranked[pos], i, take)
                    avail[ctx.line_row[i]] -= take
                    remaining[i] -= take
                    left[ctx.line_row[i]] -= take
        if left.any() and len(greedy.picks) >= ctx.model.max_shipments:
            greedy.shortfall = f"max_shipments {ctx.model.max_shipments} reached"
        units = sum(sum(v.values()) for v in greedy.picks.values())
        score = sum(scores[j] for j in greedy.picks) + self.split_penalty * max(0, len(greedy.picks) - 1)
    if full.size and (greedy is None or units < sum(ctx.line_qty) or top_scores[full[0]] <= score):
        plan = Plan(considered=ranked)
        for i, qty in enumerate(ctx.line_qty):
            plan.take(ranked[int(full[0])], i, qty)
        return plan
    assert greedy is not None
    greedy.considered = ranked
    return greedy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    world=worlds(n_orders=3),
    kind=st.sampled_from([Cheapest, Greenest, Weighted]),
    penalty=st.sampled_from([0.0, 0.5, 2.0, 20.0, -1.0]),
)
def test_plan_equals_the_reference_plan(world: World, kind: type[Weighted], penalty: float) -> None:
    """Skipping the greedy cover where it cannot win, and the list-based greedy, change no plan."""
    strategy = kind(split_penalty=penalty)
    reference = type("Reference", (kind,), {"plan": _reference_plan})(split_penalty=penalty)
    for order in world.orders:
        got = SourcingEngine(world.network, world.carriers, strategy).source(order, world.ledger.copy())
        want = SourcingEngine(world.network, world.carriers, reference).source(order, world.ledger)
        assert (got.shipments, got.unfulfilled) == (want.shipments, want.unfulfilled)
