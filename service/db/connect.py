"""Engines for SQLite (WAL, writes serialised with BEGIN IMMEDIATE) and PostgreSQL (psycopg 3), and the
classification of errors that mean "this transaction lost a race: run it again"."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from dom_core.errors import DomError

SQLITE_BUSY_SECONDS = 30.0


@dataclass(frozen=True)
class Database:
    """Where writes and reads go: the same engine on PostgreSQL; on SQLite, reads skip BEGIN IMMEDIATE."""

    write: Engine
    read: Engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.write.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.write.dispose()
        if self.read is not self.write:
            self.read.dispose()


def open_database(url: str, pool_size: int = 10) -> Database:
    """Engines for ``url`` (a DomError naming ``db`` when it is not a supported database URL)."""
    write = make_engine(url, pool_size)
    if write.dialect.name != "sqlite":
        return Database(write, write)
    return Database(write, make_engine(url, pool_size, immediate=False))


def make_engine(url: str, pool_size: int = 10, immediate: bool = True) -> Engine:
    """An engine for ``url``; SQLite files get WAL and (with ``immediate``) write transactions that take
    the write lock at BEGIN, so two of them never deadlock upgrading a read lock."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DomError(
            "db", f"{url!r} is not a database URL (sqlite:///dom.db, postgresql+psycopg://...)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            pool_size=pool_size,
        )
        _sqlite_setup(engine, immediate)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise DomError("db", f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_setup(engine: Engine, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's deferred one
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process (not a power cut)
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class LostRace(Exception):  # noqa: N818 - a signal, not a failure shown to anyone
    """A conditional reservation found less stock than the snapshot promised: decide again."""


def retry_reason(exc: BaseException) -> str | None:
    """Why a failed transaction may simply be run again (None: it may not)."""
    if isinstance(exc, LostRace):
        return "lost_race"
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None)
    if code == "40001":
        return "serialization"
    if code == "40P01":
        return "deadlock"
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return "serialization"
    return None
