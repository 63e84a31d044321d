"""Small statistics shared by the CLI, sweeps and validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

REGIME_ORDER = ("synergy", "inertia", "dissolution")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for z = 1.96).

    Returns (nan, nan) when n is 0.
    """
    if n <= 0:
        return math.nan, math.nan
    low, high = wilson_intervals(np.array([successes]), np.array([n]), z)
    return float(low[0]), float(high[0])


def wilson_intervals(successes: np.ndarray, n: np.ndarray,
                     z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """`wilson_interval` of many proportions at once (arrays of whole numbers, n > 0)."""
    successes, n = np.asarray(successes, np.int64), np.asarray(n, np.int64)
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
