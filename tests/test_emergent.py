"""The two emergent checks: bistability, and a mandate buying behaviour with trust.

(a) Bistability (THEORY §1): in the default parameter space the SAME context
    (the supported mandated ICS), run long enough to settle (240 months), ends
    mostly in inertia when initial trust is low (history of competition 0.9,
    no prior success) and mostly in synergy when it is high (history 0.1,
    prior success 0.9). Asserted with 95% Wilson intervals over 200 replicates
    per arm: the low arm's interval lies wholly below a synergy share of 0.3,
    the high arm's wholly above 0.7; and the two arms settle in two distinct
    states (median final behaviour below 0.25 and above 0.75), which a single
    lukewarm equilibrium straddling the bar does not (a shallow behaviour
    slope: the check fails, as a test shows).
(b) The same partners mandated with formalisation 0.8 show more collaborative
    behaviour over months 1-12 than under a voluntary regime with
    formalisation 0.3 (confidence stands in for trust, C11), but LOWER mean
    trust at month 36 (mandate, domination, C01, C17). Paired seeds,
    one-sided Wilcoxon alpha = 0.01, Vargha-Delaney A floor 0.64 each
    (`analysis.contrasts.EMERGENT_MANDATE`).
"""

from __future__ import annotations

import pytest

from analysis.contrasts import (
    EMERGENT_MANDATE,
    HIGH_TRUST,
    LOW_TRUST,
    SETTLING_MONTHS,
    bistability,
    run_contrast,
)
from model.params import MONTH_ZERO_ONLY

REPLICATES = 200


@pytest.fixture(scope="module")
def bistable():
    return bistability("ics_mandated_supported", replicates=REPLICATES, seed=0)


def test_arms_differ_only_in_initial_state():
    """History and prior success act at month 0 only: same rules, different start."""
    assert set(LOW_TRUST) == set(HIGH_TRUST)
    assert set(LOW_TRUST) <= MONTH_ZERO_ONLY


def test_low_initial_trust_ends_mostly_in_inertia(bistable):
    _, hi = bistable.low_interval
    assert bistable.replicates >= 100
    assert hi < 0.3, bistable.describe()


def test_high_initial_trust_ends_mostly_in_synergy(bistable):
    lo, _ = bistable.high_interval
    assert lo > 0.7, bistable.describe()


def test_the_two_starts_settle_in_two_distinct_states(bistable):
    assert bistable.steps == SETTLING_MONTHS
    assert bistable.settled, bistable.describe()


def test_one_lukewarm_equilibrium_is_not_bistable():
    """With a shallow behaviour slope (4, not 11) every run drifts to one middling state
    near the bar; threshold shares alone would still split the two arms at 60 months."""
    shallow = bistability("ics_mandated_supported", replicates=REPLICATES, seed=0,
                          shared={"constants.behaviour_slope": 4.0})
    print(shallow.describe())
    assert not shallow.settled, shallow.describe()


@pytest.mark.parametrize("contrast", EMERGENT_MANDATE, ids=lambda c: c.cmoc)
def test_mandate_buys_early_behaviour_at_the_cost_of_trust(contrast):
    assert contrast.a12_floor == 0.64
    result = run_contrast(contrast, seed=0)
    print(result.describe())
    assert result.supported, result.describe()
