"""Plain words for the results page: simulated hours as calendar dates and times, money with its currency,
the run's settings and the order tables of the drill-down as a retail operations manager reads them.

The calendar starts on the scenario's start date (``calendar: {start_date: ...}``, or a top-level
``start_date``) when the results' manifest gives one, else on ``DEFAULT_START``; costs are in the
scenario's ``currency`` if it names one, else ``DEFAULT_CURRENCY``. Money is always written
``4.82 EUR`` (amount, then the ISO code), as on the Shadow page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

# The simulation's hour 0 is a Monday at midnight (dom_core/carriers.py skips weekends from it), so the
# default start is a Monday too.
DEFAULT_START = date(2027, 1, 4)
DEFAULT_CURRENCY = "EUR"
MISSING = "–"
KIND_NAMES = {
    "dc": "DC", "store": "store", "dark_store": "dark store", "3pl": "3PL", "drop_ship": "drop ship",
}


@dataclass(frozen=True)
class Calendar:
    """How simulated time and money are shown for one result folder."""

    start: date = DEFAULT_START
    currency: str = DEFAULT_CURRENCY
    start_given: bool = False  # the scenario names its start date
    currency_given: bool = False  # the scenario names its currency

    def at(self, hours: float) -> datetime:
        """The calendar date and time ``hours`` after the start (midnight of the start date)."""
        return datetime(self.start.year, self.start.month, self.start.day) + timedelta(hours=hours)

    def when(self, hours: float | None) -> str:
        """A simulated hour as ``Mon 4 Jan 2027, 14:02`` (``–`` when unknown)."""
        if hours is None or math.isnan(hours):
            return MISSING
        t = self.at(hours)
        return f"{t:%a} {t.day} {t:%b %Y, %H:%M}"

    def day(self, day: float) -> date:
        """The calendar date of simulated day ``day`` (day 0 is the start date)."""
        return self.start + timedelta(days=math.floor(day))

    def money(self, x: float | None) -> str:
        """An amount with its currency, e.g. ``4.82 EUR``."""
        return MISSING if x is None or math.isnan(x) else f"{x:,.2f} {self.currency}"

    def note(self) -> str:
        """What the dates and amounts rest on, said when the scenario does not name them."""
        parts = []
        if not self.start_given:
            first = f"{self.start:%a} {self.start.day} {self.start:%b %Y}"
            parts.append(f"the scenario names no start date, so its first day is shown as {first}")
        if not self.currency_given:
            parts.append(f"it names no currency, so amounts are taken to be in {self.currency}")
        return ("Dates and money: " + "; ".join(parts) + ".") if parts else ""


def _spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("scenario_spec")
    return spec if isinstance(spec, dict) else {}


def calendar(manifest: dict[str, Any]) -> Calendar:
    """The calendar and currency of a result folder, from the scenario in its manifest."""
    spec = _spec(manifest)
    raw = spec.get("calendar")
    cal: dict[str, Any] = raw if isinstance(raw, dict) else {}
    start, start_given = DEFAULT_START, False
    for value in (cal.get("start_date"), spec.get("start_date"), manifest.get("start_date")):
        if value:
            try:
                start, start_given = date.fromisoformat(str(value)[:10]), True
                break
            except ValueError:
                continue
    code = spec.get("currency") or cal.get("currency") or manifest.get("currency")
    currency = str(code).upper() if code else DEFAULT_CURRENCY
    return Calendar(start, currency, start_given, bool(code))


def settings(knobs: dict[str, Any]) -> str:
    """The settings a run changed from its scenario file, in words (``as in the scenario file`` if none)."""
    words = []
    demand, capacity = knobs.get("demand_factor", 1.0), knobs.get("capacity_factor", 1.0)
    if demand not in (None, 1.0):
        words.append(f"demand × {demand:g}")
    if capacity not in (None, 1.0):
        words.append(f"pick capacity × {capacity:g}")
    if knobs.get("max_shipments") is not None:
        n = int(knobs["max_shipments"])
        words.append(f"at most {n} parcel{'s' if n != 1 else ''} per order")
    if knobs.get("safety_stock") is not None:
        words.append(f"safety stock {int(knobs['safety_stock'])} units per location and product")
    share = knobs.get("store_participation", 1.0)
    if share not in (None, 1.0):
        words.append(f"{share:.0%} of stores ship online orders")
    return ", ".join(words) if words else "settings as in the scenario file"


def describe(manifest: dict[str, Any], strategies: int, cal: Calendar) -> str:
    """One line on what the results are: scenario, strategies, runs, period, settings and currency."""
    spec = _spec(manifest)
    about = spec.get("description") or ""
    reps = int(manifest["replications"])
    days = spec.get("horizon_days")
    period = ""
    if isinstance(days, int | float) and days > 0:
        last = cal.day(days - 1)
        period = f" · orders from {cal.start:%-d %b %Y} to {last:%-d %b %Y}"
    return (f"Scenario {manifest['scenario']}{': ' + about if about else ''} · "
            f"{strategies} sourcing strategies, each simulated {'once' if reps == 1 else f'{reps} times'} "
            f"on the same orders{period} · "
            f"{settings(manifest.get('knobs') or {})} · costs in {cal.currency} · "
            f"computed in {manifest.get('seconds', '?')} s (random seed {manifest.get('seed')})")


def words(value: str | None) -> str:
    """A code such as ``pickup_in_store`` in words (``pickup in store``)."""
    return MISSING if value is None else str(value).replace("_", " ")


def order_rows(orders: pl.DataFrame, cal: Calendar) -> pl.DataFrame:
    """The order's rows (one per sourcing attempt) with dates, money and plain column names."""
    rows = []
    for r in orders.sort("attempt").iter_rows(named=True):
        total = r["shipping_cost"] + r["handling_cost"] + r["transfer_cost"]
        rows.append({
            "Attempt": r["attempt"] + 1, "Placed": cal.when(r["created_at"]),
            "Decided": cal.when(r["decided_at"]),
            "Market": r["market"], "Channel": words(r["channel"]), "Fulfilment": words(r["fulfilment"]),
            "Lines": r["lines"], "Units": r["units"], "Units allocated": r["units_allocated"],
            "Units lost": r["units_lost"], "Units backordered": r["units_backordered"],
            "Parcels": r["shipments"],
            "Shipping": cal.money(r["shipping_cost"]), "Handling": cal.money(r["handling_cost"]),
            "Transfers": cal.money(r["transfer_cost"]), "Total cost": cal.money(total),
            "CO2e (kg)": f"{r['co2_kg']:.3f}", "Promised by": cal.when(r["promised_at"]),
        })
    return pl.DataFrame(rows)


def parcel_rows(ships: pl.DataFrame, cal: Calendar) -> pl.DataFrame:
    """The order's parcels: where from, how, when picked, shipped, promised and delivered, on time or not."""
    rows = []
    for r in ships.iter_rows(named=True):
        delivered, promised = r["delivered_at"], r["promised_at"]
        late = None if delivered is None or promised is None else delivered > promised
        on_time = MISSING if late is None else "no" if late else "yes"
        rows.append({
            "From": r["location"], "Location type": KIND_NAMES.get(r["location_kind"], r["location_kind"]),
            "Carrier service": words(r["service"]), "Units": r["units"], "Picked": cal.when(r["picked_at"]),
            "Shipped": cal.when(r["shipped_at"]), "Promised by": cal.when(promised),
            "Delivered": cal.when(delivered), "On time": on_time,
        })
    return pl.DataFrame(rows)
