"""The Mesa path and the batch path are one implementation: bit-identical per replicate."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from model import ICSModel, load_scenario, run_replicates
from model import state as S
from model.batch import run_arrays
from model.rng import replicate_seeds

AGENT_FIELDS = S.ORG_RECORD  # every organisations.parquet record field, champion included


@pytest.mark.parametrize("name, overrides", [
    ("ics_mandated", {}),
    ("mandated_buddying", {}),  # a roster CSV
    ("ics_turbulent", {"context.turbulence_rate": 0.3}),  # shocks and a timeline
    ("research_collaboration", {"context.history_of_competition": 0.9,
                                "context.conflict_resolution": 0.0}),  # members exit
])
def test_mesa_model_equals_batch_replicate(name, overrides):
    scenario = load_scenario(name, overrides=overrides, steps=36)
    seeds = replicate_seeds(4, 3)
    metrics, organisations, _ = run_arrays(scenario, seeds, agents=True)
    batch = run_replicates(scenario, replicates=3, seed=4)
    for r, seed in enumerate(seeds):
        model = ICSModel(scenario, seed=int(seed))
        model.run_for(36)
        mv = model.datacollector.get_model_vars_dataframe()
        np.testing.assert_array_equal(mv[list(S.METRICS)].to_numpy(float), metrics[r])
        rows = batch[batch.replicate == r]
        np.testing.assert_array_equal(rows[list(S.METRICS)].to_numpy(float), metrics[r])
        assert (rows["seed"] == seed).all()
        av = model.datacollector.get_agent_vars_dataframe()
        for k, field in enumerate(AGENT_FIELDS):
            mesa_values = av[field].to_numpy(float).reshape(37, -1)
            np.testing.assert_array_equal(mesa_values, organisations[r, :, :, k], err_msg=field)
    if name == "research_collaboration":
        assert metrics[:, -1, S.M_ACTIVE_MEMBERS].min() < scenario.n_organisations


def test_mesa_batch_run_is_a_real_client():
    results = mesa.batch_run(ICSModel, parameters={"scenario": "voluntary_alliance",
                                                   "seed": [1, 2]},
                             iterations=1, max_steps=100, number_processes=1,
                             data_collection_period=1, display_progress=False)
    runs = {row["seed"] for row in results}
    assert runs == {1, 2}
    steps = {row["Step"] for row in results}
    # the model stops itself after the scenario's 60 months (mesa reports steps 0..59)
    assert max(steps) == 59
    row = results[-1]
    assert {"mean_trust", "mean_faith", "output", "faith", "maturity"} <= set(row)


def test_mesa_batch_run_without_a_seed_says_which_seed_each_run_drew():
    """Each model draws a seed when given none; the data collector reports it, so every
    run of such a batch_run is reproduced alone (there was no seed column)."""
    results = mesa.batch_run(ICSModel, parameters={"scenario": "ics_turbulent"},
                             iterations=2, max_steps=12, number_processes=1,
                             data_collection_period=-1, display_progress=False)
    runs = [row for row in results if row["AgentID"] == 1]  # a row per run and agent
    assert len(runs) == 2 and runs[0]["seed"] != runs[1]["seed"]
    for row in runs:
        again = ICSModel("ics_turbulent", seed=row["seed"])
        again.run_for(12)
        last = again.datacollector.get_model_vars_dataframe().iloc[-1]
        for name in S.METRICS:
            assert last[name] == row[name], name


def test_agents_are_mesa_agents_over_the_state_rows():
    model = ICSModel("ics_mandated", seed=3)
    model.run_for(6)
    assert len(model.agents) == 29
    faith = model.agents.agg("faith", np.mean)
    assert faith == pytest.approx(model.state.org[S.FAITH].mean())
    pcns = model.agents.select(lambda a: a.kind == "pcn")
    assert len(pcns) == 12
    groups = dict(model.agents.groupby("kind").count())
    assert groups["vcse"] == 8
    a, b = model.organisations[0], model.organisations[5]
    assert a.trust_in(b) == model.state.pair[S.TRUST, 0, 5]
    assert {o.maturity for o in model.organisations} <= {"pathological", "bureaucratic",
                                                         "generative"}
    a.faith = 0.9  # a view: writes reach the arrays the kernel steps
    assert model.state.org[S.FAITH, 0] == 0.9
    assert len(list(model.network.all_cells)) == 29
    trust = model.state.pair[S.TRUST]
    for i, j, data in model.network.G.edges(data=True):
        assert data["weight"] == pytest.approx(0.5 * (trust[i, j] + trust[j, i]))
    assert model.organisations[4].cell.coordinate == 4



def test_batch_run_with_one_overrides_dict_says_to_wrap_it_in_a_list():
    """mesa.batch_run iterates a dict's keys: the error says what to do instead."""
    from model.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"wrap one overrides dict in a list"):
        mesa.batch_run(ICSModel, {"scenario": "merger", "seed": 1,
                                  "overrides": {"context.funding": 0.2}},
                       iterations=1, max_steps=2, number_processes=1, display_progress=False)
    rows = mesa.batch_run(ICSModel, {"scenario": "merger", "seed": 1,
                                     "overrides": [{"context.funding": 0.2}]},
                          iterations=1, max_steps=2, number_processes=1,
                          display_progress=False)
    assert rows and all(row["overrides"] == {"context.funding": 0.2} for row in rows)



def test_count_metrics_are_integers_on_both_paths():
    """The counts are ints in the Mesa DataCollector as in run_replicates
    (timeseries.parquet), listed once in state.INTEGER_METRICS; the agent table is keyed
    by Mesa's Step and 1-based AgentID (org + 1), as ICSModel's docstring says."""
    assert set(S.INTEGER_METRICS) == {"conflicts", "conflicts_resolved", "shocks", "exits",
                                      "active_members"}
    model = ICSModel("ics_turbulent", seed=2)
    model.run_for(3)
    mesa_types = model.datacollector.get_model_vars_dataframe().dtypes
    batch_types = run_replicates("ics_turbulent", replicates=1, steps=3).dtypes
    for name in S.METRICS:
        kind = np.int64 if name in S.INTEGER_METRICS else np.float64
        assert mesa_types[name] == batch_types[name] == kind, name
    agents = model.datacollector.get_agent_vars_dataframe()
    assert list(agents.index.names) == ["Step", "AgentID"]
    assert sorted(set(agents.index.get_level_values("AgentID"))) == list(
        range(1, len(model.organisations) + 1))



def test_icsmodel_is_in_the_package_listing():
    """Tab completion (dir) lists the lazily imported ICSModel with the other API names."""
    import model

    assert {"ICSModel", "load_scenario", "run_replicates", "Scenario"} <= set(dir(model))


EDGES = {"name": "edges", "regime": "voluntary", "form": "alliance", "steps": 12,
         "organisations": {"acute_trust": 1, "pcn": 2, "vcse": 2}, "context": {"funding": 0.6}}
EVENTS = [{"month": 1, "set": {"funding": 0.1}},  # the first month a timeline can act
          {"month": 12, "set": {"funding": 0.0}},  # the last month, two events
          {"month": 12, "set": {"formalisation": 0.9}},
          {"month": 13, "set": {"funding": 1.0}}]  # past the last month: never happens


def test_timeline_edges_and_extreme_seeds_are_the_same_on_both_paths():
    """Events on the first and last month, two on one month and one past the end act
    alike in ICSModel and the batch kernel, with the smallest and largest seeds."""
    seeds = np.array([0, 2**63 - 1])

    def batch(events):
        metrics, organisations, _ = run_arrays(load_scenario({**EDGES, "timeline": events}),
                                               seeds, agents=True)
        return metrics, organisations

    metrics, organisations = batch(EVENTS)
    for r, seed in enumerate(seeds):
        model = ICSModel({**EDGES, "timeline": EVENTS}, seed=int(seed))
        model.run_for(12)
        mv = model.datacollector.get_model_vars_dataframe()
        np.testing.assert_array_equal(mv[list(S.METRICS)].to_numpy(float), metrics[r])
        av = model.datacollector.get_agent_vars_dataframe()
        for k, field in enumerate(AGENT_FIELDS):
            np.testing.assert_array_equal(av[field].to_numpy(float).reshape(13, -1),
                                          organisations[r, :, :, k], err_msg=field)
    first_only, _ = batch(EVENTS[:1])
    assert not np.array_equal(metrics[:, 1], batch([])[0][:, 1])  # month 1 acts
    np.testing.assert_array_equal(metrics[:, :12], first_only[:, :12])
    assert not np.array_equal(metrics[:, 12], first_only[:, 12])  # the last month acts
    one_event = {"month": 12, "set": {"funding": 0.0, "formalisation": 0.9}}
    np.testing.assert_array_equal(metrics, batch([EVENTS[0], one_event])[0])  # as one
