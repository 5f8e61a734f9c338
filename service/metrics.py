"""Prometheus metrics of the service, correct under several uvicorn worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before ``prometheus_client`` is first imported, so in the parent
process before the workers start) every process writes its values to files in that directory and
``render()`` sums them; the parent should empty the directory at start (``clear_multiprocess_dir``).
Without it the metrics live in this process's default registry. No Gauges: they would need a
multiprocess mode.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_TRANSACTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ORDERS_PLACED = Counter(
    "dom_orders_placed_total",
    "Orders placed, by market, channel and outcome (status: reserved or refused).",
    ["market", "channel", "status"],
)
"""Orders placed; ``status`` is ``reserved`` or ``refused``."""

ORDERS_REFUSED = Counter(
    "dom_orders_refused_total", "Orders refused (no feasible sourcing plan).", ["market", "channel"]
)
"""Orders refused, by market and channel."""

DECISION_LATENCY = Histogram(
    "dom_decision_latency_seconds", "Time the engine takes to decide one order.", buckets=_FAST_BUCKETS
)
"""Seconds the sourcing engine spends on one decision (0.5 ms to 1 s buckets)."""

PLACE_LATENCY = Histogram(
    "dom_place_order_seconds",
    "Time to place one order: the whole transaction, retries included.",
    buckets=_TRANSACTION_BUCKETS,
)
"""Seconds for the whole placing transaction, retries included."""

RESERVATION_RETRIES = Counter(
    "dom_reservation_retries_total",
    "Placing transactions retried, by reason (lost_race, serialization, deadlock).",
    ["reason"],
)
"""Placing retries; ``reason`` is ``lost_race``, ``serialization`` or ``deadlock``."""
for _reason in ("lost_race", "serialization", "deadlock"):  # listed at 0 before the first retry
    RESERVATION_RETRIES.labels(reason=_reason)

REQUESTS = Counter(
    "dom_http_requests_total",
    "HTTP requests, by method, route template and status.",
    ["method", "route", "status"],
)
"""HTTP requests served, labelled by the route's path template (not the raw path)."""


def multiprocess_dir() -> Path | None:
    """The directory shared by worker processes, when ``PROMETHEUS_MULTIPROC_DIR`` is set."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def clear_multiprocess_dir() -> None:
    """Create the multiprocess directory or delete its old value files; call in the parent at start."""
    directory = multiprocess_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def render() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format and its content type, summed over all workers."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
