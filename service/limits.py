"""A request body size limit: 413 for a declared Content-Length over it, or a streamed body growing past it.

Add it outside the app's other middleware: ``app.add_middleware(BodySizeLimit, max_bytes=1_000_000)``.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_detail(size: int, max_bytes: int, *, at_least: bool = False) -> list[dict[str, object]]:
    """The 413 ``detail``: a validation-style error located at the body."""
    amount = f"at least {size}" if at_least else str(size)
    return [
        {
            "loc": ["body"],
            "msg": f"request body is {amount} bytes, over the limit of {max_bytes} bytes",
            "type": "body_too_large",
        }
    ]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; FastAPI lets it through as a 413."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(size, max_bytes, at_least=True))


async def _send_413(send: Send, detail: object) -> None:
    """Send a complete 413 JSON response."""
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    """The declared Content-Length, or None when absent or not a number (the server vets it)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimit:
    """Pure ASGI middleware refusing request bodies over ``max_bytes`` with a 413 JSON error."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be 0 or more, not {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse at once on Content-Length; otherwise count the body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, too_large_detail(declared, self.max_bytes))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(received, self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as error:  # reaches here when no exception handler inside turned it to a 413
            if started:
                raise
            await _send_413(send, error.detail)
