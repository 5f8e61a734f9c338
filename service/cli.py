"""The ``dom`` command's service half: ``dom serve``, ``dom db upgrade``, ``dom shadow export``,
``dom keys hash`` (the simulation's commands come from ``sim.cli``)."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

import retail.cli  # noqa: F401  (registers `dom import`)
from dom_core.errors import DomError
from sim.cli import _fail, app, console, err

db_app = typer.Typer(help="The service's database: schema migrations.")
shadow_app = typer.Typer(help="Shadow mode results.")
keys_app = typer.Typer(help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(shadow_app, name="shadow")
app.add_typer(keys_app, name="keys")

DbUrl = Annotated[str, typer.Option("--db", help="sqlite:///dom.db or postgresql+psycopg://user@host/db")]


def _check(ok: bool, option: str, problem: str) -> None:
    if not ok:
        raise DomError(option, problem)


@app.command()
def serve(
    rules: Annotated[Path, typer.Argument(help="rules or scenario YAML file (its network: section)")],
    db: DbUrl = "sqlite:///dom.db",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
    keys_file: Annotated[
        Path | None, typer.Option(help="API keys file: KEY:ROLE or sha256:HEX:ROLE lines")
    ] = None,
    reservation_minutes: Annotated[
        float, typer.Option(help="unconfirmed orders release their stock after")
    ] = 60.0,
    epoch: Annotated[str | None, typer.Option(help="engine hour 0, a Monday (new databases only)")] = None,
    max_body_kb: Annotated[int, typer.Option(help="largest request body accepted")] = 1024,
    expiry_interval: Annotated[float, typer.Option(help="seconds between reservation expiry sweeps")] = 30.0,
    migrate: Annotated[
        bool, typer.Option(help="apply schema migrations first (else: `dom db upgrade`)")
    ] = True,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run the live order-sourcing service (OpenAPI page at /docs) with its state in a database."""
    import uvicorn

    from service import bootstrap, metrics
    from service import migrate as migrations
    from service.db.connect import open_database
    from service.logs import configure_logging
    from service.security import ApiKeys, generate_key
    from service.settings import Settings

    try:
        _check(1 <= port <= 65535, "--port", f"must be 1..65535, got {port}")
        _check(1 <= workers <= 64, "--workers", f"must be 1..64, got {workers}")
        _check(reservation_minutes > 0, "--reservation-minutes", f"must be > 0, got {reservation_minutes}")
        _check(max_body_kb > 0, "--max-body-kb", f"must be > 0, got {max_body_kb}")
        _check(
            expiry_interval >= 0, "--expiry-interval", f"must be >= 0 (0: no sweep), got {expiry_interval}"
        )
        _check(rules.is_file(), "RULES", f"{rules} is not a file")
        configure_logging(log_level)
        keys = ApiKeys.load(os.environ.get("DOM_API_KEYS"), keys_file)
        if not keys:
            key = generate_key()
            keys = ApiKeys.parse(f"{key}:write", "generated")
            console.print(
                f"no API keys given (DOM_API_KEYS or --keys-file): this run's write key is [bold]{key}[/]"
            )
        database = open_database(db)
        if migrate:
            migrations.upgrade(db)
        elif migrations.current(database.write) != migrations.head():
            raise DomError("--db", "the schema is not up to date: run `dom db upgrade --db ...` first")
        _, when, what = bootstrap.prepare(database, rules, epoch)
        database.dispose()
    except (DomError, ValueError) as exc:
        _fail(exc)
    console.print(f"{what}; epoch {when.isoformat()}; http://{host}:{port}/docs")
    settings = Settings(
        db,
        keys.to_env(),
        timedelta(minutes=reservation_minutes),
        max_body_kb * 1024,
        expiry_interval,
        log_level,
    )
    os.environ.update(settings.to_env())
    if workers > 1:
        os.environ[metrics.MULTIPROC_ENV] = tempfile.mkdtemp(prefix="dom-metrics-")
    uvicorn.run(
        "service.api:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@db_app.command("upgrade")
def db_upgrade(db: DbUrl = "sqlite:///dom.db", revision: str = "head") -> None:
    """Apply the schema migrations (Alembic) to the database."""
    from service import migrate as migrations
    from service.db.connect import open_database

    try:
        open_database(db).dispose()  # the URL is checked before Alembic sees it
        migrations.upgrade(db, revision)
    except DomError as exc:
        _fail(exc)
    console.print(f"database at revision {revision}")


@shadow_app.command("export")
def shadow_export(
    db: DbUrl = "sqlite:///dom.db",
    out: Annotated[
        Path, typer.Option(help="folder for shadow.parquet (the dashboard reads results/shadow/)")
    ] = Path("results/shadow"),
    candidate_version: Annotated[int | None, typer.Option(help="only this candidate's comparisons")] = None,
) -> None:
    """Write shadow mode's per-order comparisons as Parquet for the dashboard's Shadow view."""
    from service import shadow
    from service.db.connect import open_database

    try:
        database = open_database(db)
        with database.read.connect() as conn:
            df = shadow.frame(conn, candidate_version)
        database.dispose()
    except DomError as exc:
        _fail(exc)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "shadow.parquet"
    df.write_parquet(path)
    console.print(f"{df.height:,} orders compared; wrote {path}")


@keys_app.command("hash")
def keys_hash(key: str, role: Annotated[str, typer.Option(help="read or write")] = "write") -> None:
    """Print a keys-file line holding only the key's hash."""
    from service.security import Role, hash_key

    if role not in {r.value for r in Role}:
        err.print(f"--role: must be read or write, got {role!r}")
        raise typer.Exit(2)
    console.print(f"{hash_key(key)}:{role}", soft_wrap=True)


__all__ = ["app"]
