"""Shadow mode: candidate rules decided beside the live rules on every live order, compared per order.

The live service writes the comparison (``GET /shadow/export``, ``dom shadow export``) as Parquet, one
row per live order, into ``results/shadow/``. This module finds, reads and checks those files,
summarises them (overall and per market x channel) in plain words and builds their figures.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboard.kpis import Card
from dashboard.results import ROOT

CURRENCY = "EUR"
EXPORT_HINT = "`dom shadow export --db ... --out results/shadow/` or `GET /shadow/export`"
COLUMNS: dict[str, pl.DataType] = {
    "order_id": pl.String(), "placed_at": pl.Datetime("us", "UTC"), "market": pl.String(),
    "channel": pl.String(), "live_version": pl.Int64(), "candidate_version": pl.Int64(),
    "live_strategy": pl.String(), "candidate_strategy": pl.String(), "agree": pl.Boolean(),
    **{f"{side}_{kpi}": pl.Float64() for kpi in ("cost", "promise_hours", "co2_kg")
       for side in ("live", "candidate")},
    "cost_diff": pl.Float64(), "promise_diff_hours": pl.Float64(), "co2_diff_kg": pl.Float64(),
    "live_units": pl.Int64(), "candidate_units": pl.Int64(),
    "live_locations": pl.String(), "candidate_locations": pl.String(),
}


class ShadowError(Exception):
    """A shadow file that cannot be read or lacks columns; the message says which and why."""


@dataclass(frozen=True)
class ShadowFile:
    """The per-order comparison of one shadow file and the currency its costs are in."""

    name: str
    orders: pl.DataFrame
    currency: str = CURRENCY


@dataclass(frozen=True)
class Summary:
    """Candidate minus live rules over a set of orders (means are per order)."""

    orders: int
    agreement: float  # share of orders decided the same way
    disagreements: int
    cost_diff: float
    cost_ci95: float  # half-width of the 95% CI (Student t) of cost_diff
    promise_diff_hours: float  # over the orders where both rules promise a delivery
    promise_orders: int
    co2_diff_kg: float
    fill_diff_units: int  # units allocated in total


def shadow_dir() -> Path:
    """Where shadow files live: ``$DOM_SHADOW_DIR`` or ``results/shadow/`` beside ``app.py``."""
    return Path(os.environ.get("DOM_SHADOW_DIR") or ROOT / "results" / "shadow")


def discover(root: Path) -> list[Path]:
    """The ``*.parquet`` files in ``root``, newest first."""
    found = root.glob("*.parquet") if root.is_dir() else []
    return sorted(found, key=lambda p: (-p.stat().st_mtime, p.name))


def read(source: Path | bytes, name: str, currency: str = CURRENCY) -> ShadowFile:
    """Read and check a shadow file (a path or uploaded bytes); its metadata ``currency`` wins."""
    try:
        meta = pl.read_parquet_metadata(source)
        frame = pl.read_parquet(source)
    except Exception as exc:  # polars raises several kinds for missing or corrupt files
        raise ShadowError(f"{name} cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    return ShadowFile(name, validate(frame, name), meta.get("currency") or currency)


def validate(frame: pl.DataFrame, name: str = "the file") -> pl.DataFrame:
    """The expected columns in their expected types (times in UTC); ShadowError names what is wrong."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ShadowError(f"{name} lacks the columns {', '.join(missing)}: not a shadow export")
    placed = frame["placed_at"].dtype
    if isinstance(placed, pl.Datetime):
        zone = pl.col("placed_at")
        zone = zone.dt.convert_time_zone("UTC") if placed.time_zone else zone.dt.replace_time_zone("UTC")
        frame = frame.with_columns(zone)
    out = {}
    for col, dtype in COLUMNS.items():
        try:
            out[col] = frame[col].cast(dtype)
        except Exception:
            raise ShadowError(f"{name}: column {col} is {frame[col].dtype}, expected {dtype}") from None
    return pl.DataFrame(out)


def _aggregates() -> list[pl.Expr]:
    return [
        pl.len().alias("orders"),
        pl.col("agree").mean().alias("agreement"),
        (~pl.col("agree")).sum().cast(pl.Int64).alias("disagreements"),
        pl.col("cost_diff").mean().alias("cost_diff"),
        pl.col("cost_diff").std().alias("cost_sd"),
        pl.col("promise_diff_hours").mean().alias("promise_diff_hours"),
        pl.col("promise_diff_hours").count().cast(pl.Int64).alias("promise_orders"),
        pl.col("co2_diff_kg").mean().alias("co2_diff_kg"),
        (pl.col("candidate_units") - pl.col("live_units")).sum().alias("fill_diff_units"),
    ]


def _half_width(n: int, sd: float | None) -> float:
    """95% half-width of a mean (Student t); NaN below two orders."""
    if n < 2 or sd is None or math.isnan(sd):
        return math.nan
    from scipy.special import stdtrit  # scipy.stats' import is slow; sim.runner does the same

    return float(stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)


def _summary(r: dict[str, Any]) -> Summary:
    def num(key: str) -> float:
        return math.nan if r[key] is None else float(r[key])

    n = int(r["orders"])
    return Summary(n, num("agreement"), int(r["disagreements"] or 0), num("cost_diff"),
                   _half_width(n, r["cost_sd"]), num("promise_diff_hours"), int(r["promise_orders"] or 0),
                   num("co2_diff_kg"), int(r["fill_diff_units"] or 0))


def summarise(orders: pl.DataFrame) -> Summary:
    """Orders compared, agreement rate and mean differences (candidate minus live) over all orders."""
    return _summary(orders.select(_aggregates()).row(0, named=True))


def segments(orders: pl.DataFrame) -> list[tuple[str, str, Summary]]:
    """The summary per (market, channel), sorted."""
    frame = orders.group_by("market", "channel").agg(_aggregates()).sort("market", "channel")
    return [(r["market"], r["channel"], _summary(r)) for r in frame.iter_rows(named=True)]


# ---------------------------------------------------------------------------------------------- words
def money(x: float, currency: str = CURRENCY) -> str:
    """A signed amount with its currency, e.g. ``+0.42 EUR``."""
    return "n/a" if math.isnan(x) else f"{x:+,.2f} {currency}"


def hours_in_words(hours: float) -> str:
    """A promise difference in plain words: ``1 day 3 hours later``, ``40 minutes earlier``, ``the same``."""
    if math.isnan(hours):
        return "n/a (nothing shipped)"
    when = "later" if hours > 0 else "earlier"
    if abs(hours) < 1:
        minutes = round(abs(hours) * 60)
        return "the same" if minutes == 0 else f"{_plural(minutes, 'minute')} {when}"
    days, rest = divmod(round(abs(hours)), 24)
    return " ".join([_plural(n, w) for n, w in ((days, "day"), (rest, "hour")) if n] + [when])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def cards(s: Summary, currency: str = CURRENCY) -> list[Card]:
    """Headline cards: orders, agreement, and per-order cost, promise, CO2e and fill differences."""
    ci = "" if math.isnan(s.cost_ci95) else f" ± {s.cost_ci95:,.2f}"
    low, high = s.cost_diff - s.cost_ci95, s.cost_diff + s.cost_ci95
    return [
        Card("Orders compared", f"{s.orders:,}", None, "off", "Live orders decided by both rule sets"),
        Card("Agreement rate", f"{s.agreement:.1%}", None, "off",
             "Orders where the candidate rules chose the same locations, units and carrier services"),
        Card("Cost difference per order", f"{s.cost_diff:+,.2f}{ci} {currency}", None, "off",
             f"Candidate rules minus live rules, mean over all orders; 95% confidence interval "
             f"{money(low, currency)} to {money(high, currency)}"),
        Card("Promised delivery", hours_in_words(s.promise_diff_hours), None, "off",
             f"Candidate minus live promise, mean over the {s.promise_orders:,} orders where both ship"),
        Card("CO2e difference per order", f"{s.co2_diff_kg:+,.3f} kg", None, "off",
             "Candidate rules minus live rules, kg CO2e per order"),
        Card("Fill difference", f"{s.fill_diff_units:+,} units", None, "off",
             "Units the candidate rules would allocate minus the live rules', over all orders"),
    ]


def _more(x: float, text: str, more: str = "more", less: str = "less") -> str:
    """``**0.42 EUR more**`` / ``**3 units fewer**`` / ``the same`` for a difference already rounded."""
    return "the same" if float(x) == 0 else f"**{text} {more if x > 0 else less}**"


def verdict(s: Summary, currency: str = CURRENCY) -> str:
    """The summary as one paragraph a manager can act on."""
    cost = _more(round(s.cost_diff, 2), f"{abs(s.cost_diff):,.2f} {currency}")
    if math.isnan(s.cost_ci95):
        sure = ""
    elif abs(s.cost_diff) > s.cost_ci95:
        sure = f" (95% confidence interval {money(s.cost_diff - s.cost_ci95, currency)} to "
        sure += f"{money(s.cost_diff + s.cost_ci95, currency)})"
    else:
        sure = " (could be chance: the 95% confidence interval includes no difference)"
    co2 = _more(round(s.co2_diff_kg, 3), f"{abs(s.co2_diff_kg):,.3f} kg")
    units = _more(s.fill_diff_units, f"{abs(s.fill_diff_units):,} units", less="fewer")
    return (f"On **{s.orders:,} live orders** the candidate rules decided **{s.agreement:.1%}** the same way "
            f"as the live rules. Per order they would cost {cost}{sure}, promise delivery "
            f"**{hours_in_words(s.promise_diff_hours)}** and emit {co2} CO2e; over all orders they would "
            f"allocate {units}.")


def segment_table(orders: pl.DataFrame, currency: str = CURRENCY) -> pl.DataFrame:
    """One row per market x channel with the headline figures."""
    rows = []
    for market, channel, s in segments(orders):
        ci = "" if math.isnan(s.cost_ci95) else f" ± {s.cost_ci95:,.2f}"
        rows.append({
            "Market": market, "Channel": channel, "Orders": s.orders, "Agreement": f"{s.agreement:.1%}",
            f"Cost difference per order ({currency})": f"{s.cost_diff:+,.2f}{ci}",
            "Promised delivery": hours_in_words(s.promise_diff_hours),
            "CO2e per order (kg)": f"{s.co2_diff_kg:+,.3f}",
            "Fill difference (units)": f"{s.fill_diff_units:+,}",
        })
    return pl.DataFrame(rows)


def period(orders: pl.DataFrame) -> str:
    """The calendar dates (UTC) the orders were placed on and the rule versions compared."""
    day = pl.col("placed_at").dt.strftime("%-d %b %Y")
    first, last = orders.sort("placed_at").select(day.first().alias("a"), day.last().alias("b")).row(0)
    pairs = orders.select("live_version", "live_strategy", "candidate_version", "candidate_strategy").unique()
    rules = "; ".join(f"live rules version {a} ({b}) vs candidate rules version {c} ({d})"
                      for a, b, c, d in pairs.sort(pl.all()).iter_rows())
    return f"Orders placed {first} to {last} (UTC) · {rules}"


# ---------------------------------------------------------------------------------------------- figures
def cost_histogram(orders: pl.DataFrame, currency: str = CURRENCY) -> go.Figure:
    """Histogram of the per-order cost differences of the orders the rule sets decide differently."""
    diffs = orders.filter(~pl.col("agree"))["cost_diff"].to_list()
    fig = go.Figure(go.Histogram(x=diffs, name="orders", marker_color="#1f4e79",
                                 hovertemplate="%{x}: %{y} orders<extra></extra>"))
    fig.add_vline(x=0, line_dash="dot", line_color="#888")
    fig.update_layout(
        title=f"Cost difference on the {len(diffs):,} orders the candidate rules decide differently",
        xaxis_title=f"candidate rules minus live rules ({currency}); left of 0 the candidate is cheaper",
        yaxis_title="orders", bargap=0.05, showlegend=False,
    )
    return fig


def daily_agreement(orders: pl.DataFrame) -> go.Figure:
    """The share of orders decided the same way per calendar day (UTC) the orders were placed."""
    daily = (orders.group_by(pl.col("placed_at").dt.date().alias("day"))
             .agg(pl.col("agree").mean().alias("rate"), pl.len().alias("orders")).sort("day"))
    fig = go.Figure(go.Scatter(
        x=daily["day"].to_list(), y=(daily["rate"] * 100).to_list(), mode="lines+markers",
        customdata=daily["orders"].to_list(), name="agreement",
        hovertemplate="%{x|%-d %b %Y}: %{y:.1f}% of %{customdata} orders<extra></extra>",
    ))
    fig.update_layout(title="Share of orders the candidate rules decide as the live rules do, per day",
                      yaxis={"title": "agreement (%)", "range": [0, 100.5]},
                      xaxis={"title": "day the order was placed (UTC)", "tickformat": "%-d %b %Y"})
    return fig
