"""Plotly figures of the dashboard, built from the frames of the other ``dashboard`` modules."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dashboard import basemap
from dashboard.kpis import BY_NAME, HEADLINE, KpiView
from dashboard.pareto import Front
from dashboard.timeseries import KIND_LABELS, SERIES

VERDICT_COLORS = {"better": "#2e7d32", "worse": "#c62828", "same": "#9e9e9e"}
KIND_SYMBOLS = {"dc": "square", "store": "circle", "dark_store": "diamond"}
KIND_COLORS = {
    "dc": "#1f4e79", "store": "#e07b00", "dark_store": "#7b3294", "3pl": "#4d9221", "drop_ship": "#888888",
}
BEST, BEATEN = "best trade-off", "beaten on every objective"
LAND, SEA = "#f3f0e8", "#dce8f1"
COLS = 4


def strategy_colors(strategies: list[str]) -> dict[str, str]:
    """A stable colour per strategy (experiment order)."""
    palette = qualitative.D3
    return {s: palette[i % len(palette)] for i, s in enumerate(strategies)}


def _grid(views: tuple[KpiView, ...], title: str) -> go.Figure:
    rows = math.ceil(len(views) / COLS)
    fig = make_subplots(rows=rows, cols=COLS, subplot_titles=[v.title for v in views],
                        horizontal_spacing=0.06, vertical_spacing=0.2)
    fig.update_layout(title=title, height=260 * rows + 80, showlegend=False,
                      margin={"t": 90, "b": 20, "l": 40, "r": 20})
    return fig


def kpi_levels(ci: pl.DataFrame, colors: dict[str, str], views: tuple[KpiView, ...] = HEADLINE) -> go.Figure:
    """Small multiples: each KPI's mean per strategy with 95% CI error bars."""
    fig = _grid(views, "Average per strategy (error bars: 95% confidence range over the simulated runs)")
    for i, v in enumerate(views):
        sel = ci.filter(pl.col("kpi") == v.name)
        fig.add_trace(go.Bar(
            x=sel["strategy"].to_list(), y=sel["mean"].to_list(), name=v.name,
            marker_color=[colors.get(s, "#888") for s in sel["strategy"].to_list()],
            error_y={"type": "data", "array": sel["ci95"].to_list(), "visible": True},
            hovertemplate="%{x}: %{y:.3f} ± %{error_y.array:.3f}<extra>" + v.label + "</extra>",
        ), row=i // COLS + 1, col=i % COLS + 1)
    return fig


def kpi_differences(ci: pl.DataFrame, baseline: str, views: tuple[KpiView, ...] = HEADLINE) -> go.Figure:
    """Small multiples: each KPI's paired difference vs the baseline with 95% CI; green better, red worse."""
    fig = _grid(views, f"Difference vs baseline {baseline} (green better, red worse, grey could be chance)")
    others = ci.filter(pl.col("strategy") != baseline)
    for i, v in enumerate(views):
        sel = others.filter(pl.col("kpi") == v.name)
        fig.add_trace(go.Bar(
            x=sel["strategy"].to_list(), y=sel["diff"].to_list(), name=v.name,
            marker_color=[VERDICT_COLORS[x] for x in sel["verdict"].to_list()],
            error_y={"type": "data", "array": sel["diff_ci95"].to_list(), "visible": True},
            customdata=sel["verdict"].to_list(),
            hovertemplate="%{x}: %{y:+.3f} ± %{error_y.array:.3f} (%{customdata})"
            f"<extra>{v.label}</extra>",
        ), row=i // COLS + 1, col=i % COLS + 1)
    fig.update_yaxes(zeroline=True, zerolinecolor="#444", zerolinewidth=1)
    return fig


def _sizes(values: list[float], lo: float = 16, hi: float = 44) -> list[float]:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return [lo] * len(values)
    a, b = min(finite), max(finite)
    return [lo if math.isnan(v) else lo + (hi - lo) * ((v - a) / (b - a) if b > a else 0.5) for v in values]


def tradeoff(front: Front, x: str = "delivery_days_mean", y: str = "cost_per_order",
             z: str = "co2_kg_per_order", views: dict[str, KpiView] = BY_NAME) -> go.Figure:
    """Cost vs delivery time (by default), marker size and colour = CO2e; the best trade-offs (the Pareto
    front: no other strategy is better on every objective) marked."""
    f = front.frame
    vx, vy, vz = views[x], views[y], views[z]
    sizes = _sizes(f[z].to_list())
    fig = go.Figure()
    for optimal, label, symbol in ((True, BEST, "star"), (False, BEATEN, "circle")):
        idx = [i for i, p in enumerate(f["pareto"].to_list()) if p == optimal]
        if not idx:
            continue
        rows = [f.row(i, named=True) for i in idx]
        ex = [(r[f"{x}_ci95"] or 0) * vx.scale for r in rows]
        ey = [(r[f"{y}_ci95"] or 0) * vy.scale for r in rows]
        fig.add_trace(go.Scatter(
            x=[r[x] * vx.scale for r in rows], y=[r[y] * vy.scale for r in rows], mode="markers+text",
            name=label, text=[r["strategy"] for r in rows],
            textposition=[("top center", "bottom center")[k % 2] for k in range(len(rows))],  # fewer overlaps
            error_x={"type": "data", "array": ex, "thickness": 1},
            error_y={"type": "data", "array": ey, "thickness": 1},
            marker={"size": [sizes[i] for i in idx], "symbol": symbol,
                    "color": [r[z] * vz.scale for r in rows],
                    "coloraxis": "coloraxis", "line": {"width": 2 if optimal else 0.5, "color": "#222"},
                    "opacity": 1.0 if optimal else 0.6},
            customdata=[[r[z] * vz.scale, r["dominated_by"] or "-"] for r in rows],
            hovertemplate="<b>%{text}</b><br>" + f"{vx.title}: %{{x:.3f}}<br>{vy.title}: %{{y:.3f}}<br>"
            + f"{vz.title}: %{{customdata[0]:.3f}}<br>beaten on every objective by: %{{customdata[1]}}"
            + f"<extra>{label}</extra>",
        ))
    opt = f.filter(pl.col("pareto")).sort(x)
    if opt.height > 1:
        fig.add_trace(go.Scatter(
            x=(opt[x] * vx.scale).to_list(), y=(opt[y] * vy.scale).to_list(), mode="lines",
            name="line of best trade-offs",
            line={"dash": "dash", "color": "#555"}, hoverinfo="skip",
        ))
    fig.update_layout(
        title=f"Trade-off: {vy.label} vs {vx.label} (size and colour: {vz.label})",
        xaxis_title=vx.title, yaxis_title=vy.title, height=520, coloraxis={"colorscale": "RdYlGn_r",
        "colorbar": {"title": {"text": vz.title}}}, legend={"orientation": "h", "y": -0.15},
    )
    return fig


def _basemap(fig: go.Figure, box: basemap.Box) -> None:
    """Land, lakes, coastlines and country borders inside ``box``, drawn under everything else."""
    geo = basemap.layers(box)
    for name, (xs, ys), style in (
        ("land", geo.land, {"fill": "toself", "fillcolor": LAND, "line": {"width": 0}}),
        ("lakes", geo.lakes, {"fill": "toself", "fillcolor": SEA, "line": {"width": 0}}),
        ("coastline", geo.coast, {"line": {"width": 0.8, "color": "#7f9bb3"}}),
        ("country borders", geo.borders, {"line": {"width": 1.0, "color": "#a08c8c", "dash": "dot"}}),
    ):
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip", showlegend=False,
                                     **style))


def network_map(vol: pl.DataFrame, flows: pl.DataFrame | None, places: pl.DataFrame, title: str) -> go.Figure:
    """Locations sized by units shipped, flows to customer areas, customer places, on a map of the area.

    The land, coastlines and country borders come from Natural Earth data shipped with the dashboard
    (``dashboard.basemap``), drawn on longitude/latitude axes (equirectangular, aspect corrected at the
    mean latitude): no map tiles or topojson are fetched.
    """
    fig = go.Figure()
    box = basemap.view([*vol["lon"].to_list(), *places["lon"].to_list()],
                       [*vol["lat"].to_list(), *places["lat"].to_list()])
    _basemap(fig, box)
    if places.height:
        top_weight = float(places["weight"].max())
        fig.add_trace(go.Scatter(
            x=places["lon"].to_list(), y=places["lat"].to_list(), mode="markers", name="where customers live",
            marker={"size": [2 + 14 * math.sqrt(w / top_weight) for w in places["weight"].to_list()],
                    "color": "rgba(110,110,110,0.35)", "line": {"width": 0}},
            text=places["place"].to_list(), hovertemplate="%{text}<extra>customers</extra>",
        ))
    if flows is not None and flows.height:
        top = float(flows["units"].max())
        for lo, hi, width in ((0.0, 0.1, 0.6), (0.1, 0.3, 1.5), (0.3, 0.6, 3.0), (0.6, 1.01, 5.0)):
            sel = flows.filter((pl.col("units") / top >= lo) & (pl.col("units") / top < hi))
            xs: list[float | None] = []
            ys: list[float | None] = []
            for r in sel.iter_rows(named=True):
                xs += [r["from_lon"], r["to_lon"], None]
                ys += [r["from_lat"], r["to_lat"], None]
            if xs:
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines", hoverinfo="skip",
                    name=f"deliveries {lo:.0%}–{min(hi, 1.0):.0%} of the largest flow",
                    line={"width": width, "color": "rgba(31,119,180,0.35)"},
                ))
    biggest = float(vol["units"].max() or 1.0) if vol.height else 1.0
    for kind in vol["kind"].unique(maintain_order=True).to_list():
        sel = vol.filter(pl.col("kind") == kind)
        fig.add_trace(go.Scatter(
            x=sel["lon"].to_list(), y=sel["lat"].to_list(), mode="markers", name=KIND_LABELS.get(kind, kind),
            marker={"size": [6 + 34 * math.sqrt(u / biggest) for u in sel["units"].to_list()],
                    "symbol": KIND_SYMBOLS.get(kind, "circle"), "color": KIND_COLORS.get(kind, "#888"),
                    "line": {"width": 1, "color": "white"}, "opacity": 0.85},
            text=sel["location"].to_list(),
            customdata=sel.select("name", "units", "share").rows(),
            hovertemplate="<b>%{text}</b> %{customdata[0]}<br>%{customdata[1]:,.0f} units shipped per run"
            "<br>%{customdata[2]:.1%} of the strategy's units<extra></extra>",
        ))
    lat0 = (box[2] + box[3]) / 2
    fig.update_layout(title=title, height=620, plot_bgcolor=SEA,
                      legend={"orientation": "h", "y": -0.04},
                      margin={"l": 20, "r": 20, "t": 60, "b": 20, "pad": 0})  # no band around the map
    fig.update_xaxes(range=[box[0], box[1]], showgrid=False, zeroline=False, showticklabels=False,
                     constrain="domain", title=None)
    fig.update_yaxes(range=[box[2], box[3]], showgrid=False, zeroline=False, showticklabels=False,
                     constrain="domain", scaleanchor="x", title=None,
                     scaleratio=1 / max(0.2, math.cos(math.radians(lat0))))
    return fig


def kind_share_bars(shares: pl.DataFrame, strategies: list[str]) -> go.Figure:
    """Stacked bars: share of units each strategy ships from DCs, stores, dark stores."""
    fig = go.Figure()
    for kind in shares["location_kind"].unique().sort().to_list():
        mine = shares.filter(pl.col("location_kind") == kind)
        sel = dict(zip(mine["strategy"].to_list(), mine["share"].to_list(), strict=True))
        fig.add_trace(go.Bar(x=strategies, y=[sel.get(s, 0.0) * 100 for s in strategies],
                             name=KIND_LABELS.get(kind, kind),
                             marker_color=KIND_COLORS.get(kind, "#888")))
    fig.update_layout(barmode="stack",
                      title="Where units ship from (% of units, average over the simulated runs)",
                      yaxis_title="% of units", height=360, legend={"orientation": "h", "y": -0.2})
    return fig


def daily_series(
    frame: pl.DataFrame, colors: dict[str, str], warmup_days: float, selection: str,
    start: date | None = None,
) -> go.Figure:
    """2x2 panels over the days: orders, backlog, stock on hand, stock-outs; one line per strategy.

    With ``start`` (the scenario's first day) the x axis shows calendar dates, else simulated day numbers.
    """
    def x(days: list[float]) -> list[Any]:
        return days if start is None else [(start + timedelta(days=d)).isoformat() for d in days]

    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, subplot_titles=[t for _, t in SERIES],
                        vertical_spacing=0.12, horizontal_spacing=0.08)
    for s in frame["strategy"].unique(maintain_order=True).to_list():
        sel = frame.filter(pl.col("strategy") == s)
        for i, (col, _) in enumerate(SERIES):
            fig.add_trace(go.Scatter(
                x=x(sel["day"].to_list()), y=sel[col].to_list(), mode="lines", name=s, legendgroup=s,
                showlegend=i == 0, line={"color": colors.get(s, "#888")},
            ), row=i // 2 + 1, col=i % 2 + 1)
    if warmup_days > 0:
        x0, x1 = x([0.0, warmup_days])
        fig.add_vrect(x0=x0, x1=x1, fillcolor="#bbb", opacity=0.2, line_width=0, row="all", col="all")
    fig.update_layout(title=f"Day by day — {selection} (average over the simulated runs; grey: warm-up days, "
                            "left out of the KPIs)", height=600, legend={"orientation": "h", "y": -0.1})
    fig.update_xaxes(title=None if start is not None else "simulated day", row=2)  # dates need no title
    return fig
