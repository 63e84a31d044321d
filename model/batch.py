"""Many replicates of one scenario in one jitted call (`prange` over replicates).

The replicate loop calls the same `init_state`, `step` and `measure` as
`ICSModel`, so a replicate here is bit-identical to `ICSModel(scenario,
seed=<its seed>)` stepped the same number of months (CONTRACT: Python API).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit, prange

from agents.kinds import KIND_NAMES, SECTOR_CULTURE, kind_table
from model import kernel
from model import state as S
from model.regimes import MATURITY, REGIMES, maturity, summarise
from model.rng import replicate_seeds, stream_state
from model.scenario import Scenario


@njit(cache=True)
def simulate(kind, size_given, x_given, y_given, kinds, sector_culture, params, timeline, rng,
             steps, metrics, organisations, pair_stride):
    """Run one replicate for `steps` months, writing its time series.

    Args:
        metrics: float64 `[steps + 1, N_METRICS]`, filled for months 0..steps.
        organisations: float64 `[steps + 1, N, N_ORG_RECORD]`, or an array with
            a zero first dimension to skip the per-organisation record.
        pair_stride: (int) the means over pairs (trust, communication, cultural
            distance) are measured at months 0, pair_stride, 2 pair_stride, ...
            and at the last month; 0 measures them at the last month only.
    """
    n = kind.shape[0]
    org = np.zeros((S.N_ORG, n))
    pair = np.zeros((S.N_PAIR, n, n))
    culture = np.zeros((n, sector_culture.shape[1]))
    sector = np.zeros(n, np.int64)
    world = np.zeros(S.N_WORLD)
    kernel.init_state(org, pair, culture, kind, sector, world, params, rng,
                      size_given, x_given, y_given, kinds, sector_culture)
    record = organisations.shape[0] > 0
    kernel.measure(org, pair, world, metrics[0], True)
    if record:
        kernel.record_organisations(org, pair, organisations[0])
    for t in range(1, steps + 1):
        kernel.step(org, pair, culture, kind, sector, world, params, rng, timeline)
        pair_means = t == steps or (pair_stride > 0 and t % pair_stride == 0)
        kernel.measure(org, pair, world, metrics[t], pair_means)
        if record:
            kernel.record_organisations(org, pair, organisations[t])
    return org[S.SIZE].copy()


@njit(parallel=True, cache=True)
def simulate_many(kind, size_given, x_given, y_given, kinds, sector_culture, params, timeline,
                  rngs, steps, metrics, organisations, sizes):
    """`simulate` for every replicate r in parallel; each owns `rngs[r]` and `params[r]`.

    (`np.int64(1)`, not `1`: a literal would compile `simulate` a second time.)
    """
    for r in prange(rngs.shape[0]):
        p = params[r].copy()
        rng = rngs[r].copy()
        sizes[r] = simulate(kind, size_given, x_given, y_given, kinds, sector_culture, p,
                            timeline, rng, steps, metrics[r], organisations[r], np.int64(1))


@njit(parallel=True, cache=True)
def simulate_summaries(kind, size_given, x_given, y_given, kinds, sector_culture, params,
                       timeline, rngs, steps, stride, summaries, coarse):
    """Many runs reduced in the kernel: each run keeps only its summary row.

    Run r has its own parameter row `params[r]` (a sweep point) and stream
    `rngs[r]`. `summaries[r]` receives `state.SUMMARY`; when `stride > 0`,
    `coarse[r]` receives the time series at months 0, stride, 2*stride, ...
    Memory is bounded by the number of runs in the call, not by `steps`.
    """
    n = float(kind.shape[0])
    empty = np.zeros((0, kind.shape[0], S.N_ORG_RECORD))
    for r in prange(rngs.shape[0]):
        p = params[r].copy()
        rng = rngs[r].copy()
        metrics = np.zeros((steps + 1, S.N_METRICS))
        simulate(kind, size_given, x_given, y_given, kinds, sector_culture, p, timeline, rng,
                 steps, metrics, empty, np.int64(stride))
        summarise(metrics, n, params[r], summaries[r])
        if stride > 0:
            for k in range(coarse.shape[1]):
                coarse[r, k] = metrics[k * stride]


def run_arrays(scenario: Scenario, seeds: np.ndarray, steps: int | None = None,
               agents: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw arrays of a batch: metrics `[R, T+1, M]`, organisations `[R, T+1, N, K]`
    (empty unless `agents`) and sizes `[R, N]`."""
    steps = scenario.steps if steps is None else int(steps)
    r, n = len(seeds), scenario.n_organisations
    params = np.tile(scenario.packed(), (r, 1))
    rngs = np.stack([stream_state(s) for s in seeds]) if r else np.zeros((0, 4), np.uint64)
    metrics = np.zeros((r, steps + 1, S.N_METRICS))
    shape = (r, steps + 1, n, S.N_ORG_RECORD) if agents else (r, 0, n, S.N_ORG_RECORD)
    organisations = np.zeros(shape)
    sizes = np.zeros((r, n))
    roster = scenario.roster
    simulate_many(roster.kinds, roster.size, roster.x_km, roster.y_km, kind_table(),
                  SECTOR_CULTURE, params, scenario.timeline_array(), rngs, steps, metrics,
                  organisations, sizes)
    return metrics, organisations, sizes


def timeseries_frame(metrics: np.ndarray, seeds: np.ndarray, first_replicate: int = 0
                     ) -> pd.DataFrame:
    """Tidy time series: one row per replicate and month (CONTRACT: timeseries.parquet)."""
    r, t1, _ = metrics.shape
    frame = pd.DataFrame(metrics.reshape(r * t1, -1), columns=list(S.METRICS))
    frame.insert(0, "step", np.tile(np.arange(t1, dtype=np.int64), r))
    frame.insert(0, "seed", np.repeat(np.asarray(seeds, np.int64), t1))
    frame.insert(0, "replicate", np.repeat(np.arange(first_replicate, first_replicate + r), t1))
    for col in ("conflicts", "conflicts_resolved", "shocks", "exits", "active_members"):
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
    frame["time_to_synergy"] = tts.where(tts >= 0).astype("Float64")
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
    levels = maturity(frame["trust_in_others"].to_numpy(), frame["faith"].to_numpy(),
                      scenario.packed())
    frame["maturity"] = np.array(MATURITY, dtype=object)[levels]
    return frame


def run_replicates(scenario: Scenario, replicates: int = 20, seed: int = 0,
                   steps: int | None = None) -> pd.DataFrame:
    """Run replicates of one scenario in one jitted call; return the tidy time series.

    Replicate r has seed `replicate_seeds(seed, replicates)[r]` (the `seed`
    column); `ICSModel(scenario, seed=that)` reproduces it bit for bit.
    """
    seeds = replicate_seeds(seed, replicates)
    metrics, _, _ = run_arrays(scenario, seeds, steps)
    return timeseries_frame(metrics, seeds)
