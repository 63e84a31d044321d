"""`icsabm sweep SWEEP_FILE [--out DIR] [--scheduler ADDRESS] [--resume]`.

Writes a sweep folder:

* ``summary/part-NNNNN.parquet`` — one row per run (point, replicate, seed,
  the axis values as dotted columns, and the summary columns of
  `summary.parquet`), one file per finished chunk;
* ``phase.parquet`` — per point: runs, share of each regime with its 95% Wilson
  interval, median months to synergy and the runs it rests on (``timed_runs``);
* ``sobol.parquet`` — for Sobol designs: first-order and total indices with
  95% intervals for each outcome, and its ``noise_share`` (`model.sweep.noise_share`);
* ``manifest.json`` — version, commit, the resolved sweep and its digest, seeds,
  engine, scheduler, workers, numba threads, numerics (the digest of the
  computing machines' floating-point results, `model.batch.numerics_digest`)
  and argv (of the latest session), ``sessions`` (one per command that worked
  on the folder: argv, engine, scheduler, workers, numba threads, numerics,
  version, commit, start, wall time, chunks computed and how it ended), the
  total wall time, and ``complete``.

Everything is validated, and a Dask cluster checked (`model.cluster`), before
the folder is created, and a new sweep that fails before its first chunk is on
disk takes its folder (and the parents made for it) away again. An interrupted
sweep (Ctrl-C, ``kill -9``, a lost worker) is finished by the same command with
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
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from model import __version__
from model.cli import (
    IncompleteError,
    check_fresh_out,
    default_folder,
    folder_name,
    make_parents,
    remove_made,
    through_link,
)
from model.cluster import (
    Engine,
    SchedulerLostError,
    WorkersLostError,
    open_engine,
    parse_scheduler,
)
from model.jit_cache import source_hash
from model.provenance import git_commit
from model.scenario import ScenarioError, counted
from model.sweep import (
    CHUNK_PLAN,
    PARTS,
    Chunk,
    OtherKernelsError,
    OtherNumericsError,
    discard_damaged_parts,
    done_chunks,
    elapsed_since,
    finish,
    plan_chunks,
    plans_agree,
    run_sweep,
    write_json,
)
from model.sweep_file import Sweep, load_sweep

RUNS_DIR = Path("runs")


def _manifest(sweep: Sweep, started: str) -> dict:
    """A new sweep's manifest; the engine fields and `argv` are filled per session."""
    return {
        "kind": "sweep",
        "icsabm_version": __version__,
        "git_commit": git_commit(),
        "kernel_sources": source_hash(),
        "sweep": sweep.to_dict(),
        "sweep_digest": sweep.digest(),
        "sweep_file": sweep.path,
        "runs": sweep.n_runs,
        "points": len(sweep.points),
        "seed_rule": "run (point p, replicate r) has seed "
                     "SeedSequence(seed, spawn_key=(p, r)) -> model.rng.replicate_seeds",
        "chunk_plan": CHUNK_PLAN,
        "started_utc": started,
        "python": platform.python_version(),
        "complete": False,
        "sessions": [],
    }


#: What a manifest says about each session, and at its top level about the latest one.
SESSION_KEYS = ("argv", "engine", "scheduler", "workers", "dask_threads", "numba_threads",
                "numerics")


def _begin_session(manifest: dict, engine: dict, started: str) -> dict:
    """Record a new session (this command) in `manifest`: its engine fields and `argv`
    become the top-level ones, and it is appended to `sessions`. A manifest written
    before sessions were kept gets its one earlier session from its top-level fields."""
    sessions = manifest.setdefault("sessions", [
        {**{key: manifest.get(key) for key in SESSION_KEYS},
         "started_utc": manifest.get("started_utc"), "wall_time_s": manifest.get("wall_time_s"),
         "chunks_computed": None}])
    session = {"argv": sys.argv, **engine, "icsabm_version": __version__,
               "git_commit": git_commit(), "started_utc": started,
               "wall_time_s": 0.0, "chunks_computed": 0, "ended": None}
    sessions.append(session)
    manifest.update({key: session[key] for key in SESSION_KEYS})
    return session


def _end_session(manifest: dict, session: dict, ended: str, start: float, computed: int) -> None:
    """Close `session` (complete, interrupted or failed) and total the wall time."""
    session.update(ended=ended, wall_time_s=elapsed_since(start), chunks_computed=computed)
    manifest["wall_time_s"] = round(sum(s.get("wall_time_s") or 0.0
                                        for s in manifest["sessions"]), 3)


def _close_lost_sessions(manifest: dict, chunks_on_disk: int) -> None:
    """Close the sessions a resumed folder's manifest left open: their command was
    killed (`kill -9`, a lost machine) before it could say how it ended. Each is marked
    `ended: "lost"` with its wall time unknown (None); the one such session is credited
    with the chunks on disk that no closed session computed."""
    sessions = manifest.get("sessions") or []
    lost = [s for s in sessions if isinstance(s, dict) and "ended" in s and s["ended"] is None]
    credited = sum(s.get("chunks_computed") or 0 for s in sessions
                   if isinstance(s, dict) and s not in lost)
    for session in lost:
        session.update(ended="lost", wall_time_s=None, chunks_computed=None)
    if len(lost) == 1:
        lost[0]["chunks_computed"] = max(0, chunks_on_disk - credited)


def _find_resumable(sweep: Sweep) -> Path | None:
    """The newest (by start time) `runs/<name>-*` folder of the same sweep that is not
    complete; a folder name's -2, -3 suffix does not sort by time, its manifest does."""
    found: list[tuple[str, Path]] = []
    for folder in RUNS_DIR.glob(f"{folder_name(sweep.name)}-*"):  # as default_folder names it
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


def _discard(folder: Path, created: bool, parents: list[Path]) -> None:
    """Take away what a new sweep wrote before its first chunk: the folder if the
    sweep created it, and the parent folders it made for it (`make_parents`), else its
    manifest and (empty) summary folder."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        remove_made(parents)
        return
    (folder / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(folder / PARTS, ignore_errors=True)


def sweep_command(sweep_file: str, out: str | None, scheduler: str | None, resume: bool,
                  quiet: bool = False) -> int:
    """Run (or resume) a sweep. Bad input raises ScenarioError (the sweep file, the
    scheduler, --resume, a Dask cluster that fails its checks) or CLIError (--out)
    before anything is written; a Dask scheduler lost part-way raises IncompleteError
    once the manifest records what was saved."""
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
        sessions = manifest.get("sessions", [])
        if not (isinstance(sessions, list) and all(isinstance(x, dict) for x in sessions)):
            raise ScenarioError(f"--resume: {folder}/manifest.json: 'sessions' is not a list "
                                "of sessions (the file was edited); put it back as icsabm "
                                "wrote it, or start a new sweep without --resume")
        if manifest.get("sweep_digest") != sweep.digest():
            raise ScenarioError(f"--resume: {folder} holds a different sweep (its digest "
                                "differs); start a new one without --resume")
        done_chunks(folder)  # a misnamed part is one line now, before anything is written
        started_with = manifest.get("kernel_sources")
        if started_with is not None and started_with != source_hash():
            raise ScenarioError(
                f"--resume: {folder} was started by icsabm {manifest.get('icsabm_version')} "
                f"(commit {manifest.get('git_commit')}) with other kernel sources, whose runs "
                "this code would not reproduce; finish it with that version, or start a new "
                "sweep without --resume")
        plan = manifest.get("chunk_plan", 1)
        if plan != CHUNK_PLAN and not (plan == 1 and plans_agree(sweep)):
            raise ScenarioError(
                f"--resume: {folder} was started by icsabm {manifest.get('icsabm_version')} "
                f"(commit {manifest.get('git_commit')}), which split this sweep into other "
                "chunks; finish it with that version, or start a new sweep without --resume")
        manifest["chunk_plan"] = CHUNK_PLAN
    elif out:
        check_fresh_out(Path(out), hint=_occupied_hint(Path(out), sweep))
    # the session's start and wall time include starting or checking the cluster
    started, start = dt.datetime.now(dt.UTC).isoformat(), time.perf_counter()
    if scheduler is not None and not quiet and sys.stderr.isatty():  # before the bar shows
        print(f"icsabm: {'starting' if scheduler.startswith('local:') else 'checking'} the "
              f"Dask cluster {scheduler} (a first check compiles the model on each worker, "
              "up to a minute)", file=sys.stderr)
    with open_engine(scheduler, sweep.name) as engine:
        chunks = plan_chunks(sweep)  # once: it derives every run's seed
        if resume:
            _check_numerics(engine, folder, manifest.get("numerics"))
            for index in discard_damaged_parts(sweep, folder, chunks):
                print(f"icsabm: re-running chunk {index}: its part file is damaged",
                      file=sys.stderr)
            _close_lost_sessions(manifest, len(done_chunks(folder)))
        else:
            _check_numerics(engine)
            manifest = _manifest(sweep, started)
            if out:
                folder = through_link(Path(out))
                created = not folder.exists()
                parents = make_parents(folder)
                folder.mkdir(exist_ok=True)
            else:
                folder, created, parents = default_folder(sweep.name), True, []
        session = _begin_session(manifest, engine.info, started)
        write_json(folder / "manifest.json", manifest)
        phase = _run(sweep, chunks, folder, engine, manifest, session, start, quiet,
                     discard=None if resume else (lambda: _discard(folder, created, parents)))
    manifest["complete"] = True
    manifest["finished_utc"] = dt.datetime.now(dt.UTC).isoformat()
    write_json(folder / "manifest.json", manifest)
    if resume and not session["chunks_computed"]:  # --resume of a finished sweep
        tables = ("phase table and Sobol indices were" if sweep.design == "sobol"
                  else "phase table was")
        print(f"icsabm: {folder} already held every run: nothing was computed (its {tables} "
              "written again)", file=sys.stderr)
    print(f"{counted(sweep.n_runs, 'run')} at {counted(len(sweep.points), 'point')} -> {folder}")
    shares = phase[["synergy_share", "inertia_share", "dissolution_share"]].mean()
    print(f"mean share over points: synergy {shares['synergy_share']:.2f}, inertia "
          f"{shares['inertia_share']:.2f}, dissolution {shares['dissolution_share']:.2f}")
    return 0


def _check_numerics(engine: Engine, folder: Path | None = None,
                    started_with: str | None = None) -> None:
    """Refuse to resume a sweep on machines that compute other floating-point results than
    those that started it (its parts would mix two sets of numbers); warn when a Dask
    cluster's results differ from this machine's (`icsabm run` here would then not
    reproduce the sweep's runs bit for bit)."""
    from model.batch import numerics_digest

    numerics = engine.info["numerics"]
    if started_with is not None and started_with != numerics:
        raise ScenarioError(
            f"--resume: {folder} was started on machines that compute other floating-point "
            f"results ({started_with[:12]}, not {numerics[:12]} here: another maths library "
            "or CPU), so its runs would mix two sets of numbers; finish it where it started")
    if numerics != numerics_digest():
        print(f"icsabm: warning: the Dask workers compute other floating-point results "
              f"({numerics[:12]}) than this machine ({numerics_digest()[:12]}): the sweep is "
              "reproducible on them, but `icsabm run` here will not give its runs bit for bit",
              file=sys.stderr)


def _cluster_failure(exc: BaseException) -> str | None:
    """What went wrong on the Dask cluster part-way, in a few words, or None."""
    if isinstance(exc, SchedulerLostError):
        return f"lost the Dask scheduler at {exc}"
    if isinstance(exc, WorkersLostError):
        return str(exc)
    if isinstance(exc, OtherKernelsError):
        return (f"a Dask worker that joined during the sweep runs other code ({exc}); "
                "install the same icsabm on every worker")
    if isinstance(exc, OtherNumericsError):
        return (f"a Dask worker that joined during the sweep computes other floating-point "
                f"results ({exc}); use workers on one kind of machine")
    return None


def _run(sweep: Sweep, chunks: list[Chunk], folder: Path, engine: Engine, manifest: dict,
         session: dict, start: float, quiet: bool,
         discard: Callable[[], None] | None) -> pd.DataFrame:
    """Compute the chunks (`plan_chunks`) not on disk with a progress bar, then the phase
    table (returned), and close the session in the manifest, also when stopped. A new
    sweep (`discard` given) stopped before its first chunk is on disk is taken away
    instead (nothing worth resuming was written)."""
    before = done_chunks(folder)
    bar = tqdm(total=sweep.n_runs, unit="run", desc=sweep.name, disable=quiet or None,
               smoothing=0.1, file=sys.stderr)
    bar.update(sum(len(c.seeds) for c in chunks if c.index in before))
    try:
        run_sweep(sweep, folder, engine.compute, progress=bar.update,
                  numerics=engine.info["numerics"], chunks=chunks)
    except BaseException as exc:
        bar.close()
        saved = done_chunks(folder)
        cause = _cluster_failure(exc)
        if discard is not None and not saved:
            discard()
            if cause:
                raise IncompleteError(f"{cause} before any chunk was saved; nothing was "
                                      "written: start the sweep again") from None
            raise
        stopped = isinstance(exc, KeyboardInterrupt | SchedulerLostError | WorkersLostError)
        _end_session(manifest, session, "interrupted" if stopped else "failed", start,
                     len(saved - before))
        write_json(folder / "manifest.json", manifest)
        if cause:
            raise IncompleteError(f"{cause}: {len(saved)} of {len(chunks)} chunks saved in "
                                  f"{folder}; finish with --resume") from None
        raise
    bar.close()
    phase = finish(sweep, folder)
    _end_session(manifest, session, "complete", start, len(done_chunks(folder) - before))
    return phase
