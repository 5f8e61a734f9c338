"""A retailer's own files in a replay (through ``retail``'s importers): the network, stock, carriers and the
locations' weeks (opening hours, pick capacity per weekday) into a scenario, and the order history in any
documented or mapped format into the replay's frame, with every skipped row reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dom_core.config import parse_spec
from dom_core.yamlio import load_yaml
from sim.calendar_spec import WEEKDAYS
from sim.scenario import Scenario

PROBLEMS = {"file": pl.Utf8, "row": pl.Int64, "column": pl.Utf8, "problem": pl.Utf8, "value": pl.Utf8}


@dataclass
class Imported:
    """What an import read: lines summarising each file, and every skipped row's problems."""

    summary: list[str] = field(default_factory=list)
    problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEMS))


def scenario_with_network(path: Path, files: Path) -> tuple[Scenario, Imported]:
    """The scenario file at ``path`` with the network of the retailer's files (a folder or a file) filling
    in what it does not list itself: locations, SKUs, carriers and stock; and, when it has a calendar
    section, the locations' opening hours and weekday pick capacities from the locations file."""
    from retail.network import import_network

    data, lines = load_yaml(path)
    imported = import_network(files)
    spec = imported.spec
    network = data.setdefault("network", {}) or {}
    data["network"] = network
    network.setdefault("locations", [loc.model_dump(mode="json") for loc in spec.locations])
    network.setdefault("skus", [sku.model_dump(mode="json") for sku in spec.skus])
    network.setdefault("carriers", spec.carriers.model_dump(mode="json"))
    if "stock" not in network:
        stock = imported.stock.select("location", "sku", "on_hand", pl.col("safety").fill_null(0))
        network["stock"] = stock.filter((pl.col("on_hand") > 0) | (pl.col("safety") > 0)).to_dicts()
    calendar = data.get("calendar")
    if isinstance(calendar, dict):
        _fill_weeks(calendar, imported.calendars())
    report = imported.report
    scenario: Scenario = parse_spec(Scenario, data, str(path), lines)
    return scenario, Imported(report.summary(), _problems(report.problems))


def _fill_weeks(calendar: dict[str, Any], weeks: dict[str, Any]) -> None:
    """Opening hours (first opening to last closing of each day) and weekday capacities of the files'
    locations, where the calendar section gives none for them."""
    hours = calendar.setdefault("opening_hours", {}) or {}
    capacity = calendar.setdefault("pick_capacity", {}) or {}
    calendar["opening_hours"], calendar["pick_capacity"] = hours, capacity
    for loc, week in weeks.items():
        if week.opening_hours is not None and loc not in hours:
            hours[loc] = {
                WEEKDAYS[d]: f"{_hhmm(min(a for a, _ in spans))}-{_hhmm(max(b for _, b in spans))}"
                for d, spans in enumerate(week.opening_hours.days)
                if spans
            }
        caps = list(week.pick_capacity)
        if loc not in capacity and None not in caps and len(set(caps)) > 1:
            capacity[loc] = caps


def _hhmm(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _problems(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.select([pl.col(c).cast(t) for c, t in PROBLEMS.items()])
        if frame.height
        else pl.DataFrame(schema=PROBLEMS)
    )


def import_history_file(path: Path, timezone: str = "UTC") -> tuple[pl.DataFrame, Imported]:
    """The replay frame of a history file (the documented history file, a service export, or a Shopify,
    Magento or Olist export by its name), with the rows the import skipped and why."""
    from dom_core.errors import DomError
    from retail.history import import_history
    from retail.mappings import mapped
    from retail.sources import find_sources, kind_of
    from sim.history import normalise

    if not path.exists():
        raise DomError("--history", f"no such file or folder: {path}")
    found = {"history": path} if path.is_file() and kind_of(path) is None else find_sources([path])
    source = found.get("history") or mapped(found)
    if source is None:
        raise DomError(
            "--history", f"{path}: no order history (a history file, or a Shopify, Magento or Olist export)"
        )
    result = import_history(source, timezone=timezone)
    report = result.report
    return normalise(result.frame, str(path)), Imported(report.summary(), _problems(report.problems))
