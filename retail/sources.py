"""Which file is which: folders, files named after their kind, or ``KIND=PATH`` arguments.

A file's kind comes from its name (without ``.csv``/``.parquet``): ``locations``, ``catalogue``,
``stock``, ``carriers``, ``carrier_rates``, ``history`` and their synonyms in ``STEMS``; the tables of
the known exports under their own names (``orders_export*.csv`` of Shopify, Magento's ``sales_order``
and ``sales_order_item``, the Olist dataset's ``olist_*_dataset.csv``). An ``orders`` file is Shopify's
export when its header has Shopify's ``Lineitem quantity`` column, else a history file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from retail.problems import FileError
from retail.reading import SUFFIXES

NETWORK_KINDS = ("locations", "catalogue", "stock", "carriers", "carrier_rates")
STEMS: dict[str, tuple[str, ...]] = {
    "locations": ("locations", "location", "stores", "sites"),
    "catalogue": ("catalogue", "catalog", "skus", "products"),
    "stock": ("stock", "inventory", "stock_snapshot"),
    "carriers": ("carriers", "carrier_services"),
    "carrier_rates": ("carrier_rates", "rates", "rate_cards"),
    "history": ("history", "order_history", "orders", "order_lines"),
    "sales_order": ("sales_order",),
    "sales_order_item": ("sales_order_item",),
    "sales_order_address": ("sales_order_address",),
    "inventory_pickup_location_order": ("inventory_pickup_location_order",),
    "olist_orders": ("olist_orders_dataset", "olist_orders"),
    "olist_order_items": ("olist_order_items_dataset", "olist_order_items"),
    "olist_customers": ("olist_customers_dataset", "olist_customers"),
    "olist_geolocation": ("olist_geolocation_dataset", "olist_geolocation"),
}
KINDS = (*STEMS, "shopify")


def kind_of(path: Path) -> str | None:
    """The kind of a file by its name (and, for an orders file, its header), or None."""
    stem = path.name.lower()
    for suffix in SUFFIXES:
        stem = stem.removesuffix(suffix)
    if stem.startswith("orders_export"):
        return "shopify"
    kind = next((k for k, stems in STEMS.items() if stem in stems), None)
    if kind == "history" and path.suffix.lower() in (".csv", ".txt", ".tsv"):
        with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
            if "lineitem quantity" in handle.readline().lower():
                return "shopify"
    return kind


def find_sources(arguments: Iterable[str | Path]) -> dict[str, Path]:
    """Files by kind from folders (their known files), named files and ``KIND=PATH`` arguments."""
    found: dict[str, Path] = {}

    def add(kind: str, path: Path) -> None:
        if kind in found and found[kind] != path:
            raise FileError(str(path), f"a second {kind} file (first: {found[kind]})")
        found[kind] = path

    for argument in arguments:
        text = str(argument)
        kind, sep, rest = text.partition("=")
        if sep and kind in KINDS:
            add(kind, Path(rest))
            continue
        path = Path(text)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                child_kind = kind_of(child) if child.suffix.lower() in SUFFIXES else None
                if child_kind is not None:
                    add(child_kind, child)
        elif path.is_file():
            file_kind = kind_of(path)
            if file_kind is None:
                raise FileError(
                    str(path), f"unknown kind of file; name it after its kind or pass KIND={path}"
                )
            add(file_kind, path)
        else:
            raise FileError(str(path), "no such file or folder")
    return found
