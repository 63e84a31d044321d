"""Regime of a run and maturity of an organisation (THEORY §4).

One implementation each, used by the batch runner, `ICSModel`, the CLI and
the analysis code. Thresholds are parameters (`constants.*`) with documented
defaults.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model import params as P
from model import state as S

REGIMES: tuple[str, ...] = ("inertia", "synergy", "dissolution")
INERTIA, SYNERGY, DISSOLUTION = 0, 1, 2
#: Fewer members than this is no partnership: dissolution (THEORY §4; one organisation
#: cannot collaborate). The browser app and the figures leave such months out of means.
MIN_MEMBERS = 2
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
        than `dissolution_share` of the members remain, or fewer than two (one
        organisation is no partnership; only voluntary members can leave, C20,
        C36). *Synergy*: over the final `regime_window` months
        mean behaviour and output are both at or above their thresholds (C40).
        Otherwise *inertia*. Time to synergy is the first month from which
        mean behaviour stays at or above its threshold to the end; -1 when the
        run is not synergy, or when behaviour is below its threshold in the
        final month (the window's mean can still be above it): then no month
        qualifies.
    """
    last = mean_behaviour.shape[0] - 1
    left = active_members[last]
    if left < p[P.DISSOLUTION_SHARE] * n_organisations or left < min(MIN_MEMBERS, n_organisations):
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
    if mean_behaviour[last] < p[P.SYNERGY_BEHAVIOUR]:
        return SYNERGY, -1
    first = last
    while first > 0 and mean_behaviour[first - 1] >= p[P.SYNERGY_BEHAVIOUR]:
        first -= 1
    return SYNERGY, first


@njit(cache=True)
def summarise(metrics, n_organisations, p, out):
    """Reduce one run's time series `[T+1, N_METRICS]` to its summary row `out`.

    The row follows `state.SUMMARY`: regime code and time to synergy from
    `classify`, final means, cumulative output, exits, and totals of
    conflicts raised and resolved and of shocks.
    """
    last = metrics.shape[0] - 1
    code, months = classify(metrics[:, S.M_MEAN_BEHAVIOUR], metrics[:, S.M_OUTPUT],
                            metrics[:, S.M_ACTIVE_MEMBERS], n_organisations, p)
    out[S.Y_REGIME] = code
    out[S.Y_TIME_TO_SYNERGY] = months
    out[S.Y_FINAL_MEAN_TRUST] = metrics[last, S.M_MEAN_TRUST]
    out[S.Y_FINAL_MEAN_FAITH] = metrics[last, S.M_MEAN_FAITH]
    out[S.Y_FINAL_MEAN_BEHAVIOUR] = metrics[last, S.M_MEAN_BEHAVIOUR]
    out[S.Y_FINAL_MEAN_CAPACITY] = metrics[last, S.M_MEAN_CAPACITY]
    out[S.Y_FINAL_MEAN_CONFIDENCE] = metrics[last, S.M_MEAN_CONFIDENCE]
    out[S.Y_CUMULATIVE_OUTPUT] = metrics[last, S.M_CUMULATIVE_OUTPUT]
    out[S.Y_EXITS] = n_organisations - metrics[last, S.M_ACTIVE_MEMBERS]
    out[S.Y_CONFLICTS] = metrics[:, S.M_CONFLICTS].sum()
    out[S.Y_CONFLICTS_RESOLVED] = metrics[:, S.M_CONFLICTS_RESOLVED].sum()
    out[S.Y_SHOCKS] = metrics[:, S.M_SHOCKS].sum()


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
