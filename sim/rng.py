"""Named random streams for common random numbers: one SeedSequence per (seed, replication, stream).

Every strategy run of a replication draws from the same streams, so it sees identical demand, transit
quantiles, lead times, walk-in sales and return draws; one stream's extra draw never shifts another.
"""

from __future__ import annotations

import numpy as np

STREAMS = ("network", "demand", "transit", "leadtime", "walkin", "returns", "stock")


def stream(seed: int, replication: int, name: str, sub: int | None = None) -> np.random.Generator:
    """The generator for a named stream of a replication (network/stock streams ignore the replication);
    ``sub`` numbers independent sub-streams of one stream (the demand of each segment)."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {STREAMS}")
    rep = 0 if name in ("network", "stock") else replication + 1
    key = (rep, STREAMS.index(name)) if sub is None else (rep, STREAMS.index(name), sub)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))
