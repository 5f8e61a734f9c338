"""The SimPy environment of a run, and the pause of the cyclic garbage collector a run keeps."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import simpy


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for events/s figures)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def step(self) -> None:
        """Process the next event."""
        self.steps += 1
        super().step()

    def advance_to(self, t: float) -> bool:
        """Move the clock to ``t`` now, if no scheduled event is due at or before ``t``; else False.

        For the running process this is what ``yield timeout(t - now)`` does (the same clock value,
        ``now + (t - now)``), without a heap push, a pop and a generator resume: nothing else can run
        in between. Counted as one processed event.
        """
        if t >= self.peek():
            return False
        self._now += t - self._now
        self.steps += 1
        return True

    def close(self) -> None:
        """Drop the events still scheduled, once the run is over.

        Their callbacks, and the processes waiting on them, refer back to the simulation: reference
        cycles that would keep the whole run's objects alive until a full garbage collection.
        """
        for *_, event in self._queue:
            if event.callbacks:  # a process's resumption: process -> its awaited event -> process
                event.callbacks.clear()
        self._queue.clear()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (nested pauses leave it to the outermost).

    A run holds millions of live objects and makes almost no reference cycles: the collector's passes
    over all of them cost ~10% of a run, and re-enabling it while they are alive starts one at once.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
