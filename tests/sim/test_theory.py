"""The simulated replenishment against inventory theory: a base-stock location with Poisson demand.

Set-up (``data/base_stock.yaml``): one DC, one SKU, unit orders as a homogeneous Poisson process of
``lam`` a day (flat hour and weekday profiles), no stores, walk-ins or returns; RS replenishment with
review every day and a fixed supplier lead time of ``L`` whole days (triangular min = mode = max);
``S = ceil(lam * order_up_to_days_of_cover)``.

The model's timing (sim/model.py ``_daily``/``_replenish``): the review runs at 00:00 of day d >= 1
and raises the position ``on hand - reserved + on order`` to S; the order arrives at 00:00 of day
d + L, before that day's review (its timeout was scheduled earlier, so SimPy processes it first).
Backorders are retried right after the review. Orders reserve stock when placed, so ``on hand -
reserved`` is the stock still available to customers. With R = 1 day, stock available at the start of
day d is S minus what the previous L days consumed, and day d's demand is Poisson(lam).

* Backorders (textbook): consumption is demand, the net stock at the start of day d is S - D_L, and
  the expected shortage per review cycle is ESC = E[(D_{L+R} - S)^+] - E[(D_L - S)^+], so the fill
  rate (share of units served from stock at once) is 1 - ESC / (lam R), D_t ~ Poisson(lam t).
* Lost sales: consumption is what was served, sat_d = min(D_d, S - sat_{d-L} - ... - sat_{d-1}), a
  Markov chain on the last L days' sales; fill rate = E[sat] / lam from its stationary law (exact; the
  backorder formula would only approximate it).

Each replication's fill rate (units served at once / units ordered, orders created after the warm-up)
is one observation; the formula must lie in the 99% Student-t interval of their mean.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from scipy import sparse, stats

from sim.runner import run_one
from sim.scenario import Scenario, load_scenario
from sim.world import build_world
from tests.sim.conftest import BASE_STOCK, variant

REPLICATIONS = 10


def poisson_loss(mean: float, s: int) -> float:
    """E[(D - s)^+] for D ~ Poisson(mean)."""
    k = np.arange(s + 1)
    return float(mean - s + np.sum((s - k) * stats.poisson.pmf(k, mean)))


def textbook_fill_rate(lam: float, lead: int, review: int, s: int) -> float:
    """Fill rate of periodic review base stock with backorders: 1 - ESC / (lam R)."""
    esc = poisson_loss(lam * (lead + review), s) - poisson_loss(lam * lead, s)
    return 1.0 - esc / (lam * review)


def lost_sales_fill_rate(lam: float, lead: int, s: int) -> float:
    """Exact fill rate of the model's daily-review base stock with lost sales (stationary Markov chain).

    State: units sold on each of the last ``lead`` days (sum <= s); available today a = s - sum.
    """
    states = [x for x in itertools.product(range(s + 1), repeat=lead) if sum(x) <= s]
    index = {x: i for i, x in enumerate(states)}
    pmf = stats.poisson.pmf(np.arange(s + 1), lam)
    rows, cols, probs = [], [], []
    short = np.empty(len(states))
    for x in states:
        a = s - sum(x)
        for d in range(a + 1):  # sales = min(D, a): D = d < a, or D >= a
            p = pmf[d] if d < a else 1.0 - pmf[:a].sum()
            rows.append(index[x])
            cols.append(index[(*x[1:], d)])
            probs.append(p)
        short[index[x]] = poisson_loss(lam, a)
    matrix = sparse.csr_matrix((probs, (rows, cols)), shape=(len(states), len(states)))
    pi = np.full(len(states), 1.0 / len(states))
    for _ in range(10_000):
        nxt = matrix.T @ pi
        if np.abs(nxt - pi).sum() < 1e-13:
            break
        pi = nxt
    return float(1.0 - pi @ short / lam)


def base_stock(stockout: str, lam: float, lead: int, s: int, days: int) -> Scenario:
    sc = load_scenario(BASE_STOCK)
    return variant(
        sc,
        horizon_days=days,
        demand__orders_per_day=lam,
        operations__stockout=stockout,
        replenishment__order_up_to_days_of_cover=(s - 0.5) / lam,  # S = ceil(lam * days) = s
        replenishment__supplier_lead_time={"min": lead, "mode": lead, "max": lead},
        network__stock=[{"location": "DC", "sku": "X", "on_hand": s}],
    )


def measured_fill_rates(scenario: Scenario, s: int) -> np.ndarray:
    world = build_world(scenario)
    assert world.demand_rate.shape == (1, 1) and world.demand_rate[0, 0] == scenario.demand.orders_per_day
    run = scenario.experiment.runs()[0]
    start, end = scenario.warmup_days * 24, scenario.horizon_days * 24
    rates = []
    for rep in range(REPLICATIONS):
        sim_result = run_one(world, run, rep, record_events=False)
        orders = sim_result.tables["orders"]
        first = orders.filter(
            (pl.col("attempt") == 0) & (pl.col("created_at") >= start) & (pl.col("created_at") < end)
        )
        assert (first["units"] == 1).all()
        rates.append(float(first["units_allocated"].sum()) / float(first["units"].sum()))
    return np.array(rates)


def within_ci(rates: np.ndarray, expected: float, label: str) -> None:
    mean = float(rates.mean())
    half = float(stats.t.ppf(0.995, len(rates) - 1) * rates.std(ddof=1) / math.sqrt(len(rates)))
    assert abs(mean - expected) <= half, (
        f"{label}: fill rate {mean:.4f} ± {half:.4f} (99% CI), formula {expected:.4f}"
    )


def test_formulas_on_known_values() -> None:
    # lead 0: S >= demand of the day means no shortage beyond E[(D - S)^+]
    assert textbook_fill_rate(10, 0, 1, 10) == pytest.approx(1 - poisson_loss(10, 10) / 10)
    assert poisson_loss(3.0, 0) == pytest.approx(3.0)
    # lost sales serve at least as much as backorders (no backlog eats the next days' stock)
    assert lost_sales_fill_rate(12, 2, 40) > textbook_fill_rate(12, 2, 1, 40)
    assert lost_sales_fill_rate(12, 1, 60) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("lam", "lead", "s"), [(12, 1, 28), (12, 2, 40)], ids=["L=1 S=28", "L=2 S=40"])
def test_lost_sales_fill_rate_matches_markov_chain(lam: float, lead: int, s: int) -> None:
    rates = measured_fill_rates(base_stock("lost_sale", lam, lead, s, days=250), s)
    within_ci(rates, lost_sales_fill_rate(lam, lead, s), "lost sales")


def test_backorder_fill_rate_matches_textbook() -> None:
    lam, lead, s = 12, 1, 26
    rates = measured_fill_rates(base_stock("backorder", lam, lead, s, days=250), s)
    within_ci(rates, textbook_fill_rate(lam, lead, 1, s), "backorders")


@pytest.mark.parametrize(
    "stockout",
    [
        "lost_sale",
        "backorder",
    ],
)
def test_review_raises_the_inventory_position_to_base_stock(stockout: str) -> None:
    """After every daily review (and the backorder retries behind it) the textbook inventory position,
    on hand - reserved + on order - backordered, equals S (no returns, so it never starts above S)."""
    from sim.model import Simulation

    lam, lead, s = 12, 1, 26
    scenario = base_stock(stockout, lam, lead, s, days=40)
    sim = Simulation(build_world(scenario), scenario.experiment.runs()[0], 0)
    positions: list[int] = []
    snapshot = sim._snapshot

    def checked(day: int) -> None:
        backlog = sum(q for _, _, lines, _ in sim.backorders for _, _, q in lines)
        led = sim.ledger
        positions.append(int(led.on_hand.sum() - led.reserved.sum() + sim.pipeline.sum()) - backlog)
        snapshot(day)

    sim._snapshot = checked  # type: ignore[method-assign]
    sim.run()
    events = {e[1] for e in sim.records.events}
    assert ("backordered" if stockout == "backorder" else "lost") in events
    assert positions[1:] == [s] * (len(positions) - 1)
