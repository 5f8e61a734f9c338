"""Go/no-go judging of a rollout stage: each criterion test against the 95% CI of its value over
replications (passed, failed, or inconclusive when the CI straddles the threshold), and the stage's
overall verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.runner import mean_ci95

GO, NO_GO, INCONCLUSIVE = "go", "no-go", "inconclusive"
RELATIVE = ("max_drop", "max_rise", "must_fall", "must_rise")  # tests on the difference vs the baseline


@dataclass(frozen=True)
class Judgement:
    """One criterion test of one stage: the tested value's mean and 95% CI, and the outcome."""

    criterion: str
    kpi: str
    threshold: float
    mean: float
    low: float
    high: float
    passed: bool | None  # None: inconclusive

    @property
    def verdict(self) -> str:
        """go, no-go or inconclusive."""
        return INCONCLUSIVE if self.passed is None else GO if self.passed else NO_GO


def label(kpi: str, test: str, threshold: float) -> str:
    """The criterion as written: ``on_time_rate max_drop 0.01``, ``cost_per_order must_fall``."""
    return f"{kpi} {test}" if test in ("must_fall", "must_rise") else f"{kpi} {test} {threshold:g}"


def passes(test: str, threshold: float, low: float, high: float) -> bool | None:
    """Whether a CI [low, high] passes a test: True if all of it does, False if none of it does, None if
    it straddles the threshold or is unknown (NaN: fewer than two replications, or nothing measured).

    ``max_drop t``: the difference is at least -t; ``max_rise t``: at most t; ``must_fall``: below 0;
    ``must_rise``: above 0; ``max t``/``min t``: the value is at most/at least t.
    """
    if math.isnan(low) or math.isnan(high):
        return None
    if test == "max_drop":
        ok, bad = low >= -threshold, high < -threshold
    elif test in ("max_rise", "max"):
        ok, bad = high <= threshold, low > threshold
    elif test == "min":
        ok, bad = low >= threshold, high < threshold
    elif test == "must_fall":
        ok, bad = high < 0, low >= 0
    elif test == "must_rise":
        ok, bad = low > 0, high <= 0
    else:
        raise ValueError(f"unknown criterion test {test!r}")
    return True if ok else False if bad else None


def judge(kpi: str, test: str, threshold: float, values: list[float]) -> Judgement:
    """Judge a test on the replications' values (differences for relative tests, the plan's own values
    for ``max``/``min``)."""
    mean, half = mean_ci95(values)
    low, high = mean - half, mean + half
    return Judgement(
        label(kpi, test, threshold), kpi, threshold, mean, low, high, passes(test, threshold, low, high)
    )


def overall(judgements: list[Judgement]) -> str:
    """no-go if any test fails, else inconclusive if any is, else go."""
    outcomes = [j.passed for j in judgements]
    if False in outcomes:
        return NO_GO
    return INCONCLUSIVE if None in outcomes else GO
