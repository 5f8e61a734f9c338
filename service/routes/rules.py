"""The network and its rules: read, replace (a new version), the shadow candidate and its promotion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service import versions
from service.db import rules as rules_db
from service.routes.common import READ, WRITE, IdempotencyKey, Svc, answer
from service.schemas import RulesIn
from service.writes import ApiError

router = APIRouter(tags=["rules"])


@router.get("/network", dependencies=READ)
def network(svc: Svc) -> dict[str, Any]:
    """The live network: locations, SKUs and inventory models with their strategy and rules."""
    live = svc.live()
    net = live.network
    return {
        "rules_version": live.version,
        "locations": [
            {
                "id": loc.id,
                "kind": loc.kind.value,
                "market": loc.market,
                "country": loc.country,
                "lat": loc.lat,
                "lon": loc.lon,
                "capabilities": sorted(c.value for c in loc.capabilities),
                "pick_capacity_per_day": loc.pick_capacity_per_day,
                "cutoff_hour": loc.cutoff_hour,
                "priority": loc.priority,
                "enabled": loc.enabled,
            }
            for loc in net.locations
        ],
        "skus": [
            {
                "id": s.id,
                "weight_kg": s.weight_kg,
                "price": s.price,
                "category": s.category,
                "digital": s.digital,
                "returnable": s.returnable,
            }
            for s in net.skus
        ],
        "inventory_models": [
            {
                "name": m.name,
                "market": m.market,
                "channels": sorted(m.channels),
                "locations": list(m.locations),
                "strategy": live.engine.strategy_for(m).name,
                "cutoff": m.cutoff,
                "max_shipments": m.max_shipments,
                "filters": [f.name for f in m.filters],
                "return_locations": list(m.return_locations),
            }
            for m in net.inventory_models
        ],
        "carrier_services": [s.name for s in live.carriers.services],
    }


@router.get("/rules", dependencies=READ)
def rules(svc: Svc) -> dict[str, Any]:
    """The live rules version with its document (and the candidate's version number, if any)."""
    return versions.current(svc)


@router.put("/rules", status_code=201, dependencies=WRITE)
def replace(body: RulesIn, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Validate and store new rules as a new version, live for every order placed after it."""
    return answer(versions.replace(svc, body, key))


@router.get("/rules/versions", dependencies=READ)
def all_versions(svc: Svc) -> list[dict[str, Any]]:
    """Every stored version, newest first."""
    with svc.read() as conn:
        return [versions.version_view(r) for r in rules_db.versions(conn)]


@router.get("/rules/versions/{number}", dependencies=READ)
def one_version(number: int, svc: Svc) -> dict[str, Any]:
    """One stored version with its document."""
    with svc.read() as conn:
        row = rules_db.version(conn, number)
    if row is None:
        raise ApiError(404, "number", f"no rules version {number}", "not_found", "path")
    return versions.version_view(row, document=True)


@router.put("/rules/candidate", status_code=201, dependencies=WRITE)
def set_candidate(body: RulesIn, svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Set candidate rules, decided in shadow beside the live ones on every order (no stock touched)."""
    return answer(versions.set_candidate(svc, body, key))


@router.delete("/rules/candidate", dependencies=WRITE)
def clear_candidate(svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Stop shadow decisions."""
    return answer(versions.clear_candidate(svc, key))


@router.post("/rules/candidate/promote", status_code=201, dependencies=WRITE)
def promote(svc: Svc, key: IdempotencyKey = None) -> JSONResponse:
    """Make the candidate live as a new rules version."""
    return answer(versions.promote(svc, key))
