"""Column mappings: common order exports -> the history file's columns, so they load without editing.

* **Shopify** orders export (``orders_export_1.csv``): one row per line item; the order's fields
  (``Created at``, addresses, ``Shipping Method``, ``Source``) only on its first row, carried to the
  others. Order id ``Name``; SKU ``Lineitem sku``; qty ``Lineitem quantity``; customer placed by
  ``Shipping Zip``/``Shipping City``/``Shipping Country`` (billing when no shipping address); a
  shipping method naming a pickup is ``pickup_in_store`` at the ``Location`` column; an order none of
  whose lines ``Lineitem requires shipping`` is ``digital``; channel ``Source``. Returns: not in the
  export (0).
* **Magento 2** tables ``sales_order`` and ``sales_order_item`` (plus ``sales_order_address`` for the
  customer's place and ``inventory_pickup_location_order`` for in-store pickup): items without a
  ``parent_item_id`` (a bundle's children instead of the bundle); order id ``increment_id``; qty
  ``qty_ordered``; returns ``qty_refunded``; ``shipping_method`` ``instore_pickup`` is
  ``pickup_in_store``; ``is_virtual`` orders are ``digital``; times in UTC as Magento stores them.
* **Olist** (Brazilian e-commerce public dataset): ``olist_orders_dataset``, ``olist_order_items_dataset``,
  ``olist_customers_dataset`` and, for coordinates, ``olist_geolocation_dataset`` (mean point of each
  zip prefix; else the customer's city). Each item row is one unit: a line is (order, product) with
  qty the item count; market ``BR``; times in ``America/Sao_Paulo``.

``channel`` defaults to ``web`` (Shopify: its ``Source``), ``market`` to the customer's country.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retail.problems import FileError
from retail.reading import ROW, read_raw

Source = Path | str | pl.DataFrame


@dataclass(frozen=True)
class Mapped:
    """An export mapped to the history file's columns, its rows numbered as in ``label``."""

    frame: pl.DataFrame
    label: str
    timezone: str
    notes: tuple[str, ...] = ()


def _load(source: Source, name: str, needed: tuple[str, ...]) -> tuple[pl.DataFrame, str]:
    frame, label = (
        (source, name) if isinstance(source, pl.DataFrame) else (read_raw(Path(source)), Path(source).name)
    )
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise FileError(label, f"not a {name} export: column(s) {', '.join(missing)} missing")
    blank = [
        pl.when(pl.col(c).cast(pl.String).str.strip_chars() != "").then(pl.col(c)).alias(c)
        for c in frame.columns
    ]
    return frame.with_columns(blank).with_row_index(ROW, offset=1).with_columns(
        pl.col(ROW).cast(pl.Int64)
    ), label


def _text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String)


def shopify(source: Source, channel: str | None = None, market: str | None = None) -> Mapped:
    """A Shopify orders export as history rows (see the module docstring)."""
    needed = ("Name", "Created at", "Lineitem quantity", "Lineitem sku")
    raw, label = _load(source, "Shopify orders", needed)
    order_level = [
        c
        for c in raw.columns
        if c.startswith(("Shipping ", "Billing "))
        or c in ("Created at", "Source", "Location", "Shipping Method")
    ]
    raw = raw.with_columns(pl.col(order_level).forward_fill().over("Name"))

    def col(name: str) -> pl.Expr:
        return _text(name) if name in raw.columns else pl.lit(None, pl.String)

    shipping = col("Shipping Country").is_not_null()
    side = {
        k: pl.when(shipping).then(col(f"Shipping {k}")).otherwise(col(f"Billing {k}"))
        for k in ("Zip", "City", "Country")
    }
    pickup = col("Shipping Method").str.contains(r"(?i)pick\s*-?\s*up")
    ships = col("Lineitem requires shipping").str.to_lowercase().ne_missing("false")
    frame = raw.select(
        ROW,
        order_id=col("Name"),
        created_at=col("Created at"),
        market=pl.lit(market) if market else side["Country"],
        channel=pl.lit(channel) if channel else pl.coalesce(col("Source"), pl.lit("web")),
        postcode=side["Zip"].str.strip_chars_start("'"),
        city=side["City"],
        country=side["Country"],
        fulfilment=pl.when(~ships.any().over("Name"))
        .then(pl.lit("digital"))
        .when(pickup)
        .then(pl.lit("pickup_in_store"))
        .otherwise(pl.lit("home_delivery")),
        pickup_location=pl.when(pickup).then(col("Location")),
        line_id=(pl.int_range(pl.len()).over("Name") + 1).cast(pl.String),
        sku=col("Lineitem sku"),
        qty=col("Lineitem quantity"),
    )
    return Mapped(frame, label, "UTC")


def magento(
    orders: Source,
    items: Source,
    addresses: Source | None = None,
    pickups: Source | None = None,
    channel: str | None = None,
    market: str | None = None,
) -> Mapped:
    """Magento 2 ``sales_order`` + ``sales_order_item`` (+ address, pickup) tables as history rows."""
    head, _ = _load(orders, "sales_order", ("entity_id", "increment_id", "created_at"))
    lines, label = _load(items, "sales_order_item", ("item_id", "order_id", "sku", "qty_ordered"))
    for optional in ("parent_item_id", "product_type", "qty_refunded"):
        if optional not in lines.columns:
            lines = lines.with_columns(pl.lit(None, pl.String).alias(optional))
    kinds = lines.select(parent=_text("item_id"), parent_type=_text("product_type"))
    lines = lines.with_columns(parent=_text("parent_item_id")).join(
        kinds, on="parent", how="left", maintain_order="left"
    )
    keep = pl.col("parent").is_null() & (_text("product_type") != "bundle").fill_null(True)
    all_items = lines.height
    lines = lines.filter(keep | (pl.col("parent_type") == "bundle"))
    folded = f"{label}: {all_items - lines.height} of {all_items} rows are bundles or configurable children"
    head = head.select(
        order=_text("entity_id"),
        number=pl.coalesce(_text("increment_id"), _text("entity_id")),
        created_at=_text("created_at"),
        method=_text("shipping_method") if "shipping_method" in head.columns else pl.lit(None, pl.String),
        virtual=(_text("is_virtual") == "1") if "is_virtual" in head.columns else pl.lit(False),
    )
    if addresses is not None:
        place, _ = _load(addresses, "sales_order_address", ("parent_id", "address_type", "country_id"))
        for kind in ("billing", "shipping"):  # shipping last: it wins
            part = (
                place.filter(_text("address_type") == kind)
                .unique("parent_id", keep="first")
                .select(
                    order=_text("parent_id"),
                    postcode=_text("postcode") if "postcode" in place.columns else pl.lit(None, pl.String),
                    city=_text("city") if "city" in place.columns else pl.lit(None, pl.String),
                    country=_text("country_id"),
                )
            )
            head = head.join(part, on="order", how="left", maintain_order="left")
            if "postcode_right" in head.columns:
                head = head.with_columns(
                    [pl.coalesce(f"{c}_right", c).alias(c) for c in ("postcode", "city", "country")]
                ).drop("postcode_right", "city_right", "country_right")
    else:
        head = head.with_columns(postcode=pl.lit(None, pl.String), city=None, country=None)
    if pickups is not None:
        codes, _ = _load(pickups, "inventory_pickup_location_order", ("order_id", "pickup_location_code"))
        head = head.join(
            codes.select(order=_text("order_id"), pickup=_text("pickup_location_code")),
            on="order",
            how="left",
        )
    else:
        head = head.with_columns(pickup=pl.lit(None, pl.String))
    at_store = pl.col("method").str.contains("instore_pickup").fill_null(False)
    frame = (
        lines.with_columns(order=_text("order_id"))
        .join(head, on="order", how="left", maintain_order="left")
        .select(
            ROW,
            pl.col("number").alias("order_id"),
            "created_at",
            market=pl.lit(market) if market else pl.col("country"),
            channel=pl.lit(channel or "web"),
            postcode="postcode",
            city="city",
            country="country",
            fulfilment=pl.when(pl.col("virtual"))
            .then(pl.lit("digital"))
            .when(at_store)
            .then(pl.lit("pickup_in_store"))
            .otherwise(pl.lit("home_delivery")),
            pickup_location=pl.when(at_store).then(pl.col("pickup")),
            line_id=_text("item_id"),
            sku=_text("sku"),
            qty=_text("qty_ordered"),
            return_qty=pl.coalesce(_text("qty_refunded"), pl.lit("0")),
        )
    )
    return Mapped(frame, label, "UTC", (f"{folded} (rows counted below are order lines)",))


def olist(
    orders: Source,
    items: Source,
    customers: Source,
    geolocation: Source | None = None,
    channel: str | None = None,
    market: str | None = None,
) -> Mapped:
    """The Olist dataset's orders, order items, customers (and geolocation) tables as history rows."""
    head, _ = _load(orders, "olist_orders", ("order_id", "customer_id", "order_purchase_timestamp"))
    units, label = _load(items, "olist_order_items", ("order_id", "order_item_id", "product_id"))
    people, _ = _load(customers, "olist_customers", ("customer_id", "customer_zip_code_prefix"))
    zip5 = _text("customer_zip_code_prefix").str.zfill(5)
    people = people.select(
        "customer_id", zip=zip5, city=_text("customer_city") if "customer_city" in people.columns else None
    )
    if geolocation is not None:
        geo, _ = _load(
            geolocation,
            "olist_geolocation",
            ("geolocation_zip_code_prefix", "geolocation_lat", "geolocation_lng"),
        )
        points = geo.group_by(zip=_text("geolocation_zip_code_prefix").str.zfill(5)).agg(
            lat=pl.col("geolocation_lat").cast(pl.Float64, strict=False).mean(),
            lon=pl.col("geolocation_lng").cast(pl.Float64, strict=False).mean(),
        )
        people = people.join(points, on="zip", how="left", maintain_order="left")
    else:
        people = people.with_columns(lat=pl.lit(None, pl.Float64), lon=pl.lit(None, pl.Float64))
    lines = units.group_by("order_id", "product_id", maintain_order=True).agg(
        pl.col(ROW).min(),
        line_id=_text("order_item_id").cast(pl.Int64, strict=False).min().cast(pl.String),
        qty=pl.len(),
    )
    head = head.select("order_id", "customer_id", created_at=_text("order_purchase_timestamp")).join(
        people, on="customer_id", how="left"
    )
    frame = lines.join(head, on="order_id", how="left", maintain_order="left").select(
        ROW,
        "order_id",
        "created_at",
        market=pl.lit(market or "BR"),
        channel=pl.lit(channel or "web"),
        lat="lat",
        lon="lon",
        postcode=pl.when(pl.col("lat").is_null()).then(pl.col("zip")),
        city=pl.when(pl.col("lat").is_null()).then(pl.col("city")),
        country=pl.lit("BR"),
        fulfilment=pl.lit("home_delivery"),
        line_id="line_id",
        sku=_text("product_id"),
        qty="qty",
    )
    note = f"{label}: {units.height} item rows (one unit each) are {lines.height} order lines (counted below)"
    return Mapped(frame.sort(ROW), label, "America/Sao_Paulo", (note,))


def mapped(
    found: Mapping[str, Source], channel: str | None = None, market: str | None = None
) -> Mapped | None:
    """The order history among ``found`` files (kind -> source) in whichever known layout it is, or None."""
    if "shopify" in found:
        return shopify(found["shopify"], channel, market)
    if "sales_order" in found or "sales_order_item" in found:
        if "sales_order" not in found or "sales_order_item" not in found:
            raise FileError("magento", "a Magento history needs both sales_order and sales_order_item")
        extra = (found.get("sales_order_address"), found.get("inventory_pickup_location_order"))
        return magento(found["sales_order"], found["sales_order_item"], *extra, channel, market)
    olist_kinds = ("olist_orders", "olist_order_items", "olist_customers")
    if any(k in found for k in olist_kinds):
        missing = [k for k in olist_kinds if k not in found]
        if missing:
            raise FileError("olist", f"an Olist history also needs {', '.join(missing)}")
        geo = found.get("olist_geolocation")
        return olist(
            found["olist_orders"], found["olist_order_items"], found["olist_customers"], geo, channel, market
        )
    return None
