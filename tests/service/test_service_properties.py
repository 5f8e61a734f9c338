"""Properties of the live service under random sequences of operations (hypothesis).

A sequence places orders (1-4 lines of qty 1-5, every channel, home delivery, pickup in store and ship to
store), ships (all or one location), cancels, receives, adjusts and counts stock (setting safety stock
too), expires reservations, returns shipped units and switches the live strategy. A small model kept by
the test predicts every answer's status and every balance. After each operation:

- never over ATP: each placement reserved at most the ATP ``GET /atp`` showed just before, per location;
  every cell has 0 <= reserved <= on hand (safety stock set later can exceed what is left, so ATP is not
  a bound on reserved); the decision's shipments and transfers take exactly the reserved units;
- stock is conserved: ``/stock/audit`` is ok, its totals are the model's, and per cell
  received + restocked + adjusted == on hand + shipped; the orders' holds add up to what is reserved;
  no SKU is restocked from returns beyond what shipped;
- same operations, same results: two fresh services (two SQLite files; SQLite and PostgreSQL) answer
  every operation alike and end with identical stock and identical stored decisions.

The tests at the end pin service bugs these properties found (fixed): returns of transferred units.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.service.conftest import open_api
from tests.service.pg import PgServer

LOCATIONS = ("DC-BER", "DC-FRA", "S-HAM", "S-MUC", "S-KOL")
STORES = ("S-HAM", "S-MUC", "S-KOL")
SKUS = ("TEE", "JEANS", "JACKET", "SOCKS", "CAP", "EBOOK")  # tests/service/data/rules_small.yaml
DIGITAL = frozenset({"EBOOK"})
PLACES = ((52.52, 13.40), (53.55, 9.99), (48.14, 11.58), (50.94, 6.96), (51.34, 12.37), (47.99, 7.85))
STRATEGIES = (
    "split_shipments",
    "cheapest",
    "fastest",
    "no_split",
    "split_by_line_items",
    "ship_from_primary",
    "ship_from_first_available_or_primary",
    "optimal",
)
START = datetime(2026, 1, 5, 6, tzinfo=UTC)
FAR_FUTURE = "2100-01-04T00:00:00+00:00"  # every reservation's hold has run out by then
WALL_CLOCK_KEYS = frozenset({"placed_at", "reserved_until", "received_at", "at", "created_at"})

Cell = tuple[str, str]

# -- operations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    lines: tuple[tuple[str, int], ...]
    channel: str
    fulfilment: str
    store: str
    where: int
    minutes: int  # after the previous order


@dataclass(frozen=True)
class Ship:
    pick: int
    one_location: bool
    any_order: bool  # else one still reserved


@dataclass(frozen=True)
class Cancel:
    pick: int
    any_order: bool


@dataclass(frozen=True)
class Receive:
    location: str
    sku: str
    qty: int


@dataclass(frozen=True)
class Adjust:
    location: str
    sku: str
    delta: int


@dataclass(frozen=True)
class Count:
    location: str
    sku: str
    on_hand: int
    safety: int | None


@dataclass(frozen=True)
class Expire:
    every_hold: bool  # else at a time before any hold ends (nothing expires)


@dataclass(frozen=True)
class Return:
    pick: int
    line: int
    qty: int
    reason: str
    grade: str


@dataclass(frozen=True)
class Rules:
    strategy: str


Operation = Place | Ship | Cancel | Receive | Adjust | Count | Expire | Return | Rules

_places = st.builds(
    Place,
    lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 5)), min_size=1, max_size=4).map(tuple),
    channel=st.sampled_from(("web", "app", "marketplace")),
    fulfilment=st.sampled_from(("home_delivery", "home_delivery", "pickup_in_store", "ship_to_store")),
    store=st.sampled_from(STORES),
    where=st.integers(0, len(PLACES) - 1),
    minutes=st.integers(0, 600),
)
_picks = st.integers(0, 10_000)
_any = st.integers(0, 3).map(lambda n: n == 0)
_cells = {"location": st.sampled_from(LOCATIONS), "sku": st.sampled_from(SKUS)}
_operations = st.lists(
    st.one_of(
        _places,
        _places,
        st.builds(Ship, pick=_picks, one_location=st.booleans(), any_order=_any),
        st.builds(Ship, pick=_picks, one_location=st.booleans(), any_order=_any),
        st.builds(Cancel, pick=_picks, any_order=_any),
        st.builds(Receive, qty=st.integers(1, 5), **_cells),
        st.builds(Adjust, delta=st.integers(-5, 5).filter(bool), **_cells),
        st.builds(Count, on_hand=st.integers(0, 12), safety=st.none() | st.integers(0, 3), **_cells),
        st.builds(Expire, every_hold=_any),
        st.builds(
            Return,
            pick=_picks,
            line=st.integers(0, 3),
            qty=st.integers(1, 3),
            reason=st.sampled_from(("changed_mind", "does_not_fit", "defective")),
            grade=st.sampled_from(("A", "B", "C", "D")),
        ),
        st.builds(Rules, strategy=st.sampled_from(STRATEGIES)),
    ),
    min_size=10,
    max_size=40,
)
OPERATIONS = st.tuples(st.lists(_places, min_size=2, max_size=6), _operations).map(lambda t: t[0] + t[1])
"""A few orders first, then anything (so that most operations find orders to work on)."""

# -- the model and the driver --------------------------------------------------------------------------


@dataclass
class OrderState:
    """What the model knows of one placed order."""

    status: str
    held: dict[Cell, int]
    decision: dict[str, Any]
    lines: list[tuple[str, str]]  # (line id, sku)
    reserved: frozenset[Cell] = frozenset()  # cells reserved at placement
    shipped: set[Cell] = field(default_factory=set)  # cells whose held units left
    returned: Counter[str] = field(default_factory=Counter)  # units per line id in accepted returns


def _wall_clock_free(value: Any) -> Any:
    """A JSON value without the keys holding wall-clock times (which differ between runs)."""
    if isinstance(value, dict):
        return {k: _wall_clock_free(v) for k, v in value.items() if k not in WALL_CLOCK_KEYS}
    if isinstance(value, list | tuple):
        return [_wall_clock_free(v) for v in value]
    return value


class Driver:
    """Runs operations on one service, checks every answer against the model and the invariants."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cells: dict[Cell, list[int]] = {}  # on hand, reserved, safety
        self.flow: dict[Cell, Counter[str]] = {}  # received, restocked, adjusted, shipped
        self.orders: dict[str, OrderState] = {}
        self.clock = START
        self.outcomes: list[Any] = []
        self.end: Any = None  # final(), once the run is over
        for row in self.get("/stock"):
            cell = (row["location"], row["sku"])
            self.cells[cell] = [row["on_hand"], 0, row["safety"]]
            self.flow[cell] = Counter(received=row["on_hand"])

    def get(self, url: str, **params: Any) -> Any:
        response = self.client.get(url, params=params)
        assert response.status_code == 200, (url, response.text)
        return response.json()

    def cell(self, loc: str, sku: str) -> list[int]:
        self.flow.setdefault((loc, sku), Counter())
        return self.cells.setdefault((loc, sku), [0, 0, 0])

    def run(self, operations: list[Operation]) -> None:
        handlers = {
            Place: self.place,
            Ship: self.ship,
            Cancel: self.cancel,
            Receive: self.receive,
            Adjust: self.adjust,
            Count: self.count,
            Expire: self.expire,
            Return: self.return_,
            Rules: self.rules,
        }
        for op in operations:
            outcome = handlers[type(op)](op)  # type: ignore[operator]
            event(f"{type(op).__name__}: {outcome[0] if isinstance(outcome, tuple) else outcome}")
            self.outcomes.append((op, _wall_clock_free(outcome)))
            self.check()

    def pick(self, n: int, among: str = "any") -> tuple[str, OrderState] | None:
        """The ``n``-th order (modulo) of all, of those still reserved or of those with shipped units."""
        ids = sorted(
            i
            for i, o in self.orders.items()
            if among == "any"
            or (among == "reserved" and o.status == "reserved")
            or (among == "shipped" and (o.status == "shipped" or o.shipped))
        )
        if not ids:
            return None
        return ids[n % len(ids)], self.orders[ids[n % len(ids)]]

    # operations: each returns (status code, body) or a reason it was not sent
    def place(self, op: Place) -> Any:
        self.clock += timedelta(minutes=op.minutes)
        order_id = f"P{len(self.orders):03d}"
        lines = [(str(i), sku) for i, (sku, _) in enumerate(op.lines)]
        atp = {sku: self.get("/atp", sku=sku)["by_location"] for sku in sorted({s for _, s in lines})}
        for sku, by_location in atp.items():  # ATP as shown is the model's
            for loc in LOCATIONS:
                h, r, s = self.cells.get((loc, sku), (0, 0, 0))
                assert by_location[loc] == max(0, h - r - s), (loc, sku)
        body: dict[str, Any] = {
            "id": order_id,
            "market": "DE",
            "channel": op.channel,
            "lat": PLACES[op.where][0],
            "lon": PLACES[op.where][1],
            "lines": [{"line_id": str(i), "sku": s, "qty": q} for i, (s, q) in enumerate(op.lines)],
            "fulfilment": op.fulfilment,
            "created_at": self.clock.isoformat(),
        }
        if op.fulfilment != "home_delivery":
            body["pickup_location"] = op.store
        response = self.client.post("/orders", json=body)
        assert response.status_code == 201, response.text
        placed = response.json()
        decision = placed["decision"]
        held = {(c["location"], c["sku"]): c["qty"] for c in placed["reservation"]}
        for (loc, sku), qty in held.items():  # never over the ATP shown just before
            assert 0 < qty <= atp[sku][loc], (order_id, loc, sku, qty, atp[sku])
        taken: Counter[Cell] = Counter()
        for shipment in decision["shipments"]:
            for ln in shipment["lines"]:
                taken[(shipment["location"], ln["sku"])] += ln["qty"]
        for t in decision["transfers"]:
            taken[(t["to_location"], t["sku"])] -= t["qty"]
            taken[(t["from_location"], t["sku"])] += t["qty"]
        assert {c: q for c, q in taken.items() if q} == held, order_id
        requested = sum(q for _, q in op.lines)
        digital = sum(q for s, q in op.lines if s in DIGITAL)
        served = decision["units_allocated"] + sum(ln["qty"] for ln in decision["digital_lines"])
        assert served + decision["units_unfulfilled"] == requested, order_id
        physical = requested > digital
        status = ("reserved" if held else "refused") if physical else "shipped"  # digital: delivered at once
        assert placed["status"] == status, order_id
        for (loc, sku), qty in held.items():
            self.cell(loc, sku)[1] += qty
        self.orders[order_id] = OrderState(status, held, decision, lines, frozenset(held))
        return response.status_code, placed

    def ship(self, op: Ship) -> Any:
        picked = self.pick(op.pick, "any" if op.any_order else "reserved")
        if picked is None:
            return "no orders"
        order_id, order = picked
        assert order.status != "reserved" or order.held, order_id  # a reserved order holds units
        location = None
        if op.one_location and order.held:
            locations = sorted({loc for loc, _ in order.held})
            location = locations[op.pick % len(locations)]
        response = self.client.post(f"/orders/{order_id}/ship", json={"location": location})
        if order.status != "reserved":
            assert response.status_code == 409, response.text
            return response.status_code, response.json()
        assert response.status_code == 200, response.text
        for (loc, sku), qty in list(order.held.items()):
            if location in (None, loc):
                balance = self.cell(loc, sku)
                balance[0] -= qty
                balance[1] -= qty
                self.flow[(loc, sku)]["shipped"] += qty
                order.shipped.add((loc, sku))
                del order.held[(loc, sku)]
        order.status = "reserved" if order.held else "shipped"
        assert response.json()["status"] == order.status
        return response.status_code, response.json()

    def _release(self, order: OrderState, status: str) -> None:
        for (loc, sku), qty in order.held.items():
            self.cell(loc, sku)[1] -= qty
        order.held, order.status = {}, status

    def cancel(self, op: Cancel) -> Any:
        picked = self.pick(op.pick, "any" if op.any_order else "reserved")
        if picked is None:
            return "no orders"
        order_id, order = picked
        response = self.client.post(f"/orders/{order_id}/cancel")
        if order.status != "reserved":
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 200, response.text
            self._release(order, "cancelled")
        return response.status_code, response.json()

    def expire(self, op: Expire) -> Any:
        at = FAR_FUTURE if op.every_hold else START.isoformat()
        response = self.client.post("/orders/expire", json={"now": at})
        assert response.status_code == 200, response.text
        due = sorted(i for i, o in self.orders.items() if o.status == "reserved" and op.every_hold)
        assert sorted(response.json()["expired"]) == due
        for order_id in due:
            self._release(self.orders[order_id], "expired")
        return response.status_code, sorted(response.json()["expired"])

    def receive(self, op: Receive) -> Any:
        items = [{"location": op.location, "sku": op.sku, "qty": op.qty}]
        response = self.client.post("/stock/receive", json={"items": items})
        assert response.status_code == 200, response.text
        self.cell(op.location, op.sku)[0] += op.qty
        self.flow[(op.location, op.sku)]["received"] += op.qty
        return response.status_code, response.json()

    def adjust(self, op: Adjust) -> Any:
        items = [{"location": op.location, "sku": op.sku, "delta": op.delta}]
        response = self.client.post("/stock/adjust", json={"items": items})
        balance = self.cell(op.location, op.sku)
        if balance[0] + op.delta < balance[1]:
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 200, response.text
            balance[0] += op.delta
            self.flow[(op.location, op.sku)]["adjusted"] += op.delta
        return response.status_code, response.json()

    def count(self, op: Count) -> Any:
        item: dict[str, Any] = {"location": op.location, "sku": op.sku, "on_hand": op.on_hand}
        if op.safety is not None:
            item["safety"] = op.safety
        response = self.client.put("/stock", json={"items": [item]})
        balance = self.cell(op.location, op.sku)
        if op.on_hand < balance[1]:
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 200, response.text
            self.flow[(op.location, op.sku)]["adjusted"] += op.on_hand - balance[0]
            balance[0] = op.on_hand
            if op.safety is not None:
                balance[2] = op.safety
        return response.status_code, response.json()

    def returnable(self, order: OrderState, line_id: str) -> int:
        """Units of a line that left and were not returned yet.

        A shipment's units of a SKU left when every reservation feeding them was committed: the one at
        the shipment's location and those at the sources of transfers into it (test_units_*_transfer_*).
        """
        feeds: dict[Cell, set[Cell]] = {}
        for t in order.decision["transfers"]:
            feeds.setdefault((t["to_location"], t["sku"]), set()).add((t["from_location"], t["sku"]))
        left = 0
        for s in order.decision["shipments"]:
            for ln in s["lines"]:
                if ln["line_id"] != line_id:
                    continue
                cell = (s["location"], ln["sku"])
                cells = feeds.get(cell, set()) | ({cell} & order.reserved)
                left += ln["qty"] if cells and cells <= order.shipped else 0
        return int(left) - order.returned[line_id]

    def return_(self, op: Return) -> Any:
        picked = self.pick(op.pick, "shipped")
        if picked is None:
            return "no orders"
        order_id, order = picked
        line_id, _sku = order.lines[op.line % len(order.lines)]
        can = self.returnable(order, line_id)
        body = {
            "order_id": order_id,
            "line_id": line_id,
            "qty": op.qty,
            "reason": op.reason,
            "grade": op.grade,
        }
        response = self.client.post("/returns", json=body)
        if op.qty > can:
            assert response.status_code == 422, response.text
            return response.status_code, response.json()
        assert response.status_code == 201, response.text
        made = response.json()
        if made["status"] == "rejected":
            return response.status_code, made
        order.returned[line_id] += op.qty
        received = self.client.post(f"/returns/{made['id']}/receive")
        assert received.status_code == 200, received.text
        if made["disposition"] == "restock":
            self.cell(made["location"], made["sku"])[0] += op.qty
            self.flow[(made["location"], made["sku"])]["restocked"] += op.qty
        return response.status_code, made, received.json()

    def rules(self, op: Rules) -> Any:
        response = self.client.put("/rules", json={"strategy": op.strategy})
        assert response.status_code == 201, response.text
        return response.status_code, response.json()

    # invariants --------------------------------------------------------------------------------------
    def check(self) -> None:
        rows = self.get("/stock")
        stored = {}
        for r in rows:
            assert 0 <= r["reserved"] <= r["on_hand"], r
            assert r["safety"] >= 0 and r["atp"] == max(0, r["on_hand"] - r["reserved"] - r["safety"]), r
            stored[(r["location"], r["sku"])] = (r["on_hand"], r["reserved"], r["safety"])
        model = {c: tuple(b) for c, b in self.cells.items() if any(b)}
        assert {c: b for c, b in stored.items() if any(b)} == model
        holds: Counter[Cell] = Counter()
        for order in self.orders.values():
            holds.update(order.held)
        assert {c: b[1] for c, b in model.items() if b[1]} == dict(+holds)
        for c, flow in self.flow.items():
            on_hand = stored.get(c, (0, 0, 0))[0]
            assert flow["received"] + flow["restocked"] + flow["adjusted"] == on_hand + flow["shipped"], c
        audit = self.get("/stock/audit")
        assert audit["ok"], audit["mismatches"]
        total: Counter[str] = Counter()
        for flow in self.flow.values():
            total.update(flow)
        assert audit["units"] == {
            "received": total["received"],
            "restocked": total["restocked"],
            "adjusted": total["adjusted"],
            "shipped": total["shipped"],
            "reserved": sum(b[1] for b in self.cells.values()),
            "on_hand": sum(b[0] for b in self.cells.values()),
        }
        restocked: Counter[str] = Counter()
        shipped: Counter[str] = Counter()
        for (_, sku), flow in self.flow.items():
            restocked[sku] += flow["restocked"]
            shipped[sku] += flow["shipped"]
        assert all(restocked[s] <= shipped[s] for s in restocked), "units came back that never left"

    def final(self) -> Any:
        """The end state: every stock row and every stored order, wall-clock times left out."""
        orders = self.get("/orders", limit=1000)["items"]
        for o in orders:
            state = self.orders[o["id"]]
            assert o["status"] == state.status, o["id"]
            assert {(c["location"], c["sku"]): c["qty"] for c in o["reservation"]} == state.held, o["id"]
        return self.get("/stock"), _wall_clock_free(orders)


@contextlib.contextmanager
def fresh_service(db_url: str | None = None) -> Iterator[Any]:
    """A TestClient on rules_small.yaml over a new SQLite file (or the given empty database)."""
    with tempfile.TemporaryDirectory(prefix="dom-prop-") as tmp:
        client, svc = open_api(db_url or f"sqlite:///{Path(tmp) / 'dom.db'}")
        try:
            with client:  # type: ignore[attr-defined]
                yield client
        finally:
            svc.db.dispose()  # type: ignore[attr-defined]


def run(operations: list[Operation], db_url: str | None = None) -> Driver:
    """The operations run on a fresh service, checked all the way."""
    with fresh_service(db_url) as client:
        driver = Driver(client)
        driver.run(operations)
        driver.end = driver.final()
    return driver


def bounded(examples: int) -> settings:
    """Few examples, no deadline: every example runs a fresh service on a real database."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@bounded(25)
@given(operations=OPERATIONS)
def test_operations_never_reserve_over_atp_and_conserve_stock(operations: list[Operation]) -> None:
    run(operations)


@bounded(10)
@given(operations=OPERATIONS)
def test_same_operations_on_two_fresh_services_give_the_same_results(operations: list[Operation]) -> None:
    first, second = run(operations), run(operations)
    assert second.outcomes == first.outcomes
    assert second.end == first.end


@bounded(6)
@given(operations=OPERATIONS)
def test_postgresql_and_sqlite_give_the_same_results(
    pg_server: PgServer, operations: list[Operation]
) -> None:
    name = f"p_{uuid.uuid4().hex}"
    url = pg_server.create_database(name)
    try:
        on_pg = run(operations, url)
    finally:
        pg_server.drop_database(name)
    on_sqlite = run(operations)
    assert on_pg.outcomes == on_sqlite.outcomes
    assert on_pg.end == on_sqlite.end


# -- service bugs the properties step around ------------------------------------------------------------


def _order(order_id: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "id": order_id,
        "market": "DE",
        "channel": "web",
        "lat": 52.52,
        "lon": 13.40,
        "lines": [{"line_id": str(i), "sku": s, "qty": q} for i, (s, q) in enumerate(lines)],
        "created_at": "2026-01-05T09:00:00+00:00",
    }


def _ship_from_primary(api: Any, lines: list[tuple[str, int]]) -> dict[str, Any]:
    """An order placed under ship_from_primary: its JACKETs come from DC-FRA to DC-BER by transfer."""
    assert api.put("/rules", json={"strategy": "ship_from_primary"}).status_code == 201
    placed: dict[str, Any] = api.post("/orders", json=_order("X1", lines)).json()
    transfers = placed["decision"]["transfers"]
    assert [(t["from_location"], t["to_location"], t["sku"], t["qty"]) for t in transfers] == [
        ("DC-FRA", "DC-BER", "JACKET", 2)
    ]
    assert [s["location"] for s in placed["decision"]["shipments"]] == ["DC-BER"]
    return placed


def _return(order_id: str, line_id: str, qty: int) -> dict[str, Any]:
    return {"order_id": order_id, "line_id": line_id, "qty": qty, "reason": "changed_mind", "grade": "A"}


def test_units_still_at_a_transfer_source_cannot_be_returned(api: Any) -> None:
    placed = _ship_from_primary(api, [("JACKET", 2), ("TEE", 1)])
    assert [(c["location"], c["sku"]) for c in placed["reservation"]] == [
        ("DC-BER", "TEE"),
        ("DC-FRA", "JACKET"),
    ]
    shipped = api.post("/orders/X1/ship", json={"location": "DC-BER"}).json()  # the TEE leaves
    assert [(c["location"], c["sku"]) for c in shipped["reservation"]] == [("DC-FRA", "JACKET")]
    response = api.post("/returns", json=_return("X1", "0", 2))  # the JACKETs never left DC-FRA
    assert response.status_code == 422, response.text


def test_units_shipped_by_transfer_can_be_returned(api: Any) -> None:
    placed = _ship_from_primary(api, [("JACKET", 2)])
    assert [(c["location"], c["sku"], c["qty"]) for c in placed["reservation"]] == [("DC-FRA", "JACKET", 2)]
    assert api.post("/orders/X1/ship").json()["status"] == "shipped"
    assert api.get("/stock/audit").json()["units"]["shipped"] == 2
    response = api.post("/returns", json=_return("X1", "0", 1))
    assert response.status_code == 201, response.text
