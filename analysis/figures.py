"""Publication figures of run and sweep folders, and the `icsabm figures` command.

A small library: every figure is a tidy table (``*_table``, a DataFrame) and a
figure drawn from that table alone (``plot_*``, a matplotlib Figure), in
`analysis.figures_run` (one scenario's replicates) and
`analysis.figures_sweep` (phase diagrams, Sobol indices), drawn in the
project's theme (`analysis.theme`, colours from `analysis.palette`). This
module reads folders, decides which figures a folder supports, and writes
them; the CLI adds nothing but argument parsing. In a notebook::

    from analysis import figures as F
    run = F.read_run("runs/ics_mandated_supported-...")
    table = F.trajectory_table(run.timeseries, run.summary)
    F.plot_trajectories(table)

Run folder -> trajectories, regime_shares, trust_network, trust_matrix,
maturity, conflicts, power_trust. Sweep folder -> phase_synergy and
phase_time_to_synergy (grid with two axes besides regime), sensitivity (Sobol
design), regime_shares (points design or a grid with one axis besides
regime). Each figure is written as ``<stem>.<format>`` with its table as
``<stem>.csv`` (docs/FIGURES.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from matplotlib.figure import Figure

from analysis.figures_run import (  # noqa: F401  (re-exported for notebooks)
    SIZE_RATIO,
    band_table,
    conflict_table,
    default_months,
    maturity_table,
    plot_conflicts,
    plot_maturity,
    plot_power_trust,
    plot_regime_shares,
    plot_trajectories,
    plot_trust_matrix,
    plot_trust_network,
    power_trust_table,
    regime_share_table,
    replicates_text,
    run_scenarios,
    timeline_events,
    trajectory_table,
    trust_pairs_table,
    trust_snapshots,
)
from analysis.figures_sweep import (  # noqa: F401  (re-exported for notebooks)
    MIN_RARE_RUNS,
    MIN_RELATIVE_SD,
    OUTCOME_LABELS,
    FigureInputError,
    outcome_spread,
    phase_table,
    phase_title,
    plot_phase,
    plot_sobol,
    sobol_table,
    sweep_summaries,
)
from analysis.stats import REGIME_ORDER
from analysis.theme import FORMATS, save_figure, use_theme  # noqa: F401
from model.scenario import (
    MAX_SEED,
    Scenario,
    ScenarioError,
    counted,
    from_resolved,
    shown,
    whole_number,
)

#: At most this many replicates are re-simulated for the power figure.
POWER_REPLICATES = 50
#: A points sweep or 1-D grid with more points than this gets no regime-share bars.
MAX_BARS = 40
INDEX_FILE = "figures.json"
#: The columns CONTRACT.md promises in each table of a run folder (the figures read no
#: others): a table without them, or without rows, is refused before anything is drawn.
RUN_COLUMNS = {
    "timeseries.parquet": ("replicate", "seed", "step", "mean_trust", "mean_faith",
                           "mean_capacity", "mean_behaviour", "mean_confidence", "communication",
                           "conflicts", "conflicts_resolved", "output", "cumulative_output",
                           "active_members"),
    "summary.parquet": ("replicate", "seed", "regime", "time_to_synergy", "final_mean_trust",
                        "final_mean_faith", "final_mean_behaviour", "cumulative_output",
                        "exits"),
    "organisations.parquet": ("replicate", "step", "org", "kind", "size", "trust_in_others",
                              "trusted_by_others", "faith", "capacity", "behaviour", "active",
                              "maturity"),
}
#: The summary columns `outcome_spread` reads (synergy is read from `regime`).
SPREAD_COLUMNS = ["regime", *(o for o in OUTCOME_LABELS if o != "synergy")]
#: The columns of a sweep folder's tables that `model.sweep.finish` writes.
SWEEP_COLUMNS = {
    "phase.parquet": ("point", "runs", *(f"{regime}_{what}" for regime in REGIME_ORDER
                                         for what in ("share", "ci_low", "ci_high")),
                      "median_time_to_synergy"),
    "sobol.parquet": ("outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"),
}


@dataclass
class Job:
    """One figure to write: its file stem, what it shows, and how to make (table, figure)."""

    stem: str
    shows: str
    make: Callable[[], tuple[pd.DataFrame, Figure]]


@dataclass
class RunFolder:
    """The tables of a run folder (CONTRACT: Run folder)."""

    path: Path
    manifest: dict
    scenario: Scenario
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    organisations: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------- folders
def as_folder(value: str | os.PathLike, name: str = "folder") -> Path:
    """`value` (a str or `os.PathLike`) as a Path; FigureInputError naming `name` for
    anything else (pathlib's TypeError says nothing of the argument)."""
    if not isinstance(value, str | os.PathLike):
        raise FigureInputError(f"{name} = {shown(value)} is not a folder; allowed: the path of "
                               + ("a run or sweep folder" if name == "folder" else "a folder")
                               + " (str or os.PathLike)")
    return Path(value)


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a run or sweep folder.

    Raises:
        FigureInputError: not a folder, or no readable manifest.json of kind run or sweep.
    """
    folder = as_folder(folder)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise FigureInputError(f"{folder}: {what} (expected a run or sweep folder)")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        raise FigureInputError(f"{folder}: not a run or sweep folder (no readable "
                               "manifest.json)") from None
    if not isinstance(manifest, dict) or manifest.get("kind") not in ("run", "sweep"):
        raise FigureInputError(f"{folder}: manifest.json is not that of a run or sweep folder")
    return manifest


def read_table(path: Path, folder_kind: str, columns: Sequence[str] = ()) -> pd.DataFrame:
    """A Parquet table of a run or sweep folder, with at least one row and `columns`.

    Raises:
        FigureInputError: the file is missing or damaged, has no rows or lacks one of
            `columns` (one line naming it).
    """
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise FigureInputError(f"{path.parent}: cannot read {path.name} "
                               f"(incomplete {folder_kind} folder)") from None
    except (OSError, ValueError, pa.ArrowException):
        raise FigureInputError(f"{path}: damaged file, not readable as Parquet; "
                               f"re-create the {folder_kind} folder") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing or frame.empty:
        what = f"no column {missing[0]!r}" if missing else "no rows"
        raise FigureInputError(f"{path}: not the table icsabm writes ({what}); re-create the "
                               f"{folder_kind} folder")
    return frame


def read_sweep_summary(folder: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every run of a finished sweep folder (`model.sweep.read_summary`; with `columns`,
    only those, as a stride's time series can be gigabytes), with a missing or damaged
    part as a `FigureInputError` naming it."""
    from model.sweep import PARTS, read_summary

    try:
        frame = read_summary(folder, columns)
    except ScenarioError as exc:
        raise FigureInputError(str(exc)) from None
    if frame.empty:
        raise FigureInputError(f"{folder}: no runs in {PARTS}/ (incomplete sweep folder)")
    return frame


def scenario_from_manifest(manifest: dict) -> Scenario:
    """The resolved scenario of a run folder's manifest, roster included, so
    re-simulation with a recorded seed is exact (`model.scenario.from_resolved`)."""
    return from_resolved(manifest["scenario"])


def read_run(folder: str | Path) -> RunFolder:
    """Read a run folder written by `icsabm run`.

    Without ``organisations.parquet`` (a run without ``--agents``), the
    organisations table is re-simulated with the batch kernel from the
    manifest's seeds (bit-identical to the run) and a note says so.

    Raises:
        FigureInputError: not a run folder, or a file missing or damaged.
    """
    folder = as_folder(folder)
    manifest = read_manifest(folder)
    if manifest["kind"] != "run":
        raise FigureInputError(f"{folder}: a sweep folder, not a run folder")
    try:
        scenario = scenario_from_manifest(manifest)
    except (KeyError, TypeError, ValueError):  # ValueError includes ScenarioError
        raise FigureInputError(f"{folder}: manifest.json has no usable scenario") from None
    seeds = manifest.get("seeds")
    try:  # re-simulation (organisations_of, power_trust) starts from them
        if not isinstance(seeds, list) or not seeds:
            raise ScenarioError("no seeds")
        for seed in seeds:
            whole_number("seed", seed, 0, MAX_SEED)
    except ScenarioError:
        raise FigureInputError(f"{folder}: manifest.json has no usable seeds") from None

    def table(name: str) -> pd.DataFrame:
        return read_table(folder / name, "run", RUN_COLUMNS[name])

    run = RunFolder(folder, manifest, scenario, table("timeseries.parquet"),
                    table("summary.parquet"))
    if (folder / "organisations.parquet").is_file():
        run.organisations = table("organisations.parquet")
    return run


def run_summaries(folders: Sequence[str | Path]) -> dict[str, pd.DataFrame]:
    """Summary tables of several run folders keyed by scenario name (the folder's name,
    or else its path, when a scenario's name is taken), for `regime_share_table`.

    Raises:
        FigureInputError: a folder is not a run folder, or is given twice.
    """
    out: dict[str, pd.DataFrame] = {}
    for folder in folders:
        run = read_run(folder)
        folder = as_folder(folder)
        keys = [k for k in (run.scenario.name, Path(folder).name, str(folder)) if k not in out]
        if not keys:  # every key taken: a third key would replace a table silently
            raise FigureInputError(f"folders: {folder} is given twice")
        out[keys[0]] = run.summary
    return out


def organisations_of(run: RunFolder) -> pd.DataFrame:
    """The run's organisations table, re-simulated with the batch kernel if not stored."""
    if run.organisations is None:
        from model.batch import organisations_frame, run_arrays

        seeds = np.asarray(run.manifest["seeds"], dtype=np.int64)
        _, orgs, sizes = run_arrays(run.scenario, seeds, agents=True)
        run.organisations = organisations_frame(run.scenario, orgs, sizes)
        run.notes.append("maturity: organisations.parquet absent (run without --agents); "
                         "re-simulated from the manifest's seeds")
    return run.organisations


def network_replicate(summary: pd.DataFrame) -> int:
    """The replicate shown in the trust network and matrix: the first one that ended in
    the run's most common regime (a representative replicate, not the best)."""
    counts = summary["regime"].value_counts()
    regime = max(REGIME_ORDER, key=lambda r: (counts.get(r, 0), -REGIME_ORDER.index(r)))
    return int(summary.loc[summary["regime"] == regime, "replicate"].iloc[0])


# ---------------------------------------------------------------------------- jobs
def _job(stem: str, shows: str, table: Callable[[], pd.DataFrame], plot: Callable[..., Figure],
         title: str | None) -> Job:
    """A figure made by drawing `plot(table(), title=title)`."""

    def make() -> tuple[pd.DataFrame, Figure]:
        frame = table()
        return frame, plot(frame, title=title)

    return Job(stem, shows, make)


def run_jobs(run: RunFolder) -> list[Job]:
    """The figures of a run folder."""
    name = run.scenario.name
    summary = run.summary
    replicate = network_replicate(summary)
    seed = int(summary.loc[summary["replicate"] == replicate, "seed"].iloc[0])
    regime = summary.loc[summary["replicate"] == replicate, "regime"].iloc[0]
    months = default_months(run.scenario.steps)
    seeds = summary.sort_values("replicate")["seed"].to_numpy()[:POWER_REPLICATES]
    if len(summary) > POWER_REPLICATES:
        run.notes.append(f"power_trust: first {POWER_REPLICATES} of {len(summary)} replicates "
                         "re-simulated")
    pairs: dict[str, pd.DataFrame] = {}

    def trust_pairs() -> pd.DataFrame:
        if "table" not in pairs:
            pairs["table"] = trust_pairs_table(run.scenario, seed, months, replicate)
        return pairs["table"]

    who = f"{name}, replicate {replicate} (seed {seed}, ended in {regime})"
    runs = replicates_text(len(summary))
    events = timeline_events(run.scenario)
    return [
        _job("trajectories", "median and 50%/90% bands of trust, faith, behaviour and output "
             "by final regime", lambda: trajectory_table(run.timeseries, summary),
             partial(plot_trajectories, events=events), f"{name}: {runs}"),
        _job("regime_shares", "share of replicates in each regime with 95% Wilson intervals",
             lambda: regime_share_table({name: summary}), plot_regime_shares,
             f"{name}: regime at the end of the run ({runs})"),
        _job("trust_network", f"trust network at months {months} of one replicate",
             trust_pairs, plot_trust_network, f"Trust network, {who}"),
        _job("trust_matrix", f"trust matrix by kind at months {months} of one replicate",
             trust_pairs, plot_trust_matrix, f"Trust matrix by kind, {who}"),
        _job("maturity", "share of organisations per maturity level over time, by kind",
             lambda: maturity_table(organisations_of(run)), plot_maturity,
             f"{name}: maturity of the partners ({runs} pooled)"),
        _job("conflicts", "conflicts raised and resolved per month",
             lambda: conflict_table(run.timeseries),
             partial(plot_conflicts, events=events),
             f"{name}: conflicts raised and resolved ({runs})"),
        _job("power_trust", "trust of smaller organisations in larger ones vs among peers",
             lambda: power_trust_table(run.scenario, seeds), plot_power_trust,
             f"{name}: trust across the size gap (C17, {replicates_text(len(seeds))})"),
    ]


def sobol_runs_text(sweep: dict) -> str:
    """What a Sobol sweep's indices rest on, from its manifest's sweep table: '4 base
    samples of 3 parameters: 20 points x 2 replicates = 40 runs; indices of each point's
    mean over its replicates' (SALib's sampler without second order gives N x (D + 2)
    points)."""
    points, replicates = len(sweep.get("points") or []), int(sweep.get("replicates") or 1)
    names = (sweep.get("sobol_problem") or {}).get("names") or list(sweep.get("axes") or {})
    dims = len(names)
    text = (f"{points // (dims + 2)} base samples of {dims} parameters: {points} points x "
            f"{replicates_text(replicates)} = {points * replicates} runs")
    if replicates > 1:
        text += "; indices of each point's mean over its replicates"
    return text


def sweep_subject(name: str, sweep: dict) -> str:
    """What a sweep's figures show runs of: its name, base scenario and fixed `set`
    (``"timing (base scenario stp_to_ics; set funding=0.8, regime=voluntary)"``), so that a
    figure of a sweep that overrides its base says so."""
    def item(key: str, value: Any) -> str:
        short = key.split(".", 1)[1] if key.startswith(SET_GROUPS) else key
        return f"{short}={value:g}" if isinstance(value, float) else f"{short}={value}"

    fixed = sweep.get("set")
    shown_set = ", ".join(item(k, v) for k, v in fixed.items()) if isinstance(fixed, dict) else ""
    return (f"{name} (base scenario {sweep.get('scenario')}"
            + (f"; set {shown_set}" if shown_set else "") + ")")


#: Groups whose keys `sweep_subject` writes by their short name.
SET_GROUPS = ("context.", "constants.", "organisations.")


def sweep_jobs(folder: Path, manifest: dict) -> list[Job]:
    """The figures a sweep folder supports.

    Raises:
        FigureInputError: unfinished sweep, or a design no figure is drawn for.
    """
    sweep = manifest.get("sweep") or {}
    if not isinstance(sweep, dict):
        raise FigureInputError(f"{folder}: manifest.json has no usable sweep table")
    name, design = sweep.get("name", folder.name), sweep.get("design")
    if not manifest.get("complete") or not (folder / "phase.parquet").is_file():
        raise FigureInputError(f"{folder}: sweep {name!r} is not finished; finish it with "
                               f"icsabm sweep --resume --out {folder}")
    if design == "sobol":
        sobol = sobol_table(read_table(folder / "sobol.parquet", "sweep",
                                       SWEEP_COLUMNS["sobol.parquet"]),
                            read_sweep_summary(folder, SPREAD_COLUMNS))
        return [_job("sensitivity", "first-order and total Sobol indices with 95% intervals",
                     lambda: sobol, plot_sobol,
                     f"{sweep_subject(name, sweep)}: sensitivity ({sobol_runs_text(sweep)})")]
    phase = read_table(folder / "phase.parquet", "sweep", SWEEP_COLUMNS["phase.parquet"])
    n_axes = len([a for a in sweep.get("axes", {}) if a != "regime"])
    if design == "grid" and n_axes == 2:
        table = phase_table(manifest, phase)  # validated now, before anything is written
        subject = sweep_subject(name, sweep)
        return [
            _job("phase_synergy", "share of runs ending in synergy per cell, 50% contour",
                 lambda: table, partial(plot_phase, value="synergy_share"),
                 phase_title(table, "synergy_share", subject)),
            _job("phase_time_to_synergy", "median months to synergy per cell",
                 lambda: table, partial(plot_phase, value="median_time_to_synergy"),
                 phase_title(table, "median_time_to_synergy", subject)),
        ]
    if design == "points" or (design == "grid" and n_axes <= 1):
        if len(phase) > MAX_BARS:
            raise FigureInputError(
                f"{folder}: no figure for sweep {name!r}: its {len(phase)} points are more "
                f"than the {MAX_BARS} a regime-share figure shows; split it into sweeps of at "
                f"most {MAX_BARS} points")
        runs = read_sweep_summary(folder, ["regime"])
        shares = regime_share_table(sweep_summaries(manifest, runs))
        return [_job("regime_shares", "share of runs in each regime per point, 95% Wilson "
                     "intervals", lambda: shares,
                     partial(plot_regime_shares, axis_label="Sweep point"),
                     f"{sweep_subject(name, sweep)}: regime at the end of the run")]
    if design == "grid":
        raise FigureInputError(
            f"{folder}: no figure for sweep {name!r}: a grid needs one or two axes besides "
            f"regime, it has {n_axes}; fix all but two at one value in the sweep file")
    raise FigureInputError(
        f"{folder}: no figure for sweep {name!r}: figures are drawn for grid, points and "
        f"Sobol designs, not {design}; analyse its runs with model.sweep.read_summary "
        "(docs/FIGURES.md)")


def figure_jobs(folder: str | Path) -> tuple[dict, list[Job], list[str]]:
    """(manifest, figures to draw, notes) for a run or sweep folder; input checked up front."""
    folder = as_folder(folder)
    manifest = read_manifest(folder)
    if manifest["kind"] == "run":
        run = read_run(folder)
        return manifest, run_jobs(run), run.notes
    return manifest, sweep_jobs(folder, manifest), []


def write_figures(folder: str | Path, out: str | Path,
                  formats: str | Iterable[str] = ("pdf", "png"),
                  log: Callable[[str], None] | None = None) -> dict:
    """Draw every figure of `folder` into `out` (created if missing; files of the same
    names are replaced); returns the index.

    `formats` is any of pdf, png and svg, as a sequence (``("pdf", "png")``) or as
    text (``"png"``, ``"pdf,svg"``).

    Raises:
        FigureInputError: a format other than pdf, png or svg, an `out` that is not a
            folder, or a folder figures cannot be drawn from; all are checked before
            `out` is touched.
    """
    fmts = parse_formats(formats, "formats")
    out = as_folder(out, "out")
    if out.exists() and not out.is_dir():
        raise FigureInputError(f"out = {str(out)!r} is a file, not a folder")
    manifest, jobs, notes = figure_jobs(folder)
    out.mkdir(parents=True, exist_ok=True)
    return _write(jobs, notes, out, fmts, log or (lambda _: None))


def _write(jobs: list[Job], notes: list[str], out: Path, formats: list[str],
           log: Callable[[str], None]) -> dict:
    entries = []
    for job in jobs:
        start = time.perf_counter()
        table, fig = job.make()
        paths = save_figure(fig, table, out, job.stem, formats)
        entries.append({"stem": job.stem, "shows": job.shows,
                        "files": [p.name for p in paths], "rows": len(table),
                        "seconds": round(time.perf_counter() - start, 2)})
        log(f"  {job.stem:<22} {', '.join(p.suffix[1:] for p in paths)}  "
            f"({entries[-1]['seconds']:.1f} s)")
    for note in notes:
        log(f"  note: {note}")
    return {"figures": entries, "notes": notes}


# ------------------------------------------------------------------------- command
def parse_formats(formats: str | Iterable[str], label: str = "--format") -> list[str]:
    """`"pdf,png,svg"` or `["pdf", "png", "svg"]` -> ['pdf', 'png', 'svg'] (lower case,
    no dots, no repeats); FigureInputError naming `label` for anything but pdf, png and
    svg, or for no format at all."""
    items = formats.split(",") if isinstance(formats, str) else formats
    try:
        wanted = [f.strip().lower().lstrip(".") for f in items]
    except (TypeError, AttributeError):  # not iterable, or not text
        wanted = []
    wanted = [f for f in wanted if f]
    if not wanted or not set(wanted) <= set(FORMATS):
        raise FigureInputError(f"{label} {shown(formats)}: allowed formats are "
                               f"{', '.join(FORMATS)}"
                               + (" (comma-separated)" if isinstance(formats, str) else ""))
    return list(dict.fromkeys(wanted))


def figures_command(folder: str, out: str | None, formats: str) -> int:
    """`icsabm figures RUN_OR_SWEEP_DIR [--out DIR] [--format pdf,png,svg]`.

    Writes into a temporary folder beside the target and moves it into place
    at the end, so a failure leaves nothing half-written (nor the parent folders
    made for it). An existing target is replaced only if it is empty or an
    earlier ``icsabm figures`` output (it holds ``figures.json``).
    """
    from model.cli import (
        NAME_CHARS,
        CLIError,
        make_parents,
        remove_made,
        staging_folder,
        through_link,
    )

    source = Path(folder)
    target = through_link(Path(out) if out else source / "figures")
    try:
        fmts = parse_formats(formats)
        _, jobs, notes = figure_jobs(source)  # input checked before touching the output
    except FigureInputError as exc:
        raise CLIError(str(exc)) from None
    if target.exists() and not (target.is_dir() and (
            not any(target.iterdir()) or (target / INDEX_FILE).is_file())):
        raise CLIError(f"--out {target}: already exists and is not an icsabm figures folder")
    parents = make_parents(target)
    tmp = staging_folder(target)  # the folder's permissions, not mkdtemp's 0700
    start = time.perf_counter()
    try:
        print(f"figures of {source}:")
        index = {"source": str(source), "formats": fmts,
                 "created_utc": dt.datetime.now(dt.UTC).isoformat(),
                 **_write(jobs, notes, tmp, fmts, print),
                 "wall_time_s": round(time.perf_counter() - start, 2)}
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2))
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name[:NAME_CHARS]}.old-",
                                        dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except FigureInputError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_made(parents)
        raise CLIError(str(exc)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_made(parents)
        raise
    print(f"{counted(len(index['figures']), 'figure')} in "
          f"{time.perf_counter() - start:.1f} s -> {target}")
    return 0
