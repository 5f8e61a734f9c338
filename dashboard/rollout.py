"""Rollout rehearsal: new rules switched on stage by stage (by channel, market or inventory model).

``dom rehearse`` writes ``results/<scenario>/rehearsal/``: the stages, KPI differences per stage and
segment (market/channel), risk signals and go / no-go verdicts, each as Parquet, plus a manifest. This
module finds, reads and checks those folders, and turns them into plain-language tables and figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboard.kpis import BY_NAME, KpiView
from dashboard.results import cast_columns, read_manifest

HINT = "`dom rehearse scenarios/rollout.yaml`"
TEXT, INT, NUM, FLAG = pl.String(), pl.Int64(), pl.Float64(), pl.Boolean()
SCHEMAS: dict[str, dict[str, pl.DataType]] = {  # table -> columns the view needs, in their types
    "stages": {"stage": TEXT, "stage_index": INT, "start_day": NUM, "end_day": NUM, "segments": TEXT,
               "inventory_models": TEXT},
    "segments": {"plan": TEXT, "stage": TEXT, "market": TEXT, "channel": TEXT, "in_stage": FLAG, "kpi": TEXT,
                 **dict.fromkeys(("baseline_mean", "plan_mean", "diff_mean", "diff_ci95"), NUM),
                 "significant": FLAG, "replications": INT},
    # the plan's level of a signal is baseline + diff: a column for it is not needed
    "risks": {"plan": TEXT, "stage": TEXT, "signal": TEXT, "scope": TEXT, "in_stage": FLAG,
              "baseline": NUM, "diff": NUM, "diff_ci95": NUM},
    "verdicts": {"plan": TEXT, "stage": TEXT, "criterion": TEXT, "kpi": TEXT,
                 **dict.fromkeys(("threshold", "diff_mean", "ci_low", "ci_high"), NUM),
                 "passed": FLAG, "verdict": TEXT},
}
PLANS = {"staged": "Staged rollout", "big_bang": "Everything at once (big bang)"}
KPI_ORDER = ("cost_per_order", "delivery_days_mean", "on_time_rate", "fill_rate", "co2_kg_per_order",
             "split_rate", "orders")
VIEWS = {**BY_NAME, "orders": KpiView("orders", "Orders", "orders", 0)}
# plain name, and +1 when more is worse (-1 when less is worse), and whether it is a rate
SIGNALS: dict[str, tuple[str, int, bool]] = {
    "stockout_days": ("Days a location ran out of stock", 1, False),
    "late_orders": ("Orders delivered later than promised", 1, False),
    "capacity_overload_days": ("Days a store ran over its pick capacity", 1, False),
    "walk_in_lost_units": ("Walk-in sales lost to ship-from-store (units)", 1, False),
    "backlog_growth": ("Growth of the backlog of orders waiting to ship", 1, False),
    "spillover_cost_per_order": ("Cost per order where the new rules are not live yet", 1, False),
    "spillover_fill_rate": ("Fill rate where the new rules are not live yet", -1, True),
}
BADGES = {"go": ":green-badge[Go]", "no-go": ":red-badge[No-go]",
          "inconclusive": ":orange-badge[Inconclusive]"}
GOOD, BAD, PALE = "#2e7d32", "#c62828", "#f5f5f5"


class RolloutError(Exception):
    """A rehearsal folder that is incomplete or unreadable; the message says which file and why."""


@dataclass(frozen=True)
class Rehearsal:
    """The tables of one rehearsal folder, checked and in their contract types."""

    folder: Path
    manifest: dict[str, Any]
    stages: pl.DataFrame
    segments: pl.DataFrame
    risks: pl.DataFrame
    verdicts: pl.DataFrame


# ---------------------------------------------------------------------------------------------- files
def discover(root: Path) -> list[Path]:
    """Every ``<scenario>/rehearsal/`` folder under ``root``, newest first."""
    found = [p for p in root.glob("*/rehearsal") if p.is_dir()] if root.is_dir() else []
    return sorted(found, key=lambda p: (-stamp(p), str(p)))


def stamp(folder: Path) -> int:
    """The newest modification time (ns) of the folder and its files: changes when it is re-written."""
    paths = [folder, folder / "manifest.json", *(folder / f"{n}.parquet" for n in SCHEMAS)]
    return max((p.stat().st_mtime_ns for p in paths if p.exists()), default=0)


def validate(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """The table ``name`` with the contract's columns in their types; RolloutError names what is wrong."""
    return cast_columns(frame, SCHEMAS[name], name, RolloutError)


def load(folder: Path) -> Rehearsal:
    """Read and check the manifest and the four tables of a rehearsal folder."""
    unfinished = f"the rehearsal did not finish writing its results (run {HINT} again)"
    manifest = read_manifest(folder, SCHEMAS, RolloutError, unfinished)
    tables = []
    for name in SCHEMAS:
        try:
            frame = pl.read_parquet(folder / f"{name}.parquet")
        except Exception as exc:  # polars raises several kinds for corrupt files
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
            raise RolloutError(f"{name}.parquet cannot be read ({problem})") from None
        tables.append(validate(frame, name))
    stages, segments, risks, verdicts = tables
    return Rehearsal(folder, manifest if isinstance(manifest, dict) else {}, stages.sort("stage_index"),
                     segments, risks, verdicts)


def start_date(manifest: dict[str, Any]) -> date | None:
    """The scenario's first calendar day, when the manifest gives one (``calendar.start_date`` or
    ``start_date`` of the scenario)."""
    for spec in (manifest.get("scenario"), manifest.get("scenario_spec"), manifest):
        cal = spec.get("calendar") if isinstance(spec, dict) else None
        value = cal.get("start_date") if isinstance(cal, dict) else None
        value = value or (spec.get("start_date") if isinstance(spec, dict) else None)
        if value:
            try:
                return date.fromisoformat(str(value)[:10])
            except ValueError:
                return None
    return None


def describe(r: Rehearsal) -> str:
    """One line naming the scenario, seed and replications of a rehearsal."""
    scenario = r.manifest.get("scenario")
    name = scenario.get("name") if isinstance(scenario, dict) else scenario
    reps = r.segments.select(pl.col("replications").max()).item()
    seed = r.manifest.get("seed", "?")
    return f"{name or r.folder.parent.name} · seed {seed} · {reps} replications · {r.folder}"


# ---------------------------------------------------------------------------------------------- words
def plans(r: Rehearsal) -> list[str]:
    """The plans in the tables, staged first, then big bang, then any other."""
    found = set(r.segments["plan"].to_list()) | set(r.verdicts["plan"].to_list())
    return [p for p in PLANS if p in found] + sorted(found - set(PLANS))


def plan_label(plan: str) -> str:
    """A plan's name in plain words."""
    return PLANS.get(plan, plan.replace("_", " "))


def when(day: float, start: date | None = None) -> str:
    """A simulated day as ``day 14`` or, with the scenario's start date, as ``15 Mar 2027``."""
    if start is not None:
        return f"{start + timedelta(days=math.floor(day)):%-d %b %Y}"
    return f"day {day:g}"


def view_of(kpi: str) -> KpiView:
    """How a KPI is labelled and formatted (unknown KPIs by their name)."""
    return VIEWS.get(kpi) or KpiView(kpi, kpi.replace("_", " ").capitalize(), "", 3)


def deciding(criteria: pl.DataFrame, verdict: str) -> str:
    """The criteria that decided a stage's verdict: those failed (no-go) or undecided (inconclusive)."""
    rows = [r for r in criteria.iter_rows(named=True) if r["criterion"] != "overall"]
    if verdict == "go":
        return f"all {len(rows)} criteria met" if rows else "no criteria"
    want = False if verdict == "no-go" else None
    out = []
    for r in [r for r in rows if r["passed"] is want] or rows:
        v = view_of(r["kpi"] or "")
        out.append(f"{r['criterion']} (change {v.delta(r['diff_mean'])}, 95% range {v.delta(r['ci_low'])} "
                   f"to {v.delta(r['ci_high'])})")
    return "; ".join(out)


def verdict_table(r: Rehearsal, plan: str) -> pl.DataFrame:
    """One row per stage (in order): where it applies, its overall verdict as a badge, what decided it."""
    mine = r.verdicts.filter(pl.col("plan") == plan)
    rows = []
    for s in r.stages.iter_rows(named=True):
        stage = mine.filter(pl.col("stage") == s["stage"])
        overall = stage.filter(pl.col("criterion") == "overall")["verdict"].to_list()
        verdict = overall[0] if overall else "inconclusive"
        rows.append({"Stage": s["stage"], "Where": s["segments"], "Verdict": BADGES.get(verdict, verdict),
                     "Decided by": deciding(stage, verdict) if stage.height else "no verdict recorded"})
    return pl.DataFrame(rows, schema=["Stage", "Where", "Verdict", "Decided by"], orient="row")


def advice(r: Rehearsal, plan: str) -> str:
    """What to do next, in one sentence: how far the plan may go and what stops it."""
    verdicts = r.verdicts.filter((pl.col("plan") == plan) & (pl.col("criterion") == "overall"))
    by_stage = dict(zip(verdicts["stage"].to_list(), verdicts["verdict"].to_list(), strict=True))
    passed: list[str] = []
    for stage in r.stages["stage"].to_list():
        verdict = by_stage.get(stage, "inconclusive")
        if verdict != "go":
            why = "fails its criteria" if verdict == "no-go" else "cannot be judged yet (more replications?)"
            head = f"Go on up to **{passed[-1]}**; " if passed else "**Do not start**: "
            return f"{plan_label(plan)}: {head}**{stage}** {why}."
        passed.append(stage)
    return f"{plan_label(plan)}: **every stage meets its criteria**, the rollout can go ahead."


def _num(x: float | None, rate: bool) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x * 100:,.1f}%" if rate else f"{x:,.1f}"


def _change(diff: float | None, half: float | None, rate: bool) -> str:
    if diff is None or math.isnan(diff):
        return "n/a"
    k = 100 if rate else 1
    ci = "" if half is None or math.isnan(half) else f" ± {half * k:,.1f}"
    return f"{diff * k:+,.1f}{ci}{' pp' if rate else ''}"


def risk_table(r: Rehearsal, plan: str, stage: str) -> pl.DataFrame:
    """The risk signals of one stage, the biggest change for the worse first, in plain words."""
    sel = r.risks.filter((pl.col("plan") == plan) & (pl.col("stage") == stage))
    rows = []
    for s in sel.iter_rows(named=True):
        label, worse, rate = SIGNALS.get(s["signal"], (s["signal"].replace("_", " ").capitalize(), 1, False))
        diff, half, base = s["diff"], s["diff_ci95"], s["baseline"]
        clear = half is not None and not math.isnan(half) and diff is not None and abs(diff) > half
        rows.append({"harm": -math.inf if diff is None or math.isnan(diff) else diff * worse,
                     "Risk signal": label, "Where": s["scope"],
                     "In this stage": "yes" if s["in_stage"] else "no (spillover)",
                     "Current rules": _num(base, rate),
                     "With the plan": _num(None if diff is None or base is None else base + diff, rate),
                     "Change": _change(diff, half, rate),
                     "Clear change?": "yes" if clear else "could be chance"})
    columns = ["Risk signal", "Where", "In this stage", "Current rules", "With the plan", "Change",
               "Clear change?"]
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    return pl.DataFrame(rows).sort("harm", descending=True, maintain_order=True).select(columns)


# ---------------------------------------------------------------------------------------------- figures
def timeline(stages: pl.DataFrame, start: date | None = None) -> go.Figure:
    """One bar per stage from its start to its end day (calendar dates when ``start`` is known)."""
    s = stages.sort("stage_index")
    a, b = s["start_day"].to_list(), s["end_day"].to_list()
    t0 = None if start is None else datetime(start.year, start.month, start.day)
    base: list[Any] = a if t0 is None else [(t0 + timedelta(days=d)).isoformat() for d in a]
    k = 1 if t0 is None else 86_400_000  # a date axis counts in milliseconds
    width = [(e - d) * k for d, e in zip(a, b, strict=True)]
    xaxis = {"title": "date", "type": "date"} if t0 else {"title": "simulated day", "tickprefix": "day "}
    fig = go.Figure(go.Bar(
        y=s["stage"].to_list(), base=base, x=width, orientation="h", text=s["segments"].to_list(),
        textposition="inside", insidetextanchor="middle", marker_color="#1f4e79",
        customdata=[[when(d, start), when(e, start), m] for d, e, m in
                    zip(a, b, s["inventory_models"].to_list(), strict=True)],
        hovertemplate="<b>%{y}</b>: %{customdata[0]} to %{customdata[1]}<br>new rules on %{text}"
                      "<br>inventory models: %{customdata[2]}<extra></extra>",
    ))
    fig.update_layout(title="Rollout plan: where the new rules go live, stage by stage", xaxis=xaxis,
                      yaxis={"autorange": "reversed", "title": None}, showlegend=False,
                      height=120 + 50 * s.height, margin={"t": 60, "b": 40})
    return fig


def heatmap(r: Rehearsal, plan: str, stage: str) -> go.Figure:
    """Segments x KPIs: the change vs the current rules, green better, red worse, one colour scale per KPI.

    ``*`` marks a clear (significant) change; segments not in the stage (spillover) come last, in
    italics, below a dashed line. Colours span the largest change of the KPI over the plan's stages.
    """
    seg = pl.concat_str("market", "channel", separator="/").alias("segment")
    cells = (r.segments.filter((pl.col("plan") == plan) & (pl.col("stage") == stage))  # live ones first
             .with_columns(seg).sort(~pl.col("in_stage"), "market", "channel", maintain_order=True))
    rows = cells.select("segment", "in_stage").unique(subset="segment", maintain_order=True)
    segments, inside = rows["segment"].to_list(), rows["in_stage"].to_list()
    present = cells["kpi"].unique(maintain_order=True).to_list()
    kpis = [k for k in KPI_ORDER if k in present] + [k for k in present if k not in KPI_ORDER]
    plan_rows = r.segments.filter(pl.col("plan") == plan)
    fig = go.Figure()
    for kpi in kpis:
        v = view_of(kpi)
        by = {c["segment"]: c for c in cells.filter(pl.col("kpi") == kpi).iter_rows(named=True)}
        span = plan_rows.filter(pl.col("kpi") == kpi)["diff_mean"].abs().max()
        span = float(span) if isinstance(span, float) and span > 0 and math.isfinite(span) else 1.0
        scale = {1: [[0, BAD], [0.5, PALE], [1, GOOD]], -1: [[0, GOOD], [0.5, PALE], [1, BAD]]}.get(
            v.direction, [[0, PALE], [1, PALE]])
        fig.add_trace(go.Heatmap(
            x=[v.label], y=segments, z=[[by[s]["diff_mean"] if s in by else None] for s in segments],
            zmin=-span, zmax=span, colorscale=scale, showscale=False, xgap=3, ygap=3, name=v.label,
            text=[[_words(v, by.get(s))[0]] for s in segments], texttemplate="%{text}",
            customdata=[[_words(v, by.get(s))[1]] for s in segments],
            hovertemplate="<b>%{y}</b> · %{x}<br>%{customdata}<extra></extra>",
        ))
    labels = [s if i else f"<i>{s}</i> (not live yet)" for s, i in zip(segments, inside, strict=True)]
    fig.update_layout(
        title=f"{plan_label(plan)}, {stage}: change per segment vs the current rules "
              "(green better, red worse)",
        yaxis={"autorange": "reversed", "tickvals": segments, "ticktext": labels, "type": "category"},
        xaxis={"side": "top", "type": "category"}, height=140 + 40 * len(segments), margin={"t": 110},
    )
    if 0 < sum(inside) < len(segments):  # a line between the stage's segments and the spillover
        fig.add_hline(y=sum(inside) - 0.5, line_dash="dash", line_color="#444")
    return fig


def _words(v: KpiView, row: dict[str, Any] | None) -> tuple[str, str]:
    """A heat map cell's text (``*`` significant, in brackets could be chance) and its hover text."""
    if row is None:
        return "", "no data"
    text = v.delta(row["diff_mean"])
    where = "new rules live" if row["in_stage"] else "not live yet (spillover)"
    clear = "clear change" if row["significant"] else "could be chance"
    hover = (f"{where}<br>current rules {v.value(row['baseline_mean'], unit=True)}, with the plan "
             f"{v.value(row['plan_mean'], unit=True)}<br>change {v.delta(row['diff_mean'], row['diff_ci95'])}"
             f" ({clear}, {row['replications']} replications)")
    return (f"{text} *" if row["significant"] else f"({text})"), hover
