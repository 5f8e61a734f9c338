"""The real service as a subprocess (``python -m service serve ...``), for end-to-end tests.

The process runs in its own session, so ``kill9()`` and ``stop()`` reach uvicorn's worker processes too.
Output (stdout and stderr) goes to a log file; ``log_tail()`` shows its end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol, Self

import httpx

from tests.service.pg import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_SMALL = Path(__file__).resolve().parent / "data" / "rules_small.yaml"
"""The default rules file of the service tests."""

API_KEYS = "test-write-key:write,test-read-key:read"
"""``DOM_API_KEYS`` given to every service started here."""

WRITE_KEY = "test-write-key"
READ_KEY = "test-read-key"


class ServiceProcess:
    """One ``python -m service serve RULES --db URL --host 127.0.0.1 --port PORT --workers N`` process.

    ``start()`` waits for ``GET /health`` to answer 200; ``stop()`` sends SIGTERM to the process group
    (SIGKILL after a grace period); ``kill9()`` sends SIGKILL at once. After either, ``start()`` runs the
    service again on the same port and database (output appended to the same log). Also a context
    manager: ``with ServiceProcess(...) as svc:`` starts it and stops it at the end.
    """

    def __init__(
        self,
        db_url: str,
        rules: Path | str = RULES_SMALL,
        *,
        workers: int = 1,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.db_url = db_url
        self.rules = Path(rules)
        self.workers = workers
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.log_path = Path(log_dir or tempfile.mkdtemp(prefix="dom-svc-")) / f"service-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def argv(self) -> list[str]:
        """The command line the service runs with."""
        return [
            sys.executable,
            "-m",
            "service",
            "serve",
            str(self.rules),
            "--db",
            self.db_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.extra_args,
        ]

    @property
    def pid(self) -> int | None:
        """Process id of the main (uvicorn manager) process while it runs."""
        return self.proc.pid if self.proc is not None else None

    def is_running(self) -> bool:
        """True while the main process has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0) -> Self:
        """Start the process and wait until ``/health`` answers 200.

        Raises RuntimeError with the end of the log if the process exits first or ``timeout`` passes.
        """
        if self.is_running():
            raise RuntimeError(f"service on port {self.port} is already running")
        env = {**os.environ, "DOM_API_KEYS": API_KEYS, "PYTHONUNBUFFERED": "1", **self.extra_env}
        # the repo root on the path: `service` is importable even if the editable install predates it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"=== start: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, headers={"X-API-Key": READ_KEY}) as probe:
            while True:
                code = self.proc.poll()
                if code is not None:
                    self._close_log()
                    raise RuntimeError(
                        f"service exited with code {code} before it was healthy\n{self._tail_for_error()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if probe.get("/health").status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    self.kill9()
                    raise RuntimeError(
                        f"service not healthy on {self.base_url} within {timeout:.0f} s\n"
                        f"{self._tail_for_error()}"
                    )
                time.sleep(0.1)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        self._reap_group(grace)
        self._close_log()
        return self.proc.returncode

    def kill9(self) -> int | None:
        """SIGKILL the whole process group at once (a crash); returns the exit code."""
        if self.proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        self.proc.wait()
        self._reap_group(5.0)
        self._close_log()
        return self.proc.returncode

    def client(self, key: str = WRITE_KEY) -> httpx.Client:
        """An ``httpx.Client`` on this service sending ``X-API-Key: key`` (close it, or use ``with``)."""
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": key}, timeout=30)

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the service's output."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self if self.is_running() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<ServiceProcess {self.base_url} workers={self.workers} {state} log={self.log_path}>"

    # -- internals -----------------------------------------------------------------------------------

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # start_new_session: the group id is the leader's pid

    def _reap_group(self, grace: float) -> None:
        """Wait for workers left in the group after the leader exited; SIGKILL them after ``grace``."""
        assert self.proc is not None
        deadline = time.monotonic() + grace
        while _group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                self._signal_group(signal.SIGKILL)
                return
            time.sleep(0.05)

    def _tail_for_error(self) -> str:
        return f"--- service log {self.log_path} (tail) ---\n{self.log_tail()}"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a live (non-zombie) member.

    Orphaned workers become zombies of PID 1, which may never reap them, so ``killpg(pgid, 0)`` alone
    could report a dead group alive; /proc tells zombies apart (Linux), else fall back to it.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


class ServiceFactory(Protocol):
    """Signature of the ``service_factory`` fixture's function."""

    def __call__(
        self,
        db_url: str,
        rules: Path | str = ...,
        *,
        workers: int = ...,
        port: int | None = ...,
        extra_args: Sequence[str] = ...,
        env: Mapping[str, str] | None = ...,
        start: bool = ...,
        timeout: float = ...,
    ) -> ServiceProcess: ...
