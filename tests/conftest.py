"""Shared fixtures."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def icsabm() -> str:
    """The `icsabm` console script installed for the Python running the tests: in its
    scripts folder, or the user site's where pip installed there. Not whichever `icsabm`
    comes first on PATH, which may be missing (a venv used without activating it,
    ~/.local/bin not on PATH) or another installation's."""
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        path = Path(sysconfig.get_path("scripts", scheme)) / "icsabm"
        if path.is_file():
            return str(path)
    pytest.fail(f"no icsabm console script installed for {sys.executable}: pip install -e .")
