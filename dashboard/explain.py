"""A sourcing decision's explanation as a table: the chosen locations first, then the ones checked but not
needed, then the rest grouped (not checked, or removed by a rule: one group per reason, with its count).

The results keep each sampled explanation as the engine's text (``Explanation.as_text`` in
``dom_core/decision.py``: a header with the strategy, inventory model, the strategy's reason and each
parcel's cost, promise and CO2e, then one line per candidate location). This module reads that text back
into values; it recomputes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import polars as pl

from dashboard.plain import MISSING, Calendar, words

_HEADER = re.compile(r"^strategy (?P<strategy>.+?) on inventory model (?P<model>.+?): (?P<why>.*)$")
_PARCEL = re.compile(
    r"(?P<loc>[^;]+?) via (?P<service>\S+): cost (?P<cost>-?[\d.]+), promised by hour (?P<hour>-?[\d.]+), "
    r"(?P<co2>-?[\d.]+) kg CO2e"
)
_FIRST_PARCEL = re.compile(r"; (?=[^;]+? via \S+: cost )")
_NAME = re.compile(r"^[\w-]+: ")
_LINE = re.compile(
    r"^\s*(?:#(?P<rank>\d+)|-)\s+(?P<loc>.+?)\s+atp=\[(?P<atp>[^\]]*)\]\s+(?P<status>.*?)"
    r"(?: score=(?P<score>\S+))?$"
)
_SHIPS = re.compile(r"(\S+?)x(\d+)(?:,\s*|$)")

CHOSEN, TRANSFER, NOT_NEEDED, NOT_CHECKED, REMOVED, OTHER = (
    "chosen", "transfer", "not needed", "not checked", "removed", "other")
STATUS_WORDS = {
    CHOSEN: "Chosen", TRANSFER: "Chosen: sends stock to the shipping location",
    NOT_NEEDED: "Checked, not needed", NOT_CHECKED: "Not checked", REMOVED: "Removed",
}
NOT_CHECKED_WHY = "beyond the number of locations the rules look at (cutoff), or ranked lower"
FILTERS = {  # dom_core/rules.py, in words
    "max_distance": "too far from the customer (distance rule)",
    "in_stock": "holds none of the order's products (in-stock rule)",
    "capacity_left": "no pick capacity left today (capacity rule)",
    "same_market": "outside the order's market (same-market rule)",
    "exclude_kinds": "this kind of location may not serve the order (location-type rule)",
}
COLUMNS = ("Location", "Status", "Rule or reason", "Rank", "ATP per line", "Cost", "Promised by", "CO2e (kg)")


@dataclass(frozen=True)
class Parcel:
    """One parcel of the decision as the header states it (times in simulated hours)."""

    location: str
    service: str
    cost: float
    promised_at: float
    co2_kg: float


@dataclass(frozen=True)
class Candidate:
    """One candidate location: its outcome (``CHOSEN`` ...), why, rank, ATP per order line and score."""

    location: str
    outcome: str
    detail: str
    rank: int | None
    atp: tuple[int, ...]
    score: float | None


@dataclass(frozen=True)
class Decision:
    """An explanation read back: strategy, inventory model, the strategy's reason, parcels, candidates."""

    strategy: str
    inventory_model: str
    rule: str
    parcels: tuple[Parcel, ...]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Group:
    """Candidates with the same outcome and reason (e.g. removed: pickup in store serves from X only)."""

    outcome: str
    reason: str
    members: tuple[Candidate, ...]

    @property
    def title(self) -> str:
        """``Removed: <reason> (43 locations)``."""
        n = len(self.members)
        return f"{STATUS_WORDS.get(self.outcome, self.outcome)}: {self.reason} ({n} location{'s' * (n != 1)})"


def _outcome(status: str) -> tuple[str, str]:
    if status.startswith("chosen: ships "):
        items = ", ".join(f"{sku} ×{qty}" for sku, qty in _SHIPS.findall(status[len("chosen: ships "):]))
        return CHOSEN, f"ships {items}"
    if status.startswith("chosen"):
        return TRANSFER, "its stock goes to the shipping location first"
    if status == "considered, not needed":
        return NOT_NEEDED, "the chosen locations cover the order"
    if status.startswith("not considered"):
        return NOT_CHECKED, NOT_CHECKED_WHY
    if status.startswith("removed by filter "):
        name = status[len("removed by filter "):]
        return REMOVED, FILTERS.get(name, f"the {words(name)} rule")
    if status.startswith("removed: "):
        return REMOVED, status[len("removed: "):]
    return OTHER, status


def parse(text: str) -> Decision | None:
    """The explanation text read back into values; None if it is not in the engine's format."""
    lines = text.splitlines()
    head = _HEADER.match(lines[0]) if lines else None
    if head is None:
        return None
    text_why = head["why"]
    first = _FIRST_PARCEL.search(text_why)
    why, shipped = (text_why, "") if first is None else (text_why[:first.start()], text_why[first.end():])
    parcels = tuple(
        Parcel(m["loc"].strip(), m["service"], float(m["cost"]), float(m["hour"]), float(m["co2"]))
        for m in _PARCEL.finditer(shipped)
    )
    rule = _NAME.sub("", why, count=1)  # "cheapest: DE-DC1 ships ..." -> "DE-DC1 ships ..."
    candidates = []
    for line in lines[1:]:
        m = _LINE.match(line)
        if m is None:
            return None
        outcome, detail = _outcome(m["status"])
        try:
            atp = tuple(int(float(x)) for x in m["atp"].split(",") if x.strip())
            score = float(m["score"]) if m["score"] else None
        except ValueError:
            return None
        if outcome == NOT_NEEDED and not any(atp):
            detail = "no stock available to promise for the order's lines"
        rank = int(m["rank"]) if m["rank"] else None
        candidates.append(Candidate(m["loc"], outcome, detail, rank, atp, score))
    return Decision(head["strategy"], head["model"], rule, parcels, tuple(candidates))


def with_promises(d: Decision, promised: dict[str, float]) -> Decision:
    """The decision with its parcels' promises replaced by exact ones (the explanation rounds them to
    0.1 hour), e.g. ``promised_at`` per location from the results' shipments table."""
    parcels = tuple(replace(p, promised_at=promised.get(p.location, p.promised_at)) for p in d.parcels)
    return replace(d, parcels=parcels)


def promises(shipments: pl.DataFrame) -> dict[str, float]:
    """Exact promise per location of an order's first decision, from its rows of the shipments table."""
    first = shipments.filter(pl.col("decided_at") == pl.col("decided_at").min())
    return {str(k): float(v) for k, v in first.select("location", "promised_at").iter_rows() if v is not None}


def _rank_key(c: Candidate) -> tuple[int, str]:
    return (c.rank if c.rank is not None else 10**9, c.location)


def groups(d: Decision) -> list[Group]:
    """The candidates neither chosen nor checked: not checked first, then removed, one group per reason."""
    found: dict[tuple[str, str], list[Candidate]] = {}
    for c in d.candidates:
        if c.outcome in (NOT_CHECKED, REMOVED, OTHER):
            found.setdefault((c.outcome, c.detail), []).append(c)
    order = {NOT_CHECKED: 0, REMOVED: 1, OTHER: 2}
    keys = sorted(found, key=lambda k: (order[k[0]], -len(found[k]), k[1]))
    return [Group(o, r, tuple(sorted(found[(o, r)], key=_rank_key))) for o, r in keys]


def _names(members: tuple[Candidate, ...], shown: int = 6) -> str:
    ids = [c.location for c in members]
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _score(x: float | None) -> str:
    return "" if x is None else "∞" if math.isinf(x) else f"{x:,.2f}"


def table(d: Decision, cal: Calendar) -> pl.DataFrame:
    """One row per chosen location (winner first, with its parcel's cost, promise and CO2e), per location
    checked but not needed, then one row per group of the others with its count and locations."""
    parcels: dict[str, list[Parcel]] = {}
    for p in d.parcels:
        parcels.setdefault(p.location, []).append(p)
    rows: list[dict[str, str]] = []
    first = [c for c in d.candidates if c.outcome in (CHOSEN, TRANSFER, NOT_NEEDED)]
    first.sort(key=lambda c: ((CHOSEN, TRANSFER, NOT_NEEDED).index(c.outcome), *_rank_key(c)))
    for c in first:
        mine = parcels.get(c.location, [])
        status = STATUS_WORDS[c.outcome] + (f": {c.detail}" if c.outcome == CHOSEN else "")
        if mine:
            status += " by " + ", ".join(sorted({words(p.service) for p in mine}))
        rows.append({
            "Location": c.location, "Status": status,
            "Rule or reason": d.rule if c.outcome in (CHOSEN, TRANSFER) else c.detail,
            "Rank": str(c.rank) if c.rank is not None else MISSING,
            "ATP per line": ", ".join(map(str, c.atp)),
            "Cost": cal.money(sum(p.cost for p in mine)) if mine else "",
            "Promised by": cal.when(max(p.promised_at for p in mine)) if mine else "",
            "CO2e (kg)": f"{sum(p.co2_kg for p in mine):.3f}" if mine else "",
            "Ranking score": _score(c.score),
        })
    for g in groups(d):
        n = len(g.members)
        rows.append({
            "Location": f"{n} location{'s' * (n != 1)}: {_names(g.members)}",
            "Status": f"{STATUS_WORDS.get(g.outcome, 'Other')} ({n})", "Rule or reason": g.reason,
            "Rank": MISSING, "ATP per line": "", "Cost": "", "Promised by": "", "CO2e (kg)": "",
            "Ranking score": "",
        })
    frame = pl.DataFrame(rows, schema=dict.fromkeys((*COLUMNS, "Ranking score"), pl.String))
    return frame if any(c.score is not None for c in d.candidates) else frame.drop("Ranking score")


def members(g: Group) -> pl.DataFrame:
    """The locations of one group, one row each, with their rank, ATP and score (if any)."""
    frame = pl.DataFrame(
        [{"Location": c.location, "Rank": str(c.rank) if c.rank is not None else MISSING,
          "ATP per line": ", ".join(map(str, c.atp)), "Ranking score": _score(c.score)} for c in g.members],
        schema=dict.fromkeys(("Location", "Rank", "ATP per line", "Ranking score"), pl.String),
    )
    return frame if any(c.score is not None for c in g.members) else frame.drop("Ranking score")


def summary(d: Decision, cal: Calendar, label: str | None = None) -> str:
    """The decision in one sentence: where from, how, cost, promise and CO2e, and the strategy's reason
    (``label``: the strategy's name in the experiment, when it differs from the engine's)."""
    who = f"**{label or d.strategy}**" + (f" (here: {d.strategy})" if label and label != d.strategy else "")
    if not d.parcels:
        return f"{who} ships nothing for this order: {d.rule}."
    where = "; ".join(f"{p.location} by {words(p.service)}" for p in d.parcels)
    cost = sum(p.cost for p in d.parcels)
    co2 = sum(p.co2_kg for p in d.parcels)
    promise = max(p.promised_at for p in d.parcels)
    n = len(d.parcels)
    return (f"{who} ships it in {n} parcel{'s' * (n != 1)} from {where}: **{cal.money(cost)}**, "
            f"promised by **{cal.when(promise)}**, {co2:.3f} kg CO2e. Why: {d.rule} "
            f"(inventory model {d.inventory_model}).")


def outcome_row(strategy: str, text: str, cal: Calendar, promised: dict[str, float] | None = None,
                ) -> dict[str, str]:
    """What one strategy decided for the order, for comparing strategies side by side (with the exact
    ``promised`` times per location when known)."""
    d = parse(text)
    if d is not None and promised:
        d = with_promises(d, promised)
    if d is None:
        return {"Strategy": strategy, "Ships from": "(unreadable explanation)", "Parcels": "", "Cost": "",
                "Promised by": "", "CO2e (kg)": ""}
    return {
        "Strategy": strategy, "Ships from": ", ".join(p.location for p in d.parcels) or "nothing shipped",
        "Parcels": str(len(d.parcels)),
        "Cost": cal.money(sum(p.cost for p in d.parcels)) if d.parcels else "",
        "Promised by": cal.when(max(p.promised_at for p in d.parcels)) if d.parcels else "",
        "CO2e (kg)": f"{sum(p.co2_kg for p in d.parcels):.3f}" if d.parcels else "",
    }
