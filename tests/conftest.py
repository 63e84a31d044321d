"""Shared fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def icsabm() -> str:
    """The `icsabm` console script installed for the Python running the tests
    (`model.provenance.console_script`), not whichever comes first on PATH."""
    from model.provenance import console_script

    path = console_script()
    if path is None:
        pytest.fail(f"no icsabm console script installed for {sys.executable}: pip install -e .")
    return str(path)
