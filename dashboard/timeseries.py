"""Daily series over simulated days: orders, backlog, stock on hand and stock-outs, per strategy,
summed over a selection of locations and averaged over replications."""

from __future__ import annotations

import polars as pl

ALL = "All locations"
KIND_LABELS = {
    "dc": "DCs", "store": "Stores", "dark_store": "Dark stores", "3pl": "3PL", "drop_ship": "Drop ship",
}
SERIES = (
    ("orders", "Online orders per day (network)"),
    ("backlog_units", "Backlog (units queued to pick)"),
    ("on_hand", "Stock on hand (units)"),
    ("stockout_skus", "Stock-outs (SKUs at zero)"),
)


def selections(daily: pl.DataFrame) -> list[str]:
    """Choices for the location filter: all, each location kind present, then each location."""
    kinds = daily["location_kind"].unique().sort().to_list()
    return [ALL, *(KIND_LABELS.get(k, k) for k in kinds), *daily["location"].unique().sort().to_list()]


def _filter(daily: pl.DataFrame, selection: str) -> pl.DataFrame:
    if selection == ALL:
        return daily
    kinds = {label: k for k, label in KIND_LABELS.items()}
    if selection in kinds or selection in set(daily["location_kind"].unique().to_list()):
        return daily.filter(pl.col("location_kind") == kinds.get(selection, selection))
    return daily.filter(pl.col("location") == selection)


def series(daily: pl.DataFrame, orders_per_day: pl.DataFrame, selection: str = ALL) -> pl.DataFrame:
    """One row per (strategy, day): mean over replications of the day's totals over the selected locations."""
    per_run = (
        _filter(daily, selection)
        .group_by("strategy", "replication", "day")
        .agg(pl.col("backlog_units").sum(), pl.col("on_hand").sum(), pl.col("stockout_skus").sum())
    )
    joined = per_run.join(
        orders_per_day.with_columns(pl.col("replication").cast(per_run.schema["replication"])),
        on=["strategy", "replication", "day"], how="left",
    )  # no orders after the horizon (the drain days): null, so the line ends there
    return (
        joined.group_by("strategy", "day")
        .agg(pl.col(name).mean() for name, _ in SERIES)
        .sort("strategy", "day")
    )
