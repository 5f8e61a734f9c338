"""Order exports in their published layouts load without editing: Shopify, Magento 2 and Olist."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from retail.history import HISTORY_SCHEMA, import_history
from retail.mappings import magento, mapped, olist, shopify
from retail.problems import FileError
from retail.sources import find_sources, kind_of
from tests.retail.conftest import DATA


def rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.select(
        "order_id", "fulfilment", "pickup_location", "line_id", "sku", "qty", "return_qty"
    ).rows()


def test_shopify_orders_export() -> None:
    path = DATA / "shopify" / "orders_export_1.csv"
    assert kind_of(path) == "shopify"
    result = import_history(shopify(path))
    frame = result.frame
    assert dict(frame.schema) == HISTORY_SCHEMA
    assert rows(frame) == [
        ("#1001", "home_delivery", None, "1", "SKU-1", 2, 0),
        ("#1001", "home_delivery", None, "2", "SKU-3", 1, 0),  # order fields carried from its first row
        ("#1002", "pickup_in_store", "S-MUC", "1", "SKU-2", 1, 0),  # "Local Pickup" at its Location
        ("#1003", "digital", None, "1", "SKU-4", 1, 0),  # no line requires shipping
    ]
    assert frame.item(0, "created_at") == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)  # +0100
    assert frame.get_column("channel").to_list() == ["web", "web", "web", "android"]
    assert frame.get_column("market").to_list() == ["DE", "DE", "DE", "AT"]
    assert abs(frame.item(0, "lat") - 52.52) < 0.05  # shipping zip 10115
    assert abs(frame.item(2, "lat") - 48.14) < 0.05  # billing zip '80331 (Excel's apostrophe dropped)
    problem = result.report.problems.row(0, named=True)
    assert (problem["file"], problem["row"], problem["column"]) == ("orders_export_1.csv", 6, "qty")
    assert result.report.counts[0].skipped == 2  # order #1004: its bad line and its good one


def test_magento_sales_order_tables() -> None:
    found = find_sources([DATA / "magento"])
    assert set(found) == {
        "sales_order",
        "sales_order_item",
        "sales_order_address",
        "inventory_pickup_location_order",
    }
    export = mapped(found)
    assert export is not None
    result = import_history(export)
    assert result.report.ok, result.report.lines()
    assert rows(result.frame) == [
        ("000000001", "home_delivery", None, "10", "SKU-1", 2, 1),  # configurable parent; its child dropped
        ("000000001", "home_delivery", None, "13", "SKU-3", 1, 0),  # the bundle's child, not the bundle
        ("000000002", "pickup_in_store", "S-MUC", "14", "SKU-2", 1, 0),
        ("000000003", "digital", None, "15", "SKU-4", 1, 0),
    ]
    first = result.frame.row(0, named=True)
    assert abs(first["lat"] - 53.55) < 0.05  # the shipping address (Hamburg), not the billing one
    assert first["created_at"] == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
    assert any("bundles or configurable children" in n for n in result.report.notes)


def test_magento_without_address_table_cannot_place_orders() -> None:
    result = import_history(
        magento(DATA / "magento" / "sales_order.csv", DATA / "magento" / "sales_order_item.csv")
    )
    assert result.frame.height == 0
    assert {"lat", "market"} <= set(result.report.problems.get_column("column"))


def test_olist_tables() -> None:
    found = find_sources([DATA / "olist"])
    export = mapped(found, channel="marketplace")
    assert export is not None and export.timezone == "America/Sao_Paulo"
    result = import_history(export)
    frame = result.frame
    assert rows(frame) == [
        (
            "e481f51cbdc54678b7cc49136f2d6af7",
            "home_delivery",
            None,
            "1",
            "87285b34884572647811a353c7ac498a",
            1,
            0,
        ),
        (
            "53cdb2fc8bc7dce0b6741e2150273451",
            "home_delivery",
            None,
            "1",
            "595fac2a385ac33a80bd5114aec74eb8",
            2,
            0,
        ),
        (
            "53cdb2fc8bc7dce0b6741e2150273451",
            "home_delivery",
            None,
            "3",
            "aa4383b373c6aca5d8797843e5594415",
            1,
            0,
        ),
    ]
    assert frame.item(0, "created_at") == datetime(2017, 10, 2, 13, 56, 33, tzinfo=UTC)  # 10:56 in Sao Paulo
    assert (frame.item(0, "lat"), frame.item(0, "lon")) == pytest.approx(
        (-23.584, -46.588)
    )  # mean of its zip
    assert set(frame.get_column("market")) == {"BR"} and set(frame.get_column("channel")) == {"marketplace"}
    problem = result.report.problems.row(0, named=True)  # a small town without geolocation rows
    assert (problem["file"], problem["row"], problem["column"]) == (
        "olist_order_items_dataset.csv",
        5,
        "postcode",
    )


def test_an_incomplete_export_says_which_table_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="olist_customers"):
        mapped(
            find_sources(
                [
                    DATA / "olist" / "olist_orders_dataset.csv",
                    DATA / "olist" / "olist_order_items_dataset.csv",
                ]
            )
        )
    (tmp_path / "orders_export.csv").write_text("Name,Created at\n#1,2026-01-01\n", encoding="utf-8")
    with pytest.raises(FileError, match="Lineitem quantity"):
        shopify(tmp_path / "orders_export.csv")
    with pytest.raises(FileError, match="sales_order_item"):
        mapped(find_sources([DATA / "magento" / "sales_order.csv"]))


def test_olist_without_geolocation_places_customers_by_their_city() -> None:
    orders, items, customers = (
        DATA / "olist" / f"olist_{n}_dataset.csv" for n in ("orders", "order_items", "customers")
    )
    result = import_history(olist(orders, items, customers))
    sao_paulo = result.frame.filter(pl.col("order_id") == "e481f51cbdc54678b7cc49136f2d6af7").row(
        0, named=True
    )
    assert abs(sao_paulo["lat"] + 23.55) < 0.05 and abs(sao_paulo["lon"] + 46.63) < 0.05
    assert result.frame.get_column("order_id").n_unique() == 2  # Vianopolis is too small to be known
