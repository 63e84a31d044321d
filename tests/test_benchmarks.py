"""Smoke test of the benchmark's pure-Python reference (no timings asserted).

The reference (`benchmarks/reference_python.py`) is the measuring stick of
the throughput benchmark; its agreement with the kernel is checked by
`python -m benchmarks.reference_python --check`, not here.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numba
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
    import subprocess

    from benchmarks import bench_throughput as bench

    scenario = bench.scenario_with(10)
    row = bench.time_kernel(scenario, 4, threads=1, reps=[0])
    assert row["runs"] == 4 and row["runs_per_s"] > 0
    assert row["cpu_runs_per_s"] == 4 / row["cpu_seconds"]  # one thread: CPU time too
    if numba.config.NUMBA_NUM_THREADS > 1:  # several threads: wall time only
        assert not set(bench.CPU_FIELDS) & set(bench.time_kernel(scenario, 4, threads=2,
                                                                 reps=[0]))
    done = subprocess.run([sys.executable, "-c", bench.PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"import", "first_run_arrays", "first_summaries", "total"} <= set(
        json.loads(done.stdout.strip().splitlines()[-1]))
    sweep = bench.sweep_in_process(tmp_path, 20, threads=1)
    assert sweep["runs"] == 20 and sweep["points"] == 10


def test_two_clocks_times_one_call_in_wall_and_cpu_time(monkeypatch):
    from types import SimpleNamespace

    from benchmarks import bench_throughput as bench

    wall, cpu = iter([10.0, 12.5]), iter([3.0, 4.0])
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(wall),
                                                       process_time=lambda: next(cpu)))
    assert bench.two_clocks(lambda x, y=0: x + y, 1, y=2) == (3, 2.5, 1.0)
    assert bench.best_of(lambda rep: [(3.0, 1.0), (2.0, 2.0)][rep], [0, 1]) == (2.0, 1.0)
    assert bench.best_of(lambda rep: [3.0, 2.0][rep], [0, 1]) == 2.0


def test_single_core_rows_keep_each_clocks_fastest_round(monkeypatch):
    """`side_by_side` runs the three single-core paths in rounds; every row keeps the
    round fastest by wall time for its wall-time fields and the round fastest by CPU time
    for its CPU-time fields (here round 0 and round 1: scripted clocks, no timing read)."""
    from benchmarks import bench_throughput as bench

    calls = []

    def scripted(call, *args, **kwargs):  # 4 timed calls a round: kernel, batch_run, 2 refs
        calls.append(call)
        rnd = (len(calls) - 1) // 4
        return call(*args, **kwargs), (1.0, 2.0)[rnd], (3.0, 2.0)[rnd]

    monkeypatch.setattr(bench, "two_clocks", scripted)
    plan = {"ratio_rounds": 2, "kernel_runs_1t": 4, "batch_run_runs": 2, "reference_runs": 1}
    kernel, batch, reference = bench.side_by_side(bench.scenario_with(10), plan)
    assert len(calls) == 8
    for row in (kernel, batch, *reference.values()):
        assert (row["seconds"], row["cpu_seconds"], row["cores"]) == (1.0, 2.0, 1)
        assert row["runs_per_s"] == row["runs"] and row["cpu_runs_per_s"] == row["runs"] / 2
    assert (kernel["runs"], batch["runs"], reference["python"]["runs"]) == (4, 2, 1)
    assert reference["xoshiro"]["compared_runs"] == 2  # agreement pooled over both rounds


def fake_results(scenario) -> dict:
    """A `main` result with made-up timings, enough for `report` and `targets`."""
    from benchmarks import bench_throughput as bench

    row = bench.rate_row
    reference = {"compared_runs": 2, "same_regime_as_kernel": 2, "max_abs_diff_final_trust": 0.0,
                 "regime_counts": {g: [0, 0] for g in ref.REGIMES}, "min_share_p": 1.0,
                 "shares_agree": True}
    reference["regime_counts"]["inertia"] = [2, 2]
    probe = {"import": 1.0, "first_run_arrays": 5.0, "first_summaries": 1.0,
             "first_icsmodel": 1.0, "total": 8.0}
    return {
        "machine": bench.machine() | {"load_average_end": [0.0, 0.0, 0.0]}, "note": None,
        "repeats": 1, "ratio_rounds": 2,
        # wall 600 and CPU 1,200 runs/s; mesa.batch_run wall and CPU 20 runs/s
        "kernel_1t": row(scenario, 600, 1.0, 1, 0.5), "batch_run": row(scenario, 20, 1.0, 1, 1.0),
        "batch_run_lean": row(scenario, 20, 0.5, 1, 0.5),
        "kernel_all": row(scenario, 2_000, 1.0, 2), "kernel_series": row(scenario, 500, 1.0, 2),
        # Python's `random` slower by wall time (1.6 vs 2 runs/s), faster by CPU time (4 vs 2.5)
        "reference": {"xoshiro": row(scenario, 2, 1.0, 1, 0.8) | reference,
                      "python": row(scenario, 2, 1.25, 1, 0.5) | reference},
        "compile": {"probe_cold": probe, "probe_warm": probe | {"total": 2.0},
                    "probe_cold_all": [8.0], "cli_run_cold_all": [9.0], "cli_run_cold": 9.0,
                    "cli_run_warm": 2.5},
        "memory": {"runs": 100_000, "wall": 60.0, "peak_mb": 500.0},
        "memory_baseline": {"runs": 1_000, "wall": 5.0, "peak_mb": 300.0},
        "sweep": {"runs": 10_000, "seconds": 8.0, "threads": 2, "points": 10,
                  "runs_per_s": 1_250.0, "chunk_task_seconds": 0.1, "kernel_seconds": 7.0},
        "scale_n": [], "scale_runs": [],
    }


def test_per_core_ratios_and_targets_use_cpu_time_and_show_wall_time():
    """The per-core ratios and their targets are worked out from the single-core rows' CPU
    time; the report gives the wall-time ratios beside them, and rows on several threads in
    wall time only (made-up timings: only the arithmetic and the layout are checked)."""
    from benchmarks import bench_throughput as bench

    res = fake_results(bench.scenario_with(10))
    bench.add_ratios(res)
    assert res["reference"]["faster"] == "python"  # by CPU time
    rc, r = res["ratios_cpu"], res["ratios"]
    assert rc["kernel_vs_reference_per_core"] == 1_200 / 4 == 300
    assert r["kernel_vs_reference_per_core"] == 600 / 1.6 == 375
    assert (rc["kernel_vs_batch_run_per_core"], r["kernel_vs_batch_run_per_core"]) == (60, 30)
    assert r["kernel_all_vs_batch_run"] == 100 and "kernel_all_vs_batch_run" not in rc
    assert r["parallel_efficiency"] == 2_000 / (600 * 2)

    res["targets"] = bench.targets(res, quick=False)
    batch_target = next(t for t in res["targets"] if "`mesa.batch_run`, per core" in t[0])
    assert batch_target[1:] == ("60.0× (wall time 30.0×)", "≥ 50×", True)  # met by CPU time
    text = bench.report(res, "python -m benchmarks.bench_throughput", quick=False)
    assert "| kernel 1 thread / `mesa.batch_run` (per core) | 60× | 30× |" in text
    assert ("| kernel 1 thread / pure-Python reference (per core; faster row: Python's "
            "`random`) | 300× | 375× |") in text
    assert "| kernel all threads / `mesa.batch_run` (1 process) | n/a (several threads) | 100× |" \
        in text
    assert "| batch kernel, summary-only, 1 thread | 600 | 1 | 1 | 0.5 | 600 | 1,200 |" in text
    assert "all threads | 2,000 | 2 | 1 | n/a | 2,000 | n/a |" in text
    assert "CPU time leaves out the time the VM took the core away" in text
    written = json.loads(json.dumps(res, default=str))  # what `--json` writes: both clocks
    assert written["kernel_1t"]["cpu_runs_per_s"] == 1_200
    assert written["ratios_cpu"]["kernel_vs_batch_run_per_core"] == 60
