"""Stock through the HTTP API on a real database: receive, adjust, counted levels with safety stock,
inbound with ETA, ATP per network, inventory model and location, and idempotent receipts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

ALL_LOCATIONS = ["DC-BER", "DC-FRA", "S-HAM", "S-MUC", "S-KOL"]


def item(location: str, sku: str, **amount: int) -> dict[str, Any]:
    """One item of a bulk stock request (``qty=``, ``delta=``, ``on_hand=``/``safety=``)."""
    return {"location": location, "sku": sku, **amount}


def cell(api: TestClient, location: str, sku: str) -> dict[str, Any] | None:
    """The stock row of one cell, None when it has none."""
    rows = api.get("/stock", params={"location": location, "sku": sku}).json()
    assert len(rows) <= 1
    return rows[0] if rows else None


def balance(api: TestClient, location: str, sku: str) -> tuple[int, int, int, int]:
    """(on hand, reserved, safety, ATP) of a cell."""
    row = cell(api, location, sku)
    assert row is not None, f"no stock row {location}/{sku}"
    return row["on_hand"], row["reserved"], row["safety"], row["atp"]


def stock_table(api: TestClient) -> list[dict[str, Any]]:
    """Every stock row."""
    rows: list[dict[str, Any]] = api.get("/stock").json()
    return rows


def audit_ok(api: TestClient) -> dict[str, Any]:
    """The journal audit, asserted clean."""
    audit: dict[str, Any] = api.get("/stock/audit").json()
    assert audit["ok"], audit["mismatches"]
    return audit


def place(api: TestClient, order_id: str, sku: str, qty: int) -> dict[str, Any]:
    """Place a one-line web order in Berlin, asserting 201."""
    body = {
        "id": order_id,
        "market": "DE",
        "channel": "web",
        "lat": 52.52,
        "lon": 13.40,
        "lines": [{"line_id": "L1", "sku": sku, "qty": qty}],
    }
    response = api.post("/orders", json=body)
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


def refused(response: Any, status: int, loc: list[Any]) -> dict[str, Any]:
    """Assert an error answer's status and ``detail[0].loc``; the error."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["detail"][0]
    assert error["loc"] == loc
    return error


# -- receive -------------------------------------------------------------------------------------------------


def test_receive_creates_a_new_cell_and_adds_to_existing_ones(api: TestClient) -> None:
    assert cell(api, "DC-BER", "CAP") is None
    before = audit_ok(api)["units"]
    response = api.post(
        "/stock/receive",
        json={
            "items": [
                item("DC-BER", "CAP", qty=4),
                item("DC-BER", "TEE", qty=5),
                item("DC-BER", "CAP", qty=2),
            ],
            "ref": "ASN-1",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 11, "cells": 2}
    assert cell(api, "DC-BER", "CAP") == {
        "location": "DC-BER",
        "sku": "CAP",
        "on_hand": 6,
        "reserved": 0,
        "safety": 0,
        "atp": 6,
    }
    assert balance(api, "DC-BER", "TEE") == (45, 0, 0, 45)
    after = audit_ok(api)
    assert after["units"]["received"] == before["received"] + 11
    assert after["units"]["on_hand"] == before["on_hand"] + 11
    assert api.get("/atp", params={"sku": "CAP", "location": "DC-BER"}).json()["atp"] == 6
    # the new stock is sourced: DC-BER (priority 1) now ships caps
    placed = place(api, "O1", "CAP", 2)
    assert placed["reservation"] == [{"location": "DC-BER", "sku": "CAP", "qty": 2}]
    audit_ok(api)


@pytest.mark.parametrize(
    ("items", "loc", "kind"),
    [
        (
            [item("DC-BER", "TEE", qty=1), item("DC-BER", "NOPE", qty=1)],
            ["body", "items", "1", "sku"],
            "unknown_sku",
        ),
        ([item("X-NOWHERE", "TEE", qty=1)], ["body", "items", "0", "location"], "unknown_location"),
    ],
)
def test_receive_with_an_unknown_sku_or_location_applies_nothing(
    api: TestClient, items: list[dict[str, Any]], loc: list[str], kind: str
) -> None:
    stock = stock_table(api)
    error = refused(api.post("/stock/receive", json={"items": items}), 422, loc)
    assert error["type"] == kind
    assert stock_table(api) == stock
    audit_ok(api)


def test_receive_retried_with_the_same_key_receives_once(api: TestClient) -> None:
    body = {"items": [item("S-KOL", "TEE", qty=7)]}
    first = api.post("/stock/receive", json=body, headers={"Idempotency-Key": "asn-7"})
    again = api.post("/stock/receive", json=body, headers={"Idempotency-Key": "asn-7"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"received": 7, "cells": 1}
    assert balance(api, "S-KOL", "TEE") == (7, 0, 0, 7)

    other = api.post(
        "/stock/receive", json={"items": [item("S-KOL", "TEE", qty=8)]}, headers={"Idempotency-Key": "asn-7"}
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"][0]["loc"]
    assert other.json()["detail"][0]["type"] == "idempotency_conflict"
    assert balance(api, "S-KOL", "TEE") == (7, 0, 0, 7)
    # another key is another receipt
    assert api.post("/stock/receive", json=body, headers={"Idempotency-Key": "asn-8"}).status_code == 200
    assert balance(api, "S-KOL", "TEE") == (14, 0, 0, 14)
    assert audit_ok(api)["units"]["received"] == 227 + 14


# -- adjust --------------------------------------------------------------------------------------------------


def test_adjust_up_and_down(api: TestClient) -> None:
    response = api.post(
        "/stock/adjust", json={"items": [item("DC-BER", "TEE", delta=3), item("S-MUC", "JEANS", delta=-2)]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"adjusted": 2}
    assert balance(api, "DC-BER", "TEE") == (43, 0, 0, 43)
    assert balance(api, "S-MUC", "JEANS") == (6, 0, 0, 6)
    # a found unit where there was no row creates it
    assert api.post("/stock/adjust", json={"items": [item("S-KOL", "SOCKS", delta=1)]}).status_code == 200
    assert balance(api, "S-KOL", "SOCKS") == (1, 0, 0, 1)
    audit = audit_ok(api)
    assert audit["units"]["adjusted"] == 3 - 2 + 1
    assert audit["units"]["on_hand"] == 227 + 2


def test_adjust_below_reserved_is_409_and_the_bulk_applies_nothing(api: TestClient) -> None:
    place(api, "O1", "JEANS", 15)  # DC-BER: 20 on hand, 15 reserved
    assert balance(api, "DC-BER", "JEANS") == (20, 15, 0, 5)
    stock = stock_table(api)

    error = refused(
        api.post(
            "/stock/adjust",
            json={"items": [item("DC-BER", "TEE", delta=-10), item("DC-BER", "JEANS", delta=-6)]},
        ),
        409,
        ["body", "items", "1", "delta"],
    )
    assert error["type"] == "insufficient_stock"
    assert stock_table(api) == stock  # the first item (TEE -10) was not applied either

    # down to exactly the reserved units is allowed
    assert api.post("/stock/adjust", json={"items": [item("DC-BER", "JEANS", delta=-5)]}).status_code == 200
    assert balance(api, "DC-BER", "JEANS") == (15, 15, 0, 0)
    refused(
        api.post("/stock/adjust", json={"items": [item("DC-BER", "JEANS", delta=-1)]}),
        409,
        ["body", "items", "0", "delta"],
    )
    # a cell without stock cannot go negative
    refused(
        api.post("/stock/adjust", json={"items": [item("S-KOL", "CAP", delta=-1)]}),
        409,
        ["body", "items", "0", "delta"],
    )
    assert cell(api, "S-KOL", "CAP") is None
    audit_ok(api)


def test_adjust_refuses_unknown_cells_and_zero_deltas(api: TestClient) -> None:
    stock = stock_table(api)
    error = refused(
        api.post(
            "/stock/adjust", json={"items": [item("DC-BER", "TEE", delta=1), item("DC-XX", "TEE", delta=1)]}
        ),
        422,
        ["body", "items", "1", "location"],
    )
    assert error["type"] == "unknown_location"
    zero = api.post("/stock/adjust", json={"items": [item("DC-BER", "TEE", delta=0)]})
    assert zero.status_code == 422
    assert zero.json()["detail"][0]["loc"] == ["body", "items", 0, "delta"]
    refused(
        api.post("/stock/adjust", json={"items": [item("DC-BER", "TEE", delta=1.5)]}),
        422,
        ["body", "items", 0, "delta"],
    )
    assert stock_table(api) == stock
    audit_ok(api)


# -- counted levels and safety stock -------------------------------------------------------------------------


def test_set_levels_and_safety_give_atp(api: TestClient) -> None:
    place(api, "O1", "TEE", 2)  # reserved at DC-BER
    response = api.put(
        "/stock",
        json={"items": [item("DC-BER", "TEE", on_hand=10, safety=3), item("S-HAM", "TEE", on_hand=12)]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"set": 2}
    # ATP = on hand - reserved - safety
    assert balance(api, "DC-BER", "TEE") == (10, 2, 3, 5)
    assert balance(api, "S-HAM", "TEE") == (12, 0, 0, 12)  # safety left as it was
    assert api.get("/atp", params={"sku": "TEE", "location": "DC-BER"}).json()["atp"] == 5

    # safety alone, on a cell with no row yet, creates it
    assert api.put("/stock", json={"items": [item("S-MUC", "SOCKS", on_hand=0, safety=2)]}).status_code == 200
    assert balance(api, "S-MUC", "SOCKS") == (0, 0, 2, 0)
    # safety above what is free gives ATP 0, not a negative number
    assert api.put("/stock", json={"items": [item("DC-BER", "TEE", on_hand=10, safety=9)]}).status_code == 200
    assert balance(api, "DC-BER", "TEE") == (10, 2, 9, 0)

    # orders see the safety stock: DC-BER has no ATP left for tees, so the next one comes from DC-FRA
    placed = place(api, "O2", "TEE", 1)
    assert placed["reservation"] == [{"location": "DC-FRA", "sku": "TEE", "qty": 1}]
    audit = audit_ok(api)
    assert audit["units"]["adjusted"] == (10 - 40) + (12 - 10)


def test_set_levels_below_reserved_is_409_and_applies_nothing(api: TestClient) -> None:
    place(api, "O1", "TEE", 5)
    stock = stock_table(api)
    error = refused(
        api.put(
            "/stock",
            json={"items": [item("S-HAM", "TEE", on_hand=1, safety=1), item("DC-BER", "TEE", on_hand=4)]},
        ),
        409,
        ["body", "items", "1", "on_hand"],
    )
    assert error["type"] == "insufficient_stock"
    assert stock_table(api) == stock  # S-HAM's count and safety were rolled back
    refused(
        api.put("/stock", json={"items": [item("DC-BER", "NOPE", on_hand=4)]}),
        422,
        ["body", "items", "0", "sku"],
    )
    refused(
        api.put("/stock", json={"items": [item("DC-BER", "TEE", on_hand=-1)]}),
        422,
        ["body", "items", 0, "on_hand"],
    )
    refused(
        api.put("/stock", json={"items": [item("DC-BER", "TEE", on_hand=5, safety=-1)]}),
        422,
        ["body", "items", 0, "safety"],
    )
    assert stock_table(api) == stock
    # exactly the reserved units is fine
    assert api.put("/stock", json={"items": [item("DC-BER", "TEE", on_hand=5)]}).status_code == 200
    assert balance(api, "DC-BER", "TEE") == (5, 5, 0, 0)
    audit_ok(api)


def test_stock_filters_by_location_and_sku(api: TestClient) -> None:
    rows = stock_table(api)
    assert len(rows) == 10
    assert [(r["location"], r["sku"]) for r in rows] == sorted((r["location"], r["sku"]) for r in rows)
    at_ham = api.get("/stock", params={"location": "S-HAM"}).json()
    assert [(r["sku"], r["on_hand"]) for r in at_ham] == [("CAP", 5), ("TEE", 10)]
    tees = api.get("/stock", params={"sku": "TEE"}).json()
    assert [(r["location"], r["on_hand"]) for r in tees] == [("DC-BER", 40), ("DC-FRA", 30), ("S-HAM", 10)]
    assert api.get("/stock", params={"location": "S-KOL", "sku": "TEE"}).json() == []
    socks = api.get("/stock", params={"sku": "SOCKS"}).json()
    assert socks == [
        {"location": "DC-BER", "sku": "SOCKS", "on_hand": 100, "reserved": 0, "safety": 10, "atp": 90}
    ]


# -- inbound -------------------------------------------------------------------------------------------------


def test_inbound_register_list_and_receive(api: TestClient) -> None:
    late = {
        "ref": "PO-2",
        "eta": "2026-12-20T08:00:00Z",
        "items": [item("DC-BER", "CAP", qty=30), item("DC-FRA", "CAP", qty=20)],
    }
    early = {"ref": "PO-1", "eta": "2026-12-10T08:00:00+01:00", "items": [item("S-KOL", "TEE", qty=5)]}
    registered = api.post("/stock/inbound", json=late)
    assert registered.status_code == 201, registered.text
    assert registered.json() == {"ref": "PO-2", "units": 50, "eta": "2026-12-20T08:00:00+00:00"}
    assert api.post("/stock/inbound", json=early).status_code == 201
    stock = stock_table(api)

    listed = api.get("/stock/inbound").json()
    assert [(r["ref"], r["location"], r["sku"], r["qty"], r["status"]) for r in listed] == [
        ("PO-1", "S-KOL", "TEE", 5, "open"),
        ("PO-2", "DC-BER", "CAP", 30, "open"),
        ("PO-2", "DC-FRA", "CAP", 20, "open"),
    ]
    assert listed[1]["eta"] == "2026-12-20T08:00:00+00:00"
    # expected units are not on hand: nothing to promise yet
    assert api.get("/atp", params={"sku": "CAP", "location": "DC-BER"}).json()["atp"] == 0
    assert stock_table(api) == stock

    duplicate = refused(api.post("/stock/inbound", json=late), 409, ["body", "ref"])
    assert duplicate["type"] == "duplicate_inbound"

    received = api.post("/stock/inbound/PO-2/receive")
    assert received.status_code == 200, received.text
    assert received.json() == {"ref": "PO-2", "received": 50}
    assert balance(api, "DC-BER", "CAP") == (30, 0, 0, 30)
    assert balance(api, "DC-FRA", "CAP") == (20, 0, 0, 20)
    assert [r["ref"] for r in api.get("/stock/inbound").json()] == ["PO-1"]

    again = refused(api.post("/stock/inbound/PO-2/receive"), 404, ["path", "ref"])
    assert again["type"] == "not_found"
    refused(api.post("/stock/inbound/PO-404/receive"), 404, ["path", "ref"])
    assert balance(api, "DC-BER", "CAP") == (30, 0, 0, 30)
    assert audit_ok(api)["units"]["received"] == 227 + 50


def test_inbound_refuses_bad_requests_and_stores_nothing(api: TestClient) -> None:
    good = {"ref": "PO-1", "eta": "2026-12-10T08:00:00Z", "items": [item("DC-BER", "CAP", qty=3)]}
    cases = [
        ({**good, "eta": "2026-12-10T08:00:00"}, ["body", "eta"]),  # no time zone
        (
            {**good, "items": [item("DC-BER", "CAP", qty=3), item("DC-BER", "HAT", qty=1)]},
            ["body", "items", "1", "sku"],
        ),
        ({**good, "items": [item("DC-BER", "CAP", qty=0)]}, ["body", "items", 0, "qty"]),
        ({**good, "items": []}, ["body", "items"]),
        ({k: v for k, v in good.items() if k != "ref"}, ["body", "ref"]),
    ]
    for body, loc in cases:
        refused(api.post("/stock/inbound", json=body), 422, loc)
    assert api.get("/stock/inbound").json() == []
    assert api.post("/stock/inbound", json=good).status_code == 201
    audit_ok(api)


# -- ATP -----------------------------------------------------------------------------------------------------


def test_atp_for_network_inventory_model_and_location(api: TestClient) -> None:
    network = api.get("/atp", params={"sku": "TEE"}).json()
    assert network == {
        "sku": "TEE",
        "scope": "network",
        "atp": 80,
        "by_location": {"DC-BER": 40, "DC-FRA": 30, "S-HAM": 10, "S-MUC": 0, "S-KOL": 0},
    }
    marketplace = api.get("/atp", params={"sku": "TEE", "market": "DE", "channel": "marketplace"}).json()
    assert marketplace["scope"] == "inventory model de-marketplace"
    assert marketplace["by_location"] == {"DC-BER": 40, "DC-FRA": 30}
    assert marketplace["atp"] == 70
    web = api.get("/atp", params={"sku": "TEE", "market": "DE", "channel": "web"}).json()
    assert (web["scope"], web["atp"], list(web["by_location"])) == (
        "inventory model de-online",
        80,
        ALL_LOCATIONS,
    )
    store = api.get("/atp", params={"sku": "JACKET", "location": "S-KOL"}).json()
    assert store == {"sku": "JACKET", "scope": "location S-KOL", "atp": 2, "by_location": {"S-KOL": 2}}

    place(api, "O1", "TEE", 3)
    assert api.get("/atp", params={"sku": "TEE"}).json()["atp"] == 77
    assert api.get("/atp", params={"sku": "TEE", "location": "DC-BER"}).json()["atp"] == 37
    assert (
        api.get("/atp", params={"sku": "TEE", "market": "DE", "channel": "marketplace"}).json()["atp"] == 67
    )
    audit_ok(api)


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"sku": "HAT"}, "sku", 422),
        ({"sku": "TEE", "location": "S-XXX"}, "location", 422),
        ({"sku": "TEE", "market": "DE"}, "market", 422),
        ({"sku": "TEE", "channel": "web"}, "market", 422),
        ({"sku": "TEE", "market": "FR", "channel": "web"}, "market", 422),
        ({"sku": "TEE", "market": "DE", "channel": "fax"}, "market", 422),
    ],
)
def test_atp_refuses_unknown_names(api: TestClient, params: dict[str, str], field: str, status: int) -> None:
    response = api.get("/atp", params=params)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


def test_atp_needs_a_sku(api: TestClient) -> None:
    refused(api.get("/atp"), 422, ["query", "sku"])
