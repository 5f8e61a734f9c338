"""sim: the SimPy simulation and experiments that drive the dom_core engine."""

from __future__ import annotations

from dom_core.compiled import prefer_compiled

__path__ = prefer_compiled(__name__, __path__)  # the compiled hot modules, while they match the sources
