"""Fixtures for the service tests: real databases (SQLite file, throwaway PostgreSQL) and the real service
as a subprocess.

Each test process (each pytest-xdist worker) starts one PostgreSQL server for its session and gives every
test a database of its own. Without PostgreSQL binaries the PostgreSQL tests skip, and say so: in the
report header, in the terminal summary and as a warning (which pytest-xdist forwards from its workers).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path

import pytest

from tests.service.pg import PgServer, find_pg_bin, free_port, pg_version, unavailable_reason
from tests.service.server import RULES_SMALL, ServiceFactory, ServiceProcess

__all__ = ["RULES_SMALL", "ServiceProcess", "free_port"]


@cache
def _pg_status() -> tuple[str | None, str]:
    """(reason PostgreSQL tests skip or None, one-line description for the report)."""
    reason = unavailable_reason()
    if reason is not None:
        return reason, reason
    bindir = find_pg_bin()
    assert bindir is not None
    try:
        version = pg_version(bindir)
    except Exception as exc:  # a header line must not break the run
        version = f"unknown version ({exc})"
    return None, f"PostgreSQL {version} ({bindir}): throwaway server per test process"


def pytest_report_header(config: pytest.Config) -> str:
    """State whether the PostgreSQL tests will run (shown when this conftest is loaded at start-up)."""
    return f"postgresql: {_pg_status()[1]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat at the end of the run that the PostgreSQL tests were skipped, if they were."""
    reason = _pg_status()[0]
    if reason is not None:
        terminalreporter.write_sep("=", "PostgreSQL", yellow=True)
        terminalreporter.write_line(reason, yellow=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for this test process; skips (loudly) without PostgreSQL binaries."""
    reason = _pg_status()[0]
    if reason is not None:
        # a plain UserWarning: pytest-xdist re-imports a warning's category in the controller process
        warnings.warn(reason, UserWarning, stacklevel=1)
        pytest.skip(reason)
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database on ``pg_server``, dropped after the test."""
    name = f"t_{uuid.uuid4().hex}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a SQLite file (not yet created) in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'dom.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """``sqlite_url`` or ``pg_url``: a test using it runs once against each real database."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def service_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceFactory]:
    """A function starting ``ServiceProcess`` es (healthy on return unless ``start=False``).

    Every process it made is stopped at teardown; their log tails are printed then (pytest shows them
    for a failed test).
    """
    made: list[ServiceProcess] = []
    log_dir = tmp_path_factory.mktemp("service")

    def factory(
        db_url: str,
        rules: Path | str = RULES_SMALL,
        *,
        workers: int = 1,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        start: bool = True,
        timeout: float = 60.0,
    ) -> ServiceProcess:
        svc = ServiceProcess(
            db_url, rules, workers=workers, port=port, extra_args=extra_args, env=env, log_dir=log_dir
        )
        made.append(svc)
        if start:
            svc.start(timeout=timeout)
        return svc

    yield factory
    for svc in made:
        svc.stop()
        print(f"{svc!r}\n{svc.log_tail(30)}")


def open_api(db_url: str, rules: Path = RULES_SMALL, epoch: str | None = None) -> tuple[object, object]:
    """(TestClient with the write key, Service) on a migrated database loaded with ``rules``."""
    from fastapi.testclient import TestClient

    from service import bootstrap, migrate
    from service.api import create_app
    from service.context import Service
    from service.db.connect import open_database
    from service.security import ApiKeys
    from service.settings import Settings
    from tests.service.server import API_KEYS, WRITE_KEY

    migrate.upgrade(db_url)
    db = open_database(db_url)
    _, when, _ = bootstrap.prepare(db, rules, epoch)
    svc = Service(db, when)
    settings = Settings(db_url, ApiKeys.parse(API_KEYS, "test").to_env(), expiry_interval_s=0)
    client = TestClient(create_app(settings, svc), headers={"X-API-Key": WRITE_KEY})
    return client, svc


@pytest.fixture
def api(db_url: str) -> Iterator[object]:
    """A TestClient (write key) on the service over a real SQLite or PostgreSQL database with
    tests/service/data/rules_small.yaml loaded; ``api.app.state.service`` is the Service."""
    client, svc = open_api(db_url)
    with client:  # type: ignore[attr-defined]
        yield client
    svc.db.dispose()  # type: ignore[attr-defined]
