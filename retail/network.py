"""Imported locations, catalogue, stock and carriers -> a ``NetworkSpec``, a stocked ledger and carriers.

``import_network`` reads the documented files (CSV or Parquet paths, or polars frames), checks every row,
and returns an ``ImportedNetwork``: the typed frames, the ``NetworkSpec`` (locations, SKUs, carriers;
its stock stays in the frame, loaded as arrays by ``ledger``), and the report. With ``strict=True`` any
bad row refuses the whole import (``ImportRefusedError``); by default bad rows are skipped and counted. A
file that cannot be used at all raises ``FileError``. Either way nothing is half-imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from dom_core.carriers import CarrierCatalog
from dom_core.config import CarriersSpec, NetworkSpec, SkuSpec
from dom_core.inventory import InventoryLedger
from dom_core.network import Network
from retail.carriers import Preset, check_carriers
from retail.hours import OpeningHours
from retail.locations import WEEKDAY_CAPACITY, check_locations, location_specs, repeats
from retail.problems import FileError, ImportRefusedError, ImportReport
from retail.reading import Table, read_raw
from retail.schemas import ALIASES, ROW_MODELS
from retail.sources import NETWORK_KINDS, find_sources
from retail.stock import check_stock, stocked_ledger

Source = Path | str | pl.DataFrame
SKU_DEFAULTS = {"weight_kg": 0.5, "category": "general", "price": 30.0, "digital": False}


@dataclass(frozen=True)
class LocationCalendar:
    """What a location's file says about its week, for the calendar: pick capacity per weekday (Monday
    first) and opening hours (None: not given)."""

    pick_capacity: tuple[int, ...]
    opening_hours: OpeningHours | None


@dataclass
class ImportedNetwork:
    """An imported network: typed frames, the engine's spec, and the import report."""

    spec: NetworkSpec
    locations: pl.DataFrame
    catalogue: pl.DataFrame
    stock: pl.DataFrame
    carriers: pl.DataFrame
    carrier_rates: pl.DataFrame
    report: ImportReport = field(default_factory=ImportReport)

    def network(self) -> Network:
        """The engine's network (locations and SKUs in file order; no inventory models)."""
        return self.spec.build()

    def carrier_catalog(self) -> CarrierCatalog:
        """The engine's carrier catalogue."""
        return self.spec.carriers.build()

    def ledger(
        self, network: Network, epoch: datetime | None = None, record: bool = False
    ) -> InventoryLedger:
        """A ledger for ``network`` stocked from the stock frame (see ``retail.stock.stocked_ledger``)."""
        return stocked_ledger(self.stock, network, epoch, record)

    def build(self, epoch: datetime | None = None) -> tuple[Network, InventoryLedger, CarrierCatalog]:
        """Network, stocked ledger and carriers, as ``dom_core.config.load_network`` returns them."""
        network = self.network()
        return network, self.ledger(network, epoch), self.carrier_catalog()

    def calendars(self) -> dict[str, LocationCalendar]:
        """Per location: weekday pick capacities and opening hours (typed), by location id."""
        out = {}
        for row in self.locations.iter_rows(named=True):
            spans = row["opening_hours"]
            hours = None
            if spans is not None:
                days: list[list[tuple[float, float]]] = [[] for _ in range(7)]
                order = [c.removeprefix("pick_capacity_") for c in WEEKDAY_CAPACITY]
                for span in spans:
                    days[order.index(span["weekday"])].append((span["open_hour"], span["close_hour"]))
                hours = OpeningHours(tuple(tuple(d) for d in days))
            out[row["id"]] = LocationCalendar(tuple(row[c] for c in WEEKDAY_CAPACITY), hours)
        return out


def table(kind: str, source: Source, timezone: str = "UTC") -> Table:
    """A file (or frame) of ``kind`` parsed against its row model."""
    if isinstance(source, pl.DataFrame):
        raw, label = source, kind
    else:
        raw, label = read_raw(Path(source)), Path(source).name
    return Table(raw, ROW_MODELS[kind], label, ALIASES.get(kind))


def _skipped(t: Table, good: pl.DataFrame, key: str) -> pl.Series:
    return (
        t.frame.get_column(key)
        .drop_nulls()
        .filter(~t.frame.get_column(key).drop_nulls().is_in(good.get_column(key).implode()))
    )


def import_network(
    sources: Mapping[str, Source] | Path | str,
    strict: bool = False,
    carrier_preset: Preset | None = None,
) -> ImportedNetwork:
    """Import a network from its files (a folder, or kind -> path or frame); see the module docstring.

    ``carrier_preset``: the preset beside imported carriers (default: ``none`` with a carriers file,
    ``default`` without one).
    """
    found: Mapping[str, Source] = find_sources([sources]) if isinstance(sources, Path | str) else sources
    given = {k: v for k, v in found.items() if k in NETWORK_KINDS}
    for kind in ("locations", "catalogue"):
        if kind not in given:
            raise FileError(kind, f"a network import needs a {kind} file")
    report = ImportReport()
    loc_t = table("locations", given["locations"])
    locations = check_locations(loc_t)
    cat_t = table("catalogue", given["catalogue"])
    repeats(cat_t, ["sku"], "sku")
    catalogue = (
        cat_t.good()
        .with_columns(
            *[pl.col(k).fill_null(v) for k, v in SKU_DEFAULTS.items()],
        )
        .with_columns(pl.col("returnable").fill_null(~pl.col("digital")))
    )
    stock = pl.DataFrame(schema={"location": pl.String, "sku": pl.String, "on_hand": pl.Int64})
    stock_t = None
    if "stock" in given:
        stock_t = table("stock", given["stock"])
        stock = check_stock(
            stock_t,
            locations.get_column("id"),
            catalogue.get_column("sku"),
            _skipped(loc_t, locations, "id"),
            _skipped(cat_t, catalogue, "sku"),
        )
    carriers_spec = CarriersSpec(preset=carrier_preset or "default")
    carriers = rates = pl.DataFrame()
    car_t = rate_t = None
    if "carriers" in given:
        car_t = table("carriers", given["carriers"])
        rate_t = table("carrier_rates", given["carrier_rates"]) if "carrier_rates" in given else None
        carriers_spec, rates = check_carriers(car_t, rate_t, carrier_preset or "none")
        carriers = car_t.good()
    elif "carrier_rates" in given:
        raise FileError("carrier_rates", "carrier rates need their carriers file")
    for t, frame in (
        (loc_t, locations),
        (cat_t, catalogue),
        (stock_t, stock),
        (car_t, carriers),
        (rate_t, rates),
    ):
        if t is not None:
            report.add(t.report(frame.height))
    if strict and not report.ok:
        raise ImportRefusedError(report)
    placed = locations.get_column("placed_by").value_counts(sort=True)
    report.notes += [
        f"locations placed by {r['placed_by']}: {r['count']}" for r in placed.iter_rows(named=True)
    ]
    spec = NetworkSpec(
        locations=location_specs(locations),
        skus=[
            SkuSpec(id=r["sku"], **{k: r[k] for k in (*SKU_DEFAULTS, "returnable")})
            for r in catalogue.select("sku", *SKU_DEFAULTS, "returnable").iter_rows(named=True)
        ],
        carriers=carriers_spec,
    )
    loc, cat, sto, car, rat = (
        f.drop("__row", strict=False)
        for f in (locations.drop("placed_by"), catalogue, stock, carriers, rates)
    )
    return ImportedNetwork(spec, loc, cat, sto, car, rat, report)
