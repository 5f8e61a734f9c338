"""Parity: the live service decides as the in-process engine does, and its order log replays.

A scenario-backed service (tests/sim/data/tiny.yaml with its stock made scarce, so SKUs run out and the
stock path matters) places the scenario's own demand stream (home delivery, pickup in store, ship to
store; multi-line) through the HTTP API; ``SourcingEngine.source`` places the same stream in process on
``world.initial.copy()``. Every decision must be identical as JSON (``service.serialise.decision_json``),
and so must the reservations and the final stock. The order log exported as Parquet, turned back into
Orders by ``service.replay``, replays on the starting stock to the decisions the service stored.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from dom_core.engine import SourcingEngine
from dom_core.errors import DomError
from dom_core.inventory import InventoryLedger
from dom_core.model import FulfilmentType, Order
from dom_core.strategies import build_strategy
from service.clock import DEFAULT_EPOCH, to_datetime
from service.replay import COLUMNS, orders_from_parquet, orders_from_rows
from service.serialise import decision_json
from sim.compare import demand_orders
from sim.demand import generate_demand
from sim.scenario import Scenario
from sim.world import World, build_world
from tests.service.conftest import open_api

TINY = Path(__file__).resolve().parents[1] / "sim" / "data" / "tiny.yaml"
N_ORDERS = 400
SCARCE = {"dc_days_of_cover": 1.5, "store_days_of_cover": 1, "safety_stock": 1}
"""Stock for about a day and a half at the DCs, one unit of safety stock per cell: with 400 orders
(~1.3 days of demand) about 20 of the 40 SKUs run out and 30 orders are refused."""


@dataclass(frozen=True)
class Stream:
    """The scarce scenario file, its world and the first ``N_ORDERS`` orders of its demand stream."""

    path: Path
    world: World
    orders: list[Order]


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    """tiny.yaml with scarce stock, and its demand stream with times rounded to whole seconds (so that
    hours -> ISO time -> hours is exact) and ids that sort in placement order."""
    document = yaml.safe_load(TINY.read_text())
    document["generate"]["stock"].update(SCARCE)
    path = tmp_path_factory.mktemp("parity") / "tiny_scarce.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    world = build_world(Scenario.model_validate(document))
    raw = demand_orders(world, generate_demand(world, 0), N_ORDERS)
    orders = [
        replace(o, id=f"O{k:04d}", created_at=round(o.created_at * 3600) / 3600) for k, o in enumerate(raw)
    ]
    kinds = {o.fulfilment for o in orders}
    assert kinds == {
        FulfilmentType.HOME_DELIVERY,
        FulfilmentType.PICKUP_IN_STORE,
        FulfilmentType.SHIP_TO_STORE,
    }
    assert max(len(o.lines) for o in orders) >= 3
    return Stream(path, world, orders)


def order_body(order: Order) -> dict[str, Any]:
    """``POST /orders`` body of an engine Order (its time as ISO text with +00:00)."""
    body: dict[str, Any] = {
        "id": order.id,
        "market": order.market,
        "channel": order.channel,
        "lat": order.lat,
        "lon": order.lon,
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in order.lines],
        "fulfilment": order.fulfilment.value,
        "created_at": to_datetime(order.created_at, DEFAULT_EPOCH).isoformat(),
    }
    if order.pickup_location is not None:
        body["pickup_location"] = order.pickup_location
    if order.max_delivery_days is not None:
        body["max_delivery_days"] = order.max_delivery_days
    return body


def source_in_process(
    world: World, orders: Sequence[Order], strategy: str | None
) -> tuple[list[dict[str, Any]], list[list[list[Any]]], InventoryLedger]:
    """Decisions (as JSON) and reservations ([[location, sku, qty], ...] merged and sorted) of the
    in-process engine placing ``orders`` in turn on the starting stock, and the ledger at the end."""
    engine = SourcingEngine(
        world.network, world.carriers, strategy=None if strategy is None else build_strategy(strategy)
    )
    ledger = world.initial.copy()
    net = world.network
    decisions, held = [], []
    for order in orders:
        decision = engine.source(order, ledger, order.created_at)
        decisions.append(decision_json(decision, DEFAULT_EPOCH))
        cells: dict[tuple[str, str], int] = {}
        for loc, s, qty in decision.reservations:
            key = (net.locations[loc].id, net.skus[s].id)
            cells[key] = cells.get(key, 0) + qty
        held.append([[loc, sku, qty] for (loc, sku), qty in sorted(cells.items())])
    return decisions, held, ledger


def ledger_cells(ledger: InventoryLedger) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(on hand, reserved, safety) of every cell holding anything."""
    net = ledger.network
    return {
        (loc.id, sku.id): (int(ledger.on_hand[s, i]), int(ledger.reserved[s, i]), int(ledger.safety[s, i]))
        for s, sku in enumerate(net.skus)
        for i, loc in enumerate(net.locations)
        if ledger.on_hand[s, i] or ledger.reserved[s, i] or ledger.safety[s, i]
    }


def sold_out(ledger: InventoryLedger) -> list[str]:
    """SKUs held somewhere with no unit available to promise anywhere."""
    atp = (ledger.on_hand - ledger.reserved - ledger.safety).clip(0).sum(axis=1)
    held = ledger.on_hand.sum(axis=1)
    return [sku.id for s, sku in enumerate(ledger.network.skus) if held[s] > 0 and atp[s] == 0]


def api_cells(client: Any) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(on hand, reserved, safety) of every cell of ``GET /stock`` holding anything."""
    rows = client.get("/stock").json()
    return {
        (r["location"], r["sku"]): (r["on_hand"], r["reserved"], r["safety"])
        for r in rows
        if r["on_hand"] or r["reserved"] or r["safety"]
    }


def stored_orders(client: Any) -> list[dict[str, Any]]:
    """Every order as the service stored it (``GET /orders``, every page), oldest first."""
    out: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/orders", params={"limit": 1000, "offset": offset}).json()
        out += page["items"]
        offset = page["next_offset"]
    return out


@pytest.fixture
def service(db_url: str, stream: Stream) -> Iterator[Any]:
    """A TestClient (write key) on the scarce scenario loaded into a fresh SQLite or PostgreSQL database."""
    client, svc = open_api(db_url, stream.path)
    with client:  # type: ignore[attr-defined]
        yield client
    svc.db.dispose()  # type: ignore[attr-defined]


def place_stream(client: Any, orders: Sequence[Order]) -> list[dict[str, Any]]:
    """Place every order through the API, in turn; the 201 bodies."""
    placed = []
    for order in orders:
        response = client.post("/orders", json=order_body(order))
        assert response.status_code == 201, (order.id, response.text)
        placed.append(response.json())
    return placed


@pytest.mark.parametrize("strategy", [None, "cheapest"], ids=["as-configured", "cheapest"])
def test_api_decides_as_the_in_process_engine(service: Any, stream: Stream, strategy: str | None) -> None:
    want, want_held, ledger = source_in_process(stream.world, stream.orders, strategy)
    # the stream must reach the stock path: refusals, partial fills and SKUs out of stock
    assert sum(1 for d in want if d["units_allocated"] == 0) >= 10
    assert sum(1 for d in want if d["units_allocated"] and d["units_unfulfilled"]) >= 10
    assert len(sold_out(ledger)) >= 5
    if strategy is not None:
        response = service.put("/rules", json={"strategy": strategy})
        assert response.status_code == 201, response.text
    placed = place_stream(service, stream.orders)
    for order, got, decision, held in zip(stream.orders, placed, want, want_held, strict=True):
        assert got["decision"] == decision, order.id
        assert [[c["location"], c["sku"], c["qty"]] for c in got["reservation"]] == held, order.id
        assert got["status"] == ("refused" if not held else "reserved"), order.id
        assert got["created_at"] == order_body(order)["created_at"], order.id
    assert api_cells(service) == ledger_cells(ledger)
    assert service.get("/stock/audit").json()["ok"]
    # and as stored: the decisions read back from the database are the same documents
    stored = stored_orders(service)
    assert [o["id"] for o in stored] == [o.id for o in stream.orders]
    assert [o["decision"] for o in stored] == want


def test_exported_log_replays_to_the_stored_decisions(service: Any, stream: Stream) -> None:
    place_stream(service, stream.orders)
    export = service.get("/orders/export")
    assert export.status_code == 200
    replayed = orders_from_parquet(export.content)
    assert replayed == stream.orders  # every field, times to the last bit, in log order
    stored = [o["decision"] for o in stored_orders(service)]
    engine = SourcingEngine(stream.world.network, stream.world.carriers)
    ledger = stream.world.initial.copy()
    again = [decision_json(engine.source(o, ledger, o.created_at), DEFAULT_EPOCH) for o in replayed]
    for order, got, want in zip(replayed, again, stored, strict=True):
        assert got == want, order.id


# -- service.replay on its own -----------------------------------------------------------------------


def _row(order_id: str, line_id: str, sku: str = "TEE", **extra: Any) -> dict[str, Any]:
    row = {
        "order_id": order_id,
        "created_at": "2026-01-05T01:00:00+00:00",
        "created_hours": 1.0,
        "market": "DE",
        "channel": "web",
        "lat": 52.5,
        "lon": 13.4,
        "fulfilment": "home_delivery",
        "pickup_location": None,
        "max_delivery_days": None,
        "line_id": line_id,
        "sku": sku,
        "qty": 2,
        "status": "reserved",
    }
    return {**row, **extra}


def test_replay_groups_consecutive_lines_into_orders_in_log_order() -> None:
    rows = [
        _row("B", "1"),
        _row("B", "2", "CAP", qty=1),
        _row("A", "1", fulfilment="pickup_in_store", pickup_location="S-HAM", max_delivery_days=2),
    ]
    orders = orders_from_rows(rows)
    assert [o.id for o in orders] == ["B", "A"]
    assert [(ln.line_id, ln.sku, ln.qty) for ln in orders[0].lines] == [("1", "TEE", 2), ("2", "CAP", 1)]
    assert orders[1].fulfilment is FulfilmentType.PICKUP_IN_STORE
    assert (orders[1].pickup_location, orders[1].max_delivery_days) == ("S-HAM", 2.0)
    buf = io.BytesIO()
    pl.DataFrame(rows).write_parquet(buf)
    assert orders_from_parquet(buf.getvalue()) == orders


def test_replay_refuses_lines_of_one_order_apart_and_reads_an_empty_log() -> None:
    with pytest.raises(DomError, match=r"order\[A\]"):
        orders_from_rows([_row("A", "1"), _row("B", "1"), _row("A", "2")])
    buf = io.BytesIO()
    pl.DataFrame().write_parquet(buf)
    assert orders_from_parquet(buf.getvalue()) == []
    buf = io.BytesIO()
    pl.DataFrame([{"order_id": "A"}]).write_parquet(buf)
    with pytest.raises(DomError, match="qty"):
        orders_from_parquet(buf.getvalue())
    assert "created_hours" in COLUMNS  # the exact hours, never the ISO text, give the order's time


def test_empty_service_exports_an_empty_log(api: Any) -> None:
    response = api.get("/orders/export")
    assert response.status_code == 200
    assert orders_from_parquet(response.content) == []
