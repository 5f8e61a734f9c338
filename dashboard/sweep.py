"""Parameter sweeps: a design over rule knobs, each point simulated on the same replications.

``dom sweep`` writes ``results/<scenario>/sweep-<space>/``: ``points`` (per point and KPI the mean, 95% CI
and the paired difference against the baseline point), ``pareto`` (per point the objectives and whether it
is on the front), ``sensitivity`` (which knob moves which KPI) and ``runs`` (one KPI row per run), each as
Parquet, plus a manifest. This module finds, reads and checks those folders, and turns them into tables
and figures: the Pareto front, a parallel-coordinates chart of knobs to KPIs and one point's comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboard.kpis import BY_NAME, HEADLINE, OBJECTIVES, KpiView
from dashboard.results import cast_columns, read_manifest

HINT = "`dom sweep scenarios/default.yaml --space scenarios/sweeps/sweep_space.yaml`"
BASELINE = 0
TEXT, INT, NUM, FLAG = pl.String(), pl.Int64(), pl.Float64(), pl.Boolean()
SCHEMAS: dict[str, dict[str, pl.DataType]] = {  # table -> columns the view needs (besides the knobs)
    "points": {"point_id": INT, "kpi": TEXT, "mean": NUM, "ci95": NUM, "replications": INT,
               "diff_vs_baseline": NUM, "diff_ci95": NUM, "significant": FLAG},
    "pareto": {"point_id": INT, **{k: NUM for o in OBJECTIVES for k in (o, f"{o}_ci95")}, "pareto": FLAG,
               "dominated_by": INT},
    "sensitivity": {"kpi": TEXT, "knob": TEXT, "src": NUM, "spearman": NUM, "r2": NUM, "rank": INT},
}
X, Y, Z = "cost_per_order", "delivery_days_mean", "co2_kg_per_order"


class SweepError(Exception):
    """A sweep folder that is incomplete or unreadable; the message says which file and why."""


@dataclass(frozen=True)
class Sweep:
    """The tables of one sweep folder, checked and in their contract types."""

    folder: Path
    manifest: dict[str, Any]
    points: pl.DataFrame
    pareto: pl.DataFrame
    sensitivity: pl.DataFrame

    @property
    def knobs(self) -> list[str]:
        """The swept knobs, in the space file's order."""
        return [str(k) for k in self.manifest["knobs"]]

    @property
    def point_ids(self) -> list[int]:
        """Every point, the baseline first."""
        return sorted(self.pareto["point_id"].to_list())


# ---------------------------------------------------------------------------------------------- files
def discover(root: Path) -> list[Path]:
    """Every sweep folder (one holding ``points.parquet``) one or two levels under ``root``, newest first."""
    if not root.is_dir():
        return []
    found = {p.parent for pattern in ("*/points.parquet", "*/*/points.parquet") for p in root.glob(pattern)}
    return sorted(found, key=lambda p: (-stamp(p), str(p)))


def stamp(folder: Path) -> int:
    """The newest modification time (ns) of the folder's manifest and tables: changes when re-written."""
    paths = [folder / "manifest.json", *(folder / f"{n}.parquet" for n in SCHEMAS)]
    return max((p.stat().st_mtime_ns for p in paths if p.exists()), default=0)


def name(folder: Path, root: Path) -> str:
    """A folder as the picker shows it: its path under ``root``."""
    try:
        return str(folder.relative_to(root))
    except ValueError:
        return str(folder)


def validate(frame: pl.DataFrame, table: str, knobs: list[str]) -> pl.DataFrame:
    """The table with the contract's columns (and the knobs, as numbers) in their types."""
    schema = SCHEMAS[table] | (dict.fromkeys(knobs, NUM) if table != "sensitivity" else {})
    return cast_columns(frame, schema, table, SweepError)


def load(folder: Path) -> Sweep:
    """Read and check the manifest and the tables of a sweep folder."""
    unfinished = ("the sweep did not finish writing its results "
                  "(run the same dom sweep command again: it resumes)")
    manifest = read_manifest(folder, SCHEMAS, SweepError, unfinished)
    if not isinstance(manifest, dict) or manifest.get("kind") != "sweep" or not isinstance(
            manifest.get("knobs"), list):
        raise SweepError(f"{folder / 'manifest.json'} is not a sweep manifest (no kind: sweep and knobs)")
    tables = []
    for table in SCHEMAS:
        try:
            frame = pl.read_parquet(folder / f"{table}.parquet")
        except Exception as exc:  # polars raises several kinds for corrupt files
            raise SweepError(f"{table}.parquet cannot be read ({type(exc).__name__})") from None
        tables.append(validate(frame, table, [str(k) for k in manifest["knobs"]]))
    points, pareto, sens = tables
    if BASELINE not in set(pareto["point_id"].to_list()):
        raise SweepError("pareto.parquet holds no baseline point (point 0)")
    return Sweep(folder, manifest, points, pareto, sens)


# ---------------------------------------------------------------------------------------------- words
def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "as configured"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def point_label(s: Sweep, point_id: int) -> str:
    """``Point 7: max_shipments 2, split_penalty 3.5`` (``Baseline`` for point 0)."""
    row = s.pareto.filter(pl.col("point_id") == point_id).row(0, named=True)
    knobs = ", ".join(f"{k} {_num(row[k])}" for k in s.knobs)
    return f"{'Baseline' if point_id == BASELINE else f'Point {point_id}'}: {knobs}"


def describe(s: Sweep) -> str:
    """One line: scenario, design, points, replications, where it ran and how long it took."""
    m = s.manifest
    front = int(s.pareto["pareto"].sum())
    return (f"{m.get('scenario', '?')}: {m.get('design', '?')} design over {', '.join(s.knobs)} · "
            f"{m.get('points', '?')} points + baseline × {m.get('replications', '?')} replications (the same "
            f"for every point) · {front} on the Pareto front · {m.get('backend', '?')}, "
            f"{m.get('seconds', '?')} s · {s.folder}")


def front_table(s: Sweep) -> pl.DataFrame:
    """The Pareto-optimal points (and the baseline), cheapest first, for reading."""
    rows = []
    shown = s.pareto.filter(pl.col("pareto") | (pl.col("point_id") == BASELINE)).sort(X)
    for r in shown.iter_rows(named=True):
        row = {"point": "baseline" if r["point_id"] == BASELINE else str(r["point_id"])}
        row |= {k: _num(r[k]) for k in s.knobs}
        for kpi in OBJECTIVES:
            v = BY_NAME[kpi]
            ci = "" if math.isnan(r[f"{kpi}_ci95"]) else f" ± {r[f'{kpi}_ci95'] * v.scale:,.{v.digits}f}"
            row[v.title] = v.value(r[kpi]) + ci
        row["on the front"] = "yes" if r["pareto"] else f"no (beaten by {r['dominated_by']})"
        rows.append(row)
    return pl.DataFrame(rows)


def sensitivity_table(s: Sweep, views: tuple[KpiView, ...] = HEADLINE) -> pl.DataFrame:
    """Knobs x headline KPIs: the standardized regression coefficient and the rank correlation; the knob
    that moves a KPI most is in bold."""
    cells = {(r["knob"], r["kpi"]): r for r in s.sensitivity.iter_rows(named=True)}
    shown = [v for v in views if any(kpi == v.name for _, kpi in cells)]
    rows = []
    for knob in s.knobs:
        row = {"knob": knob}
        for v in shown:
            r = cells.get((knob, v.name))
            text = "-" if r is None else f"{_signed(r['src'])} (ρ {_signed(r['spearman'])})"
            row[v.label] = f"**{text}**" if r is not None and r["rank"] == 1 else text
        rows.append(row)
    return pl.DataFrame(rows)


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.2f}"


def point_comparison(s: Sweep, point_id: int) -> pl.DataFrame:
    """Every KPI of a point against the baseline point: both means ± 95% CI and the paired difference."""
    mine = {r["kpi"]: r for r in s.points.filter(pl.col("point_id") == point_id).iter_rows(named=True)}
    base = {r["kpi"]: r for r in s.points.filter(pl.col("point_id") == BASELINE).iter_rows(named=True)}
    order = [v.name for v in HEADLINE] + [k for k in mine if k not in BY_NAME]
    rows = []
    for kpi in (k for k in order if k in mine):
        v = BY_NAME.get(kpi, KpiView(kpi, kpi, "", 3))
        r, b = mine[kpi], base.get(kpi)
        diff = "-" if point_id == BASELINE else v.delta(r["diff_vs_baseline"], r["diff_ci95"]) + (
            " *" if r["significant"] else "")
        rows.append({"KPI": v.title, "point": _with_ci(v, r), "baseline": _with_ci(v, b),
                     "difference (paired)": diff})
    return pl.DataFrame(rows)


def _with_ci(v: KpiView, r: Mapping[str, Any] | None) -> str:
    if r is None:
        return "n/a"
    ci = "" if math.isnan(r["ci95"]) else f" ± {r['ci95'] * v.scale:,.{v.digits}f}"
    return v.value(r["mean"]) + ci


def picked_point(event: Any) -> int | None:
    """The point clicked in the Pareto chart (a plotly selection event), if any."""
    try:
        chosen = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in chosen or []:
        data = p.get("customdata")
        if data:
            return int(data[0])
    return None


# ---------------------------------------------------------------------------------------------- figures
def pareto_figure(s: Sweep) -> go.Figure:
    """Cost per order vs delivery days, colour = kg CO2e; the Pareto front large with a dark outline, the
    baseline a star. Each marker carries its point id (customdata) for a click."""
    vx, vy, vz = BY_NAME[X], BY_NAME[Y], BY_NAME[Z]
    fig = go.Figure()
    f = s.pareto
    for title, rows, symbol, size, line in (
        ("dominated", f.filter(~pl.col("pareto") & (pl.col("point_id") != BASELINE)), "circle", 8, 0.5),
        ("on the Pareto front", f.filter(pl.col("pareto") & (pl.col("point_id") != BASELINE)), "circle", 13,
         2),
        ("baseline", f.filter(pl.col("point_id") == BASELINE), "star", 18, 2),
    ):
        if rows.height == 0:
            continue
        labels = [point_label(s, i) for i in rows["point_id"].to_list()]
        fig.add_trace(go.Scatter(
            x=rows[X].to_list(), y=rows[Y].to_list(), mode="markers", name=title,
            customdata=[[i, lab] for i, lab in zip(rows["point_id"].to_list(), labels, strict=True)],
            marker={"size": size, "symbol": symbol, "color": rows[Z].to_list(), "coloraxis": "coloraxis",
                    "line": {"width": line, "color": "#222"}, "opacity": 1.0 if line > 1 else 0.6},
            hovertemplate=f"%{{customdata[1]}}<br>{vx.title}: %{{x:.3f}}<br>{vy.title}: %{{y:.3f}}"
                          f"<br>{vz.title}: %{{marker.color:.3f}}<extra>{title}</extra>",
        ))
    fig.update_layout(
        title=f"{vx.label} vs {vy.label} at every point (colour: {vz.label}); click a point to compare it",
        xaxis_title=vx.title, yaxis_title=vy.title, height=520,
        coloraxis={"colorscale": "RdYlGn_r", "colorbar": {"title": {"text": vz.title}}},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def means(s: Sweep, kpis: tuple[str, ...]) -> pl.DataFrame:
    """point_id, the knobs and one column per KPI holding its mean (NaN where not measured)."""
    wide = s.points.filter(pl.col("kpi").is_in(kpis)).pivot("kpi", index="point_id", values="mean")
    wide = wide.with_columns(*(pl.lit(math.nan).alias(k) for k in kpis if k not in wide.columns))
    return s.pareto.select("point_id", *s.knobs).join(wide, on="point_id", how="left").sort("point_id")


PARALLEL_KPIS = (*OBJECTIVES, "on_time_rate", "fill_rate")


def parallel_figure(s: Sweep, kpis: tuple[str, ...] = PARALLEL_KPIS) -> go.Figure:
    """One line per point from its knob values to its KPI means (coloured by cost per order); a knob left
    as configured (at the baseline) is drawn a little below the knob's lowest swept value."""
    f = means(s, kpis)
    dims = []
    for k in s.knobs:
        values = f[k].to_list()
        known = [v for v in values if v is not None and not math.isnan(v)]
        low = min(known) if known else 0.0
        gap = (max(known) - low) * 0.1 if known and max(known) > low else 1.0
        dims.append({"label": k, "values": [low - gap if v is None or math.isnan(v) else v for v in values]})
    for k in kpis:
        v = BY_NAME.get(k, KpiView(k, k, "", 3))
        dims.append({"label": v.title, "values": [x * v.scale for x in f[k].to_list()]})
    fig = go.Figure(go.Parcoords(
        line={"color": f[X].to_list(), "colorscale": "RdYlGn_r", "showscale": True,
              "colorbar": {"title": {"text": BY_NAME[X].title}}},
        dimensions=dims,
    ))
    fig.update_layout(title="From knobs to KPIs: one line per point (drag along an axis to filter)",
                      height=460)
    return fig
