"""Sourcing strategies, one class each behind the ``Strategy`` protocol, registered by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dom_core.compiled import prefer_compiled

__path__ = prefer_compiled(__name__, __path__)  # before the strategy modules are imported

from dom_core.strategies import commerce_layer, magento, objective, optimal, ranked
from dom_core.strategies.base import STRATEGIES, Plan, SourcingContext, Strategy

__all__ = ["STRATEGIES", "Plan", "SourcingContext", "Strategy", "available", "build_strategy"]
_MODULES = (commerce_layer, magento, ranked, objective, optimal)  # importing them registers their strategies


def available() -> list[str]:
    """Names of every registered strategy."""
    return STRATEGIES.names()


def build_strategy(spec: str | Mapping[str, Any], field: str = "strategy") -> Strategy:
    """Build a strategy from its name or ``{kind: name, **parameters}``; errors name the field."""
    built: Strategy = STRATEGIES.build(spec, field)
    return built
