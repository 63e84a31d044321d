"""Sweeps at scale: what each step reads, builds and holds, checked on small sweeps.

A million-run sweep is too slow for a test; these check the behaviour that keeps
its memory and time in bounds (tasks built as they are needed, the plan made once,
only the needed columns read) on sweeps of a few dozen runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import model.sweep as sweep_module
import model.sweep_command as command_module
from model.scenario import Scenario
from model.sweep import phase_table, read_summary, run_in_process, run_sweep
from model.sweep_command import sweep_command
from model.sweep_file import load_sweep

TINY = """
[sweep]
name = "tiny"
scenario = "voluntary_alliance"
design = "grid"
replicates = 2
steps = 6
seed = 3
chunk = 2
stride = 2

[axes]
"context.formalisation" = [0.2, 0.5, 0.8]
regime = ["mandated", "voluntary"]
"""


def write(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _counting_tasks(monkeypatch) -> list[int]:
    """Count the chunk tasks built (`chunk_task`); returns the live counter."""
    built = [0]
    real = sweep_module.chunk_task

    def counted(sweep, chunk):
        built[0] += 1
        return real(sweep, chunk)

    monkeypatch.setattr(sweep_module, "chunk_task", counted)
    return built


def test_tasks_are_built_as_the_engine_takes_them(tmp_path, monkeypatch):
    """Each task holds its runs' parameters (~1 KB a run): the engine gets them one by
    one, not a list of every chunk's, which for a million runs held a gigabyte."""
    sweep = load_sweep(write(tmp_path))
    built = _counting_tasks(monkeypatch)
    seen = []

    def engine(tasks):
        for result in run_in_process(tasks):
            seen.append(built[0])
            yield result

    run_sweep(sweep, tmp_path / "out", engine)
    assert seen == [1, 2, 3, 4, 5, 6]


def test_dask_gets_a_window_of_tasks_not_all_at_once(tmp_path, monkeypatch):
    """On a Dask cluster only a few chunks are submitted ahead of the results; the rest
    are built and submitted as results come back. The results are all there, once."""
    from dask.distributed import Client, LocalCluster

    import model.cluster as cluster

    monkeypatch.setattr(cluster, "MIN_IN_FLIGHT", 2, raising=False)
    sweep = load_sweep(write(tmp_path, TINY.replace("chunk = 2", "chunk = 1")))
    chunks = sweep_module.plan_chunks(sweep)
    pulled = [0]

    def tasks():
        for chunk in chunks:
            pulled[0] += 1
            yield sweep_module.chunk_task(sweep, chunk)

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as lc, \
            Client(lc) as client:  # the scheduler's HTTP server on a free port, not 8787
        ahead = []
        indices = []
        for result in cluster._dask_chunks(client, lc.scheduler_address, "tiny", tasks()):
            ahead.append(pulled[0] - len(indices))
            indices.append(result["index"])
    assert sorted(indices) == list(range(len(chunks))) == list(range(12))
    assert max(ahead) <= 2, ahead  # 2 per worker thread: never the whole sweep


def _counting_plans(monkeypatch) -> list[int]:
    planned = [0]
    real = sweep_module.plan_chunks

    def counted(sweep):
        planned[0] += 1
        return real(sweep)

    monkeypatch.setattr(sweep_module, "plan_chunks", counted)
    monkeypatch.setattr(command_module, "plan_chunks", counted)
    return planned


def test_a_sweep_command_plans_its_chunks_once(tmp_path, monkeypatch):
    """Planning derives every run's seed (seconds a million runs): once per command,
    for a new sweep and for --resume, which also checks every part on disk."""
    path = write(tmp_path)
    planned = _counting_plans(monkeypatch)
    sweep_command(str(path), str(tmp_path / "a"), None, resume=False, quiet=True)
    assert planned[0] == 1
    (tmp_path / "a" / "summary" / "part-00002.parquet").unlink()
    planned[0] = 0
    sweep_command(str(path), str(tmp_path / "a"), None, resume=True, quiet=True)
    assert planned[0] == 1
    assert len(read_summary(tmp_path / "a")) == 12


def test_finish_reads_only_the_columns_the_phase_table_needs(tmp_path, monkeypatch):
    """A sweep with `stride` has four columns a sampled month; the phase table needs
    four columns, and finishing reads those alone, with the same table as from every
    column."""
    path = write(tmp_path)
    asked = []
    real = pd.read_parquet

    def recorded(source, *args, **kwargs):
        asked.append(kwargs.get("columns"))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pd, "read_parquet", recorded)
    sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True)
    assert asked and all(c is not None and not any("@" in name for name in c) for c in asked)
    monkeypatch.setattr(pd, "read_parquet", real)
    full = read_summary(tmp_path / "out")
    assert any("@" in name for name in full.columns)
    expected = phase_table(load_sweep(path), full)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "phase.parquet"),
                                  expected)


@pytest.mark.parametrize("resume", [False, True])
def test_a_sweep_command_digests_each_scenario_once(tmp_path, monkeypatch, resume):
    """The sweep digest covers every point's scenario digest (0.1 ms each: 13 s for
    100,000 points); a command computes each once, not at every `digest`/`to_dict`."""
    path = write(tmp_path)
    if resume:
        sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True)
        (tmp_path / "out" / "summary" / "part-00000.parquet").unlink()
    calls = [0]
    real = Scenario.digest

    def counted(self):
        calls[0] += 1
        return real(self)

    monkeypatch.setattr(Scenario, "digest", counted)
    sweep_command(str(path), str(tmp_path / "out"), None, resume=resume, quiet=True)
    assert calls[0] == 6  # the grid's points


def _phase_point_by_point(sweep, summary: pd.DataFrame) -> pd.DataFrame:
    """The phase table as it was computed before, one point at a time (the reference)."""
    from analysis.stats import wilson_interval
    from model.regimes import REGIMES
    from model.sweep import axis_values
    from model.sweep_file import axis_column

    rows = []
    for point, group in summary.groupby("point", sort=True):
        row: dict = {"point": int(point), "runs": len(group)}
        row.update({axis_column(k): v for k, v in sweep.points[int(point)].items()})
        for regime in REGIMES:
            count = int((group["regime"] == regime).sum())
            lo, hi = wilson_interval(count, len(group))
            row[f"{regime}_share"] = count / len(group)
            row[f"{regime}_ci_low"] = lo
            row[f"{regime}_ci_high"] = hi
        tts = group["time_to_synergy"].astype(float)
        row["median_time_to_synergy"] = float(tts.median()) if tts.notna().any() else np.nan
        row["timed_runs"] = int(tts.notna().sum())
        rows.append(row)
    phase = pd.DataFrame(rows)
    for key in sweep.axis_keys:
        phase[axis_column(key)] = axis_values(sweep, key, phase["point"])
    return phase


def test_the_phase_table_is_computed_for_all_points_at_once(tmp_path, monkeypatch):
    """The same table, bit for bit, as point by point (shares, Wilson bounds, medians,
    points with no synergy or no timed run), without a Wilson interval per point: a loop
    over 100,000 points took 80 s."""
    import analysis.stats

    sweep = load_sweep(write(tmp_path))
    rng = np.random.default_rng(5)
    runs = 6 * 37
    regime = rng.choice(["synergy", "inertia", "dissolution"], runs, p=[0.4, 0.5, 0.1])
    point = np.repeat(np.arange(6), 37)
    regime[point == 2] = "inertia"  # no synergy at all
    times = pd.array(np.where(regime == "synergy", rng.integers(1, 60, runs), -1),
                     dtype="Int64")
    times[(times < 0) | (point == 4)] = pd.NA  # point 4: synergy, but no run timed
    summary = pd.DataFrame({"point": point, "replicate": np.tile(np.arange(37), 6),
                            "regime": regime, "time_to_synergy": times})
    expected = _phase_point_by_point(sweep, summary)

    def per_point(*args, **kwargs):
        raise AssertionError("a Wilson interval computed point by point")

    monkeypatch.setattr(analysis.stats, "wilson_interval", per_point)
    phase = phase_table(sweep, summary)
    pd.testing.assert_frame_equal(phase, expected, check_exact=True)
    assert phase.loc[2, "timed_runs"] == 0 and np.isnan(phase.loc[4, "median_time_to_synergy"])


def test_wilson_intervals_equal_the_scalar_ones():
    from analysis.stats import wilson_interval, wilson_intervals

    base = np.array([1, 2, 6, 7, 20, 37, 1000, 10_000, 999_983])
    n = np.tile(base, 3)
    k = np.concatenate([np.zeros(9, int), base // 3, base])
    low, high = wilson_intervals(k, n)
    assert [(float(a), float(b)) for a, b in zip(low, high, strict=True)] == [
        wilson_interval(int(a), int(b)) for a, b in zip(k, n, strict=True)]


def _phase_cells(nx: int, ny: int) -> pd.DataFrame:
    """A phase-diagram table (`analysis.figures_sweep.phase_table`'s columns) of nx x ny."""
    x, y = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    share = (x.ravel() + y.ravel()) / (nx + ny)
    return pd.DataFrame({"panel": "p", "x": x.ravel(), "y": y.ravel(), "x_axis": "X",
                         "y_axis": "Y", "x_tick": x.ravel().astype(str),
                         "y_tick": y.ravel().astype(str), "runs": 10, "synergy_share": share,
                         "synergy_ci_low": share * 0.9, "synergy_ci_high": share * 1.1,
                         "median_time_to_synergy": 12.0, "timed_runs": 10})


@pytest.mark.parametrize("nx, ny, image", [(10, 10, False), (120, 100, True)])
def test_a_phase_diagram_of_many_cells_is_an_image_in_the_pdf(tmp_path, nx, ny, image):
    """A grid of 100,000 points drew 100,000 edged paths into the PDF (7 s, 1.7 MB a
    figure); past MAX_VECTOR_CELLS the cells are an image, edges off. Small grids keep
    vector cells with white edges."""
    from matplotlib.collections import QuadMesh

    from analysis.figures_sweep import plot_phase

    fig = plot_phase(_phase_cells(nx, ny))
    meshes = [a for a in fig.axes[0].collections if isinstance(a, QuadMesh)]  # not the bar's
    assert len(meshes) == 1
    assert bool(meshes[0].get_rasterized()) is image
    assert (len(meshes[0].get_edgecolor()) == 0) is image  # "none": no edge colour
    fig.savefig(tmp_path / "phase.pdf")


@pytest.mark.parametrize("name", ["part-00001 (copy).parquet", "part-1.parquet",
                                  "part-00001-old.parquet"])
def test_a_file_misnamed_as_a_part_is_one_line(tmp_path, capsys, name):
    """A copy of a part left in summary/ (a file manager's 'part-00001 (copy).parquet')
    stopped --resume with a ValueError traceback, and read_summary read its runs twice;
    now both say which file in one line, and --resume writes nothing."""
    from model.cli import main
    from model.scenario import ScenarioError

    path = write(tmp_path)
    out = tmp_path / "out"
    sweep_command(str(path), str(out), None, resume=False, quiet=True)
    (out / "summary" / "part-00002.parquet").unlink()
    (out / "summary" / name).write_bytes((out / "summary" / "part-00001.parquet").read_bytes())
    manifest = (out / "manifest.json").read_text()
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and "not a part file" in err[0], err
    assert (out / "manifest.json").read_text() == manifest
    with pytest.raises(ScenarioError, match="not a part file"):
        read_summary(out)


SOBOL = """
[sweep]
name = "tiny_sobol"
scenario = "voluntary_alliance"
design = "sobol"
samples = 2
replicates = 2
steps = 6
seed = 3
stride = 2

[axes]
"context.formalisation" = { low = 0.1, high = 0.9 }
"context.funding" = { low = 0.1, high = 0.9 }
"""


@pytest.mark.parametrize("body", [SOBOL, TINY.replace('regime = ["mandated", "voluntary"]', "")],
                         ids=["sobol", "grid-1d"])
def test_sweep_figures_read_no_time_series(tmp_path, monkeypatch, body):
    """`icsabm figures` on a Sobol sweep, or on a 1-D grid (regime shares), read every
    column of the summary, with `stride` four a sampled month (gigabytes for a million
    runs), to use regime and four outcomes; it now reads those alone."""
    from model.cli import main

    path = write(tmp_path, body)
    sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True)
    assert any("@" in c for c in read_summary(tmp_path / "out").columns)
    asked = []
    real = pd.read_parquet

    def recorded(source, *args, **kwargs):
        asked.append((str(source), kwargs.get("columns")))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pd, "read_parquet", recorded)
    assert main(["figures", str(tmp_path / "out")]) == 0
    parts = [columns for source, columns in asked if "summary" in source]
    assert parts and all(c is not None and not any("@" in n for n in c) for c in parts)


def test_plain_numbers_are_validated_without_abstract_type_checks(tmp_path, monkeypatch):
    """Each point of a sweep validates every parameter (138 numbers): the isinstance
    checks against numbers.Real / Integral (abstract classes, slow) were a third of
    loading a sweep of 100,000 points. TOML's own int and float in range take a fast
    path; every other value still gets the full checks and the same one-line errors."""
    import numbers as real_numbers
    import types

    import model.scenario as scenario
    from model.scenario import ScenarioError, load_scenario

    asked = [0]

    class Counting(type):
        def __instancecheck__(cls, value):
            asked[0] += 1
            return isinstance(value, cls.real)

    counted = types.SimpleNamespace(
        Real=Counting("Real", (), {"real": real_numbers.Real}),
        Integral=Counting("Integral", (), {"real": real_numbers.Integral}))
    monkeypatch.setattr(scenario, "numbers", counted)
    load_sweep(write(tmp_path))
    assert asked[0] == 0
    for value, fragment in [(True, "is not a number"), ("0.5", "is not a number"),
                            (float("nan"), "out of range"), (float("inf"), "out of range"),
                            (1.5, "out of range"), (-1, "out of range")]:
        with pytest.raises(ScenarioError, match=fragment):
            load_scenario("voluntary_alliance", {"context.formalisation": value})
    with pytest.raises(ScenarioError, match="is not a whole number"):
        load_scenario("voluntary_alliance", {"steps": 12.5})
    assert load_scenario("voluntary_alliance", {"steps": 12.0}).steps == 12


def test_a_session_killed_with_kill_9_is_told_as_lost_on_resume(tmp_path):
    """kill -9 leaves the session it stopped open in the manifest (ended null, 0 chunks
    computed, 0 s): after --resume the manifest said the first command computed
    nothing. --resume now marks it lost, wall time unknown, and credits it with the
    chunks on disk that no other session computed."""
    import json

    path, out = write(tmp_path), tmp_path / "out"
    sweep_command(str(path), str(out), None, resume=False, quiet=True)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["complete"] = False  # as a kill -9 after four of six chunks leaves it
    manifest["sessions"][0].update(ended=None, chunks_computed=0, wall_time_s=0.0)
    (out / "manifest.json").write_text(json.dumps(manifest))
    for index in (4, 5):
        (out / "summary" / f"part-{index:05d}.parquet").unlink()
    sweep_command(str(path), str(out), None, resume=True, quiet=True)
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [(s["ended"], s["chunks_computed"]) for s in sessions] == [("lost", 4),
                                                                     ("complete", 2)]
    assert sessions[0]["wall_time_s"] is None
