"""Regime classification and time to synergy on hand-made series with known answers
(THEORY §4; C40 synergy, C20/C36 dissolution)."""

from __future__ import annotations

import numpy as np
import pytest

from model import params as P
from model.regimes import DISSOLUTION, INERTIA, SYNERGY, classify

MONTHS = 61  # months 0..60; defaults: a 12-month window, behaviour 0.5, output 0.15
N = 10


def series(behaviour, output=0.3, members=N):
    """Arrays over months 0..60 from a list of (first month, value) steps."""
    b = np.zeros(MONTHS)
    for month, value in behaviour:
        b[month:] = value
    return b, np.full(MONTHS, float(output)), np.full(MONTHS, float(members))


def run(b, o, a, **constants):
    p = P.DEFAULTS.copy()
    for name, value in constants.items():
        p[P.index(f"constants.{name}")] = value
    code, months = classify(b, o, a, float(N), p)
    return int(code), int(months)


def test_synergy_from_the_month_behaviour_crosses_for_good():
    assert run(*series([(0, 0.2), (20, 0.6)])) == (SYNERGY, 20)


def test_an_early_spell_above_the_threshold_does_not_count():
    b, o, a = series([(0, 0.2), (5, 0.7), (10, 0.3), (30, 0.55)])
    assert run(b, o, a) == (SYNERGY, 30)


def test_behaviour_exactly_at_the_threshold_counts_as_above():
    assert run(*series([(0, 0.2), (40, 0.5)])) == (SYNERGY, 40)


def test_synergy_with_a_final_dip_has_no_time_to_synergy():
    # the window's mean (0.7 x 11 + 0.4) / 12 is above 0.5, but behaviour ends below
    # its threshold, so no month starts a spell above it that lasts to the end
    b, o, a = series([(0, 0.2), (20, 0.7), (60, 0.4)])
    assert run(b, o, a) == (SYNERGY, -1)


def test_low_output_is_inertia_whatever_the_behaviour():
    assert run(*series([(0, 0.9)], output=0.1)) == (INERTIA, -1)


def test_low_behaviour_over_the_window_is_inertia():
    b, o, a = series([(0, 0.9), (50, 0.2)])  # 11 of the 12 final months low
    assert run(b, o, a) == (INERTIA, -1)


@pytest.mark.parametrize("members, regime", [(4, DISSOLUTION), (5, SYNERGY)])
def test_dissolution_below_the_share_of_members_left(members, regime):
    b, o, a = series([(0, 0.9)], members=members)
    assert run(b, o, a)[0] == regime  # dissolution_share 0.5 of 10 members


def test_a_partnership_left_with_one_member_has_dissolved():
    """Two partners, one leaves: half remain (not below dissolution_share 0.5), but one
    organisation is no partnership, however collaboratively it behaves."""
    b, o, a = series([(0, 0.8)], members=2)
    a[30:] = 1.0
    p = P.DEFAULTS.copy()
    assert int(classify(b, o, a, 2.0, p)[0]) == DISSOLUTION
    assert int(classify(b, o, np.full(MONTHS, 2.0), 2.0, p)[0]) == SYNERGY


def test_the_window_is_a_parameter():
    b, o, a = series([(0, 0.2), (57, 0.9)])  # 4 high months
    assert run(b, o, a)[0] == INERTIA
    assert run(b, o, a, regime_window=4) == (SYNERGY, 57)
