"""Keep numba's on-disk cache honest across edits of the model's source.

numba invalidates a cached kernel only when the file that defines it changes,
not when a module it reads constants or helpers from changes (the generated
indices of `params` and `state`, the generator in `rng`). Before any kernel is
loaded, `check()` hashes the source of every module the kernels depend on and
empties this package's numba cache when that hash has changed since the
cache was written. Nothing else is touched. With `NUMBA_CACHE_DIR` set, numba
keeps the cache in a folder of its own under that directory, and that folder is
the one checked.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SOURCES = (
    *(_PACKAGE / name for name in ("batch.py", "kernel.py", "params.py", "regimes.py", "rng.py",
                                   "state.py")),
    _PACKAGE.parent / "agents" / "kinds.py",
)
_STAMP = "icsabm-kernel-sources.sha256"


@functools.cache
def source_hash() -> str:
    """SHA-256 of the sources the kernels depend on (read once per process): equal
    digests mean the same runs for the same seeds."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_folder() -> Path:
    """Where numba keeps this package's cache: `NUMBA_CACHE_DIR`'s folder for the package
    when that is set (numba then looks nowhere else), else `model/__pycache__`."""
    from numba.core import caching, config

    if config.CACHE_DIR:
        sub = caching.UserProvidedCacheLocator.get_suitable_cache_subpath(
            str(_PACKAGE / "kernel.py"))
        return Path(config.CACHE_DIR) / sub
    return _PACKAGE / "__pycache__"


def check() -> None:
    """Drop stale numba cache files of this package (best effort, never raises)."""
    cache = cache_folder()
    try:
        current = source_hash()
        stamp = cache / _STAMP
        if stamp.exists() and stamp.read_text() == current:
            return
        cache.mkdir(parents=True, exist_ok=True)
        for pattern in ("*.nbi", "*.nbc"):
            for stale in cache.glob(pattern):
                stale.unlink(missing_ok=True)
        stamp.write_text(current)
    except OSError:
        pass  # a read-only install: numba then falls back to its own cache rules
