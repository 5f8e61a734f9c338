"""Optimisation for sourcing: the exact per-order optimiser, LP/MIP bounds, batch re-optimisation and
look-ahead strategies (dual prices, LP rounding).

Modules: ``order`` (per-order DP, CP-SAT fallback), ``shipments`` (shipment score table),
``quotes`` (vectorised carrier quotes), ``context`` (contexts outside the engine), ``lp`` (compact
LP/MIP: DLP, hindsight LP, exact hindsight MIP), ``colgen`` (fulfilment-method LP by column
generation), ``batch`` (``BatchReoptimiser``), ``lookahead`` (strategies ``lookahead`` and
``lp_rounding``), ``jasin_sinha`` (the literature's 5-FC test network). OR-Tools is imported lazily.
"""

# The strategies package registers this package's strategies (optimal, lookahead, lp_rounding) and its
# modules import the strategy base: initialise it first, whichever module is imported first.
import dom_core.strategies as _strategies

__all__: list[str] = []
_INIT = (_strategies,)
