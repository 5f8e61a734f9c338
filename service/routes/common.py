"""What every router needs: the service, the idempotency key and JSON responses with a status."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from service.context import Service
from service.security import Role, require
from service.writes import Written

WRITE = [Depends(require(Role.WRITE))]
READ = [Depends(require(Role.READ))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", description="the same key and body return the first result, changing nothing"
    ),
]


def service(request: Request) -> Service:
    """The running service."""
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service)]


def answer(result: Written) -> JSONResponse:
    """A write's answer as a response."""
    return JSONResponse(result.body, status_code=result.status)
