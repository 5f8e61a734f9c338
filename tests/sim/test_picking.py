"""sim.picking.PickStation: queueing theory (M/M/1, M/M/c via Erlang C) and record invariants.

The theory checks run independent replications of a Poisson-arrival, exponential-service station,
drop a warm-up of jobs, and require the formula's mean wait in queue to lie inside the 99% Student-t
confidence interval of the replication means (each replication has its own seeded stream).
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.picking import PickRecord, PickStation


def erlang_c(c: int, offered: float) -> float:
    """P(an arrival waits) in M/M/c with offered load ``offered`` = lambda/mu Erlangs (< c)."""
    head = sum(offered**k / math.factorial(k) for k in range(c))
    tail = offered**c / math.factorial(c) * c / (c - offered)
    return tail / (head + tail)


def mmc_wq(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c: C(c, lambda/mu) / (c mu - lambda); for c = 1, rho / (mu - lambda)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def test_erlang_c_reduces_to_mm1() -> None:
    lam, mu = 0.7, 1.0
    assert erlang_c(1, lam / mu) == pytest.approx(lam / mu)
    assert mmc_wq(lam, mu, 1) == pytest.approx((lam / mu) / (mu - lam))
    # by hand: sum_{k<3} 2.4^k/k! = 6.28; 2.4^3/3! * 3/(3 - 2.4) = 11.52; C = 11.52 / 17.8
    assert erlang_c(3, 2.4) == pytest.approx(11.52 / 17.8)
    assert mmc_wq(2.4, 1.0, 3) == pytest.approx(11.52 / 17.8 / 0.6)


def poisson_source(
    env: simpy.Environment, station: PickStation, lam: float, jobs: int, rng: np.random.Generator
) -> Generator[simpy.Event, None, None]:
    for k in range(jobs):
        yield env.timeout(rng.exponential(1.0 / lam))
        station.submit(f"J{k}")


def replication_wait(lam: float, mu: float, c: int, jobs: int, warmup: int, seed: int) -> float:
    """Mean wait in queue of the jobs after the warm-up in one replication."""
    env = simpy.Environment()
    service = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    station = PickStation(env, c, lambda _units: float(service.exponential(1.0 / mu)), name="P")
    arrivals = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    env.process(poisson_source(env, station, lam, jobs, arrivals))
    env.run()
    assert len(station.records) == jobs
    by_arrival = sorted(station.records, key=lambda r: r.arrival)
    return float(np.mean([r.wait for r in by_arrival[warmup:]]))


@pytest.mark.parametrize(
    ("lam", "mu", "c"),
    [(0.7, 1.0, 1), (2.4, 1.0, 3)],
    ids=["M/M/1 rho=0.7", "M/M/3 rho=0.8"],
)
def test_mean_wait_matches_queueing_theory(lam: float, mu: float, c: int) -> None:
    waits = np.array([replication_wait(lam, mu, c, 20_000, 2_000, seed) for seed in range(10)])
    mean = waits.mean()
    half = stats.t.ppf(0.995, len(waits) - 1) * waits.std(ddof=1) / math.sqrt(len(waits))
    expected = mmc_wq(lam, mu, c)
    assert abs(mean - expected) <= half, (
        f"Wq measured {mean:.4f} ± {half:.4f} (99% CI), theory {expected:.4f}"
    )
    assert half < 0.1 * expected  # the interval is tight enough to mean something


def fifo_reference(arrivals: list[float], services: list[float], c: int) -> list[tuple[float, float]]:
    """(start, end) of each job in a work-conserving FIFO queue with c servers."""
    free = [0.0] * c
    out = []
    for a, s in zip(arrivals, services, strict=True):
        k = min(range(c), key=lambda i: free[i])
        start = max(a, free[k])
        free[k] = start + s
        out.append((start, start + s))
    return out


@settings(max_examples=60, deadline=None)
@given(
    c=st.integers(1, 4),
    jobs=st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 80), st.integers(1, 5)), min_size=1, max_size=40
    ),
)
def test_records_follow_fifo_with_c_pickers(c: int, jobs: list[tuple[int, int, int]]) -> None:
    """Every job is recorded once; start = max(arrival, first free picker), end = start + pick time."""
    env = simpy.Environment()
    station = PickStation(env, c, lambda units: units * 0.25, name="S")
    gaps = [g / 4 for g, _, _ in jobs]
    units = [u for _, u, _ in jobs]

    def source() -> Generator[simpy.Event, None, None]:
        for k, (gap, n) in enumerate(zip(gaps, units, strict=True)):
            yield env.timeout(gap)
            station.submit(f"J{k}", n)
            assert station.busy <= c

    env.process(source())
    env.run()
    by_ref = {r.ref: r for r in station.records}
    assert len(by_ref) == len(jobs) == len(station.records)
    arrivals = list(np.cumsum(gaps))
    expected = fifo_reference(arrivals, [n * 0.25 for n in units], c)
    for k, (start, end) in enumerate(expected):
        r = by_ref[f"J{k}"]
        assert r.arrival == pytest.approx(arrivals[k])
        assert r.start == pytest.approx(start) and r.end == pytest.approx(end)
        assert r.units == units[k] and r.wait >= 0 and r.sojourn == pytest.approx(r.wait + r.service)
    assert station.busy == station.queued == 0
    assert [row[1] for row in station.rows()] == [r.ref for r in station.records]


def test_submit_event_carries_the_record_and_bad_input_is_refused() -> None:
    env = simpy.Environment()
    station = PickStation(env, 1, lambda units: 2.0 * units)
    done = station.submit("A", 3)
    env.run()
    assert done.value == PickRecord("A", 3, 0.0, 0.0, 6.0)
    with pytest.raises(ValueError, match="pickers"):
        PickStation(env, 0, lambda units: 1.0)
    broken = PickStation(env, 1, lambda units: -1.0)
    broken.submit("B")
    with pytest.raises(ValueError, match="negative pick time"):
        env.run()
