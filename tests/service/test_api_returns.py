"""Returns through the HTTP API on a real database: the return decision (location among the inventory
model's return locations, disposition and refund per grade and reason), the checks on what may be
returned, and receipt (restocked only when the disposition says so)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

MUNICH = (48.14, 11.58)
HAMBURG = (53.55, 9.99)
RETURN_LOCATIONS = {"DC-BER", "DC-FRA", "S-HAM"}  # de-online's return_locations
TEE_PRICE, FEE = 25.0, 4.95


def shipped_order(
    api: TestClient, order_id: str = "O1", sku: str = "TEE", qty: int = 6, *, ship: bool = True, **fields: Any
) -> dict[str, Any]:
    """A one-line web order (line L1) placed by a customer in Munich, shipped unless ``ship`` is False."""
    body = {
        "id": order_id,
        "market": "DE",
        "channel": "web",
        "lat": MUNICH[0],
        "lon": MUNICH[1],
        "lines": [{"line_id": "L1", "sku": sku, "qty": qty}],
        **fields,
    }
    placed = api.post("/orders", json=body)
    assert placed.status_code == 201, placed.text
    if ship:
        shipped = api.post(f"/orders/{order_id}/ship")
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["status"] == "shipped"
    out: dict[str, Any] = placed.json()
    return out


def a_return(
    order_id: str = "O1", qty: int = 1, reason: str = "changed_mind", grade: str = "A", **fields: Any
) -> dict[str, Any]:
    """A return request body for line L1."""
    return {"order_id": order_id, "line_id": "L1", "qty": qty, "reason": reason, "grade": grade, **fields}


def create(api: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    """Create a return, asserting 201."""
    response = api.post("/returns", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def on_hand(api: TestClient, location: str, sku: str) -> int:
    """On hand of a cell (0 without a row)."""
    rows = api.get("/stock", params={"location": location, "sku": sku}).json()
    return int(rows[0]["on_hand"]) if rows else 0


def audit_ok(api: TestClient) -> dict[str, Any]:
    """The journal audit, asserted clean."""
    audit: dict[str, Any] = api.get("/stock/audit").json()
    assert audit["ok"], audit["mismatches"]
    return audit


def refused(response: Any, status: int, field: str) -> str:
    """Assert an error's status and that ``detail[0].loc`` ends with ``field``; its message."""
    assert response.status_code == status, response.text
    error = response.json()["detail"][0]
    assert error["loc"][-1] == field, error
    return str(error["msg"])


def test_a_return_goes_to_the_nearest_return_location(api: TestClient) -> None:
    shipped_order(api)
    created = create(api, a_return(qty=2))
    assert created["id"] == "O1/R1"
    assert (created["order_id"], created["line_id"], created["sku"], created["qty"]) == ("O1", "L1", "TEE", 2)
    assert created["status"] == "open"
    assert created["received_at"] is None
    # the customer is in Munich: S-MUC is nearer, but only DC-BER, DC-FRA and S-HAM take this model's returns
    assert created["location"] == "DC-FRA"
    explanation = created["decision"]["explanation"]
    assert {c["location"] for c in explanation["candidates"]} == RETURN_LOCATIONS
    assert explanation["candidates"][0]["location"] == "DC-FRA"  # nearest first
    assert created["decision"]["rejected"] is None
    # changed mind, as new: the price paid for both units less one return fee
    assert (created["disposition"], created["fee"]) == ("restock", FEE)
    assert created["refund"] == pytest.approx(2 * TEE_PRICE - FEE)
    assert api.get("/returns/O1/R1").json() == created

    # from Hamburg the same order's units go to the store there
    near_ham = create(api, a_return(lat=HAMBURG[0], lon=HAMBURG[1]))
    assert (near_ham["id"], near_ham["location"]) == ("O1/R2", "S-HAM")
    audit_ok(api)


TERMS = [  # reason, grade -> disposition, refund and fee for one tee
    ("changed_mind", "A", "restock", TEE_PRICE - FEE, FEE),
    ("does_not_fit", "B", "restock", TEE_PRICE - FEE, FEE),
    ("changed_mind", "C", "refurbish", TEE_PRICE / 2 - FEE, FEE),
    ("changed_mind", "D", "dispose", 0.0, 0.0),
    ("defective", "C", "refurbish", TEE_PRICE, 0.0),  # the merchant's fault: full refund, no fee
    ("wrong_item", "D", "dispose", TEE_PRICE, 0.0),
    ("damaged_in_transit", "A", "restock", TEE_PRICE, 0.0),
]


def test_disposition_and_refund_follow_grade_and_reason(api: TestClient) -> None:
    shipped_order(api, qty=len(TERMS))
    created = [create(api, a_return(reason=reason, grade=grade)) for reason, grade, *_ in TERMS]
    got = [(r["disposition"], round(r["refund"], 6), round(r["fee"], 6)) for r in created]
    assert got == [(d, round(refund, 6), round(fee, 6)) for _, _, d, refund, fee in TERMS]
    assert {r["location"] for r in created} == {"DC-FRA"}

    before = on_hand(api, "DC-FRA", "TEE")
    for r, (_, _, disposition, _, _) in zip(created, TERMS, strict=True):
        received = api.post(f"/returns/{r['id']}/receive")
        assert received.status_code == 200, received.text
        assert received.json()["status"] == "received"
        assert received.json()["received_at"] is not None
        assert api.get(f"/returns/{r['id']}").json()["status"] == "received"
        before += disposition == "restock"
        assert on_hand(api, "DC-FRA", "TEE") == before, (r["id"], disposition)
    assert audit_ok(api)["units"]["restocked"] == sum(t[2] == "restock" for t in TERMS) == 3


def test_receive_restocks_only_restock_dispositions_and_only_once(api: TestClient) -> None:
    shipped_order(api, qty=4)  # DC-BER ships the 4 tees
    assert on_hand(api, "DC-BER", "TEE") == 36
    restock = create(api, a_return(qty=2, grade="B"))
    refurbish = create(api, a_return(qty=1, grade="C"))
    dispose = create(api, a_return(qty=1, grade="D"))
    assert {r["location"] for r in (restock, refurbish, dispose)} == {"DC-FRA"}
    before = on_hand(api, "DC-FRA", "TEE")

    for created in (restock, refurbish, dispose):
        response = api.post(f"/returns/{created['id']}/receive")
        assert response.status_code == 200, response.text
    assert on_hand(api, "DC-FRA", "TEE") == before + 2
    assert on_hand(api, "DC-BER", "TEE") == 36
    assert api.get("/atp", params={"sku": "TEE", "location": "DC-FRA"}).json()["atp"] == before + 2

    twice = api.post(f"/returns/{restock['id']}/receive")
    msg = refused(twice, 409, "return_id")
    assert "received" in msg
    assert on_hand(api, "DC-FRA", "TEE") == before + 2
    assert audit_ok(api)["units"]["restocked"] == 2

    refused(api.post("/returns/O1/R99/receive"), 404, "return_id")
    refused(api.get("/returns/O1/R99"), 404, "return_id")
    assert api.get(f"/returns/{restock['id']}/receive").status_code == 405


def test_returns_cannot_exceed_the_units_shipped(api: TestClient) -> None:
    shipped_order(api, qty=3)
    msg = refused(api.post("/returns", json=a_return(qty=4)), 422, "qty")
    assert "3" in msg
    create(api, a_return(qty=2))
    refused(api.post("/returns", json=a_return(qty=2)), 422, "qty")  # only 1 left to return
    last = create(api, a_return(qty=1))
    assert last["id"] == "O1/R2"
    refused(api.post("/returns", json=a_return(qty=1)), 422, "qty")
    audit_ok(api)


def test_only_shipped_units_can_be_returned(api: TestClient) -> None:
    # a partly shipped order: DC-BER holds 40 tees, DC-FRA 5; only DC-FRA's have left
    part = shipped_order(api, "PART", qty=45, ship=False)
    assert [(r["location"], r["qty"]) for r in part["reservation"]] == [("DC-BER", 40), ("DC-FRA", 5)]
    assert api.post("/orders/PART/ship", json={"location": "DC-FRA"}).status_code == 200
    refused(api.post("/returns", json=a_return("PART", qty=6)), 422, "qty")
    assert create(api, a_return("PART", qty=5))["qty"] == 5

    assert (
        api.post(
            "/stock/receive", json={"items": [{"location": "DC-BER", "sku": "TEE", "qty": 10}]}
        ).status_code
        == 200
    )
    shipped_order(api, "RESERVED", ship=False)
    msg = refused(api.post("/returns", json=a_return("RESERVED")), 422, "qty")
    assert "0 shipped" in msg

    cancelled = shipped_order(api, "GONE", ship=False)
    assert cancelled["status"] == "reserved"
    assert api.post("/orders/GONE/cancel").status_code == 200
    refused(api.post("/returns", json=a_return("GONE")), 422, "qty")

    refused(api.post("/returns", json=a_return("NOPE")), 404, "order_id")
    refused(api.post("/returns", json={**a_return("PART"), "line_id": "L9"}), 422, "line_id")
    audit_ok(api)


def test_units_shipped_before_a_cancel_can_be_returned(api: TestClient) -> None:
    shipped_order(api, "PART", qty=45, ship=False)  # DC-BER 40, DC-FRA 5
    assert api.post("/orders/PART/ship", json={"location": "DC-FRA"}).status_code == 200
    assert api.post("/orders/PART/cancel").status_code == 200  # the customer cancels what has not left
    assert on_hand(api, "DC-FRA", "TEE") == 25
    created = create(api, a_return("PART", qty=5))
    assert created["qty"] == 5
    refused(api.post("/returns", json=a_return("PART", qty=1)), 422, "qty")


def test_digital_and_non_returnable_skus(api: TestClient) -> None:
    # an e-book (digital, not returnable) never ships, so there is nothing to return
    shipped_order(api, "EB", sku="EBOOK", qty=1, ship=False)
    refused(api.post("/returns", json=a_return("EB")), 422, "qty")

    # make tees non-returnable in a new rules version: a tee return is then rejected
    shipped_order(api, "T", qty=2)
    document = api.get("/rules").json()["document"]
    next(s for s in document["network"]["skus"] if s["id"] == "TEE")["returnable"] = False
    assert api.put("/rules", json={"document": document}).status_code == 201
    stock = api.get("/stock").json()
    rejected = create(api, a_return("T"))
    assert rejected["status"] == "rejected"
    assert "not returnable" in rejected["decision"]["rejected"]
    assert (rejected["location"], rejected["disposition"], rejected["refund"]) == (None, None, 0.0)
    msg = refused(api.post(f"/returns/{rejected['id']}/receive"), 409, "return_id")
    assert "rejected" in msg
    assert api.get("/stock").json() == stock
    audit_ok(api)


def test_a_return_outside_the_window_is_rejected_and_not_counted(api: TestClient) -> None:
    shipped_order(api, qty=1)
    late = create(api, a_return(days_since_delivery=31))
    assert late["status"] == "rejected"
    assert "30-day window" in late["decision"]["rejected"]
    assert late["refund"] == 0.0
    # a rejected return does not use up the shipped units
    in_time = create(api, a_return(days_since_delivery=29.5))
    assert (in_time["id"], in_time["status"]) == ("O1/R2", "open")
    audit_ok(api)


def test_return_ids_and_idempotent_creation(api: TestClient) -> None:
    shipped_order(api, qty=5)
    named = create(api, a_return(id="RMA-1"))
    assert api.get("/returns/RMA-1").json()["id"] == "RMA-1"
    refused(api.post("/returns", json=a_return(id="RMA-1")), 409, "id")

    first = create(api, a_return(qty=2), **{"Idempotency-Key": "rma-2"})
    again = create(api, a_return(qty=2), **{"Idempotency-Key": "rma-2"})
    assert again == first
    assert first["id"] == "O1/R2"
    conflict = api.post("/returns", json=a_return(qty=1), headers={"Idempotency-Key": "rma-2"})
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"][0]["loc"]
    # 1 + 2 units returned of 5: two are left, whatever the retries
    refused(api.post("/returns", json=a_return(qty=3)), 422, "qty")
    assert create(api, a_return(qty=2))["id"] == "O1/R3"
    assert named["qty"] == 1
    audit_ok(api)


MALFORMED = [
    ({"qty": 0}, "qty"),
    ({"qty": "1"}, "qty"),
    ({"grade": "E"}, "grade"),
    ({"reason": "bored"}, "reason"),
    ({"days_since_delivery": -1}, "days_since_delivery"),
    ({"lat": 91}, "lat"),
    ({"requested_location": "S-XXX"}, "requested_location"),
    ({"colour": "red"}, "colour"),
]


def test_malformed_returns_are_422_and_store_nothing(api: TestClient) -> None:
    shipped_order(api, qty=1)
    wrong = []
    for change, field in MALFORMED:
        response = api.post("/returns", json=a_return(**change))
        got = (response.status_code, response.json()["detail"][0]["loc"][-1])
        if got != (422, field):
            wrong.append((change, got))
    assert wrong == []
    assert create(api, a_return())["id"] == "O1/R1"  # nothing stored by the refused ones
