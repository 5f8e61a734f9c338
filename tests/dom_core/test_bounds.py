"""Bounds: the hindsight LP is never above any strategy's realised cost, LP <= MIP, and the MIP equals the
enumerated offline optimum on instances small enough to enumerate; batch re-optimisation is feasible."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dom_core.carriers import Objective
from dom_core.engine import SourcingEngine
from dom_core.inventory import InventoryLedger
from dom_core.model import Order, OrderLine
from dom_core.optimise.batch import BatchReoptimiser, run_batched
from dom_core.optimise.bounds import lagrangian_bound
from dom_core.optimise.costs import CostModel, realised_cost
from dom_core.optimise.forecast import FixedForecast
from dom_core.optimise.jasin_sinha import Instance, jasin_sinha
from dom_core.optimise.lp import deterministic_lp, hindsight_lp, hindsight_mip
from dom_core.strategies import available, build_strategy

TRANSFERS = {"ship_from_primary", "ship_from_first_available_or_primary"}  # outside the LP's model


@pytest.fixture(scope="module")
def small() -> Instance:
    """A small Jasin-Sinha instance with tight stock (splits and lost sales happen)."""
    return jasin_sinha(250, 5, stock_factor=0.9, forecast_sample=400)


def run(inst: Instance, spec: str | dict[str, object]) -> list[object]:
    """Source every order in turn on a copy of the starting stock."""
    strategy = build_strategy(spec)  # type: ignore[arg-type]
    if spec in ("lookahead", "lp_rounding"):
        strategy.forecast = FixedForecast(inst.forecast, 0.0, inst.horizon_hours)  # type: ignore[attr-defined]
    eng = SourcingEngine(inst.network, inst.carriers, strategy=strategy)
    led = inst.ledger.copy()
    return [eng.source(o, led, o.created_at) for o in inst.orders]


def test_hindsight_lp_below_every_strategy(small: Instance) -> None:
    """Both LP formulations bound the realised cost (incl. lost-sale penalty) of every strategy."""
    methods = hindsight_lp(small.network, small.ledger, small.orders, small.carriers)
    compact = hindsight_lp(small.network, small.ledger, small.orders, small.carriers, formulation="compact")
    assert methods.status == compact.status == "OPTIMAL"
    assert compact.value <= methods.value + 1e-6
    assert methods.per_order.sum() == pytest.approx(methods.value, rel=1e-6)
    free = lagrangian_bound(small.network, small.ledger, small.orders, small.carriers, methods.lost_sale)
    priced = lagrangian_bound(small.network, small.ledger, small.orders, small.carriers, methods.lost_sale,
                              shadow=methods.shadow)
    assert free.value <= priced.value <= methods.value + 1e-6
    for name in sorted(set(available()) - TRANSFERS):
        decisions = run(small, name)
        assert not any(d.transfers for d in decisions)  # type: ignore[attr-defined]
        cost = realised_cost(decisions, methods.lost_sale)  # type: ignore[arg-type]
        assert methods.value <= cost + 1e-6, name
    eng = SourcingEngine(small.network, small.carriers, strategy=build_strategy("optimal"))
    led = small.ledger.copy()
    reopt = BatchReoptimiser(small.network, small.carriers)
    batched = run_batched(reopt, small.orders, led, window_hours=6.0, release_hours=12.0, myopic=eng)
    assert methods.value <= realised_cost(batched.decisions, methods.lost_sale) + 1e-6


def test_lp_below_mip_and_dlp_of_realised_orders_is_the_hindsight_lp(small: Instance) -> None:
    """LP <= MIP on a prefix; a DLP whose types are the realised orders is the hindsight LP."""
    orders = small.orders[:40]
    start = small.ledger.on_hand // 6
    lp = hindsight_lp(small.network, start, orders, small.carriers)
    mip = hindsight_mip(small.network, start, orders, small.carriers, time_limit=20)
    assert mip.status == "OPTIMAL"
    assert lp.value <= mip.value + 1e-6
    types = [(o, 1.0) for o in orders]
    dlp = deterministic_lp(small.network, start, types, small.carriers, lost_sale=lp.lost_sale)
    assert dlp.value == pytest.approx(lp.value, rel=1e-7)
    assert (lp.shadow >= 0).all()
    ample = hindsight_lp(small.network, start * 0 + 1000, orders, small.carriers)
    assert np.allclose(ample.shadow, 0.0)


def brute_offline(inst: Instance, start: np.ndarray, orders: list[Order], penalty: float) -> float:
    """Least total cost over every joint assignment (each unit line to a location or lost)."""
    net, cat = inst.network, inst.carriers
    n_loc = len(net.locations)
    per_order = []
    for o in orders:
        km = net.distances_km(o.lat, o.lon)
        opts = []
        for combo in itertools.product(range(-1, n_loc), repeat=len(o.lines)):
            use = np.zeros_like(start)
            cost = penalty * sum(1 for j in combo if j < 0)
            for j in set(combo) - {-1}:
                items = sum(1 for x in combo if x == j)
                q = cat.choose(Objective.CHEAPEST, o.created_at, 18.0, float(km[j]), 0.5 * items, items)
                assert q is not None
                cost += q.cost
            for line, j in zip(o.lines, combo, strict=True):
                if j >= 0:
                    use[net.sku_index[line.sku], j] += 1
            opts.append((cost, use))
        per_order.append(opts)
    best = math.inf
    for pick in itertools.product(*per_order):
        if (sum(u for _, u in pick) <= start).all():
            best = min(best, sum(c for c, _ in pick))
    return best


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000))
def test_mip_equals_enumerated_optimum(seed: int) -> None:
    """On 3 orders x 3 FCs (linear rates: affine costs are exact) the MIP is the offline optimum."""
    rng = random.Random(seed)
    inst = jasin_sinha(3, seed, n_items=3, n_fcs=3, max_items=2, forecast_sample=10)
    orders = []
    for k, o in enumerate(inst.orders):
        items = rng.sample(range(3), rng.randint(1, 2))
        lines = tuple(OrderLine(str(i), f"I{s:02d}", 1) for i, s in enumerate(items))
        orders.append(Order(f"o{k}", "US", "web", 1.0, o.lat, o.lon, lines))
    start = np.array([[rng.randint(0, 1) for _ in range(3)] for _ in range(3)], dtype=np.int64)
    model = CostModel(lost_sale=12.0)
    mip = hindsight_mip(inst.network, start, orders, inst.carriers, model)
    assert mip.value == pytest.approx(brute_offline(inst, start, orders, 12.0), abs=1e-6)
    lp = hindsight_lp(inst.network, start, orders, inst.carriers, model)
    assert lp.value <= mip.value + 1e-6


def test_batch_reoptimiser_decisions_fit_the_stock(small: Instance) -> None:
    """Joint decisions of held orders re-use their own reservations and reserve within ATP."""
    led: InventoryLedger = small.ledger.copy()
    eng = SourcingEngine(small.network, small.carriers, strategy=build_strategy("split_shipments"))
    orders = small.orders[:30]
    myopic = [eng.source(o, led, o.created_at) for o in orders]
    reopt = BatchReoptimiser(small.network, small.carriers, split_penalty=1.0)
    decisions = reopt.assign(orders, led, orders[-1].created_at)
    reopt.apply(decisions, led, orders[-1].created_at)
    assert (led.on_hand - led.reserved >= 0).all()
    assert [d.order_id for d in decisions] == [o.id for o in orders]
    assert all(d.strategy == "batch" for d in decisions)
    assert sum(d.is_split for d in decisions) <= sum(d.is_split for d in myopic)
    assert realised_cost(decisions, 50.0) <= realised_cost(myopic, 50.0) + 1e-6
