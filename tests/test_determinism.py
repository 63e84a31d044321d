"""Determinism: same seed, same bits; different seeds differ; thread count does not matter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from model import ICSModel, load_scenario, run_replicates
from model.batch import run_arrays
from model.rng import replicate_seeds


def test_same_seed_same_bits_batch():
    scenario = load_scenario("ics_turbulent", steps=36)
    a = run_replicates(scenario, replicates=6, seed=11)
    b = run_replicates(scenario, replicates=6, seed=11)
    assert a.equals(b)


def test_same_seed_same_bits_mesa():
    runs = []
    for _ in range(2):
        m = ICSModel("research_collaboration", seed=99)
        m.run_for(24)
        runs.append((m.datacollector.get_model_vars_dataframe(), m.state.pair.copy(),
                     m.state.org.copy(), m.state.rng.copy()))
    assert runs[0][0].equals(runs[1][0])
    for x, y in zip(runs[0][1:], runs[1][1:], strict=True):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ():
    scenario = load_scenario("ics_mandated", steps=12)
    a = run_replicates(scenario, replicates=4, seed=1)
    b = run_replicates(scenario, replicates=4, seed=2)
    assert not np.array_equal(a["mean_trust"].to_numpy(), b["mean_trust"].to_numpy())
    seeds = a.groupby("replicate")["seed"].first()
    assert seeds.nunique() == 4
    within = a.pivot(index="step", columns="replicate", values="mean_trust")
    assert within.iloc[-1].nunique() == 4  # replicates differ from each other too


def test_replicate_does_not_depend_on_its_neighbours():
    scenario = load_scenario("ics_mandated", steps=24)
    seeds = replicate_seeds(5, 3)
    together, _, _ = run_arrays(scenario, seeds)
    alone, _, _ = run_arrays(scenario, seeds[2:])
    np.testing.assert_array_equal(together[2], alone[0])


SCRIPT = textwrap.dedent("""
    import sys
    import numba
    import numpy as np
    from model import load_scenario
    from model.batch import run_arrays
    from model.rng import replicate_seeds
    metrics, _, _ = run_arrays(load_scenario("ics_turbulent", steps=36), replicate_seeds(3, 8))
    np.save(sys.argv[1], metrics)
    print(numba.get_num_threads())
""")


def test_thread_count_does_not_change_results(tmp_path):
    results = {}
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}.npy"
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env,
                              capture_output=True, text=True, check=True)
        assert proc.stdout.strip() == threads
        results[threads] = np.load(out)
    np.testing.assert_array_equal(results["1"], results["2"])
