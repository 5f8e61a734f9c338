"""Rules and shadow mode through the HTTP API on a real database: the live network and rules, new rules
versions (strategy overrides, broken documents refused), the shadow candidate, its summary and export,
promotion and removal."""

from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
import yaml
from fastapi.testclient import TestClient

from tests.service.conftest import RULES_SMALL, open_api

BERLIN = (52.52, 13.40)
MUNICH = (48.14, 11.58)
SHADOW_COLUMNS = [
    "order_id", "placed_at", "market", "channel", "live_version", "candidate_version", "live_strategy",
    "candidate_strategy", "agree", "live_cost", "candidate_cost", "live_promise_hours",
    "candidate_promise_hours", "live_co2_kg", "candidate_co2_kg", "live_units", "candidate_units",
    "live_locations", "candidate_locations", "cost_diff", "promise_diff_hours", "co2_diff_kg",
]  # fmt: skip


def line(sku: str, qty: int = 1) -> dict[str, Any]:
    """One order line (its id is the SKU)."""
    return {"line_id": sku, "sku": sku, "qty": qty}


def order(
    order_id: str, *lines: dict[str, Any], at: tuple[float, float] = BERLIN, **fields: Any
) -> dict[str, Any]:
    """An order body for market DE, channel web (``fields`` override or add)."""
    body = {
        "id": order_id,
        "market": "DE",
        "channel": "web",
        "lat": at[0],
        "lon": at[1],
        "lines": list(lines) or [line("TEE")],
    }
    return body | fields


# a mix of orders: single-line ones each location covers alone, and ones split across locations
MIX = [
    order("W1", line("TEE")),
    order("W2", line("TEE"), line("JACKET")),  # DC-BER has no jacket: split with DC-FRA
    order("W3", line("JEANS", 2), channel="app"),
    order("W4", line("TEE", 2), line("JACKET"), line("CAP"), at=MUNICH),
    order("M1", line("TEE"), channel="marketplace"),
    order("M2", line("TEE"), line("JACKET"), channel="marketplace"),
]


def place(api: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """Place an order, asserting 201; the order as answered."""
    response = api.post("/orders", json=body)
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


def place_all(
    api: TestClient, bodies: list[dict[str, Any]], created_at: str | None = None
) -> list[dict[str, Any]]:
    """Place every order (at a fixed creation time if given)."""
    extra = {} if created_at is None else {"created_at": created_at}
    return [place(api, body | extra) for body in bodies]


def shadow_frame(api: TestClient, **params: Any) -> pl.DataFrame:
    """The shadow export read back."""
    response = api.get("/shadow/export", params=params)
    assert response.status_code == 200, response.text
    return pl.read_parquet(io.BytesIO(response.content))


def versions(api: TestClient) -> list[dict[str, Any]]:
    """Every stored rules version (newest first)."""
    response = api.get("/rules/versions")
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.json()
    return listed


def audit_ok(api: TestClient) -> None:
    """The journal audit passes."""
    audit = api.get("/stock/audit").json()
    assert audit["ok"], audit["mismatches"]


def locations_of(placed: dict[str, Any]) -> str:
    """The shipping locations of a decision as the shadow table writes them."""
    return ",".join(sorted({s["location"] for s in placed["decision"]["shipments"]}))


@pytest.fixture
def other_api(db_url: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[TestClient]:
    """A second service on a database of its own (same kind as ``api``), loaded with the same rules."""
    if db_url.startswith("sqlite"):
        url, drop = f"sqlite:///{tmp_path / 'other.db'}", None
    else:
        server = request.getfixturevalue("pg_server")
        name = f"t_{uuid.uuid4().hex}"
        url, drop = server.create_database(name), (lambda: server.drop_database(name))
    client, svc = open_api(url)
    with client:  # type: ignore[attr-defined]
        yield client  # type: ignore[misc]
    svc.db.dispose()  # type: ignore[attr-defined]
    if drop is not None:
        drop()


# -- network and rules ---------------------------------------------------------------------------------------


def test_network_describes_the_live_rules(api: TestClient) -> None:
    response = api.get("/network")
    assert response.status_code == 200
    net = response.json()
    assert net["rules_version"] == 1
    assert [loc["id"] for loc in net["locations"]] == ["DC-BER", "DC-FRA", "S-HAM", "S-MUC", "S-KOL"]
    ham = next(loc for loc in net["locations"] if loc["id"] == "S-HAM")
    assert (ham["kind"], ham["market"], ham["priority"], ham["pick_capacity_per_day"]) == (
        "store",
        "DE",
        10,
        200,
    )
    assert "pickup" in ham["capabilities"] and "accept_returns" in ham["capabilities"]
    skus = {s["id"]: s for s in net["skus"]}
    assert list(skus) == ["TEE", "JEANS", "JACKET", "SOCKS", "CAP", "EBOOK"]
    assert (skus["EBOOK"]["digital"], skus["EBOOK"]["returnable"]) == (True, False)
    assert (skus["JACKET"]["price"], skus["JACKET"]["weight_kg"], skus["JACKET"]["returnable"]) == (
        180,
        1.5,
        True,
    )
    models = {m["name"]: m for m in net["inventory_models"]}
    online, marketplace = models["de-online"], models["de-marketplace"]
    assert (online["market"], online["channels"], online["strategy"]) == (
        "DE",
        ["app", "web"],
        "split_shipments",
    )
    assert online["locations"] == ["DC-BER", "DC-FRA", "S-HAM", "S-MUC", "S-KOL"]
    assert (online["max_shipments"], online["return_locations"]) == (3, ["DC-BER", "DC-FRA", "S-HAM"])
    assert (marketplace["channels"], marketplace["strategy"]) == (["marketplace"], "cheapest")
    assert (marketplace["locations"], marketplace["max_shipments"]) == (["DC-BER", "DC-FRA"], 1)
    assert net["carrier_services"]


def test_rules_and_versions_show_the_loaded_file(api: TestClient) -> None:
    rules = api.get("/rules").json()
    assert (rules["version"], rules["role"], rules["kind"]) == (1, "live", "rules")
    assert (rules["strategy"], rules["candidate_version"]) == (None, None)
    assert rules["note"] == "loaded from rules_small.yaml"
    assert rules["document"] == yaml.safe_load(RULES_SMALL.read_text())
    assert [v["version"] for v in versions(api)] == [1]
    assert "document" not in versions(api)[0]
    one = api.get("/rules/versions/1").json()
    assert one["document"] == rules["document"]
    missing = api.get("/rules/versions/99")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"][-1] == "number"


def test_a_strategy_override_is_a_new_version_for_later_orders_only(api: TestClient) -> None:
    before = place(api, order("BEFORE", at=MUNICH))
    assert (before["rules_version"], before["strategy"]) == (1, "split_shipments")
    assert locations_of(before) == "DC-BER"  # split_shipments: priority order

    response = api.put("/rules", json={"strategy": "cheapest", "note": "try cheapest everywhere"})
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["version"], stored["role"], stored["strategy"]) == (2, "live", "cheapest")
    assert stored["note"] == "try cheapest everywhere"
    rules = api.get("/rules").json()
    assert (rules["version"], rules["strategy"]) == (2, "cheapest")
    assert rules["document"] == api.get("/rules/versions/1").json()["document"]  # the live document kept
    network = api.get("/network").json()
    assert network["rules_version"] == 2
    assert {m["strategy"] for m in network["inventory_models"]} == {"cheapest"}
    assert [(v["version"], v["strategy"]) for v in versions(api)] == [(2, "cheapest"), (1, None)]

    after = place(api, order("AFTER", at=MUNICH))
    assert (after["rules_version"], after["strategy"]) == (2, "cheapest")
    assert locations_of(after) == "DC-FRA"  # cheaper to Munich than DC-BER
    assert after["explanation"]["strategy"] == "cheapest"
    assert api.get("/orders/AFTER/explanation").json()["rules_version"] == 2
    kept = api.get("/orders/BEFORE").json()
    assert (kept["rules_version"], kept["strategy"], kept["reservation"]) == (
        1,
        "split_shipments",
        before["reservation"],
    )

    # a strategy with parameters; then back to the inventory models' own strategies
    tuned = api.put("/rules", json={"strategy": {"kind": "cheapest", "split_penalty": 3}})
    assert (tuned.status_code, tuned.json()["strategy"]) == (201, {"kind": "cheapest", "split_penalty": 3})
    plain = api.put("/rules", json={})
    assert (plain.status_code, plain.json()["version"], plain.json()["strategy"]) == (201, 4, None)
    assert place(api, order("LAST", at=MUNICH))["strategy"] == "split_shipments"
    assert [o["rules_version"] for o in api.get("/orders").json()["items"]] == [1, 2, 4]
    audit_ok(api)


def _broken(document: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("change", "loc", "named"),
    [
        (
            ("document", ["network", "skus", 0, "weight_kg"], -1),
            ["body", "document", "network", "skus", "0", "weight_kg"],
            "network.skus.0.weight_kg",
        ),
        (
            ("document", ["network", "locations", 0, "kind"], "castle"),
            ["body", "document", "network", "locations", "0", "kind"],
            "network.locations.0.kind",
        ),
        (
            ("document", ["network", "inventory_models", 0, "strategy"], "nope"),
            ["body", "document", "network", "inventory_models[0]", "strategy", "kind"],
            "nope",
        ),
        (
            ("document", ["network", "inventory_models", 0, "locations", 0], "DC-XXX"),
            ["body", "document", "network", "inventory_model[de-online]", "locations[0]"],
            "DC-XXX",
        ),
        (
            ("document", ["network", "stock", 0, "sku"], "HAT"),
            ["body", "document", "network", "stock[0]", "sku"],
            "HAT",
        ),
        (("strategy", [], "nope"), ["body", "strategy", "kind"], "nope"),
        (("strategy", [], {"kind": "cheapest", "bogus": 1}), ["body", "strategy", "bogus"], "bogus"),
        (("document", [], [1, 2]), ["body", "document"], "dictionary"),
        (("note", [], "n" * 501), ["body", "note"], "500"),
    ],
)
def test_broken_rules_are_422_naming_the_field_and_store_nothing(
    api: TestClient, change: tuple[str, list[Any], Any], loc: list[Any], named: str
) -> None:
    document = api.get("/rules").json()["document"]
    field, path, value = change
    body: dict[str, Any] = {field: _broken(document, path, value) if field == "document" and path else value}
    for route in ("/rules", "/rules/candidate"):
        response = api.put(route, json=body)
        assert response.status_code == 422, (route, response.text)
        error = response.json()["detail"][0]
        assert error["loc"] == loc
        assert named in error["msg"]
    assert [v["version"] for v in versions(api)] == [1]
    rules = api.get("/rules").json()
    assert (rules["version"], rules["candidate_version"]) == (1, None)
    assert place(api, order("STILL"))["rules_version"] == 1
    assert shadow_frame(api).height == 0


# -- shadow --------------------------------------------------------------------------------------------------


def test_a_candidate_identical_to_live_always_agrees(api: TestClient) -> None:
    place(api, order("EARLY"))  # before any candidate: no comparison
    response = api.put("/rules/candidate", json={"note": "same as live"})
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["role"]) == (2, "candidate")
    rules = api.get("/rules").json()
    assert (rules["version"], rules["candidate_version"]) == (1, 2)

    placed = place_all(api, MIX)
    assert all(p["rules_version"] == 1 for p in placed)
    summary = api.get("/shadow/summary").json()
    assert summary["orders"] == len(MIX)
    [overall] = summary["overall"]
    assert (overall["scope"], overall["orders"], overall["agreement_rate"]) == ("all", len(MIX), 1.0)
    assert overall["cost_diff_mean"] == pytest.approx(0.0)
    assert overall["co2_diff_kg_mean"] == pytest.approx(0.0)
    assert overall["units_diff"] == 0
    assert [(s["channel"], s["orders"], s["agreement_rate"]) for s in summary["segments"]] == [
        ("app", 1, 1.0),
        ("marketplace", 2, 1.0),
        ("web", 3, 1.0),
    ]
    df = shadow_frame(api)
    assert sorted(df["order_id"].to_list()) == sorted(b["id"] for b in MIX)
    assert df["agree"].all()
    assert df["live_locations"].to_list() == df["candidate_locations"].to_list()
    assert set(df["candidate_version"].to_list()) == {2}
    audit_ok(api)


def test_a_no_split_candidate_disagrees_on_split_orders(api: TestClient) -> None:
    assert api.put("/rules/candidate", json={"strategy": "no_split"}).status_code == 201
    placed = {p["id"]: p for p in place_all(api, MIX)}
    df = shadow_frame(api)
    assert df.height == len(MIX)

    for row in df.iter_rows(named=True):
        live = placed[row["order_id"]]
        assert row["live_strategy"] == live["strategy"]
        assert row["candidate_strategy"] == "no_split"
        assert (row["live_version"], row["candidate_version"]) == (1, 2)
        assert (row["market"], row["channel"]) == (live["market"], live["channel"])
        assert row["live_locations"] == locations_of(live)
        assert row["live_cost"] == pytest.approx(live["cost"])
        assert row["live_units"] == live["units_allocated"]
        # no_split ships from the primary location only
        assert row["candidate_locations"] == "DC-BER"
        assert row["agree"] == (
            locations_of(live) == "DC-BER" and row["candidate_units"] == row["live_units"]
        )
        assert row["cost_diff"] == pytest.approx(row["candidate_cost"] - row["live_cost"])
    split = {i for i, p in placed.items() if len(p["decision"]["shipments"]) > 1}
    assert split == {"W2", "W4"}
    assert not df.filter(pl.col("order_id").is_in(sorted(split)))["agree"].any()
    assert df.filter(pl.col("order_id").is_in(["W1", "W3", "M1"]))["agree"].all()

    summary = api.get("/shadow/summary").json()
    agreed = df["agree"].sum()
    assert 0 < agreed < len(MIX)
    assert summary["overall"][0]["agreement_rate"] == pytest.approx(agreed / len(MIX))
    assert summary["overall"][0]["units_diff"] == (df["candidate_units"] - df["live_units"]).sum() < 0
    for segment in summary["segments"]:
        rows = df.filter((pl.col("market") == segment["market"]) & (pl.col("channel") == segment["channel"]))
        assert segment["orders"] == rows.height
        assert segment["agreement_rate"] == pytest.approx(rows["agree"].mean())
        assert segment["cost_diff_mean"] == pytest.approx(rows["cost_diff"].mean())
    assert sum(s["orders"] for s in summary["segments"]) == len(MIX)

    by_market = api.get("/shadow/summary", params={"by": "market"}).json()["segments"]
    assert [(s["market"], s["orders"]) for s in by_market] == [("DE", len(MIX))]
    assert "channel" not in by_market[0]
    overall_only = api.get("/shadow/summary", params={"by": ""}).json()
    assert overall_only["segments"] == overall_only["overall"]
    bad = api.get("/shadow/summary", params={"by": "market,colour"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "by"
    audit_ok(api)


def test_shadow_decisions_never_touch_stock(api: TestClient, other_api: TestClient) -> None:
    """The same orders on two databases, one with a candidate that decides differently: same stock after."""
    assert api.put("/rules/candidate", json={"strategy": "cheapest"}).status_code == 201
    with_candidate = place_all(api, MIX, created_at="2026-03-03T09:00:00Z")
    without = place_all(other_api, MIX, created_at="2026-03-03T09:00:00Z")
    assert shadow_frame(api).height == len(MIX)
    assert not shadow_frame(api)["agree"].all()  # the candidate would have sourced differently
    assert shadow_frame(other_api).height == 0

    assert [p["reservation"] for p in with_candidate] == [p["reservation"] for p in without]
    assert api.get("/stock").json() == other_api.get("/stock").json()
    for client in (api, other_api):
        assert client.post("/orders/W2/ship").status_code == 200
        assert client.post("/orders/W4/cancel").status_code == 200
    assert api.get("/stock").json() == other_api.get("/stock").json()
    assert api.get("/stock/audit").json()["units"] == other_api.get("/stock/audit").json()["units"]
    audit_ok(api)
    audit_ok(other_api)


def test_shadow_export_columns_and_filter(api: TestClient) -> None:
    empty = shadow_frame(api)
    assert empty.columns == SHADOW_COLUMNS
    assert empty.height == 0
    assert api.get("/shadow/summary").json() == {"orders": 0, "overall": [], "segments": []}

    assert api.put("/rules/candidate", json={"strategy": "cheapest"}).status_code == 201  # version 2
    place_all(api, MIX[:2])
    assert api.put("/rules/candidate", json={"strategy": "fastest"}).status_code == 201  # version 3
    place_all(api, MIX[2:5])

    response = api.get("/shadow/export")
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    df = pl.read_parquet(io.BytesIO(response.content))
    assert df.columns == SHADOW_COLUMNS
    assert df.schema["agree"] == pl.Boolean
    assert df.schema["placed_at"] == pl.Datetime("us", "UTC")
    assert df.schema["live_cost"] == pl.Float64
    assert df["order_id"].to_list() == ["W1", "W2", "W3", "W4", "M1"]  # by time placed
    assert df["candidate_version"].to_list() == [2, 2, 3, 3, 3]
    assert df["candidate_strategy"].to_list() == ["cheapest"] * 2 + ["fastest"] * 3
    assert shadow_frame(api, candidate_version=2)["order_id"].to_list() == ["W1", "W2"]
    assert shadow_frame(api, candidate_version=3).height == 3
    assert shadow_frame(api, candidate_version=99).height == 0
    assert api.get("/shadow/summary", params={"candidate_version": 2}).json()["orders"] == 2


def test_a_candidate_that_cannot_read_an_order_makes_no_comparison(api: TestClient) -> None:
    document = api.get("/rules").json()["document"]
    del document["network"]["inventory_models"][1]  # drops the marketplace
    assert api.put("/rules/candidate", json={"document": document}).status_code == 201
    place_all(api, [MIX[0], MIX[4]])
    assert shadow_frame(api)["order_id"].to_list() == ["W1"]
    assert api.get("/orders/M1").json()["status"] == "reserved"
    audit_ok(api)


def test_promote_makes_the_candidate_live(api: TestClient) -> None:
    missing = api.post("/rules/candidate/promote")
    assert missing.status_code == 409
    assert missing.json()["detail"][0]["loc"][-1] == "candidate"
    assert api.put("/rules/candidate", json={"strategy": "cheapest", "note": "cheaper?"}).status_code == 201
    before = place(api, order("BEFORE", at=MUNICH))
    assert (before["rules_version"], before["strategy"]) == (1, "split_shipments")

    promoted = api.post("/rules/candidate/promote")
    assert promoted.status_code == 201, promoted.text
    assert (promoted.json()["version"], promoted.json()["role"], promoted.json()["strategy"]) == (
        3,
        "live",
        "cheapest",
    )
    assert promoted.json()["note"] == "promoted from candidate version 2"
    rules = api.get("/rules").json()
    assert (rules["version"], rules["strategy"], rules["candidate_version"]) == (3, "cheapest", None)
    assert {m["strategy"] for m in api.get("/network").json()["inventory_models"]} == {"cheapest"}
    assert [(v["version"], v["role"]) for v in versions(api)] == [(3, "live"), (2, "candidate"), (1, "live")]

    after = place(api, order("AFTER", at=MUNICH))
    assert (after["rules_version"], after["strategy"]) == (3, "cheapest")
    assert locations_of(after) == "DC-FRA"
    assert shadow_frame(api)["order_id"].to_list() == ["BEFORE"]  # no candidate any more
    assert api.post("/rules/candidate/promote").status_code == 409
    audit_ok(api)


def test_delete_candidate_stops_shadow_decisions(api: TestClient) -> None:
    assert api.put("/rules/candidate", json={"strategy": "no_split"}).status_code == 201
    place(api, order("ONE"))
    cleared = api.delete("/rules/candidate")
    assert cleared.status_code == 200
    assert cleared.json() == {"candidate": None}
    rules = api.get("/rules").json()
    assert (rules["version"], rules["candidate_version"]) == (1, None)
    place(api, order("TWO"))
    assert shadow_frame(api)["order_id"].to_list() == ["ONE"]
    assert [v["version"] for v in versions(api)] == [2, 1]  # the candidate version stays on record
    again = api.delete("/rules/candidate")
    assert (again.status_code, again.json()) == (200, {"candidate": None})
    assert api.post("/rules/candidate/promote").status_code == 409
    audit_ok(api)
