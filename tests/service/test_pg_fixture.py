"""The database fixtures work: a real PostgreSQL server and a SQLite file, both through SQLAlchemy 2."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.service.pg import PgServer


def _roundtrip(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)"))
            conn.execute(
                text("INSERT INTO item (id, name) VALUES (:id, :name)"),
                [{"id": 1, "name": "sku-1"}, {"id": 2, "name": "søk-2"}],
            )
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name FROM item ORDER BY id")).all()
            return [(int(r.id), str(r.name)) for r in rows]
    finally:
        engine.dispose()


def test_pg_server_runs_sql(pg_server: PgServer, pg_url: str) -> None:
    assert make_url(pg_url).drivername == "postgresql+psycopg"
    assert _roundtrip(pg_url) == [(1, "sku-1"), (2, "søk-2")]
    engine = create_engine(pg_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW fsync")).scalar_one() == "on"
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
            assert conn.execute(text("SHOW max_connections")).scalar_one() == "200"
    finally:
        engine.dispose()


def test_pg_urls_are_distinct_databases(pg_server: PgServer, pg_url: str) -> None:
    name = f"t_{uuid.uuid4().hex}"
    other = pg_server.create_database(name)
    try:
        assert make_url(other).database != make_url(pg_url).database
        _roundtrip(pg_url)  # creates `item` in pg_url's database only
        engine = create_engine(other)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT to_regclass('item')")).scalar_one() is None
        finally:
            engine.dispose()
    finally:
        pg_server.drop_database(name)


def test_create_database_rejects_bad_names(pg_server: PgServer) -> None:
    with pytest.raises(ValueError, match="identifier"):
        pg_server.create_database("x; DROP DATABASE postgres")


def test_sqlite_url_works(sqlite_url: str) -> None:
    assert sqlite_url.startswith("sqlite:///")
    assert _roundtrip(sqlite_url) == [(1, "sku-1"), (2, "søk-2")]


def test_db_url_is_a_real_database(db_url: str) -> None:
    assert make_url(db_url).get_backend_name() in {"sqlite", "postgresql"}
    assert _roundtrip(db_url) == [(1, "sku-1"), (2, "søk-2")]
