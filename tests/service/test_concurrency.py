"""The service under concurrent clients and a crash: real clients, real server processes, a real database.

1. Races (``test_race_for_scarce_stock``): 8 clients, each with its own ``httpx.Client``, place orders for
   scarce SKUs (tests/service/data/rules_scarce.yaml: 30 TEE across five locations against ~500 demanded)
   on ``dom serve --workers N``; web and app orders use split_shipments over DCs and stores, marketplace
   orders cheapest with one shipment from DCs only. While they run, settlers ship (all, or one location),
   cancel, or ship and cancel the same order at once, and a receiver books receipts. On PostgreSQL a lost
   race is first forced (a row lock held while a stock adjustment and an order queue behind it), so the
   retry path certainly runs. Then everything the clients were told is checked against the API (GET
   /stock, GET /orders pages, GET /stock/audit, GET /metrics) and the database itself (SQLAlchemy on the
   same URL); then every order still reserved is settled concurrently while more orders arrive, and it
   is all checked again.
2. Crash (``test_kill9_mid_load_loses_nothing``): the same kind of load; the whole server process group is
   SIGKILLed after ~N acknowledged orders while clients are still sending; the server restarts on the same
   database. Every acknowledged order and settlement is there as acknowledged, the journal matches the
   balances, orders whose request got no answer are whole or absent, and replays with the same
   Idempotency-Key return the first answer and change nothing.

The clients record what they were told in a ``Ledger`` (the state the service must be in); ``verify``
compares the service with it. Worker threads never assert: they note problems in the ledger, and the
test asserts there are none.

The tests at the end pin bugs these checks found (fixed): a repeat of a request under the same
Idempotency-Key while the first is still running got a 409; an idempotent replay counted as another
order placed in the metrics; with several workers the retry metric was missing until the first retry.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, select, text

from service.db.tables import idempotency, movements, stock
from service.db.tables import orders as orders_table
from tests.service.server import READ_KEY, ServiceFactory, ServiceProcess

RULES_SCARCE = Path(__file__).resolve().parent / "data" / "rules_scarce.yaml"

DCS = frozenset({"DC-BER", "DC-FRA"})
ONLINE = DCS | {"S-HAM", "S-MUC", "S-KOL"}
MODELS = {  # channel: (inventory model, locations it may use, max shipments) as in rules_scarce.yaml
    "web": ("de-online", ONLINE, 3),
    "app": ("de-online", ONLINE, 3),
    "marketplace": ("de-marketplace", DCS, 1),
}
SKU_WEIGHTS = {"TEE": 40, "JEANS": 20, "JACKET": 15, "SOCKS": 15, "CAP": 10}
CLIENTS = 8
LOAD_SECONDS = 60.0

Cell = tuple[str, str]  # (location, SKU)


# -- orders and what the clients were told -----------------------------------------------------------


def make_orders(prefix: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` orders: web 55%, marketplace 35%, app 10%; 1-3 lines of 1-3 units; anywhere in Germany."""
    rng = random.Random(seed)
    skus, weights = zip(*SKU_WEIGHTS.items(), strict=True)
    out = []
    for i in range(n):
        channel = rng.choices(["web", "marketplace", "app"], [55, 35, 10])[0]
        lines = [
            {"line_id": str(j + 1), "sku": rng.choices(skus, weights)[0], "qty": rng.randint(1, 3)}
            for j in range(rng.choices([1, 2, 3], [55, 30, 15])[0])
        ]
        out.append(
            {
                "id": f"{prefix}-{i:04d}",
                "market": "DE",
                "channel": channel,
                "lat": round(rng.uniform(47.5, 54.5), 4),
                "lon": round(rng.uniform(6.0, 14.5), 4),
                "lines": lines,
            }
        )
    return out


def place_key(order_id: str) -> str:
    return f"place-{order_id}"


def cells_of(items: Iterable[Any]) -> Counter[Cell]:
    """Units per (location, SKU) of a reservation: API dicts or stored ``[location, sku, qty]`` lists."""
    out: Counter[Cell] = Counter()
    for item in items:
        loc, sku, qty = (item["location"], item["sku"], item["qty"]) if isinstance(item, dict) else item
        out[(loc, sku)] += int(qty)
    return out


def starting_stock(rules: Path) -> tuple[Counter[Cell], dict[Cell, int]]:
    """(on hand, safety stock) per cell as the rules file seeds them."""
    rows = yaml.safe_load(rules.read_text())["network"]["stock"]
    on_hand = Counter({(r["location"], r["sku"]): int(r["on_hand"]) for r in rows})
    return on_hand, {(r["location"], r["sku"]): int(r.get("safety", 0)) for r in rows}


@dataclass
class Placed:
    """One order a client got a 201 for, and what it should look like now."""

    body: dict[str, Any]
    response: dict[str, Any]  # the 201 body, exactly as received
    status: str
    held: Counter[Cell]
    shipped: Counter[Cell] = field(default_factory=Counter)
    released: Counter[Cell] = field(default_factory=Counter)
    pending: tuple[str, str | None] | None = None  # a settlement (action, location) that got no answer

    @property
    def id(self) -> str:
        return str(self.body["id"])


class Ledger:
    """What the clients were told, i.e. the state the service must be in. Thread-safe."""

    def __init__(self, rules: Path) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, Placed] = {}
        self.received, self.safety = starting_stock(rules)
        self.adjusted: Counter[Cell] = Counter()
        self.refs = {"initial"}  # journal refs other than order ids
        self.answers: Counter[tuple[str, int]] = Counter()
        self.problems: list[str] = []
        self.unanswered: dict[str, tuple[dict[str, Any], str]] = {}  # order id: (body, exception class)
        self.placements = 0  # 201s to POST /orders, replays included

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def count(self, what: str, resp: httpx.Response) -> None:
        with self.lock:
            self.answers[(what, resp.status_code)] += 1
        if resp.status_code >= 500:
            self.problem(f"{what}: {resp.status_code} {resp.text[:300]}")

    def placed(self, body: dict[str, Any], response: dict[str, Any]) -> Placed:
        p = Placed(body, response, response["status"], cells_of(response["reservation"]))
        with self.lock:
            self.placements += 1
            if p.id in self.orders:
                self.problems.append(f"{p.id}: placed twice")
            self.orders[p.id] = p
            self.unanswered.pop(p.id, None)
        return p

    def no_answer(self, body: dict[str, Any], exc: Exception) -> None:
        with self.lock:
            self.unanswered[body["id"]] = (body, type(exc).__name__)

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.orders)

    def statuses(self) -> Counter[str]:
        with self.lock:
            return Counter(p.response["status"] for p in self.orders.values())


# -- client work (threads: problems go to the ledger, never an assert) --------------------------------


def place_orders(
    svc: ServiceProcess,
    batch: list[dict[str, Any]],
    ledger: Ledger,
    on_reserved: Callable[[str], None] | None = None,
    crash_expected: bool = False,
) -> None:
    """Place ``batch`` one after another with one client; each order under its own Idempotency-Key.

    A request without an answer is noted in ``ledger.unanswered``; with ``crash_expected`` the client
    stops there (the server is gone), else it is a problem.
    """
    with svc.client() as client:
        for body in batch:
            try:
                resp = client.post("/orders", json=body, headers={"Idempotency-Key": place_key(body["id"])})
            except httpx.TransportError as exc:
                ledger.no_answer(body, exc)
                if crash_expected:
                    return
                ledger.problem(f"POST /orders {body['id']}: no answer ({exc!r})")
                continue
            ledger.count("POST /orders", resp)
            if resp.status_code != 201:
                ledger.problem(f"POST /orders {body['id']}: {resp.status_code} {resp.text[:300]}")
                continue
            p = ledger.placed(body, resp.json())
            if p.status == "reserved" and on_reserved is not None:
                on_reserved(p.id)


def choose_action(seed: int, order_id: str, race: bool) -> str:
    """What a settler does with a reserved order (deterministic per seed and order)."""
    actions = {"keep": 25, "ship": 25, "ship_part": 12, "cancel": 25, "race": 13 if race else 0}
    return random.Random(f"{seed}/{order_id}").choices(list(actions), list(actions.values()))[0]


def _request(action: str, p: Placed, location: str | None) -> tuple[str, dict[str, Any] | None, str]:
    verb = "cancel" if action == "cancel" else "ship"
    key = f"{action}-{p.id}" + (f"-{location}" if location else "")  # ship_part may come twice
    return f"/orders/{p.id}/{verb}", ({"location": location} if location else None), key


def _apply(ledger: Ledger, p: Placed, action: str, location: str | None, resp: httpx.Response) -> None:
    """Book a settlement the service answered 200 to, checking the answer against the expectation."""
    if resp.status_code != 200:
        ledger.problem(f"{action} {p.id}: {resp.status_code} {resp.text[:300]}")
        return
    if action == "cancel":
        status, held, shipped, released = "cancelled", Counter[Cell](), Counter[Cell](), +p.held
    else:
        shipped = Counter({c: q for c, q in p.held.items() if location is None or c[0] == location})
        held, released = p.held - shipped, Counter()
        status = "reserved" if held else "shipped"
    body = resp.json()
    if body["status"] != status or cells_of(body["reservation"]) != held:
        ledger.problem(
            f"{action} {p.id}: answered {body['status']} {body['reservation']}, expected {status} {held}"
        )
    p.status, p.held, p.pending = status, held, None
    p.shipped += shipped
    p.released += released


def settle(
    client: httpx.Client, partner: httpx.Client, ledger: Ledger, p: Placed, action: str, crash_expected: bool
) -> bool:
    """Ship (all, or ``ship_part``: one location), cancel, or ``race`` ship against cancel.

    False when the request got no answer."""
    if action == "keep":
        return True
    if action == "race":
        race_ship_and_cancel(client, partner, ledger, p)
        return True
    location = sorted(p.held)[0][0] if action == "ship_part" else None
    path, payload, key = _request(action, p, location)
    try:
        resp = client.post(path, json=payload, headers={"Idempotency-Key": key})
    except httpx.TransportError as exc:
        p.pending = (action, location)
        if not crash_expected:
            ledger.problem(f"{action} {p.id}: no answer ({exc!r})")
        return False
    ledger.count(f"POST /orders/{{id}}/{action}", resp)
    _apply(ledger, p, action, location, resp)
    return True


def race_ship_and_cancel(client: httpx.Client, partner: httpx.Client, ledger: Ledger, p: Placed) -> None:
    """Ship and cancel one order at the same moment: exactly one wins, the other is a 409 wrong_status."""
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response | Exception] = {}

    def go(action: str, c: httpx.Client) -> None:
        barrier.wait()
        try:
            answers[action] = c.post(
                f"/orders/{p.id}/{action}", headers={"Idempotency-Key": f"race-{action}-{p.id}"}
            )
        except httpx.TransportError as exc:
            answers[action] = exc

    other = threading.Thread(target=go, args=("cancel", partner))
    other.start()
    go("ship", client)
    other.join()
    for action, resp in answers.items():
        if isinstance(resp, Exception):
            ledger.problem(f"race {action} {p.id}: no answer ({resp!r})")
            return
        ledger.count(f"POST /orders/{{id}}/{action} (race)", resp)
    won = [a for a, r in answers.items() if isinstance(r, httpx.Response) and r.status_code == 200]
    lost = [a for a in answers if a not in won]
    if len(won) != 1:
        ledger.problem(f"race {p.id}: {len(won)} of ship/cancel succeeded: {answers}")
        return
    loser = answers[lost[0]]
    assert isinstance(loser, httpx.Response)
    if loser.status_code != 409 or loser.json()["detail"][0]["type"] != "wrong_status":
        ledger.problem(f"race {p.id}: the loser {lost[0]} got {loser.status_code} {loser.text[:200]}")
    winner = answers[won[0]]
    assert isinstance(winner, httpx.Response)
    _apply(ledger, p, won[0], None, winner)


def settler(
    svc: ServiceProcess,
    work: queue.Queue[str | None],
    ledger: Ledger,
    seed: int,
    race: bool,
    crash_expected: bool,
) -> None:
    """Settle reserved orders from ``work`` until None (or, with ``crash_expected``, the first unanswered)."""
    with svc.client() as client, svc.client() as partner:
        while (order_id := work.get()) is not None:
            p = ledger.orders[order_id]
            if not settle(client, partner, ledger, p, choose_action(seed, order_id, race), crash_expected):
                return


def receiver(svc: ServiceProcess, ledger: Ledger, n: int, seed: int, pause: float) -> None:
    """Book ``n`` small receipts at stocked cells, ``pause`` seconds apart."""
    rng = random.Random(seed)
    cells = sorted(ledger.received)
    with svc.client() as client:
        for i in range(n):
            (loc, sku), qty, ref = rng.choice(cells), rng.randint(1, 3), f"rcv-{seed}-{i}"
            try:
                resp = client.post(
                    "/stock/receive",
                    json={"items": [{"location": loc, "sku": sku, "qty": qty}], "ref": ref},
                    headers={"Idempotency-Key": ref},
                )
            except httpx.TransportError as exc:
                ledger.problem(f"receive {ref}: no answer ({exc!r})")
                continue
            ledger.count("POST /stock/receive", resp)
            if resp.status_code == 200:
                with ledger.lock:
                    ledger.received[(loc, sku)] += qty
                    ledger.refs.add(ref)
            else:
                ledger.problem(f"receive {ref}: {resp.status_code} {resp.text[:200]}")
            time.sleep(pause)


def run_threads(threads: list[threading.Thread], timeout: float) -> None:
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"client threads still running after {timeout:.0f} s"


def run_load(
    svc: ServiceProcess,
    ledger: Ledger,
    orders: list[dict[str, Any]],
    seed: int,
    *,
    settlers: int,
    receipts: int,
) -> None:
    """8 placing clients, ``settlers`` settling what they reserve as it comes, a receiver; all at once."""
    work: queue.Queue[str | None] = queue.Queue()
    placers = [
        threading.Thread(
            target=place_orders, args=(svc, orders[i::CLIENTS], ledger, work.put), name=f"place-{i}"
        )
        for i in range(CLIENTS)
    ]
    settling = [
        threading.Thread(target=settler, args=(svc, work, ledger, seed, True, False), name=f"settle-{i}")
        for i in range(settlers)
    ]
    rcv = threading.Thread(target=receiver, args=(svc, ledger, receipts, seed, 0.2), name="receive")
    for t in [*settling, rcv]:
        t.start()
    run_threads(placers, LOAD_SECONDS)
    for _ in settling:
        work.put(None)
    deadline = time.monotonic() + 30
    for t in [*settling, rcv]:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in [*settling, rcv]), "settlers or receiver still running"


def settle_all(svc: ServiceProcess, ledger: Ledger, seed: int, threads: int) -> None:
    """Settle every order still reserved, from ``threads`` settlers at once (some left reserved)."""
    work: queue.Queue[str | None] = queue.Queue()
    for oid in sorted(oid for oid, p in ledger.orders.items() if p.status == "reserved"):
        work.put(oid)
    for _ in range(threads):
        work.put(None)
    run_threads(
        [
            threading.Thread(target=settler, args=(svc, work, ledger, seed, True, False))
            for _ in range(threads)
        ],
        LOAD_SECONDS,
    )


# -- checks ----------------------------------------------------------------------------------------


def check_decision(body: dict[str, Any], resp: dict[str, Any]) -> None:
    """An order as placed: its reservation is its decision's shipments, at locations its inventory model
    allows, within its max shipments; every unit of every line is shipped or unfulfilled; a refused
    order holds nothing and says why."""
    oid = body["id"]
    model, allowed, max_shipments = MODELS[body["channel"]]
    decision = resp["decision"]
    assert resp["id"] == oid and resp["status"] in {"reserved", "refused"}, (oid, resp["status"])
    assert decision["inventory_model"] == model, (oid, decision["inventory_model"])
    shipments = decision["shipments"]
    locations = [s["location"] for s in shipments]
    assert set(locations) <= allowed, f"{oid} ({body['channel']}) ships from {locations}"
    assert len(shipments) <= max_shipments, f"{oid} ({body['channel']}): {len(shipments)} shipments"
    assert decision["transfers"] == [], oid
    shipped: Counter[Cell] = Counter()
    per_line: Counter[str] = Counter()
    for s in shipments:
        for ln in s["lines"]:
            shipped[(s["location"], ln["sku"])] += ln["qty"]
            per_line[ln["line_id"]] += ln["qty"]
    for u in decision["unfulfilled"]:
        per_line[u["line_id"]] += u["qty"]
        assert u["reason"], (oid, u)
    assert per_line == Counter({ln["line_id"]: ln["qty"] for ln in body["lines"]}), (oid, per_line)
    assert cells_of(resp["reservation"]) == shipped, f"{oid}: reservation {resp['reservation']} vs {shipped}"
    assert resp["units_allocated"] == decision["units_allocated"] == sum(shipped.values()), oid
    assert resp["units_requested"] == sum(ln["qty"] for ln in body["lines"]), oid
    if resp["status"] == "refused":
        assert not shipments and resp["reserved_until"] is None, oid
        assert resp["refused_because"], f"refused order {oid} gives no reason"
        assert decision["units_unfulfilled"] == resp["units_requested"], oid
    else:
        assert shipments and resp["reserved_until"] is not None, oid


@dataclass
class DbState:
    stock: dict[Cell, tuple[int, int, int]]  # on hand, reserved, safety
    journal: dict[str, Counter[Cell]]  # movement kind: units per cell
    by_ref: dict[str, dict[str, Counter[Cell]]]  # ref: kind: units per cell
    orders: dict[str, dict[str, Any]]
    keys: dict[str, tuple[int, Any]]  # idempotency key: (status code, response)
    movement_rows: int


def read_db(engine: Engine) -> DbState:
    """The service's tables, read directly (SQLAlchemy on the service's own database URL)."""
    journal: dict[str, Counter[Cell]] = defaultdict(Counter)
    by_ref: dict[str, dict[str, Counter[Cell]]] = defaultdict(lambda: defaultdict(Counter))
    with engine.connect() as conn:
        balances = {
            (r.location, r.sku): (int(r.on_hand), int(r.reserved), int(r.safety))
            for r in conn.execute(select(stock))
        }
        rows = 0
        for m in conn.execute(select(movements)):
            rows += 1
            journal[m.kind][(m.location, m.sku)] += int(m.qty)
            by_ref[m.ref][m.kind][(m.location, m.sku)] += int(m.qty)
        placed = {r.id: dict(r._mapping) for r in conn.execute(select(orders_table))}
        keys = {r.key: (int(r.status_code), r.response) for r in conn.execute(select(idempotency))}
    return DbState(balances, journal, by_ref, placed, keys, rows)


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    resp = client.get(path, params=params)
    assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def list_orders(client: httpx.Client, page: int = 100) -> list[dict[str, Any]]:
    """Every order through GET /orders, ``page`` at a time."""
    out: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        body = get_json(client, "/orders", limit=page, offset=offset)
        out.extend(body["items"])
        offset = body["next_offset"]
    return out


def verify(svc: ServiceProcess, engine: Engine, ledger: Ledger) -> dict[str, Any]:
    """The service (API and database) against what its clients were told; returns the figures."""
    assert not ledger.problems, "\n".join(ledger.problems[:20])
    assert not ledger.unanswered, f"requests without an answer: {sorted(ledger.unanswered)[:20]}"
    for p in ledger.orders.values():
        check_decision(p.body, p.response)
    with svc.client(READ_KEY) as client:
        api_stock = {(r["location"], r["sku"]): r for r in get_json(client, "/stock")}
        api_orders = list_orders(client)
        audit = get_json(client, "/stock/audit")
    db = read_db(engine)

    # every acknowledged order is stored, as acknowledged and then settled; no other order is
    assert set(db.orders) == set(ledger.orders), (
        f"stored but never acknowledged: {sorted(set(db.orders) - set(ledger.orders))[:10]}; "
        f"acknowledged but not stored: {sorted(set(ledger.orders) - set(db.orders))[:10]}"
    )
    api_by_id = {o["id"]: o for o in api_orders}
    assert len(api_orders) == len(api_by_id) == len(ledger.orders), "GET /orders pages repeat or miss orders"
    for oid, p in ledger.orders.items():
        row, view = db.orders[oid], api_by_id[oid]
        assert (row["status"], view["status"]) == (p.status, p.status), (oid, row["status"], p.status)
        assert cells_of(row["held"]) == cells_of(view["reservation"]) == p.held, (oid, row["held"], p.held)
        assert row["decision"] == view["decision"] == p.response["decision"], f"{oid}: decision changed"
        kinds = db.by_ref.get(oid, {})
        assert set(kinds) <= {"reserve", "commit", "release"}, (oid, set(kinds))
        assert kinds.get("reserve", Counter()) == cells_of(p.response["reservation"]), (
            f"{oid}: reserve journal"
        )
        assert kinds.get("commit", Counter()) == p.shipped, f"{oid}: commit journal {kinds.get('commit')}"
        assert kinds.get("release", Counter()) == p.released, f"{oid}: release journal {kinds.get('release')}"
    strays = set(db.by_ref) - set(ledger.orders) - ledger.refs
    assert not strays, f"journal rows nobody asked for: {sorted(strays)[:10]}"

    # balances: per cell against the journal, the orders' holds and the clients' own books
    held_by_orders: Counter[Cell] = Counter()
    for row in db.orders.values():
        if row["status"] == "reserved":
            held_by_orders += cells_of(row["held"])
    held_told = sum((p.held for p in ledger.orders.values()), Counter[Cell]())
    shipped_told = sum((p.shipped for p in ledger.orders.values()), Counter[Cell]())
    j = db.journal
    for cell in sorted(set(db.stock) | set(j["receive"]) | set(j["reserve"])):
        on_hand, reserved, safety = db.stock.get(cell, (0, 0, 0))
        received, adjusted, shipped = j["receive"][cell], j["adjust"][cell], j["commit"][cell]
        api = api_stock[cell]
        assert (api["on_hand"], api["reserved"], api["safety"]) == (on_hand, reserved, safety), cell
        assert api["atp"] == max(0, on_hand - reserved - safety), cell
        assert 0 <= reserved <= on_hand, f"{cell}: reserved {reserved}, on hand {on_hand}"
        assert reserved <= on_hand - safety, f"{cell}: reservations dip into safety stock {safety}"
        assert reserved + shipped <= received + adjusted, (
            f"{cell}: {reserved} + {shipped} > {received} + {adjusted}"
        )
        assert on_hand == received + adjusted - shipped, f"{cell}: on hand {on_hand} vs the journal"
        assert reserved == j["reserve"][cell] - j["release"][cell] - shipped, (
            f"{cell}: reserved vs the journal"
        )
        assert reserved == held_by_orders[cell] == held_told[cell], (
            f"{cell}: stock reserves {reserved}, orders hold {held_by_orders[cell]}, clients were told "
            f"{held_told[cell]}"
        )
        assert received == ledger.received[cell], (
            f"{cell}: received {received}, acknowledged {ledger.received[cell]}"
        )
        assert adjusted == ledger.adjusted[cell], cell
        assert shipped == shipped_told[cell], f"{cell}: shipped {shipped}, acknowledged {shipped_told[cell]}"
        assert safety == ledger.safety.get(cell, 0), cell

    assert audit["ok"] is True and audit["mismatches"] == [], audit
    units = audit["units"]
    assert units["reserved"] == sum(s[1] for s in db.stock.values()) == sum(held_told.values())
    assert units["shipped"] == sum(shipped_told.values())
    assert units["received"] == sum(ledger.received.values())
    assert units["on_hand"] == units["received"] + units["adjusted"] - units["shipped"]
    statuses = Counter(p.status for p in ledger.orders.values())
    return {"orders": len(ledger.orders), **statuses, "units": units}


def metric(exposition: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Samples ``name`` of a Prometheus text exposition: (labels, value)."""
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == name
    ]


def check_metrics(svc: ServiceProcess, ledger: Ledger, *, retries_listed: bool) -> dict[str, float]:
    """Orders placed (by status) and refused add up to the 201s; no 5xx; the retries by reason.

    With ``retries_listed`` the retry metric must be listed even if no retry happened (see
    test_retry_metric_is_listed_before_the_first_retry)."""
    with svc.client(READ_KEY) as client:
        resp = client.get("/metrics")
    assert resp.status_code == 200
    exposition = resp.text
    placed = metric(exposition, "dom_orders_placed_total")
    told = ledger.statuses()
    assert sum(v for _, v in placed) == ledger.placements == ledger.answers[("POST /orders", 201)]
    for status in ("reserved", "refused"):
        assert sum(v for lb, v in placed if lb["status"] == status) == told[status], status
    assert sum(v for _, v in metric(exposition, "dom_orders_refused_total")) == told["refused"]
    fives = [
        (lb, v) for lb, v in metric(exposition, "dom_http_requests_total") if lb["status"].startswith("5")
    ]
    assert not fives, f"the service answered 5xx: {fives}"
    if retries_listed:
        assert "dom_reservation_retries_total" in exposition
    retries = metric(exposition, "dom_reservation_retries_total")
    assert {lb["reason"] for lb, _ in retries} <= {"lost_race", "serialization", "deadlock"}, retries
    return {lb["reason"]: v for lb, v in retries}


# -- a lost race made certain (PostgreSQL) ----------------------------------------------------------


def lock_waiters(engine: Engine) -> int:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def wait_for_waiters(engine: Engine, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (got := lock_waiters(engine)) < n:
        assert time.monotonic() < deadline, f"{got} of {n} requests waiting on the row lock after {timeout} s"
        time.sleep(0.02)


def force_lost_race(svc: ServiceProcess, engine: Engine, ledger: Ledger) -> None:
    """Make an order lose a race for certain: hold DC-BER/TEE's row lock, queue behind it an adjustment
    taking its ATP from 10 to 2 and then an order for 4 TEE (its snapshot still shows 10), release. The
    order's conditional UPDATE finds 2 < 4, rolls back and decides again: 2 from DC-BER, 2 elsewhere."""
    order: dict[str, Any] = {
        "id": "forced-race",
        "market": "DE",
        "channel": "web",
        "lat": 52.52,
        "lon": 13.40,
        "lines": [{"line_id": "1", "sku": "TEE", "qty": 4}],
    }
    adjust = {"items": [{"location": "DC-BER", "sku": "TEE", "delta": -8}], "ref": "forced-adjust"}
    with svc.client() as c1, svc.client() as c2, ThreadPoolExecutor(2) as pool:
        holder = engine.connect()
        tx = holder.begin()
        try:
            holder.execute(
                select(stock.c.on_hand)
                .where(stock.c.location == "DC-BER", stock.c.sku == "TEE")
                .with_for_update()
            )
            adjusting = pool.submit(
                c1.post, "/stock/adjust", json=adjust, headers={"Idempotency-Key": "forced-adjust"}
            )
            wait_for_waiters(engine, 1)
            placing = pool.submit(
                c2.post, "/orders", json=order, headers={"Idempotency-Key": place_key(order["id"])}
            )
            wait_for_waiters(engine, 2)
        finally:
            tx.rollback()
            holder.close()
        adjusted, placed = adjusting.result(timeout=30), placing.result(timeout=30)
    ledger.count("POST /stock/adjust", adjusted)
    ledger.count("POST /orders", placed)
    assert adjusted.status_code == 200, adjusted.text
    assert placed.status_code == 201, placed.text
    ledger.adjusted[("DC-BER", "TEE")] -= 8
    ledger.refs.add("forced-adjust")
    p = ledger.placed(order, placed.json())
    assert p.status == "reserved" and sum(p.held.values()) == 4, p.response["reservation"]
    assert p.held[("DC-BER", "TEE")] == 2, f"decided on the stale snapshot: {p.response['reservation']}"
    with svc.client(READ_KEY) as client:
        retries = metric(client.get("/metrics").text, "dom_reservation_retries_total")
    assert sum(v for lb, v in retries if lb["reason"] == "lost_race") >= 1, retries


# -- the tests -------------------------------------------------------------------------------------


def database(request: pytest.FixtureRequest, backend: str) -> str:
    return str(request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url"))


RACES = [
    pytest.param("postgresql", 4, 400, id="postgresql-4-workers"),
    pytest.param("sqlite", 1, 160, id="sqlite-1-worker"),
    pytest.param("sqlite", 2, 160, id="sqlite-2-workers"),
]


@pytest.mark.parametrize(("backend", "workers", "n_orders"), RACES)
def test_race_for_scarce_stock(
    request: pytest.FixtureRequest, service_factory: ServiceFactory, backend: str, workers: int, n_orders: int
) -> None:
    """Clients racing for scarce stock never oversell it, never see a 5xx, and get what is stored."""
    url = database(request, backend)
    svc = service_factory(url, RULES_SCARCE, workers=workers)
    engine = create_engine(url)
    seed = 11
    try:
        ledger = Ledger(RULES_SCARCE)
        if backend == "postgresql":
            force_lost_race(svc, engine, ledger)
        orders = make_orders("race", n_orders, seed)
        demanded: Counter[str] = Counter()
        for o in orders:
            for ln in o["lines"]:
                demanded[ln["sku"]] += ln["qty"]
        assert demanded["TEE"] >= 5 * sum(q for (_, sku), q in ledger.received.items() if sku == "TEE")

        started = time.monotonic()
        run_load(svc, ledger, orders, seed, settlers=2, receipts=10)
        load_s = time.monotonic() - started
        assert load_s < LOAD_SECONDS
        first = verify(svc, engine, ledger)
        assert first.get("reserved", 0) + first.get("shipped", 0) > 0 and first.get("refused", 0) > 0, first

        # every order still reserved is settled (or kept) concurrently while more orders come in
        more = make_orders("race2", 40, seed + 1)
        started2 = time.monotonic()
        run_threads(
            [
                threading.Thread(target=settle_all, args=(svc, ledger, seed + 2, 6)),
                *[threading.Thread(target=place_orders, args=(svc, more[i::2], ledger)) for i in range(2)],
            ],
            LOAD_SECONDS,
        )
        second_s = time.monotonic() - started2
        second = verify(svc, engine, ledger)
        # one worker lists the metric even at 0; several list it once a retry happened (the forced one)
        retries = check_metrics(svc, ledger, retries_listed=workers == 1 or backend == "postgresql")
        if backend == "postgresql":
            assert retries.get("lost_race", 0) >= 1  # the forced one at least
        answers = dict(sorted(ledger.answers.items()))
        print(
            f"\n[{request.node.callspec.id}] {n_orders}+40 orders, load {load_s:.1f} s + {second_s:.1f} s; "
            f"placed as {dict(ledger.statuses())}; after load {first}; at the end {second}; "
            f"retries {retries}; answers {answers}"
        )
    finally:
        engine.dispose()


KILLS = [
    pytest.param("postgresql", 4, 320, 100, id="postgresql-4-workers"),
    pytest.param("sqlite", 1, 240, 60, id="sqlite-1-worker"),
]


@pytest.mark.parametrize(("backend", "workers", "n_orders", "kill_after"), KILLS)
def test_kill9_mid_load_loses_nothing(
    request: pytest.FixtureRequest,
    service_factory: ServiceFactory,
    backend: str,
    workers: int,
    n_orders: int,
    kill_after: int,
) -> None:
    """kill -9 mid-load: what was acknowledged survives, nothing is half-written, replays change nothing."""
    url = database(request, backend)
    svc = service_factory(url, RULES_SCARCE, workers=workers)
    engine = create_engine(url)
    seed = 23
    try:
        ledger = Ledger(RULES_SCARCE)
        orders = make_orders("kill", n_orders, seed)
        work: queue.Queue[str | None] = queue.Queue()
        placers = [
            threading.Thread(target=place_orders, args=(svc, orders[i::CLIENTS], ledger, work.put, True))
            for i in range(CLIENTS)
        ]
        settling = threading.Thread(target=settler, args=(svc, work, ledger, seed, False, True))
        for t in [*placers, settling]:
            t.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while ledger.acknowledged() < kill_after:
            assert time.monotonic() < deadline, f"only {ledger.acknowledged()} orders acknowledged"
            assert any(t.is_alive() for t in placers), "\n".join(ledger.problems) or "clients ended early"
            time.sleep(0.005)
        sending = sum(t.is_alive() for t in placers)
        svc.kill9()
        acked_at_kill = ledger.acknowledged()
        work.put(None)
        for t in [*placers, settling]:
            t.join(30)
        assert not any(t.is_alive() for t in [*placers, settling])
        assert sending == CLIENTS, f"only {sending} clients were still sending at the kill"
        assert not ledger.problems, "\n".join(ledger.problems[:20])
        in_flight = {oid for oid, (_, err) in ledger.unanswered.items() if err != "ConnectError"}
        assert in_flight, f"no request was in flight at the kill: {ledger.unanswered}"
        pending = [p for p in ledger.orders.values() if p.pending is not None]
        unanswered = len(ledger.unanswered)

        svc.start()
        before = read_db(engine)
        with svc.client(READ_KEY) as client:
            # every acknowledged order is there, with its decision and reservation as acknowledged
            for oid, p in ledger.orders.items():
                got = get_json(client, f"/orders/{oid}")
                assert got["decision"] == p.response["decision"], f"{oid}: decision changed"
                assert got["explanation"] == p.response["explanation"], oid
                for when in ("created_at", "placed_at", "reserved_until"):
                    if p.response[when] is not None:
                        assert datetime.fromisoformat(got[when]) == datetime.fromisoformat(p.response[when])
                if p.pending is None:
                    assert got["status"] == p.status and cells_of(got["reservation"]) == p.held, oid
                else:  # the settlement got no answer: done entirely or not at all
                    assert got["status"] in {"reserved", "shipped", "cancelled"}, oid
                    if got["status"] == "reserved" and cells_of(got["reservation"]) == p.held:
                        assert not before.by_ref[oid].keys() - {"reserve"}, f"{oid}: half-settled"
            # unanswered orders: whole or absent, never half-written; not sent at all: absent
            present: dict[str, dict[str, Any]] = {}
            for oid, (body, err) in ledger.unanswered.items():
                resp = client.get(f"/orders/{oid}")
                key = place_key(oid)
                if resp.status_code == 404:
                    assert oid not in before.orders and oid not in before.by_ref and key not in before.keys, (
                        oid
                    )
                    continue
                assert err != "ConnectError", f"{oid} was never sent yet is stored"
                assert resp.status_code == 200, resp.text
                view = resp.json()
                check_decision(body, view)
                assert key in before.keys and before.keys[key][0] == 201, f"{oid} stored without its key"
                assert before.keys[key][1]["decision"] == view["decision"], oid
                journal = before.by_ref.get(oid, {})
                if view["status"] == "reserved":
                    assert journal == {"reserve": cells_of(view["reservation"])}, (oid, journal)
                else:
                    assert view["status"] == "refused" and not journal, (oid, journal)
                present[oid] = view
            audit = get_json(client, "/stock/audit")
        assert audit["ok"] is True and audit["mismatches"] == [], audit
        # every unit is on hand, reserved or shipped; reserved is what the orders hold
        held: Counter[Cell] = Counter()
        for row in before.orders.values():
            if row["status"] == "reserved":
                held += cells_of(row["held"])
        for cell, (on_hand, reserved, _) in before.stock.items():
            assert before.journal["receive"][cell] == on_hand + before.journal["commit"][cell], cell
            assert reserved == held[cell], cell
        assert set(before.orders) <= set(ledger.orders) | set(present), "an order nobody sent"

        # replays with the same Idempotency-Key: the first answer, nothing changes
        replays = [(p.body, p.response) for p in ledger.orders.values()]
        replays += [(ledger.unanswered[oid][0], before.keys[place_key(oid)][1]) for oid in present]

        def replay(item: tuple[dict[str, Any], dict[str, Any]]) -> str | None:
            body, first = item
            with svc.client() as c:
                resp = c.post("/orders", json=body, headers={"Idempotency-Key": place_key(body["id"])})
            if resp.status_code != 201 or resp.json() != first:
                return f"{body['id']}: {resp.status_code} {resp.text[:300]}"
            return None

        with ThreadPoolExecutor(4) as pool:
            wrong = [w for w in pool.map(replay, replays) if w]
        assert not wrong, wrong[:5]
        after = read_db(engine)
        assert after.stock == before.stock and after.movement_rows == before.movement_rows, (
            "a replay changed stock"
        )
        assert after.orders.keys() == before.orders.keys()
        for oid, view in present.items():
            p = ledger.placed(ledger.unanswered[oid][0], before.keys[place_key(oid)][1])
            assert p.response["decision"] == view["decision"]

        # settlements without an answer, retried with their key; orders never stored, sent again
        with svc.client() as client:
            for p in pending:
                assert p.pending is not None
                action, location = p.pending
                path, payload, key = _request(action, p, location)
                resp = client.post(path, json=payload, headers={"Idempotency-Key": key})
                ledger.count(f"POST /orders/{{id}}/{action} (retry)", resp)
                _apply(ledger, p, action, location, resp)
        retried = [body for body, _ in list(ledger.unanswered.values())]
        rest = [
            o for o in orders if o["id"] not in ledger.orders and o["id"] not in {b["id"] for b in retried}
        ]
        resumed = retried + rest
        run_threads(
            [
                threading.Thread(target=place_orders, args=(svc, resumed[i::CLIENTS], ledger))
                for i in range(CLIENTS)
            ],
            LOAD_SECONDS,
        )
        final = verify(svc, engine, ledger)
        assert final["orders"] == n_orders
        print(
            f"\n[{request.node.callspec.id}] killed after {acked_at_kill} acknowledged orders "
            f"({len(in_flight)} in flight; {unanswered} unanswered, of which {len(present)} committed; "
            f"{len(pending)} settlements unanswered); "
            f"{len(replays)} replays unchanged; at the end {final}"
        )
    finally:
        engine.dispose()


# -- bugs found by these checks, fixed: kept as regression tests -------------------------------------------

ROUNDS = 80  # rules_small.yaml has 90 SOCKS available at DC-BER
SOCKS_ORDER: dict[str, Any] = {
    "market": "DE",
    "channel": "web",
    "lat": 52.52,
    "lon": 13.40,
    "lines": [{"line_id": "1", "sku": "SOCKS", "qty": 1}],
}


@pytest.mark.parametrize("what", ["place", "ship"])
def test_concurrent_repeats_with_one_idempotency_key_get_the_first_answer(
    pg_url: str, service_factory: ServiceFactory, what: str
) -> None:
    svc = service_factory(pg_url, workers=2)
    clients = [svc.client() for _ in range(6)]
    try:
        for n in range(ROUNDS):
            oid = f"dup-{n}"
            body: dict[str, Any] = {"id": oid, **SOCKS_ORDER}
            path, key = "/orders", place_key(oid)
            if what == "ship":
                first = clients[0].post("/orders", json=body, headers={"Idempotency-Key": key})
                assert first.status_code == 201, first.text
                path, key = f"/orders/{oid}/ship", f"ship-{oid}"
            barrier = threading.Barrier(len(clients))

            def send(
                c: httpx.Client,
                path: str = path,
                key: str = key,
                body: dict[str, Any] = body,
                barrier: threading.Barrier = barrier,
            ) -> httpx.Response:
                barrier.wait()
                return c.post(path, json=body if what == "place" else None, headers={"Idempotency-Key": key})

            with ThreadPoolExecutor(len(clients)) as pool:
                answers = list(pool.map(send, clients))
            expected = 201 if what == "place" else 200
            codes = [a.status_code for a in answers]
            assert codes == [expected] * len(clients), (
                f"round {n}: {codes}: {[a.text[:120] for a in answers]}"
            )
            assert all(a.json() == answers[0].json() for a in answers), f"round {n}: different answers"
        with svc.client(READ_KEY) as client:
            assert get_json(client, "/stock/audit")["ok"] is True
            socks = get_json(client, "/stock", location="DC-BER", sku="SOCKS")[0]
        assert socks["reserved"] == (ROUNDS if what == "place" else 0)
    finally:
        for c in clients:
            c.close()


def test_replay_is_not_counted_as_an_order_placed(sqlite_url: str, service_factory: ServiceFactory) -> None:
    svc = service_factory(sqlite_url, RULES_SCARCE)
    body = {"id": "replayed", **SOCKS_ORDER}
    with svc.client() as client:
        answers = [
            client.post("/orders", json=body, headers={"Idempotency-Key": "replayed"}) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [201] * 3
        assert answers[1].json() == answers[2].json() == answers[0].json()
        exposition = client.get("/metrics").text
    assert sum(v for _, v in metric(exposition, "dom_orders_placed_total")) == 1


def test_retry_metric_is_listed_before_the_first_retry(
    sqlite_url: str, service_factory: ServiceFactory
) -> None:
    svc = service_factory(sqlite_url, RULES_SCARCE, workers=2)
    with svc.client() as client:
        assert client.post("/orders", json={"id": "one", **SOCKS_ORDER}).status_code == 201
        exposition = client.get("/metrics").text
    assert "dom_orders_placed_total" in exposition  # the multiprocess view works
    assert "dom_reservation_retries_total" in exposition
