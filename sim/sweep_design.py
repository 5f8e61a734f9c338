"""Designs over a sweep space: a full grid, or ``n`` points drawn at random, from a scrambled Sobol sequence
or a Latin hypercube (``scipy.stats.qmc``), each seeded so that the same seed gives the same points.

Point 0 is always the baseline (the scenario as configured, or the space's ``baseline:`` values); the
design's points are 1..n. Every point is a run of the sweep's strategy with its knobs set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sim.engines import Knobs
from sim.scenario import Scenario, StrategyRun
from sim.sweep_space import RUN_KNOBS, Design, SweepPlan, Value, strategy_spec

BASELINE_ID = 0


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its knob values (None: as the scenario configures it)."""

    point_id: int
    values: dict[str, Value]

    @property
    def is_baseline(self) -> bool:
        """Whether this is the baseline point every other point is compared with."""
        return self.point_id == BASELINE_ID

    def knobs(self) -> Knobs:
        """The run knobs of the point (those it does not set at their defaults)."""
        given: dict[str, Any] = {k: v for k, v in self.values.items() if k in RUN_KNOBS}
        return Knobs(**given)

    def run(self, base: StrategyRun) -> StrategyRun:
        """The sweep's strategy run with the point's strategy parameters."""
        params = {k: v for k, v in self.values.items() if k not in RUN_KNOBS}
        if not params:
            return base
        return base.model_copy(update={"strategy": {**strategy_spec(base), **params}})

    def key(self, scenario: Scenario, base: StrategyRun) -> str:
        """A hash of what the point's runs depend on: knobs, strategy run and the scenario with its seed
        (not its experiment section or description). Names the point's saved results."""
        spec = scenario.model_dump(mode="json", exclude={"experiment", "description"})
        what = {
            "knobs": asdict(self.knobs()),
            "run": json.loads(self.run(base).model_dump_json()),
            "scenario": spec,
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]


def unit_sample(design: Design, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points in the unit cube [0, 1)^d: uniform random, scrambled Sobol or Latin hypercube."""
    rng = np.random.default_rng(seed)
    if design == "random":
        return rng.random((n, d))
    from scipy.stats import qmc

    if design == "sobol":
        with warnings.catch_warnings():  # balance needs a power of two; any n still fills the cube well
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            sample: np.ndarray = qmc.Sobol(d, scramble=True, rng=rng).random(n)
        return sample
    if design == "lhs":
        lhs: np.ndarray = qmc.LatinHypercube(d, rng=rng).random(n)
        return lhs
    raise ValueError(f"unknown design {design!r}")


def design_points(plan: SweepPlan, design: Design, n: int, seed: int) -> list[Point]:
    """The baseline point followed by the design's points (a grid: every combination of levels; else
    ``n`` points from the seeded sample)."""
    knobs = plan.space.knobs
    names = list(knobs)
    rows: list[dict[str, Any]]
    if design == "grid":
        levels = itertools.product(*(knobs[k].grid() for k in names))
        rows = [dict(zip(names, combo, strict=True)) for combo in levels]
    else:
        sample = unit_sample(design, n, len(names), seed)
        rows = [{k: knobs[k].at(float(u)) for k, u in zip(names, row, strict=True)} for row in sample]
    baseline = Point(BASELINE_ID, dict(plan.baseline))
    return [baseline, *(Point(i, row) for i, row in enumerate(rows, start=1))]


def grid_size(plan: SweepPlan) -> int:
    """How many points a grid design over the space has (the baseline not counted)."""
    return int(np.prod([len(spec.grid()) for spec in plan.space.knobs.values()]))
