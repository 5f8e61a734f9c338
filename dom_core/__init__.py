"""dom_core: the pure, deterministic order sourcing and returns engine of the DOM workbench."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
