"""THEORY §6: the bundled scenarios meet the qualitative calibration targets.

Each target is checked over 100 replicates by `analysis.calibration.targets`,
the same code as `python -m analysis.calibration` (the README's table).
"""

import pytest

from analysis.calibration import TARGETS, targets


@pytest.fixture(scope="module")
def results():
    return dict(zip(TARGETS, targets(replicates=100, seed=0), strict=True))


@pytest.mark.parametrize("target", TARGETS)
def test_calibration_target(results, target):
    statement, met, numbers = results[target]
    assert met, f"THEORY §6 target not met: {statement} ({numbers})"
