"""The locations file: places geocoded, engine defaults applied, duplicates and unplaceable rows reported.

What the engine uses today: id, kind, lat/lon, country, market, capabilities, one pick capacity per
day, cutoff hour, handling costs, priority, enabled and name. Kept for the calendar (typed, in the
frame): the capacity of each weekday (``pick_capacity_mon`` .. ``_sun``) and the opening hours. A
location without ``pick_capacity_per_day`` gets the mean of the weekdays it gives (rounded), so the
engine sees the same weekly capacity; weekdays not given get the engine's value.
"""

from __future__ import annotations

import polars as pl

from dom_core.carrier_spec import WEEKDAYS
from dom_core.config import DEFAULT_CAPABILITIES, LocationSpec
from retail import geocode
from retail.reading import Table

WEEKDAY_CAPACITY = [f"pick_capacity_{d}" for d in WEEKDAYS]
DEFAULTS = {
    "cutoff_hour": 16.0,
    "handling_cost_per_order": 1.5,
    "handling_cost_per_line": 0.3,
    "priority": 100,
    "enabled": True,
}
DEFAULT_CAPACITY = 1000
ENGINE_FIELDS = (
    "id",
    "kind",
    "lat",
    "lon",
    "country",
    "market",
    "pick_capacity_per_day",
    "cutoff_hour",
    "handling_cost_per_order",
    "handling_cost_per_line",
    "priority",
    "enabled",
    "name",
)


def place(table: Table, what: str) -> None:
    """Fill missing lat/lon from postcode or city within the country; report rows that cannot be placed."""
    lat, lon = pl.col("lat"), pl.col("lon")
    table.flag(lat.is_null() ^ lon.is_null(), "lat", "lat and lon go together")
    table.flag(
        lat.is_null() & lon.is_null() & pl.col("postcode").is_null() & pl.col("city").is_null(),
        "lat",
        f"{what} needs lat/lon, or a postcode or city with its country",
    )
    need = table.frame.filter(lat.is_null() & lon.is_null())
    found = pl.concat([need.select("__row"), geocode.locate(need)], how="horizontal")
    table.frame = (
        table.frame.join(found, on="__row", how="left", maintain_order="left")
        .with_columns(
            placed_by=pl.when(lat.is_not_null() & lon.is_not_null())
            .then(pl.lit("given"))
            .when(lat.is_null() & lon.is_null())
            .then(pl.col("geo_from")),
        )
        .with_columns(
            lat=pl.when(pl.col("placed_by") == "given").then(lat).otherwise(pl.col("geo_lat")),
            lon=pl.when(pl.col("placed_by") == "given").then(lon).otherwise(pl.col("geo_lon")),
        )
        .drop("geo_lat", "geo_lon", "geo_from")
    )
    cannot = pl.col("placed_by").is_null() & (lat.is_null() & lon.is_null())
    problem = pl.format(
        "cannot place postcode {} / city {} in country {} offline (docs/data.md, Geocoding)",
        pl.col("postcode").fill_null("-"),
        pl.col("city").fill_null("-"),
        pl.col("country").fill_null("-"),
    )
    table.flag(cannot & pl.col("postcode").is_not_null(), "postcode", problem)
    table.flag(cannot & pl.col("postcode").is_null() & pl.col("city").is_not_null(), "city", problem)


def repeats(table: Table, keys: list[str], column: str) -> None:
    """Report every row whose ``keys`` repeat an earlier row's."""
    later = ~pl.struct(keys).is_first_distinct()  # cheaper than the window, which runs only on repeats
    table.flag(
        pl.all_horizontal([pl.col(k).is_not_null() for k in keys]) & later,
        column,
        pl.format("repeats row {}", pl.col("__row").first().over(keys)),
    )


def check_locations(table: Table) -> pl.DataFrame:
    """The good locations with every engine field resolved (defaults applied), in file order."""
    place(table, "a location")
    repeats(table, ["id"], "id")
    good = table.good()
    kinds = pl.DataFrame(
        {
            "kind": [k.value for k in DEFAULT_CAPABILITIES],
            "default_caps": [[c.value for c in caps] for caps in DEFAULT_CAPABILITIES.values()],
        }
    )
    given = [pl.col(c) for c in WEEKDAY_CAPACITY]
    mean = pl.mean_horizontal(given).round(0).cast(pl.Int64)
    capacity = pl.coalesce(pl.col("pick_capacity_per_day"), mean, pl.lit(DEFAULT_CAPACITY)).alias(
        "pick_capacity_per_day"
    )
    return (
        good.join(kinds, on="kind", how="left", maintain_order="left")
        .with_columns(
            capacity,
            pl.coalesce("capabilities", "default_caps").alias("capabilities"),
            pl.coalesce("market", "country").alias("market"),
            pl.coalesce("name", "id").alias("name"),
            *[pl.col(k).fill_null(v) for k, v in DEFAULTS.items()],
        )
        .with_columns(*[pl.col(c).fill_null(pl.col("pick_capacity_per_day")) for c in WEEKDAY_CAPACITY])
        .drop("default_caps")
    )


def location_specs(frame: pl.DataFrame) -> list[LocationSpec]:
    """The engine's location specs of resolved location rows."""
    return [
        LocationSpec(**{k: row[k] for k in ENGINE_FIELDS}, capabilities=row["capabilities"])
        for row in frame.iter_rows(named=True)
    ]
