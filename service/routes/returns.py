"""Returns: decide (location, disposition, refund), read, and receive (restock per disposition)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from service import returning
from service.db.tables import returns
from service.routes.common import READ, WRITE, IdempotencyKey, Svc, answer
from service.schemas import ReturnIn
from service.writes import ApiError

router = APIRouter(prefix="/returns", tags=["returns"])


@router.post("", status_code=201, dependencies=WRITE)
def create(body: ReturnIn, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """A customer returns shipped units: where they go, their disposition and the refund."""
    return answer(returning.create(svc, body, key))


@router.get("/{return_id:path}/receive", include_in_schema=False)
def _no_get_receive(return_id: str) -> None:
    raise ApiError(405, "method", "POST to receive a return")


@router.post("/{return_id:path}/receive", dependencies=WRITE)
def receive(return_id: str, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """The returned units arrived: restocked when their disposition is restock."""
    return answer(returning.receive(svc, return_id, key))


@router.get("/{return_id:path}", dependencies=READ)
def get(return_id: str, svc: Svc) -> dict[str, Any]:
    """One return."""
    with svc.read() as conn:
        row = conn.execute(select(returns).where(returns.c.id == return_id)).mappings().first()
    if row is None:
        raise ApiError(404, "return_id", f"no return {return_id!r}", "not_found", "path")
    return returning.return_view(dict(row))
