"""The ``dom`` command: simulate and compare strategies, validate scenarios, explain a decision."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from dom_core import compiled
from dom_core.errors import DomError
from sim.options import COUNT, POSITION, option_name
from sim.progress import plain, run_progress

if TYPE_CHECKING:
    from sim.engines import Knobs
    from sim.runner import RunResult

app = typer.Typer(add_completion=False, help="DOM workbench: test and compare order sourcing rules.")
console = Console(width=160)
err = Console(stderr=True, soft_wrap=True)

SHOWN = (
    ("cost_per_order", "cost/order", 2),
    ("delivery_days_mean", "days", 2),
    ("delivery_days_p95", "p95 days", 2),
    ("on_time_rate", "on-time", 3),
    ("co2_kg_per_order", "kg CO2e", 3),
    ("split_rate", "split", 3),
    ("fill_rate", "fill", 3),
    ("cost_over_bound", "cost/bound", 3),
    ("lost_units", "lost units", 0),
)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error[/] {exc}")
    raise typer.Exit(2)


def comparison_table(comparison: pl.DataFrame, title: str) -> Table:
    """A rich table: each strategy's KPI means ± 95% CI and the paired difference vs the baseline."""
    table = Table(title=title)
    table.add_column("strategy")
    present = set(comparison["kpi"])
    shown = [column for column in SHOWN if column[0] in present]  # cost/bound only when a bound was computed
    for _, label, _ in shown:
        table.add_column(label, justify="right")
    for name in comparison["strategy"].unique(maintain_order=True):
        rows = {r["kpi"]: r for r in comparison.filter(pl.col("strategy") == name).iter_rows(named=True)}
        cells = []
        for kpi, _, digits in shown:
            r = rows[kpi]
            cell = f"{r['mean']:.{digits}f}"
            if r["strategy"] != r["baseline"] and not math.isnan(r["diff_vs_baseline"]):
                mark = "*" if r["significant"] else ""
                ci = (
                    "" if math.isnan(r["diff_ci95"]) else f"±{r['diff_ci95']:.{digits}f}"
                )  # one replication: no CI
                cell += f"\n[dim]{r['diff_vs_baseline']:+.{digits}f}{ci}{mark}[/]"
            cells.append(cell)
        table.add_row(name, *cells)
    return table


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    replications: Annotated[
        int | None, typer.Option(help="override the scenario's replications (at least 1)")
    ] = None,
    strategies: Annotated[
        str | None, typer.Option(help="comma-separated subset of the scenario's strategies")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="parallel processes, at least 1 (default: scenario, max cores)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="results folder (default results/<scenario name>)")] = None,
    demand_factor: Annotated[float, typer.Option(help="scale demand (greater than 0)")] = 1.0,
    capacity_factor: Annotated[float, typer.Option(help="scale pick capacity (greater than 0)")] = 1.0,
    max_shipments: Annotated[int | None, typer.Option(help="cap shipments per order (at least 1)")] = None,
    safety_stock: Annotated[
        int | None, typer.Option(help="safety stock units at every location/SKU (at least 0)")
    ] = None,
    store_participation: Annotated[
        float, typer.Option(help="share of stores that ship online orders (0 to 1)")
    ] = 1.0,
    bound: Annotated[bool, typer.Option(help="also report each strategy's cost over a lower bound")] = False,
) -> None:
    """Simulate every strategy x replication (common random numbers), print the comparison, write Parquet."""
    from sim.runner import expected_orders, run_experiment, worker_count
    from sim.scenario import load_scenario
    from sim.world import build_world

    try:  # every number is checked before any work starts
        COUNT.check("--replications", replications)
        COUNT.check("--workers", workers)
        knobs = _knobs(demand_factor, capacity_factor, max_shipments, safety_stock, store_participation)
        spec = load_scenario(scenario)
        exp = spec.experiment
        runs = exp.runs()
        if strategies:
            wanted = [s.strip() for s in strategies.split(",")]
            unknown = [w for w in wanted if w not in {r.name for r in runs}]
            if unknown:
                raise DomError(
                    "--strategies", f"not in the scenario: {unknown}; it has {[r.name for r in runs]}"
                )
            runs = [r for r in runs if r.name in wanted]
        baseline = exp.baseline if exp.baseline in {r.name for r in runs} else runs[0].name
        update = {
            "strategies": runs,
            "baseline": baseline,
            "replications": exp.replications if replications is None else replications,
            "bound": bound or exp.bound,
        }
        spec = spec.model_copy(update={"experiment": exp.model_copy(update=update)})
        n_workers = worker_count(spec, workers)
        per_run = expected_orders(build_world(spec), knobs)
    except DomError as exc:
        _fail(exc)
    reps = spec.experiment.replications
    total = len(runs) * reps
    plain(
        err,
        f"simulating {spec.name}: {len(runs)} strategies ({', '.join(r.name for r in runs)}) x {reps} "
        f"replications = {total} runs on {n_workers} worker{'s' if n_workers > 1 else ''}; "
        f"about {per_run:,.0f} orders per run, {per_run * total:,.0f} in all",
    )
    with run_progress(err, f"simulating {spec.name}", total, _run_label) as done:
        result = run_experiment(spec, knobs, workers=workers, on_done=done)
    folder = result.write(out or Path("results") / spec.name)
    console.print(
        comparison_table(
            result.comparison,
            f"{spec.name}: {reps} replications, baseline {spec.baseline} (diff ± 95% CI, * significant)",
        )
    )
    orders = sum(r.orders for r in result.runs)
    engine = "compiled" if compiled.active() else "pure Python: `make compiled` builds the faster one"
    console.print(
        f"{len(result.runs)} runs, {orders:,} orders simulated in {result.seconds:.1f} s ({engine}); "
        f"results in {folder}"
    )


def _knobs(
    demand_factor: float,
    capacity_factor: float,
    max_shipments: int | None,
    safety_stock: int | None,
    store_participation: float,
) -> Knobs:
    """The rule knobs of the command's options; a DomError names the option out of its range."""
    from sim.engines import Knobs

    try:
        return Knobs(demand_factor, capacity_factor, max_shipments, safety_stock, store_participation)
    except DomError as exc:
        raise DomError(option_name(exc.field), exc.problem) from None


def _run_label(run: RunResult) -> str:
    return f"{run.strategy} replication {run.replication}"


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    orders: Annotated[int, typer.Option(help="orders from the demand stream to source (at least 1)")] = 5000,
) -> None:
    """Plain sourcing comparison without simulation: same orders, same starting stock, every strategy."""
    from sim.compare import sourcing_comparison
    from sim.scenario import load_scenario

    try:
        COUNT.check("--orders", orders)
        table = sourcing_comparison(load_scenario(scenario), orders)
    except DomError as exc:
        _fail(exc)
    out = Table(title=f"sourcing comparison on {orders} orders")
    for col in table.columns:
        out.add_column(col, justify="right" if col != "strategy" else "left")
    for row in table.iter_rows():
        out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console.print(out)


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="scenario YAML files")]) -> None:
    """Validate scenario files; errors name the field and the line."""
    from sim.scenario import load_scenario
    from sim.world import build_world

    failed = False
    for path in files:
        try:
            spec = load_scenario(path)
            world = build_world(spec)
            if spec.rollout is not None:  # the candidate's rules and the stages' segments must exist too
                from sim.rollout import candidate_network, stages

                candidate_network(world.network, spec.rollout.candidate)
                stages(world, spec.rollout)
            console.print(f"[green]ok[/] {path}")
        except (DomError, ValueError) as exc:
            err.print(f"[bold red]invalid[/] {exc}")
            failed = True
    if failed:
        raise typer.Exit(2)


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="where to write")] = Path("scenarios/scenario.schema.json"),
) -> None:
    """Export the scenario JSON Schema for editors."""
    from sim.scenario import export_schema

    export_schema(out)
    console.print(f"wrote {out}")


@app.command()
def strategies() -> None:
    """List the registered strategies."""
    from dom_core.strategies import STRATEGIES

    for name in STRATEGIES.names():
        doc = (STRATEGIES.classes[name].__doc__ or "").strip().splitlines()[0]
        console.print(f"[bold]{name}[/]  {doc}")


@app.command()
def explain(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    order: Annotated[int, typer.Option(help="order number in the demand stream (from 0)")] = 0,
    strategy: Annotated[str, typer.Option(help="strategy name")] = "split_shipments",
) -> None:
    """Explain the decision a strategy takes for one order of the scenario (on the starting stock)."""
    from dom_core.engine import SourcingEngine
    from dom_core.strategies import build_strategy
    from sim.compare import demand_orders
    from sim.demand import generate_demand
    from sim.scenario import load_scenario
    from sim.world import build_world

    try:
        POSITION.check("--order", order)
        world = build_world(load_scenario(scenario))
        orders = demand_orders(world, generate_demand(world, 0), order + 1)
        if order >= len(orders):
            n = len(orders)
            raise DomError("--order", f"must be from 0 to {n - 1}: the demand stream has {n} orders")
        engine = SourcingEngine(
            world.network, world.carriers, strategy=build_strategy(strategy, "--strategy")
        )
        console.print(engine.explain(orders[order], world.initial).as_text())
    except DomError as exc:
        _fail(exc)


@app.command()
def dashboard(port: Annotated[int, typer.Option()] = 8501) -> None:
    """Open the Streamlit dashboard on the results."""
    app_py = Path(__file__).resolve().parent.parent / "app.py"
    raise typer.Exit(
        subprocess.call([sys.executable, "-m", "streamlit", "run", str(app_py), "--server.port", str(port)])
    )


from sim.rehearse_cli import rehearse  # noqa: E402  (after app: the command module needs no sim.cli import)

app.command()(rehearse)
app.command()(__import__("sim.sweep_cli", fromlist=["sweep"]).sweep)  # dom sweep (sim/sweep_cli.py)
app.command()(__import__("sim.replay_cli", fromlist=["replay"]).replay)  # dom replay (sim/replay_cli.py)

if __name__ == "__main__":
    app()
