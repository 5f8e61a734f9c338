"""Small, hand-checkable networks for the dom_core tests.

Every location sits on the equator, so the great-circle distance between two points is simply
``KM_PER_DEG * |difference in longitude|`` and expectations can be worked out on paper:

    lon   0.0    1.0    2.0  2.1  3.0
          DC1    S1     S2   P1   S3          customer of the base order at lon 2.1
    km    233.5  122.3  11.1  0   100.1       (from the customer)

``simple_carriers`` prices with round numbers (see its docstring); hour 0 is Monday 00:00 and the
base orders arrive on Monday at 09:00, before every cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from dom_core.capacity import CapacityBook
from dom_core.carriers import (
    CarrierCatalog,
    CarrierService,
    Mode,
    TransitTime,
    ZoneRateCard,
)
from dom_core.decision import Decision
from dom_core.engine import SourcingEngine
from dom_core.geo import EARTH_RADIUS_KM
from dom_core.inventory import InventoryLedger
from dom_core.model import (
    Capability,
    FulfilmentType,
    Location,
    LocationKind,
    Order,
    OrderLine,
    Sku,
)
from dom_core.network import InventoryModel, Network
from dom_core.rules import Filter
from dom_core.strategies import Strategy, build_strategy

KM_PER_DEG = EARTH_RADIUS_KM * math.pi / 180.0  # 111.195 km per degree of longitude on the equator
ALL_CAPS = frozenset(Capability)
DC_CAPS = frozenset({Capability.SHIP_TO_HOME, Capability.ACCEPT_RETURNS})
POINT_CAPS = frozenset({Capability.PICKUP, Capability.RECEIVE_SHIP_TO_STORE})
MONDAY_9 = 9.0
CUSTOMER_LON = 2.1

SKUS = (
    Sku("A", weight_kg=1.0),
    Sku("B", weight_kg=0.5),
    Sku("D", weight_kg=0.0, digital=True),
    Sku("H", weight_kg=20.0),
)

# The base stock: nobody but S3 holds the base order (A x2, B x3) alone.
BASE_STOCK: dict[tuple[str, str], int] = {
    ("DC1", "A"): 1,
    ("S1", "A"): 5,
    ("S1", "B"): 2,
    ("S2", "B"): 3,
    ("S3", "A"): 4,
    ("S3", "B"): 4,
}
MODEL_LOCATIONS = ("DC1", "S1", "S2", "S3")


def loc(
    loc_id: str,
    kind: LocationKind,
    lon: float,
    *,
    lat: float = 0.0,
    market: str = "DE",
    caps: frozenset[Capability] = ALL_CAPS,
    **kw: Any,
) -> Location:
    """A location on the equator (by default) with every capability."""
    return Location(loc_id, kind, lat, lon, market, market, caps, **kw)


def base_locations(**overrides: Mapping[str, Any]) -> tuple[Location, ...]:
    """DC1, S1, S2, S3 (dark store) and the stockless pickup point P1; ``overrides[id]`` patches fields."""
    spec = {
        "DC1": (LocationKind.DC, 0.0, DC_CAPS),
        "S1": (LocationKind.STORE, 1.0, ALL_CAPS),
        "S2": (LocationKind.STORE, 2.0, ALL_CAPS),
        "S3": (LocationKind.DARK_STORE, 3.0, ALL_CAPS),
        "P1": (LocationKind.PICKUP_POINT, 2.1, POINT_CAPS),
    }
    out = []
    for loc_id, (kind, lon, caps) in spec.items():
        kw: dict[str, Any] = {"caps": caps, **overrides.get(loc_id, {})}
        out.append(loc(loc_id, kind, lon, **kw))
    return tuple(out)


def simple_carriers(*, max_kg: float = 1000.0) -> CarrierCatalog:
    """Round-number services, all collected at 17:00 on weekdays.

    * ``std``: 3 / 4 / 5 / 6 for up to 50 / 150 / 300 / more km, 2 days, 0.1 kg/tkm + 0.2 last mile.
    * ``air``: 20 flat, 0.5 day + 1 day per 1000 km, 1.0 kg/tkm + 0.2 last mile.
    * ``eco``: 6 flat, 3 days, 0.01 kg/tkm + 0.05 last mile.
    * ``store_transfer``: 1 flat, 1 day, no emissions.

    The parcel services (not the transfer) take up to ``max_kg``.
    """

    def flat(price: float) -> ZoneRateCard:
        return ZoneRateCard((100_000.0,), (1000.0,), ((price,),))

    return CarrierCatalog(
        (
            CarrierService(
                "std", Mode.ROAD,
                ZoneRateCard((50.0, 150.0, 300.0, 100_000.0), (1000.0,), ((3.0,), (4.0,), (5.0,), (6.0,))),
                TransitTime(2.0, 2.0, 2.0), max_kg=max_kg,
                linehaul_kg_co2_per_tkm=0.1, last_mile_kg_co2_per_parcel=0.2,
            ),
            CarrierService(
                "air", Mode.AIR, flat(20.0), TransitTime(0.5, 0.5, 0.5, 1.0), max_kg=max_kg,
                linehaul_kg_co2_per_tkm=1.0, last_mile_kg_co2_per_parcel=0.2,
            ),
            CarrierService(
                "eco", Mode.ROAD, flat(6.0), TransitTime(3.0, 3.0, 3.0), max_kg=max_kg,
                linehaul_kg_co2_per_tkm=0.01, last_mile_kg_co2_per_parcel=0.05,
            ),
            CarrierService(
                "store_transfer", Mode.TRANSFER, flat(1.0), TransitTime(1.0, 1.0, 1.0), max_kg=1000.0,
                linehaul_kg_co2_per_tkm=0.0, last_mile_kg_co2_per_parcel=0.0,
            ),
        )
    )


def make_network(
    *,
    locations: Sequence[Location] | None = None,
    model_locations: Sequence[str] = MODEL_LOCATIONS,
    cutoff: int = 10,
    max_shipments: int = 10,
    filters: Sequence[Filter] = (),
    strategy: Strategy | None = None,
    skus: Sequence[Sku] = SKUS,
) -> Network:
    """The base network with one inventory model ``web_de`` serving market DE, channel web."""
    model = InventoryModel(
        "web_de", "DE", frozenset({"web"}), tuple(model_locations), strategy=strategy,
        cutoff=cutoff, max_shipments=max_shipments, filters=tuple(filters),
    )
    return Network(tuple(locations or base_locations()), tuple(skus), (model,))


def stocked(network: Network, stock: Mapping[tuple[str, str], int] = BASE_STOCK) -> InventoryLedger:
    """A ledger that received ``stock[(location, sku)]`` units."""
    ledger = InventoryLedger(network)
    for (loc_id, sku_id), qty in stock.items():
        if qty:
            ledger.receive(loc_id, sku_id, qty, ref="initial")
    return ledger


def engine(
    network: Network,
    strategy: str | Mapping[str, Any] | None = "split_shipments",
    *,
    carriers: CarrierCatalog | None = None,
    capacity: CapacityBook | None = None,
) -> SourcingEngine:
    """An engine with ``simple_carriers`` (unless given) and the named strategy overriding the model's."""
    return SourcingEngine(
        network,
        carriers=carriers or simple_carriers(),
        strategy=None if strategy is None else build_strategy(strategy),
        capacity=capacity,
    )


def order(
    *lines: tuple[str, int],
    oid: str = "o1",
    lon: float = CUSTOMER_LON,
    lat: float = 0.0,
    fulfilment: FulfilmentType = FulfilmentType.HOME_DELIVERY,
    pickup: str | None = None,
    market: str = "DE",
    channel: str = "web",
    created_at: float = MONDAY_9,
    max_days: float | None = None,
) -> Order:
    """An order whose lines are numbered "1", "2", ... in the given order."""
    return Order(
        oid, market, channel, created_at, lat, lon,
        tuple(OrderLine(str(k + 1), sku, qty) for k, (sku, qty) in enumerate(lines)),
        fulfilment=fulfilment, pickup_location=pickup, max_delivery_days=max_days,
    )


BASE_ORDER_LINES = (("A", 2), ("B", 3))


def shipped(decision: Decision) -> dict[str, dict[str, int]]:
    """{shipping location: {sku: units}} of a decision."""
    out: dict[str, dict[str, int]] = {}
    for s in decision.shipments:
        assert s.location not in out, f"two shipments from {s.location}"
        per_sku = out.setdefault(s.location, {})
        for ln in s.lines:
            per_sku[ln.sku] = per_sku.get(ln.sku, 0) + ln.qty
    return out


def services(decision: Decision) -> dict[str, str]:
    """{shipping location: carrier service}."""
    return {s.location: s.service for s in decision.shipments}


def missing(decision: Decision) -> list[tuple[str, str, int, str]]:
    """Unfulfilled lines as (line_id, sku, qty, reason)."""
    return [(u.line_id, u.sku, u.qty, u.reason) for u in decision.unfulfilled]


def reserved_by_id(network: Network, decision: Decision) -> dict[tuple[str, str], int]:
    """The decision's reservations as {(location id, sku id): units}."""
    out: dict[tuple[str, str], int] = {}
    for loc_i, s, qty in decision.reservations:
        key = (network.locations[loc_i].id, network.skus[s].id)
        out[key] = out.get(key, 0) + qty
    return out


def notes(decision: Decision) -> dict[str, tuple[str, int | None]]:
    """{location: (status, rank)} from the decision's explanation (each location listed once)."""
    assert decision.explanation is not None
    out: dict[str, tuple[str, int | None]] = {}
    for note in decision.explanation.candidates:
        assert note.location not in out, f"{note.location} listed twice in the explanation"
        out[note.location] = (note.status, note.rank)
    return out


@pytest.fixture
def base_network() -> Network:
    """The base network (model DC1, S1, S2, S3; no filters; cutoff and max_shipments 10)."""
    return make_network()


@pytest.fixture
def base_ledger(base_network: Network) -> InventoryLedger:
    """``BASE_STOCK`` received into the base network."""
    return stocked(base_network)
