"""Bad input is refused with a DomError naming the field, and a failing source() changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from dom_core.capacity import CapacityBook
from dom_core.carriers import Objective
from dom_core.errors import (
    DomError,
    InsufficientStockError,
    InvalidQuantityError,
    UnknownLocationError,
    UnknownSkuError,
)
from dom_core.inventory import InventoryLedger
from dom_core.model import FulfilmentType, LocationKind, Order, OrderLine, Sku
from dom_core.network import InventoryModel, Network
from dom_core.rules import build_filter
from dom_core.strategies import build_strategy
from dom_core.strategies.base import Plan, SourcingContext
from tests.dom_core.conftest import (
    SKUS,
    base_locations,
    engine,
    loc,
    make_network,
    order,
    stocked,
)


def ledger_state(ledger: InventoryLedger) -> tuple[object, ...]:
    return (
        ledger.on_hand.tolist(), ledger.reserved.tolist(), ledger.safety.tolist(),
        {k: list(v) for k, v in ledger.reservations.items()}, ledger.movements(),
    )


# ------------------------------------------------------------------------ orders
def test_unknown_sku_in_an_order_names_the_line() -> None:
    net = make_network()
    ledger = stocked(net)
    before = ledger_state(ledger)
    bad = order(("A", 1), ("ZZZ", 2))
    for call in (engine(net).decide, engine(net).source):
        with pytest.raises(UnknownSkuError) as err:
            call(bad, ledger)
        assert err.value.field == "order[o1].lines[1].sku"
        assert "ZZZ" in str(err.value)
    assert ledger_state(ledger) == before


@pytest.mark.parametrize("qty", [0, -3, 1.5, "2", True, None, np.int64(2)])
def test_order_line_quantity_must_be_a_positive_int(qty: Any) -> None:
    with pytest.raises(InvalidQuantityError) as err:
        OrderLine("7", "A", qty)
    assert err.value.field == "line[7].qty"


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [(91.0, 0.0, "order[o1].lat"), (0.0, -180.5, "order[o1].lon"), (float("nan"), 0.0, "order[o1].lat")],
)
def test_order_coordinates_out_of_range(lat: float, lon: float, field: str) -> None:
    with pytest.raises(DomError) as err:
        order(("A", 1), lat=lat, lon=lon)
    assert err.value.field == field


def test_order_structure() -> None:
    with pytest.raises(DomError) as err:
        Order("o1", "DE", "web", 0.0, 0.0, 0.0, ())
    assert err.value.field == "order[o1].lines"
    with pytest.raises(DomError) as err:
        Order("o1", "DE", "web", 0.0, 0.0, 0.0, (OrderLine("1", "A", 1), OrderLine("1", "B", 1)))
    assert err.value.field == "order[o1].lines" and "duplicate" in str(err.value)
    with pytest.raises(DomError) as err:
        order(("A", 1), fulfilment=FulfilmentType.PICKUP_IN_STORE)
    assert err.value.field == "order[o1].pickup_location"


def test_unknown_pickup_location() -> None:
    net = make_network()
    with pytest.raises(UnknownLocationError) as err:
        to_nowhere = order(("A", 1), fulfilment=FulfilmentType.SHIP_TO_STORE, pickup="NOPE")
        engine(net).decide(to_nowhere, stocked(net))
    assert err.value.field == "order[o1].pickup_location"


def test_no_inventory_model_for_market_or_channel() -> None:
    net = make_network()
    for bad in (order(("A", 1), market="FR"), order(("A", 1), channel="marketplace")):
        with pytest.raises(DomError) as err:
            engine(net).source(bad, stocked(net))
        assert err.value.field == "order.market/channel"
    assert not net.has_inventory_model("FR", "web") and net.has_inventory_model("DE", "web")


# ------------------------------------------------------------ network and ledger
def test_location_validation() -> None:
    with pytest.raises(DomError) as err:
        loc("X", LocationKind.DC, 0.0, lat=-90.5)
    assert err.value.field == "location[X].lat"
    with pytest.raises(DomError) as err:
        loc("X", LocationKind.DC, 181.0)
    assert err.value.field == "location[X].lon"
    with pytest.raises(DomError) as err:
        loc("X", LocationKind.DC, 0.0, cutoff_hour=25.0)
    assert err.value.field == "location[X].cutoff_hour"
    with pytest.raises(DomError) as err:
        loc("X", LocationKind.DC, 0.0, pick_capacity_per_day=-1)
    assert err.value.field == "location[X].pick_capacity_per_day"
    with pytest.raises(DomError) as err:
        Sku("A", weight_kg=-1.0)
    assert err.value.field == "sku[A].weight_kg"


def test_duplicate_ids() -> None:
    locs = base_locations()
    with pytest.raises(DomError) as err:
        Network((*locs, loc("S1", LocationKind.STORE, 5.0)), SKUS)
    assert err.value.field == f"locations[{len(locs)}].id"
    with pytest.raises(DomError) as err:
        Network(locs, (*SKUS, Sku("B")))
    assert err.value.field == f"skus[{len(SKUS)}].id"


def test_duplicate_inventory_models() -> None:
    locs = base_locations()
    web = InventoryModel("web", "DE", frozenset({"web", "app"}), ("DC1",))
    with pytest.raises(DomError) as err:
        Network(locs, SKUS, (web, InventoryModel("web2", "DE", frozenset({"app"}), ("S1",))))
    assert err.value.field == "inventory_model[web2].channels"
    # one name for two models would mix up their candidates
    with pytest.raises(DomError) as err:
        Network(locs, SKUS, (web, InventoryModel("web", "AT", frozenset({"web"}), ("S1",))))
    assert err.value.field == "inventory_models[1].name"


def test_a_location_listed_twice_in_an_inventory_model() -> None:
    # the twice-listed location would otherwise promise its stock twice
    with pytest.raises(DomError) as err:
        InventoryModel("web", "DE", frozenset({"web"}), ("S1", "DC1", "S1"))
    assert err.value.field == "inventory_model[web].locations[2]"


def test_inventory_model_validation() -> None:
    with pytest.raises(UnknownLocationError) as err:
        make_network(model_locations=("DC1", "NOPE"))
    assert err.value.field == "inventory_model[web_de].locations[1]"
    for kwargs, field in (({"cutoff": 0}, "cutoff"), ({"max_shipments": 0}, "max_shipments")):
        with pytest.raises(DomError) as err:
            make_network(**kwargs)
        assert err.value.field == f"inventory_model[web_de].{field}"
    with pytest.raises(DomError) as err:
        InventoryModel("m", "DE", frozenset({"web"}), ())
    assert err.value.field == "inventory_model[m].locations"
    with pytest.raises(UnknownLocationError) as err:
        returns_to_x = InventoryModel("m", "DE", frozenset({"web"}), ("S1",), return_locations=("X",))
        Network(base_locations(), SKUS, (returns_to_x,))
    assert err.value.field == "inventory_model[m].return_locations[0]"


def test_ledger_unknown_ids() -> None:
    net = make_network()
    ledger = InventoryLedger(net)
    with pytest.raises(UnknownLocationError) as err:
        ledger.receive("NOPE", "A", 1)
    assert err.value.field == "location"
    with pytest.raises(UnknownSkuError) as err:
        ledger.atp("S1", "ZZZ")
    assert err.value.field == "sku"
    with pytest.raises(UnknownLocationError):
        net.location("NOPE")
    assert ledger.movements() == []


# ------------------------------------------------------- strategy and filter specs
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("fastest_possible", "strategy.kind"),
        ({"cost": 1.0}, "strategy.kind"),
        ({"kind": "weighted", "costs": 1.0}, "strategy.costs"),
        ({"kind": "weighted", "cost": "cheap"}, "strategy.cost"),
        ({"kind": "ranked", "rules": ["closest", "nearest"]}, "strategy.rules.1"),
        ({"kind": "no_split", "name": "x"}, "strategy.name"),
        (42, "strategy"),
    ],
)
def test_bad_strategy_specs_name_the_field(spec: Any, field: str) -> None:
    with pytest.raises(DomError) as err:
        build_strategy(spec)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("in_stok", "filters.kind"),
        ({"kind": "max_distance"}, "filters.km"),
        ({"kind": "max_distance", "km": "far"}, "filters.km"),
        ({"kind": "max_distance", "km": 10, "radius": 5}, "filters.radius"),
        ({"kind": "exclude_kinds", "kinds": ["warehouse"]}, "filters.kinds.0"),
        (["in_stock"], "filters"),
    ],
)
def test_bad_filter_specs_name_the_field(spec: Any, field: str) -> None:
    with pytest.raises(DomError) as err:
        build_filter(spec)
    assert err.value.field == field


def test_spec_errors_use_the_callers_field_path() -> None:
    with pytest.raises(DomError) as err:
        build_filter({"kind": "capacity_left", "share": "half"}, field="inventory_models[0].filters[2]")
    assert err.value.field == "inventory_models[0].filters[2].share"
    with pytest.raises(DomError) as err:
        build_strategy("nope", field="inventory_models[1].strategy")
    assert err.value.field == "inventory_models[1].strategy.kind"


# ------------------------------------------------------ a failing source() is void
@dataclass(frozen=True)
class Greedy:
    """A faulty strategy (a small fake) that promises more than the primary holds."""

    name: ClassVar[str] = "greedy_fake"
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        plan = Plan()
        for i, qty in enumerate(ctx.line_qty):
            plan.take(0, i, qty + 100)
        return plan


def test_failed_reservation_leaves_ledger_and_capacity_unchanged() -> None:
    net = make_network()
    ledger = stocked(net)
    book = CapacityBook()
    eng = engine(net, None, capacity=book)
    eng.strategy = Greedy()
    before = ledger_state(ledger)
    with pytest.raises(InsufficientStockError):
        eng.source(order(("A", 1), ("B", 1)), ledger)
    assert ledger_state(ledger) == before
    assert book.used == {}


def test_failed_source_then_good_source() -> None:
    net = make_network()
    ledger = stocked(net)
    eng = engine(net)
    with pytest.raises(UnknownSkuError):
        eng.source(order(("A", 1), ("ZZZ", 1)), ledger)
    assert ledger.reservations == {}
    eng.source(order(("A", 1)), ledger)
    assert ledger.reservations == {"o1": [(net.loc_index["DC1"], net.sku_index["A"], 1)]}
