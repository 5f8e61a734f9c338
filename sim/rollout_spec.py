"""The ``rollout:`` section of a scenario: a candidate rule change, the stages that take it live segment by
segment (market x channel), and the go/no-go criteria every stage is judged by.

Stages widen the rollout: from its ``start_day`` on, a stage's segments stay live for the rest of the run,
so stage *i* runs the candidate on the segments of stages 0..i.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dom_core.config import LocationSelector
from dom_core.errors import DomError

StrategyField = str | dict[str, Any]

SEGMENT_KPIS = (  # measured per segment and stage, reported as differences against the baseline
    "cost_per_order",
    "on_time_rate",
    "fill_rate",
    "delivery_days_mean",
    "co2_kg_per_order",
    "split_rate",
    "orders",
)
# risk signals measured per location (summed over the scope, or its maximum for overload days)
LOCATION_SIGNALS = ("stockout_days", "capacity_overload_days", "walk_in_lost_units", "backlog_growth")
CriterionKpi = Literal[
    "cost_per_order",
    "on_time_rate",
    "fill_rate",
    "delivery_days_mean",
    "co2_kg_per_order",
    "split_rate",
    "late_orders",
    "stockout_days",
    "capacity_overload_days",
    "walk_in_lost_units",
    "backlog_growth",
]
TESTS = ("max_drop", "max_rise", "must_fall", "must_rise", "max", "min")


def field_error(loc: tuple[str | int, ...], message: str, value: Any) -> pydantic_core.ValidationError:
    """A validation error at ``loc`` (relative to the model raising it), so that it names that field and
    its line rather than the whole section's."""
    error = pydantic_core.PydanticCustomError("rollout", message)
    return pydantic_core.ValidationError.from_exception_data(
        "rollout", [{"type": error, "loc": loc, "input": value}]
    )


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateSpec(_Spec):
    """The rule change to roll out: any of strategy and inventory-model settings, applied to the named
    inventory models (all of them if none are named)."""

    inventory_models: list[str] | None = Field(
        default=None, min_length=1, description="inventory models the change applies to (default: all)"
    )
    strategy: StrategyField | None = None
    cutoff: int | None = Field(default=None, ge=1)
    max_shipments: int | None = Field(default=None, ge=1)
    filters: list[StrategyField] | None = None
    locations: list[str] | LocationSelector | None = Field(
        default=None, description="location ids in priority order, or a selector"
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: StrategyField | None) -> StrategyField | None:
        if value is not None:
            from dom_core.strategies import build_strategy

            try:
                build_strategy(value)
            except DomError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, value: list[StrategyField] | None) -> list[StrategyField] | None:
        from dom_core.rules import build_filter

        for i, item in enumerate(value or []):
            try:
                build_filter(item)
            except DomError as exc:
                raise field_error((i,), exc.problem, item) from None
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> CandidateSpec:
        changes = ("strategy", "cutoff", "max_shipments", "filters", "locations")
        if all(getattr(self, name) is None for name in changes):
            raise ValueError(f"a candidate changes at least one of {', '.join(changes)}")
        return self


class StageWhere(_Spec):
    """The segments a stage takes live: those matching every given list (an omitted list matches all)."""

    markets: list[str] | None = Field(default=None, min_length=1)
    channels: list[str] | None = Field(default=None, min_length=1)
    inventory_models: list[str] | None = Field(
        default=None, min_length=1, description="by the current inventory model serving the segment"
    )

    def matches(self, market: str, channel: str, model: str) -> bool:
        """Whether the segment (market, channel), served by ``model``, is in this stage."""
        return (
            (self.markets is None or market in self.markets)
            and (self.channels is None or channel in self.channels)
            and (self.inventory_models is None or model in self.inventory_models)
        )


class StageSpec(_Spec):
    """One stage: from ``start_day`` on, the candidate is live on its segments too."""

    name: str = Field(min_length=1)
    start_day: float = Field(ge=0)
    where: StageWhere = Field(default_factory=StageWhere)


class CriterionSpec(_Spec):
    """Go/no-go tests on one KPI or risk signal, judged per stage on the 95% CI over replications.

    ``max_drop``/``max_rise``/``must_fall``/``must_rise`` test the paired difference against the
    baseline; ``max``/``min`` test the plan's own value. A test passes when the whole CI satisfies it,
    fails when none of it does, and is inconclusive when the CI straddles the threshold.
    """

    max_drop: float | None = Field(default=None, ge=0, description="the value may fall at most this much")
    max_rise: float | None = Field(default=None, ge=0, description="the value may rise at most this much")
    must_fall: bool = False
    must_rise: bool = False
    max: float | None = Field(default=None, description="the plan's value may be at most this")
    min: float | None = Field(default=None, description="the plan's value must be at least this")
    scope: Literal["stage", "network"] | None = Field(
        default=None,
        description="stage: the stage's live segments (or the locations serving them); network: all. "
        "Default: stage for KPIs and late_orders, network for location signals",
    )

    def tests(self) -> list[tuple[str, float]]:
        """The tests set, as (test name, threshold) pairs (``must_fall``/``must_rise`` at 0)."""
        out: list[tuple[str, float]] = []
        for name in TESTS:
            value = getattr(self, name)
            if isinstance(value, bool):
                if value:
                    out.append((name, 0.0))
            elif value is not None:
                out.append((name, float(value)))
        return out

    @model_validator(mode="after")
    def _some_test(self) -> CriterionSpec:
        if not self.tests():
            raise ValueError(f"needs at least one of {', '.join(TESTS)}")
        return self


class RolloutSpec(_Spec):
    """A staged rollout of a candidate rule change and the criteria to judge each stage by."""

    candidate: CandidateSpec
    stages: list[StageSpec] = Field(min_length=1)
    criteria: dict[CriterionKpi, CriterionSpec] = Field(min_length=1)
    replications: int | None = Field(
        default=None, ge=1, description="replications of dom rehearse (default: the experiment's)"
    )

    @model_validator(mode="after")
    def _stages_in_order(self) -> RolloutSpec:
        seen: set[str] = set()
        for i, stage in enumerate(self.stages):
            if stage.name in seen:
                raise field_error(
                    ("stages", i, "name"), f"stage name {stage.name!r} is used twice", stage.name
                )
            seen.add(stage.name)
            if i and stage.start_day <= self.stages[i - 1].start_day:
                raise field_error(
                    ("stages", i, "start_day"),
                    f"must be later than the previous stage's start_day ({self.stages[i - 1].start_day:g})",
                    stage.start_day,
                )
        return self


Problem = tuple[tuple[str | int, ...], str, Any]  # (field path within the section, message, value)


def rollout_problem(
    spec: RolloutSpec, markets: list[str], channels: list[str], models: list[str], horizon_days: float
) -> Problem | None:
    """The first reference in a rollout section to a market, channel or inventory model the scenario does
    not have, or a stage starting at or after the horizon: (its field path in the section, message, value)."""
    known = {"markets": markets, "channels": channels, "inventory_models": models}
    for j, name in enumerate(spec.candidate.inventory_models or []):
        if name not in models:
            return (
                ("candidate", "inventory_models", j),
                f"unknown inventory model {name!r}; known: {models}",
                name,
            )
    for i, stage in enumerate(spec.stages):
        if stage.start_day >= horizon_days:
            return (
                ("stages", i, "start_day"),
                f"must be before horizon_days ({horizon_days:g})",
                stage.start_day,
            )
        for key, names in known.items():
            for j, name in enumerate(getattr(stage.where, key) or []):
                if name not in names:
                    what = key[:-1].replace("_", " ")
                    return ("stages", i, "where", key, j), f"unknown {what} {name!r}; known: {names}", name
    return None
