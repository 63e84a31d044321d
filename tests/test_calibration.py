"""THEORY §6: the bundled scenarios meet the qualitative calibration targets.

Each target is checked over 100 replicates (400 for the alliance, supported
and turbulent ICS) by `analysis.calibration.targets`, the same code as
`python -m analysis.calibration` (the README's table). The turbulence,
weaker-partner and merger targets are paired tests, and a test below shows
each failing without the mechanism it names; the supported ICS's timing is a
Mann-Whitney test and buddying's early behaviour a ratio.
"""

import pytest

from analysis.calibration import (
    TARGETS,
    knocked_back,
    run_arm,
    runs_on_confidence,
    targets,
    weaker_partner_trusts_less,
)


@pytest.fixture(scope="module")
def results():
    return dict(zip(TARGETS, targets(replicates=100, seed=0), strict=True))


@pytest.mark.parametrize("target", TARGETS)
def test_calibration_target(results, target):
    statement, met, numbers = results[target]
    assert met, f"THEORY §6 target not met: {statement} ({numbers})"


# --- each paired target fails without the mechanism it names -------------------------


def test_turbulence_target_fails_without_turbulence():
    """The same calm arm twice: no run falls back only 'with turbulence'."""
    calm = run_arm("ics_mandated_supported", 100, 0)
    met, numbers = knocked_back(calm, calm)
    assert not met, numbers


def test_weaker_partner_target_fails_without_domination():
    """C17 off (no power-gap penalty at month 0, no domination loss): the weaker partner
    trusts no less than the larger one."""
    arm = run_arm("mandated_buddying", 100, 0, {"constants.trust_power_gap": 0.0,
                                                 "constants.trust_loss_power": 0.0},
                  agents=True)
    met, numbers = weaker_partner_trusts_less(arm)
    assert not met, numbers


def test_merger_target_fails_when_behaviour_does_not_run_on_confidence():
    """No confidence at all (confidence_base 0): removing it costs nothing, removing trust
    costs behaviour."""
    met, numbers = runs_on_confidence("merger", 100, 0, {"constants.confidence_base": 0.0})
    assert not met, numbers
