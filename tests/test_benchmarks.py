"""Smoke test of the benchmark's pure-Python reference (no timings asserted).

The reference (`benchmarks/reference_python.py`) is the measuring stick of
the throughput benchmark; its agreement with the kernel is checked by
`python -m benchmarks.reference_python --check`, not here.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from model.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import reference_python as ref  # noqa: E402


@pytest.mark.parametrize("name", ["voluntary_alliance", "ics_mandated"])
def test_reference_runs_a_few_months(name):
    scenario = load_scenario(name, steps=6)
    model = ref.ReferenceModel(scenario, seed=3)
    for _ in range(scenario.steps):
        model.step()
    assert not model.running
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == scenario.steps + 1
    assert all(math.isfinite(v) for v in series.to_numpy().ravel())
    for column in ("mean_trust", "mean_faith", "mean_behaviour", "mean_capacity"):
        assert series[column].between(0.0, 1.0).all(), column
    regime, months = model.regime()
    assert regime in ref.REGIMES
    assert months == -1 or 0 <= months <= scenario.steps


def test_reference_random_stream_matches_the_kernels_generator():
    import numpy as np

    from model.rng import stream_state, uniform

    state = stream_state(11)
    mine = ref.Xoshiro(11)
    ours = [uniform(state) for _ in range(5)]
    assert [mine.uniform() for _ in range(5)] == ours
    assert np.all(np.isfinite(ours))


def test_two_proportion_test():
    assert ref.two_proportion_p(10, 100, 10, 100) == pytest.approx(1.0)
    assert ref.two_proportion_p(0, 50, 0, 50) == 1.0
    assert ref.two_proportion_p(90, 100, 10, 100) < 1e-6


def test_reference_on_pythons_random_stream():
    scenario = load_scenario("ics_mandated", steps=4)
    first = ref.run(scenario, 5, stream="python")
    assert first["regime"] in ref.REGIMES
    assert all(math.isfinite(first[k]) for k in ("final_mean_trust", "final_mean_faith",
                                                 "final_mean_behaviour", "cumulative_output"))
    assert ref.run(scenario, 5, stream="python") == first  # reproducible for a seed
    other = ref.run(scenario, 6, stream="python")
    assert other["final_mean_trust"] != first["final_mean_trust"]  # seeds differ
    xoshiro = ref.run(scenario, 5)
    assert xoshiro["final_mean_trust"] != first["final_mean_trust"]  # another stream
    with pytest.raises(ValueError, match="stream"):
        ref.run(scenario, 5, stream="mersenne")
    with pytest.raises(ValueError, match="stream"):
        ref.ReferenceModel(scenario, seed=5, stream="")


def test_reference_cli_one_run_on_pythons_random(capsys):
    assert ref.main(["voluntary_alliance", "--seed", "2", "--stream", "python"]) == 0
    printed = capsys.readouterr().out
    assert "'regime'" in printed and "'seed': 2" in printed
    with pytest.raises(SystemExit):
        ref.main(["--stream", "numpy"])


def test_section_profile_times_the_steps_own_calls_and_changes_nothing():
    """`benchmarks.sections` instruments a copy of `kernel.step` generated from its source:
    its sections are step's calls in order, and the runs it times end in the same bits as
    `kernel.step` run plainly."""
    import ast
    import inspect
    import textwrap

    import numpy as np

    from agents.kinds import SECTOR_CULTURE, kind_table
    from benchmarks import sections
    from model import kernel
    from model import state as S
    from model.rng import replicate_seeds, stream_state

    calls = [node.value.func.id
             for node in ast.parse(textwrap.dedent(inspect.getsource(kernel.step))).body[0].body
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    timed_runs, names = sections.build(kernel)
    assert names == calls + ["rest", "measure (month row)", "init_state (per month)"]
    assert "raise_conflicts" in names and "drift_cultures" in names

    scenario = load_scenario("voluntary_alliance", steps=8)
    roster, n = scenario.roster, len(scenario.roster.kinds)
    rngs = np.stack([stream_state(int(s)) for s in replicate_seeds(4, 3)])
    fixed = (roster.kinds, roster.size, roster.x_km, roster.y_km, kind_table(), SECTOR_CULTURE,
             scenario.packed(), scenario.timeline_array())
    acc = np.zeros(len(names), np.int64)
    final = np.zeros((3, S.N_ORG * n + n * n))
    timed_runs(*fixed, rngs, scenario.steps, acc, final)
    assert (acc > 0).all()
    for r in range(3):
        state = S.State.allocate(roster.kinds, SECTOR_CULTURE.shape[1], scenario.packed(),
                                 rngs[r].copy())
        kernel.init_state(state.org, state.pair, state.culture, state.kind, state.sector,
                          state.world, state.params, state.rng, roster.size, roster.x_km,
                          roster.y_km, kind_table(), SECTOR_CULTURE)
        for _ in range(scenario.steps):
            kernel.step(state.org, state.pair, state.culture, state.kind, state.sector,
                        state.world, state.params, state.rng, scenario.timeline_array())
        assert np.array_equal(final[r, :S.N_ORG * n], state.org.ravel())
        assert np.array_equal(final[r, S.N_ORG * n:], state.pair[S.TRUST].ravel())


def test_section_profile_refuses_bad_options_in_one_line(capsys, tmp_path):
    from benchmarks import sections

    assert sections.main(["--runs", "0"]) == 2
    assert sections.main(["--against", str(tmp_path / "missing.py")]) == 2
    assert sections.main(["--scenario", "no_such_scenario", "--runs", "1", "--rounds", "1"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)


def test_section_profile_against_a_copy_of_the_kernel_says_the_bits_agree(tmp_path, capsys):
    from benchmarks import sections
    from model import kernel

    copy = tmp_path / "kernel_copy.py"
    copy.write_text(Path(kernel.__file__).read_text())
    assert sections.main(["--scenario", "voluntary_alliance", "--runs", "2", "--rounds", "1",
                          "--against", str(copy)]) == 0
    table = capsys.readouterr().out
    assert "| drift_cultures |" in table and "| **step + measure** |" in table
    assert "identical, bit for bit" in table


def test_lanes_probe_ways_compute_what_the_per_run_loops_compute():
    """Every lane layout `benchmarks.lanes_probe` times gives the per-run result,
    bit for bit, so its timings compare the same work."""
    from benchmarks import lanes_probe as lp

    rng = np.random.default_rng(3)
    n, lanes = lp.N, lp.LANES
    runs_first = [rng.random((lanes, n, n)) for _ in range(4)]
    lead, active = rng.random((lanes, n)), np.ones((lanes, n))
    active[1, 4] = active[6, 0] = 0.0
    expected = [x.copy() for x in runs_first]
    lp.trust_per_run(*expected, lead, active, 1)
    flat = [np.ascontiguousarray(x.transpose(1, 2, 0)).reshape(n, n * lanes) for x in runs_first]
    lead_lanes = np.ascontiguousarray(lead.T)
    mask = lp.partner_mask(active)
    assert mask.sum() == sum((a.sum() * (a.sum() - 1)) for a in active)
    lp.trust_lanes_masked(*flat, lead_lanes.reshape(-1), mask, 1)
    got = flat[0].reshape(n, n, lanes).transpose(2, 0, 1)
    assert np.array_equal(got, expected[0]) and not np.array_equal(got, runs_first[0])

    sums_run, sums_lanes = np.zeros((lanes, n)), np.zeros((n, lanes))
    lp.sums_per_run(runs_first[1], active, sums_run, 1)
    flat1 = np.ascontiguousarray(runs_first[1].transpose(1, 2, 0)).reshape(n, n * lanes)
    lp.sums_lanes(flat1, mask, sums_lanes, 1)
    assert np.array_equal(sums_run, sums_lanes.T) and sums_run[1, 4] == 0.0

    state = rng.integers(1, 2**63, (4, lanes)).astype(np.uint64)
    per_run, local = np.zeros((lp.DRAWS, lanes)), np.zeros((lp.DRAWS, lanes))
    lp.draws_per_run(state.copy(), per_run, 1)
    lp.draws_lanes_local(state.copy(), local, 1)
    assert np.array_equal(per_run, local)


def test_float32_probe_twin_still_runs_the_kernels_runs():
    """`benchmarks.float32_probe` is a hand-written twin of the kernel: it must still run
    against today's scenario and summary layout, and end where the float64 kernel ends
    (same regime for nearly every seed, final means within float32 rounding drift)."""
    from benchmarks import float32_probe as f32
    from model import state as S
    from model.rng import replicate_seeds

    scenario = load_scenario("ics_mandated_supported")
    seeds = replicate_seeds(0, 40)
    rows64 = f32.Side(scenario, False).run(seeds)
    rows32 = f32.Side(scenario, True).run(seeds)
    assert len(set(rows64[:, S.Y_REGIME])) > 1  # both regimes occur: a real comparison
    same = (rows64[:, S.Y_REGIME] == rows32[:, S.Y_REGIME]).mean()
    assert same >= 0.9, same
    gap = np.abs(rows64[:, S.Y_FINAL_MEAN_TRUST] - rows32[:, S.Y_FINAL_MEAN_TRUST])
    assert np.median(gap) < 1e-4 and not np.array_equal(rows64, rows32)  # measured 1.4e-7


def test_throughput_benchmark_paths_run(tmp_path):
    """The benchmark's own calls of the model (the sweep engine's chunk, the start-up
    probe, a sweep in process) still run against today's API; no timing is checked.
    (A task without the kernels' digest once stopped `bench_throughput` at its first
    measurement, unnoticed.)"""
    import json
    import subprocess

    from benchmarks import bench_throughput as bench

    scenario = bench.scenario_with(10)
    row = bench.time_kernel(scenario, 4, threads=1, reps=[0])
    assert row["runs"] == 4 and row["runs_per_s"] > 0
    done = subprocess.run([sys.executable, "-c", bench.PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"import", "first_run_arrays", "first_summaries", "total"} <= set(
        json.loads(done.stdout.strip().splitlines()[-1]))
    sweep = bench.sweep_in_process(tmp_path, 20, threads=1)
    assert sweep["runs"] == 20 and sweep["points"] == 10
