"""The carriers and carrier_rates files -> the same ``CarriersSpec`` a scenario's ``carriers:`` holds.

A zone service's rate card is the grid of its ``carrier_rates`` rows: the distinct ``max_km`` are its
distance bands, the distinct ``max_kg`` its weight brackets, and every combination needs a price. A
service whose grid is incomplete, or that the engine's spec refuses (transit min > mode, ...), is a bad
row of the carriers file; rate rows of skipped services are skipped with them.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import ValidationError

from dom_core.carrier_spec import CarrierServiceSpec
from dom_core.carriers import Mode
from dom_core.config import CarriersSpec
from retail.locations import repeats
from retail.reading import Table

Preset = Literal["default", "linear", "none"]
_LINEAR = ("per_package", "per_item", "per_item_mile")
_PLAIN = (
    "name",
    "mode",
    "pickup_cutoff_hour",
    "pickup_days",
    "max_km",
    "max_kg",
    "linehaul_kg_co2_per_tkm",
    "last_mile_kg_co2_per_parcel",
    "promise_quantile",
    "markets",
    "countries",
)


def _grid(rates: pl.DataFrame, service: str) -> tuple[dict[str, Any] | None, str | None]:
    """A zone rate card spec from one service's rate rows, or the problem with them."""
    rows = rates.filter(pl.col("service") == service)
    if rows.height == 0:
        return None, "a zone rate card needs rows in carrier_rates"
    bands = sorted(set(rows.get_column("max_km").to_list()))
    brackets = sorted(set(rows.get_column("max_kg").to_list()))
    price = {(r["max_km"], r["max_kg"]): r["price"] for r in rows.iter_rows(named=True)}
    missing = [(b, w) for b in bands for w in brackets if (b, w) not in price]
    if missing:
        shown = ", ".join(f"<= {b:g} km x <= {w:g} kg" for b, w in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return None, f"carrier_rates lacks prices for {shown}{more}"
    prices = [[price[(b, w)] for w in brackets] for b in bands]
    return {"kind": "zone", "zone_limits_km": bands, "weight_limits_kg": brackets, "prices": prices}, None


def _spec(row: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    data = {k: row[k] for k in _PLAIN if row.get(k) is not None}
    transit = {"min_days": row["transit_min_days"], "mode_days": row["transit_mode_days"]}
    transit["max_days"] = row["transit_max_days"]
    if row.get("transit_extra_days_per_1000_km") is not None:
        transit["extra_days_per_1000_km"] = row["transit_extra_days_per_1000_km"]
    if row.get("fuel_surcharge") is not None and card["kind"] == "zone":
        card = {**card, "fuel_surcharge": row["fuel_surcharge"]}
    return {**data, "rate_card": card, "transit": transit}


_FIELD_COLUMN = {"transit": "transit_min_days", "rate_card": "rate_card"}


def check_carriers(carriers: Table, rates: Table | None, preset: Preset) -> tuple[CarriersSpec, pl.DataFrame]:
    """The carriers spec of the good services, and the good rate rows (of good services only)."""
    repeats(carriers, ["name"], "name")
    names = carriers.frame.get_column("name").drop_nulls().implode()
    transfer = pl.col("transfer").fill_null(False)
    first_transfer = pl.col("__row").filter(transfer).first()
    carriers.flag(
        transfer & (pl.col("__row") != first_transfer), "transfer", "only one service can be the transfer one"
    )
    if rates is not None:
        rates.flag(
            pl.col("service").is_not_null() & ~pl.col("service").is_in(names), "service", "unknown service"
        )
        repeats(rates, ["service", "max_km", "max_kg"], "max_kg")
        good_rates = rates.good()
    else:
        good_rates = pl.DataFrame(schema={"service": pl.String, "max_km": pl.Float64, "max_kg": pl.Float64})
    services: list[CarrierServiceSpec] = []
    transfer_service: str | None = None
    for row in carriers.good().iter_rows(named=True):
        at = pl.col("__row") == row["__row"]
        if row["rate_card"] == "linear":
            card: dict[str, Any] | None = {
                "kind": "linear",
                **{k: row[k] for k in _LINEAR if row[k] is not None},
            }
            problem = None
            if good_rates.filter(pl.col("service") == row["name"]).height:
                problem = "a linear rate card takes no carrier_rates rows"
        else:
            card, problem = _grid(good_rates, row["name"])
        if problem is not None or card is None:
            carriers.flag(at, "rate_card", problem or "no rate card")
            continue
        try:
            service = CarrierServiceSpec.model_validate(_spec(row, card))
        except ValidationError as exc:
            err = exc.errors()[0]
            column = str(err["loc"][0]) if err["loc"] else "name"
            carriers.flag(at, _FIELD_COLUMN.get(column, column), err["msg"].removeprefix("Value error, "))
            continue
        services.append(service)
        if row["transfer"]:
            transfer_service = service.name
    by_mode = [s.name for s in services if s.mode is Mode.TRANSFER]
    wrong: list[str] = []
    if transfer_service is not None and transfer_service not in by_mode:
        wrong, why = [transfer_service], "the transfer service needs mode transfer"
    elif transfer_service is None and len(by_mode) > 1:
        wrong, why = by_mode, "several services have mode transfer: set transfer=true on one"
    if wrong:
        carriers.flag(pl.col("name").is_in(pl.Series(wrong, dtype=pl.String).implode()), "transfer", why)
        services = [s for s in services if s.name not in wrong]
        transfer_service = None
    spec = CarriersSpec(preset=preset, services=services, transfer_service=transfer_service)
    kept = [s.name for s in services]
    if rates is not None:
        rates.drop(~pl.col("service").is_in(pl.Series(kept, dtype=pl.String).implode()))
        good_rates = rates.good()
    return spec, good_rates
