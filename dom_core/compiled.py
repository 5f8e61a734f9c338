"""The optional compiled build of the hot modules, used only while it matches their sources exactly.

``tools/build_compiled.py`` compiles the modules in ``COMPILED_MODULES`` unchanged with Cython into
``.compiled/<tag>/``, where the tag is a hash of those modules' sources, the build recipe and the
interpreter's ABI.
Each package of ours calls ``prefer_compiled`` first thing, which puts that build's folder ahead of
the sources on the package's ``__path__``, so ``import dom_core.engine`` finds the extension module.
Edit one source and the tag changes: the old build no longer matches, and the sources run until the
build is made again. ``DOM_PURE_PYTHON=1`` runs the sources regardless (profiling, debugging).
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = ROOT / ".compiled"
PURE_ENV = "DOM_PURE_PYTHON"

# the modules on the per-order path of a simulation, as paths from the repository root
COMPILED_MODULES: tuple[str, ...] = (
    "dom_core/capacity.py",
    "dom_core/carriers.py",
    "dom_core/decision.py",
    "dom_core/engine.py",
    "dom_core/geo.py",
    "dom_core/inventory.py",
    "dom_core/model.py",
    "dom_core/network.py",
    "dom_core/quoting.py",
    "dom_core/returns.py",
    "dom_core/rules.py",
    "dom_core/strategies/base.py",
    "dom_core/strategies/commerce_layer.py",
    "dom_core/strategies/magento.py",
    "dom_core/strategies/objective.py",
    "dom_core/strategies/ranked.py",
    "sim/demand.py",
    "sim/engines.py",
    "sim/environment.py",
    "sim/model.py",
    "sim/operations.py",
    "sim/parcels.py",
    "sim/records.py",
    "sim/shared.py",
    "sim/tables.py",
)


RECIPE = "tools/build_compiled.py"  # how they are compiled: a new recipe makes a new build too


def source_tag(root: Path = ROOT, modules: tuple[str, ...] = COMPILED_MODULES) -> str:
    """A hash of the compiled modules' paths and sources, the build recipe and this interpreter's ABI."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    digest.update(_extension_suffix().encode())
    for module in (*modules, RECIPE):
        digest.update(module.encode() + b"\0")
        digest.update((root / module).read_bytes())
    return digest.hexdigest()[:16]


def build_dir(root: Path = ROOT) -> Path:
    """Where the build for the current sources lives (it may not exist)."""
    return root / BUILD_ROOT.name / source_tag(root)


def matching_build(root: Path = ROOT) -> Path | None:
    """The complete build for the sources under ``root`` as they are now, or None (also under
    ``DOM_PURE_PYTHON=1``, or when a source is missing, as in an installed copy without the repository)."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        folder = build_dir(root)
    except OSError:
        return None
    return folder if (folder / "COMPLETE").is_file() else None


@cache
def _current_build() -> Path | None:
    return matching_build()


def prefer_compiled(package: str, path: list[str]) -> list[str]:
    """``path`` (a package's ``__path__``) with the matching build's folder for it first, if one exists."""
    build = _current_build()
    if build is None:
        return path
    folder = build.joinpath(*package.split("."))
    return [str(folder), *path] if folder.is_dir() else path


def active() -> bool:
    """True if this process runs the compiled build (checked on the engine module it loaded)."""
    import dom_core.engine

    build = _current_build()
    return build is not None and Path(dom_core.engine.__file__ or "").is_relative_to(build)


def _extension_suffix() -> str:
    import importlib.machinery

    return importlib.machinery.EXTENSION_SUFFIXES[0]
