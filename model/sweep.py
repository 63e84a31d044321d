"""Running a sweep: chunks of runs through the in-kernel reduction, in process or on Dask.

A sweep's runs are enumerated point by point, replicate by replicate; run
(point p, replicate r) has seed `replicate_seeds(sweep.seed, R, point=p)[r]`,
so it can be reproduced alone (`icsabm run BASE --set ... --replicate-seed S`).
Runs are grouped into chunks of at most `sweep.chunk` runs that share one
roster and timeline (so one kernel call serves them), wherever their points
fall in the design. Each finished chunk is written as
`summary/part-NNNNN.parquet` through a temporary file and an atomic rename:
a part either exists whole or not at all, which is what `--resume` relies on.
The engine (in-process numba or a Dask cluster) only computes chunks; the
driver alone writes files, so a lost worker never leaves a partial file and
its chunk is simply computed again.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model import state as S
from model.jit_cache import source_hash
from model.regimes import REGIMES
from model.rng import run_seeds, stream_states
from model.scenario import ScenarioError, shown
from model.sweep_file import Sweep, axis_column

PARTS = "summary"


@dataclass(frozen=True)
class Chunk:
    """Runs that share one roster and timeline: the unit of work and resume."""

    index: int
    points: np.ndarray  # point index of each run
    replicates: np.ndarray  # replicate index of each run
    seeds: np.ndarray


#: How `plan_chunks` splits a sweep, recorded in its manifest: 2 groups the points of
#: each roster and timeline wherever they fall in the design; 1 (icsabm 0.1 before it,
#: no `chunk_plan` in the manifest) started a new chunk at every change between
#: neighbouring points. The two plans differ only when such points interleave.
CHUNK_PLAN = 2


def _roster_groups(sweep: Sweep) -> list[list[int]]:
    """The sweep's point indices grouped by roster and timeline (one kernel call serves
    a group), groups in the order of their first point, points in order within each."""
    groups: dict[tuple, list[int]] = {}
    for p, scenario in enumerate(sweep.scenarios):
        roster = scenario.roster
        signature = (roster.kinds.tobytes(), roster.size.tobytes(), roster.x_km.tobytes(),
                     roster.y_km.tobytes(), scenario.timeline_array().tobytes())
        groups.setdefault(signature, []).append(p)
    return list(groups.values())


def plans_agree(sweep: Sweep) -> bool:
    """Whether chunk plan 1 (`CHUNK_PLAN`) split this sweep as plan 2 does: its groups
    of points are contiguous (true of every sweep whose organisation-count and timeline
    axes come first, or that has none)."""
    return all(group[-1] - group[0] == len(group) - 1 for group in _roster_groups(sweep))


def _point_seeds(sweep: Sweep, block_runs: int = 2**20) -> np.ndarray:
    """Every run's seed as an int64 [point, replicate] array: row p is
    `replicate_seeds(sweep.seed, R, point=p)`, worked out a block of points at a time
    (`run_seeds` on arrays: one call per point would cost more than it saves)."""
    n_points, n_reps = len(sweep.scenarios), sweep.replicates
    seeds = np.empty((n_points, n_reps), dtype=np.int64)
    step = max(1, block_runs // n_reps)
    for first in range(0, n_points, step):
        points = np.arange(first, min(n_points, first + step))
        seeds[points] = run_seeds(sweep.seed, np.repeat(points, n_reps),
                                  np.tile(np.arange(n_reps), len(points))
                                  ).reshape(len(points), n_reps)
    return seeds


def plan_chunks(sweep: Sweep) -> list[Chunk]:
    """Split the sweep's runs into chunks of at most `sweep.chunk` runs with one roster
    and timeline: the points of each (`_roster_groups`), replicate by replicate, so an
    organisation-count axis costs as many chunks wherever it comes in the grid."""
    chunks: list[Chunk] = []
    seeds_by_point = _point_seeds(sweep)
    replicates = np.arange(sweep.replicates)
    for group in _roster_groups(sweep):
        points = np.repeat(np.array(group), sweep.replicates)
        reps = np.tile(replicates, len(group))
        seeds = seeds_by_point[group].ravel()
        for first in range(0, len(points), sweep.chunk):
            runs = slice(first, first + sweep.chunk)
            chunks.append(Chunk(len(chunks), points[runs], reps[runs], seeds[runs]))
    return chunks


def chunk_task(sweep: Sweep, chunk: Chunk) -> dict:
    """The plain arrays a worker needs for one chunk (picklable, no Python objects)."""
    first = sweep.scenarios[int(chunk.points[0])]
    roster = first.roster
    points, inverse = np.unique(chunk.points, return_inverse=True)  # pack each point once
    packed = np.stack([sweep.scenarios[int(p)].packed() for p in points])
    return {
        "index": chunk.index,
        "kernels": source_hash(),
        "kind": roster.kinds, "size": roster.size, "x": roster.x_km, "y": roster.y_km,
        "params": packed[inverse],
        "timeline": first.timeline_array(),
        "seeds": chunk.seeds,
        "steps": sweep.steps,
        "stride": sweep.stride,
    }


class OtherKernelsError(RuntimeError):
    """A chunk reached a process (a Dask worker) whose kernel sources differ from the
    sweep's: its runs would not be the sweep's runs."""


def compute_chunk(task: dict) -> dict:
    """Run one chunk with the jitted batch kernel; returns summary rows (and coarse rows).

    Raises:
        OtherKernelsError: this process runs other kernel sources than the task was made
            with (a Dask worker with another icsabm, say, that joined after the cluster
            was checked).
    """
    from model.batch import numerics_digest, run_summaries

    if task["kernels"] != source_hash():
        raise OtherKernelsError(f"{socket.gethostname()} (pid {os.getpid()}) runs kernel "
                                f"sources {source_hash()[:12]}, not the sweep's "
                                f"{task['kernels'][:12]}")
    rngs = stream_states(task["seeds"])
    summaries, coarse = run_summaries(task["kind"], task["size"], task["x"], task["y"],
                                      task["params"], task["timeline"], rngs, task["steps"],
                                      int(task["stride"]))
    return {"index": task["index"], "summaries": summaries, "coarse": coarse,
            "numerics": numerics_digest(), "host": f"{socket.gethostname()} (pid {os.getpid()})"}


class OtherNumericsError(RuntimeError):
    """A chunk came back from a process (a Dask worker that joined during the sweep) whose
    floating-point results differ from the sweep's engine (`numerics_digest`)."""


def axis_values(sweep: Sweep, key: str,
                points: Iterable[int]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The values of axis `key` at `points`, typed as in every table of the sweep
    (`Sweep.axis_dtypes`); a point without the key (a points design) gets a missing value."""
    dtype = sweep.axis_dtypes[key]
    values = [sweep.points[int(p)].get(key) for p in points]
    if dtype == "float64":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    if dtype == "int64":
        return np.array(values, dtype=np.int64)
    if dtype == "Int64":
        return pd.array(values, dtype="Int64")
    if dtype == "string":
        return pd.array(values, dtype=pd.StringDtype())
    return np.array(values, dtype=object)


def chunk_frame(sweep: Sweep, chunk: Chunk, result: dict) -> pd.DataFrame:
    """The tidy rows of one finished chunk: run ids, axis values and summary columns."""
    from model.batch import summary_table

    frame = summary_table(result["summaries"], chunk.seeds, {})
    frame.insert(0, "point", chunk.points.astype(np.int64))
    frame["replicate"] = chunk.replicates.astype(np.int64)
    for key in sweep.axis_keys:
        frame[axis_column(key)] = axis_values(sweep, key, chunk.points)
    coarse = result["coarse"]
    if coarse.shape[1]:
        for k in range(coarse.shape[1]):
            month = k * sweep.stride
            for name in ("mean_trust", "mean_faith", "mean_behaviour", "output"):
                frame[f"{name}@{month}"] = coarse[:, k, S.METRICS.index(name)]
    return frame


def part_path(folder: Path, index: int) -> Path:
    return folder / PARTS / f"part-{index:05d}.parquet"


#: The name of a part file: `part_path` writes five digits or more (chunk 100000 on).
PART_NAME = re.compile(r"part-([0-9]{5,})\.parquet")


def part_files(folder: Path) -> dict[int, Path]:
    """The part files of a sweep folder by chunk index (temporary files are never counted).

    Raises:
        ScenarioError: a file in `summary/` looks like a part but is not named as one
            (`part-00001 (copy).parquet`, say): it would be read as a part, its runs twice.
    """
    parts = folder / PARTS
    if not parts.is_dir():
        return {}
    found = {}
    for path in parts.glob("part-*.parquet"):
        match = PART_NAME.fullmatch(path.name)
        if match is None:
            raise ScenarioError(f"{path}: not a part file icsabm wrote (part-NNNNN.parquet); "
                                f"move it out of {parts} and run the command again")
        found[int(match[1])] = path
    return found


def done_chunks(folder: Path) -> set[int]:
    """Chunks whose part file is complete (temporary files are never counted).

    Raises:
        ScenarioError: a file misnamed as a part (`part_files`).
    """
    return set(part_files(folder))


def part_is_whole(path: Path, runs: int) -> bool:
    """A part file whose Parquet footer reads and holds `runs` rows (cheap: the footer only).

    A rename is atomic, but a part can still be damaged afterwards (a disk error, a
    copy cut short, someone's editor); `--resume` re-runs such a chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows == runs
    except (OSError, pa.ArrowException):
        return False


def discard_damaged_parts(sweep: Sweep, folder: Path,
                          chunks: list[Chunk] | None = None) -> list[int]:
    """Delete the part files that are not whole, so their chunks run again like missing
    ones; returns their chunk indices. `chunks` is the sweep's plan when the caller has
    it (planning derives every run's seed: seconds per million runs)."""
    damaged = []
    for chunk in plan_chunks(sweep) if chunks is None else chunks:
        path = part_path(folder, chunk.index)
        if path.exists() and not part_is_whole(path, len(chunk.seeds)):
            path.unlink()
            damaged.append(chunk.index)
    return damaged


def write_part(folder: Path, index: int, frame: pd.DataFrame) -> None:
    """Write a part atomically: a temporary file, fsync, then rename into place."""
    target = part_path(folder, index)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def run_in_process(tasks: Iterable[dict]) -> Iterable[dict]:
    for task in tasks:
        yield compute_chunk(task)


def run_sweep(sweep: Sweep, folder: Path, engine: Callable[[Iterable[dict]], Iterable[dict]],
              progress: Callable[[int], None] | None = None, numerics: str | None = None,
              chunks: list[Chunk] | None = None) -> int:
    """Compute every chunk not yet on disk and write its part. Returns runs computed.

    The engine is given the chunks' tasks as a lazy iterable: a task holds every run's
    parameters (about 1 KB a run), so building them all at once would hold a gigabyte
    per million runs; the engine builds each as it needs it. `chunks` is the sweep's
    plan when the caller has it (`plan_chunks` otherwise). With `numerics` (the engine's
    `numerics_digest`), a chunk computed by a process with other floating-point results
    raises OtherNumericsError before its part is written."""
    (folder / PARTS).mkdir(parents=True, exist_ok=True)
    for stale in (folder / PARTS).glob(".part-*.tmp"):
        stale.unlink(missing_ok=True)
    chunks = plan_chunks(sweep) if chunks is None else chunks
    done = done_chunks(folder)
    pending = {c.index: c for c in chunks if c.index not in done}
    computed = 0
    for result in engine(chunk_task(sweep, c) for c in pending.values()):
        chunk = pending[result["index"]]
        if numerics is not None and result["numerics"] != numerics:
            raise OtherNumericsError(f"{result['host']} computes floating-point results "
                                     f"{result['numerics'][:12]}, not the sweep's "
                                     f"{numerics[:12]}")
        write_part(folder, chunk.index, chunk_frame(sweep, chunk, result))
        computed += len(chunk.seeds)
        if progress is not None:
            progress(len(chunk.seeds))
    return computed


def read_summary(folder: str | os.PathLike,
                 columns: Iterable[str] | None = None) -> pd.DataFrame:
    """All finished parts of a sweep folder, ordered by point and replicate (no rows while
    a new sweep's first chunk runs). With `columns` (names, or one name), only those (and
    point and replicate) are read: a sweep with `stride` has four columns a sampled
    month, which a million runs make gigabytes.

    Raises:
        ScenarioError: `folder` is not a path, or not a sweep folder (no `summary/` in
            it: a typo, or a run's folder), a column the sweep does not have, or a part
            is damaged or misnamed.
    """
    import pyarrow as pa

    if not isinstance(folder, str | os.PathLike):
        raise ScenarioError(f"folder = {folder!r} is not a path; give a sweep's folder, "
                            "e.g. 'runs/<sweep>-<time>'")
    if not (Path(folder) / PARTS).is_dir():
        raise ScenarioError(f"{folder}: not a sweep folder (no {PARTS}/ folder in it); give "
                            "the folder `icsabm sweep` wrote")
    parts = [path for _, path in sorted(part_files(Path(folder)).items())]
    if not parts:
        return pd.DataFrame()
    if columns is not None:
        columns = _summary_columns(parts[0], columns)
    frames = []
    for part in parts:
        try:
            frames.append(pd.read_parquet(part, columns=columns))
        except (OSError, pa.ArrowException):  # damaged past the footer --resume checks
            raise ScenarioError(f"{part}: damaged part file; delete it and finish the sweep "
                                "with --resume") from None
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["point", "replicate"], kind="stable").reset_index(drop=True)


def _summary_columns(part: Path, columns: str | Iterable[str]) -> list[str]:
    """`columns` (one name or names) with point and replicate first, each checked against
    the columns of the sweep's parts (every part has the same), so that a typo is named
    as such and not taken for a damaged part file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = [columns] if isinstance(columns, str) else list(columns)
    try:
        names = pq.read_schema(part).names
    except (OSError, pa.ArrowException):
        raise ScenarioError(f"{part}: damaged part file; delete it and finish the sweep "
                            "with --resume") from None
    for column in wanted:
        if column not in names:
            listed = ", ".join(names[:24]) + (", ..." if len(names) > 24 else "")
            raise ScenarioError(f"columns: no column {shown(column)} in the sweep's summary; "
                                f"its columns are {listed}")
    return list(dict.fromkeys(["point", "replicate", *wanted]))


def phase_table(sweep: Sweep, summary: pd.DataFrame) -> pd.DataFrame:
    """Per point: runs, share of each regime with 95% Wilson interval, median months to
    synergy and `timed_runs`, the runs behind that median.

    The median is over the point's runs that have a time to synergy (null for a run not
    in synergy, and for a synergy run whose behaviour is below the threshold in its final
    month: `model.regimes.classify`); NaN where no run has one (`timed_runs` 0).
    Computed for every point at once (grouped columns, not a loop over points: a sweep
    of 100,000 points took 80 s point by point)."""
    from analysis.stats import wilson_intervals

    points = summary["point"].to_numpy(np.int64)
    tts = pd.Series(summary["time_to_synergy"].astype(float).to_numpy(), index=points)
    grouped = tts.groupby(level=0, sort=True)
    runs = grouped.size()
    phase = pd.DataFrame({"point": runs.index.to_numpy(np.int64), "runs": runs.to_numpy()})
    for key in sweep.axis_keys:  # the summary's column types (a points design leaves gaps)
        phase[axis_column(key)] = axis_values(sweep, key, phase["point"])
    counts = pd.crosstab(points, summary["regime"].to_numpy()).reindex(
        index=runs.index, columns=list(REGIMES), fill_value=0)
    n = phase["runs"].to_numpy()
    for regime in REGIMES:
        count = counts[regime].to_numpy()
        phase[f"{regime}_share"] = count / n
        phase[f"{regime}_ci_low"], phase[f"{regime}_ci_high"] = wilson_intervals(count, n)
    phase["median_time_to_synergy"] = grouped.median().to_numpy()
    phase["timed_runs"] = grouped.count().to_numpy(np.int64)
    return phase


SOBOL_OUTCOMES = ("synergy", "final_mean_trust", "final_mean_faith", "final_mean_behaviour",
                  "cumulative_output")


def sobol_table(sweep: Sweep, summary: pd.DataFrame) -> pd.DataFrame:
    """First-order and total Sobol indices with 95% intervals for each outcome (SALib).

    Each point's outcome is its mean over replicates (the synergy outcome is
    the share of replicates ending in synergy). The intervals' bootstrap draws
    from a seed derived from the sweep's master seed, never 0 (SALib treats a
    seed of 0 as none and then draws from numpy's global generator, so the
    intervals would change from run to run).

    Every point draws its own seeds, so replicate noise is part of the variance the
    indices split: ``noise_share`` (per outcome, `noise_share`) is that part, the total
    index a parameter the model ignores gets (its first-order index is about 0).
    """
    from SALib.analyze import sobol

    bootstrap_seed = int(np.random.SeedSequence(sweep.seed).generate_state(1)[0]) or 1
    per_point = summary.assign(synergy=(summary["regime"] == "synergy").astype(float))
    grouped = per_point.groupby("point", sort=True)[list(SOBOL_OUTCOMES)]
    means, noise = grouped.mean(), noise_share(grouped, sweep.replicates)
    rows = []
    for outcome in SOBOL_OUTCOMES:
        y = means[outcome].to_numpy(float)
        if np.allclose(y, y[0]):
            indices = {k: np.zeros(sweep.sobol_problem["num_vars"])
                       for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            indices = sobol.analyze(sweep.sobol_problem, y, calc_second_order=False,
                                    seed=bootstrap_seed)
        for i, name in enumerate(sweep.sobol_problem["names"]):
            rows.append({"outcome": outcome, "parameter": name,
                         "S1": float(indices["S1"][i]), "S1_conf": float(indices["S1_conf"][i]),
                         "ST": float(indices["ST"][i]), "ST_conf": float(indices["ST_conf"][i]),
                         "noise_share": noise[outcome]})
    return pd.DataFrame(rows)


def noise_share(grouped: Any, replicates: int) -> dict[str, float]:
    """Per outcome, the share of the variance of the points' means (what the Sobol
    indices split) that is replicate noise: the mean variance between a point's
    replicates over `replicates`, divided by the variance of the means. Each point has
    its own seeds, so a parameter the model ignores still moves the means by this noise:
    its total index (Jansen's estimator) is about this share, its first-order index
    about 0, and every total index carries it. More replicates shrink it. 0 for an
    outcome equal at every point (its indices are 0), NaN with one replicate (no
    spread between replicates to measure).

    `grouped`: the summary's outcome columns grouped by point."""
    means, within = grouped.mean(), grouped.var(ddof=1).mean()
    shares = {}
    for outcome in means.columns:
        y = means[outcome].to_numpy(float)
        if np.allclose(y, y[0]):
            shares[outcome] = 0.0
        elif replicates < 2:
            shares[outcome] = float("nan")
        else:
            shares[outcome] = float(within[outcome] / replicates / np.var(y))
    return shares


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def finish(sweep: Sweep, folder: Path) -> pd.DataFrame:
    """Write the phase table (and Sobol indices) once every run is present; reads only
    the columns they need."""
    needed = ["regime", "time_to_synergy"]
    if sweep.design == "sobol":
        needed += [c for c in SOBOL_OUTCOMES if c != "synergy"]
    summary = read_summary(folder, needed)
    if len(summary) != sweep.n_runs or summary.duplicated(["point", "replicate"]).any():
        raise ScenarioError(f"sweep folder {folder} holds {len(summary)} runs, expected "
                            f"{sweep.n_runs} once each: its summary/ parts were changed by hand; "
                            "start the sweep again in a new folder")
    phase = phase_table(sweep, summary)
    phase.to_parquet(folder / "phase.parquet", index=False)
    if sweep.design == "sobol":
        sobol_table(sweep, summary).to_parquet(folder / "sobol.parquet", index=False)
    return phase


def elapsed_since(start: float) -> float:
    return round(time.perf_counter() - start, 3)
