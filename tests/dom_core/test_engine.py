"""The engine around the strategies: fulfilment types, filters, carrier choice, explanation, source().

Numbers refer to the base network of ``conftest`` (see the module docstring of test_strategies).
"""

from __future__ import annotations

import numpy as np
import pytest

from dom_core.capacity import CapacityBook
from dom_core.carriers import default_services
from dom_core.engine import PreparedOrders, SourcingEngine
from dom_core.errors import UnknownSkuError
from dom_core.model import FulfilmentType, LocationKind
from dom_core.rules import build_filter
from dom_core.strategies import available
from tests.dom_core.conftest import (
    BASE_ORDER_LINES,
    BASE_STOCK,
    base_locations,
    engine,
    make_network,
    missing,
    notes,
    order,
    reserved_by_id,
    services,
    shipped,
    simple_carriers,
    stocked,
)

BASE = order(*BASE_ORDER_LINES)
LIGHT = simple_carriers(max_kg=30.0)  # no parcel service takes 2 x H (40 kg)
HOME = FulfilmentType.HOME_DELIVERY


# -------------------------------------------------------------- fulfilment types
def test_pickup_in_store_uses_only_the_pickup_stores_own_stock() -> None:
    net = make_network()
    bopis = order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.PICKUP_IN_STORE, pickup="S1")
    d = engine(net).decide(bopis, stocked(net))
    assert shipped(d) == {"S1": {"A": 2, "B": 2}}
    (s,) = d.shipments
    # ready two hours after the 09:00 order, nothing to pay a carrier for
    assert (s.service, s.destination, s.shipping_cost) == ("pickup", "S1", 0.0)
    assert (s.ship_at, s.promised_at) == (11.0, 11.0)
    assert s.handling_cost == pytest.approx(1.5 + 0.3 * 2)
    assert missing(d) == [("2", "B", 1, "not enough ATP at the locations considered")]


def test_pickup_after_the_store_cutoff_is_ready_next_morning() -> None:
    net = make_network()
    late = order(("A", 1), fulfilment=FulfilmentType.PICKUP_IN_STORE, pickup="S1", created_at=15.0)
    (s,) = engine(net).decide(late, stocked(net)).shipments
    assert s.ship_at == 24.0 + 10.0  # 15:00 + 2 h is past the 16:00 cutoff: Tuesday 10:00


@pytest.mark.parametrize(
    ("fulfilment", "capability"),
    [(FulfilmentType.PICKUP_IN_STORE, "pickup"), (FulfilmentType.SHIP_TO_STORE, "ship_to_store")],
)
def test_pickup_location_without_the_capability_serves_nothing(
    fulfilment: FulfilmentType, capability: str
) -> None:
    net = make_network()
    ledger = stocked(net)
    at_dc = order(*BASE_ORDER_LINES, fulfilment=fulfilment, pickup="DC1")
    d = engine(net).decide(at_dc, ledger, explain=True)
    reason = f"pickup location DC1 does not offer {capability}"
    assert d.shipments == () and d.reservations == ()
    assert missing(d) == [("1", "A", 2, reason), ("2", "B", 3, reason)]
    assert d.explanation is not None and d.explanation.why == reason


def test_ship_to_store_transfers_to_the_pickup_store_with_the_transfer_service() -> None:
    net = make_network()
    to_store = order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="S2")
    d = engine(net).decide(to_store, stocked(net))
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}, "S2": {"B": 1}}
    assert services(d) == {"DC1": "store_transfer", "S1": "store_transfer", "S2": "pickup"}
    assert {s.destination for s in d.shipments} == {"S2"}
    by_loc = {s.location: s for s in d.shipments}
    # store_transfer: 1 flat, collected 17:00, one day on the road
    dc1 = by_loc["DC1"]
    assert (dc1.shipping_cost, dc1.ship_at, dc1.promised_at) == (1.0, 17.0, 41.0)
    assert by_loc["S2"].ship_at == 11.0  # the pickup store's own unit is ready two hours after the order


def test_ship_to_a_stockless_pickup_point() -> None:
    net = make_network()
    to_point = order(("A", 2), fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="P1")
    d = engine(net).decide(to_point, stocked(net))
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1}}
    assert set(services(d).values()) == {"store_transfer"}
    assert {s.destination for s in d.shipments} == {"P1"}


def test_pickup_points_never_source_ship_to_store_orders() -> None:
    net = make_network(model_locations=("P1", "DC1", "S1", "S2", "S3"))
    d = engine(net, "no_split").decide(
        order(("A", 1), fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="S2"), stocked(net)
    )
    assert shipped(d) == {"DC1": {"A": 1}}  # the primary is DC1, P1 is no stock location


def test_ship_from_store_sources_only_stores_and_dark_stores() -> None:
    net = make_network()
    ledger = stocked(net)
    ship_from_store = order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.SHIP_FROM_STORE)
    d = engine(net).decide(ship_from_store, ledger)
    assert shipped(d) == {"S1": {"A": 2, "B": 2}, "S2": {"B": 1}}
    assert services(d) == {"S1": "std", "S2": "std"}
    # the primary of ship-from-store is the first store
    d = engine(net, "no_split").decide(ship_from_store, ledger)
    assert shipped(d) == {"S1": {"A": 2, "B": 2}}
    d = engine(net, "ship_from_first_available_or_primary").decide(ship_from_store, ledger)
    assert shipped(d) == {"S3": {"A": 2, "B": 3}}
    assert net.locations[net.loc_index["S3"]].kind is LocationKind.DARK_STORE


def test_digital_lines_need_no_shipment() -> None:
    net = make_network()
    d = engine(net).decide(order(("A", 1), ("D", 2)), stocked(net))
    assert shipped(d) == {"DC1": {"A": 1}}
    assert [(ln.line_id, ln.sku, ln.qty) for ln in d.digital_lines] == [("2", "D", 2)]
    assert d.unfulfilled == () and d.units_allocated == 1


def test_digital_only_order_is_served_without_stock_and_explained() -> None:
    net = make_network()
    eng = engine(net)
    d = eng.decide(order(("D", 3)), stocked(net), explain=True)
    assert d.shipments == () and d.reservations == () and d.unfulfilled == ()
    assert [(ln.sku, ln.qty) for ln in d.digital_lines] == [("D", 3)]
    assert d.explanation is not None
    assert eng.explain(order(("D", 3)), stocked(net)).strategy == "split_shipments"


def test_physical_lines_on_a_digital_order_are_unfulfilled() -> None:
    net = make_network()
    d = engine(net).decide(order(("A", 1), ("D", 2), fulfilment=FulfilmentType.DIGITAL), stocked(net))
    assert d.shipments == () and d.reservations == ()
    assert missing(d) == [("1", "A", 1, "physical SKU on a digital order")]
    assert [(ln.sku, ln.qty) for ln in d.digital_lines] == [("D", 2)]


def test_disabled_locations_are_never_candidates() -> None:
    net = make_network(locations=base_locations(DC1={"enabled": False}))
    d = engine(net).decide(BASE, stocked(net))
    assert shipped(d) == {"S1": {"A": 2, "B": 2}, "S2": {"B": 1}}


# ----------------------------------------------------------------------- filters
def test_in_stock_filter_removes_locations_before_the_cutoff() -> None:
    b3 = order(("B", 3))
    net = make_network(cutoff=2)
    d = engine(net).decide(b3, stocked(net))
    assert shipped(d) == {"S1": {"B": 2}} and missing(d)[0][2] == 1  # DC1 (no B) used up a cutoff slot
    net = make_network(cutoff=2, filters=(build_filter("in_stock"),))
    d = engine(net).decide(b3, stocked(net), explain=True)
    assert shipped(d) == {"S1": {"B": 2}, "S2": {"B": 1}} and d.unfulfilled == ()
    assert notes(d)["DC1"] == ("removed by filter in_stock", None)


def test_max_distance_filter() -> None:
    net = make_network(filters=(build_filter({"kind": "max_distance", "km": 150}),))
    d = engine(net).decide(BASE, stocked(net), explain=True)
    # DC1 (233 km) is out; the walk then goes S1, S2
    assert shipped(d) == {"S1": {"A": 2, "B": 2}, "S2": {"B": 1}}
    assert notes(d)["DC1"][0] == "removed by filter max_distance"


def test_max_distance_filter_limited_to_kinds() -> None:
    flt = build_filter({"kind": "max_distance", "km": 50, "kinds": ["store"]})
    net = make_network(filters=(flt,))
    d = engine(net).decide(order(("A", 6)), stocked(net), explain=True)
    # only stores are held to 50 km: S1 (122 km) goes, S2 (11 km) stays, DC1 and the dark store S3 stay
    assert notes(d)["S1"][0] == "removed by filter max_distance"
    assert shipped(d) == {"DC1": {"A": 1}, "S3": {"A": 4}}
    assert missing(d) == [("1", "A", 1, "not enough ATP at the locations considered")]


def test_same_market_and_exclude_kinds_filters() -> None:
    locations = base_locations(S1={"market": "AT"})
    net = make_network(locations=locations, filters=(build_filter("same_market"),))
    d = engine(net).decide(BASE, stocked(net))
    assert shipped(d) == {"DC1": {"A": 1}, "S2": {"B": 3}, "S3": {"A": 1}}
    net = make_network(filters=(build_filter({"kind": "exclude_kinds", "kinds": ["store"]}),))
    d = engine(net).decide(BASE, stocked(net))
    assert shipped(d) == {"DC1": {"A": 1}, "S3": {"A": 1, "B": 3}}


def test_all_candidates_filtered_out() -> None:
    net = make_network(filters=(build_filter({"kind": "max_distance", "km": 1}),))
    d = engine(net).decide(BASE, stocked(net), explain=True)
    reason = "no eligible location: every candidate was removed by the filters"
    assert d.shipments == () and missing(d) == [("1", "A", 2, reason), ("2", "B", 3, reason)]
    assert {status for status, _ in notes(d).values()} == {"removed by filter max_distance"}


def test_capacity_left_filter_and_the_capacity_book() -> None:
    locations = base_locations(S1={"pick_capacity_per_day": 1})
    net = make_network(locations=locations, filters=(build_filter("capacity_left"),))
    ledger = stocked(net)
    book = CapacityBook()
    eng = engine(net, capacity=book)
    d1 = eng.source(BASE, ledger)
    assert shipped(d1) == {"DC1": {"A": 1}, "S1": {"A": 1, "B": 2}, "S2": {"B": 1}}
    # source() counts one shipment per location on its ship day (Monday, day 0)
    assert book.used == {(net.loc_index[x], 0): 1 for x in ("DC1", "S1", "S2")}
    # S1 reached its capacity of 1 today; A now left: S1 4, S3 4 -> S3
    d2 = eng.decide(order(("A", 1), oid="o2"), ledger, explain=True)
    assert shipped(d2) == {"S3": {"A": 1}}
    assert notes(d2)["S1"][0] == "removed by filter capacity_left"
    # without a capacity book the filter keeps everyone
    assert shipped(engine(net).decide(order(("A", 1), oid="o2"), ledger)) == {"S1": {"A": 1}}


def test_capacity_left_share() -> None:
    flt = build_filter({"kind": "capacity_left", "share": 0.5})
    locations = base_locations(DC1={"pick_capacity_per_day": 4})
    net = make_network(locations=locations, filters=(flt,))
    book = CapacityBook()
    book.add(net.loc_index["DC1"], 10.0, 1)
    assert shipped(engine(net, capacity=book).decide(order(("A", 1)), stocked(net))) == {"DC1": {"A": 1}}
    book.add(net.loc_index["DC1"], 11.0, 1)  # 2 assigned = half of 4
    assert shipped(engine(net, capacity=book).decide(order(("A", 1)), stocked(net))) == {"S1": {"A": 1}}
    # the next day starts afresh
    later = order(("A", 1), created_at=24.0 + 9.0)
    assert shipped(engine(net, capacity=book).decide(later, stocked(net))) == {"DC1": {"A": 1}}


# ---------------------------------------------------------------- carrier choice
def test_delivery_promise_overrides_the_cheapest_service() -> None:
    net = make_network()
    ledger = stocked(net)
    # deadline 09:00 + 1.5 days = hour 45: std promises 65, air 17 + 12.x h
    d = engine(net).decide(order(("B", 3), max_days=1.5), ledger)
    assert services(d) == {"S1": "air", "S2": "air"}  # B: S1 2, S2 1 in priority order
    assert d.promised_at is not None and d.promised_at <= 45.0
    # nobody can promise 0.1 day: the fastest comes closest
    d = engine(net).decide(order(("B", 3), max_days=0.1), ledger)
    assert services(d) == {"S1": "air", "S2": "air"}
    # no deadline: cheapest is std
    assert services(engine(net).decide(order(("B", 3)), ledger)) == {"S1": "std", "S2": "std"}


def test_same_day_courier_is_fastest_near_the_customer_with_default_services() -> None:
    net = make_network()
    eng = engine(net, "fastest", carriers=default_services())
    d = eng.decide(order(("B", 3)), stocked(net))
    # S2 is 11 km away, before the courier's 14:00 pickup
    assert services(d) == {"S2": "same_day"}
    d = engine(net, "cheapest", carriers=default_services()).decide(order(("B", 3)), stocked(net))
    assert services(d) == {"S2": "ground"}


def test_parcel_no_carrier_accepts_stays_unfulfilled_without_reservation() -> None:
    net = make_network()
    ledger = stocked(net, {**BASE_STOCK, ("S1", "H"): 2, ("S2", "H"): 1})
    eng = engine(net, carriers=LIGHT)
    # 2 x 20 kg from S1 is over every service's 30 kg limit; S2's single unit is fine
    d = eng.decide(order(("H", 3)), ledger)
    assert shipped(d) == {"S2": {"H": 1}}
    assert reserved_by_id(net, d) == {("S2", "H"): 1}
    ((line, sku, qty, reason),) = missing(d)
    assert (line, sku, qty) == ("1", "H", 2)
    assert "carrier" in reason and "S1" in reason


@pytest.mark.parametrize("name", available())
def test_heavy_pickup_needs_no_parcel_service(name: str) -> None:
    net = make_network()
    ledger = stocked(net, {("S1", "H"): 2})
    bopis = order(("H", 2), fulfilment=FulfilmentType.PICKUP_IN_STORE, pickup="S1")
    d = engine(net, name, carriers=LIGHT).decide(bopis, ledger)
    assert shipped(d) == {"S1": {"H": 2}} and services(d) == {"S1": "pickup"} and d.unfulfilled == ()


def test_ship_from_primary_parcel_no_carrier_accepts_drops_its_transfers() -> None:
    net = make_network()
    ledger = stocked(net, {("DC1", "H"): 1, ("S1", "H"): 1})
    eng = engine(net, "ship_from_primary", carriers=LIGHT)
    d = eng.decide(order(("H", 2)), ledger)
    assert d.shipments == () and d.transfers == () and d.reservations == ()
    ((_, _, qty, reason),) = missing(d)
    assert qty == 2 and "carrier" in reason
    eng.source(order(("H", 2)), ledger)
    assert ledger.totals()["reserved"] == 0


# ------------------------------------------------------------------- explanation
def test_explanation_lists_every_candidate_with_its_fate() -> None:
    net = make_network()
    d = engine(net).decide(BASE, stocked(net), explain=True)
    assert notes(d) == {
        "DC1": ("chosen: ships Ax1", 1),
        "S1": ("chosen: ships Ax1, Bx2", 2),
        "S2": ("chosen: ships Bx1", 3),
        "S3": ("not considered (beyond the cutoff or lower ranked)", None),
    }
    assert d.explanation is not None
    assert {c.location: c.atp for c in d.explanation.candidates} == {
        "DC1": (1, 0),
        "S1": (5, 2),
        "S2": (0, 3),
        "S3": (4, 4),
    }
    assert d.explanation.strategy == "split_shipments" and d.explanation.inventory_model == "web_de"
    assert d.explanation.why.startswith("split_shipments: locations in priority order")
    text = d.explanation.as_text()
    assert all(loc in text for loc in ("DC1", "S1", "S2", "S3")) and "DC1 via std" in text


def test_explanation_of_transfers_and_ranked_but_unneeded_locations() -> None:
    net = make_network()
    d = engine(net, "ship_from_primary").decide(BASE, stocked(net), explain=True)
    assert notes(d) == {
        "DC1": ("chosen: ships Ax2, Bx3", 1),
        "S1": ("chosen: transfers stock to the shipping location", 2),
        "S2": ("chosen: transfers stock to the shipping location", 3),
        "S3": ("considered, not needed", 4),
    }


def test_explanation_names_locations_excluded_by_the_fulfilment_type() -> None:
    net = make_network(model_locations=("DC1", "S1", "S2", "S3", "P1"))
    ship_from_store = order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.SHIP_FROM_STORE)
    d = engine(net).decide(ship_from_store, stocked(net), explain=True)
    listed = notes(d)
    assert set(listed) == {"DC1", "S1", "S2", "S3", "P1"}
    assert listed["DC1"][0].startswith("removed") and listed["P1"][0].startswith("removed")
    assert listed["S1"][0].startswith("chosen")


@pytest.mark.parametrize("name", available())
def test_every_strategy_explains_every_candidate(name: str) -> None:
    net = make_network(filters=(build_filter({"kind": "max_distance", "km": 200}),))
    d = engine(net, name).decide(BASE, stocked(net), explain=True)
    listed = notes(d)
    assert set(listed) == {"DC1", "S1", "S2", "S3"}
    assert listed["DC1"] == ("removed by filter max_distance", None)
    chosen = {loc for loc, (status, _) in listed.items() if status.startswith("chosen")}
    assert chosen == {s.location for s in d.shipments} | {t.from_location for t in d.transfers}
    assert d.explanation is not None and d.explanation.strategy == name


# ------------------------------------------------------------------------ source
def test_source_reserves_exactly_the_decision() -> None:
    net = make_network()
    ledger = stocked(net)
    d = engine(net).source(BASE, ledger)
    assert ledger.reservations == {"o1": list(d.reservations)}
    assert ledger.atp("S1", "B") == 0 and ledger.atp("S2", "B") == 2 and ledger.atp("DC1", "A") == 0
    assert ledger.totals() == {"on_hand": 19, "reserved": 5, "safety": 0, "inbound": 0}


def test_decide_does_not_change_the_ledger_and_repeats_itself() -> None:
    net = make_network()
    ledger = stocked(net)
    before = (ledger.on_hand.copy(), ledger.reserved.copy(), ledger.movements())
    for name in available():
        eng = engine(net, name)
        first = eng.decide(BASE, ledger, explain=True)
        assert eng.decide(BASE, ledger, explain=True) == first
    assert np.array_equal(ledger.on_hand, before[0]) and np.array_equal(ledger.reserved, before[1])
    assert ledger.movements() == before[2]


def test_safety_stock_is_not_promised() -> None:
    net = make_network()
    ledger = stocked(net)
    ledger.set_safety_stock("S1", "A", 4)  # S1 may promise 1 of its 5
    d = engine(net).decide(order(("A", 3)), ledger)
    assert shipped(d) == {"DC1": {"A": 1}, "S1": {"A": 1}, "S3": {"A": 1}}


def test_now_defaults_to_the_order_time() -> None:
    net = make_network()
    ledger = stocked(net)
    eng = engine(net)
    d = eng.decide(order(("B", 1)), ledger, now=20.0)  # after every cutoff: ships Tuesday 17:00
    assert d.decided_at == 20.0 and d.shipments[0].ship_at == 41.0
    assert eng.decide(order(("B", 1)), ledger).shipments[0].ship_at == 17.0


# -------------------------------------------------------------- prepared orders
def test_engines_sharing_prepared_orders_decide_as_engines_without() -> None:
    """What engines keep of each order for one another (model, lines, destination, candidates) changes
    no decision, is kept per order object and network, and never keeps an error."""
    net = make_network()
    orders = [
        BASE,
        order(("A", 1), ("B", 2), ("A", 2), ("D", 1), oid="two lines of one SKU and a digital one"),
        order(("D", 1), fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="NOPE", oid="nothing to ship"),
        order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.PICKUP_IN_STORE, pickup="S1", oid="bopis"),
        order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="S2", oid="to store"),
        order(*BASE_ORDER_LINES, fulfilment=FulfilmentType.SHIP_FROM_STORE, oid="from store"),
        order(("A", 1), fulfilment=FulfilmentType.DIGITAL, oid="physical on a digital order"),
    ]
    kept = PreparedOrders()
    for name in ("split_shipments", "distance", "ranked", "cheapest", "greenest", "priority"):
        sharing, alone = engine(net, name), engine(net, name)
        sharing.prepared = kept
        for o in orders:
            for explain in (False, True):
                assert sharing.decide(o, stocked(net), explain=explain) == alone.decide(
                    o, stocked(net), explain=explain
                ), (name, o.id)
    assert len(kept) == len(orders)  # prepared once, by the first engine
    copy = order(*BASE_ORDER_LINES)  # equal to BASE, but another object: prepared afresh
    SourcingEngine(net, carriers=simple_carriers(), prepared=kept).decide(copy, stocked(net))
    assert len(kept) == len(orders) + 1
    other = make_network(model_locations=("S1", "DC1"))  # another network: its own preparation
    moved = SourcingEngine(other, carriers=simple_carriers(), prepared=kept).decide(BASE, stocked(other))
    assert moved == SourcingEngine(other, carriers=simple_carriers()).decide(BASE, stocked(other))
    bad = order(("A", 1), ("ZZZ", 2))
    for _ in range(2):  # refused every time, and nothing kept
        with pytest.raises(UnknownSkuError):
            SourcingEngine(net, prepared=kept).decide(bad, stocked(net))
    # the other network's preparation of BASE replaced its first one; the bad order left nothing
    assert len(kept) == len(orders) + 1
