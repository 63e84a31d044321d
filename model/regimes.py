"""Regime of a run and maturity of an organisation (THEORY §4).

One implementation each, used by the batch runner, `ICSModel`, the CLI and
the analysis code. Thresholds are parameters (`constants.*`) with documented
defaults.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model import params as P

REGIMES: tuple[str, ...] = ("inertia", "synergy", "dissolution")
INERTIA, SYNERGY, DISSOLUTION = 0, 1, 2
MATURITY: tuple[str, ...] = ("pathological", "bureaucratic", "generative")


@njit(cache=True)
def classify(mean_behaviour, output, active_members, n_organisations, p):
    """Regime code and time to synergy of one run from its time series.

    Args:
        mean_behaviour, output, active_members: arrays over months 0..T.
        n_organisations: members at month 0.
        p: the packed parameters.

    Returns:
        (regime code, time to synergy in months or -1). *Dissolution*: fewer
        than `dissolution_share` of the members remain (only voluntary members
        can leave, C20, C36). *Synergy*: over the final `regime_window` months
        mean behaviour and output are both above their thresholds (C40).
        Otherwise *inertia*. Time to synergy is the first month from which
        mean behaviour stays above its threshold to the end.
    """
    last = mean_behaviour.shape[0] - 1
    if active_members[last] < p[P.DISSOLUTION_SHARE] * n_organisations:
        return DISSOLUTION, -1
    start = max(1, last + 1 - int(p[P.REGIME_WINDOW]))
    count = last + 1 - start
    if count <= 0:
        start = last
        count = 1
    b = 0.0
    o = 0.0
    for t in range(start, last + 1):
        b += mean_behaviour[t]
        o += output[t]
    if b / count < p[P.SYNERGY_BEHAVIOUR] or o / count < p[P.SYNERGY_OUTPUT]:
        return INERTIA, -1
    first = last
    while first > 0 and mean_behaviour[first - 1] >= p[P.SYNERGY_BEHAVIOUR]:
        first -= 1
    return SYNERGY, first


def maturity(trust_in_others, faith, p: np.ndarray):
    """Maturity level index (0 pathological, 1 bureaucratic, 2 generative).

    M23's adaptation of Westrum's typology: the mean of an organisation's trust
    in its partners and its faith, cut at `maturity_bureaucratic` and
    `maturity_generative`. Works on scalars and arrays alike.
    """
    score = 0.5 * (np.asarray(trust_in_others, dtype=float) + np.asarray(faith, dtype=float))
    return (score >= p[P.MATURITY_BUREAUCRATIC]).astype(np.int64) + (
        score >= p[P.MATURITY_GENERATIVE]
    ).astype(np.int64)
