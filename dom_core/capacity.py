"""Daily pick capacity consumed per location, for capacity-aware filters and strategies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dom_core.model import HOURS_PER_DAY


@dataclass(slots=True)
class CapacityBook:
    """Orders (shipments) assigned to each location per day."""

    used: dict[tuple[int, int], int] = field(default_factory=dict)

    @staticmethod
    def day_of(at: float) -> int:
        """Day number of a time in hours."""
        return math.floor(at / HOURS_PER_DAY)

    def assigned(self, loc: int, at: float) -> int:
        """Shipments assigned to location ``loc`` on the day of ``at``."""
        return self.used.get((loc, self.day_of(at)), 0)

    def add(self, loc: int, at: float, n: int = 1) -> None:
        """Count ``n`` more shipments at ``loc`` on the day of ``at``."""
        key = (loc, self.day_of(at))
        self.used[key] = self.used.get(key, 0) + n

    def forget_before(self, day: int) -> None:
        """Drop days before ``day`` (keeps memory flat on long runs)."""
        self.used = {k: v for k, v in self.used.items() if k[1] >= day}
