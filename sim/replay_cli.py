"""``dom replay``: run an order history through each strategy of a scenario, report the history rows that
could not be placed, print the comparison and write the results folder as ``dom simulate`` does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dom_core.errors import DomError

if TYPE_CHECKING:
    import polars as pl

    from sim.runner import RunResult
    from sim.scenario import Scenario

console = Console(width=160)
err = Console(stderr=True, soft_wrap=True)
RETURNS = ("auto", "history", "model")


def replay(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file (network, operations, strategies)")],
    history: Annotated[Path, typer.Option(help="order history: Parquet (or CSV), one row per order line")],
    strategies: Annotated[
        str | None, typer.Option(help="comma-separated subset of the scenario's strategies")
    ] = None,
    replications: Annotated[int | None, typer.Option(help="override the scenario's replications")] = None,
    workers: Annotated[
        int | None, typer.Option(help="parallel processes (default: scenario, max cores)")
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(
            help="the retailer's network files (folder or file): fill what the scenario does not list"
        ),
    ] = None,
    returns: Annotated[
        str, typer.Option(help="auto (the history's when it records any), history, or model (the scenario's)")
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="results folder (default results/<scenario name>-replay)")
    ] = None,
) -> None:
    """Replay an order history through every strategy x replication; report the rows not placed."""
    from dom_core import compiled
    from sim.cli import comparison_table
    from sim.replay import prepare_replay, run_replay, write_replay
    from sim.retail_files import import_history_file, scenario_with_network
    from sim.scenario import load_scenario

    try:
        if replications is not None and replications < 1:
            raise DomError("--replications", f"must be at least 1, got {replications}")
        if workers is not None and workers < 1:
            raise DomError("--workers", f"must be at least 1, got {workers}")
        if returns not in RETURNS:
            raise DomError("--returns", f"must be one of {', '.join(RETURNS)}, got {returns!r}")
        if network is None:
            spec, files = load_scenario(scenario), None
        else:
            spec, files = scenario_with_network(scenario, network)
        spec = _with_runs(spec, strategies, replications)
        zone = "UTC" if spec.calendar is None else spec.calendar.timezone
        with err.status(f"reading and checking {history}"):
            frame, imported = import_history_file(history, zone)
            prepared = prepare_replay(spec, frame, returns)
    except (DomError, ValueError) as exc:
        err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    for part in (files, imported):
        if part is not None:
            for line in part.summary:
                console.print(f"imported {line}")
            if part.problems.height:
                console.print(import_table(part.problems))
    checked = prepared.checked
    console.print(
        f"history {history}: {checked.total_rows:,} rows, {checked.total_orders:,} orders; "
        f"placing {checked.rows.height:,} rows in {len(prepared.orders):,} orders from "
        f"{checked.start_date} over {prepared.scenario.horizon_days:g} days "
        f"(returns: {'the history' if prepared.orders.returns_known[0] else 'the scenario model'})"
    )
    if not checked.problems.is_empty():
        console.print(problem_table(checked.summary(), checked.problems.height))
    exp = prepared.scenario.experiment
    with _progress(f"replaying {spec.name}", len(exp.runs()) * exp.replications) as done:
        result = run_replay(prepared, workers=workers, on_done=done)
    folder = write_replay(result, prepared, out or Path("results") / f"{spec.name}-replay", str(history))
    if imported.problems.height:  # rows the import skipped, beside those the network could not place
        imported.problems.write_parquet(folder / "history_import_problems.parquet")
    console.print(
        comparison_table(
            result.comparison,
            f"{spec.name} replay: {exp.replications} replications, baseline {prepared.scenario.baseline} "
            "(diff ± 95% CI, * significant)",
        )
    )
    engine = "compiled" if compiled.active() else "pure Python: `make compiled` builds the faster one"
    orders = sum(r.orders for r in result.runs)
    console.print(
        f"{len(result.runs)} runs, {orders:,} orders replayed in {result.seconds:.1f} s ({engine}); "
        f"results in {folder}"
    )


def _with_runs(spec: Scenario, strategies: str | None, replications: int | None) -> Scenario:
    """The scenario with the chosen strategies and replications (the baseline kept if still there)."""
    exp = spec.experiment
    runs = exp.runs()
    if strategies:
        wanted = [s.strip() for s in strategies.split(",")]
        unknown = [w for w in wanted if w not in {r.name for r in runs}]
        if unknown:
            raise DomError("--strategies", f"not in the scenario: {unknown}; it has {[r.name for r in runs]}")
        runs = [r for r in runs if r.name in wanted]
    baseline = exp.baseline if exp.baseline in {r.name for r in runs} else runs[0].name
    update = {"strategies": runs, "baseline": baseline, "replications": replications or exp.replications}
    return spec.model_copy(update={"experiment": exp.model_copy(update=update)})


def problem_table(summary: pl.DataFrame, rows: int) -> Table:
    """The history rows not placed, per reason, with counts and examples."""
    table = Table(title=f"{rows:,} history rows not placed (rows of an order kept lose only that line)")
    for name in ("reason", "rows", "orders", "examples"):
        table.add_column(name, justify="right" if name in ("rows", "orders") else "left")
    for r in summary.iter_rows(named=True):
        table.add_row(r["reason"], f"{r['rows']:,}", f"{r['orders']:,}", r["examples"])
    return table


def import_table(problems: pl.DataFrame, limit: int = 10) -> Table:
    """Rows an import skipped: file, row, column, problem, value (the first ``limit``)."""
    table = Table(
        title=f"{problems.height:,} problems in imported rows (skipped; a bad history line skips its order)"
    )
    for name in ("file", "row", "column", "problem", "value"):
        table.add_column(name, justify="right" if name == "row" else "left")
    for r in problems.head(limit).iter_rows(named=True):
        table.add_row(r["file"], str(r["row"]), r["column"], r["problem"], r["value"] or "")
    if problems.height > limit:
        table.add_row("...", "", "", f"and {problems.height - limit:,} more", "")
    return table


@contextmanager
def _progress(title: str, total: int) -> Iterator[Callable[[RunResult, int, int], None]]:
    """A per-run callback: a rich progress bar on a terminal, else one plain line per finished run."""
    if not err.is_terminal:

        def line(r: RunResult, n: int, of: int) -> None:
            took = f"{r.seconds:.1f} s"
            err.print(f"{title}: {r.strategy} replication {r.replication} done in {took} ({n}/{of})")

        yield line
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(title, total=total)

        def bar(r: RunResult, n: int, of: int) -> None:
            progress.update(task, completed=n, description=f"{r.strategy} rep {r.replication} done")

        yield bar
