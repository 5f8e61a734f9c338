"""Input checks and security of the HTTP API on a real database: every malformed request is a 422 naming
the field, an oversized body a 413, a missing key a 401 and a read key on a write a 403, and none of
them writes anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.server import READ_KEY, WRITE_KEY


def line(sku: str = "TEE", qty: Any = 1, line_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """One order line (its id defaults to the SKU)."""
    return {"line_id": line_id or sku, "sku": sku, "qty": qty, **extra}


def order(**fields: Any) -> dict[str, Any]:
    """A valid order body (id O1, DE/web, Berlin, one tee) with ``fields`` changed; ``None`` drops one."""
    body = {"id": "O1", "market": "DE", "channel": "web", "lat": 52.52, "lon": 13.40, "lines": [line()]}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def state(api: TestClient) -> tuple[Any, ...]:
    """Everything a write could change that the API shows: orders, stock, journal totals, inbound,
    rules versions, candidate and shadow comparisons."""
    return (
        api.get("/orders").json(),
        api.get("/stock").json(),
        api.get("/stock/audit").json(),
        api.get("/stock/inbound").json(),
        api.get("/rules/versions").json(),
        api.get("/rules").json()["candidate_version"],
        api.get("/shadow/summary").json(),
    )


def no_key(api: TestClient) -> TestClient:
    """A client on the same running app that sends no API key."""
    return TestClient(api.app)


# -- malformed orders: 422 naming the field ------------------------------------------------------------------

ORDER_CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("negative qty", order(lines=[line(qty=-1)]), ["body", "lines", 0, "qty"]),
    ("zero qty", order(lines=[line(qty=0)]), ["body", "lines", 0, "qty"]),
    ("qty as a string", order(lines=[line(qty="2")]), ["body", "lines", 0, "qty"]),
    ("float qty", order(lines=[line(qty=1.5)]), ["body", "lines", 0, "qty"]),
    ("whole float qty", order(lines=[line(qty=2.0)]), ["body", "lines", 0, "qty"]),
    ("boolean qty", order(lines=[line(qty=True)]), ["body", "lines", 0, "qty"]),
    ("huge qty", order(lines=[line(qty=1_000_001)]), ["body", "lines", 0, "qty"]),
    ("qty in the second line", order(lines=[line(), line("CAP", qty=-2)]), ["body", "lines", 1, "qty"]),
    ("missing lines", order(lines=None), ["body", "lines"]),
    ("empty lines", order(lines=[]), ["body", "lines"]),
    ("too many lines", order(lines=[line(line_id=f"L{i}") for i in range(501)]), ["body", "lines"]),
    ("lines not a list", order(lines={"line_id": "L1", "sku": "TEE", "qty": 1}), ["body", "lines"]),
    ("line without sku", order(lines=[{"line_id": "L1", "qty": 1}]), ["body", "lines", 0, "sku"]),
    ("lat 91", order(lat=91), ["body", "lat"]),
    ("lon -181", order(lon=-181), ["body", "lon"]),
    ("lat as text", order(lat="north"), ["body", "lat"]),
    ("missing lon", order(lon=None), ["body", "lon"]),
    ("unknown fulfilment", order(fulfilment="teleport"), ["body", "fulfilment"]),
    ("extra field", order(colour="red"), ["body", "colour"]),
    ("extra field in a line", order(lines=[line(colour="red")]), ["body", "lines", 0, "colour"]),
    ("missing id", order(id=None), ["body", "id"]),
    ("id with a space", order(id="O 1"), ["body", "id"]),
    ("id too long", order(id="O" * 65), ["body", "id"]),
    ("empty sku", order(lines=[line(sku="", line_id="L1")]), ["body", "lines", 0, "sku"]),
    ("created_at without zone", order(created_at="2026-03-02T10:00:00"), ["body", "created_at"]),
    ("max_delivery_days 0", order(max_delivery_days=0), ["body", "max_delivery_days"]),
    ("unknown market", order(market="FR"), ["body", "market"]),
    ("unknown channel", order(channel="fax"), ["body", "market"]),
    ("unknown sku", order(lines=[line(), line("HAT")]), ["body", "lines", "1", "sku"]),
    ("unknown pickup location", order(fulfilment="pickup_in_store", pickup_location="S-XXX"),
     ["body", "pickup_location"]),
    ("body not an object", [order()], ["body"]),
]  # fmt: skip


def test_malformed_orders_are_422_naming_the_field(api: TestClient) -> None:
    before = state(api)
    wrong = []
    for case, body, loc in ORDER_CASES:
        response = api.post("/orders", json=body)
        got = (response.status_code, response.json()["detail"][0]["loc"])
        if got != (422, loc):
            wrong.append((case, got))
    assert wrong == []
    assert state(api) == before
    assert api.get("/orders/O1").status_code == 404


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (order(lines=[line(line_id="L1"), line("CAP", line_id="L1")]), "line_id"),
        (order(fulfilment="pickup_in_store"), "pickup_location"),
        (order(fulfilment="ship_to_store"), "pickup_location"),
    ],
    ids=[
        "duplicate line_id",
        "pickup_in_store without pickup_location",
        "ship_to_store without pickup_location",
    ],
)
def test_inconsistent_order_is_422_naming_the_field(
    api: TestClient, body: dict[str, Any], named: str
) -> None:
    before = state(api)
    response = api.post("/orders", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert named in detail["msg"] or named in detail["loc"]
    assert state(api) == before


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/orders", order(lines=[line(line_id="L1"), line("CAP", line_id="L1")]), ["body", "lines"]),
        ("/orders", order(fulfilment="pickup_in_store"), ["body", "pickup_location"]),
        (
            "/stock/adjust",
            {"items": [{"location": "DC-BER", "sku": "TEE", "delta": 0}]},
            ["body", "items", 0, "delta"],
        ),
    ],
    ids=["duplicate line_id", "pickup without location", "zero delta"],
)
def test_cross_field_errors_are_located_at_the_field(
    api: TestClient, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc


def test_body_that_is_not_json_is_422(api: TestClient) -> None:
    before = state(api)
    response = api.post(
        "/orders", content=b'{"id": "O1", "lines": [', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert state(api) == before


# -- malformed requests on the other write routes ------------------------------------------------------------

OTHER_CASES: list[tuple[str, str, str, Any, list[Any]]] = [
    ("receive qty as a string", "POST", "/stock/receive",
     {"items": [{"location": "DC-BER", "sku": "TEE", "qty": "2"}]}, ["body", "items", 0, "qty"]),
    ("receive negative qty", "POST", "/stock/receive",
     {"items": [{"location": "DC-BER", "sku": "TEE", "qty": -2}]}, ["body", "items", 0, "qty"]),
    ("receive no items", "POST", "/stock/receive", {"items": []}, ["body", "items"]),
    ("receive unknown sku", "POST", "/stock/receive",
     {"items": [{"location": "DC-BER", "sku": sku, "qty": 1} for sku in ("TEE", "HAT")]},
     ["body", "items", "1", "sku"]),
    ("adjust float delta", "POST", "/stock/adjust",
     {"items": [{"location": "DC-BER", "sku": "TEE", "delta": 0.5}]}, ["body", "items", 0, "delta"]),
    ("adjust unknown location", "POST", "/stock/adjust",
     {"items": [{"location": "DC-XXX", "sku": "TEE", "delta": 1}]}, ["body", "items", "0", "location"]),
    ("set extra field", "PUT", "/stock",
     {"items": [{"location": "DC-BER", "sku": "TEE", "on_hand": 1, "reserved": 0}]},
     ["body", "items", 0, "reserved"]),
    ("inbound without eta", "POST", "/stock/inbound",
     {"ref": "PO-1", "items": [{"location": "DC-BER", "sku": "TEE", "qty": 1}]}, ["body", "eta"]),
    ("ship bad location id", "POST", "/orders/O1/ship", {"location": "no such place"}, ["body", "location"]),
    ("expire bad time", "POST", "/orders/expire", {"now": "soon"}, ["body", "now"]),
    ("rules extra field", "PUT", "/rules", {"strategy": "cheapest", "colour": "red"}, ["body", "colour"]),
    ("candidate strategy unknown", "PUT", "/rules/candidate", {"strategy": "random"},
     ["body", "strategy", "kind"]),
    ("return unknown grade", "POST", "/returns",
     {"order_id": "O1", "line_id": "L1", "qty": 1, "reason": "defective", "grade": "Z"}, ["body", "grade"]),
]  # fmt: skip


def test_malformed_writes_are_422_naming_the_field(api: TestClient) -> None:
    assert api.post("/orders", json=order()).status_code == 201  # for the ship and return cases
    before = state(api)
    wrong = []
    for case, method, path, body, loc in OTHER_CASES:
        response = api.request(method, path, json=body)
        got = (response.status_code, response.json()["detail"][0]["loc"])
        if got != (422, loc):
            wrong.append((case, got))
    assert wrong == []
    assert state(api) == before


def test_listing_parameters_are_checked(api: TestClient) -> None:
    for params, loc in [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": "ten"}, ["query", "limit"]),
        ({"offset": -1}, ["query", "offset"]),
        ({"until": "tomorrow"}, ["query", "until"]),
    ]:
        response = api.get("/orders", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == loc


def test_service_errors_locate_query_path_and_header_fields(api: TestClient) -> None:
    assert api.get("/atp", params={"sku": "HAT"}).json()["detail"][0]["loc"] == ["query", "sku"]
    assert api.get("/orders/NOPE").json()["detail"][0]["loc"] == ["path", "order_id"]
    api.post(
        "/stock/receive",
        json={"items": [{"location": "DC-BER", "sku": "TEE", "qty": 1}]},
        headers={"Idempotency-Key": "k"},
    )
    conflict = api.post(
        "/stock/receive",
        json={"items": [{"location": "DC-BER", "sku": "TEE", "qty": 2}]},
        headers={"Idempotency-Key": "k"},
    )
    assert conflict.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


# -- body size -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/orders", "/stock/receive"])
def test_a_body_over_the_limit_is_413(api: TestClient, path: str) -> None:
    before = state(api)
    lines = [line(line_id=f"L{i}", padding="x" * 2500) for i in range(450)]  # ~1.1 MB
    payload = json.dumps(order(lines=lines)).encode()
    assert len(payload) > 1_000_000
    response = api.post(path, content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.json()["detail"][0]
    assert (error["loc"], error["type"]) == (["body"], "body_too_large")
    assert "1000000" in error["msg"]
    assert state(api) == before
    # just under the limit the request is read (and here refused for its content, not its size)
    small = api.post(path, json=order(lines=[line(line_id=f"L{i}", padding="x" * 100) for i in range(3)]))
    assert small.status_code == 422


# -- API keys ------------------------------------------------------------------------------------------------

WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/orders", order()),
    ("POST", "/orders/O1/cancel", None),
    ("POST", "/orders/O1/ship", None),
    ("POST", "/orders/expire", {"now": "2030-01-01T00:00:00Z"}),
    ("POST", "/stock/receive", {"items": [{"location": "DC-BER", "sku": "TEE", "qty": 1}]}),
    ("POST", "/stock/adjust", {"items": [{"location": "DC-BER", "sku": "TEE", "delta": -1}]}),
    ("PUT", "/stock", {"items": [{"location": "DC-BER", "sku": "TEE", "on_hand": 1}]}),
    ("POST", "/stock/inbound", {"ref": "PO-1", "eta": "2030-01-01T00:00:00Z",
                                "items": [{"location": "DC-BER", "sku": "TEE", "qty": 1}]}),
    ("POST", "/stock/inbound/PO-1/receive", None),
    ("PUT", "/rules", {"strategy": "cheapest"}),
    ("PUT", "/rules/candidate", {"strategy": "cheapest"}),
    ("DELETE", "/rules/candidate", None),
    ("POST", "/rules/candidate/promote", None),
    ("POST", "/returns", {"order_id": "O1", "line_id": "TEE", "qty": 1, "reason": "defective", "grade": "A"}),
    ("POST", "/returns/O1/R1/receive", None),
]  # fmt: skip
READS = [
    "/orders", "/orders/O1", "/orders/O1/explanation", "/orders/export", "/stock", "/stock/audit",
    "/stock/inbound", "/atp?sku=TEE", "/network", "/rules", "/rules/versions", "/rules/versions/1",
    "/shadow/summary", "/shadow/export", "/metrics",
]  # fmt: skip


def _prepared(api: TestClient) -> tuple[Any, ...]:
    """An order O1 (reserved), a candidate and an open inbound PO-1 for the writes to act on; the state."""
    assert api.post("/orders", json=order()).status_code == 201
    assert api.put("/rules/candidate", json={"strategy": "no_split"}).status_code == 201
    inbound = {
        "ref": "PO-1",
        "eta": "2030-01-01T00:00:00Z",
        "items": [{"location": "S-KOL", "sku": "CAP", "qty": 1}],
    }
    assert api.post("/stock/inbound", json=inbound).status_code == 201
    return state(api)


def test_no_key_is_401_and_writes_nothing(api: TestClient) -> None:
    before = _prepared(api)
    bare = no_key(api)
    for method, path, body in WRITES:
        response = bare.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    for path in READS:
        assert bare.get(path).status_code == 401, path
    wrong = {"X-API-Key": "not-a-key"}
    assert bare.post("/orders", json=order(id="O2"), headers=wrong).status_code == 401
    assert bare.get("/orders", headers=wrong).json()["detail"] == "unknown API key"
    assert state(api) == before


def test_read_key_reads_but_cannot_write(api: TestClient) -> None:
    before = _prepared(api)
    reader = no_key(api)
    as_reader = {"X-API-Key": READ_KEY}
    for method, path, body in WRITES:
        response = reader.request(method, path, json=body, headers=as_reader)
        assert response.status_code == 403, (method, path, response.text)
        assert "write access is needed" in response.json()["detail"]
    for path in READS:
        assert reader.get(path, headers=as_reader).status_code == 200, path
    assert reader.get("/orders", headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200
    assert state(api) == before
    # the write key (as a bearer token too) writes
    writer = reader.post("/orders", json=order(id="O2"), headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert writer.status_code == 201
    assert [o["id"] for o in api.get("/orders").json()["items"]] == ["O1", "O2"]


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
def test_health_and_docs_need_no_key(api: TestClient, db_url: str, path: str) -> None:
    response = no_key(api).get(path)
    assert response.status_code == 200
    if path == "/health":
        health = response.json()
        assert health["status"] == "ok"
        assert health["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
        assert health["live_version"] == 1
    elif path == "/openapi.json":
        paths = response.json()["paths"]
        assert {"/orders", "/stock/receive", "/rules", "/returns", "/shadow/summary"} <= set(paths)
    else:
        assert "swagger" in response.text.lower()


def test_refused_requests_of_every_kind_write_nothing(api: TestClient) -> None:
    """A sequence of refused requests (validation, unknown names, conflicts, keys, size) leaves no trace."""
    before = _prepared(api)
    reader = no_key(api)
    attempts: list[Callable[[], Any]] = [
        lambda: api.post("/orders", json=order(id="O2", lines=[line(qty=0)])),
        lambda: api.post("/orders", json=order(id="O2", market="XX")),
        lambda: api.post("/orders", json=order()),  # duplicate id
        lambda: api.post("/orders/O1/ship", json={"location": "S-MUC"}),  # holds nothing there
        lambda: api.post(
            "/stock/adjust", json={"items": [{"location": "DC-BER", "sku": "TEE", "delta": -40}]}
        ),
        lambda: api.post(
            "/stock/inbound",
            json={
                "ref": "PO-1",
                "eta": "2030-01-01T00:00:00Z",
                "items": [{"location": "DC-BER", "sku": "TEE", "qty": 1}],
            },
        ),
        lambda: api.put("/rules", json={"strategy": "no_such_strategy"}),
        lambda: api.post(
            "/returns",
            json={"order_id": "O1", "line_id": "TEE", "qty": 1, "reason": "defective", "grade": "A"},
        ),  # not shipped
        lambda: reader.post("/orders", json=order(id="O3")),
        lambda: reader.post("/orders", json=order(id="O3"), headers={"X-API-Key": READ_KEY}),
        lambda: api.post("/orders", content=b" " * 1_000_001, headers={"Content-Type": "application/json"}),
    ]
    statuses = [attempt().status_code for attempt in attempts]
    assert statuses == [422, 422, 409, 422, 409, 409, 422, 422, 401, 403, 413]
    assert state(api) == before
