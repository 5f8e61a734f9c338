"""Rules versions: read, replace (validated, then live for orders placed after it), the shadow
candidate, and promoting the candidate to live. Every change is a new numbered version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from dom_core.errors import DomError
from dom_core.yamlio import ConfigError
from service.clock import utc
from service.context import Service
from service.db import rules as rules_db
from service.rules import build_rule_set, document_kind
from service.schemas import RulesIn
from service.writes import ApiError, Written, run_write


def version_view(row: dict[str, Any], document: bool = False) -> dict[str, Any]:
    """A stored version as JSON (the document only when asked for: it can be large)."""
    out = {k: row[k] for k in ("version", "role", "kind", "strategy", "note")}
    out["created_at"] = utc(row["created_at"]).isoformat()
    if document:
        out["document"] = row["document"]
    return out


def _validated(svc: Service, conn: Connection, body: RulesIn) -> tuple[str, Any]:
    live, _ = svc.rule_sets(conn)
    document = live.document if body.document is None else body.document
    try:
        build_rule_set(document, body.strategy)  # the whole thing must build before anything is stored
        return document_kind(document), document
    except ConfigError as exc:  # pydantic's findings: field_path names the first failing field
        field = f"document.{exc.field_path}" if exc.field_path else "document"
        raise ApiError(422, field, exc.problem, "invalid_rules") from None
    except DomError as exc:
        field = exc.field if exc.field.startswith(("document", "strategy")) else f"document.{exc.field}"
        raise ApiError(422, field, exc.problem, "invalid_rules") from None


def replace(svc: Service, body: RulesIn, key: str | None) -> Written:
    """Store a new live version (the candidate, if any, stays)."""

    def work(conn: Connection) -> tuple[int, Any]:
        kind, document = _validated(svc, conn, body)
        number = rules_db.store(conn, "live", kind, document, body.strategy, body.note)
        rules_db.set_live(conn, number)
        return 201, version_view(rules_db.version(conn, number))  # type: ignore[arg-type]

    return run_write(svc.db, key, "PUT /rules", body.model_dump(mode="json"), work)


def set_candidate(svc: Service, body: RulesIn, key: str | None) -> Written:
    """Store a candidate version and decide it in shadow beside the live one from now on."""

    def work(conn: Connection) -> tuple[int, Any]:
        kind, document = _validated(svc, conn, body)
        number = rules_db.store(conn, "candidate", kind, document, body.strategy, body.note)
        rules_db.set_candidate(conn, number)
        return 201, version_view(rules_db.version(conn, number))  # type: ignore[arg-type]

    return run_write(svc.db, key, "PUT /rules/candidate", body.model_dump(mode="json"), work)


def clear_candidate(svc: Service, key: str | None) -> Written:
    """Stop shadow decisions."""

    def work(conn: Connection) -> tuple[int, Any]:
        svc.rule_sets(conn)
        rules_db.set_candidate(conn, None)
        return 200, {"candidate": None}

    return run_write(svc.db, key, "DELETE /rules/candidate", {}, work)


def promote(svc: Service, key: str | None) -> Written:
    """Make the candidate live as a new version; shadow decisions stop."""

    def work(conn: Connection) -> tuple[int, Any]:
        _, candidate = svc.rule_sets(conn)
        if candidate is None:
            raise ApiError(409, "candidate", "no candidate rules are set", "no_candidate")
        row = rules_db.version(conn, candidate.version)
        assert row is not None
        note = f"promoted from candidate version {candidate.version}"
        number = rules_db.store(conn, "live", row["kind"], row["document"], row["strategy"], note)
        rules_db.set_live(conn, number)
        rules_db.set_candidate(conn, None)
        return 201, version_view(rules_db.version(conn, number))  # type: ignore[arg-type]

    return run_write(svc.db, key, "POST /rules/candidate/promote", {}, work)


def current(svc: Service) -> dict[str, Any]:
    """The live version with its document, and the candidate's number."""
    with svc.read() as conn:
        state = rules_db.state(conn)
        if state is None:
            raise ApiError(503, "rules", "no rules loaded yet", "no_rules")
        row = rules_db.version(conn, state[0])
    assert row is not None
    return {**version_view(row, document=True), "candidate_version": state[1]}
