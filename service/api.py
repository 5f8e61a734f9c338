"""The FastAPI application: routers, API keys, body limit, request logs, errors as 4xx naming the field,
health and metrics, and the sweep that releases reservations not confirmed in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dom_core.errors import DomError
from service import metrics, settling
from service.clock import DEFAULT_EPOCH
from service.context import Service
from service.db import rules as rules_db
from service.db.connect import open_database
from service.limits import BodySizeLimit
from service.logs import RequestLogMiddleware, configure_logging
from service.routes import orders, returns, rules, shadow, stock
from service.security import ApiKeys, Role, require
from service.settings import Settings
from service.writes import ApiError

log = logging.getLogger("dom.service")


def _open(settings: Settings) -> Service:
    db = open_database(settings.db_url, settings.pool_size)
    with db.read.connect() as conn:
        stored = rules_db.get_meta(conn, "epoch")
    epoch = datetime.fromisoformat(stored) if stored else DEFAULT_EPOCH
    return Service(db, epoch, settings.reservation_ttl)


async def _expiry_loop(svc: Service, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            swept = await run_in_threadpool(settling.expire, svc)
            if swept.body["expired"]:
                log.info("reservations expired", extra={"orders": len(swept.body["expired"])})
        except Exception:  # the sweep must outlive a failed round (say, the database restarting)
            log.exception("reservation expiry sweep failed")


def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    """The application for ``settings`` (a ready ``service`` may be given, as tests do)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or _open(settings)
        app.state.service = svc
        with contextlib.suppress(ApiError):  # build the live rules now, not on the first order
            await run_in_threadpool(svc.live)
        sweep = (
            asyncio.create_task(_expiry_loop(svc, settings.expiry_interval_s))
            if settings.expiry_interval_s > 0
            else None
        )
        try:
            yield
        finally:
            if sweep is not None:
                sweep.cancel()
            if service is None:
                svc.db.dispose()

    app = FastAPI(
        title="DOM Workbench order-sourcing service",
        description="The dom_core sourcing engine on a database: orders, stock, returns, rules, shadow mode.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.api_keys = ApiKeys.load(settings.api_keys or None, None)
    for router in (orders.router, stock.router, rules.router, returns.router, shadow.router):
        app.include_router(router)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(DomError)
    async def _dom_error(_request: Request, exc: DomError) -> JSONResponse:
        return JSONResponse(ApiError(422, exc.field, exc.problem).body(), status_code=422)

    @app.get("/health", tags=["operations"])
    def health(request: Request) -> dict[str, Any]:
        """Liveness and the live rules version (no key needed)."""
        svc: Service = request.app.state.service
        with svc.read() as conn:
            state = rules_db.state(conn)
        return {
            "status": "ok",
            "database": svc.db.dialect,
            "live_version": None if state is None else state[0],
        }

    @app.get("/metrics", tags=["operations"], dependencies=[Depends(require(Role.READ))])
    def prometheus() -> Response:
        """Prometheus metrics: orders placed and refused, decision latency, reservations retried."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    return app


def app_from_env() -> FastAPI:
    """The application of a ``dom serve`` worker process (settings from the environment)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
