"""Throughput, compile time, memory and scaling of icsabm on `ics_mandated`, side by side.

    python -m benchmarks.bench_throughput                 # full run, a few minutes
    python -m benchmarks.bench_throughput --quick         # smoke check, about a minute
    python -m benchmarks.bench_throughput --out benchmarks/RESULTS.md --json results.json

Measures, in one process (plus a few fresh subprocesses where a cold start or
a peak-memory figure needs one):

1. the batch kernel (`simulate_runs` summary-only, the sweep engine's call, through
   `model.sweep.compute_chunk`) in runs/s and pair-updates/s on all numba
   threads and on one thread, after warm-up; also the full-time-series path
   (`run_arrays`, the same kernel keeping every month) that `icsabm run` uses;
2. the same model stepped through `mesa.batch_run` with `ICSModel`
   (one process, end-of-run collection);
3. the pure-Python per-agent reference of `benchmarks/reference_python.py`, on
   both of its random streams (the kernel's xoshiro256** ported to Python, and
   Python's `random` as a Mesa user writes it); ratios use the faster one;
4. JIT compile time with an empty numba cache and with the cache warm, in
   fresh subprocesses (`NUMBA_CACHE_DIR` pointed at a new temporary folder);
5. peak resident memory and wall time of a 100,000-run summary-only sweep
   (`icsabm sweep ... --quiet` in a fresh subprocess) and the wall time of a
   10,000-run sweep on 2 threads in process, once compiled;
6. time per run as the number of organisations grows (N = 10, 30, 100, 300)
   and as the number of runs in one call grows (100, 1,000, 10,000).

The single-core rows (the kernel on one thread, `mesa.batch_run`, the
reference) are timed in wall time and in CPU time (`time.process_time()`);
the per-core ratios and their targets use CPU time, which leaves out the time
the VM's hypervisor takes the core away. Definitions are in
`benchmarks/README.md`. Nothing here is a test: the targets of issue 3 are
reported as met or not met, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numba
import numpy as np

from model.rng import replicate_seeds
from model.scenario import load_scenario

SCENARIO = "ics_mandated"
MIX = {k: v for k, v in load_scenario(SCENARIO).roster.counts.items() if v}  # its mix
ROOT = Path(__file__).resolve().parent.parent

FULL = {
    "repeats": 3,
    "ratio_rounds": 5,  # interleaved rounds of the rows behind the per-core ratios
    "kernel_runs": 10_000, "kernel_runs_1t": 3_000, "series_runs": 3_000,
    "batch_run_runs": 30, "reference_runs": 10,
    "memory_sweep_runs": 100_000, "memory_baseline_runs": 1_000, "sweep_runs": 10_000,
    "scale_n": {10: 20_000, 30: 5_000, 100: 500, 300: 60},
    "scale_n_reference": {10: 40, 30: 10, 100: 3, 300: 1},
    "scale_runs": (100, 1_000, 10_000),
}
QUICK = {
    "repeats": 1,
    "ratio_rounds": 1,
    "kernel_runs": 2_000, "kernel_runs_1t": 500, "series_runs": 500,
    "batch_run_runs": 4, "reference_runs": 3,
    "memory_sweep_runs": 2_000, "memory_baseline_runs": 200, "sweep_runs": 1_000,
    "scale_n": {10: 2_000, 30: 500, 100: 50, 300: 4},
    "scale_n_reference": {10: 4, 30: 2, 100: 1},
    "scale_runs": (100, 1_000),
}
TARGETS = {
    "kernel_vs_reference_per_core": 500.0,
    "kernel_vs_batch_run_per_core": 50.0,
    "sweep_10k_seconds": 10.0,
    "sweep_100k_peak_mb": 1024.0,
    "cold_compile_seconds": 20.0,
    "cached_start_seconds": 3.0,
}


REPEATS = 1  # timed repetitions of each throughput measurement; the fastest is reported


def best_of(timed, reps=None) -> float | tuple[float, ...]:
    """The fastest of the calls `timed(rep)` (rep in `reps`, default range(REPEATS)),
    each returning its seconds, or a tuple of seconds by several clocks (then a tuple:
    the fastest by each clock).

    On a machine that other work shares, the fastest repetition is the least
    disturbed one (the usual `timeit` practice)."""
    times = [timed(rep) for rep in (range(REPEATS) if reps is None else reps)]
    return tuple(map(min, zip(*times, strict=True))) if isinstance(times[0], tuple) else min(times)


def two_clocks(call, *args, **kwargs):
    """`call(*args, **kwargs)`'s result, its wall seconds (`time.perf_counter()`) and its
    CPU seconds (`time.process_time()`: every thread of this process).

    For the single-core rows: on one core, CPU time is the wall time less what the
    machine took away (the hypervisor's steal in a slow spell, other processes)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the machine -------------------------------------------------------------------
def machine() -> dict:
    import mesa
    import pandas

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = int(line.split()[1]) / 1024**2
                break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except OSError:
        commit = "unknown"
    return {
        "git_commit": commit,
        "cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": affinity,
        "numba_threads": numba.config.NUMBA_NUM_THREADS, "ram_gb": round(ram_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "numba": numba.__version__,
        "numpy": np.__version__, "mesa": mesa.__version__, "pandas": pandas.__version__,
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- kernel ------------------------------------------------------------------------
def scaled_counts(n: int) -> dict[str, int]:
    """ics_mandated's mix of kinds scaled to n organisations (largest remainders)."""
    total = sum(MIX.values())
    exact = {k: v * n / total for k, v in MIX.items()}
    counts = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True):
        if sum(counts.values()) >= n:
            break
        counts[k] += 1
    return counts


def scenario_with(n: int | None = None):
    if n is None:
        return load_scenario(SCENARIO)
    return load_scenario(SCENARIO, overrides={f"organisations.{k}": v
                                              for k, v in scaled_counts(n).items()})


def chunk_task(scenario, runs: int, seed: int = 1) -> dict:
    """A sweep chunk's task (`model.sweep.chunk_task`) of `runs` replicates of `scenario`."""
    from model.jit_cache import source_hash

    roster = scenario.roster
    return {"index": 0, "kernels": source_hash(), "kind": roster.kinds, "size": roster.size,
            "x": roster.x_km, "y": roster.y_km, "params": np.tile(scenario.packed(), (runs, 1)),
            "timeline": scenario.timeline_array(), "seeds": replicate_seeds(seed, runs),
            "steps": scenario.steps, "stride": 0}


def time_kernel(scenario, runs: int, threads: int | None = None, reps=None) -> dict:
    """Summary-only batch kernel: `runs` runs in one call (the sweep engine's chunk)."""
    from model.sweep import compute_chunk

    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        compute_chunk(chunk_task(scenario, 2 * numba.get_num_threads()))  # warm-up

        def timed(rep: int) -> tuple[float, float]:
            task = chunk_task(scenario, runs, seed=1 + rep)
            return two_clocks(compute_chunk, task)[1:]

        seconds, cpu_seconds = best_of(timed, reps)
        used = numba.get_num_threads()
    finally:
        numba.set_num_threads(previous)
    return rate_row(scenario, runs, seconds, used, cpu_seconds if used == 1 else None)


CPU_FIELDS = ("cpu_seconds", "cpu_runs_per_s")  # a single-core row's CPU-time fields


def rate_row(scenario, runs: int, seconds: float, cores: int,
             cpu_seconds: float | None = None) -> dict:
    """Rates of `runs` runs in `seconds` (wall) on `cores`; a single-core row also gives its
    CPU seconds (CPU_FIELDS). Rows on several threads stay in wall time: the CPU time of
    several threads is work done, not throughput."""
    n = scenario.n_organisations
    pair_updates = runs * scenario.steps * n * (n - 1)
    row = {"n": n, "months": scenario.steps, "runs": runs, "seconds": seconds, "cores": cores,
           "runs_per_s": runs / seconds, "runs_per_s_per_core": runs / seconds / cores,
           "pair_updates_per_s": pair_updates / seconds,
           "us_per_pair_update_core": seconds * cores / pair_updates * 1e6}
    if cpu_seconds is not None:
        row.update(cpu_seconds=cpu_seconds, cpu_runs_per_s=runs / cpu_seconds)
    return row


def fastest(pooled: dict | None, row: dict) -> dict:
    """One single-core path's rows of two rounds as one: the wall-time fields of the round
    faster by wall time, the CPU-time fields (CPU_FIELDS) of the round faster by CPU time."""
    if pooled is None:
        return dict(row)
    cpu = row if row["cpu_seconds"] < pooled["cpu_seconds"] else pooled
    return dict(row if row["seconds"] < pooled["seconds"] else pooled,
                **{k: cpu[k] for k in CPU_FIELDS})


def time_series_path(scenario, runs: int) -> dict:
    """`run_arrays` (full time series), what `icsabm run` calls."""
    from model.batch import run_arrays

    run_arrays(scenario, replicate_seeds(2, 2 * numba.get_num_threads()))

    def timed(rep: int) -> float:
        seeds = replicate_seeds(10 + rep, runs)
        start = time.perf_counter()
        run_arrays(scenario, seeds)
        return time.perf_counter() - start

    return rate_row(scenario, runs, best_of(timed), numba.get_num_threads())


# --- Mesa batch_run and the pure-Python reference -------------------------------------
def time_batch_run(scenario, runs: int, reps=None, **model_kwargs) -> dict:
    """`mesa.batch_run(ICSModel, ...)` in one process; `model_kwargs` go to every model."""
    from mesa.batchrunner import batch_run

    from model.ics_model import ICSModel

    ICSModel(scenario, seed=1, **model_kwargs).step()  # kernels loaded, imports done

    def timed(rep: int) -> tuple[float, float]:
        seeds = [int(s) for s in replicate_seeds(20 + rep, runs)]
        results, seconds, cpu_seconds = two_clocks(
            batch_run, ICSModel, parameters={"scenario": scenario, "seed": seeds, **model_kwargs},
            number_processes=1, iterations=1, max_steps=scenario.steps,
            data_collection_period=-1, display_progress=False)
        assert len({r["RunId"] for r in results}) == runs
        return seconds, cpu_seconds

    seconds, cpu_seconds = best_of(timed, reps)
    return rate_row(scenario, runs, seconds, 1, cpu_seconds)


REFERENCE_STREAMS = ("xoshiro", "python")  # `reference_python.STREAMS`, rows in this order
REFERENCE_LABELS = {
    "xoshiro": "pure-Python per-agent reference (kernel's xoshiro stream, run-for-run "
               "identical), 1 process",
    "python": "pure-Python per-agent reference (Python's `random`, as a Mesa user writes it), "
              "1 process",
}
REFERENCE_SHORT = {"xoshiro": "xoshiro stream", "python": "Python's `random`"}
ALPHA = 0.01  # the regime-share test of the Python-stream reference against the kernel


def time_reference(scenario, runs: int, reps=None) -> dict[str, dict]:
    """The reference on each random stream: `runs` runs per repetition, the same seeds for both.

    The streams' repetitions are interleaved (and their order alternates), so a
    disturbance of the machine hits both alike; each row gives the fastest of
    REPEATS by wall time and by CPU time. The xoshiro row is compared with the
    kernel run by run, the Python-stream row by regime shares (two-proportion
    test at ALPHA).
    """
    from benchmarks import reference_python as ref
    from model.batch import run_arrays, summary_frame

    seeds: list[int] = []
    results: dict[str, list[dict]] = {s: [] for s in REFERENCE_STREAMS}
    times: dict[str, list[tuple[float, float]]] = {s: [] for s in REFERENCE_STREAMS}

    def run_all(batch: list[int], stream: str) -> list[dict]:
        return [ref.run(scenario, s, stream=stream) for s in batch]

    for stream in REFERENCE_STREAMS:
        ref.run(scenario, 1, steps=2, stream=stream)  # warm-up
    for rep in range(REPEATS) if reps is None else reps:
        batch = [int(s) for s in replicate_seeds(30 + rep, runs)]
        seeds.extend(batch)
        order = REFERENCE_STREAMS if rep % 2 == 0 else REFERENCE_STREAMS[::-1]
        for stream in order:
            out, seconds, cpu_seconds = two_clocks(run_all, batch, stream)
            times[stream].append((seconds, cpu_seconds))
            results[stream].extend(out)

    arr = np.array(seeds, np.int64)
    metrics, _, _ = run_arrays(scenario, arr)
    kernel = summary_frame(scenario, metrics, arr)
    k_reg = list(kernel["regime"])
    n = len(seeds)
    rows = {}
    for stream in REFERENCE_STREAMS:
        seconds, cpu_seconds = map(min, zip(*times[stream], strict=True))  # each clock's fastest
        row = rate_row(scenario, runs, seconds, 1, cpu_seconds)
        out = results[stream]
        r_reg = [r["regime"] for r in out]
        row["stream"] = stream
        row["compared_runs"] = n
        row["same_regime_as_kernel"] = int(sum(a == b for a, b in zip(k_reg, r_reg, strict=True)))
        row["max_abs_diff_final_trust"] = float(max(
            abs(a - b["final_mean_trust"])
            for a, b in zip(kernel["final_mean_trust"], out, strict=True)))
        row["regime_counts"] = {g: [k_reg.count(g), r_reg.count(g)] for g in ref.REGIMES}
        row["min_share_p"] = min(ref.two_proportion_p(xk, n, xr, n)
                                 for xk, xr in row["regime_counts"].values())
        row["shares_agree"] = row["min_share_p"] >= ALPHA
        rows[stream] = row
    return rows


def side_by_side(scenario, plan: dict) -> tuple[dict, dict, dict[str, dict]]:
    """The rows of the per-core ratios, timed in interleaved rounds.

    Each of `plan["ratio_rounds"]` rounds times, with that round's seeds, the kernel on one
    thread, `mesa.batch_run` with `ICSModel` and the reference on both
    streams, in wall time and in CPU time; every row keeps its fastest round by
    each clock (`fastest`). A slow spell of the machine then hits all the paths
    alike, instead of only the one timed during it.
    Returns (kernel, batch_run, {stream: reference row}); the reference rows'
    agreement with the kernel is pooled over the rounds.
    """
    kernel = batch = None
    reference: dict[str, dict] = {}
    for rep in range(plan["ratio_rounds"]):
        k = time_kernel(scenario, plan["kernel_runs_1t"], threads=1, reps=[rep])
        b = time_batch_run(scenario, plan["batch_run_runs"], reps=[rep])
        rows = time_reference(scenario, plan["reference_runs"], reps=[rep])
        kernel, batch = fastest(kernel, k), fastest(batch, b)
        for stream, row in rows.items():
            reference[stream] = pool_reference_rows(reference.get(stream), row)
    return kernel, batch, reference


def pool_reference_rows(pooled: dict | None, row: dict) -> dict:
    """One reference row from rounds: each clock's fastest round (`fastest`), agreement over
    all rounds."""
    from benchmarks import reference_python as ref

    if pooled is None:
        return dict(row)
    both = fastest(pooled, row)
    n = pooled["compared_runs"] + row["compared_runs"]
    counts = {g: [a + c, b + d] for (g, (a, b)), (c, d) in
              zip(pooled["regime_counts"].items(), row["regime_counts"].values(), strict=True)}
    both.update(
        compared_runs=n,
        same_regime_as_kernel=pooled["same_regime_as_kernel"] + row["same_regime_as_kernel"],
        max_abs_diff_final_trust=max(pooled["max_abs_diff_final_trust"],
                                     row["max_abs_diff_final_trust"]),
        regime_counts=counts,
        min_share_p=min(ref.two_proportion_p(xk, n, xr, n) for xk, xr in counts.values()))
    both["shares_agree"] = both["min_share_p"] >= ALPHA
    return both


def faster_reference(res: dict) -> dict:
    """The faster of the two reference rows (by CPU time): the ratios are computed against it."""
    return res["reference"][res["reference"]["faster"]]


def add_ratios(res: dict) -> None:
    """Names the faster reference row by CPU time (`res["reference"]["faster"]`) and adds the
    ratios: `res["ratios"]` in wall time (all of them) and `res["ratios_cpu"]` in CPU time
    (those between single-core rows, the per-core targets among them)."""
    rx, rp = res["reference"]["xoshiro"], res["reference"]["python"]
    res["reference"]["faster"] = ("python" if rp["cpu_runs_per_s"] > rx["cpu_runs_per_s"]
                                  else "xoshiro")
    for key, rate in (("ratios", "runs_per_s"), ("ratios_cpu", "cpu_runs_per_s")):
        k1, br, ref_rate = (res["kernel_1t"][rate], res["batch_run"][rate],
                            faster_reference(res)[rate])
        res[key] = {"kernel_vs_reference_per_core": k1 / ref_rate,
                    "kernel_vs_batch_run_per_core": k1 / br,
                    "batch_run_vs_reference": br / ref_rate,
                    "reference_python_vs_xoshiro": rp[rate] / rx[rate]}
    k1, ka = res["kernel_1t"]["runs_per_s"], res["kernel_all"]["runs_per_s"]
    res["ratios"].update(kernel_all_vs_reference=ka / faster_reference(res)["runs_per_s"],
                         kernel_all_vs_batch_run=ka / res["batch_run"]["runs_per_s"],
                         parallel_efficiency=ka / (k1 * res["kernel_all"]["cores"]))


# --- compile time, in fresh subprocesses ------------------------------------------------
PROBE = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import model
    from model.batch import run_arrays
    from model.scenario import load_scenario
    from model.sweep import compute_chunk
    from model.rng import replicate_seeds
    from model.jit_cache import source_hash
    t1 = time.perf_counter()
    sc = load_scenario("ics_mandated")
    run_arrays(sc, replicate_seeds(0, 1))
    t2 = time.perf_counter()
    r = sc.roster
    compute_chunk({"index": 0, "kernels": source_hash(), "kind": r.kinds, "size": r.size,
                   "x": r.x_km, "y": r.y_km,
                   "params": sc.packed()[None, :], "timeline": sc.timeline_array(),
                   "seeds": replicate_seeds(0, 1), "steps": sc.steps, "stride": 0})
    t3 = time.perf_counter()
    from model.ics_model import ICSModel
    m = ICSModel(sc, seed=1)
    m.step()
    m.regime
    t4 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first_run_arrays": t2 - t1,
                      "first_summaries": t3 - t2, "first_icsmodel": t4 - t3,
                      "total": t4 - t0}))
""")


def _icsabm() -> list[str]:
    """The `icsabm` console script of the Python running the benchmark
    (`model.provenance.console_script`), else `python -m model`."""
    from model.provenance import console_script

    path = console_script()
    return [str(path)] if path else [sys.executable, "-m", "model"]


def _timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout


def compile_times(tmp: Path) -> dict:
    """Cold starts (each in a new empty NUMBA_CACHE_DIR; the fastest of REPEATS, like the
    throughput rows) and warm starts (the first cold start's folder again)."""
    out: dict = {"probe_cold_all": [], "cli_run_cold_all": []}
    for rep in range(REPEATS):
        probe, cli = _start(tmp, rep, "cold")
        out["probe_cold_all"].append(probe["total"])
        out["cli_run_cold_all"].append(cli)
        if rep == 0 or probe["total"] < out["probe_cold"]["total"]:
            out["probe_cold"] = probe
        out["cli_run_cold"] = min(out.get("cli_run_cold", cli), cli)
    out["probe_warm"], out["cli_run_warm"] = _start(tmp, 0, "warm")
    return out


def _start(tmp: Path, rep: int, label: str) -> tuple[dict, float]:
    """The probe and `icsabm run` in fresh subprocesses on numba cache folders number `rep`."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / f"cache-probe-{rep}"))
    wall, stdout = _timed([sys.executable, "-c", PROBE], env, tmp)
    probe = json.loads(stdout.strip().splitlines()[-1])
    probe["wall"] = wall
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / f"cache-cli-{rep}"))
    cli, _ = _timed([*_icsabm(), "run", SCENARIO, "--replicates", "1", "--quiet",
                     "--out", str(tmp / f"run-{label}-{rep}")], env, tmp)
    log(f"  {label}: probe {probe['total']:.1f} s (wall {probe['wall']:.1f} s), "
        f"icsabm run {cli:.1f} s")
    return probe, cli


# --- sweeps ------------------------------------------------------------------------------
def sweep_toml(path: Path, runs: int, name: str) -> Path:
    points = 10
    replicates = runs // points
    path.write_text(textwrap.dedent(f"""
        [sweep]
        name = "{name}"
        scenario = "{SCENARIO}"
        design = "grid"
        replicates = {replicates}
        seed = 0

        [axes]
        "context.formalisation" = {{ start = 0.1, stop = 0.55, num = {points} }}
    """))
    return path


MEASURE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"returncode": done.returncode, "wall": wall,
                      "maxrss_kb": usage.ru_maxrss, "stderr": done.stderr[-2000:],
                      "stdout": done.stdout[-500:]}))
""")


def sweep_memory(tmp: Path, runs: int) -> dict:
    """Peak RSS (max resident set of the `icsabm sweep` process) and wall time."""
    toml = sweep_toml(tmp / f"memory-{runs}.toml", runs, f"bench_memory_{runs}")
    cmd = [sys.executable, "-c", MEASURE, *_icsabm(), "sweep", str(toml), "--out",
           str(tmp / f"sweep-{runs}"), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"icsabm sweep failed: {result['stderr']}")
    shutil.rmtree(tmp / f"sweep-{runs}", ignore_errors=True)
    return {"runs": runs, "wall": result["wall"], "peak_mb": result["maxrss_kb"] / 1024}


def sweep_in_process(tmp: Path, runs: int, threads: int = 2) -> dict:
    """Wall time of load + run + finish of a sweep, in process, once compiled."""
    from model.sweep import chunk_task as sweep_chunk_task
    from model.sweep import compute_chunk, finish, plan_chunks, run_in_process, run_sweep
    from model.sweep_file import load_sweep

    toml = sweep_toml(tmp / f"inproc-{runs}.toml", runs, f"bench_sweep_{runs}")
    warm = load_sweep(toml)
    warm.replicates = 2
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        run_sweep(warm, tmp / "inproc-warm", run_in_process)  # compile / load
        start = time.perf_counter()
        sweep = load_sweep(toml)
        run_sweep(sweep, tmp / f"inproc-{runs}", run_in_process)
        phase = finish(sweep, tmp / f"inproc-{runs}")
        seconds = time.perf_counter() - start
        used = numba.get_num_threads()
        # where the time goes: the driver's task building (model.sweep.chunk_task) and the
        # kernel, each timed on the first chunk and scaled to the whole sweep
        chunks = plan_chunks(sweep)
        t0 = time.perf_counter()
        task = sweep_chunk_task(sweep, chunks[0])
        t1 = time.perf_counter()
        compute_chunk(task)
        t2 = time.perf_counter()
    finally:
        numba.set_num_threads(previous)
    shutil.rmtree(tmp / f"inproc-{runs}", ignore_errors=True)
    scale = sweep.n_runs / len(chunks[0].seeds)
    return {"runs": sweep.n_runs, "seconds": seconds, "threads": used,
            "points": len(phase), "runs_per_s": sweep.n_runs / seconds,
            "chunk_task_seconds": (t1 - t0) * scale, "kernel_seconds": (t2 - t1) * scale}


# --- scaling -----------------------------------------------------------------------------
def scaling_n(plan: dict, stream: str = "xoshiro") -> list[dict]:
    """Kernel time per run as N grows; the reference's (on random stream `stream`) at small N."""
    from benchmarks import reference_python as ref

    rows = []
    for n, runs in plan["scale_n"].items():
        scenario = scenario_with(n)
        row = time_kernel(scenario, runs)
        ref_runs = plan["scale_n_reference"].get(n)
        if ref_runs:
            seeds = [int(s) for s in replicate_seeds(3, ref_runs)]
            start = time.perf_counter()
            for s in seeds:
                ref.run(scenario, s, stream=stream)
            row["reference_stream"] = stream
            row["reference_s_per_run"] = (time.perf_counter() - start) / ref_runs
            row["reference_runs"] = ref_runs
        rows.append(row)
        extra = (f", reference {row['reference_s_per_run']:.2f} s/run" if ref_runs else "")
        log(f"  N={scenario.n_organisations}: {row['seconds'] / runs * 1e3:.2f} ms/run "
            f"on {row['cores']} threads{extra}")
    return rows


def scaling_runs(plan: dict) -> list[dict]:
    scenario = scenario_with()
    rows = []
    for runs in plan["scale_runs"]:
        rows.append(time_kernel(scenario, runs))
        log(f"  {runs} runs: {rows[-1]['seconds']:.2f} s")
    return rows


# --- report --------------------------------------------------------------------------------
def fmt(x: float, digits: int = 3) -> str:
    if x != x:
        return "n/a"
    if abs(x) >= 1e6:
        return f"{x:.3g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def share_counts(row: dict) -> str:
    """'inertia 30 vs 30, synergy 0 vs 0, ...': kernel vs reference regime counts."""
    return ", ".join(f"{g} {k} vs {r}" for g, (k, r) in row["regime_counts"].items())


def speed_difference(slow_ref: dict, new_ref: dict, clock: str = "seconds") -> str:
    """'12% faster' / '3% slower': `new_ref`'s time per run against `slow_ref`'s
    (`clock`: "seconds", wall time, or "cpu_seconds")."""
    change = 1.0 - new_ref[clock] / new_ref["runs"] / (slow_ref[clock] / slow_ref["runs"])
    return f"{100 * abs(change):.0f}% {'faster' if change >= 0 else 'slower'}"


def scale_stream(res: dict) -> str:
    streams = {row["reference_stream"] for row in res["scale_n"] if "reference_stream" in row}
    return ", ".join(REFERENCE_SHORT[s] for s in sorted(streams)) or "not run"


def report(res: dict, command: str, quick: bool) -> str:
    m = res["machine"]
    k_all, k_one = res["kernel_all"], res["kernel_1t"]
    series, br = res["kernel_series"], res["batch_run"]
    rx, rp = res["reference"]["xoshiro"], res["reference"]["python"]
    fast = REFERENCE_SHORT[res["reference"]["faster"]]
    ct = res["compile"]
    mem, base, sw = res["memory"], res["memory_baseline"], res["sweep"]
    r, rc = res["ratios"], res["ratios_cpu"]
    L = [
        "# icsabm benchmark results",
        "",
        f"Command: `{command}`" + ("  (QUICK mode: small counts, a smoke check; the "
                                   "memory sweep is not 100,000 runs)" if quick else ""),
        "",
        f"Machine: {m['cpu']}; {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
        f"numba threads {m['numba_threads']}; RAM {m['ram_gb']} GB; {m['os']}. "
        f"Python {m['python']}, numba {m['numba']}, numpy {m['numpy']}, mesa {m['mesa']}, "
        f"pandas {m['pandas']}. icsabm commit {m['git_commit']}. Run {m['date_utc']}; "
        "load average at start "
        f"{m['load_average_start']}, at end {m['load_average_end']}.",
        "",
    ]
    if res.get("note"):
        L += [f"**Note:** {res['note']}", ""]
    L += [
        f"## Throughput on `{SCENARIO}` ({k_all['n']} organisations, {k_all['months']} months)",
        "",
        "| path | runs | cores | wall s | CPU s | runs/s (wall) | runs/s (CPU) | "
        "runs/s per core | pair-updates/s | µs per pair-update per core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in (
        ("batch kernel, summary-only (`simulate_runs`), all threads", k_all),
        ("batch kernel, summary-only, 1 thread", k_one),
        ("batch kernel, full time series (`run_arrays`), all threads", series),
        ("`mesa.batch_run` with `ICSModel`, 1 process", br),
        ("`mesa.batch_run` with `ICSModel(network=False)`, 1 process", res["batch_run_lean"]),
        (REFERENCE_LABELS["xoshiro"], rx),
        (REFERENCE_LABELS["python"], rp),
    ):
        cpu_s, cpu_rate = (fmt(row.get(k, float("nan"))) for k in CPU_FIELDS)
        L.append(f"| {label} | {row['runs']:,} | {row['cores']} | {fmt(row['seconds'])} | "
                 f"{cpu_s} | {fmt(row['runs_per_s'])} | {cpu_rate} | "
                 f"{fmt(row['runs_per_s_per_core'])} | "
                 f"{fmt(row['pair_updates_per_s'])} | {fmt(row['us_per_pair_update_core'])} |")
    L += [
        "",
        f"Throughput rows: the fastest of {res['repeats']} timed repetitions of `runs` runs "
        "each (after a warm-up call). The rows behind the per-core ratios (kernel on 1 "
        f"thread, `mesa.batch_run`, the reference) are the fastest of "
        f"{res.get('ratio_rounds', res['repeats'])} interleaved rounds, one "
        "repetition of each per round, so a slow spell of the machine hits them alike. "
        "These single-core rows also give their CPU time (`time.process_time()` of this "
        "process, which runs them on one core; the fastest round by that clock), and the "
        "per-core ratios and their targets use it, because CPU time leaves out the time the "
        "VM took the core away (CPU steal, which inflates wall time by up to 30-40% in a "
        "slow spell); rows on several threads stay in wall time (the CPU time of several "
        "threads is work, not throughput), and every other column is wall time. "
        f"Pair-updates = runs × months × N(N−1) (directed pairs). The two reference rows "
        "are the same code on the same seeds, their repetitions interleaved; only the random "
        "numbers differ. On the kernel's xoshiro stream the reference ended in the same "
        f"regime as the kernel for {rx['same_regime_as_kernel']}/{rx['compared_runs']} of "
        "these seeds (largest difference in final mean trust "
        f"{rx['max_abs_diff_final_trust']:.1e}). On Python's `random` its runs are not the "
        "kernel's, so only regime shares are compared: over the same "
        f"{rp['compared_runs']} seeds, {share_counts(rp)} (kernel vs reference), smallest "
        f"two-proportion p = {rp['min_share_p']:.2g}, so the shares "
        + ("agree within sampling error" if rp["shares_agree"] else "**differ**")
        + f" at α = {ALPHA} (a small sample: `python -m benchmarks.reference_python --check "
        "--stream python` is the full test). Python's `random` makes the reference "
        f"{speed_difference(rx, rp, 'cpu_seconds')} than the pure-Python xoshiro port in CPU "
        f"time ({rx['cpu_seconds'] / rx['runs']:.3f} vs {rp['cpu_seconds'] / rp['runs']:.3f} "
        f"s per run; {speed_difference(rx, rp)} in wall time). The ratios against the "
        f"reference use the faster row by CPU time ({fast}).",
        "",
        "| ratio | CPU time | wall time |",
        "|---|---:|---:|",
    ]
    for label, key in (
        (f"kernel 1 thread / pure-Python reference (per core; faster row: {fast})",
         "kernel_vs_reference_per_core"),
        (f"kernel all threads / pure-Python reference (1 process; faster row: {fast})",
         "kernel_all_vs_reference"),
        ("kernel 1 thread / `mesa.batch_run` (per core)", "kernel_vs_batch_run_per_core"),
        ("kernel all threads / `mesa.batch_run` (1 process)", "kernel_all_vs_batch_run"),
        (f"`mesa.batch_run` (ICSModel, kernel inside) / pure-Python reference ({fast})",
         "batch_run_vs_reference"),
        ("pure-Python reference: Python's `random` / xoshiro stream (runs/s)",
         "reference_python_vs_xoshiro"),
    ):
        cpu = f"{fmt(rc[key])}×" if key in rc else "n/a (several threads)"
        L.append(f"| {label} | {cpu} | {fmt(r[key])}× |")
    L += [
        f"| parallel efficiency of the kernel on {k_all['cores']} threads | n/a | "
        f"{100 * r['parallel_efficiency']:.0f}% |",
        "",
        "## Start-up: JIT compile with an empty numba cache and with it warm",
        "",
        "Fresh subprocesses with `NUMBA_CACHE_DIR` set to a new temporary folder (cold: "
        f"the fastest of {res['repeats']}, each in its own empty folder; all of them: probe "
        f"{', '.join(f'{x:.1f}' for x in ct['probe_cold_all'])} s, `icsabm run` "
        f"{', '.join(f'{x:.1f}' for x in ct['cli_run_cold_all'])} s), then the same "
        "command again with the first folder (warm).",
        "",
        "| what | cold s | warm s |",
        "|---|---:|---:|",
    ]
    pc, pw = ct["probe_cold"], ct["probe_warm"]
    for key, label in (("import", "import model (numba, pandas, ...)"),
                       ("first_run_arrays", "first `run_arrays` (compiles `simulate_runs`), 1 run"),
                       ("first_summaries", "first summary-only chunk (the same kernel), 1 run"),
                       ("first_icsmodel", "first `ICSModel` build + step (mesa import)"),
                       ("total", "**all of the above (import + every kernel)**")):
        L.append(f"| {label} | {pc[key]:.2f} | {pw[key]:.2f} |")
    L += [
        f"| `icsabm run {SCENARIO} --replicates 1 --quiet` (whole command) | "
        f"{ct['cli_run_cold']:.2f} | {ct['cli_run_warm']:.2f} |",
        "",
        "## Sweeps",
        "",
        "| what | runs | wall s | peak memory MB |",
        "|---|---:|---:|---:|",
        f"| `icsabm sweep` summary-only, fresh process, all threads | {mem['runs']:,} | "
        f"{mem['wall']:.1f} | {mem['peak_mb']:.0f} |",
        f"| the same command, small (baseline: imports, numba, pandas) | {base['runs']:,} | "
        f"{base['wall']:.1f} | {base['peak_mb']:.0f} |",
        f"| sweep in process once compiled (load + run + phase table), "
        f"{sw['threads']} threads | {sw['runs']:,} | {sw['seconds']:.2f} | |",
        f"| … of which the kernel (`compute_chunk`), estimated from one chunk | {sw['runs']:,} | "
        f"{sw['kernel_seconds']:.2f} | |",
        f"| … of which the driver's task building (`model.sweep.chunk_task`: parameter rows), "
        f"estimated from one chunk | {sw['runs']:,} | {sw['chunk_task_seconds']:.2f} | |",
        "",
        "Both sweeps: 10 points of `context.formalisation` × replicates, base "
        f"`{SCENARIO}`, 60 months, chunks of 2,000 runs (the default).",
        "",
        "## Scaling with the number of organisations",
        "",
        f"`{SCENARIO}`'s mix of kinds scaled to N (largest remainders); 60 months; batch "
        "kernel, summary-only, all threads; the reference on its faster stream at "
        f"`{SCENARIO}` ({scale_stream(res)}).",
        "",
        "| N | runs | ms per run | runs/s | pair-updates/s | µs per pair-update per core | "
        "reference s per run | kernel/reference per core |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["scale_n"]:
        per_core_run = row["seconds"] * row["cores"] / row["runs"]
        if "reference_s_per_run" in row:
            refc = f"{row['reference_s_per_run']:.3g}"
            ratio = f"{row['reference_s_per_run'] / per_core_run:,.0f}×"
        else:
            refc = ratio = "n/a"
        L.append(f"| {row['n']} | {row['runs']:,} | {row['seconds'] / row['runs'] * 1e3:.3g} | "
                 f"{fmt(row['runs_per_s'])} | {fmt(row['pair_updates_per_s'])} | "
                 f"{fmt(row['us_per_pair_update_core'])} | {refc} | {ratio} |")
    L += [
        "",
        "## Scaling with the number of runs in one call",
        "",
        "| runs | wall s | ms per run | runs/s |",
        "|---:|---:|---:|---:|",
    ]
    for row in res["scale_runs"]:
        L.append(f"| {row['runs']:,} | {row['seconds']:.3f} | "
                 f"{row['seconds'] / row['runs'] * 1e3:.3g} | {fmt(row['runs_per_s'])} |")
    L += [
        "",
        "## Targets (issue 3)",
        "",
        "| target | measured | goal | met |",
        "|---|---:|---:|---|",
    ]
    for name, measured, goal, met in res["targets"]:
        L.append(f"| {name} | {measured} | {goal} | {'met' if met else '**not met**'} |")
    L.append("")
    return "\n".join(L)


def targets(res: dict, quick: bool) -> list[tuple]:
    r, rc, T = res["ratios"], res["ratios_cpu"], TARGETS
    ct, mem, sw = res["compile"], res["memory"], res["sweep"]
    sweep_note = "" if sw["runs"] == 10_000 else f" ({sw['runs']:,} runs, scaled)"
    sweep_s = sw["seconds"] * 10_000 / sw["runs"]
    mem_note = "" if mem["runs"] == 100_000 else f" (only {mem['runs']:,} runs: quick mode)"
    kernel_s = sw["kernel_seconds"] * 10_000 / sw["runs"]
    vs_ref, vs_br = T["kernel_vs_reference_per_core"], T["kernel_vs_batch_run_per_core"]
    fast = REFERENCE_SHORT[res["reference"]["faster"]]
    return [
        (f"batch kernel vs pure-Python reference, per core, CPU time (faster row: {fast})",
         f"{rc['kernel_vs_reference_per_core']:,.0f}× "
         f"(wall time {r['kernel_vs_reference_per_core']:,.0f}×)", f"≥ {vs_ref:.0f}×",
         rc["kernel_vs_reference_per_core"] >= vs_ref),
        ("batch kernel vs `mesa.batch_run`, per core, CPU time",
         f"{rc['kernel_vs_batch_run_per_core']:,.1f}× "
         f"(wall time {r['kernel_vs_batch_run_per_core']:,.1f}×)", f"≥ {vs_br:.0f}×",
         rc["kernel_vs_batch_run_per_core"] >= vs_br),
        ("batch kernel (all threads) vs `mesa.batch_run` (1 process)",
         f"{r['kernel_all_vs_batch_run']:,.1f}×", f"≥ {vs_br:.0f}×",
         r["kernel_all_vs_batch_run"] >= vs_br),
        (f"10,000-run sweep on {sw['threads']} threads, compiled{sweep_note}",
         f"{sweep_s:.2f} s", f"< {T['sweep_10k_seconds']:.0f} s",
         sweep_s < T["sweep_10k_seconds"]),
        ("… the same, kernel time only (estimated from one chunk)",
         f"{kernel_s:.2f} s", f"< {T['sweep_10k_seconds']:.0f} s",
         kernel_s < T["sweep_10k_seconds"]),
        (f"peak memory, 100,000-run summary-only sweep{mem_note}",
         f"{mem['peak_mb']:.0f} MB", "< 1 GB (1,024 MB)",
         mem["peak_mb"] < T["sweep_100k_peak_mb"]),
        ("cold compile (import + every kernel, empty cache)",
         f"{ct['probe_cold']['total']:.1f} s", f"< {T['cold_compile_seconds']:.0f} s",
         ct["probe_cold"]["total"] < T["cold_compile_seconds"]),
        ("cold start of `icsabm run ... --replicates 1` (whole command, empty cache)",
         f"{ct['cli_run_cold']:.1f} s", f"< {T['cold_compile_seconds']:.0f} s",
         ct["cli_run_cold"] < T["cold_compile_seconds"]),
        ("cached start (import + every kernel, warm cache)",
         f"{ct['probe_warm']['total']:.2f} s", f"< {T['cached_start_seconds']:.0f} s",
         ct["probe_warm"]["total"] < T["cached_start_seconds"]),
        ("cached start of `icsabm run ... --replicates 1` (whole command)",
         f"{ct['cli_run_warm']:.2f} s", f"< {T['cached_start_seconds']:.0f} s",
         ct["cli_run_warm"] < T["cached_start_seconds"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke check")
    parser.add_argument("--out", help="markdown report (default benchmarks/RESULTS.md, or "
                                      "benchmarks/RESULTS-quick.md with --quick)")
    parser.add_argument("--json", help="also write the raw numbers as JSON")
    parser.add_argument("--note", help="a line added to the report (e.g. 'machine was shared')")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    global REPEATS
    REPEATS = plan["repeats"]
    out = Path(args.out) if args.out else (
        ROOT / "benchmarks" / ("RESULTS-quick.md" if args.quick else "RESULTS.md"))
    command = "python -m benchmarks.bench_throughput" + " ".join(
        [""] + (sys.argv[1:] if argv is None else list(argv)))

    res: dict = {"machine": machine(), "note": args.note, "repeats": REPEATS,
                 "ratio_rounds": plan["ratio_rounds"]}
    log(f"machine: {res['machine']['cpu']}, {res['machine']['numba_threads']} numba threads")
    scenario = scenario_with()
    tmp = Path(tempfile.mkdtemp(prefix="icsabm-bench-"))
    try:
        log("kernel on 1 thread, mesa.batch_run, pure-Python reference (xoshiro and Python "
            "`random` streams): interleaved rounds")
        res["kernel_1t"], res["batch_run"], res["reference"] = side_by_side(scenario, plan)
        log("kernel, all threads / full time series; batch_run without the network space")
        res["kernel_all"] = time_kernel(scenario, plan["kernel_runs"])
        res["kernel_series"] = time_series_path(scenario, plan["series_runs"])
        res["batch_run_lean"] = time_batch_run(scenario, plan["batch_run_runs"], network=False)
        log(f"  kernel {res['kernel_all']['runs_per_s']:.0f} runs/s all threads, "
            f"{res['kernel_1t']['runs_per_s']:.0f} runs/s on 1 thread "
            f"({res['kernel_1t']['cpu_runs_per_s']:.0f} by CPU time)")
        log(f"  mesa.batch_run {res['batch_run']['runs_per_s']:.1f} runs/s "
            f"({res['batch_run']['cpu_runs_per_s']:.1f} by CPU time; "
            f"{res['batch_run_lean']['runs_per_s']:.1f} without the network space)")
        rx, rp = res["reference"]["xoshiro"], res["reference"]["python"]
        log(f"  {rx['runs_per_s']:.2f} runs/s (xoshiro), {rp['runs_per_s']:.2f} runs/s "
            f"(Python random; regime shares p = {rp['min_share_p']:.2g} vs the kernel)")
        add_ratios(res)
        log(f"  kernel 1 thread / reference ({res['reference']['faster']}), per core: "
            f"{res['ratios_cpu']['kernel_vs_reference_per_core']:.0f}× by CPU time "
            f"({res['ratios']['kernel_vs_reference_per_core']:.0f}× wall); / mesa.batch_run "
            f"{res['ratios_cpu']['kernel_vs_batch_run_per_core']:.1f}× "
            f"({res['ratios']['kernel_vs_batch_run_per_core']:.1f}× wall)")
        log("JIT compile, cold and warm (fresh subprocesses)")
        res["compile"] = compile_times(tmp)
        log(f"sweep memory: {plan['memory_sweep_runs']:,} runs (fresh subprocess)")
        res["memory"] = sweep_memory(tmp, plan["memory_sweep_runs"])
        res["memory_baseline"] = sweep_memory(tmp, plan["memory_baseline_runs"])
        log(f"  peak {res['memory']['peak_mb']:.0f} MB in {res['memory']['wall']:.1f} s "
            f"(baseline {res['memory_baseline']['peak_mb']:.0f} MB)")
        log(f"sweep in process: {plan['sweep_runs']:,} runs")
        res["sweep"] = sweep_in_process(tmp, plan["sweep_runs"])
        log(f"  {res['sweep']['seconds']:.2f} s on {res['sweep']['threads']} threads")
        log("scaling with N")
        res["scale_n"] = scaling_n(plan, res["reference"]["faster"])
        log("scaling with runs")
        res["scale_runs"] = scaling_runs(plan)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    res["machine"]["peak_rss_mb_this_process"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["targets"] = targets(res, args.quick)
    text = report(res, command.strip(), args.quick)
    print(text)
    out.write_text(text)
    log(f"written to {out}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
