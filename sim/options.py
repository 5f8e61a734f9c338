"""The allowed ranges of the numbers an analyst passes to the ``dom`` commands and the runners: checked
before any work starts, with an error that names the option and its range."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dom_core.errors import DomError


@dataclass(frozen=True, slots=True)
class Allowed:
    """A closed or half-open range of numbers (``low_open``: ``low`` itself is excluded)."""

    low: float
    high: float = math.inf
    low_open: bool = False

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"greater than {self.low:g}" if self.low_open else f"at least {self.low:g}"
        return f"from {self.low:g} to {self.high:g}"

    def admits(self, value: float) -> bool:
        """Whether ``value`` is a finite number in the range."""
        above = value > self.low if self.low_open else value >= self.low
        return math.isfinite(value) and above and value <= self.high

    def check(self, option: str, value: float | None) -> None:
        """Raise a DomError naming ``option`` and the range unless ``value`` is None or in the range."""
        if value is not None and not self.admits(value):
            finite = "" if math.isfinite(value) else "a finite number "
            raise DomError(option, f"must be {finite}{self}, got {value:g}")


COUNT = Allowed(1)  # replications, workers, orders: whole numbers of at least 1
POSITION = Allowed(0)  # an order number in the demand stream
FACTOR = Allowed(0, low_open=True)  # scale factors: 0 would leave nothing to simulate
SHARE = Allowed(0, 1)

# the rule knobs (``sim.engines.Knobs``) by field name
KNOBS = {
    "demand_factor": FACTOR,
    "capacity_factor": FACTOR,
    "max_shipments": COUNT,
    "safety_stock": POSITION,
    "store_participation": SHARE,
}


def option_name(field: str) -> str:
    """The command-line option of a knob or setting: ``demand_factor`` -> ``--demand-factor``."""
    return "--" + field.replace("_", "-")
