"""A throwaway PostgreSQL server for tests (see /work/shared/TOOLCHAIN.md).

``initdb`` a cluster in a fresh temporary directory, start it with ``pg_ctl`` on a free port of
127.0.0.1 (Unix socket in the same directory), stop it and remove the directory at the end. PostgreSQL
refuses to run as root, so as root every server command runs as the ``postgres`` user via ``runuser``.
Durability settings stay at their safe defaults (``fsync``, ``synchronous_commit`` on): tests kill the
service with SIGKILL and expect committed work to survive.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import LiteralString, Self

START_TIMEOUT = 60.0
"""Seconds allowed for ``initdb`` and for ``pg_ctl start`` each."""

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_pg_bin() -> Path | None:
    """The directory holding the server's ``initdb`` and ``pg_ctl``, or None when there is none.

    Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest version) first, else both on PATH in one
    directory (symlinks resolved).
    """
    candidates = sorted(
        (d for d in glob.glob("/usr/lib/postgresql/*/bin") if _has_server(Path(d))),
        key=_version_key,
        reverse=True,
    )
    if candidates:
        return Path(candidates[0])
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        return None
    for bindir in (Path(initdb).parent, Path(initdb).resolve().parent):
        if _has_server(bindir):
            return bindir
    return None


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def pg_version(bindir: Path) -> str:
    """The server version of ``bindir`` as ``pg_ctl --version`` reports it (e.g. ``15.18``)."""
    out = subprocess.run(
        [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    match = re.search(r"\d+(\.\d+)*", out)
    return match.group(0) if match else out.strip()


def unavailable_reason() -> str | None:
    """Why a throwaway server cannot be started here, or None when it can."""
    if find_pg_bin() is None:
        return "PostgreSQL tests skipped: no initdb/pg_ctl found (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "PostgreSQL tests skipped: running as root and no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "PostgreSQL tests skipped: running as root and runuser is not available"
    return None


class PgServer:
    """A private PostgreSQL cluster on 127.0.0.1, trust authentication, superuser ``postgres``.

    Use ``start()``/``stop()`` or ``with PgServer() as pg: ...``.
    """

    def __init__(self, bindir: Path | None = None, *, max_connections: int = 200) -> None:
        found = bindir or find_pg_bin()
        if found is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
        self.bindir: Path = found
        self.max_connections = max_connections
        self.port: int = 0
        self.dir: Path | None = None
        self._as_root = os.geteuid() == 0
        self._running = False

    # -- public API ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` maintenance database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of database ``dbname`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string of database ``dbname``, for plain ``psycopg.connect``."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    @property
    def log_path(self) -> Path:
        """The server log (``pg_ctl -l``)."""
        if self.dir is None:
            raise RuntimeError("server not started")
        return self.dir / "server.log"

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """initdb a fresh cluster and start it; raises RuntimeError (with the log) on failure/timeout."""
        if self._running:
            return self
        # the system temp dir, not pytest's tmp_path: under root the latter is 0700 and the postgres
        # user could not reach it; a short path also keeps the Unix socket path under its length limit
        self.dir = Path(tempfile.mkdtemp(prefix="dom-pg-"))
        try:
            if self._as_root:
                entry = pwd.getpwnam("postgres")
                os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                timeout=timeout,
                what="initdb",
            )
            for attempt in range(3):  # another process may grab the port between probe and bind
                self.port = free_port()
                try:
                    self._pg_ctl_start(timeout)
                    break
                except RuntimeError as exc:
                    if attempt == 2 or "already in use" not in str(exc):
                        raise
        except BaseException:
            self._cleanup()
            raise
        self._running = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """``pg_ctl -m fast stop``, then remove the directory. Safe to call twice."""
        atexit.unregister(self.stop)
        if self._running:
            self._running = False
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self._run(
                    ["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"],
                    timeout=90,
                    what="pg_ctl stop",
                )
        self._cleanup()

    def create_database(self, name: str) -> str:
        """Create database ``name`` (lower-case identifier) and return its SQLAlchemy URL."""
        self._admin("CREATE DATABASE {}", name)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, closing any connections still open to it."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        if self.dir is None:
            raise RuntimeError("server not started")
        return self.dir / "data"

    def _pg_ctl_start(self, timeout: float) -> None:
        assert self.dir is not None
        options = (
            f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1"
            f" -c max_connections={self.max_connections} -c fsync=on -c synchronous_commit=on"
        )
        try:
            self._run(
                [
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ],
                timeout=timeout + 15,
                what="pg_ctl start",
            )
        except RuntimeError as exc:
            # a failed start may leave a postmaster behind (e.g. on timeout): stop it before retrying
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self._run(
                    ["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                    timeout=30,
                    what="pg_ctl stop",
                )
            raise RuntimeError(f"{exc}\n--- server log ---\n{self._log_tail()}") from None

    def _run(self, argv: list[str], *, timeout: float, what: str) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self._as_root:
            cmd = [shutil.which("runuser") or "runuser", "-u", "postgres", "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        started = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
            raise RuntimeError(
                f"PostgreSQL {what} timed out after {timeout:.0f} s: {' '.join(cmd)}\n{err or ''}"
            ) from None
        if proc.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL {what} failed (exit {proc.returncode}, {time.monotonic() - started:.1f} s): "
                f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
            )

    def _admin(self, template: LiteralString, name: str) -> None:
        import psycopg
        from psycopg import sql

        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain lower-case identifier: {name!r}")
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=30) as conn:
            conn.execute(sql.SQL(template).format(sql.Identifier(name)))

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, RuntimeError):
            return "(no server log)"

    def _cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
