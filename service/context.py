"""The service's composition root: its database, the rule sets built in this process and its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from service.clock import DEFAULT_EPOCH
from service.db import rules as rules_db
from service.db.connect import Database
from service.rules import RuleBook, RuleSet
from service.writes import ApiError


@dataclass
class Service:
    """What every request handler works with."""

    db: Database
    epoch: datetime = DEFAULT_EPOCH
    reservation_ttl: timedelta = timedelta(hours=1)
    book: RuleBook = field(default_factory=RuleBook)

    def rule_set(self, conn: Connection, number: int) -> RuleSet:
        """The built rule set of a stored version."""
        built = self.book.known(number)
        if built is not None:
            return built
        row = rules_db.version(conn, number)
        if row is None:
            raise ApiError(404, "version", f"no rules version {number}", "not_found")
        return self.book.get(number, row["document"], row["strategy"])

    def rule_sets(self, conn: Connection) -> tuple[RuleSet, RuleSet | None]:
        """The live rule set and the shadow candidate (if any), as of this transaction."""
        current = rules_db.state(conn)
        if current is None:
            raise ApiError(503, "rules", "no rules loaded yet: start with `dom serve RULES_FILE`", "no_rules")
        live, candidate = current
        return self.rule_set(conn, live), None if candidate is None else self.rule_set(conn, candidate)

    def live(self) -> RuleSet:
        """The live rule set now (a read)."""
        with self.db.read.connect() as conn:
            return self.rule_sets(conn)[0]

    def read(self) -> Any:
        """A read-only connection (context manager)."""
        return self.db.read.connect()
