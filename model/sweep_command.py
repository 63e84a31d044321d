"""`icsabm sweep SWEEP_FILE [--out DIR] [--scheduler ADDRESS] [--resume]`.

Writes a sweep folder:

* ``summary/part-NNNNN.parquet`` — one row per run (point, replicate, seed,
  the axis values as dotted columns, and the summary columns of
  `summary.parquet`), one file per finished chunk;
* ``phase.parquet`` — per point: runs, share of each regime with its 95% Wilson
  interval, median months to synergy;
* ``sobol.parquet`` — for Sobol designs: first-order and total indices with
  95% intervals for each outcome;
* ``manifest.json`` — version, commit, the resolved sweep and its digest, seeds,
  engine, workers, wall time, and ``complete``.

Everything is validated before the folder is created, and a new sweep that
fails before its first chunk is on disk (a Dask scheduler that cannot be
reached, say) takes its folder away again. An interrupted sweep
(Ctrl-C, ``kill -9``, a lost worker) is finished by the same command with
``--resume``: chunks already on disk are kept, the rest are computed, and the
result equals an uninterrupted sweep.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numba
from tqdm import tqdm

from model import __version__
from model.cli import check_fresh_out, default_folder
from model.cluster import describe, make_engine, parse_scheduler
from model.provenance import git_commit
from model.scenario import ScenarioError
from model.sweep import (
    PARTS,
    discard_damaged_parts,
    elapsed_since,
    finish,
    run_sweep,
    write_json,
)
from model.sweep_file import Sweep, load_sweep

RUNS_DIR = Path("runs")


def _manifest(sweep: Sweep, scheduler: str | None, started: str) -> dict:
    kind, value = parse_scheduler(scheduler)
    return {
        "kind": "sweep",
        "icsabm_version": __version__,
        "git_commit": git_commit(),
        "sweep": sweep.to_dict(),
        "sweep_digest": sweep.digest(),
        "sweep_file": sweep.path,
        "runs": sweep.n_runs,
        "points": len(sweep.points),
        "seed_rule": "run (point p, replicate r) has seed "
                     "SeedSequence(seed, spawn_key=(p, r)) -> model.rng.replicate_seeds",
        "engine": describe(scheduler),
        "scheduler": scheduler,
        "workers": value if kind == "local" else None,
        "numba_threads": numba.get_num_threads(),
        "started_utc": started,
        "python": platform.python_version(),
        "argv": sys.argv,
        "complete": False,
    }


def _find_resumable(sweep: Sweep) -> Path | None:
    """The newest (by start time) `runs/<name>-*` folder of the same sweep that is not
    complete; a folder name's -2, -3 suffix does not sort by time, its manifest does."""
    found: list[tuple[str, Path]] = []
    for folder in RUNS_DIR.glob(f"{sweep.name}-*"):
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if (isinstance(manifest, dict) and manifest.get("sweep_digest") == sweep.digest()
                and not manifest.get("complete")):
            found.append((str(manifest.get("started_utc", "")), folder))
    return max(found)[1] if found else None


def _occupied_hint(folder: Path, sweep: Sweep) -> str:
    """What a non-empty --out folder holds, for its error: --resume is suggested only for
    an unfinished run of this same sweep."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(manifest, dict) or manifest.get("kind") != "sweep":
        return ""
    if manifest.get("complete"):
        return " (it holds a complete sweep; choose another --out)"
    if manifest.get("sweep_digest") == sweep.digest():
        return " (it holds this sweep, unfinished: use --resume to finish it)"
    return " (it holds a different, unfinished sweep)"


def _discard(folder: Path, created: bool) -> None:
    """Take away what a new sweep wrote before its first chunk: the folder if the
    sweep created it, else its manifest and (empty) summary folder."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    (folder / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(folder / PARTS, ignore_errors=True)


def sweep_command(sweep_file: str, out: str | None, scheduler: str | None, resume: bool,
                  quiet: bool = False) -> int:
    """Run (or resume) a sweep. Bad input raises ScenarioError (the sweep file, the
    scheduler, --resume) or CLIError (--out) before anything is written."""
    parse_scheduler(scheduler)
    sweep = load_sweep(sweep_file)
    if resume:
        folder = Path(out) if out else _find_resumable(sweep)
        if folder is None:
            raise ScenarioError(f"--resume: no unfinished runs/{sweep.name}-* folder of this "
                                "sweep; give its folder with --out")
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            raise ScenarioError(f"--resume: {folder} is not a sweep folder (no readable "
                                "manifest.json)") from None
        kind = manifest.get("kind") if isinstance(manifest, dict) else None
        if kind != "sweep":
            what = f"a {kind} folder, " if kind in ("run", "validation") else ""
            raise ScenarioError(f"--resume: {folder} is {what}not a sweep folder (its "
                                "manifest.json is not a sweep's); give a sweep's folder")
        if manifest.get("sweep_digest") != sweep.digest():
            raise ScenarioError(f"--resume: {folder} holds a different sweep (its digest "
                                "differs); start a new one without --resume")
        for index in discard_damaged_parts(sweep, folder):
            print(f"icsabm: re-running chunk {index}: its part file is damaged",
                  file=sys.stderr)
        manifest["scheduler"] = scheduler
        manifest["engine"] = describe(scheduler)
    else:
        manifest = _manifest(sweep, scheduler, dt.datetime.now(dt.UTC).isoformat())
        if out:
            folder = Path(out)
            check_fresh_out(folder, hint=_occupied_hint(folder, sweep))
            created = not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder, created = default_folder(sweep.name), True
        write_json(folder / "manifest.json", manifest)

    start = time.perf_counter()
    bar = tqdm(total=sweep.n_runs, unit="run", desc=sweep.name, disable=quiet or None,
               smoothing=0.1, file=sys.stderr)
    from model.sweep import done_chunks, plan_chunks

    done = done_chunks(folder)
    bar.update(sum(len(c.seeds) for c in plan_chunks(sweep) if c.index in done))
    try:
        run_sweep(sweep, folder, make_engine(scheduler, sweep.name), progress=bar.update)
    except BaseException:
        bar.close()
        if not resume and not done_chunks(folder):  # nothing worth resuming was written
            _discard(folder, created)
        raise
    bar.close()
    phase = finish(sweep, folder)
    manifest["complete"] = True
    manifest["wall_time_s"] = round(manifest.get("wall_time_s", 0.0) + elapsed_since(start), 3)
    manifest["finished_utc"] = dt.datetime.now(dt.UTC).isoformat()
    write_json(folder / "manifest.json", manifest)
    print(f"{sweep.n_runs} runs at {len(sweep.points)} points -> {folder}")
    shares = phase[["synergy_share", "inertia_share", "dissolution_share"]].mean()
    print(f"mean share over points: synergy {shares['synergy_share']:.2f}, inertia "
          f"{shares['inertia_share']:.2f}, dissolution {shares['dissolution_share']:.2f}")
    return 0
