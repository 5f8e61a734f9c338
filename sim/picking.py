"""Pick stations: ``c`` pickers working one FIFO queue of pick jobs, with one record per job.

A ``PickStation`` wraps a ``simpy.Resource`` of ``pickers`` units. ``submit`` queues a job; the job
seizes a picker, holds it for a service time drawn by the injected sampler, releases it and records
``(arrival, start, end)``. Jobs are driven by raw event callbacks rather than one process each, so a
station can carry every order of a long run. The sampler receives the job's units, so pick time can
grow with the size of the order; it owns its random stream (common random numbers stay intact).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

ServiceTime = Callable[[int], float]  # units of the job -> pick time (hours)


@dataclass(frozen=True, slots=True)
class PickRecord:
    """One picked job: when it arrived, when a picker started on it and when it was done."""

    ref: str
    units: int
    arrival: float
    start: float
    end: float

    @property
    def wait(self) -> float:
        """Time queued before a picker started (Wq)."""
        return self.start - self.arrival

    @property
    def service(self) -> float:
        """Time a picker spent on the job."""
        return self.end - self.start

    @property
    def sojourn(self) -> float:
        """Time from arrival to done (W = Wq + service)."""
        return self.end - self.arrival


class PickStation:
    """A location's pickers: a FIFO multi-server queue with an injected service-time sampler."""

    def __init__(
        self, env: simpy.Environment, pickers: int, service_time: ServiceTime, name: str = ""
    ) -> None:
        """Create a station with ``pickers`` parallel pickers (at least one)."""
        if pickers < 1:
            raise ValueError(f"pickers: needs at least 1, got {pickers}")
        self.env = env
        self.name = name
        self.pickers = pickers
        self.service_time = service_time
        self.resource = simpy.Resource(env, capacity=pickers)
        self.records: list[PickRecord] = []

    @property
    def queued(self) -> int:
        """Jobs waiting for a picker."""
        return len(self.resource.queue)

    @property
    def busy(self) -> int:
        """Pickers working on a job now."""
        return self.resource.count

    def submit(self, ref: str, units: int = 1) -> simpy.Event:
        """Queue a job now; the returned event succeeds with its ``PickRecord`` when it is picked."""
        env = self.env
        arrival = env.now
        done = env.event()
        request = self.resource.request()

        def started(_: simpy.Event) -> None:
            start = env.now
            duration = self.service_time(units)
            if duration < 0:
                raise ValueError(f"service_time: negative pick time {duration} for job {ref!r}")

            def finished(_: simpy.Event) -> None:
                self.resource.release(request)
                record = PickRecord(ref, units, arrival, start, env.now)
                self.records.append(record)
                done.succeed(record)

            env.timeout(duration).callbacks.append(finished)

        request.callbacks.append(started)
        return done

    def rows(self) -> list[tuple[str, str, int, float, float, float]]:
        """Flat rows ``(station, ref, units, arrival, start, end)`` in completion order, for a table."""
        return [(self.name, r.ref, r.units, r.arrival, r.start, r.end) for r in self.records]
