"""A carrier catalogue without a transfer service: no transfer is offered, and nothing crashes.

Every strategy and every bound decides on a network of DCs only (where no transfer could be used
anyway) and on one with stores; ship-to-store orders are served from the pickup store's own stock and
ship-from-primary from the primary's, the rest refused with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from dom_core.carriers import CarrierCatalog, Mode, Objective, default_services
from dom_core.decision import Decision
from dom_core.engine import SourcingEngine
from dom_core.model import FulfilmentType, Order
from dom_core.optimise.batch import BatchReoptimiser, run_batched
from dom_core.optimise.bounds import lagrangian_bound
from dom_core.optimise.costs import CostModel, realised_cost
from dom_core.optimise.forecast import FixedForecast
from dom_core.optimise.jasin_sinha import Instance, jasin_sinha
from dom_core.optimise.lp import deterministic_lp, hindsight_lp, hindsight_mip
from dom_core.strategies import available, build_strategy
from dom_core.strategies.base import Plan, SourcingContext
from tests.dom_core.conftest import (
    BASE_ORDER_LINES,
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

NO_TRANSFER = "the carrier catalogue has no transfer service"


def without_transfers(catalog: CarrierCatalog) -> CarrierCatalog:
    """The catalogue less its transfer service."""
    return CarrierCatalog(tuple(s for s in catalog.services if s.mode is not Mode.TRANSFER))


SIMPLE = without_transfers(simple_carriers())


def test_a_catalogue_names_its_transfer_service_or_none() -> None:
    catalog = default_services()
    assert catalog.transfer() is catalog.service("store_transfer")
    assert without_transfers(default_services()).transfer() is None
    assert SIMPLE.transfer() is None and [s.name for s in SIMPLE.parcel_services()] == ["std", "air", "eco"]


@pytest.fixture(scope="module")
def dcs_only() -> Instance:
    """A network of five DCs and no store, on a catalogue with one parcel service and no transfer."""
    inst = jasin_sinha(60, 3, stock_factor=0.9, forecast_sample=100)
    inst.carriers = without_transfers(inst.carriers)
    return inst


@pytest.mark.parametrize("name", sorted(available()))
def test_every_strategy_decides_without_a_transfer_service(dcs_only: Instance, name: str) -> None:
    eng = SourcingEngine(dcs_only.network, dcs_only.carriers, strategy=build_strategy(name))
    ledger = dcs_only.ledger.copy()
    decisions = [eng.source(o, ledger, o.created_at) for o in dcs_only.orders]
    assert not any(d.transfers for d in decisions)
    assert sum(d.units_allocated for d in decisions) > 0
    assert all(s.service == "ground" for d in decisions for s in d.shipments)


def test_every_bound_is_computed_without_a_transfer_service(dcs_only: Instance) -> None:
    net, start, orders, carriers = dcs_only.network, dcs_only.ledger, dcs_only.orders, dcs_only.carriers
    lp = hindsight_lp(net, start, orders, carriers)
    compact = hindsight_lp(net, start, orders, carriers, formulation="compact")
    first = orders[:20]  # the MIP of all 60 takes seconds
    mip, lp_first = hindsight_mip(net, start, first, carriers), hindsight_lp(net, start, first, carriers)
    dlp = deterministic_lp(net, start, dcs_only.forecast, carriers)
    free = lagrangian_bound(net, start, orders, carriers, lp.lost_sale)
    assert lp.status == compact.status == dlp.status == mip.status == "OPTIMAL"
    assert free.value <= lp.value + 1e-6 and compact.value <= lp.value + 1e-6
    assert lp_first.value <= mip.value + 1e-6
    eng = SourcingEngine(net, carriers, strategy=build_strategy("optimal"))
    ledger = start.copy()
    decisions = [eng.source(o, ledger, o.created_at) for o in orders]
    assert lp.value <= realised_cost(decisions, lp.lost_sale) + 1e-6
    # batch re-optimisation, with and without the look-ahead prices
    for forecast in (None, FixedForecast(dcs_only.forecast, 0.0, dcs_only.horizon_hours)):
        reopt = BatchReoptimiser(net, carriers, forecast=forecast)
        batched = run_batched(reopt, orders, start.copy(), window_hours=6.0, release_hours=12.0, myopic=eng)
        assert lp.value <= realised_cost(batched.decisions, lp.lost_sale) + 1e-6


# ----------------------------------------------------------------- a network with stores (conftest)
def mixed_orders() -> list[Order]:
    """Home delivery, pickup in store, and ship to store: to a store with part of the order, to a store
    with none of it, and to the stockless pickup point."""
    to_store = FulfilmentType.SHIP_TO_STORE
    return [
        order(*BASE_ORDER_LINES, oid="home"),
        order(("B", 1), oid="pickup", fulfilment=FulfilmentType.PICKUP_IN_STORE, pickup="S2"),
        order(*BASE_ORDER_LINES, oid="to-S2", fulfilment=to_store, pickup="S2"),
        order(("A", 1), oid="to-S2-none", fulfilment=to_store, pickup="S2"),
        order(("A", 1), oid="to-P1", fulfilment=to_store, pickup="P1"),
    ]


@pytest.mark.parametrize("name", sorted(available()))
def test_ship_to_store_without_transfers_ships_only_the_stores_own_stock(name: str) -> None:
    net = make_network()
    ledger = stocked(net)
    eng = engine(net, name, carriers=SIMPLE)
    decisions = {o.id: eng.decide(o, ledger, explain=True) for o in mixed_orders()}  # each on BASE_STOCK
    assert not any(d.transfers for d in decisions.values())
    assert decisions["home"].shipments  # parcels still go out
    assert shipped(decisions["pickup"]) == {"S2": {"B": 1}}
    # S2 holds 3 B and no A: its B is picked up there, the A cannot reach it
    assert shipped(decisions["to-S2"]) == {"S2": {"B": 3}}
    assert services(decisions["to-S2"]) == {"S2": "pickup"}
    lacks = f"S2 lacks stock, and no other location can send it: {NO_TRANSFER}"
    assert missing(decisions["to-S2"]) == [("1", "A", 2, lacks)]
    assert missing(decisions["to-S2-none"]) == [("1", "A", 1, lacks)]
    assert (
        notes(decisions["to-S2-none"])["DC1"][0]
        == f"removed: ship to store from here needs a transfer: {NO_TRANSFER}"
    )
    # P1 is a pickup point: it holds no stock, and nothing can be sent to it
    point = decisions["to-P1"]
    reason = (
        f"ship to store needs a transfer to P1, {NO_TRANSFER}, "
        "and P1 is not a stock location of inventory model web_de"
    )
    assert point.shipments == () and missing(point) == [("1", "A", 1, reason)]


def test_ship_from_primary_without_transfers_ships_what_the_primary_holds() -> None:
    net = make_network(cutoff=3)  # within the cutoff nobody holds the whole order: the primary ships
    for name in ("ship_from_primary", "ship_from_first_available_or_primary"):
        d = engine(net, name, carriers=SIMPLE).decide(order(*BASE_ORDER_LINES), stocked(net), explain=True)
        assert shipped(d) == {"DC1": {"A": 1}} and d.transfers == ()
        lacks = f"the primary lacks stock and no transfer can bring it: {NO_TRANSFER}"
        assert missing(d) == [("1", "A", 1, lacks), ("2", "B", 3, lacks)]
        assert d.explanation is not None and "no transfer service" in d.explanation.why
    with_transfers = engine(net, "ship_from_primary").decide(order(*BASE_ORDER_LINES), stocked(net))
    assert with_transfers.transfers and not with_transfers.unfulfilled


@dataclass(frozen=True)
class PullsAnyway:
    """A strategy that plans a transfer whatever the catalogue: the engine refuses the moved units."""

    name: ClassVar[str] = "pulls_anyway"
    carrier_objective: ClassVar[Objective] = Objective.CHEAPEST

    def plan(self, ctx: SourcingContext) -> Plan:
        plan = Plan(considered=[0, 1])
        plan.take(0, 0, 1)  # DC1's own A
        plan.transfers.append((1, 0, 0, 1))  # and one A from S1, moved to DC1
        plan.take(0, 0, 1)
        return plan


def test_the_engine_refuses_units_a_plan_would_transfer_without_a_service() -> None:
    net = make_network()
    ledger = stocked(net)
    eng = SourcingEngine(net, SIMPLE, strategy=PullsAnyway())
    d: Decision = eng.source(order(("A", 2)), ledger)
    assert shipped(d) == {"DC1": {"A": 1}} and d.transfers == ()
    assert missing(d) == [("1", "A", 1, f"the plan moves stock between locations: {NO_TRANSFER}")]
    assert reserved_by_id(net, d) == {("DC1", "A"): 1}
    assert ledger.atp_matrix([0], np.array([1], dtype=np.intp))[0, 0] == 5  # S1's A untouched


def test_the_bounds_price_ship_to_store_from_the_store_alone_without_transfers() -> None:
    net = make_network()
    orders = mixed_orders()
    for carriers in (SIMPLE, simple_carriers()):
        lp = hindsight_lp(net, stocked(net), orders, carriers, CostModel(lost_sale=100.0))
        free = lagrangian_bound(net, stocked(net), orders, carriers, 100.0)
        assert lp.status == "OPTIMAL" and free.value <= lp.value + 1e-6
        for name in ("optimal", "lookahead", "split_shipments", "cheapest"):
            eng = engine(net, name, carriers=carriers)
            ledger = stocked(net)
            decisions = [eng.source(o, ledger, o.created_at) for o in orders]
            assert lp.value <= realised_cost(decisions, 100.0) + 1e-6, (name, carriers.transfer())
