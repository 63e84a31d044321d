"""Small statistics shared by the CLI, sweeps and validation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

REGIME_ORDER = ("synergy", "inertia", "dissolution")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for z = 1.96).

    `successes` and `n` are whole numbers (ints, or floats such as 12.0), with
    0 <= successes <= n. Returns (nan, nan) when n is 0.

    Raises:
        ValueError: a count that is not a whole number, or successes outside [0, n].
    """
    low, high = wilson_intervals(np.array([successes]), np.array([n]), z)
    return float(low[0]), float(high[0])


def _counts(name: str, values: Any) -> np.ndarray:
    """`values` as int64 when every one is a whole number (12 or 12.0); ValueError
    otherwise: 28.999999999999996 (a share times n) would be cut to 28 without a word."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    whole = np.zeros(array.shape, bool)
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
    if whole.all():
        return array.astype(np.int64)
    bad = array[~whole].reshape(-1)[0]
    bad = bad.item() if isinstance(bad, np.generic) else bad
    raise ValueError(f"{name} = {bad!r} is not a whole number; allowed: counts (round a "
                     "share times n first)")


def wilson_intervals(successes: Any, n: Any,
                     z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """`wilson_interval` of many proportions at once (array-likes of whole numbers, with
    0 <= successes <= n; nan bounds where n is 0).

    Raises:
        ValueError: a count that is not a whole number, or successes outside [0, n].
    """
    successes, n = _counts("successes", successes), _counts("n", n)
    outside = (successes < 0) | (successes > n)
    if np.any(outside):
        k, m = np.broadcast_arrays(successes, n)
        first = np.flatnonzero(np.broadcast_to(outside, k.shape))[0]
        raise ValueError(f"successes = {k.reshape(-1)[first]} of n = {m.reshape(-1)[first]}; "
                         "allowed: 0 <= successes <= n")
    with np.errstate(divide="ignore", invalid="ignore"):  # n = 0: nan bounds, no warning
        p = successes / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval contains p; rounding can leave a bound 1e-16 on the wrong side of a
    # share of 0 or 1 (6 of 6: 0.9999999999999999), so the bounds are kept around p
    low = np.minimum(p, np.maximum(0.0, centre - half))
    return low, np.maximum(p, np.minimum(1.0, centre + half))


def regime_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Count, share and 95% Wilson interval of each regime in a summary table."""
    n = len(summary)
    rows = []
    for regime in REGIME_ORDER:
        count = int((summary["regime"] == regime).sum())
        lo, hi = wilson_interval(count, n)
        rows.append({"regime": regime, "count": count, "share": count / n if n else math.nan,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)
