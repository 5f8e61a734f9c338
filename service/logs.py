"""Structured logs: one JSON object a line on stderr, and one line (and one metric) per HTTP request.

Call ``configure_logging`` in every worker process (from the app factory or lifespan), and run uvicorn
with ``log_config=None`` so that it does not replace these handlers; its access log is turned off, since
``RequestLogMiddleware`` logs each request with its duration and request id.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics

REQUEST_LOGGER = "dom.http"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_UNMATCHED = "<unmatched>"  # one label for every path no route matched: scanners cannot grow the metric


def json_formatter() -> JsonFormatter:
    """A formatter writing ``time`` (ISO, UTC), ``level``, ``logger``, ``message`` and any extras."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of the message with ANSI colours
    )


def configure_logging(level: str = "INFO") -> None:
    """Send the ``dom`` and ``uvicorn`` loggers to stderr as JSON lines; turn uvicorn's access log off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    for name in ("dom", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [] if name == "uvicorn.error" else [handler]  # uvicorn.error reaches uvicorn's
        logger.setLevel(level.upper())
        logger.propagate = name == "uvicorn.error"
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True


def _request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a plain token, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Pure ASGI middleware: logs one JSON line per request, counts it, sets ``X-Request-ID``.

    The line carries method, path, route, status, duration_ms, request_id and client; handlers find the
    id in ``request.state.request_id``. The metric ``dom_http_requests_total`` is labelled by the
    route's path template (``/orders/{order_id}``), so it stays small.
    """

    def __init__(self, app: ASGIApp, logger_name: str = REQUEST_LOGGER) -> None:
        self.app = app
        self.logger = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request through the wrapped app, then log and count it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 3)
            route = getattr(scope.get("route"), "path", None) or _UNMATCHED
            method = scope["method"]
            metrics.REQUESTS.labels(method, route, str(status)).inc()
            client = scope.get("client")
            self.logger.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %d",
                method,
                scope["path"],
                status,
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "request_id": request_id,
                    "client": f"{client[0]}:{client[1]}" if client else None,
                },
            )
