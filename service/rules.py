"""Rule sets: a rules or scenario document built into the engine that decides with it.

A document is what a rules file (``network:`` at the top) or a scenario file holds, as JSON. Every
stored rules version is one document plus an optional strategy that overrides every inventory model's.
Building is deterministic (a scenario's generated network comes from its seed), so every worker process
builds the same engine from the same stored version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dom_core.carriers import CarrierCatalog
from dom_core.config import RulesFile, parse_spec
from dom_core.engine import SourcingEngine
from dom_core.errors import DomError
from dom_core.inventory import InventoryLedger
from dom_core.network import Network
from dom_core.returns import ReturnsEngine
from dom_core.rules import CapacityLeft
from dom_core.strategies import build_strategy

StrategySpec = str | dict[str, Any] | None
_CAPACITY_STRATEGIES = frozenset({"optimal", "lookahead", "lp_rounding"})


def document_kind(document: Any) -> str:
    """``rules`` for a rules document (only ``network:``), ``scenario`` for a scenario; a DomError else."""
    if not isinstance(document, dict):
        raise DomError("document", "must be a mapping (a rules file or a scenario file as JSON)")
    return "rules" if set(document) == {"network"} else "scenario"


@dataclass
class RuleSet:
    """One rules version built: its network, carriers, engine, returns engine and starting stock."""

    version: int
    kind: str
    document: dict[str, Any]
    strategy_spec: StrategySpec
    network: Network
    carriers: CarrierCatalog
    engine: SourcingEngine
    returns: ReturnsEngine
    initial: InventoryLedger
    demand_rate: npt.NDArray[np.float64] | None = None
    uses_capacity: bool = False

    @property
    def strategy_name(self) -> str:
        """The overriding strategy's name, or ``as-configured`` when each inventory model's applies."""
        strategy = self.engine.strategy
        return strategy.name if strategy is not None else "as-configured"

    def scratch_ledger(self) -> InventoryLedger:
        """An empty ledger on this network to load one order's snapshot into (not journalled)."""
        ledger = InventoryLedger(self.network, record=False)
        ledger.demand_rate = self.demand_rate
        return ledger


def build_rule_set(document: Any, strategy: StrategySpec = None, version: int = 0) -> RuleSet:
    """Validate and build a document; bad input raises a DomError naming the field."""
    kind = document_kind(document)
    if kind == "rules":
        spec: RulesFile = parse_spec(RulesFile, document, "document")
        network = _built(spec.network.build, "document.network")
        initial = _built(lambda: spec.network.stock_ledger(network), "document.network")
        carriers = spec.network.carriers.build()
        returns = ReturnsEngine.from_spec(network)
        demand_rate = None
    else:
        from sim.scenario import Scenario
        from sim.world import build_world

        scenario: Scenario = parse_spec(Scenario, document, "document")
        world = _built(lambda: build_world(scenario), "document")
        network, carriers, initial = world.network, world.carriers, world.initial
        returns = ReturnsEngine.from_spec(network, scenario.returns.policy, scenario.returns.terms.build())
        demand_rate = world.demand_rate
    override = None if strategy is None else build_strategy(strategy, "strategy")
    engine = SourcingEngine(network, carriers, strategy=override)
    models = network.inventory_models
    uses_capacity = any(isinstance(f, CapacityLeft) for m in models for f in m.filters) or any(
        s is not None and s.name in _CAPACITY_STRATEGIES for s in [override, *(m.strategy for m in models)]
    )
    return RuleSet(
        version,
        kind,
        document,
        strategy,
        network,
        carriers,
        engine,
        returns,
        initial,
        demand_rate,
        uses_capacity,
    )


def _built(make: Any, prefix: str) -> Any:
    try:
        return make()
    except DomError as exc:
        if exc.field.startswith("document"):
            raise
        raise DomError(f"{prefix}.{exc.field}", exc.problem) from None


class RuleBook:
    """Rule sets built once per process and version (versions never change once stored)."""

    def __init__(self) -> None:
        """An empty book."""
        self._built: dict[int, RuleSet] = {}
        self._lock = threading.Lock()

    def get(self, version: int, document: Any, strategy: StrategySpec) -> RuleSet:
        """The rule set of ``version``, built from its stored document on first use."""
        built = self._built.get(version)
        if built is None:
            with self._lock:
                built = self._built.get(version)
                if built is None:
                    built = build_rule_set(document, strategy, version)
                    self._built[version] = built
        return built

    def known(self, version: int) -> RuleSet | None:
        """The rule set of ``version`` if this process built it already."""
        return self._built.get(version)
