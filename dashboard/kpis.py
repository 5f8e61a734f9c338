"""The headline KPIs as managers read them: labels, units, direction, and frames of means and paired
differences (with 95% CIs) against a chosen baseline, recomputed with ``sim.runner.compare``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import polars as pl

from sim.metrics import KPI_DIRECTION


@dataclass(frozen=True)
class KpiView:
    """How one KPI is labelled and formatted; rates are shown in percent (differences in points)."""

    name: str
    label: str
    unit: str
    digits: int
    percent: bool = False
    money: bool = False  # the unit is a currency: differences carry it too

    @property
    def direction(self) -> int:
        """+1 higher is better, -1 lower is better, 0 neutral (sim.metrics.KPI_DIRECTION)."""
        return KPI_DIRECTION.get(self.name, 0)

    @property
    def scale(self) -> float:
        """Multiplier from the stored value to the displayed one."""
        return 100.0 if self.percent else 1.0

    @property
    def title(self) -> str:
        """Label with unit, for chart axes."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def value(self, x: float | None, unit: bool = False) -> str:
        """A stored value formatted for display (with its unit if asked and not a percentage)."""
        if x is None or math.isnan(x):
            return "n/a"
        if self.percent:
            return f"{x * self.scale:,.{self.digits}f}%"
        return f"{x:,.{self.digits}f}" + (f" {self.unit}" if unit and self.unit else "")

    def delta(self, d: float | None, half: float | None = None, unit: bool = True) -> str:
        """A difference formatted for display, with its 95% half-width when known (and the currency of
        money unless ``unit`` is false)."""
        if d is None or math.isnan(d):
            return "n/a"
        suffix = " pp" if self.percent else f" {self.unit}" if unit and self.money and self.unit else ""
        ci = "" if half is None or math.isnan(half) else f" ± {half * self.scale:,.{self.digits}f}"
        return f"{d * self.scale:+,.{self.digits}f}{ci}{suffix}"


HEADLINE = (
    KpiView("cost_per_order", "Cost per order", "", 2, money=True),  # shipping + handling + transfers
    KpiView("delivery_days_mean", "Delivery time", "days", 2),
    KpiView("on_time_rate", "On-time rate", "%", 1, percent=True),
    KpiView("co2_kg_per_order", "CO2e per order", "kg", 3),
    KpiView("split_rate", "Split rate", "% of orders", 1, percent=True),
    KpiView("fill_rate", "Fill rate", "% of units", 1, percent=True),
    KpiView("lost_sales_rate", "Lost sales", "% of units", 2, percent=True),
)
BY_NAME = {k.name: k for k in HEADLINE}
OBJECTIVES = ("cost_per_order", "delivery_days_mean", "co2_kg_per_order")


def views(currency: str) -> tuple[KpiView, ...]:
    """The headline KPIs with money in ``currency`` (the rate cards' currency, named by the scenario)."""
    return tuple(replace(v, unit=currency) if v.money else v for v in HEADLINE)


def comparison_vs(
    saved: pl.DataFrame, kpi_table: pl.DataFrame, strategies: list[str], baseline: str,
) -> pl.DataFrame:
    """Means with 95% CIs and paired differences vs ``baseline`` (common random numbers per replication).

    The saved comparison is used as is when it was computed against the same baseline; otherwise
    ``sim.runner.compare`` recomputes it from the KPI rows (imported lazily: it pulls in scipy).
    """
    same_base = saved.height and set(saved["baseline"].to_list()) == {baseline}
    if same_base and set(saved["strategy"].to_list()) >= set(strategies):
        return saved.filter(pl.col("strategy").is_in(strategies))
    from sim.runner import compare

    return compare(kpi_table, baseline, strategies)


def verdict(direction: int, diff: float, significant: bool) -> str:
    """``better``, ``worse`` or ``same`` (no significant difference / neutral KPI) for a difference."""
    if not significant or direction == 0 or math.isnan(diff) or diff == 0:
        return "same"
    return "better" if diff * direction > 0 else "worse"


def ci_frame(comparison: pl.DataFrame, views: tuple[KpiView, ...] = HEADLINE) -> pl.DataFrame:
    """Long frame for charts: per (strategy, KPI) the display-scaled mean, CI, difference and verdict."""
    rows = []
    by_kpi = {v.name: v for v in views}
    for r in comparison.filter(pl.col("kpi").is_in(list(by_kpi))).iter_rows(named=True):
        v = by_kpi[r["kpi"]]
        rows.append({
            "strategy": r["strategy"], "kpi": v.name, "label": v.label, "unit": v.unit,
            "mean": r["mean"] * v.scale, "ci95": _nz(r["ci95"]) * v.scale,
            "diff": r["diff_vs_baseline"] * v.scale, "diff_ci95": _nz(r["diff_ci95"]) * v.scale,
            "significant": r["significant"], "baseline": r["baseline"],
            "verdict": verdict(v.direction, r["diff_vs_baseline"], r["significant"]),
        })
    order = {v.name: i for i, v in enumerate(views)}
    rank = pl.col("kpi").replace_strict(order, return_dtype=pl.Int64)
    return pl.DataFrame(rows).sort(rank, maintain_order=True)


def _nz(x: float | None) -> float:
    return 0.0 if x is None or math.isnan(x) else float(x)


def wide(comparison: pl.DataFrame, kpis: tuple[str, ...], value: str = "mean") -> pl.DataFrame:
    """One row per strategy (experiment order), one column per KPI."""
    strategies = comparison["strategy"].unique(maintain_order=True).to_list()
    out = {"strategy": strategies}
    for k in kpis:
        sel = comparison.filter(pl.col("kpi") == k)
        vals = dict(zip(sel["strategy"].to_list(), sel[value].to_list(), strict=True))
        out[k] = [vals.get(s, math.nan) for s in strategies]
    return pl.DataFrame(out)


@dataclass(frozen=True)
class Card:
    """One st.metric card: a KPI of one strategy and its difference vs the baseline."""

    label: str
    value: str
    delta: str | None
    delta_color: str
    help: str


def cards(comparison: pl.DataFrame, strategy: str, views: tuple[KpiView, ...] = HEADLINE) -> list[Card]:
    """Metric cards of one strategy: delta green when better, red when worse, grey if not significant."""
    out = []
    rows = {r["kpi"]: r for r in comparison.filter(pl.col("strategy") == strategy).iter_rows(named=True)}
    for v in views:
        r = rows.get(v.name)
        if r is None:
            continue
        is_base = r["strategy"] == r["baseline"]
        if not r["significant"] or v.direction == 0:
            color = "off"
        else:
            color = "normal" if v.direction > 0 else "inverse"
        ci = "" if math.isnan(r["ci95"]) else f" ± {r['ci95'] * v.scale:,.{v.digits}f}"
        note = "a clear difference (95% confidence)" if r["significant"] else "could be chance"
        delta = None if is_base else v.delta(r["diff_vs_baseline"], r["diff_ci95"])
        tip = f"{v.title}: average over the simulated runs{ci} (95% confidence range)"
        if not is_base:
            tip += f"; difference from {r['baseline']} on the same orders: {note}"
        out.append(Card(v.label, v.value(r["mean"], unit=True), delta, color, tip))
    return out


def table(comparison: pl.DataFrame, views: tuple[KpiView, ...] = HEADLINE) -> pl.DataFrame:
    """A compact comparison: one row per KPI, one column per strategy, ``mean ± CI (diff ± CI *)``."""
    strategies = comparison["strategy"].unique(maintain_order=True).to_list()
    by = {(r["strategy"], r["kpi"]): r for r in comparison.iter_rows(named=True)}
    rows = []
    for v in views:
        row: dict[str, str] = {"KPI": v.title}
        for s in strategies:
            r = by.get((s, v.name))
            if r is None:
                row[s] = ""
                continue
            ci = "" if math.isnan(r["ci95"]) else f" ± {r['ci95'] * v.scale:,.{v.digits}f}"
            diff = ""
            if r["strategy"] != r["baseline"]:
                star = " *" if r["significant"] else ""
                diff = f" ({v.delta(r['diff_vs_baseline'], r['diff_ci95'], unit=False)}{star})"
            row[s] = v.value(r["mean"]) + ci + diff
        rows.append(row)
    return pl.DataFrame(rows)


def markdown(frame: pl.DataFrame) -> str:
    """A small frame as a Markdown table (cheap to render: no data-grid component, no pandas import)."""
    def cell(x: object) -> str:
        text = "" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)
        return text.replace("|", "\\|").replace("*", "\\*")

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(x) for x in row) + " |" for row in frame.iter_rows()]
    return "\n".join([head, rule, *body])
