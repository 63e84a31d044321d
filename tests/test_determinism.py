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


def test_in_threads_covers_every_run_once():
    import threading

    import numba

    from model.batch import in_threads

    for runs in (0, 1, 7, 64, 1001):
        calls, lock = [], threading.Lock()

        def block(lo, hi, calls=calls, lock=lock):
            with lock:
                calls.append((lo, hi))

        in_threads(block, runs)
        covered = sorted(r for lo, hi in calls for r in range(lo, hi))
        assert covered == list(range(runs))
        assert all(hi > lo for lo, hi in calls)
        if runs >= 4 * numba.get_num_threads():  # enough blocks to keep every thread busy
            assert len(calls) >= numba.get_num_threads()


def test_summaries_do_not_depend_on_the_thread_count():
    import numba

    from model.batch import run_summaries
    from model.rng import stream_state

    scenario = load_scenario("ics_turbulent", steps=24)
    roster = scenario.roster
    seeds = replicate_seeds(5, 37)
    rngs = np.stack([stream_state(int(s)) for s in seeds])
    params = np.tile(scenario.packed(), (len(seeds), 1))
    out = {}
    before = numba.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            out[threads] = run_summaries(roster.kinds, roster.size, roster.x_km, roster.y_km,
                                         params, scenario.timeline_array(), rngs, 24, 6)
    finally:
        numba.set_num_threads(before)
    (a, ca), (b, cb) = out.values() if len(out) == 2 else (out[1], out[1])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca, cb)
    assert ca.shape == (37, 24 // 6 + 1, ca.shape[2])
