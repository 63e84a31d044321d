"""Provenance: the git commit of the code that ran, where known (for manifests), and
the installed `icsabm` command of this Python."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The commit of the icsabm checkout (with `-dirty` if it has local changes), or None.

    None too when the code is not a checkout's top folder but an installed copy that
    happens to lie inside some other git repository (a project's `.venv/`): that
    repository's commit says nothing about this code.
    """
    try:
        head = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "--show-toplevel", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    top, commit = head.stdout.split()
    if Path(top).resolve() != _REPO:
        return None
    return f"{commit}-dirty" if status.stdout.strip() else commit


def console_script() -> Path | None:
    """The `icsabm` console script installed for the Python running now: in its scripts
    folder, or the user site's where pip installed there; None if neither has one. Not
    whichever `icsabm` comes first on PATH, which may be another installation's."""
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        path = Path(sysconfig.get_path("scripts", scheme)) / "icsabm"
        if path.is_file():
            return path
    return None
