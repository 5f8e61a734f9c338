"""``dom rehearse``: run a scenario's staged rollout against the all-current baseline and the big-bang
candidate, print the verdicts and the worst risk signals per stage, and write the result tables."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from dom_core.errors import DomError
from sim.options import COUNT
from sim.progress import plain, run_progress

if TYPE_CHECKING:
    from sim.rehearsal import RunSummary

console = Console(width=160)
err = Console(stderr=True, soft_wrap=True)
MARK = {"go": "[green]go[/]", "no-go": "[bold red]no-go[/]", "inconclusive": "[yellow]inconclusive[/]"}
TICK = {"go": "[green]✓[/]", "no-go": "[bold red]✗[/]", "inconclusive": "[yellow]?[/]"}
RISK_ORDER = {
    "spillover_fill_rate": 1,
    "spillover_on_time_rate": 1,
}  # worse when they fall, others when they rise


def rehearse(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file with a rollout section")],
    replications: Annotated[
        int | None,
        typer.Option(help="replications, at least 1 (default: rollout.replications, else the experiment's)"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="parallel processes, at least 1 (default: the experiment's)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="results folder (default results/<scenario name>/rehearsal)")
    ] = None,
) -> None:
    """Rehearse a staged rollout: staged plan, big bang and baseline x replications; verdicts per stage."""
    from dom_core import compiled
    from sim.engines import Knobs
    from sim.rehearsal import RUNS, run_rehearsal
    from sim.rehearsal_report import build
    from sim.runner import expected_orders
    from sim.scenario import load_scenario
    from sim.world import build_world

    try:  # every number is checked before any work starts
        COUNT.check("--replications", replications)
        COUNT.check("--workers", workers)
        spec = load_scenario(scenario)
        if spec.rollout is None:
            raise DomError(str(scenario), "has no rollout section to rehearse")
        reps = replications or spec.rollout.replications or spec.experiment.replications
        n_workers = workers or spec.experiment.workers
        world = build_world(spec)  # checks the candidate and the stages before any run starts
        from sim.rollout import candidate_network, stages

        candidate_network(world.network, spec.rollout.candidate)
        stages(world, spec.rollout)
    except DomError as exc:
        err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    total = len(RUNS) * reps
    per_run = expected_orders(world, Knobs())
    used = min(n_workers, os.cpu_count() or 1, total)
    plain(
        err,
        f"rehearsing {spec.name}: {len(RUNS)} plans ({', '.join(RUNS)}) x {reps} replications = {total} "
        f"runs on {used} worker{'s' if used > 1 else ''}; about {per_run:,.0f} orders per run, "
        f"{per_run * total:,.0f} in all",
    )
    started = time.perf_counter()
    with run_progress(err, f"rehearsing {spec.name}", total, _run_label) as done:
        runs = run_rehearsal(spec, reps, n_workers, done)
    seconds = time.perf_counter() - started
    manifest = {
        "scenario": spec.name,
        "seed": spec.seed,
        "replications": reps,
        "plans": ["baseline", "staged", "big_bang"],
        "seconds": round(seconds, 2),
        "runs": [
            {"plan": r.plan, "replication": r.replication, "seconds": round(r.seconds, 2)} for r in runs
        ],
        "scenario_spec": spec.model_dump(mode="json"),
    }
    result = build(world, runs, manifest)
    folder = result.write(out or Path("results") / spec.name / "rehearsal")
    n_segments = result.segments.select("market", "channel").unique().height
    console.print(
        verdict_table(result.stages, result.verdicts, f"{spec.name}: {reps} replications", n_segments)
    )
    console.print(risk_table(result.risks))
    engine = "compiled" if compiled.active() else "pure Python: `make compiled` builds the faster one"
    orders = sum(r.orders for r in runs)
    console.print(
        f"{len(runs)} runs, {orders:,} orders simulated in {seconds:.1f} s ({engine}); results in {folder}"
    )


def _run_label(run: RunSummary) -> str:
    return f"{run.plan} replication {run.replication}"


def _num(value: float, signed: bool = True) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}" if signed else f"{value:.3f}"


def _criterion_cell(row: dict[str, Any]) -> str:
    """Mean, CI and outcome; a difference for relative tests (signed), the plan's value for max/min."""
    from sim.verdicts import RELATIVE

    signed = row["criterion"].split()[1] in RELATIVE
    low, high = _num(row["ci_low"], signed), _num(row["ci_high"], signed)
    return f"{_num(row['diff_mean'], signed)} {TICK[row['verdict']]}\n[dim]\\[{low}, {high}][/]"


def verdict_table(stages: pl.DataFrame, verdicts: pl.DataFrame, title: str, n_segments: int = 0) -> Table:
    """Per stage and plan: each criterion's value and 95% CI with its outcome, and the stage's verdict
    (``live`` says "all" once the stage covers all ``n_segments`` segments)."""
    criteria = [c for c in verdicts["criterion"].unique(maintain_order=True) if c != "overall"]
    table = Table(
        title=f"{title}: verdicts per stage (difference vs baseline, or the plan's value for max/min; "
        "95% CI; ✓ pass, ✗ fail, ? CI straddles the threshold)"
    )
    for name in ("stage", "days", "live", "plan", *criteria, "verdict"):
        table.add_column(name, justify="right" if name in criteria else "left")
    for st in stages.iter_rows(named=True):
        for plan in ("staged", "big_bang"):
            rows = {
                r["criterion"]: r for r in verdicts.filter(stage=st["stage"], plan=plan).iter_rows(named=True)
            }
            cells = [_criterion_cell(rows[c]) for c in criteria]
            days = f"{st['start_day']:g}-{st['end_day']:g}"
            everywhere = plan != "staged" or len(st["segments"].split(", ")) == n_segments
            live = "all" if everywhere else st["segments"]
            table.add_row(st["stage"], days, live, plan, *cells, MARK[rows["overall"]["verdict"]])
    return table


def risk_table(risks: pl.DataFrame) -> Table:
    """The staged plan's worst scope per stage and risk signal (largest rise; largest fall for spillover
    fill and on-time rates)."""
    table = Table(title="staged plan: worst risk signal per stage (plan vs baseline, diff ± 95% CI)")
    for name in ("stage", "signal", "scope", "live", "baseline", "plan", "diff"):
        table.add_column(name, justify="right" if name in ("baseline", "plan", "diff") else "left")
    staged = risks.filter(pl.col("plan") == "staged", pl.col("diff").is_not_nan())
    for stage in staged["stage"].unique(maintain_order=True):
        for signal in staged.filter(stage=stage)["signal"].unique(maintain_order=True):
            rows = staged.filter(stage=stage, signal=signal)
            sign = -1.0 if RISK_ORDER.get(signal) else 1.0
            worst: dict[str, Any] = rows.sort(pl.col("diff") * sign, descending=True).row(0, named=True)
            if worst["diff"] * sign <= 0:
                continue  # no scope got worse
            ci = "" if math.isnan(worst["diff_ci95"]) else f" ± {worst['diff_ci95']:.3g}"
            table.add_row(
                stage,
                signal,
                worst["scope"],
                "yes" if worst["in_stage"] else "no",
                f"{worst['baseline']:.3g}",
                f"{worst['plan_value']:.3g}",
                f"{worst['diff']:+.3g}{ci}",
            )
    return table
