"""Determinism: same seed, same bits; different seeds differ; thread count does not matter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from model import ICSModel, load_scenario, run_replicates
from model import state as S
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


STRIDED = """
[sweep]
scenario = "research_collaboration"
design = "points"
replicates = 3
steps = 17
seed = 5
stride = 5
chunk = {chunk}
set = {{ "context.conflict_resolution" = 0.0 }}

[[points]]
"organisations.vcse" = 2

[[points]]
"context.history_of_competition" = 0.9

[[points]]
"organisations.vcse" = 2
regime = "mandated"
"""


def test_sweep_rows_do_not_depend_on_chunks_threads_or_stride(tmp_path):
    """A sweep with a coarse time series (stride 5 over 17 months) and points with other
    rosters: one run per chunk on one thread gives the rows of one chunk on every thread,
    and each row is its run's full series (months 0, 5, 10, 15) and summary, as
    `icsabm run` computes them."""
    import numba

    from model.batch import summary_frame
    from model.sweep import read_summary, run_in_process, run_sweep
    from model.sweep_file import load_sweep

    tables = []
    before = numba.get_num_threads()
    try:
        for chunk, threads in ((1, 1), (100, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            path = tmp_path / f"c{chunk}.toml"
            path.write_text(STRIDED.format(chunk=chunk))
            sweep = load_sweep(path)
            run_sweep(sweep, tmp_path / f"c{chunk}", run_in_process)
            tables.append(read_summary(tmp_path / f"c{chunk}"))
    finally:
        numba.set_num_threads(before)
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    rows = tables[0]
    for point, scenario in enumerate(sweep.scenarios):
        mine = rows[rows.point == point].reset_index(drop=True)
        seeds = mine["seed"].to_numpy()
        metrics, _, _ = run_arrays(scenario, seeds)
        alone = summary_frame(scenario, metrics, seeds)
        for column in ("replicate", "seed", *S.SUMMARY):
            pd.testing.assert_series_equal(mine[column], alone[column], check_exact=True,
                                           check_dtype=False)
        for month in (0, 5, 10, 15):
            for name in ("mean_trust", "mean_faith", "mean_behaviour", "output"):
                np.testing.assert_array_equal(mine[f"{name}@{month}"],
                                              metrics[:, month, S.METRICS.index(name)])


def test_run_folder_is_the_python_api_whatever_the_threads(tmp_path):
    """`icsabm run --agents` splits the replicates into chunks by the thread count (4 per
    thread): its three tables equal, column by column, those of the Python API computing
    every replicate in one call, on one thread and on all, for the largest master seed."""
    import numba

    from model.batch import organisations_frame, summary_frame, timeseries_frame
    from model.cli import main

    seed = 2**63 - 1
    scenario = load_scenario("research_collaboration", steps=24,
                             overrides={"context.history_of_competition": 0.9})
    seeds = replicate_seeds(seed, 9)
    metrics, organisations, sizes = run_arrays(scenario, seeds, agents=True)
    expected = {"timeseries": timeseries_frame(metrics, seeds),
                "summary": summary_frame(scenario, metrics, seeds),
                "organisations": organisations_frame(scenario, organisations, sizes)}
    assert expected["summary"]["exits"].any()  # members leave: the loops change
    before = numba.get_num_threads()
    try:
        for threads in {1, numba.config.NUMBA_NUM_THREADS}:
            numba.set_num_threads(threads)
            out = tmp_path / str(threads)
            assert main(["run", "research_collaboration", "--set",
                         "context.history_of_competition=0.9", "--steps", "24",
                         "--replicates", "9", "--seed", str(seed), "--agents", "--out",
                         str(out), "--quiet"]) == 0
            for table, frame in expected.items():
                written = pd.read_parquet(out / f"{table}.parquet")
                pd.testing.assert_frame_equal(written, frame, check_exact=True,
                                              obj=f"{threads} threads: {table}")
    finally:
        numba.set_num_threads(before)
    assert run_replicates(scenario, replicates=9, seed=seed).equals(expected["timeseries"])


def test_a_pickled_model_carries_on_with_the_same_bits():
    """A model pickles (a checkpoint, a process pool's result) and, unpickled, continues
    exactly as the original: its DataCollector's reporters are no closures (they were,
    and `pickle.dumps(model)` raised "Can't pickle local object")."""
    import pickle

    model = ICSModel("voluntary_alliance", seed=3, steps=12)
    model.run_for(4)
    restored = pickle.loads(pickle.dumps(model))
    model.run_for(4)
    restored.run_for(4)
    dc, dc_copy = model.datacollector, restored.datacollector
    pd.testing.assert_frame_equal(dc.get_model_vars_dataframe(),
                                  dc_copy.get_model_vars_dataframe())
    pd.testing.assert_frame_equal(dc.get_agent_vars_dataframe(),
                                  dc_copy.get_agent_vars_dataframe())
    assert all(agent.model is restored for agent in restored.agents)
    assert restored.regime == model.regime


def test_seeds_and_streams_are_numpys_seed_sequence_bit_for_bit():
    """model.rng runs numpy's SeedSequence algorithm on arrays of seeds (numpy's object
    takes 8.5 µs a seed); the seeds and generator states must stay exactly numpy's, which
    the manifests' seed rule names: edge words (0, 2^32 - 1, 2^32, 2^63 - 1) and 2,000
    random draws."""
    from model.rng import replicate_seeds, stream_state, stream_states

    def numpy_seeds(master: int, replicates: int, point: int) -> list[int]:
        words = [np.random.SeedSequence(master, spawn_key=(point, r)).generate_state(
            2, dtype=np.uint32) for r in range(replicates)]
        return [(int(w[0]) << 31) ^ int(w[1]) for w in words]

    rng = np.random.default_rng(11)
    edges = [0, 1, 2**32 - 1, 2**32, 2**63 - 1]
    cases = [(m, p) for m in edges for p in (0, 2**32 - 1, 2**32, 99_999_999)]
    cases += [(int(m), int(p)) for m, p in zip(rng.integers(0, 2**63, 2000),
                                               rng.integers(0, 10**8, 2000), strict=True)]
    for master, point in cases:
        assert replicate_seeds(master, 3, point=point).tolist() == numpy_seeds(master, 3, point)
    seeds = np.array(edges + rng.integers(0, 2**63, 2000).tolist(), dtype=np.int64)
    expected = np.stack([np.random.SeedSequence(int(s)).generate_state(4, dtype=np.uint64)
                         for s in seeds])
    np.testing.assert_array_equal(stream_states(seeds), expected)
    np.testing.assert_array_equal(stream_state(int(seeds[7])), expected[7])
