"""A timeline that changes the regime or the form mid-run (THEORY §2, §5 step 2).

The same seeds with and without the event: the runs agree to the bit before its month
and every rule that reads the regime or the form follows it from that month on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from model import ICSModel, load_scenario
from model import state as S
from model.batch import run_arrays
from model.rng import replicate_seeds
from model.scenario import Scenario, from_resolved

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import reference_python as ref  # noqa: E402

MONTH = 12
#: research_collaboration, where about half the replicates lose members (C20, C36),
#: with more conflict so that members also leave after month 12.
LEAVERS = {"context.history_of_competition": 0.9, "context.conflict_resolution": 0.0}
SEEDS = replicate_seeds(11, 40)


def _leavers(regime: str, events: list[dict], steps: int = 48) -> Scenario:
    data = load_scenario("research_collaboration", overrides={**LEAVERS, "regime": regime},
                         steps=steps).to_dict()
    return from_resolved({**data, "timeline": events})


def _runs(regime: str, events: list[dict]) -> np.ndarray:
    return run_arrays(_leavers(regime, events), SEEDS)[0]


def _exits_from(metrics: np.ndarray, month: int) -> np.ndarray:
    """Members who left at or after `month`, per run."""
    return metrics[:, month:, S.M_EXITS].sum(axis=1)


def test_a_mandate_from_month_12_keeps_every_member_from_then_on():
    """C36 under a mandate: nobody leaves. Made statutory at month 12, a voluntary
    partnership keeps the members it still has; the same seeds left alone lose more."""
    voluntary = _runs("voluntary", [])
    statutory = _runs("voluntary", [{"month": MONTH, "set": {"regime": "mandated"}}])
    np.testing.assert_array_equal(statutory[:, :MONTH], voluntary[:, :MONTH])
    assert _exits_from(voluntary, 1).sum() > 0 and _exits_from(voluntary, MONTH).sum() > 0
    assert _exits_from(statutory, MONTH).sum() == 0
    np.testing.assert_array_equal(statutory[:, MONTH:, S.M_ACTIVE_MEMBERS],
                                  np.repeat(statutory[:, MONTH - 1:MONTH, S.M_ACTIVE_MEMBERS],
                                            statutory.shape[1] - MONTH, axis=1))


def test_a_mandate_lifted_at_month_12_lets_members_leave_from_then_on():
    """The reverse: mandated at first, nobody leaves before month 12; released, the
    members whose faith has long been low leave (their low-faith months kept counting)."""
    mandated = _runs("mandated", [])
    released = _runs("mandated", [{"month": MONTH, "set": {"regime": "voluntary"}}])
    np.testing.assert_array_equal(released[:, :MONTH], mandated[:, :MONTH])
    assert _exits_from(mandated, 1).sum() == 0
    assert _exits_from(released, 1).sum() == _exits_from(released, MONTH).sum() > 0


def _change_at_month(base: dict, changes: dict, seeds: np.ndarray) -> np.ndarray:
    """Month `MONTH`'s metrics with the event minus without it, run by run (the same
    seeds), after checking that the two runs agree to the bit before that month."""
    alone = run_arrays(load_scenario(base), seeds)[0]
    changed = run_arrays(load_scenario({**base, "timeline": [
        {"month": MONTH, "set": changes}]}), seeds)[0]
    np.testing.assert_array_equal(changed[:, :MONTH], alone[:, :MONTH])
    return changed[:, MONTH] - alone[:, MONTH]


def test_a_mandate_acts_on_confidence_and_legitimacy_from_its_month():
    """C11 and C02 read the regime every month: from the mandate's month the mean
    confidence rises and, through legitimacy (C02), faith falls below the run without it,
    replicate by replicate (a small ICS, everyone stays, so the two means compare)."""
    base = {"regime": "voluntary", "form": "ics", "steps": 24,
            "organisations": {"icb": 1, "acute_trust": 2, "local_authority": 1, "pcn": 4},
            "context": {"formalisation": 0.6},
            "constants": {"exit_patience": 120, "exit_grievance": 100}}
    change = _change_at_month(base, {"regime": "mandated"}, replicate_seeds(5, 20))
    assert (change[:, S.M_MEAN_CONFIDENCE] > 0).all()
    assert (change[:, S.M_MEAN_FAITH] < 0).all()


def test_a_deeper_form_from_month_12_raises_confidence_from_then_on():
    """C11: confidence is larger in integrative forms. An alliance that becomes a merger
    at month 12 gains confidence from that month, not before."""
    base = {"regime": "voluntary", "form": "alliance", "steps": 18,
            "organisations": {"acute_trust": 3}, "context": {"formalisation": 0.6}}
    change = _change_at_month(base, {"form": "merger"}, replicate_seeds(6, 10))
    assert (change[:, S.M_MEAN_CONFIDENCE] > 0).all()


@pytest.mark.parametrize("regime, event", [("voluntary", "mandated"),
                                           ("mandated", "voluntary")])
def test_a_regime_change_is_the_same_on_the_mesa_path_and_the_reference(regime, event):
    """ICSModel and the pure-Python reference (on the kernel's stream) apply the change
    on the same month as the batch kernel: the reference read the regime before the
    month's timeline events, so its exit rule lagged a month behind."""
    scenario = _leavers(regime, [{"month": MONTH, "set": {"regime": event}}], steps=30)
    seeds = SEEDS[:8]
    metrics = run_arrays(scenario, seeds)[0]
    assert _exits_from(metrics, MONTH).sum() > 0 or _exits_from(metrics, 1).sum() > 0
    for r, seed in enumerate(seeds):
        model = ICSModel(scenario, seed=int(seed))
        model.run_for(30)
        mv = model.datacollector.get_model_vars_dataframe()
        np.testing.assert_array_equal(mv[list(S.METRICS)].to_numpy(float), metrics[r])
        reference = ref.ReferenceModel(scenario, seed=int(seed))
        for _ in range(30):
            reference.step()
        series = reference.datacollector.get_model_vars_dataframe()
        np.testing.assert_array_equal(series["active_members"].to_numpy(float),
                                      metrics[r, :, S.M_ACTIVE_MEMBERS])
        np.testing.assert_allclose(series["mean_trust"].to_numpy(float),
                                   metrics[r, :, S.M_MEAN_TRUST], rtol=0, atol=1e-9)
