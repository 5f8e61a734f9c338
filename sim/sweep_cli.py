"""``dom sweep``: a design over knobs (grid, random, Sobol, Latin hypercube), every point with the same
replications and common random numbers, on local processes or a Dask cluster; prints the Pareto front and
the sensitivity summary and writes ``points``, ``pareto``, ``sensitivity`` and ``runs`` (Parquet) and a
manifest. An interrupted sweep resumes: run the same command again."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dom_core.errors import DomError

if TYPE_CHECKING:
    from sim.sweep import Tick

console = Console(width=160)
err = Console(stderr=True, soft_wrap=True)
LABELS = {"cost_per_order": "cost/order", "delivery_days_mean": "days", "co2_kg_per_order": "kg CO2e",
          "on_time_rate": "on-time", "fill_rate": "fill", "split_rate": "split", "lost_sales_rate": "lost"}
SHOWN_FRONT = 25  # Pareto rows printed (all of them are in pareto.parquet)


def sweep(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    space: Annotated[Path, typer.Option(help="sweep space YAML file: knobs, ranges, design")],
    design: Annotated[
        str | None, typer.Option(help="grid, random, sobol or lhs (default: the space file's)")
    ] = None,
    points: Annotated[int | None, typer.Option(help="points of a random/sobol/lhs design")] = None,
    replications: Annotated[int | None, typer.Option(help="replications per point")] = None,
    seed: Annotated[
        int | None, typer.Option(help="design seed (default: the space file's, else the scenario's)")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786 (default: local cores)")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="local processes (default: the experiment's)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="results folder (default results/<scenario>/sweep-<space file>)")
    ] = None,
) -> None:
    """Sweep knobs over a design: Pareto front and sensitivity; resumes an interrupted sweep."""
    from sim.scenario import load_scenario
    from sim.sweep import executor, run_sweep
    from sim.sweep_design import design_points
    from sim.sweep_report import build
    from sim.sweep_space import DESIGNS, load_space

    try:
        spec = load_scenario(scenario)
        plan = load_space(space, spec)
        kind = design or plan.space.design
        if kind not in DESIGNS:
            raise DomError("--design", f"{kind!r} is not one of {', '.join(DESIGNS)}")
        for option, value in (("--points", points), ("--replications", replications), ("--workers", workers)):
            if value is not None and value < 1:
                raise DomError(option, "must be at least 1")
        n = points or plan.space.points
        reps = replications or plan.space.replications or spec.experiment.replications
        design_seed = next(s for s in (seed, plan.space.seed, spec.seed) if s is not None)
        pts = design_points(plan, kind, n, design_seed)
    except DomError as exc:
        err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    if kind == "grid" and points is not None:
        err.print(f"note: a grid takes every level of every knob ({len(pts) - 1} points): no --points")
    n_workers = max(1, min(workers or spec.experiment.workers, os.cpu_count() or 1, len(pts) * reps))
    if cluster and workers is not None:
        err.print("note: the cluster's workers run the points; --workers is for local runs")
    execute, where = executor(n_workers, cluster)
    folder = out or Path("results") / spec.name / f"sweep-{space.stem}"
    err.print(f"sweeping {spec.name}: {kind} design, {len(pts) - 1} points + baseline x {reps} replications "
              f"on {where}; results in {folder}")
    started = time.perf_counter()
    try:
        with _progress(f"sweep {spec.name}") as tick:
            runs = run_sweep(spec, plan.run, pts, reps, folder, execute, tick)
    except DomError as exc:
        err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print(f"interrupted: finished points are saved in {folder / 'points'}; run the same command to "
                  "resume")
        raise typer.Exit(130) from None
    seconds = time.perf_counter() - started
    manifest = {
        "kind": "sweep",
        "scenario": spec.name,
        "seed": spec.seed,
        "design": kind,
        "design_seed": design_seed,
        "points": len(pts) - 1,
        "replications": reps,
        "baseline_point": 0,
        "knobs": plan.knob_names,
        "baseline": plan.baseline,
        "strategy_run": plan.run.model_dump(mode="json"),
        "backend": where,
        "seconds": round(seconds, 2),
        "runs_executed": runs.runs_executed,
        "points_reused": runs.points_reused,
        "points_per_minute": round(60 * (len(pts) - runs.points_reused) / max(seconds, 1e-9), 2),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "space_file": str(space),
        "space": plan.space.model_dump(mode="json"),
        "scenario_spec": spec.model_dump(mode="json"),
    }
    report = build(pts, plan.knob_names, runs.rows, manifest)
    report.write(folder)
    console.print(pareto_table(report.pareto, plan.knob_names, f"{spec.name}: Pareto front on cost, delivery "
                               f"time and kg CO2e ({reps} replications; mean ± 95% CI)"))
    console.print(sensitivity_table(report.sensitivity, plan.knob_names))
    reused = f", {runs.points_reused} reused from an earlier run" if runs.points_reused else ""
    console.print(f"{len(pts)} points ({runs.runs_executed} runs{reused}) in {seconds:.1f} s on {where}: "
                  f"{manifest['points_per_minute']} points per minute; results in {folder}")


@contextmanager
def _progress(title: str) -> Iterator[Callable[[Tick], None]]:
    """A per-run callback: a rich progress bar on a terminal, else one plain line per finished point."""
    if not err.is_terminal:

        def line(t: Tick) -> None:
            if t.point_finished:
                err.print(f"{title}: point {t.point.point_id} done ({t.points_done}/{t.points_total} points, "
                          f"{t.runs_done}/{t.runs_total} runs)")

        yield line
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(title, total=None)

        def bar(t: Tick) -> None:
            text = f"{title}: {t.points_done}/{t.points_total} points"
            progress.update(task, total=t.runs_total, completed=t.runs_done, description=text)

        yield bar


def _knob(value: Any) -> str:
    if value is None:
        return "as configured"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _mean_ci(mean: float, ci: float, digits: int) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if math.isnan(ci) else f" ± {ci:.{digits}f}")


def pareto_table(pareto: pl.DataFrame, knobs: list[str], title: str) -> Table:
    """The Pareto-optimal points (and the baseline), cheapest first."""
    table = Table(title=title)
    for name in ("point", *knobs, "cost/order", "days", "kg CO2e"):
        table.add_column(name, justify="right")
    shown = pareto.filter(pl.col("pareto") | (pl.col("point_id") == 0)).sort("cost_per_order")
    for r in shown.head(SHOWN_FRONT).iter_rows(named=True):
        point = "baseline" if r["point_id"] == 0 else str(r["point_id"])
        if r["point_id"] == 0 and not r["pareto"]:
            point += " (dominated)"
        objectives = [_mean_ci(r[k], r[f"{k}_ci95"], d) for k, d in
                      (("cost_per_order", 2), ("delivery_days_mean", 2), ("co2_kg_per_order", 3))]
        table.add_row(point, *(_knob(r[k]) for k in knobs), *objectives)
    if shown.height > SHOWN_FRONT:
        table.caption = f"{shown.height - SHOWN_FRONT} more Pareto-optimal points in pareto.parquet"
    return table


def sensitivity_table(sens: pl.DataFrame, knobs: list[str]) -> Table:
    """Knobs x headline KPIs: standardized regression coefficient (Spearman ρ below); bold: the knob that
    moves the KPI most."""
    from sim.sweep_report import HEADLINE

    kpis = [k for k in HEADLINE if k in set(sens["kpi"])]
    table = Table(title="Sensitivity over the design's points: standardized regression coefficient "
                  "(ρ: rank correlation); bold = moves the KPI most")
    table.add_column("knob")
    for kpi in kpis:
        table.add_column(LABELS[kpi], justify="right")
    cells = {(r["knob"], r["kpi"]): r for r in sens.iter_rows(named=True)}
    for knob in knobs:
        row = []
        for kpi in kpis:
            r = cells.get((knob, kpi))
            if r is None:
                row.append("-")
                continue
            src = "n/a" if math.isnan(r["src"]) else f"{r['src']:+.2f}"
            text = f"{src}\n[dim]ρ {r['spearman']:+.2f}[/]"
            row.append(f"[bold]{text}[/]" if r["rank"] == 1 else text)
        table.add_row(knob, *row)
    r2 = {r["kpi"]: r["r2"] for r in sens.iter_rows(named=True)}
    table.add_row("R² (linear)", *("n/a" if math.isnan(r2[k]) else f"{r2[k]:.2f}" for k in kpis))
    return table
