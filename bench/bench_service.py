"""Live order-sourcing service benchmark: sustained orders/s, p50/p95/p99 latency and oversold units.

Each configuration starts ``python -m service serve scenarios/default.yaml`` (3 DCs, 40 stores, 500 SKUs)
on 127.0.0.1 on a fresh database (a new SQLite file, or a new throwaway PostgreSQL server from
``tests/service/pg.py``), then a load generator in a separate process (its own GIL, its CPU measured)
posts orders with ``--clients`` concurrent keep-alive connections (asyncio): ``--warmup`` seconds
unmeasured, then ``--seconds`` measured. The orders are the scenario's demand stream (replication 0:
market DE, web/app, 1-5 lines, 82% home delivery, 10% pickup in store, 8% ship to store), the same
stream in every configuration, posted without ``created_at`` (live orders, timed now).

After the run: lost-race retries from ``/metrics`` (``dom_reservation_retries_total``, measured window),
``GET /stock/audit``, and a direct check of the database: every stock row has reserved <= on hand, and per
the movement journal every cell has reserved + shipped <= received (+ restocked + adjusted); the units
the clients saw reserved must equal the units the database holds reserved. Oversold units must be 0.

    .venv/bin/python bench/bench_service.py                          # sqlite1,pg1,pg4; 20 s each
    .venv/bin/python bench/bench_service.py --configs pg4 --seconds 60 --clients 16
    .venv/bin/python bench/bench_service.py --profile pg1            # where the time per order goes

``--profile CONFIG`` runs the application in this process instead (no sockets, no uvicorn): orders one at
a time through the ASGI app with FastAPI's thread pool bypassed, first timed by parts (engine decide,
SQL statements and commits, serialisation, HTTP layer), then under cProfile (top functions printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SCENARIO = ROOT / "scenarios" / "default.yaml"
CPUS = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
DISTURBED_CORES = 0.3  # other work during a measured window above this: the run's figures are low
GOAL = {"config": "pg4", "orders_per_s": 500.0, "p99_ms": 100.0}


# -- configurations and orders --------------------------------------------------------------------


def parse_config(name: str) -> tuple[str, int]:
    """``sqlite1`` -> ("sqlite", 1), ``pg4`` -> ("postgresql", 4)."""
    match = re.fullmatch(r"(sqlite|pg)(\d+)", name)
    if match is None or not 1 <= int(match.group(2)) <= 64:
        raise SystemExit(f"--configs: {name!r} is not sqliteN or pgN (N workers, 1..64)")
    return ("sqlite" if match.group(1) == "sqlite" else "postgresql"), int(match.group(2))


def order_bodies(scenario: Path, replication: int) -> list[dict[str, Any]]:
    """The scenario's demand stream as ``POST /orders`` bodies, without ``id`` (added per run)."""
    from sim.compare import demand_orders
    from sim.demand import generate_demand
    from sim.scenario import load_scenario
    from sim.world import build_world

    world = build_world(load_scenario(scenario))
    bodies = []
    for order in demand_orders(world, generate_demand(world, replication)):
        body: dict[str, Any] = {
            "market": order.market,
            "channel": order.channel,
            "lat": round(order.lat, 6),
            "lon": round(order.lon, 6),
            "lines": [
                {"line_id": str(i), "sku": ln.sku, "qty": ln.qty} for i, ln in enumerate(order.lines, 1)
            ],
            "fulfilment": order.fulfilment.value,
        }
        if order.pickup_location is not None:
            body["pickup_location"] = order.pickup_location
        bodies.append(body)
    return bodies


# -- CPU accounting from /proc ------------------------------------------------------------------------


def proc_table() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (parent pid, process group, user + system CPU ticks, name) of every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        table[int(entry)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]), name)
    return table


def machine_ticks() -> tuple[int, int, int]:
    """(busy, total, interrupt + softirq) CPU ticks of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values), values[5] + values[6]


def background_load(seconds: float = 2.0) -> float:
    """Cores the whole machine keeps busy over ``seconds`` (before a run: other jobs' load)."""
    a = machine_ticks()[:2]
    time.sleep(seconds)
    b = machine_ticks()[:2]
    return CPUS * (b[0] - a[0]) / max(1, b[1] - a[1])


def wait_quiet(limit_cores: float, wait_s: float, label: str) -> float:
    """Wait up to ``wait_s`` seconds for the machine's load to fall below ``limit_cores``; the last load."""
    deadline = time.monotonic() + wait_s
    load = background_load()
    while load > limit_cores and time.monotonic() < deadline:
        _say(f"[{label}] machine busy with {load:.2f} cores of other work; waiting (up to {wait_s:.0f} s)")
        time.sleep(10)
        load = background_load()
    return load


def cpu_sample(server_pgid: int | None, pg_pid: int | None) -> dict[str, Any]:
    """CPU ticks so far of the service's processes (by pid), PostgreSQL's, this process's, the machine's,
    and every other process's (to name what else ran)."""
    table = proc_table()
    server = {
        pid: t for pid, (_, pgrp, t, _) in table.items() if server_pgid is not None and pgrp == server_pgid
    }
    postgres = {
        pid: t for pid, (ppid, _, t, _) in table.items() if pg_pid is not None and pg_pid in (pid, ppid)
    }
    own = table.get(os.getpid(), (0, 0, 0, ""))[2]
    mine = {*server, *postgres, os.getpid()}
    others = {pid: (t, name) for pid, (_, _, t, name) in table.items() if pid not in mine}
    busy, total, irq = machine_ticks()
    return {
        "server": server,
        "postgres": postgres,
        "client": own,
        "others": others,
        "busy": busy,
        "total": total,
        "irq": irq,
    }


def cpu_between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds used between two samples, per group (processes present in both), and machine busy share."""

    def used(group: str) -> dict[int, float]:
        return {pid: (t - a[group][pid]) / TICK for pid, t in b[group].items() if pid in a[group]}

    server = used("server")
    ours = sum(server.values()) + sum(used("postgres").values()) + (b["client"] - a["client"]) / TICK
    by_name: dict[str, float] = {}
    for pid, (t, name) in b["others"].items():
        before = a["others"].get(pid, (0, name))[0]  # a process started in the window: all of its time
        name = re.sub(r"[/:.]?[\d:]+[A-Z]*$", "", name.split("-")[0])  # kworker/1:2H-events -> kworker
        by_name[name] = by_name.get(name, 0.0) + (t - before) / TICK
    window = max(1e-9, (b["total"] - a["total"]) / TICK / CPUS)
    top = sorted(((round(v, 2), k) for k, v in by_name.items() if v >= 0.01 * window), reverse=True)[:5]
    return {
        "server_s": sum(server.values()),
        "server_by_process_s": sorted(server.values(), reverse=True),
        "postgres_s": sum(used("postgres").values()),
        "client_s": (b["client"] - a["client"]) / TICK,
        "machine_busy": (b["busy"] - a["busy"]) / max(1, b["total"] - a["total"]),
        "others_s": max(0.0, (b["busy"] - a["busy"]) / TICK - ours),  # processes not in this benchmark
        "others_top_s": [[name, v] for v, name in top],  # by process name, CPU seconds
        "irq_s": (b["irq"] - a["irq"]) / TICK,  # interrupts and softirqs (loopback TCP, disk), no process
    }


# -- the load generator (a separate process) -----------------------------------------------------------


def client_main(spec_path: Path) -> None:
    """Run the load described in a spec file and write the result file it names."""
    spec = json.loads(spec_path.read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_load(spec))
    Path(spec["out"]).write_text(json.dumps(result))


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client connection (asyncio streams; Content-Length bodies only):
    far less CPU per request than httpx, which matters when the load shares 2 cores with the server."""

    def __init__(self, host: str, port: int, headers: dict[str, str], timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, **headers}.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", extra: str = "") -> tuple[int, bytes]:
        """(status, body) of one request; the connection is reopened when the server closed it."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), self.head, extra.encode(), len(body), body)
        )
        try:
            async with asyncio.timeout(self.timeout):
                lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
                status, length, close = int(lines[0].split(b" ", 2)[1]), -1, False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = value.strip().lower() == b"close"
                if length < 0:
                    raise ConnectionError("response without Content-Length")
                content = await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, content

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx

    bodies = json.loads(Path(spec["orders_file"]).read_text())
    tails = [json.dumps(b, separators=(",", ":"))[1:].encode() for b in bodies]
    prefix, clients, label = spec["prefix"], spec["clients"], spec["label"]
    headers = {"X-API-Key": spec["key"], "Content-Type": "application/json"}
    records: list[tuple[float, float, int, bytes]] = []  # start, end, status (0: exception), body
    state = {"next": 0, "errors": 0}
    start = time.perf_counter()
    window_start = start + spec["warmup"]
    window_end = window_start + spec["seconds"]
    marks: dict[str, Any] = {}
    host, port = spec["base_url"].removeprefix("http://").rsplit(":", 1)
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)
    async with httpx.AsyncClient(
        base_url=spec["base_url"], headers=headers, limits=limits, timeout=spec["request_timeout"]
    ) as http:

        async def metrics_text() -> str:
            try:
                response = await http.get("/metrics", headers={"X-API-Key": spec["read_key"]})
                return str(response.text) if response.status_code == 200 else ""
            except httpx.HTTPError:
                return ""

        async def one_client() -> None:
            raw = RawConnection(host, int(port), headers, spec["request_timeout"])
            while time.perf_counter() < window_end:
                k = state["next"]
                state["next"] = k + 1
                payload = b'{"id":"%s-%d",%s' % (prefix.encode(), k, tails[k % len(tails)])
                t0 = time.perf_counter()
                try:
                    if spec["http"] == "raw":
                        status, content = await raw.request("POST", "/orders", payload)
                    else:
                        response = await http.post("/orders", content=payload)
                        status, content = response.status_code, response.content
                except (OSError, TimeoutError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
                    status, content = 0, repr(exc).encode()
                t1 = time.perf_counter()
                if status != 201:
                    state["errors"] += 1
                records.append((t0, t1, status, content))
            raw.close()

        async def window_marks() -> None:
            await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
            marks["metrics_start"] = await metrics_text()
            marks["cpu_start"] = cpu_sample(spec["server_pgid"], spec["pg_pid"])
            marks["t_start"] = time.perf_counter()
            await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
            marks["cpu_end"] = cpu_sample(spec["server_pgid"], spec["pg_pid"])
            marks["t_end"] = time.perf_counter()

        async def progress() -> None:
            last_n, last_t = 0, time.perf_counter()
            while True:
                await asyncio.sleep(spec["progress_every"])
                now = time.perf_counter()
                n = len(records)
                phase = "warm-up" if now < window_start else "measuring"
                at = now - (start if now < window_start else window_start)
                print(
                    f"  [{label}] {phase} {at:5.1f} s: {n:,} orders answered, "
                    f"{(n - last_n) / (now - last_t):,.0f}/s now, {state['errors']} errors",
                    file=sys.stderr,
                    flush=True,
                )
                last_n, last_t = n, now

        ticker = asyncio.create_task(progress())
        marker = asyncio.create_task(window_marks())
        await asyncio.gather(*(one_client() for _ in range(clients)))
        await marker
        ticker.cancel()
        metrics_end = await metrics_text()

    t_start, t_end = marks["t_start"], marks["t_end"]
    window = [r for r in records if t_start <= r[1] < t_end]
    latencies = sorted((r[1] - r[0]) * 1000 for r in window)
    refused = reserved_units = placed = 0
    errors: dict[str, int] = {}
    error_samples: list[str] = []
    for _, t1, status, content in records:
        if status == 201:
            doc = json.loads(content)
            placed += 1
            reserved_units += sum(c["qty"] for c in doc["reservation"])
            if t_start <= t1 < t_end and doc["status"] == "refused":
                refused += 1
        else:
            errors[str(status)] = errors.get(str(status), 0) + 1
            if len(error_samples) < 5:
                error_samples.append(f"{status}: {content[:300].decode(errors='replace')}")
    return {
        "window_s": t_end - t_start,
        "latencies_ms": latencies,
        "window_statuses": _count(str(r[2]) for r in window),
        "window_refused": refused,
        "requests_sent": len(records),
        "placed_all": placed,
        "client_reserved_units": reserved_units,
        "errors_all": errors,
        "error_samples": error_samples,
        "cpu": cpu_between(marks["cpu_start"], marks["cpu_end"]),
        "metrics_start": marks["metrics_start"],
        "metrics_end": metrics_end,
    }


def _count(items: Iterator[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


# -- checks after a run --------------------------------------------------------------------------------


def retries(metrics_text: str) -> dict[str, float]:
    """``dom_reservation_retries_total`` by reason from a Prometheus text page."""
    out = {}
    for m in re.finditer(r'^dom_reservation_retries_total\{reason="([^"]+)"\} (\S+)$', metrics_text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def database_check(url: str) -> dict[str, Any]:
    """Oversold units straight from the database: stock rows and the movement journal, independently."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT location, sku, on_hand, reserved, safety FROM stock")).all()
            kinds = conn.execute(
                text("SELECT location, sku, kind, SUM(qty) FROM movements GROUP BY location, sku, kind")
            ).all()
            orders = dict(conn.execute(text("SELECT status, COUNT(*) FROM orders GROUP BY status")).all())
            held_docs = conn.execute(text("SELECT held FROM orders WHERE status = 'reserved'")).all()
    finally:
        engine.dispose()
    stored_over = sum(max(0, int(r[3]) - int(r[2])) for r in rows)
    negative = sum(1 for r in rows if int(r[2]) < 0 or int(r[3]) < 0)
    into_safety = sum(max(0, int(r[3]) + int(r[4]) - int(r[2])) for r in rows if int(r[3]) > 0)
    journal: dict[tuple[str, str], dict[str, int]] = {}
    for loc, sku, kind, qty in kinds:
        journal.setdefault((loc, sku), {})[kind] = int(qty)
    journal_over = 0
    for k in journal.values():
        received = k.get("receive", 0) + k.get("restock", 0) + k.get("adjust", 0)
        shipped = k.get("commit", 0)
        reserved = k.get("reserve", 0) - k.get("release", 0) - shipped
        journal_over += max(0, reserved + shipped - received)
    held = 0
    for (doc,) in held_docs:
        cells = json.loads(doc) if isinstance(doc, str) else doc
        held += sum(int(c[2]) for c in cells)
    return {
        "oversold_stock_rows": stored_over,
        "oversold_journal": journal_over,
        "negative_rows": negative,
        "reserved_into_safety_units": into_safety,
        "reserved_units": sum(int(r[3]) for r in rows),
        "held_by_orders_units": held,
        "orders_by_status": {str(k): int(v) for k, v in orders.items()},
        "cells": len(rows),
    }


# -- one configuration -----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, linear between order statistics."""
    if not sorted_values:
        return float("nan")
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def run_config(name: str, args: argparse.Namespace, orders_file: Path, work: Path) -> dict[str, Any]:
    """Start a fresh database and the service, load it, check it, stop everything; the figures."""
    from tests.service.pg import PgServer
    from tests.service.server import READ_KEY, WRITE_KEY, ServiceProcess

    kind, workers = parse_config(name)
    pg: PgServer | None = None
    svc: ServiceProcess | None = None
    client: subprocess.Popen[bytes] | None = None
    run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
    try:
        if kind == "sqlite":
            url = f"sqlite:///{run_dir / 'dom.db'}"
            pg_pid = None
        else:
            _say(f"[{name}] starting a throwaway PostgreSQL server")
            pg = PgServer().start()
            url = pg.create_database("bench")
            pg_pid = int((pg.data / "postmaster.pid").read_text().split()[0])
        extra = ["--log-level", args.log_level] if args.log_level else []
        svc = ServiceProcess(url, args.scenario, workers=workers, extra_args=extra, log_dir=run_dir)
        _say(f"[{name}] starting the service ({workers} worker{'s' * (workers > 1)}) on {svc.base_url}")
        t = time.perf_counter()
        svc.start(timeout=120)
        _say(f"[{name}] healthy after {time.perf_counter() - t:.1f} s; log {svc.log_path}")
        spec = {
            "label": name,
            "base_url": svc.base_url,
            "key": WRITE_KEY,
            "read_key": READ_KEY,
            "http": args.http,
            "orders_file": str(orders_file),
            "prefix": f"{name}-{os.getpid()}",
            "clients": args.clients,
            "warmup": args.warmup,
            "seconds": args.seconds,
            "request_timeout": args.request_timeout,
            "progress_every": args.progress_every,
            "server_pgid": svc.pid,
            "pg_pid": pg_pid,
            "out": str(run_dir / "client.json"),
        }
        spec_path = run_dir / "client-spec.json"
        spec_path.write_text(json.dumps(spec))
        client = subprocess.Popen([sys.executable, __file__, "--client-spec", str(spec_path)], cwd=ROOT)
        limit = args.warmup + args.seconds + args.request_timeout + 60
        try:
            code = client.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"[{name}] the load generator did not finish within {limit:.0f} s") from None
        if code != 0:
            raise RuntimeError(f"[{name}] the load generator failed (exit {code})")
        load = json.loads(Path(spec["out"]).read_text())
        _say(f"[{name}] load done; checking stock (GET /stock/audit and the database)")
        with svc.client(WRITE_KEY) as http:
            response = http.get("/stock/audit", timeout=120)
            response.raise_for_status()
            audit = response.json()
        db = database_check(url)
        if svc.log_tail(400).count('"level": "ERROR"'):
            _say(f"[{name}] the service logged errors: see {svc.log_path}")
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        if svc is not None:
            svc.stop()
        if pg is not None:
            pg.stop()
    return summarise(name, kind, workers, args, load, audit, db)


def summarise(
    name: str,
    kind: str,
    workers: int,
    args: argparse.Namespace,
    load: dict[str, Any],
    audit: dict[str, Any],
    db: dict[str, Any],
) -> dict[str, Any]:
    """One row of figures from the load generator's result and the checks."""
    lat = load["latencies_ms"]
    window = load["window_s"]
    n = len(lat)
    ok = load["window_statuses"].get("201", 0)
    before, after = retries(load["metrics_start"]), retries(load["metrics_end"])
    retried = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(before) | set(after))}
    cpu = load["cpu"]
    oversold = db["oversold_stock_rows"] + db["oversold_journal"]
    return {
        "config": name,
        "database": kind,
        "workers": workers,
        "clients": args.clients,
        "seconds": round(window, 2),
        "orders": ok,
        "orders_per_s": ok / window,
        "p50_ms": percentile(lat, 0.50),
        "p95_ms": percentile(lat, 0.95),
        "p99_ms": percentile(lat, 0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "refused_share": load["window_refused"] / max(1, ok),
        "errors": n - ok,
        "errors_whole_run": sum(load["errors_all"].values()),
        "error_samples": load["error_samples"],
        "retries": sum(retried.values()),
        "retries_by_reason": retried,
        "oversold_units": oversold,
        "audit_ok": bool(audit.get("ok")),
        "audit_mismatches": len(audit.get("mismatches", [])),
        "client_reserved_units": load["client_reserved_units"],
        "db_reserved_units": db["reserved_units"],
        "held_by_orders_units": db["held_by_orders_units"],
        "orders_placed_seen_by_clients": load["placed_all"],
        "orders_in_db": sum(db["orders_by_status"].values()),
        "db": db,
        "cpu_server_cores": cpu["server_s"] / window,
        "cpu_server_by_process_cores": [round(s / window, 3) for s in cpu["server_by_process_s"]],
        "cpu_postgres_cores": cpu["postgres_s"] / window,
        "cpu_client_cores": cpu["client_s"] / window,
        "machine_busy": cpu["machine_busy"],
        "cpu_others_cores": cpu["others_s"] / window,
        "cpu_others_top_cores": [[name, round(v / window, 3)] for name, v in cpu["others_top_s"]],
        "cpu_irq_cores": cpu["irq_s"] / window,
        "cpu_ms_per_order": {
            "server": 1000 * cpu["server_s"] / max(1, n),
            "postgres": 1000 * cpu["postgres_s"] / max(1, n),
            "client": 1000 * cpu["client_s"] / max(1, n),
        },
    }


# -- reporting ---------------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| config | orders | orders/s | p50 ms | p95 ms | p99 ms | refused | errors | lost-race retries "
        "| oversold units | CPU cores: server / PostgreSQL / client / others | machine busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        reasons = ", ".join(f"{k} {v:.0f}" for k, v in r["retries_by_reason"].items() if v)
        lines.append(
            f"| {r['config']} | {r['orders']:,} | {r['orders_per_s']:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {100 * r['refused_share']:.1f}% | {r['errors']} | "
            f"{r['retries']:.0f}{f' ({reasons})' if reasons else ''} | {r['oversold_units']} | "
            f"{r['cpu_server_cores']:.2f} / {r['cpu_postgres_cores']:.2f} / {r['cpu_client_cores']:.2f} / "
            f"{r['cpu_others_cores']:.2f} | "
            f"{100 * r['machine_busy']:.0f}% |"
        )
    return "\n".join(lines)


def consistency_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Per run: the checks behind the oversold column, and anything that does not add up."""
    notes = []
    for r in rows:
        db = r["db"]
        agree = r["client_reserved_units"] == r["db_reserved_units"] == r["held_by_orders_units"]
        notes.append(
            f"{r['config']}: audit {'ok' if r['audit_ok'] else 'MISMATCHES ' + str(r['audit_mismatches'])}; "
            f"oversold {db['oversold_stock_rows']} (stock rows) + {db['oversold_journal']} (journal); "
            f"units reserved: clients saw {r['client_reserved_units']:,}, stock rows "
            f"{r['db_reserved_units']:,}, orders hold {r['held_by_orders_units']:,}"
            f"{'' if agree else ' (DIFFER)'}; orders answered 201 {r['orders_placed_seen_by_clients']:,}, "
            f"in the database {r['orders_in_db']:,}; errors over the whole run {r['errors_whole_run']}; "
            f"server CPU by process {r['cpu_server_by_process_cores']}; CPU ms/order "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_order"].items())
        )
        notes.extend(f"  error sample: {s}" for s in r["error_samples"])
        if r["cpu_others_cores"] > DISTURBED_CORES:
            notes.append(
                f"  WARNING: {r['cpu_others_cores']:.2f} cores went to other work during the "
                f"measured window: {r['config']}'s figures are low (rerun with --quiet-wait 600)"
            )
        if r["cpu_others_top_cores"] or r["cpu_irq_cores"] >= 0.05:
            top = ", ".join(f"{name} {v:.2f}" for name, v in r["cpu_others_top_cores"])
            notes.append(f"  other CPU (cores): interrupts/softirq {r['cpu_irq_cores']:.2f}; {top}")
    return notes


def goal_line(rows: list[dict[str, Any]]) -> str:
    """Whether the issue's goal is met (PostgreSQL with 4 workers) and nothing was oversold anywhere."""
    parts = []
    for r in rows:
        if r["config"] == GOAL["config"]:
            met = r["orders_per_s"] >= GOAL["orders_per_s"] and r["p99_ms"] < GOAL["p99_ms"]
            parts.append(
                f"goal {GOAL['config']} >= {GOAL['orders_per_s']:.0f} orders/s with p99 < "
                f"{GOAL['p99_ms']:.0f} ms: {'MET' if met else 'NOT MET'} "
                f"({r['orders_per_s']:.0f} orders/s, p99 {r['p99_ms']:.1f} ms)"
            )
    oversold = sum(r["oversold_units"] for r in rows)
    parts.append(f"oversold units in every run: {'0' if not oversold else f'{oversold} (FAIL)'}")
    return "; ".join(parts)


def write_out(rows: list[dict[str, Any]], out: Path, meta: dict[str, Any]) -> None:
    """JSON (everything) or CSV (the table's figures) by the file's suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        keys = [
            "config", "database", "workers", "clients", "seconds", "orders", "orders_per_s", "p50_ms",
            "p95_ms", "p99_ms", "max_ms", "refused_share", "errors", "retries", "oversold_units",
            "audit_ok", "cpu_server_cores", "cpu_postgres_cores", "cpu_client_cores", "cpu_others_cores",
            "machine_busy",
        ]  # fmt: skip
        with out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    else:
        out.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1, default=str))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _engine_kind() -> str:
    from dom_core.compiled import active

    return "compiled" if active() else "pure Python"


# -- profile mode: the application in this process ------------------------------------------------------


class Timer:
    """Wall and CPU (this thread's) time and calls accumulated per part; wrappers can be taken off."""

    def __init__(self) -> None:
        self.parts: dict[str, list[float]] = {}
        self.undo: list[tuple[Any, str, Any]] = []

    def add(self, part: str, wall: float, cpu: float = 0.0) -> None:
        entry = self.parts.setdefault(part, [0.0, 0.0, 0])
        entry[0] += wall
        entry[1] += cpu
        entry[2] += 1

    def wrap(self, owner: Any, attr: str, part: str) -> None:
        """Time every call of ``owner.attr`` as ``part`` (monkeypatched on the object or module)."""
        original = getattr(owner, attr)
        had_own = attr in vars(owner)

        def timed(*a: Any, **kw: Any) -> Any:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(*a, **kw)
            finally:
                self.add(part, time.perf_counter() - t0, time.thread_time() - c0)

        setattr(owner, attr, timed)
        self.undo.append((owner, attr, original if had_own else None))

    def restore(self) -> None:
        """Take every wrapper off."""
        for owner, attr, original in reversed(self.undo):
            if original is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
        self.undo.clear()

    def ms(self, part: str, n: int, cpu: bool = False) -> float:
        entry = self.parts.get(part, [0.0, 0.0, 0])
        return 1e3 * entry[1 if cpu else 0] / n


@contextlib.contextmanager
def profile_database(kind: str) -> Iterator[str]:
    """A fresh database URL of ``kind`` (a throwaway server for PostgreSQL), removed at the end."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dom-profile-") as d:
            yield f"sqlite:///{d}/dom.db"
        return
    from tests.service.pg import PgServer

    with PgServer() as pg:
        yield pg.create_database("profile")


LIBRARIES = (
    "sqlalchemy", "psycopg", "fastapi", "starlette", "pydantic", "anyio", "prometheus_client",
    "pythonjsonlogger", "numpy", "asyncio", "logging", "json", "dom_core", "service", "sim",
)  # fmt: skip


def library_of(filename: str) -> str:
    """Which library a profiled function belongs to (C built-ins: ``C built-ins``)."""
    if filename == "~":
        return "C built-ins (socket waits, json/hash C code, ...)"
    parts = Path(filename).parts
    for name in LIBRARIES:
        if name in parts:
            return name
    return "other Python"


def print_summary(timer: Timer, n: int, wall: float, cpu: float) -> None:
    """The parts table and a summary by layer (wall = CPU + waiting for the database)."""
    print(f"\n{n:,} orders one at a time: {1e3 * wall / n:.2f} ms wall, {1e3 * cpu / n:.2f} ms CPU of this "
          f"process per order ({n / wall:,.0f} orders/s)\n")  # fmt: skip
    print(
        f"{'part (nested parts are included in their callers)':60s} "
        f"{'wall ms':>8s} {'CPU ms':>8s} {'calls':>6s}"
    )
    for part, (w, c, calls) in sorted(timer.parts.items(), key=lambda kv: -kv[1][0]):
        print(f"{part:60s} {1e3 * w / n:8.3f} {1e3 * c / n:8.3f} {calls / n:6.2f}")
    sql_parts = [p for p in timer.parts if p.startswith("sql:") and p not in (COMMIT, PING)]
    driver = [p for p in timer.parts if p.startswith("driver execute")]
    rows = []
    for label, parts in (
        ("HTTP layer outside placing.place (ASGI, FastAPI, pydantic, auth, response, log)", None),
        ("engine decide (SourcingEngine.decide + snapshot -> ledger)", [DECIDE]),
        ("SQL statements: psycopg execute incl. waiting for the server", driver),
        ("SQL statements: SQLAlchemy build/compile/bind/results around them", "sa"),
        ("COMMIT (waits for the WAL flush)", [COMMIT]),
        ("pool checkout (pre-ping round trip)", [CHECKOUT]),
        ("serialisation in place (decision/explanation JSON, model_dump, hash)", SERIAL),
    ):
        if parts is None:
            w = timer.ms(REQUEST, n) - timer.ms(PLACE, n)
            c = timer.ms(REQUEST, n, True) - timer.ms(PLACE, n, True)
        elif parts == "sa":
            w = sum(timer.ms(p, n) for p in sql_parts) - sum(timer.ms(p, n) for p in driver)
            c = sum(timer.ms(p, n, True) for p in sql_parts) - sum(timer.ms(p, n, True) for p in driver)
        else:
            w, c = sum(timer.ms(p, n) for p in parts), sum(timer.ms(p, n, True) for p in parts)
        rows.append((label, w, c))
    accounted_w = sum(r[1] for r in rows)
    accounted_c = sum(r[2] for r in rows)
    rows.append(("rest of placing.place (transaction, metrics, row building)",
                 timer.ms(REQUEST, n) - accounted_w, timer.ms(REQUEST, n, True) - accounted_c))  # fmt: skip
    print(f"\n{'summary by layer':84s} {'wall ms':>8s} {'CPU ms':>8s}")
    for label, w, c in rows:
        print(f"{label:84s} {w:8.3f} {c:8.3f}")
    print(f"{'whole request':84s} {timer.ms(REQUEST, n):8.3f} {timer.ms(REQUEST, n, True):8.3f}")


REQUEST = "request (whole ASGI app in this thread)"
PLACE = "placing.place (transaction, retries, metrics)"
DECIDE = "engine decide (incl. snapshot -> ledger)"
COMMIT = "sql: COMMIT (WAL flush)"
PING = "sql: pool pre-ping"
CHECKOUT = "pool checkout (incl. pre-ping, reset)"
SERIAL = [
    "decision_json",
    "explanation_json (+ as_text)",
    "order_document (model_dump)",
    "request_hash (json.dumps + sha256)",
    "order_from_json",
]


def profile_main(args: argparse.Namespace) -> None:
    """Orders one at a time through the ASGI app in this thread: timed by parts, then under cProfile."""
    import cProfile
    import io
    import pstats

    import fastapi.dependencies.utils
    import fastapi.routing
    from sqlalchemy import event

    kind, _ = parse_config(args.profile)

    async def inline(func: Any, *a: Any, **kw: Any) -> Any:  # FastAPI's thread pool, bypassed
        return func(*a, **kw)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[assignment]

    from service import bootstrap, migrate, placing, writes
    from service.api import create_app
    from service.context import Service
    from service.db import orders as orders_db
    from service.db import stock as stock_db
    from service.db.connect import open_database
    from service.logs import configure_logging
    from service.security import ApiKeys
    from service.settings import Settings
    from tests.service.server import API_KEYS, WRITE_KEY

    bodies = order_bodies(args.scenario, 0)
    n = args.profile_orders
    _say(f"[profile {args.profile}] {n:,} timed orders, then {n:,} under cProfile; engine: {_engine_kind()}")
    with profile_database(kind) as url:
        migrate.upgrade(url)
        db = open_database(url)
        _, epoch, _ = bootstrap.prepare(db, args.scenario)
        svc = Service(db, epoch)
        settings = Settings(url, ApiKeys.parse(API_KEYS, "bench").to_env(), expiry_interval_s=0)
        stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115 - request log lines, dropped
        try:
            configure_logging("INFO")
        finally:
            sys.stderr = stderr
        app = create_app(settings, svc)
        timer = Timer()

        async def call(body: bytes) -> tuple[int, bytes]:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/orders",
                "raw_path": b"/orders",
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-api-key", WRITE_KEY.encode()),
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            sent = False
            out: dict[str, Any] = {"status": 0, "body": b""}

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    out["status"] = message["status"]
                elif message["type"] == "http.response.body":
                    out["body"] += message.get("body", b"")

            await app(scope, receive, send)
            return out["status"], out["body"]

        def payload(k: int) -> bytes:
            return json.dumps({"id": f"P{k}", **bodies[k % len(bodies)]}).encode()

        async def run(first: int, count: int, profiler: Any = None) -> tuple[float, float]:
            async with app.router.lifespan_context(app):
                for k in range(first, first + 50):  # warm: rule set built, pools filled
                    await call(payload(k))
                timer.parts.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                for k in range(first + 50, first + 50 + count):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    status, _ = await call(payload(k))
                    timer.add(REQUEST, time.perf_counter() - t0, time.thread_time() - c0)
                    if status != 201:
                        raise RuntimeError(f"order P{k}: HTTP {status}")
                if profiler is not None:
                    profiler.disable()
                return time.perf_counter() - wall, time.process_time() - cpu

        # pass 1: timed by parts (wrappers on the service's functions and SQLAlchemy's cursor events)
        timer.wrap(placing, "_decide", DECIDE)
        timer.wrap(placing, "ledger_of", "  of which: snapshot rows -> scratch ledger")
        timer.wrap(placing, "place", PLACE)
        timer.wrap(placing, "decision_json", SERIAL[0])
        timer.wrap(placing, "explanation_json", SERIAL[1])
        timer.wrap(placing, "order_document", SERIAL[2])
        timer.wrap(writes, "request_hash", SERIAL[3])
        timer.wrap(placing, "order_from_json", SERIAL[4])
        timer.wrap(stock_db, "snapshot", "sql: stock snapshot")
        timer.wrap(stock_db, "reserve", "sql: conditional reserve UPDATEs")
        timer.wrap(stock_db, "journal", "sql: journal INSERT")
        timer.wrap(orders_db, "insert", "sql: orders INSERT (JSON columns)")
        timer.wrap(orders_db, "exists", "sql: order exists?")
        timer.wrap(Service, "rule_sets", "sql: rules state")
        timer.wrap(db.write.dialect, "do_commit", COMMIT)
        timer.wrap(db.write.dialect, "do_ping", PING)
        timer.wrap(db.write.pool, "connect", CHECKOUT)
        started: dict[int, tuple[float, float]] = {}

        def before(conn: Any, cursor: Any, *rest: Any) -> None:
            started[id(cursor)] = (time.perf_counter(), time.thread_time())

        def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            t0, c0 = started.pop(id(cursor))
            verb = statement.split(None, 1)[0].upper()
            timer.add(f"driver execute: {verb}", time.perf_counter() - t0, time.thread_time() - c0)

        event.listen(db.write, "before_cursor_execute", before)
        event.listen(db.write, "after_cursor_execute", after)
        wall, cpu = asyncio.run(run(0, n))
        print(f"[profile {args.profile}] engine {_engine_kind()}; {db.dialect}")
        print_summary(timer, n, wall, cpu)
        event.remove(db.write, "before_cursor_execute", before)
        event.remove(db.write, "after_cursor_execute", after)
        timer.restore()

        # pass 2: cProfile, on this process's CPU time (--profile-clock wall: waits count too)
        profiler = cProfile.Profile(time.process_time) if args.profile_clock == "cpu" else cProfile.Profile()
        wall, cpu = asyncio.run(run(10 * n, n, profiler))
        print(
            f"\n[cProfile] {1e3 * wall / n:.2f} ms wall, {1e3 * cpu / n:.2f} ms CPU per order "
            "under the profiler"
        )
        stats = pstats.Stats(profiler)
        by_library: dict[str, float] = {}
        for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            lib = library_of(filename)
            by_library[lib] = by_library.get(lib, 0.0) + tottime
        print(
            f"\n{f'own {args.profile_clock} time by library (cProfile tottime)':56s} "
            f"{'ms/order':>9s} {'share':>6s}"
        )
        total = sum(by_library.values())
        for lib, t in sorted(by_library.items(), key=lambda kv: -kv[1]):
            print(f"{lib:56s} {1e3 * t / n:9.3f} {100 * t / total:5.1f}%")
        for order_by in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order_by).print_stats(
                args.profile_top
            )
            print(f"\n--- top {args.profile_top} by {order_by} ---")
            print("   ncalls" + text.getvalue().split("ncalls", 1)[-1].rstrip())
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
            print(f"\nprofile written to {args.profile_out} (python -m pstats)")
        db.dispose()


# -- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    """Run every configuration in turn and print (and write) the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--configs", default="sqlite1,pg1,pg4", help="sqliteN / pgN: database and workers")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="network and demand")
    parser.add_argument("--replication", type=int, default=0, help="which demand stream of the scenario")
    parser.add_argument("--log-level", default=None, help="the service's --log-level (default: its own)")
    parser.add_argument(
        "--http",
        choices=["raw", "httpx"],
        default="raw",
        help="client: a minimal asyncio HTTP/1.1 client (default, least CPU) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.3,
        help="before each configuration wait (see --quiet-wait) until other work uses fewer cores",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=0.0, help="seconds to wait for a quiet machine (0: do not)"
    )
    parser.add_argument(
        "--rerun-disturbed",
        type=int,
        default=0,
        help="run a configuration again (up to N times) when other work took CPU during its window",
    )
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--progress-every", type=float, default=2.0, help="seconds between progress lines")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "service.json",
                        help="results file: .json (everything) or .csv (the table)")  # fmt: skip
    parser.add_argument(
        "--profile", metavar="CONFIG", help="profile CONFIG's database in this process instead"
    )
    parser.add_argument("--profile-orders", type=int, default=2000, help="orders per profile pass")
    parser.add_argument("--profile-top", type=int, default=30, help="functions listed per profile table")
    parser.add_argument(
        "--profile-clock", choices=["cpu", "wall"], default="cpu", help="cProfile's clock (cpu: process time)"
    )
    parser.add_argument("--profile-out", type=Path, help="write the cProfile stats here")
    parser.add_argument("--client-spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_spec:
        client_main(args.client_spec)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: servers stopped
    if args.profile:
        profile_main(args)
        return
    if args.seconds <= 0 or args.warmup < 0 or args.clients < 1:
        raise SystemExit("--seconds must be > 0, --warmup >= 0 and --clients >= 1")
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        parse_config(c)
    _say(f"orders: {args.scenario.name} replication {args.replication} demand stream")
    bodies = order_bodies(args.scenario, args.replication)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dom-bench-service-") as work:
        orders_file = Path(work) / "orders.json"
        orders_file.write_text(json.dumps(bodies))
        _say(f"{len(bodies):,} orders; {args.clients} clients; warm-up {args.warmup:g} s, "
             f"measured {args.seconds:g} s per configuration: {', '.join(configs)}")  # fmt: skip
        for name in configs:
            best: dict[str, Any] | None = None
            for attempt in range(1 + args.rerun_disturbed):
                load = wait_quiet(args.quiet_below, args.quiet_wait, name)
                _say(f"[{name}] machine load before the run: {load:.2f} cores")
                row = run_config(name, args, orders_file, Path(work))
                row["load_before_cores"], row["attempt"] = load, attempt + 1
                if best is None or row["cpu_others_cores"] < best["cpu_others_cores"]:
                    best = row
                if row["cpu_others_cores"] <= DISTURBED_CORES:
                    break
                _say(f"[{name}] {row['cpu_others_cores']:.2f} cores of other work during the window")
            assert best is not None
            rows.append(best)
            r = rows[-1]
            _say(f"[{name}] {r['orders']:,} orders, {r['orders_per_s']:,.0f}/s, p50 {r['p50_ms']:.1f} ms, "
                 f"p99 {r['p99_ms']:.1f} ms, oversold {r['oversold_units']}")  # fmt: skip
    meta = {
        "started": started,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": CPUS,
        "engine": _engine_kind(),
        "scenario": str(args.scenario),
        "clients": args.clients,
        "http_client": args.http,
        "warmup_s": args.warmup,
        "seconds": args.seconds,
    }
    print(f"\nservice benchmark {started}: {args.clients} clients, {args.seconds:g} s measured after "
          f"{args.warmup:g} s warm-up, {CPUS} CPUs, engine {meta['engine']}\n")  # fmt: skip
    print(table(rows))
    print()
    for note in consistency_notes(rows):
        print(note)
    print(goal_line(rows))
    write_out(rows, args.out, meta)
    print(f"wrote {args.out}")
    if any(r["oversold_units"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
