"""Metrics (one process and several), JSON request logs, and the request body size limit."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.limits import BodySizeLimit
from service.logs import REQUEST_LOGGER, RequestLogMiddleware, configure_logging, json_formatter

REPO_ROOT = Path(__file__).resolve().parents[2]
METRIC_NAMES = [
    "dom_orders_placed_total",
    "dom_orders_refused_total",
    "dom_decision_latency_seconds",
    "dom_place_order_seconds",
    "dom_reservation_retries_total",
    "dom_http_requests_total",
]


def sample(name: str, **labels: str) -> float:
    """A metric's current value in this process (0 before its first use)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_render_lists_every_metric_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    labels = {"market": "DE", "channel": "web", "status": "reserved"}
    before = sample("dom_orders_placed_total", **labels)
    metrics.ORDERS_PLACED.labels(**labels).inc()
    metrics.DECISION_LATENCY.observe(0.002)
    metrics.RESERVATION_RETRIES.labels("lost_race").inc()
    assert sample("dom_orders_placed_total", **labels) == before + 1
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    text = body.decode()
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_total')}" in text
    assert 'dom_orders_placed_total{channel="web",market="DE",status="reserved"}' in text
    assert 'dom_decision_latency_seconds_bucket{le="0.0005"}' in text


WORKER = """
from service import metrics
metrics.ORDERS_PLACED.labels("DE", "web", "reserved").inc({n})
metrics.PLACE_LATENCY.observe(0.01)
"""
RENDER = """
import sys
from service import metrics
body, content_type = metrics.render()
sys.stdout.write(content_type + "\\n" + body.decode())
"""


def run_python(code: str, multiproc_dir: Path) -> str:
    """Run code in a fresh interpreter with PROMETHEUS_MULTIPROC_DIR set before any import."""
    env = {**os.environ, metrics.MULTIPROC_ENV: str(multiproc_dir), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multiprocess_render_sums_the_workers(tmp_path: Path) -> None:
    run_python(WORKER.format(n=2), tmp_path)
    run_python(WORKER.format(n=3), tmp_path)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # each worker wrote its own files
    out = run_python(RENDER, tmp_path)
    assert out.startswith("text/plain")
    assert 'dom_orders_placed_total{channel="web",market="DE",status="reserved"} 5.0' in out
    assert "dom_place_order_seconds_count 2.0" in out
    assert "process_cpu_seconds_total" not in out  # a fresh registry: only the aggregated files
    run_python("from service import metrics; metrics.clear_multiprocess_dir()", tmp_path)
    assert not list(tmp_path.glob("*.db"))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The request logger's output as JSON lines, whatever the global logging state."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger(REQUEST_LOGGER)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)
    logger.level, logger.propagate = saved


def logged_app() -> TestClient:
    app = FastAPI()
    app.add_middleware(RequestLogMiddleware)

    @app.get("/orders/{order_id}")
    def get_order(order_id: int, request: Request) -> dict[str, object]:
        return {"order_id": order_id, "request_id": request.state.request_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return TestClient(app, raise_server_exceptions=False)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_request_log_line_metric_and_request_id(log_lines: io.StringIO) -> None:
    client = logged_app()
    counted = {"method": "GET", "route": "/orders/{order_id}", "status": "200"}
    before = sample("dom_http_requests_total", **counted)
    response = client.get("/orders/42", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json() == {"order_id": 42, "request_id": "abc-123"}
    (line,) = records(log_lines)
    assert line["level"] == "INFO" and line["logger"] == REQUEST_LOGGER and "time" in line
    assert (line["method"], line["path"], line["route"]) == ("GET", "/orders/42", "/orders/{order_id}")
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "abc-123" and line["client"]
    assert line["message"] == "GET /orders/42 200"
    assert sample("dom_http_requests_total", **counted) == before + 1


def test_request_log_generates_ids_and_logs_failures(log_lines: io.StringIO) -> None:
    client = logged_app()
    bad_id = "bad id\twith spaces"
    generated = client.get("/orders/1", headers={"X-Request-ID": bad_id}).headers["X-Request-ID"]
    assert len(generated) == 32 and generated != bad_id
    assert client.get("/boom").status_code == 500
    before = sample("dom_http_requests_total", method="GET", route="<unmatched>", status="404")
    assert client.get("/no/such/path").status_code == 404
    ok, failed, missing = records(log_lines)
    assert ok["request_id"] == generated
    assert (failed["status"], failed["level"], failed["route"]) == (500, "ERROR", "/boom")
    assert (missing["status"], missing["route"]) == (404, "<unmatched>")
    assert sample("dom_http_requests_total", method="GET", route="<unmatched>", status="404") == before + 1


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo ``configure_logging`` after the test: handlers, levels, propagation."""
    loggers = [logging.getLogger(name) for name in ("dom", "uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    yield
    for lg, (handlers, level, propagate, disabled) in zip(loggers, saved, strict=True):
        lg.handlers, lg.propagate, lg.disabled = handlers, propagate, disabled
        lg.setLevel(level)  # also clears the cached levels of child loggers


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug")
    logging.getLogger("dom.placing").debug("placed", extra={"order_id": "o-1", "lines": 2})
    logging.getLogger("uvicorn.error").info("started", extra={"color_message": "\x1b[36mstarted\x1b[0m"})
    logging.getLogger("uvicorn.access").info("GET / 200")  # off: the middleware logs requests
    placed, started = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert placed["level"] == "DEBUG" and placed["logger"] == "dom.placing" and placed["message"] == "placed"
    assert (placed["order_id"], placed["lines"]) == ("o-1", 2)
    assert placed["time"].endswith("+00:00")
    assert started["logger"] == "uvicorn.error" and started["message"] == "started"
    assert "color_message" not in started


class Item(BaseModel):
    name: str


def limited_app() -> TestClient:
    app = FastAPI()
    app.add_middleware(BodySizeLimit, max_bytes=100)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/items")
    def items(item: Item) -> Item:
        return item

    return TestClient(app)


def chunks(total: int, size: int = 30) -> Iterator[bytes]:
    """A chunked body (no Content-Length) of ``total`` bytes."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def assert_413(response: object, size: str) -> None:
    assert response.status_code == 413  # type: ignore[attr-defined]
    (error,) = response.json()["detail"]  # type: ignore[attr-defined]
    assert error["loc"] == ["body"] and error["type"] == "body_too_large"
    assert error["msg"] == f"request body is {size} bytes, over the limit of 100 bytes"


def test_body_limit_passes_small_bodies() -> None:
    client = limited_app()
    assert client.post("/raw", content=b"x" * 100).json() == {"size": 100}
    assert client.post("/raw", content=chunks(90)).json() == {"size": 90}
    assert client.post("/items", json={"name": "sku-1"}).json() == {"name": "sku-1"}


def test_body_limit_refuses_a_large_content_length() -> None:
    client = limited_app()
    assert_413(client.post("/raw", content=b"x" * 101), "101")
    assert_413(client.post("/items", json={"name": "n" * 200}), "211")  # {"name":"nnn..."}


async def stream_to(app: ASGIApp, parts: list[bytes], path: str = "/raw") -> tuple[int, bytes, int]:
    """Send a body in several ``http.request`` messages, as a chunked upload arrives.

    Returns the response status and body, and how many parts the app read.
    """
    pending = list(parts)
    sent: list[Message] = []

    async def receive() -> Message:
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], body, len(parts) - len(pending)


def assert_streamed_413(result: tuple[int, bytes, int], size: int, parts_read: int) -> None:
    status, body, read = result
    assert status == 413
    (error,) = json.loads(body)["detail"]
    assert error == {
        "loc": ["body"],
        "msg": f"request body is at least {size} bytes, over the limit of 100 bytes",
        "type": "body_too_large",
    }
    assert read == parts_read  # stopped reading as soon as the body passed the limit


def test_body_limit_refuses_a_large_chunked_body() -> None:
    app = limited_app().app
    parts = [b"x" * 30] * 10
    assert_streamed_413(asyncio.run(stream_to(app, parts)), 120, 4)
    assert_streamed_413(asyncio.run(stream_to(app, parts, "/items")), 120, 4)  # not FastAPI's 400
    assert asyncio.run(stream_to(app, [b"x" * 30] * 3))[:2] == (200, b'{"size":90}')
    response = limited_app().post("/raw", content=chunks(300))  # through httpx: chunked, no Content-Length
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_body_limit_answers_for_a_bare_asgi_app() -> None:
    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodySizeLimit(reader, max_bytes=100)
    assert asyncio.run(stream_to(limited, [b"x" * 50] * 2))[0] == 204
    assert_streamed_413(asyncio.run(stream_to(limited, [b"x" * 50] * 5)), 150, 3)
    with pytest.raises(ValueError, match="max_bytes"):
        BodySizeLimit(reader, max_bytes=-1)
