"""Small retailer files for the import tests: ``data/network`` (a valid network: a DC, a 3PL, two stores,
a drop-ship vendor and a pickup point in DE/AT/FR, four SKUs, eight stock rows, four carrier services),
and the order exports of Shopify, Magento and Olist in their published layouts (``data/<format>``).

``broken`` copies the network folder and replaces one file's text, so a test states only the bad rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
NETWORK = DATA / "network"


@pytest.fixture
def network_copy(tmp_path: Path) -> Path:
    """A copy of the valid network folder, to edit."""
    folder = tmp_path / "network"
    shutil.copytree(NETWORK, folder)
    return folder


@pytest.fixture
def broken(network_copy: Path) -> Callable[[str, str], Path]:
    """``broken(file, text)``: the network folder with ``file`` (e.g. ``stock.csv``) replaced by ``text``."""

    def make(name: str, text: str) -> Path:
        (network_copy / name).write_text(text.strip() + "\n", encoding="utf-8")
        return network_copy

    return make


def append(folder: Path, name: str, *rows: str) -> Path:
    """Append rows to a file of ``folder``; returns the folder."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return folder
