"""Sweep spaces: the knobs a parameter sweep turns (the run knobs of ``sim.engines.Knobs`` and the sweep
strategy's own parameters), their ranges or levels, the baseline point and the default design; loaded from
YAML with errors that name the field and the line.

A space file::

    strategy: {kind: weighted, cost: 1.0, time: 0.5}   # default: the scenario's baseline strategy
    design: sobol                                      # grid | random | sobol | lhs
    points: 32                                         # random/sobol/lhs (a grid takes every level)
    knobs:
      max_shipments: {values: [1, 2, 3]}
      store_participation: {min: 0.25, max: 1.0}
      split_penalty: {min: 0.0, max: 6.0, levels: 4}   # a parameter of the strategy
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dom_core.config import parse_spec
from dom_core.errors import DomError
from dom_core.yamlio import ConfigError, line_of, load_yaml
from sim.engines import Knobs
from sim.options import KNOBS
from sim.rollout_spec import field_error
from sim.scenario import AS_CONFIGURED, Scenario, StrategyRun

RUN_KNOBS = tuple(f.name for f in dataclasses.fields(Knobs))
INTEGER_KNOBS = frozenset({"max_shipments", "safety_stock"})
Design = Literal["grid", "random", "sobol", "lhs"]
DESIGNS: tuple[Design, ...] = ("grid", "random", "sobol", "lhs")
Value = float | int | None  # a knob's value at a point; None: as the scenario configures it


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KnobRange(_Spec):
    """One knob's values: a range ``min``..``max`` (``levels`` evenly spaced values on a grid) or a list
    of ``values``; ``integer`` draws whole numbers (always for max_shipments and safety_stock)."""

    min: float | None = None
    max: float | None = None
    values: list[float] | None = Field(default=None, min_length=1)
    integer: bool = False
    levels: int = Field(default=3, ge=2, description="values of a range on a grid design")

    @model_validator(mode="after")
    def _one_form(self) -> KnobRange:
        given = [*(self.values or []), *(v for v in (self.min, self.max) if v is not None)]
        if not all(math.isfinite(v) for v in given):
            raise ValueError("needs finite numbers")
        if self.values is not None:
            if self.min is not None or self.max is not None:
                raise ValueError("give either min and max or values, not both")
        elif self.min is None or self.max is None:
            raise ValueError("needs min and max, or a list of values")
        elif self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        if self.integer and self.values is not None and any(v != int(v) for v in self.values):
            raise ValueError("integer knob with values that are not whole numbers")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the knob can take."""
        if self.values is not None:
            return min(self.values), max(self.values)
        assert self.min is not None and self.max is not None
        return self.min, self.max

    def at(self, u: float) -> float | int:
        """The knob's value at ``u`` in [0, 1): uniform over the range (or its whole numbers) or the list."""
        if self.values is not None:
            value = self.values[min(int(u * len(self.values)), len(self.values) - 1)]
            return int(value) if self.integer else value
        low, high = self.bounds
        if self.integer:
            return int(min(math.ceil(low) + math.floor(u * (math.floor(high) - math.ceil(low) + 1)), high))
        return round(low + u * (high - low), 6)

    def grid(self) -> list[float | int]:
        """The knob's values on a grid design: its list, or ``levels`` evenly spaced values (no repeats)."""
        if self.values is not None:
            raw: list[float] = list(self.values)
        else:
            low, high = self.bounds
            raw = [low + (high - low) * i / (self.levels - 1) for i in range(self.levels)]
        cast = [round(v) if self.integer else round(v, 6) for v in raw]
        return list(dict.fromkeys(cast))


class SweepSpace(_Spec):
    """A whole sweep space file."""

    description: str = ""
    strategy: str | dict[str, Any] | None = Field(
        default=None, description="the strategy every point runs (default: the scenario's baseline)"
    )
    knobs: dict[str, KnobRange] = Field(min_length=1, description="run knobs and strategy parameters")
    baseline: dict[str, float] = Field(
        default_factory=dict, description="the baseline point's knob values (default: as configured)"
    )
    design: Design = "sobol"
    points: int = Field(default=32, ge=1, description="points of a random, Sobol or Latin hypercube design")
    replications: int | None = Field(default=None, ge=1, description="default: the scenario's")
    seed: int | None = Field(default=None, ge=0, description="design seed (default: the scenario's seed)")

    @model_validator(mode="after")
    def _knobs_in_limits(self) -> SweepSpace:
        for name, spec in self.knobs.items():
            if not name.isidentifier():
                raise field_error(("knobs", name), f"{name!r} is not a knob name", name)
            if name in INTEGER_KNOBS:
                spec.integer = True
                if spec.values is not None and any(v != int(v) for v in spec.values):
                    raise field_error(("knobs", name, "values"), "needs whole numbers", spec.values)
            if name in KNOBS:
                where = "values" if spec.values is not None else "min"
                problem = _outside(name, spec.bounds[0]) or _outside(name, spec.bounds[1])
                if problem:
                    raise field_error(("knobs", name, where), problem, spec.bounds)
        for name, value in self.baseline.items():
            if name not in self.knobs:
                message = f"{name!r} is not one of the swept knobs {sorted(self.knobs)}"
                raise field_error(("baseline", name), message, value)
            problem = _outside(name, value) if name in KNOBS else None
            if name in INTEGER_KNOBS and value != int(value):
                problem = "needs a whole number"
            if problem:
                raise field_error(("baseline", name), problem, value)
        return self

    @property
    def strategy_knobs(self) -> list[str]:
        """The knobs that are parameters of the sweep's strategy (every knob that is not a run knob)."""
        return [k for k in self.knobs if k not in RUN_KNOBS]


def _outside(name: str, value: float) -> str | None:
    """Why ``value`` is not allowed for run knob ``name`` (None when it is)."""
    allowed = KNOBS[name]
    return None if allowed.admits(value) else f"{name} must be {allowed}, got {value:g}"


@dataclass(frozen=True)
class SweepPlan:
    """A space checked against its scenario: the run every point varies and the baseline's knob values."""

    space: SweepSpace
    run: StrategyRun  # the strategy run of the baseline point; points override its parameters
    baseline: dict[str, Value]  # knob -> value at the baseline point (None: as configured)

    @property
    def knob_names(self) -> list[str]:
        """The swept knobs, in the space file's order."""
        return list(self.space.knobs)


def strategy_spec(run: StrategyRun) -> dict[str, Any]:
    """A run's strategy as a ``{kind: ..., **parameters}`` mapping."""
    return {"kind": run.strategy} if isinstance(run.strategy, str) else dict(run.strategy)


def plan(
    space: SweepSpace, scenario: Scenario, source: str = "space", lines: dict[Any, int] | None = None
) -> SweepPlan:
    """Check the space's strategy parameters against the strategy every point runs; a ConfigError names
    the field and (when ``lines`` is given) the line."""
    from dom_core.strategies import build_strategy

    def fail(loc: tuple[str, ...], problem: str) -> ConfigError:
        line = line_of(lines, loc) if lines else None
        return ConfigError(source, f"{'.'.join(loc)}{f' (line {line})' if line else ''}: {problem}")

    base = next(r for r in scenario.experiment.runs() if r.name == scenario.baseline)
    if space.strategy is not None:
        try:
            base = StrategyRun(label="sweep", strategy=space.strategy)
        except ValueError as exc:
            raise fail(("strategy",), str(exc).splitlines()[-1].strip()) from None
    baseline: dict[str, Value] = {k: dataclasses.asdict(Knobs())[k] for k in space.knobs if k in RUN_KNOBS}
    if space.strategy_knobs and base.strategy == AS_CONFIGURED:
        name = space.strategy_knobs[0]
        raise fail(("knobs", name), f"{name!r} is no run knob ({', '.join(RUN_KNOBS)}); strategy parameters "
                   "need a strategy: name one in the space file (strategy: {kind: ...})")
    spec = strategy_spec(base)
    for name in space.strategy_knobs:
        for bound in space.knobs[name].bounds:
            try:
                build_strategy({**spec, name: bound}, "strategy")
            except DomError as exc:
                raise fail(("knobs", name), f"not a knob of strategy {spec['kind']!r}: {exc}") from None
        if name not in spec:  # the strategy's default value
            spec[name] = getattr(build_strategy(spec), name)
        baseline[name] = spec[name]
    baseline.update({k: int(v) if k in INTEGER_KNOBS else v for k, v in space.baseline.items()})
    base_params = {k: baseline[k] for k in space.strategy_knobs}
    run = base.model_copy(update={"strategy": {**spec, **base_params}}) if base_params else base
    return SweepPlan(space, run, baseline)


def load_space(path: str | Path, scenario: Scenario) -> SweepPlan:
    """Load and validate a sweep space YAML file against ``scenario``; a ConfigError names field and line."""
    data, lines = load_yaml(path)
    space: SweepSpace = parse_spec(SweepSpace, data, str(path), lines)
    return plan(space, scenario, str(path), lines)
