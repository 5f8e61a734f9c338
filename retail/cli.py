"""``dom import``: a retailer's files in, a scenario-ready folder (Parquet) or a YAML network section out.

Registered on the ``dom`` command by importing this module (``service/cli.py`` does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dom_core.errors import DomError
from sim.cli import app, console, err


def _print_report(report: object, shown: int) -> None:
    from retail.problems import ImportReport

    assert isinstance(report, ImportReport)
    for line in report.summary():
        console.print(line)
    for note in report.notes:
        console.print(f"[dim]{note}[/]")
    if not report.ok:
        err.print(f"[bold yellow]{report.problems.height} problems[/] in {report.skipped} skipped rows:")
        for line in report.lines(shown):
            err.print(f"  {line}")


@app.command("import")
def import_files(
    sources: Annotated[list[str], typer.Argument(help="folders, files named after their kind, or KIND=PATH")],
    out: Annotated[Path, typer.Option(help="a folder (Parquet files) or a .yaml file (network section)")],
    strict: Annotated[bool, typer.Option(help="any bad row refuses the whole import")] = False,
    carrier_preset: Annotated[
        str | None, typer.Option(help="default, linear or none beside imported carriers (default: none)")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="zone of history times written without one (default UTC; Olist: Sao Paulo)"),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="channel of every mapped export's order")] = None,
    market: Annotated[str | None, typer.Option(help="market of every mapped export's order")] = None,
    show: Annotated[int, typer.Option(help="bad rows shown (all are in problems.csv)")] = 20,
) -> None:
    """Import locations, catalogue, stock, carriers and order history (CSV or Parquet; Shopify, Magento
    and Olist exports); print counts and the bad-row report; write OUT. See docs/data.md."""
    from retail.history import import_history
    from retail.mappings import mapped
    from retail.network import import_network
    from retail.problems import ImportRefusedError, ImportReport
    from retail.sources import NETWORK_KINDS, find_sources
    from retail.writing import YAML_STOCK_WARNING, network_yaml, write_folder

    if carrier_preset not in (None, "default", "linear", "none"):
        err.print(f"[bold red]error[/] --carrier-preset: {carrier_preset!r} is not default, linear or none")
        raise typer.Exit(2)
    report = ImportReport()
    try:
        found = find_sources(sources)
        network = None
        if any(k in found for k in NETWORK_KINDS):
            network = import_network(found, strict=strict, carrier_preset=carrier_preset)  # type: ignore[arg-type]
            report.add(network.report)
        history = None
        export = mapped(found, channel, market)
        if export is not None or "history" in found:
            source = export if export is not None else found["history"]
            zone = timezone or (export.timezone if export is not None else "UTC")
            if export is not None and timezone:
                export = type(export)(export.frame, export.label, timezone, export.notes)
                source = export
            result = import_history(source, strict=strict, timezone=zone, channel=channel or "web")
            history = result.frame
            report.add(result.report)
        if network is None and history is None:
            raise DomError("sources", "found no file to import (see docs/data.md for the names)")
    except ImportRefusedError as exc:
        _print_report(exc.report, show)
        err.print("[bold red]refused[/] (--strict): nothing imported")
        raise typer.Exit(2) from None
    except DomError as exc:
        err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    _print_report(report, show)
    preset = carrier_preset or ("none" if "carriers" in found else "default")
    if out.suffix.lower() in (".yaml", ".yml"):
        if network is None:
            err.print(
                "[bold red]error[/] --out: a YAML file holds a network section; import history into a folder"
            )
            raise typer.Exit(2)
        if network.stock.height > YAML_STOCK_WARNING:
            rows = network.stock.height
            err.print(f"[yellow]note[/] {rows:,} stock rows load slowly from YAML; a folder is faster")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(network_yaml(network, [str(p) for p in found.values()]), encoding="utf-8")
        written = [out]
        if history is not None:
            side = out.with_suffix(".history.parquet")
            history.write_parquet(side)
            written.append(side)
    else:
        written = write_folder(out, network, history, report, preset)
    skipped = f", {report.skipped} rows skipped" if report.skipped else ""
    console.print(f"[green]imported[/]{skipped}: wrote {', '.join(str(p) for p in written)}")
