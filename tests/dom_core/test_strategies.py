"""Every registered strategy against expectations worked out by hand on the base network.

Base order: line 1 = A x2, line 2 = B x3, customer at lon 2.1. Base stock (A, B):
DC1 (1, 0), S1 (5, 2), S2 (0, 3), S3 (4, 4). Distances from the customer: DC1 233.5 km,
S1 122.3, S2 11.1, S3 100.1, so ``std`` costs DC1 5, S1 4, S2 3, S3 4. Handling is
1.5 per shipment + 0.3 per line everywhere unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from dom_core.strategies import available, build_strategy
from tests.dom_core.conftest import (
    BASE_ORDER_LINES,
    BASE_STOCK,
    KM_PER_DEG,
    base_locations,
    engine,
    make_network,
    missing,
    order,
    reserved_by_id,
    services,
    shipped,
    stocked,
)

BASE = order(*BASE_ORDER_LINES)


def decide(strategy: str | dict[str, object], order_=BASE, stock=BASE_STOCK, **network_kw):
    net = make_network(**network_kw)
    return net, engine(net, strategy).decide(order_, stocked(net, stock), explain=True)


def test_the_strategies_covered_here_are_registered() -> None:
    # a strategy added later is still run by the property tests (which iterate over available())
    assert set(available()) >= {
        "no_split", "split_shipments", "split_by_line_items", "ship_from_primary",
        "ship_from_first_available_or_primary", "priority", "distance", "ranked", "cheapest",
        "fastest", "greenest", "balance_stock", "weighted",
    }


# --------------------------------------------------------------- priority walks
@pytest.mark.parametrize("name", ["split_shipments", "priority"])
def test_priority_walk_splits_in_model_order(name: str) -> None:
    net, d = decide(name)
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}, "S2": {"B": 1}}
    assert [s.location for s in d.shipments] == ["DC1", "S1", "S2"]
    assert d.unfulfilled == () and d.transfers == ()
    assert reserved_by_id(net, d) == {("DC1", "A"): 1, ("S1", "A"): 1, ("S1", "B"): 2, ("S2", "B"): 1}
    assert services(d) == {"DC1": "std", "S1": "std", "S2": "std"}
    costs = {s.location: round(s.cost, 9) for s in d.shipments}
    assert costs == {"DC1": 5 + 1.8, "S1": 4 + 2.1, "S2": 3 + 1.8}
    assert d.is_split and d.units_allocated == 5


@pytest.mark.parametrize("name", ["split_shipments", "priority"])
def test_priority_walk_stops_at_the_cutoff(name: str) -> None:
    _, d = decide(name, cutoff=2)
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}}
    assert missing(d) == [("2", "B", 1, "not enough ATP at the locations considered")]


def test_priority_walk_honours_max_shipments() -> None:
    _, d = decide("split_shipments", max_shipments=2)
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}}
    assert missing(d) == [("2", "B", 1, "max_shipments 2 reached")]
    _, d = decide("split_shipments", max_shipments=1)
    assert shipped(d) == {"DC1": {"A": 1}}
    assert missing(d) == [("1", "A", 1, "max_shipments 1 reached"), ("2", "B", 3, "max_shipments 1 reached")]


def test_two_lines_of_one_sku_share_its_stock() -> None:
    # A x3 and A x3 again: DC1 1, then S1 holds 5 -> 2 + 3; nothing is counted twice
    net, d = decide("split_shipments", order(("A", 3), ("A", 3)))
    assert [(s.location, [(ln.line_id, ln.qty) for ln in s.lines]) for s in d.shipments] == [
        ("DC1", [("1", 1)]),
        ("S1", [("1", 2), ("2", 3)]),
    ]
    assert reserved_by_id(net, d) == {("DC1", "A"): 1, ("S1", "A"): 5}


def test_split_by_line_items_ships_each_line_whole() -> None:
    _, d = decide("split_by_line_items")
    assert shipped(d) == {"S1": {"A": 2}, "S2": {"B": 3}}
    assert d.unfulfilled == ()
    _, d = decide("split_by_line_items", cutoff=2)
    assert shipped(d) == {"S1": {"A": 2}}
    assert missing(d) == [("2", "B", 3, "no location within the cutoff holds the whole line")]


def test_no_split_checks_only_the_primary() -> None:
    _, d = decide("no_split")
    assert shipped(d) == {"DC1": {"A": 1}}
    reason = "no_split: the primary location lacks stock"
    assert missing(d) == [("1", "A", 1, reason), ("2", "B", 3, reason)]
    _, d = decide("no_split", stock={**BASE_STOCK, ("DC1", "A"): 2, ("DC1", "B"): 3})
    assert shipped(d) == {"DC1": {"A": 2, "B": 3}} and d.unfulfilled == ()


# ------------------------------------------------------------ ship from primary
def test_ship_from_primary_pulls_missing_units_by_transfer() -> None:
    net, d = decide("ship_from_primary")
    assert shipped(d) == {"DC1": {"A": 2, "B": 3}}
    assert [(t.from_location, t.to_location, t.sku, t.qty) for t in d.transfers] == [
        ("S1", "DC1", "A", 1), ("S1", "DC1", "B", 2), ("S2", "DC1", "B", 1),
    ]
    # every shipped unit is reserved once: at DC1 for its own unit, at the sources for the rest
    assert reserved_by_id(net, d) == {("DC1", "A"): 1, ("S1", "A"): 1, ("S1", "B"): 2, ("S2", "B"): 1}
    # transfers leave at Monday 17:00 and arrive a day later (hour 41, Tuesday 17:00, after
    # DC1's 16:00 cutoff), so DC1 ships on Wednesday 17:00 = hour 65 and std promises 2 days later
    assert {t.arrive_at for t in d.transfers} == {41.0}
    (s,) = d.shipments
    assert (s.ship_at, s.promised_at, s.service) == (65.0, 113.0, "std")
    assert d.cost == pytest.approx(5 + 1.5 + 0.3 * 2 + 3 * 1.0)
    assert d.unfulfilled == ()


def test_ship_from_primary_transfers_only_within_the_cutoff() -> None:
    _, d = decide("ship_from_primary", cutoff=2)
    assert shipped(d) == {"DC1": {"A": 2, "B": 2}}
    assert [(t.from_location, t.sku, t.qty) for t in d.transfers] == [("S1", "A", 1), ("S1", "B", 2)]
    assert missing(d) == [("2", "B", 1, "primary plus transfers from the first 2 locations lack stock")]


def test_first_available_ships_from_the_first_location_holding_everything() -> None:
    _, d = decide("ship_from_first_available_or_primary")
    assert shipped(d) == {"S3": {"A": 2, "B": 3}} and d.transfers == () and d.unfulfilled == ()
    # S1 holds A x2 + B x2 and comes before S3 in priority order
    _, d = decide("ship_from_first_available_or_primary", order(("A", 2), ("B", 2)))
    assert shipped(d) == {"S1": {"A": 2, "B": 2}}


def test_first_available_falls_back_to_primary_with_transfers() -> None:
    # within a cutoff of 3, nobody holds the whole order
    _, d = decide("ship_from_first_available_or_primary", cutoff=3)
    assert shipped(d) == {"DC1": {"A": 2, "B": 3}}
    assert [(t.from_location, t.sku, t.qty) for t in d.transfers] == [
        ("S1", "A", 1), ("S1", "B", 2), ("S2", "B", 1),
    ]


# ---------------------------------------------------------------------- distance
def test_distance_walks_nearest_first() -> None:
    _, d = decide("distance")
    # nearest first: S2 (11 km) has B x3, then S3 (100 km) has A x2
    assert shipped(d) == {"S2": {"B": 3}, "S3": {"A": 2}}
    assert [s.location for s in d.shipments] == ["S2", "S3"]
    assert {s.location: s.distance_km for s in d.shipments} == pytest.approx(
        {"S2": 0.1 * KM_PER_DEG, "S3": 0.9 * KM_PER_DEG}
    )
    _, d = decide("distance", cutoff=1)
    assert shipped(d) == {"S2": {"B": 3}}
    assert missing(d) == [("1", "A", 2, "not enough ATP at the locations considered")]


def test_distance_breaks_ties_by_priority() -> None:
    # customer at S2 (lon 2): S1 and S3 are both exactly one degree away; S1 comes first
    _, d = decide("distance", order(("A", 2), lon=2.0))
    assert shipped(d) == {"S1": {"A": 2}}


# ------------------------------------------------------------------------ ranked
def test_ranked_minimise_splits_prefers_one_shipment() -> None:
    _, d = decide("ranked")
    assert shipped(d) == {"S3": {"A": 2, "B": 3}}


def test_ranked_rules_change_the_walk() -> None:
    six_a = order(("A", 6))
    # units coverable: S1 5, S3 4, DC1 1, S2 0 -> S1, then the last unit from S3 (nearer than DC1)
    assert shipped(decide("ranked", six_a)[1]) == {"S1": {"A": 5}, "S3": {"A": 1}}
    assert shipped(decide({"kind": "ranked", "rules": ["priority"]}, six_a)[1]) == {
        "DC1": {"A": 1}, "S1": {"A": 5},
    }
    # nearest: S2 (no A), S3 4, S1 2
    assert shipped(decide({"kind": "ranked", "rules": ["closest"]}, six_a)[1]) == {
        "S3": {"A": 4}, "S1": {"A": 2},
    }
    # ATP of the order's SKUs only (A): S1 5, S3 4, DC1 1, S2 0
    assert shipped(decide({"kind": "ranked", "rules": ["highest_stock"]}, six_a)[1]) == {
        "S1": {"A": 5}, "S3": {"A": 1},
    }
    # ... which B stock does not change: the base order ranks S3 (A4 + B4 = 8) above S1 (5 + 2)
    assert shipped(decide({"kind": "ranked", "rules": ["highest_stock"]})[1]) == {"S3": {"A": 2, "B": 3}}


def test_ranked_in_market_puts_foreign_locations_last() -> None:
    locations = base_locations(S1={"market": "AT"}, S3={"market": "AT"})
    net = make_network(locations=locations)
    eng = engine(net, {"kind": "ranked", "rules": ["in_market", "priority"]})
    d = eng.decide(order(("A", 3)), stocked(net))
    # DE first (DC1 1, S2 0), then AT in priority order (S1)
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 2}}


def test_ranked_honours_the_cutoff() -> None:
    # a cutoff of 1 keeps only the top-ranked location (S1 covers 5 of 6)
    _, d = decide("ranked", order(("A", 6)), cutoff=1)
    assert shipped(d) == {"S1": {"A": 5}}
    assert missing(d) == [("1", "A", 1, "not enough ATP at the locations considered")]


def test_ranked_honours_max_shipments() -> None:
    _, d = decide("ranked", order(("A", 6)), max_shipments=1)
    assert shipped(d) == {"S1": {"A": 5}}
    assert missing(d) == [("1", "A", 1, "max_shipments 1 reached")]


# ---------------------------------------------------------------- objective based
A2 = order(("A", 2))
# S1 handles cheaply, so it is the cheapest; S3 is nearer to the customer than S1
CHEAP_S1 = base_locations(S1={"handling_cost_per_order": 0.5})


def test_cheapest_fastest_greenest_pick_location_and_service_by_objective() -> None:
    net = make_network(locations=CHEAP_S1)
    ledger = stocked(net)
    cheapest = engine(net, "cheapest").decide(A2, ledger)
    fastest = engine(net, "fastest").decide(A2, ledger)
    greenest = engine(net, "greenest").decide(A2, ledger)
    # cheapest: S1 std 4 + 0.5 + 0.3 = 4.8 beats S3 std 4 + 1.8 = 5.8 (and DC1 lacks A x2)
    assert shipped(cheapest) == {"S1": {"A": 2}} and services(cheapest) == {"S1": "std"}
    assert cheapest.shipments[0].cost == pytest.approx(4.8)
    # fastest: air everywhere, S3 is nearest among those holding A x2
    km_s3 = 0.9 * KM_PER_DEG
    assert shipped(fastest) == {"S3": {"A": 2}} and services(fastest) == {"S3": "air"}
    assert fastest.shipments[0].promised_at == pytest.approx(17 + (0.5 + km_s3 / 1000) * 24)
    # greenest: eco everywhere (0.05 kg last mile), S3 has the shortest line haul
    assert shipped(greenest) == {"S3": {"A": 2}} and services(greenest) == {"S3": "eco"}
    assert greenest.shipments[0].co2_kg == pytest.approx(0.01 * 0.002 * km_s3 * 1.25 + 0.05)


def test_cheapest_ships_from_the_single_cheapest_full_location() -> None:
    _, d = decide("cheapest")
    # only S3 holds everything; its score 4 + 2.1 is also the best score per unit covered
    assert shipped(d) == {"S3": {"A": 2, "B": 3}} and services(d) == {"S3": "std"}


def test_cheapest_splits_when_the_full_location_is_dear() -> None:
    locations = base_locations(S3={"handling_cost_per_order": 20.0})
    _, d = decide("cheapest", locations=locations)
    # scores: S2 5.1, S1 6.1, DC1 7.1, S3 24.6. Greedy per unit: S1 6.1/4, then S2 5.1/1;
    # 6.1 + 5.1 + split penalty 2 = 13.2 < 24.6
    assert shipped(d) == {"S1": {"A": 2, "B": 2}, "S2": {"B": 1}}
    assert d.explanation is not None
    assert {c.location: c.score for c in d.explanation.candidates} == pytest.approx(
        {"S2": 5.1, "S1": 6.1, "DC1": 7.1, "S3": 24.6}
    )
    # a split penalty of 100 makes the split cost 111.2 > 24.6
    _, d = decide({"kind": "weighted", "split_penalty": 100.0}, locations=locations)
    assert shipped(d) == {"S3": {"A": 2, "B": 3}}


def test_cheapest_honours_max_shipments_and_cutoff() -> None:
    no_s3 = {**BASE_STOCK, ("S3", "A"): 0, ("S3", "B"): 0}
    _, d = decide("cheapest", stock=no_s3, max_shipments=1)
    assert shipped(d) == {"S1": {"A": 2, "B": 2}}
    assert missing(d) == [("2", "B", 1, "max_shipments 1 reached")]
    # a cutoff of 1 keeps only the best-scored location, S2 (5.1)
    _, d = decide("cheapest", cutoff=1)
    assert shipped(d) == {"S2": {"B": 3}}
    assert missing(d) == [("1", "A", 2, "not enough ATP at the locations considered")]


def test_weighted_time_weight_prefers_faster_delivery() -> None:
    net = make_network(locations=CHEAP_S1)
    # cost 1, time 10 per day: both ship std (2 days) -> same promise, cost decides -> S1
    d = engine(net, {"kind": "weighted", "time": 10.0}).decide(A2, stocked(net))
    assert shipped(d) == {"S1": {"A": 2}}
    # S1's 08:00 cutoff has passed at 09:00: it ships a day later, 10 more score points
    late_s1 = base_locations(S1={"handling_cost_per_order": 0.5, "cutoff_hour": 8.0})
    net = make_network(locations=late_s1)
    d = engine(net, {"kind": "weighted", "time": 10.0}).decide(A2, stocked(net))
    assert shipped(d) == {"S3": {"A": 2}}
    assert d.shipments[0].ship_at == 17.0


def test_balance_stock_takes_from_the_deepest_cover() -> None:
    net = make_network()
    ledger = stocked(net)
    d = engine(net, "balance_stock").decide(A2, ledger)
    # 50 x 2 units / (1 + ATP): S1 100/6 beats S3 100/5 (cost weight 0.05 is small)
    assert shipped(d) == {"S1": {"A": 2}}
    # with demand rates, cover = ATP / rate: S1 5/10 = 0.5 days, S3 4/0.1 = 40 days
    rate = np.ones((len(net.skus), len(net.locations)))
    rate[net.sku_index["A"], net.loc_index["S1"]] = 10.0
    rate[net.sku_index["A"], net.loc_index["S3"]] = 0.1
    ledger.demand_rate = rate
    d = engine(net, "balance_stock").decide(A2, ledger)
    assert shipped(d) == {"S3": {"A": 2}}


def test_strategy_parameters_are_built_from_specs() -> None:
    strategy = build_strategy({"kind": "weighted", "cost": 2.0, "co2": 3.0, "split_penalty": 0.0})
    assert (strategy.cost, strategy.co2, strategy.split_penalty) == (2.0, 3.0, 0.0)  # type: ignore[attr-defined]
    ranked = build_strategy({"kind": "ranked", "rules": ["closest", "priority"]})
    assert [r.value for r in ranked.rules] == ["closest", "priority"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["no_split", "split_shipments", "ship_from_primary", "cheapest", "ranked"])
def test_model_strategy_applies_without_an_engine_override(name: str) -> None:
    net = make_network(strategy=build_strategy(name))
    model_engine = engine(net, None)
    override = engine(make_network(), name)
    assert model_engine.strategy_for(net.inventory_models[0]).name == name
    a = model_engine.decide(BASE, stocked(net))
    b = override.decide(BASE, stocked(override.network))
    assert (a.strategy, shipped(a), a.unfulfilled) == (name, shipped(b), b.unfulfilled)


def test_split_shipments_is_the_default_strategy() -> None:
    net = make_network()
    d = engine(net, None).decide(BASE, stocked(net))
    assert d.strategy == "split_shipments"
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}, "S2": {"B": 1}}
