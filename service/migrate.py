"""Schema migrations with Alembic: ``dom db upgrade`` and the check ``dom serve`` makes at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


def config(url: str) -> Config:
    """The Alembic configuration for a database URL (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database's schema to ``revision`` (created on first use for SQLite)."""
    command.upgrade(config(url), revision)


def head() -> str:
    """The newest migration's revision."""
    script = ScriptDirectory.from_config(config("sqlite://"))
    found = script.get_current_head()
    assert found is not None
    return found


def current(engine: Engine) -> str | None:
    """The database's schema revision (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
