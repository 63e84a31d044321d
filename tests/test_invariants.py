"""Invariants under random valid scenarios (hypothesis): finite, in range, membership rules."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.kinds import KIND_NAMES
from model import ICSModel
from model import params as P
from model import state as S
from model.batch import run_arrays
from model.scenario import FORMS, load_scenario

CONTEXT = [p for p in P.PARAMS if p.group == "context"]
TIMELINE_KEYS = [p for p in CONTEXT if p.key not in P.MONTH_ZERO_ONLY]
SHARES_ORG = ("leadership", "accountability", "faith", "capacity", "confidence", "risk_tolerance",
              "behaviour", "perceived_progress", "active", "funded")
SHARES_PAIR = ("trust", "trust_initial", "communication", "tension", "proximity", "power_gap",
               "culture_distance")


def _value(param):
    hi = min(param.hi, 200.0) if param.key == "context.footprint_km" else param.hi
    return st.floats(param.lo, hi, allow_nan=False)


@st.composite
def scenarios(draw):
    counts = draw(st.dictionaries(st.sampled_from(KIND_NAMES), st.integers(0, 6), min_size=1))
    if sum(counts.values()) < 2:
        counts["pcn"] = counts.get("pcn", 0) + 2
    steps = draw(st.integers(1, 36))
    events = draw(st.lists(st.tuples(st.integers(1, 36), st.sampled_from(TIMELINE_KEYS)),
                           max_size=3, unique_by=lambda e: (e[0], e[1].name)))  # once a month
    return {
        "name": "random",
        "regime": draw(st.sampled_from(["mandated", "voluntary"])),
        "form": draw(st.sampled_from(sorted(FORMS))),
        "steps": steps,
        "organisations": counts,
        "context": {p.name: draw(_value(p)) for p in CONTEXT},
        "timeline": [{"month": m, "set": {p.name: draw(_value(p))}} for m, p in events],
    }


def check_metrics(metrics, n, mandated):
    assert np.isfinite(metrics).all()
    for name in ("mean_trust", "mean_faith", "mean_capacity", "mean_behaviour",
                 "mean_confidence", "mean_risk_tolerance", "mean_perceived_progress",
                 "communication", "output", "real_progress", "strain"):
        column = metrics[..., S.METRICS.index(name)]
        assert (column >= 0).all() and (column <= 1).all(), name
    active = metrics[..., S.M_ACTIVE_MEMBERS]
    assert (np.diff(active, axis=-1) <= 0).all()  # membership only shrinks
    assert (active <= n).all()
    if mandated:
        assert (active == n).all()  # under a mandate nobody leaves
    assert (np.diff(metrics[..., S.M_CUMULATIVE_OUTPUT], axis=-1) >= 0).all()


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), seed=st.integers(0, 2**40))
def test_batch_state_stays_finite_and_in_range(data, seed):
    scenario = load_scenario(data)
    n = scenario.n_organisations
    metrics, orgs, _ = run_arrays(scenario, np.array([seed, seed + 1]), agents=True)
    check_metrics(metrics, n, scenario.regime == "mandated")
    assert np.isfinite(orgs).all() and (orgs >= 0).all() and (orgs <= 1).all()
    active = orgs[..., S.R_ACTIVE]
    assert (np.diff(active, axis=1) <= 0).all()  # an organisation that left never returns


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), seed=st.integers(0, 2**40))
def test_model_state_arrays_stay_in_range(data, seed):
    model = ICSModel(load_scenario(data), seed=seed, network=False)
    for _ in range(model.max_steps):
        model.step()
        state = model.state
        for name in SHARES_ORG:
            row = state.org[S.ORG_FIELDS.index(name)]
            assert np.isfinite(row).all() and (row >= 0).all() and (row <= 1).all(), name
        for name in SHARES_PAIR:
            block = state.pair[S.PAIR_FIELDS.index(name)]
            assert np.isfinite(block).all() and (block >= 0).all() and (block <= 1).all(), name
        assert ((state.culture >= 0) & (state.culture <= 1)).all()
        assert np.isfinite(state.world).all()
    frame = model.datacollector.get_model_vars_dataframe()
    check_metrics(frame[list(S.METRICS)].to_numpy(float)[None], model.state.kind.size,
                  model.scenario.regime == "mandated")
