"""Many runs in parallel through one jitted batch kernel, `simulate_runs`.

The run loop calls the same `init_state`, `step` and `measure` as `ICSModel`,
so a replicate here is bit-identical to `ICSModel(scenario, seed=<its seed>)`
stepped the same number of months (CONTRACT: Python API).

Parallelism: `in_threads` splits the runs into blocks and calls the kernel,
which releases the GIL, on `numba.get_num_threads()` threads. Each run writes
only its own slots, so results never depend on the thread count. (Until
version 0.1 the kernels were two `prange` loops; each parallel entry point
made numba re-optimise the whole step, and a cold start took 26 s instead of
13 s: see benchmarks/README.md.)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd
from numba import njit

from agents.kinds import KIND_NAMES, SECTOR_CULTURE, kind_table
from model import kernel
from model import state as S
from model.regimes import MATURITY, REGIMES, maturity, summarise
from model.resources import check_run_memory
from model.rng import replicate_seeds, stream_states
from model.scenario import (
    MAX_SEED,
    MAX_STEPS,
    Scenario,
    ScenarioError,
    load_scenario,
    shown,
    whole_number,
)


@njit(cache=True, nogil=True)
def simulate_runs(kind, size_given, x_given, y_given, kinds, sector_culture, params, timeline,
                  rngs, steps, first, last, metrics, organisations, sizes, stride, summaries,
                  coarse):
    """Runs `first` .. `last - 1` of a batch, one after another (the GIL released).

    Run r has its own parameter row `params[r]` and stream `rngs[r]`, and writes
    only its own slots, so the result does not depend on how the runs are split
    between threads. Two ways to keep a run:

    * full series: `metrics[r]` `[steps + 1, N_METRICS]` gets every month and
      `organisations[r]` every organisation's record (zero months to skip it);
    * summary only (`metrics` with zero runs): `summaries[r]` receives
      `state.SUMMARY` and, when `stride > 0`, `coarse[r]` the months 0,
      stride, 2 stride, ... Memory is then bounded by the runs in the call,
      not by `steps`.
    """
    n = kind.shape[0]
    keep_series = metrics.shape[0] > 0
    pair_stride = 1 if keep_series else stride
    for r in range(first, last):
        p = params[r].copy()
        rng = rngs[r].copy()
        series = metrics[r] if keep_series else np.zeros((steps + 1, S.N_METRICS))
        record = organisations[r]
        org = np.zeros((S.N_ORG, n))
        pair = np.zeros((S.N_PAIR, n, n))
        culture = np.zeros((n, sector_culture.shape[1]))
        sector = np.zeros(n, np.int64)
        world = np.zeros(S.N_WORLD)
        kernel.init_state(org, pair, culture, kind, sector, world, p, rng,
                          size_given, x_given, y_given, kinds, sector_culture)
        for t in range(steps + 1):
            if t > 0:
                kernel.step(org, pair, culture, kind, sector, world, p, rng, timeline)
            # the means over pairs at months 0, pair_stride, 2 pair_stride, ... and the last
            # (one call site with a run-time flag: a literal would compile `measure` twice)
            pair_means = t == 0 or t == steps or (pair_stride > 0 and t % pair_stride == 0)
            kernel.measure(org, pair, world, series[t], pair_means)
            if record.shape[0] > 0:
                kernel.record_organisations(org, pair, record[t])
        sizes[r] = org[S.SIZE]
        if summaries.shape[0] > 0:
            summarise(series, float(n), params[r], summaries[r])
        if stride > 0:
            for k in range(coarse.shape[1]):
                coarse[r, k] = series[k * stride]


def in_threads(run_block, runs: int) -> None:
    """Call `run_block(first, last)` over blocks of runs on `numba.get_num_threads()` threads.

    The blocks are jitted calls that release the GIL, so the threads run in
    parallel; each run writes only its own slots, so the thread count never
    changes a result. Blocks are small (at most 64 runs), so Ctrl-C or an
    error stops the work after the blocks already running: the rest are
    cancelled.
    """
    threads = max(1, min(numba.get_num_threads(), runs))
    block = max(1, min(64, runs // (4 * threads)))
    bounds = [(lo, min(lo + block, runs)) for lo in range(0, runs, block)]
    if threads == 1:
        for lo, hi in bounds:
            run_block(lo, hi)
        return
    pool = ThreadPoolExecutor(threads, thread_name_prefix="icsabm-kernel")
    try:
        for future in [pool.submit(run_block, lo, hi) for lo, hi in bounds]:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_summaries(kind, size_given, x_given, y_given, params, timeline, rngs, steps,
                  stride) -> tuple[np.ndarray, np.ndarray]:
    """Summary rows `[R, N_SUMMARY]` and coarse rows `[R, steps // stride + 1, N_METRICS]`
    (none when `stride` is 0) of R runs, computed in parallel (the sweep engine's call)."""
    r, n = rngs.shape[0], kind.shape[0]
    summaries = np.zeros((r, S.N_SUMMARY))
    coarse = np.zeros((r, steps // stride + 1 if stride > 0 else 0, S.N_METRICS))
    no_series = np.zeros((0, steps + 1, S.N_METRICS))
    no_record = np.zeros((r, 0, n, S.N_ORG_RECORD))
    sizes = np.zeros((r, n))
    kinds = kind_table()
    in_threads(lambda lo, hi: simulate_runs(
        kind, size_given, x_given, y_given, kinds, SECTOR_CULTURE, params, timeline, rngs,
        steps, lo, hi, no_series, no_record, sizes, stride, summaries, coarse), r)
    return summaries, coarse


def batch_steps(scenario: Scenario, steps: int | None) -> int:
    """The months of a batch: the scenario's, or `steps`, a whole number in [0, MAX_STEPS]
    (0: month 0 alone); ScenarioError otherwise."""
    return scenario.steps if steps is None else whole_number("steps", steps, 0, MAX_STEPS)


def run_arrays(scenario: Scenario, seeds: Iterable[int], steps: int | None = None,
               agents: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw arrays of a batch: metrics `[R, T+1, M]`, organisations `[R, T+1, N, K]`
    (empty unless `agents`) and sizes `[R, N]`. `seeds` (an array or list) are whole
    numbers in [0, 2^63 - 1], one a replicate; `steps` (default: the scenario's) is a
    whole number in [0, MAX_STEPS]; 0 gives month 0 alone, the initial state (what the
    validation's month-0 contrasts read); ScenarioError otherwise."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise ScenarioError(f"seeds = {shown(seeds)} is not a list of seeds; allowed: an "
                            "array or list of whole numbers in [0, 2^63 - 1]")
    seeds = [whole_number(f"seeds[{i}]", s, 0, MAX_SEED) for i, s in enumerate(seeds)]
    steps = batch_steps(scenario, steps)
    r, n = len(seeds), scenario.n_organisations
    params = np.tile(scenario.packed(), (r, 1))
    rngs = stream_states(seeds)
    metrics = np.zeros((r, steps + 1, S.N_METRICS))
    shape = (r, steps + 1, n, S.N_ORG_RECORD) if agents else (r, 0, n, S.N_ORG_RECORD)
    organisations = np.zeros(shape)
    sizes = np.zeros((r, n))
    roster = scenario.roster
    kinds, timeline = kind_table(), scenario.timeline_array()
    no_summaries = np.zeros((0, S.N_SUMMARY))
    no_coarse = np.zeros((r, 0, S.N_METRICS))
    in_threads(lambda lo, hi: simulate_runs(
        roster.kinds, roster.size, roster.x_km, roster.y_km, kinds, SECTOR_CULTURE, params,
        timeline, rngs, steps, lo, hi, metrics, organisations, sizes, 0, no_summaries,
        no_coarse), r)
    return metrics, organisations, sizes


#: The runs behind `numerics_digest`: shocks and leadership turnover (the normals'
#: `log` and `cos`), exits (a voluntary partnership), sizes and power (`exp`, `pow`).
NUMERICS_PROBE = (("ics_turbulent", (0, 1, 2)), ("voluntary_alliance", (0, 1, 2)))


@functools.cache
def numerics_digest() -> str:
    """SHA-256 of the bits of a few short runs (`NUMERICS_PROBE`, 36 months, with every
    organisation's record), computed once per process.

    Two processes with the same kernel sources give the same digest when their
    machines compute the same floating-point results. A machine whose maths library
    differs (another glibc, a CPU that picks another variant of `exp` or `pow`, numba
    with Intel's SVML) gives another digest in practice, so `model.cluster` compares
    Dask workers by it. A check, not a proof: two digests can agree while some rarer
    input still rounds differently.
    """
    digest = hashlib.sha256()
    for name, seeds in NUMERICS_PROBE:
        metrics, organisations, sizes = run_arrays(load_scenario(name), seeds, steps=36,
                                                   agents=True)
        for array in (metrics, organisations, sizes):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def timeseries_frame(metrics: np.ndarray, seeds: np.ndarray, first_replicate: int = 0
                     ) -> pd.DataFrame:
    """Tidy time series: one row per replicate and month (CONTRACT: timeseries.parquet)."""
    r, t1, _ = metrics.shape
    frame = pd.DataFrame(metrics.reshape(r * t1, -1), columns=list(S.METRICS))
    frame.insert(0, "step", np.tile(np.arange(t1, dtype=np.int64), r))
    frame.insert(0, "seed", np.repeat(np.asarray(seeds, np.int64), t1))
    frame.insert(0, "replicate", np.repeat(np.arange(first_replicate, first_replicate + r), t1))
    for col in S.INTEGER_METRICS:
        frame[col] = frame[col].astype(np.int64)
    return frame


def summary_frame(scenario: Scenario, metrics: np.ndarray, seeds: np.ndarray,
                  first_replicate: int = 0) -> pd.DataFrame:
    """One row per replicate (CONTRACT: summary.parquet), with every scenario parameter."""
    p = scenario.packed()
    rows = np.zeros((metrics.shape[0], S.N_SUMMARY))
    for r in range(metrics.shape[0]):
        summarise(metrics[r], float(scenario.n_organisations), p, rows[r])
    return summary_table(rows, seeds, scenario.flat(), first_replicate)


def summary_table(rows: np.ndarray, seeds: np.ndarray, settings: dict,
                  first_replicate: int = 0) -> pd.DataFrame:
    """Summary rows (`state.SUMMARY` columns) as the tidy summary table."""
    frame = pd.DataFrame(rows, columns=list(S.SUMMARY))
    frame["regime"] = np.array(REGIMES, dtype=object)[frame["regime"].to_numpy(np.int64)]
    tts = frame["time_to_synergy"]
    frame["time_to_synergy"] = tts.where(tts >= 0).astype("Int64")  # a month, or null
    for col in ("exits", "conflicts", "conflicts_resolved", "shocks"):
        frame[col] = frame[col].astype(np.int64)
    frame.insert(0, "seed", np.asarray(seeds, np.int64))
    frame.insert(0, "replicate", np.arange(first_replicate, first_replicate + len(frame)))
    settings = pd.DataFrame({k: [v] * len(frame) for k, v in settings.items()})
    return pd.concat([frame, settings], axis=1)


def organisations_frame(scenario: Scenario, organisations: np.ndarray, sizes: np.ndarray,
                        first_replicate: int = 0) -> pd.DataFrame:
    """One row per replicate, month and organisation (CONTRACT: organisations.parquet)."""
    r, t1, n, _ = organisations.shape
    flat = organisations.reshape(r * t1 * n, -1)
    frame = pd.DataFrame({
        "replicate": np.repeat(np.arange(first_replicate, first_replicate + r), t1 * n),
        "step": np.tile(np.repeat(np.arange(t1), n), r),
        "org": np.tile(np.arange(n), r * t1),
        "name": np.tile(np.array(scenario.roster.names, dtype=object), r * t1),
        "kind": np.tile(np.array([KIND_NAMES[k] for k in scenario.roster.kinds], dtype=object),
                        r * t1),
        "size": np.repeat(sizes, t1, axis=0).reshape(-1),
    })
    for k, name in enumerate(S.ORG_RECORD):
        frame[name] = flat[:, k]
    frame["active"] = frame["active"].astype(bool)
    frame["champion"] = frame["champion"].astype(bool)
    levels = maturity(frame["trust_in_others"].to_numpy(), frame["faith"].to_numpy(),
                      scenario.packed())
    frame["maturity"] = np.array(MATURITY, dtype=object)[levels]
    return frame


def run_replicates(scenario: Scenario | str, replicates: int = 20, seed: int = 0,
                   steps: int | None = None) -> pd.DataFrame:
    """Run replicates of one scenario in one jitted call; return the tidy time series.

    `scenario` is a `Scenario`, a bundled name, a path to a TOML file or a dict (as
    `load_scenario` takes); `replicates` a whole number >= 1; `seed`, the master
    seed, a whole number in [0, 2^63 - 1]; `steps` (default: the scenario's) a whole
    number in [0, MAX_STEPS] (0: month 0 alone, the initial state). Anything else
    raises a ScenarioError (a ValueError) naming the argument, as do more replicates
    than fit in memory (the check of `icsabm run`).

    Replicate r has seed `replicate_seeds(seed, replicates)[r]` (the `seed`
    column); `ICSModel(scenario, seed=that)` reproduces it bit for bit.
    """
    scenario = load_scenario(scenario)
    seed = whole_number("seed", seed, 0, MAX_SEED)
    replicates = whole_number("replicates", replicates, 1)
    steps = batch_steps(scenario, steps)
    check_run_memory(replicates, steps, scenario.n_organisations, name="replicates")
    seeds = replicate_seeds(seed, replicates)
    metrics, _, _ = run_arrays(scenario, seeds, steps)
    return timeseries_frame(metrics, seeds)
