"""dom_core: the pure, deterministic order sourcing and returns engine of the DOM workbench."""

from __future__ import annotations

from dom_core.compiled import prefer_compiled

__path__ = prefer_compiled(__name__, __path__)  # the compiled hot modules, while they match the sources

__all__ = ["__version__"]
__version__ = "0.1.0"
