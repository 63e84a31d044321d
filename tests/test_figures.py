"""`icsabm figures` and the `analysis.figures` library (issue 5).

Every figure is drawn from small run and sweep folders made here; the tests
check the files, the tidy tables beside them, the axis labels, the fixed
colours, exact re-simulation, and that bad input gives one line and exit 2.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import figures as F
from analysis.figures_run import TRAJECTORY_VARIABLES
from analysis.palette import KIND_COLOURS, REGIME_COLOURS
from analysis.theme import DOUBLE_COLUMN, DPI, SINGLE_COLUMN
from model.cli import main
from model.regimes import MATURITY, REGIMES
from model.scenario import SCENARIO_DIR, load_scenario

STEPS = 24
RUN_STEMS = ("trajectories", "regime_shares", "trust_network", "trust_matrix", "maturity",
             "conflicts", "power_trust")
GRID = """
[sweep]
name = "tiny_phase"
scenario = "ics_mandated_supported"
design = "grid"
replicates = 3
steps = 24
seed = 0

[axes]
initial_trust = { keys = ["context.history_of_competition", "context.prior_success"], \
rows = [[0.9, 0.0], [0.5, 0.4], [0.1, 0.8]] }
"context.formalisation" = [0.1, 0.5, 0.9]
regime = ["mandated", "voluntary"]
"""
SOBOL = """
[sweep]
name = "tiny_sobol"
scenario = "ics_mandated_supported"
design = "sobol"
samples = 4
replicates = 2
steps = 12
seed = 0

[axes]
"context.formalisation" = { low = 0.1, high = 0.9 }
"context.funding" = { low = 0.1, high = 0.9 }
"context.quick_wins" = { low = 0.0, high = 0.9 }
"""
POINTS = """
[sweep]
name = "tiny_points"
scenario = "voluntary_alliance"
design = "points"
replicates = 3
steps = 12

[[points]]
"context.funding" = 0.2

[[points]]
"context.funding" = 0.9
"""
LHS = """
[sweep]
name = "tiny_lhs"
scenario = "voluntary_alliance"
design = "lhs"
samples = 3
replicates = 1
steps = 6

[axes]
"context.funding" = { low = 0.1, high = 0.9 }
"""
GRID2 = """
[sweep]
name = "tiny_grid2"
scenario = "voluntary_alliance"
replicates = 2
steps = 6

[axes]
"context.funding" = [0.2, 0.8]
"organisations.acute_trust" = [2, 4]
"""
GRID3 = """
[sweep]
name = "tiny_grid3"
scenario = "voluntary_alliance"
replicates = 1
steps = 6

[axes]
"context.funding" = [0.2, 0.8]
"context.formalisation" = [0.2, 0.8]
"context.quick_wins" = [0.0, 0.5]
"""


def _cli(*args: str) -> int:
    return main([*args])


def _sweep(folder: Path, name: str, text: str) -> Path:
    toml = folder / f"{name}.toml"
    toml.write_text(text)
    out = folder / name
    assert _cli("sweep", str(toml), "--out", str(out), "--quiet") == 0
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Small run and sweep folders, made once for this module."""
    base = tmp_path_factory.mktemp("figures")
    runs = {
        "agents": ["ics_mandated_supported", "--replicates", "6", "--agents"],
        "plain": ["voluntary_alliance", "--replicates", "4"],
    }
    out = {}
    for name, args in runs.items():
        out[name] = base / name
        assert _cli("run", *args, "--steps", str(STEPS), "--out", str(out[name]),
                    "--quiet") == 0
    for name, text in (("grid", GRID), ("grid2", GRID2), ("sobol", SOBOL), ("points", POINTS),
                       ("lhs", LHS), ("grid3", GRID3)):
        out[name] = _sweep(base, name, text)
    return out


@pytest.fixture(scope="module")
def run_figures(folders) -> Path:
    assert _cli("figures", str(folders["agents"]), "--format", "pdf,png,svg") == 0
    return folders["agents"] / "figures"


def _nonempty(path: Path) -> None:
    assert path.is_file(), path
    assert path.stat().st_size > 0, path


# ------------------------------------------------------------------------- run folder
def test_run_folder_gives_every_figure_in_every_format(run_figures):
    for stem in RUN_STEMS:
        for ext in ("pdf", "png", "svg", "csv"):
            _nonempty(run_figures / f"{stem}.{ext}")
    index = json.loads((run_figures / "figures.json").read_text())
    assert [f["stem"] for f in index["figures"]] == list(RUN_STEMS)
    assert not list(run_figures.parent.glob(".figures.tmp-*"))


def test_png_is_300_dpi_at_journal_width(run_figures):
    from PIL import Image

    for stem, width in (("trajectories", DOUBLE_COLUMN), ("conflicts", SINGLE_COLUMN)):
        with Image.open(run_figures / f"{stem}.png") as image:
            assert abs(image.width - width * DPI) <= 2
            assert round(image.info["dpi"][0]) == DPI


def test_trajectory_table(run_figures):
    table = pd.read_csv(run_figures / "trajectories.csv")
    assert {"final_regime", "variable", "step", "replicates", "median", "q05", "q25", "q75",
            "q95"} <= set(table.columns)
    assert set(table["variable"]) == set(TRAJECTORY_VARIABLES)
    assert set(table["final_regime"]) <= set(REGIMES)
    assert sorted(table["step"].unique()) == list(range(STEPS + 1))
    assert (table["q05"] <= table["median"] + 1e-12).all()
    assert (table["median"] <= table["q95"] + 1e-12).all()
    per_month = table[table["variable"] == "mean_trust"].groupby("step")["replicates"].sum()
    assert (per_month == 6).all()


def test_regime_share_table(run_figures):
    table = pd.read_csv(run_figures / "regime_shares.csv")
    assert list(table.columns) == ["scenario", "regime", "runs", "count", "share", "ci_low",
                                   "ci_high"]
    assert table.groupby("scenario")["share"].sum().round(12).eq(1).all()
    assert (table["ci_low"] <= table["share"]).all() and (table["share"] <= table["ci_high"]).all()
    assert table["count"].sum() == 6


def test_maturity_table(run_figures):
    table = pd.read_csv(run_figures / "maturity.csv")
    assert {"kind", "kind_label", "step", "level", "organisations", "share"} <= set(table.columns)
    assert set(table["level"]) <= {*MATURITY, "exited"}
    assert table.groupby(["kind", "step"])["share"].sum().round(12).eq(1).all()
    assert "all" in set(table["kind"]) and "pcn" in set(table["kind"])
    everyone = table[(table["kind"] == "all") & (table["step"] == 0)]
    assert everyone["organisations"].sum() == 6 * 29  # 6 replicates x 29 partners


def test_conflict_and_power_tables(run_figures):
    conflicts = pd.read_csv(run_figures / "conflicts.csv")
    assert set(conflicts["measure"]) == {"raised", "resolved"}
    wide = conflicts.pivot(index="step", columns="measure", values="mean")
    assert (wide["resolved"] <= wide["raised"]).all()
    spread = conflicts[conflicts["replicates"] > 1]
    assert (spread["ci_low"] <= spread["mean"] + 1e-12).all()
    assert (spread["mean"] <= spread["ci_high"] + 1e-12).all()
    power = pd.read_csv(run_figures / "power_trust.csv")
    assert {"relation", "size_ratio", "step", "median", "q25", "q75"} <= set(power.columns)
    assert set(power["relation"]) == {"smaller_in_larger", "peers", "larger_in_smaller"}
    assert power["median"].between(0, 1).all()


def test_trust_pairs_reproduce_the_run(folders, run_figures):
    """The re-simulated pairwise trust agrees with the run's organisations.parquet (C17 data)."""
    pairs = pd.read_csv(run_figures / "trust_network.csv")
    assert sorted(pairs["month"].unique()) == F.default_months(STEPS)
    assert len(pairs) == len(F.default_months(STEPS)) * 29 * 28
    assert pairs["trust"].between(0, 1).all()
    orgs = pd.read_parquet(folders["agents"] / "organisations.parquet")
    replicate = int(pairs["replicate"].iloc[0])
    for month in F.default_months(STEPS):
        mine = pairs[(pairs["month"] == month) & pairs["partner_active"]]
        mean = mine.groupby("org")["trust"].mean().to_numpy()
        stored = orgs[(orgs["replicate"] == replicate) & (orgs["step"] == month)]
        np.testing.assert_allclose(mean, stored.sort_values("org")["trust_in_others"], atol=1e-12)
    matrix = pd.read_csv(run_figures / "trust_matrix.csv")
    pd.testing.assert_frame_equal(matrix, pairs)


def test_figures_carry_labels_and_fixed_colours(folders):
    _, jobs, _ = F.figure_jobs(folders["agents"])
    for job in jobs:
        table, fig = job.make()
        assert len(table)
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        if job.stem == "trust_network":  # a drawing of the network: no data axes
            assert all(ax.get_title(loc="left").startswith("Month") for ax in axes)
            colorbar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
            assert colorbar and "trust" in colorbar[0].get_ylabel().lower()
            continue
        assert any(ax.get_xlabel() for ax in axes), job.stem
        assert any(ax.get_ylabel() for ax in axes), job.stem
        if job.stem == "trajectories":
            colours = {line.get_color().upper() for ax in axes for line in ax.get_lines()}
            assert colours <= {REGIME_COLOURS[r].upper() for r in REGIMES}
        if job.stem == "maturity":
            assert "(months)" in axes[-1].get_xlabel()


def test_kind_colours_are_those_of_the_palette(folders):
    run = F.read_run(folders["agents"])
    pairs = F.trust_pairs_table(run.scenario, int(run.summary["seed"].iloc[0]), [0], 0)
    fig = F.plot_trust_network(pairs)
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert "Primary care network" in labels
    handle = legend.legend_handles[labels.index("Primary care network")]
    assert handle.get_color().upper() == KIND_COLOURS["pcn"].upper()


def test_run_without_agents_resimulates_maturity_exactly(folders, tmp_path, capsys):
    run = F.read_run(folders["agents"])
    stored = F.maturity_table(run.organisations)
    run.organisations = None
    redrawn = F.maturity_table(F.organisations_of(run))
    pd.testing.assert_frame_equal(redrawn, stored)
    assert run.notes and "re-simulated" in run.notes[0]
    out = tmp_path / "plain"
    assert _cli("figures", str(folders["plain"]), "--out", str(out), "--format", "png") == 0
    assert "re-simulated" in capsys.readouterr().out
    assert (out / "maturity.png").is_file() and not list(out.glob("*.pdf"))
    assert pd.read_csv(out / "maturity.csv").groupby(["kind", "step"])["share"].sum().round(
        12).eq(1).all()


def test_rerun_replaces_an_earlier_figures_folder(folders, tmp_path):
    out = tmp_path / "figs"
    assert _cli("figures", str(folders["points"]), "--out", str(out), "--format", "pdf") == 0
    assert _cli("figures", str(folders["points"]), "--out", str(out), "--format", "png") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]
    assert sorted(p.name for p in out.iterdir()) == ["figures.json", "regime_shares.csv",
                                                     "regime_shares.png"]


def test_figures_are_byte_identical_when_drawn_again(folders, tmp_path):
    """Drawing a figure twice gives the same files: no creation date in PDF or SVG, no
    random SVG ids (figures.json alone records when figures were made)."""
    from analysis.theme import save_figure

    table = F.conflict_table(F.read_run(folders["plain"]).timeseries)
    files = []
    for k in range(2):
        (tmp_path / str(k)).mkdir()
        files.append(save_figure(F.plot_conflicts(table), table, tmp_path / str(k), "conflicts",
                                 ("pdf", "png", "svg")))
    for first, second in zip(*files, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    assert b"CreationDate" not in files[0][0].read_bytes()
    assert b"<dc:date>" not in files[0][2].read_bytes()


def test_regime_shares_of_several_scenarios():
    summaries = F.run_scenarios(["voluntary_alliance", "mandated_buddying"], replicates=5,
                                steps=12)
    table = F.regime_share_table(summaries)
    assert set(table["scenario"]) == {"voluntary_alliance", "mandated_buddying"}
    assert table.groupby("scenario")["share"].sum().round(12).eq(1).all()
    fig = F.plot_regime_shares(table)
    assert fig.axes[0].get_xlabel() == "Share of replicates (0–1)"
    assert fig.axes[0].get_ylabel() == "Scenario"
    _assert_text_fits(fig)


def _drawn(fig):
    """`fig` drawn by Agg (figures here have no pyplot canvas); returns its renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def _assert_text_fits(fig) -> None:
    """Every label lies inside the figure, and no two tick labels of an axis overlap."""
    renderer = _drawn(fig)
    tight, (width, height) = fig.get_tightbbox(renderer), fig.get_size_inches()
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01, tight
    assert tight.x1 <= width + 0.01 and tight.y1 <= height + 0.01, (tight, width, height)
    for ax in (ax for ax in fig.axes if ax.get_visible()):
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = sorted(limits)
            labels = [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi
                      and t.label1.get_visible() and t.label1.get_text()]
            boxes = [label.get_window_extent(renderer) for label in labels]
            for k, a in enumerate(boxes):
                assert not any(a.overlaps(b) for b in boxes[k + 1:]), [t.get_text() for t in labels]


def _shares(points: dict[str, list[str]]) -> pd.DataFrame:
    return F.regime_share_table({name: pd.DataFrame({"regime": regimes})
                                 for name, regimes in points.items()})


@pytest.mark.parametrize("n", [1, 6, 40])
def test_regime_share_labels_are_readable(n):
    names = [f"funding 0.{k:02d}, formalisation 0.5, quick wins 0.25, leadership 0.7"
             for k in range(n)]
    fig = F.plot_regime_shares(_shares({name: ["synergy", "inertia", "inertia"]
                                        for name in names}), axis_label="Sweep point")
    _assert_text_fits(fig)
    assert fig.axes[0].get_ylabel() == "Sweep point"


def test_regime_shares_draw_every_wilson_interval():
    """0 of 3 and 3 of 3 runs still get their intervals ([0, 0.56] and [0.44, 1])."""
    table = _shares({"all synergy": ["synergy"] * 3, "mixed": ["synergy", "inertia", "inertia"]})
    fig = F.plot_regime_shares(table)
    bars = fig.axes[0].containers
    whiskers = [c for c in bars if type(c).__name__ == "ErrorbarContainer"]
    assert len(whiskers) == 3  # one per regime
    drawn = []
    for container in whiskers:
        (segments,) = container.lines[2]
        drawn += [sorted(seg[:, 0]) for seg in segments.get_segments()]
    want = table[["ci_low", "ci_high"]].to_numpy()
    assert len(drawn) == len(want) == 6
    np.testing.assert_allclose(sorted(map(tuple, drawn)), sorted(map(tuple, want)))
    assert [0, pytest.approx(0.5615, abs=1e-3)] in drawn


@pytest.mark.parametrize("n", [6, 11])
def test_regime_shares_of_all_or_none_draw_despite_rounding(n):
    """A table written before `wilson_interval` kept its bounds around the share (a
    sweep folder's phase.parquet, say) holds, for 6 of 6 runs, an upper bound 1 - 1e-16
    below the share and, for 0 of 11, a lower bound 3e-17 above it; errorbar refused
    those as negative lengths."""
    table = _shares({"a run": ["inertia"] * n})
    table.loc[table["share"] == 1.0, "ci_high"] = 1.0 - 1e-16
    table.loc[table["share"] == 0.0, "ci_low"] = 3e-17
    _assert_text_fits(F.plot_regime_shares(table))


def test_regime_shares_of_run_folders(folders):
    summaries = F.run_summaries([folders["agents"], folders["plain"], folders["plain"]])
    # a scenario seen twice is keyed by its folder name the second time
    assert list(summaries) == ["ics_mandated_supported", "voluntary_alliance", "plain"]
    table = F.regime_share_table(summaries)
    assert table.groupby("scenario")["share"].sum().round(12).eq(1).all()



def test_run_summaries_keeps_every_folder(folders, tmp_path):
    """A third folder of one scenario, under the same folder name elsewhere, replaced
    the second silently."""
    copies = []
    for where in ("a", "b"):
        copies.append(tmp_path / where / "plain")
        shutil.copytree(folders["plain"], copies[-1])
    summaries = F.run_summaries([folders["plain"], *copies])
    assert list(summaries) == ["voluntary_alliance", "plain", str(copies[1])]
    with pytest.raises(F.FigureInputError, match=r"^folders: .*plain is given twice"):
        F.run_summaries([folders["plain"], *copies, copies[1]])


def test_write_figures_into_a_folder_for_notebooks(folders, tmp_path):
    index = F.write_figures(folders["plain"], tmp_path, formats=("png",))
    stems = [entry["stem"] for entry in index["figures"]]
    assert "trajectories" in stems
    for stem in stems:
        assert (tmp_path / f"{stem}.png").stat().st_size > 0
        assert (tmp_path / f"{stem}.csv").stat().st_size > 0


# ----------------------------------------------------------------------- sweep folders
def test_phase_sweep(folders):
    assert _cli("figures", str(folders["grid"])) == 0
    out = folders["grid"] / "figures"
    for stem in ("phase_synergy", "phase_time_to_synergy"):
        for ext in ("pdf", "png", "csv"):
            _nonempty(out / f"{stem}.{ext}")
    table = pd.read_csv(out / "phase_synergy.csv")
    assert set(table["panel"]) == {"mandated", "voluntary"}
    assert len(table) == 18 and set(table["x"]) == {0, 1, 2} and set(table["y"]) == {0, 1, 2}
    assert {"x_axis", "y_axis", "x_tick", "y_tick", "synergy_share", "synergy_ci_low",
            "median_time_to_synergy", "context.formalisation",
            "context.history_of_competition"} <= set(table.columns)
    shares = table[["synergy_share", "inertia_share", "dissolution_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1)
    assert table["x_axis"].iloc[0].startswith("Initial trust")
    assert table["y_axis"].iloc[0] == "Formalisation (0–1)"
    assert set(table["x_tick"]) == {"0.9/0", "0.5/0.4", "0.1/0.8"}
    fig = F.plot_phase(table)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


def test_phase_sweep_without_a_regime_axis_has_one_panel(folders):
    assert _cli("figures", str(folders["grid2"]), "--format", "png") == 0
    table = pd.read_csv(folders["grid2"] / "figures" / "phase_time_to_synergy.csv")
    assert table["panel"].nunique() == 1 and len(table) == 4
    assert table["x_axis"].iloc[0] == "Funding (0–1)"
    assert table["y_axis"].iloc[0] == "Acute trusts (count)"
    assert set(table["y_tick"].astype(str)) == {"2", "4"}
    fig = F.plot_phase(table, value="median_time_to_synergy")
    assert fig.axes[0].get_title() == ""  # one panel: no regime to name
    _, jobs, _ = F.figure_jobs(folders["grid2"])
    _, fig = jobs[0].make()
    assert fig._suptitle.get_text().startswith("tiny_grid2 (base scenario voluntary_alliance)")


def test_phase_panel_of_a_one_regime_axis_names_its_regime():
    """A grid whose regime axis gives one value (regime = ["voluntary"], on a mandated
    base scenario) drew one panel with no title: the figure said 'base scenario
    ics_mandated_supported' and nowhere that every run was voluntary."""
    manifest = {"sweep": {"name": "one_regime", "design": "grid", "axes": {
        "context.funding": [0.2, 0.8], "context.formalisation": [0.1, 0.5],
        "regime": ["voluntary"]}}}
    phase = pd.DataFrame({
        "point": range(4), "runs": 20, "context.funding": [0.2, 0.2, 0.8, 0.8],
        "context.formalisation": [0.1, 0.5, 0.1, 0.5], "scenario.regime": "voluntary",
        **{f"{r}_{w}": v for r, share in (("synergy", 0.0), ("inertia", 1.0),
                                          ("dissolution", 0.0))
           for w, v in (("share", share), ("ci_low", share), ("ci_high", share))},
        "median_time_to_synergy": np.nan, "timed_runs": 0})
    table = F.phase_table(manifest, phase)
    for value in ("synergy_share", "median_time_to_synergy"):
        fig = F.plot_phase(table, value=value)
        assert fig.axes[0].get_title(loc="left") == "Voluntary", value


def _phase_cells(time_a, time_b, share=0.9, runs=20, low=0.7, high=1.0) -> pd.DataFrame:
    """Two panels of 2 x 1 cells with the given median times."""
    rows = []
    for panel, times in (("mandated", time_a), ("voluntary", time_b)):
        for x, t in enumerate(times):
            rows.append({"panel": panel, "x": x, "y": 0, "x_axis": "Funding (0–1)",
                         "y_axis": "Formalisation (0–1)", "x_tick": str(x), "y_tick": "0.5",
                         "runs": runs, "synergy_share": share, "synergy_ci_low": low,
                         "synergy_ci_high": high, "median_time_to_synergy": t})
    return pd.DataFrame(rows)


def test_phase_panels_share_one_colour_scale():
    """One colour bar serves every panel, so their colours must mean the same months: a
    mandated cell of 6 months once read as 0 against the voluntary panel's scale."""
    fig = F.plot_phase(_phase_cells([6.0, 51.0], [0.0, 48.0]), value="median_time_to_synergy")
    limits = {ax.collections[0].get_clim() for ax in fig.axes[:2]}
    assert limits == {(0.0, 51.0)}


def test_phase_figure_marks_unsettled_cells_and_gives_runs_per_cell():
    table = _phase_cells([10.0, 12.0], [8.0, 9.0])
    table.loc[1, ["synergy_share", "synergy_ci_low", "synergy_ci_high"]] = [0.45, 0.25, 0.66]
    fig = F.plot_phase(table)
    dots = fig.axes[0].collections[-1].get_offsets()
    assert np.asarray(dots).tolist() == [[1.0, 0.0]]  # only the cell whose interval holds 0.5
    assert "20\u00a0runs per cell" in fig._suptitle.get_text()  # kept on one line
    table.loc[[0, 2, 3], "synergy_share"] = 0.1  # 2 of 20 runs reached synergy
    fig = F.plot_phase(table, value="median_time_to_synergy")
    assert np.asarray(fig.axes[0].collections[-1].get_offsets()).tolist() == [[0.0, 0.0]]
    assert "fewer than 5" in fig._suptitle.get_text()


def test_phase_time_dot_counts_runs_exactly():
    """5 of 77 runs reached synergy: 5 / 77 * 77 is 4.999999999999999 in floating point,
    which once drew the dot for "fewer than 5 did"; 4 of 77 still gets it."""
    table = _phase_cells([10.0, 12.0], [8.0, 9.0], share=5 / 77, runs=77, low=0.03, high=0.14)
    table.loc[3, "synergy_share"] = 4 / 77
    fig = F.plot_phase(table, value="median_time_to_synergy")
    assert np.asarray(fig.axes[0].collections[-1].get_offsets()).size == 0
    assert np.asarray(fig.axes[1].collections[-1].get_offsets()).tolist() == [[1.0, 0.0]]


def test_phase_time_dot_counts_the_runs_behind_the_median():
    """A cell with 5 synergy runs of which only 4 have a time to synergy (one ended below
    the behaviour threshold): its median rests on 4 runs, so it gets the dot; the
    phase table says how many runs each median rests on."""
    table = _phase_cells([10.0, 12.0], [8.0, 9.0], share=0.25, runs=20, low=0.1, high=0.47)
    table["timed_runs"] = [5, 4, 5, 0]
    table.loc[3, "median_time_to_synergy"] = np.nan
    fig = F.plot_phase(table, value="median_time_to_synergy")
    assert np.asarray(fig.axes[0].collections[-1].get_offsets()).tolist() == [[1.0, 0.0]]
    assert np.asarray(fig.axes[1].collections[-1].get_offsets()).size == 0
    assert "grey: no run has one; dot: fewer than 5 have" in fig._suptitle.get_text()


def test_phase_table_counts_the_runs_behind_each_median():
    from model.sweep import phase_table
    from model.sweep_file import load_sweep

    sweep = load_sweep("phase_trust_formalisation")
    summary = pd.DataFrame({"point": [0] * 4 + [1] * 3, "replicate": [0, 1, 2, 3, 0, 1, 2],
                            "regime": ["synergy"] * 3 + ["inertia"] + ["synergy", "inertia",
                                                                       "inertia"],
                            "time_to_synergy": pd.array([7, None, 9, None, None, None, None],
                                                        dtype="Int64")})
    phase = phase_table(sweep, summary)
    assert phase["timed_runs"].tolist() == [2, 0]
    assert phase["median_time_to_synergy"].iloc[0] == 8.0
    assert np.isnan(phase["median_time_to_synergy"].iloc[1])


def test_phase_time_with_no_synergy_says_so():
    fig = F.plot_phase(_phase_cells([np.nan, np.nan], [np.nan, np.nan], share=0.0, low=0.0,
                                    high=0.16), value="median_time_to_synergy")
    assert len(fig.axes) == 2  # no colour bar for a scale with nothing on it
    assert fig.axes[0].texts[0].get_text() == "No run reached synergy"


def test_sobol_sweep(folders):
    assert _cli("figures", str(folders["sobol"]), "--format", "svg") == 0
    out = folders["sobol"] / "figures"
    _nonempty(out / "sensitivity.svg")
    table = pd.read_csv(out / "sensitivity.csv")
    assert {"outcome", "parameter", "parameter_label", "S1", "S1_conf", "ST", "ST_conf",
            "rank"} <= set(table.columns)
    assert set(table["parameter"]) == {"context.formalisation", "context.funding",
                                       "context.quick_wins"}
    for _, part in table.groupby("outcome"):
        assert sorted(part["rank"]) == [1, 2, 3]
        assert part["ST"].is_monotonic_decreasing
    # 40 runs: fewer than MIN_RARE_RUNS in synergy's rarer class, whatever the outcome
    assert not table.loc[table["outcome"] == "synergy", "identifiable"].any()
    assert "runs end in synergy" in table.loc[table["outcome"] == "synergy", "note"].iloc[0]


def test_sensitivity_title_gives_the_design_and_runs(folders):
    """Like every other figure, the sensitivity figure says how many runs it rests on: 4
    base samples of 3 parameters are 4 x (3 + 2) = 20 points, of 2 replicates each, and
    the indices are of each point's mean over its replicates."""
    manifest = F.read_manifest(folders["sobol"])
    [job] = F.sweep_jobs(folders["sobol"], manifest)
    _, fig = job.make()
    title = fig._suptitle.get_text()
    assert title.startswith("tiny_sobol (base scenario ")
    assert "): sensitivity" in title
    for words in ("4 base samples", "20 points", "2 replicates", "40 runs",
                  "mean over its replicates"):
        assert words in title.replace("\u00a0", " ").replace("\n", " "), words


SOBOL_ICS_KEYS = ("formalisation", "conflict_resolution", "shared_vision", "funding",
                  "quick_wins", "history_of_competition", "stakeholder_involvement",
                  "leadership", "due_diligence", "shared_roles")


def _sobol_frame(outcomes=F.OUTCOME_LABELS) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"outcome": o, "parameter": f"context.{k}", "S1": s1, "S1_conf": 0.1,
             "ST": s1 + 0.1, "ST_conf": 0.2}
            for o in outcomes for k, s1 in zip(SOBOL_ICS_KEYS, rng.uniform(0, 0.4, 10),
                                               strict=True)]
    return pd.DataFrame(rows)


def test_sensitivity_labels_fit_in_the_figure():
    """Five outcomes of ten parameters (sobol_ics): every label inside the figure."""
    _assert_text_fits(F.plot_sobol(F.sobol_table(_sobol_frame()), title="sobol_ics: sensitivity"))


@pytest.mark.parametrize("outcomes", [("synergy",), tuple(F.OUTCOME_LABELS)])
def test_sensitivity_marks_the_replicate_noise_of_each_outcome(outcomes):
    """sobol.parquet's noise_share (the total index replicate noise gives a parameter
    with no effect) is a dotted line in each panel, named in the legend, which fits in
    the figure also when one outcome makes it one column wide; a table without the
    column (a sweep folder written before it) draws as before."""
    frame = _sobol_frame(outcomes)
    shares = {o: 0.05 * (k + 1) for k, o in enumerate(outcomes)}
    frame["noise_share"] = frame["outcome"].map(shares)
    fig = F.plot_sobol(F.sobol_table(frame))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for ax, outcome in zip(panels, outcomes, strict=True):
        dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert [line.get_xdata()[0] for line in dotted] == [shares[outcome]], outcome
    [legend] = fig.legends
    assert any("Replicate noise" in text.get_text() for text in legend.get_texts())
    _assert_text_fits(fig)
    old = F.plot_sobol(F.sobol_table(_sobol_frame(outcomes)))
    assert not any(line.get_linestyle() == ":" for ax in old.axes for line in ax.get_lines())


def _runs(n: int, synergy: int, trust: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"regime": ["synergy"] * synergy + ["inertia"] * (n - synergy),
                         "final_mean_trust": trust, "final_mean_faith": np.linspace(0, 1, n)})


def test_outcome_that_barely_varies_is_not_identifiable():
    n = 3072
    spread = F.outcome_spread(_runs(n, 36, np.full(n, 0.45))).set_index("outcome")
    assert not spread.loc["synergy", "identifiable"]  # 36 < 50 runs in the rarer class
    assert not spread.loc["final_mean_trust", "identifiable"]  # constant
    assert spread.loc["final_mean_faith", "identifiable"]
    varied = F.outcome_spread(_runs(n, n - 60, np.linspace(0.4, 0.5, n))).set_index("outcome")
    assert varied.loc["synergy", "identifiable"]  # 60 runs not in synergy: enough
    assert varied.loc["final_mean_trust", "identifiable"]  # sd 0.029 > 1% of its mean 0.45
    barely = F.outcome_spread(_runs(n, 0, np.linspace(0.449, 0.451, n))).set_index("outcome")
    assert not barely.loc["final_mean_trust", "identifiable"]  # sd 0.0006 < 0.0045
    assert not barely.loc["synergy", "identifiable"]  # no run in synergy
    assert "36 of 3072 runs" in spread.loc["synergy", "note"]


def test_sensitivity_greys_out_an_outcome_that_is_not_identifiable():
    n = 3072
    table = F.sobol_table(_sobol_frame(("synergy", "final_mean_faith")),
                          _runs(n, 36, np.full(n, 0.45)))
    fig = F.plot_sobol(table)
    notes = {ax.get_title(loc="left").replace("\n", " "):
             [t.get_text().replace("\n", " ") for t in ax.texts]
             for ax in fig.axes if ax.get_visible()}
    assert "indices not identifiable" in notes["Share of runs ending in synergy"][0]
    assert "36 of 3072" in notes["Share of runs ending in synergy"][0]
    assert notes["Final mean faith"] == []
    _assert_text_fits(fig)


def test_points_sweep_draws_regime_shares(folders):
    assert _cli("figures", str(folders["points"]), "--format", "png") == 0
    table = pd.read_csv(folders["points"] / "figures" / "regime_shares.csv")
    assert table["scenario"].nunique() == 2
    assert table.groupby("scenario")["share"].sum().round(12).eq(1).all()
    assert (table.groupby("scenario")["runs"].first() == 3).all()


# ------------------------------------------------------------------------- bad input
def _bad(capsys, *args: str) -> str:
    assert _cli("figures", *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("icsabm: error:") and "\n" not in err, err
    return err


def test_bad_input_is_one_line_and_exit_2(folders, tmp_path, capsys):
    assert "no such folder" in _bad(capsys, str(tmp_path / "missing"))
    (tmp_path / "a_file").write_text("x")
    assert "a file, not a folder" in _bad(capsys, str(tmp_path / "a_file"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a run or sweep folder" in _bad(capsys, str(empty))
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "manifest.json").write_text('{"kind": "validation"}')
    assert "not that of a run or sweep" in _bad(capsys, str(odd))
    lhs = _bad(capsys, str(folders["lhs"]))  # 3 points: the message must not offer "at most 60"
    assert "not lhs" in lhs and "read_summary" in lhs and "at most" not in lhs
    assert "two axes besides regime" in _bad(capsys, str(folders["grid3"]))
    assert "--format" in _bad(capsys, str(folders["plain"]), "--format", "pdf,jpeg")
    for folder in (empty, odd, folders["lhs"], folders["grid3"], folders["plain"]):
        assert not (folder / "figures").exists()


def test_unfinished_sweep_and_foreign_out_folder(folders, tmp_path, capsys):
    copy = tmp_path / "unfinished"
    shutil.copytree(folders["points"], copy, ignore=shutil.ignore_patterns("figures"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["complete"] = False
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert "not finished" in _bad(capsys, str(copy))
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert "not an icsabm figures folder" in _bad(capsys, str(folders["plain"]), "--out",
                                                  str(foreign))
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    half = tmp_path / "half"
    shutil.copytree(folders["plain"], half, ignore=shutil.ignore_patterns("figures"))
    (half / "timeseries.parquet").unlink()
    assert "incomplete run folder" in _bad(capsys, str(half))


@pytest.mark.parametrize("name, damaged", [
    ("plain", "summary.parquet"), ("plain", "organisations.parquet"),
    ("points", "summary/part-00000.parquet"), ("sobol", "summary/part-00000.parquet"),
    ("sobol", "sobol.parquet"), ("grid", "phase.parquet")])
def test_damaged_parquet_is_named_in_one_line(folders, tmp_path, capsys, name, damaged):
    copy = tmp_path / name
    shutil.copytree(folders[name], copy, ignore=shutil.ignore_patterns("figures"))
    (copy / damaged).write_bytes(b"not parquet at all" * 4)
    err = _bad(capsys, str(copy))
    assert f"{copy / damaged}: damaged" in err  # a file, or a sweep part (--resume)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert not (copy / "figures").exists()


def _no_rows(path: Path) -> None:
    pd.read_parquet(path).iloc[:0].to_parquet(path, index=False)


def _without_regime(path: Path) -> None:
    pd.read_parquet(path).drop(columns="regime").to_parquet(path, index=False)


def _first_point(value):
    def change(path: Path) -> None:
        phase = pd.read_parquet(path)
        phase["point"] = phase["point"].astype(type(value))
        phase.loc[0, "point"] = value
        phase.to_parquet(path, index=False)
    return change


def _manifest_with(**changes):
    def change(path: Path) -> None:
        manifest = json.loads(path.read_text())
        manifest.update(changes)
        path.write_text(json.dumps(manifest))
    return change


@pytest.mark.parametrize("name, damaged, change, fragment", [
    ("plain", "timeseries.parquet", _no_rows, "timeseries.parquet: not the table icsabm "
     "writes (no rows)"),
    ("agents", "organisations.parquet", _no_rows, "organisations.parquet: not the table"),
    ("plain", "summary.parquet", _without_regime, "summary.parquet: not the table icsabm "
     "writes (no column 'regime')"),
    ("plain", "manifest.json", _manifest_with(seeds=["a"]), "manifest.json has no usable seeds"),
    ("plain", "manifest.json", _manifest_with(seeds=None), "manifest.json has no usable seeds"),
    ("plain", "manifest.json", _manifest_with(scenario="x"), "manifest.json has no usable "
     "scenario"),
    ("grid", "phase.parquet", _no_rows, "phase.parquet: not the table icsabm writes (no rows)"),
    ("grid", "phase.parquet", _first_point(99), "phase.parquet has point 99; allowed: the "
     "grid's points 0 to"),  # unchecked: a ValueError from numpy's unravel_index
    ("grid", "phase.parquet", _first_point(0.5), "phase.parquet has point 0.5"),
    ("grid", "phase.parquet", lambda p: pd.read_parquet(p).drop(columns="synergy_share")
     .to_parquet(p, index=False), "(no column 'synergy_share')"),
    ("sobol", "sobol.parquet", lambda p: pd.read_parquet(p).drop(columns="ST")
     .to_parquet(p, index=False), "(no column 'ST')"),
    ("grid", "manifest.json", _manifest_with(sweep="x"), "manifest.json has no usable sweep")])
def test_readable_but_wrong_folder_is_one_line(folders, tmp_path, capsys, name, damaged,
                                                    change, fragment):
    """Parquet that reads but is not what icsabm wrote (emptied, a column dropped) and a
    manifest without usable seeds, scenario or sweep are refused before drawing, not met
    by a KeyError or IndexError part-way."""
    copy = tmp_path / name
    shutil.copytree(folders[name], copy, ignore=shutil.ignore_patterns("figures"))
    change(copy / damaged)
    assert fragment in _bad(capsys, str(copy))
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert not (copy / "figures").exists()


def test_too_many_points_says_how_many_and_what_to_do(folders, capsys, monkeypatch):
    monkeypatch.setattr(F, "MAX_BARS", 1)
    err = _bad(capsys, str(folders["points"]))
    assert "2 points are more than the 1" in err and "split it" in err


# ------------------------------------------------------------- trust network and matrix
def _pairs(name: str, months=(0, 6), steps: int = 6) -> pd.DataFrame:
    from model.scenario import load_scenario

    return F.trust_pairs_table(load_scenario(name, steps=steps), 12345, list(months), 0)


def _boxes_apart(renderer, texts) -> None:
    boxes = [t.get_window_extent(renderer) for t in texts]
    for k, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[k + 1:]), [t.get_text() for t in texts]


def test_trust_matrix_greys_out_members_who_left():
    """Rows and columns of a member who left are grey and in the legend, not blank like
    low trust; the kind strips stay thin for 3 organisations; small matrices print values."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from analysis.palette import EXITED_COLOUR

    pairs = _pairs("merger")
    last = pairs["month"] == 6
    pairs.loc[last & (pairs["org"] == 2), "active"] = False
    pairs.loc[last & (pairs["partner"] == 2), "partner_active"] = False
    fig = F.plot_trust_matrix(pairs)
    renderer = _drawn(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Left the partnership" in labels
    first, final = fig.axes[0], fig.axes[1]
    assert len(first.images) == 1 and len(final.images) == 2
    overlay = final.images[1].get_array()
    assert np.allclose(overlay[0, 2], to_rgba(EXITED_COLOUR)) and overlay[0, 1, 3] == 0
    strips = [p for p in first.patches if isinstance(p, Rectangle)]
    assert strips and max(min(p.get_width(), p.get_height()) for p in strips) < 0.2
    values = [t for t in first.texts if t.get_text()[:2] == "0."]
    assert len(values) == 6  # 3 x 3 cells without the diagonal
    assert len([t for t in final.texts if t.get_text()[:2] == "0."]) == 2  # 1 and 2 remain
    _boxes_apart(renderer, values)
    _assert_text_fits(fig)


@pytest.mark.parametrize("name", ["mandated_buddying", "merger", "voluntary_alliance"])
def test_small_trust_network_shows_every_edge_and_names(name):
    """With 2-4 organisations the few edges are opaque (low trust is still visible) and
    each organisation is named, clear of the panel titles and of each other."""
    from matplotlib.collections import LineCollection

    pairs = _pairs(name)
    fig = F.plot_trust_network(pairs)
    renderer = _drawn(fig)
    n = pairs["org"].nunique()
    for ax in fig.axes[:2]:
        edges = [c for c in ax.collections if isinstance(c, LineCollection)][0]
        assert len(edges.get_segments()) == n * (n - 1) // 2
        assert (edges.get_colors()[:, 3] == 1).all()
        assert (np.asarray(edges.get_linewidths()) >= 1).all()
        names = ax.texts
        assert len(names) == n
        assert {t.get_text().replace("\n", " ") for t in names} == {
            s.replace("_", " ") for s in pairs["name"].unique()}
        title = ax.title.get_window_extent(renderer)
        assert not any(t.get_window_extent(renderer).overlaps(title) for t in names)
        _boxes_apart(renderer, names)
    _assert_text_fits(fig)


# ------------------------------------------------------- titles, counts and bands
def _band(steps, replicates, value=0.5, **extra) -> pd.DataFrame:
    frame = pd.DataFrame({"step": steps, "replicates": replicates, "mean": value})
    for q in ("q05", "q25", "median", "q75", "q95", "ci_low", "ci_high"):
        frame[q] = value
    return frame.assign(**extra)


def test_power_legend_says_how_many_replicates_each_relation_has():
    """In voluntary_alliance a 2x size gap occurs in 1 replicate of 20: its line must not
    pass for a 20-replicate median next to the peers'."""
    steps = np.arange(5)
    table = pd.concat([_band(steps, 1, relation="smaller_in_larger"),
                       _band(steps, [19, 20, 20, 20, 20], relation="peers")])
    table["size_ratio"] = 2.0
    fig = F.plot_power_trust(table, title="voluntary_alliance: trust across the size gap "
                             "(C17, 20 replicates)")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["Smaller in larger partner (n = 1)",
                      "Among peers of similar size (n = 19–20)"]
    _assert_text_fits(fig)


def test_conflict_band_contains_its_line():
    """Counts of 0 in most replicates and many in a few: the mean lies above the 75th
    percentile, so a quantile band would float below its own line. The band drawn is the
    95% interval of the mean, which contains it (and widens with the spread)."""
    months = np.arange(3)
    counts = np.zeros((20, 3))
    counts[:3] = [5.0, 8.0, 2.0]  # 3 of 20 replicates raise conflicts
    series = pd.DataFrame({"replicate": np.repeat(np.arange(20), 3), "step": np.tile(months, 20),
                           "conflicts": counts.ravel(), "conflicts_resolved": 0.0})
    table = F.conflict_table(series)
    raised = table[table["measure"] == "raised"].reset_index(drop=True)
    assert (raised["mean"] > raised["q75"]).all()  # why a quantile band misleads here
    half = stats.t.ppf(0.975, 19) * raised["sd"] / np.sqrt(20)
    assert np.allclose(raised["ci_high"], raised["mean"] + half)
    # rare counts spread the t interval below 0, where no mean of counts lies: cut at 0
    assert ((raised["mean"] - half) < 0).all() and (raised["ci_low"] == 0).all()
    fig = F.plot_conflicts(table)
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    band = ax.collections[0].get_paths()[0].vertices
    for x, y in zip(*line.get_data(), strict=True):
        at_x = band[np.isclose(band[:, 0], x), 1]
        assert at_x.min() <= y <= at_x.max()
    assert "95% CI" in fig.legends[0].get_title().get_text()


def test_one_replicate_claims_no_band():
    steps = np.arange(4)
    conflicts = pd.concat([_band(steps, 1, measure=m) for m in ("raised", "resolved")])
    fig = F.plot_conflicts(conflicts)
    assert "no band" in fig.legends[0].get_title().get_text()
    assert "20 replicates" in F.plot_conflicts(conflicts.assign(replicates=20)).legends[
        0].get_title().get_text()
    trajectories = pd.concat([_band(steps, 1, final_regime="inertia", variable=v)
                              for v in TRAJECTORY_VARIABLES])
    fig = F.plot_trajectories(trajectories, title=f"merger: {F.replicates_text(1)}")
    assert "no bands" in fig.legends[0].get_title().get_text()
    power = F.plot_power_trust(_band(steps, 1, relation="peers", size_ratio=2.0))
    assert "no band" in power.legends[0].get_title().get_text()
    assert "50% band" in F.plot_power_trust(_band(steps, 2, relation="peers", size_ratio=2.0)
                                            ).legends[0].get_title().get_text()
    assert fig._suptitle.get_text() == "merger: 1\u00a0replicate"


def test_run_figures_name_the_scenario_and_replicates(folders):
    """Every run figure says which scenario it shows and how many replicates."""
    run = F.read_run(folders["plain"])
    for job in F.run_jobs(run):
        if job.stem in ("conflicts", "power_trust", "regime_shares"):
            _, fig = job.make()
            title = (fig._suptitle.get_text() if fig._suptitle
                     else fig.axes[0].get_title(loc="left")).replace("\n", " ")
            assert title.startswith("voluntary_alliance: ") and "4\u00a0replicates" in title


def test_regime_shares_title_of_a_short_scenario_name_fits():
    """A scenario's figure is single-column, whose long labels made the title run off the
    right edge."""
    fig = F.plot_regime_shares(_shares({"ics_mandated": ["inertia"]}),
                               title=f"ics_mandated: regime at the end of the run "
                                     f"({F.replicates_text(1)})")
    assert fig.get_figwidth() == pytest.approx(SINGLE_COLUMN)
    _assert_text_fits(fig)
    renderer = _drawn(fig)
    ylabel = fig.axes[0].yaxis.label.get_window_extent(renderer)
    assert not fig._suptitle.get_window_extent(renderer).overlaps(ylabel)


@pytest.mark.parametrize("plot", ["conflicts", "power_trust", "trajectories"])
def test_long_titles_are_wrapped_inside_the_figure(plot):
    name = "a_user_scenario_with_a_rather_long_descriptive_name_for_the_cambridge_ics_2025"
    steps = np.arange(4)
    if plot == "conflicts":
        fig = F.plot_conflicts(pd.concat([_band(steps, 3, measure=m)
                                          for m in ("raised", "resolved")]),
                               title=f"{name}: conflicts raised and resolved (3 replicates)")
    elif plot == "power_trust":
        fig = F.plot_power_trust(_band(steps, 3, relation="peers", size_ratio=2.0),
                                 title=f"{name}: trust across the size gap (C17, 3 replicates)")
    else:
        fig = F.plot_trajectories(pd.concat([_band(steps, 3, final_regime="inertia", variable=v)
                                             for v in TRAJECTORY_VARIABLES]),
                                  title=f"Trust network, {name}, replicate 0 (seed "
                                        "8780056654320347285, ended in inertia)")
    _assert_text_fits(fig)


def test_maturity_of_one_kind_is_one_panel():
    """mandated_buddying (two acute trusts): the acute trust panel would repeat 'all'."""
    orgs = pd.DataFrame({"step": np.repeat(np.arange(4), 2), "kind": "acute_trust",
                         "active": True, "maturity": ["pathological", "bureaucratic"] * 4})
    table = F.maturity_table(orgs)
    assert set(table["kind"]) == {"all", "acute_trust"}  # the table keeps both
    fig = F.plot_maturity(table, title="mandated_buddying: maturity of the partners "
                                       "(20\u00a0replicates pooled)")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 1 and axes[0].get_title(loc="left") == "All organisations (Acute trust)"
    assert fig.get_figwidth() == pytest.approx(SINGLE_COLUMN)
    _assert_text_fits(fig)
    orgs.loc[orgs.index % 2 == 1, "kind"] = "pcn"
    assert len([ax for ax in F.plot_maturity(F.maturity_table(orgs)).axes
                if ax.get_visible()]) == 3


# ---------------------------------------------------------- Python API input checks
def test_write_figures_takes_format_text_and_creates_the_folder(folders, tmp_path):
    out = tmp_path / "new" / "figures"
    index = F.write_figures(folders["plain"], out, formats="png")
    assert {Path(name).suffix for entry in index["figures"] for name in entry["files"]} == {
        ".png", ".csv"}
    assert (out / "trajectories.png").stat().st_size > 0


@pytest.mark.parametrize("formats", [["jpg"], "jpg", ("png", "tiff"), [], 5])
def test_write_figures_refuses_other_formats_before_writing(folders, tmp_path, formats):
    out = tmp_path / "figures"
    with pytest.raises(F.FigureInputError, match=r"^formats .*: allowed formats are pdf, png, "
                                                 r"svg"):
        F.write_figures(folders["plain"], out, formats=formats)
    assert not out.exists()


def test_figure_tables_name_bad_months_seeds_and_replicates():
    from model.scenario import ScenarioError, load_scenario

    scenario = load_scenario("merger", steps=6)
    with pytest.raises(F.FigureInputError, match=r"months = 100 .* in \[0, 6\]"):
        F.trust_pairs_table(scenario, 1, [0, 100])
    with pytest.raises(F.FigureInputError, match="months is empty; allowed: months 0 to 6"):
        F.trust_pairs_table(scenario, 1, [])
    with pytest.raises(F.FigureInputError, match="seeds is empty"):
        F.power_trust_table(scenario, [])
    for replicates in (-1, 0, 2.0):
        with pytest.raises(ScenarioError, match=r"^replicates = .* whole number >= 1"):
            F.run_scenarios(["merger"], replicates=replicates)
    one = F.run_scenarios("merger", replicates=2, steps=3)  # one name given as text
    assert list(one) == ["merger"] and len(one["merger"]) == 2
    for names in (None, 5):  # unchecked: a TypeError, "object is not iterable"
        with pytest.raises(ScenarioError, match=r"^names = .* is not a scenario name or a list"):
            F.run_scenarios(names, replicates=2, steps=3)
    path = F.run_scenarios(SCENARIO_DIR / "merger.toml", replicates=2, steps=3)  # one Path
    assert path["merger"].equals(one["merger"])



def test_resimulating_tables_take_a_scenario_name_and_numpy_or_pandas_seeds():
    """A notebook passes what `load_scenario` takes (a name, path or dict), numpy
    integers and a pandas Series of seeds (a summary's `seed` column)."""
    from model.scenario import load_scenario

    scenario = load_scenario("merger", steps=4)
    pairs = F.trust_pairs_table(scenario, 3, [0, 4], 0)
    by_name = F.trust_pairs_table({**_merger_raw(), "steps": 4}, np.int64(3),
                                  pd.Series([0, 4]), 0)
    pd.testing.assert_frame_equal(pairs, by_name)
    snaps = F.trust_snapshots(SCENARIO_DIR / "merger.toml", 3, np.array([4]))
    assert snaps[0][0] == 4
    assert np.array_equal(snaps[0][1], F.trust_snapshots(scenario, 3, [4])[0][1])
    power = F.power_trust_table(scenario, [5, 6])
    pd.testing.assert_frame_equal(power, F.power_trust_table({**_merger_raw(), "steps": 4},
                                                             pd.Series([5, 6])))
    pd.testing.assert_frame_equal(power, F.power_trust_table(scenario, (s for s in (5, 6))))
    pd.testing.assert_frame_equal(power, F.power_trust_table(scenario, np.array([5, 6],
                                                                                np.uint32)))


def _merger_raw() -> dict:
    import tomllib

    return tomllib.loads((SCENARIO_DIR / "merger.toml").read_text())


def test_resimulating_tables_refuse_bad_input_in_one_line():
    from model.scenario import ScenarioError, load_scenario

    scenario = load_scenario("merger", steps=4)
    with pytest.raises(ScenarioError, match=r"^unknown scenario 'mergr'"):
        F.trust_pairs_table("mergr", 1, [0])
    with pytest.raises(ScenarioError, match=r"^seed = None is not a whole number"):
        F.trust_pairs_table(scenario, None, [0])  # ICSModel would draw a fresh seed
    with pytest.raises(ScenarioError, match=r"^seed = None is not a whole number"):
        F.trust_snapshots(scenario, None, [0])
    for months in (3, "0,3", None):
        with pytest.raises(F.FigureInputError, match=r"^months = .* is not a list of months; "
                                                     r"allowed: .*\[0, 4\]"):
            F.trust_pairs_table(scenario, 1, months)
    for seeds in (3, "12", None):
        with pytest.raises(F.FigureInputError, match=r"^seeds = .* is not a list of seeds"):
            F.power_trust_table(scenario, seeds)
    with pytest.raises(ScenarioError, match=r"^seeds\[1\] = 1.5 is not a whole number"):
        F.power_trust_table(scenario, [1, 1.5])
    for ratio in (0, 1, 0.5, "2", True, float("nan"), float("inf")):
        with pytest.raises(F.FigureInputError, match=r"^size_ratio = .* allowed: a number > 1"):
            F.power_trust_table(scenario, [1], size_ratio=ratio)
    assert F.power_trust_table(scenario, [1], size_ratio=np.float32(3))["size_ratio"].eq(3).all()



def test_run_scenarios_refuses_two_scenarios_of_one_name():
    """The summaries are keyed by scenario name: a second scenario of the same name
    silently replaced the first."""
    from model.scenario import ScenarioError

    raw = _merger_raw()
    with pytest.raises(ScenarioError, match=r"^names: two scenarios are named 'merger'"):
        F.run_scenarios(["merger", {**raw, "context": {"funding": 0.1}}], replicates=2, steps=3)
    with pytest.raises(ScenarioError, match=r"^names: two scenarios are named 'merger'"):
        F.run_scenarios(["merger", SCENARIO_DIR / "merger.toml"], replicates=2, steps=3)
    both = F.run_scenarios(["merger", {**raw, "name": "poor merger"}], replicates=2, steps=3)
    assert list(both) == ["merger", "poor merger"]


def test_regime_share_table_names_a_wrong_argument():
    """One summary table instead of a dict of them gave KeyError 'regime' from inside
    `regime_table`; an empty dict pandas' 'No objects to concatenate'."""
    summary = pd.DataFrame({"replicate": [0, 1], "regime": ["synergy", "inertia"]})
    for summaries in (summary, [summary], None):
        with pytest.raises(F.FigureInputError, match=r"^summaries = .* is not a mapping of "
                                                     r"scenario names to summary tables"):
            F.regime_share_table(summaries)
    with pytest.raises(F.FigureInputError, match=r"^summaries is empty"):
        F.regime_share_table({})
    with pytest.raises(F.FigureInputError, match=r"^summaries\['x'\] has no column 'regime'"):
        F.regime_share_table({"ok": summary, "x": summary.drop(columns="regime")})
    table = F.regime_share_table({"ok": summary})
    assert table["share"].tolist() == [0.5, 0.5, 0.0]



def test_folders_that_are_not_paths_are_named(folders, tmp_path):
    """read_run(5) and write_figures(folder, None) raised TypeError from pathlib; an out
    that is a file FileExistsError from mkdir, after the folder was read."""
    for call in (lambda: F.read_run(5), lambda: F.read_manifest(None),
                 lambda: F.run_summaries([folders["plain"], 5]),
                 lambda: F.write_figures(["runs/x"], tmp_path)):
        with pytest.raises(F.FigureInputError, match=r"^folder = .* is not a folder; allowed: "
                                                     r"the path of a run or sweep folder"):
            call()
    with pytest.raises(F.FigureInputError, match=r"^out = None is not a folder; allowed: "):
        F.write_figures(folders["plain"], None)
    (tmp_path / "a file").write_text("")
    with pytest.raises(F.FigureInputError, match=r"a file, not a folder"):
        F.write_figures(folders["plain"], tmp_path / "a file", formats="png")


# ------------------------------------------------------------ dissolved partnerships
def _dissolving_series(replicates: int = 4, dissolved: int = 3, steps: int = 6) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Replicates whose members all leave at month 3 in the first `dissolved` of them: the
    time series then records 0 for the means over nobody (as the kernel does)."""
    rows = []
    for rep in range(replicates):
        for step in range(steps + 1):
            gone = rep < dissolved and step >= 3
            value = 0.0 if gone else 0.6
            rows.append({"replicate": rep, "step": step, "mean_trust": value,
                         "mean_faith": value, "mean_behaviour": value,
                         "output": 0.0 if gone else 0.2, "active_members": 1 if gone else 5})
    summary = pd.DataFrame({"replicate": range(replicates),
                            "regime": ["dissolution"] * replicates})
    return pd.DataFrame(rows), summary


def test_dissolved_partnerships_are_not_drawn_as_trust_of_0():
    """Fewer than two members left: the time series records 0 for trust, faith and
    behaviour (a mean over nobody). The trajectories must not turn that into a collapse
    of trust: such months leave the means (replicates counts those still partnerships),
    and the line ends once under half of the regime's replicates are left."""
    series, summary = _dissolving_series()
    table = F.trajectory_table(series, summary)
    means = table[table["variable"] != "output"]
    assert (means["median"] == 0.6).all() and (means["q05"] == 0.6).all()
    late = means[means["step"] >= 3]
    assert (late["replicates"] == 1).all()
    output = table[table["variable"] == "output"]
    assert (output["replicates"] == 4).all()  # joint output of no partnership is 0: kept
    fig = F.plot_trajectories(table, title="research_collaboration: 4\u00a0replicates")
    trust = fig.axes[0].get_lines()[0]
    x, y = trust.get_data()
    assert np.isfinite(np.asarray(y, float)).sum() == 3 and np.nanmin(y) == 0.6
    legend = fig.legends[0]
    assert "fewer than 2 members" in legend.get_title().get_text()
    assert [t.get_text() for t in legend.get_texts()] == ["Dissolution (n = 4)"]
    _assert_text_fits(fig)


def test_power_lines_end_when_most_partnerships_have_dissolved():
    """After dissolutions the pairs' trust rests on the few partnerships left: the line
    ends when under half of its replicates have pairs, and the axis keeps the run's
    months. A relation rare from the start (1 replicate of 20) is still drawn."""
    steps = np.arange(7)
    table = pd.concat([_band(steps, [20, 20, 20, 12, 2, 2, 2], relation="peers"),
                       _band(steps, 1, relation="smaller_in_larger")])
    table["size_ratio"] = 2.0
    fig = F.plot_power_trust(table)
    ax = fig.axes[0]
    finite = [np.isfinite(np.asarray(line.get_ydata(), float)).sum() for line in ax.get_lines()]
    assert finite == [7, 4]  # smaller in larger (n = 1 throughout), then peers
    assert ax.get_xlim()[1] >= 6
    assert "under half" in fig.legends[0].get_title().get_text()
    _assert_text_fits(fig)


def test_wilson_interval_refuses_what_is_not_a_count():
    """A share times n (0.29 * 100 = 28.999999999999996) was cut to 28 without a word, and
    6 of 5 gave (nan, nan) with a RuntimeWarning: now one ValueError names the value; a
    whole float is a count, and n = 0 gives nan bounds without a warning."""
    import warnings

    from analysis.stats import wilson_interval, wilson_intervals

    for successes, n, says in [(0.29 * 100, 100, "successes = 28.999999999999996 is not"),
                               (2.5, 5, "successes = 2.5 is not"),
                               (True, 3, "successes = True is not"),
                               (3, 7.5, "n = 7.5 is not"),
                               (6, 5, "successes = 6 of n = 5"),
                               (-1, 5, "successes = -1 of n = 5")]:
        with pytest.raises(ValueError, match=re.escape(says)):
            wilson_interval(successes, n)
    with pytest.raises(ValueError, match="successes = 5 of n = 4"):
        wilson_intervals([1, 5], [4, 4])
    assert wilson_interval(29.0, 100.0) == wilson_interval(29, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(wilson_interval(0, 0)).all()
        low, high = wilson_intervals([0, 2], [0, 4])
    assert np.isnan(low[0]) and np.isnan(high[0]) and low[1] < 0.5 < high[1]


def test_wilson_interval_contains_the_share_exactly():
    """The Wilson interval contains the observed share; at shares of 0 and 1 the bound is
    the share itself, not a rounding away from it (6 of 6 gave 0.9999999999999999)."""
    from analysis.stats import wilson_interval

    for n in range(1, 401):
        for k in sorted({0, 1, n // 3, n - 1, n}):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n, lo, hi)
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
    lo, hi = wilson_interval(7, 20)
    assert round(lo, 3) == 0.181 and round(hi, 3) == 0.567  # the usual values, unchanged


def test_run_tables_name_a_wrong_table():
    """A notebook passing one run table where another goes (`maturity_table(run.timeseries)`,
    `conflict_table(run.summary)`) got pandas' KeyError 'active' or a melt KeyError from
    inside, and an empty time series 'Length mismatch': now one FigureInputError names the
    argument, what it lacks and the table that goes there."""
    series = pd.DataFrame({"replicate": [0], "step": [0], "conflicts": [1],
                           "conflicts_resolved": [0]})
    summary = pd.DataFrame({"replicate": [0], "regime": ["inertia"]})
    cases = [
        (lambda: F.maturity_table(series), r"^organisations has no column 'kind'; allowed: "
                                           r"a run's organisations"),
        (lambda: F.conflict_table(summary), r"^timeseries has no column 'step'; allowed: "
                                            r"a run's time series"),
        (lambda: F.conflict_table(series.iloc[:0]), r"^timeseries has no rows"),
        (lambda: F.conflict_table(None), r"^timeseries = None is not a DataFrame"),
        (lambda: F.trajectory_table(series, summary), r"^timeseries has no column 'mean_trust'"),
        (lambda: F.trajectory_table(summary, series),
         r"^timeseries has no column 'step'"),
    ]
    for call, message in cases:
        with pytest.raises(F.FigureInputError, match=message):
            call()


# ------------------------------------------------------------- figure audit (readers)
@pytest.mark.parametrize("name", ["merger", "voluntary_alliance"])
def test_small_trust_matrix_names_its_rows_and_columns(name):
    """A small matrix prints each cell's trust, so the reader must know whose it is: the
    rows (first panel) and the columns (every panel) carry the organisations' names, as
    the trust network does, in the matrix's order; they fit and do not overlap."""
    pairs = _pairs(name)
    fig = F.plot_trust_matrix(pairs)
    from analysis.figures_run import _organisation_order

    order = _organisation_order(pairs)
    names = [s.replace("_", " ") for s in order["name"]]

    def shown(labels):
        return [t.get_text().replace("\n", " ") for t in labels]

    assert shown(fig.axes[0].get_yticklabels()) == names
    for ax in fig.axes[:2]:
        assert shown(ax.get_xticklabels()) == names
    _assert_text_fits(fig)


def test_large_trust_matrix_has_no_names():
    """Beyond SMALL_PARTNERSHIP organisations names would not fit: no tick labels."""
    fig = F.plot_trust_matrix(_pairs("ics_mandated", months=(0, 3), steps=3))
    assert not [t for t in fig.axes[0].get_yticklabels() if t.get_text()]


@pytest.mark.parametrize("name", ["formalisation 0, regime mandated",
                                  "funding 0.9, shared vision 0.8, quick wins 0.7",
                                  "a_scenario_name_xyz"])
def test_regime_share_labels_keep_the_run_count_on_one_line(name):
    """'(n = 10)' was broken over two lines ('... mandated (n =' / '10)') when a label
    wrapped just there; the count stays whole, on one line."""
    fig = F.plot_regime_shares(_shares({name: ["synergy"] * 9 + ["inertia"]}))
    label = fig.axes[0].get_yticklabels()[0].get_text().replace("\u00a0", " ")
    assert "(n = 10)" in label.splitlines()[-1], label


def test_axis_of_several_keys_names_each_key_once():
    """The partners axis of phase_partners_support moves PCNs and VCSE organisations
    (ticks '2/1'); its label read 'primary care networks / voluntary / community orgs',
    three things for two numbers. One ' / ' now separates the keys, as '/' does the
    values."""
    manifest = {"sweep": {"name": "t", "design": "grid", "axes": {
        "partners": {"keys": ["organisations.pcn", "organisations.vcse"],
                     "rows": [[2, 1], [6, 3]]},
        "context.funding": [0.2, 0.8]}}}
    phase = pd.DataFrame({"point": range(4), "runs": 5, "synergy_share": 0.5})
    table = F.phase_table(manifest, phase)
    label = table["x_axis"].iloc[0]
    assert label.count("/") == 1 and set(table["x_tick"]) == {"2/1", "6/3"}, label
    assert "primary care networks / voluntary" in label


@pytest.mark.parametrize("value", ["synergy_share", "median_time_to_synergy"])
def test_phase_panels_are_framed(value):
    """A share of 0 is white, the page's colour: without the theme's top and right
    spines a corner of cells at 0 (phase_partners_support: most partners, least support)
    ran off into the page and read as no data. Every phase panel is framed."""
    fig = F.plot_phase(_phase_cells([6.0, 51.0], [0.0, 48.0], share=0.0, low=0.0,
                                    high=0.2), value=value)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2
    for ax in panels:
        assert all(side.get_visible() for side in ax.spines.values())


def test_phase_title_keeps_the_runs_per_cell_together():
    """The bundled phase figure's title broke '(20' / 'runs per cell' over two lines."""
    subject = "phase_trust_formalisation (base scenario ics_mandated_supported)"
    for value in ("synergy_share", "median_time_to_synergy"):
        table = _phase_cells([6.0, 51.0], [0.0, 48.0])
        fig = F.plot_phase(table, value=value, title=F.phase_title(table, value, subject))
        title = fig._suptitle.get_text()
        assert not re.search(r"\d\s*\n\s*runs", title), title


def test_one_figure_is_counted_in_the_singular(folders, tmp_path, capsys):
    """A Sobol folder gives one figure; the command said '1 figures in ...'."""
    assert _cli("figures", str(folders["sobol"]), "--format", "png",
                "--out", str(tmp_path / "one")) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("1 figure in "), last


# ------------------------------------------------------- journal review (figfix2)
#: The smallest text a figure may carry, in points at its printed width (the theme's
#: tick labels); journals ask for at least 6-7 pt.
MIN_TEXT_PT = 6.5


@pytest.mark.parametrize("folder", ["agents", "plain", "grid", "sobol", "points"])
def test_no_text_is_smaller_than_the_journal_minimum(folders, folder):
    """Organisation names in small networks and matrices were 5.5 pt, matrix cell values
    and the Sobol note 6 pt; every visible text of every figure is now >= 6.5 pt."""
    from matplotlib.text import Text

    _, jobs, _ = F.figure_jobs(folders[folder])
    for job in jobs:
        _, fig = job.make()
        small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip()
                 and t.get_fontsize() < MIN_TEXT_PT]
        assert not small, (job.stem, small)
        _assert_text_fits(fig)


def test_sobol_note_of_an_unidentifiable_outcome_is_readable():
    """The 'Outcome almost constant' note of a greyed-out panel was 6 pt."""
    from matplotlib.text import Text

    n = 3072
    table = F.sobol_table(_sobol_frame(("synergy", "final_mean_faith")),
                          _runs(n, 36, np.full(n, 0.45)))
    fig = F.plot_sobol(table)
    notes = [t for t in fig.findobj(Text)
             if "not identifiable" in t.get_text().replace("\n", " ")]
    assert notes and all(t.get_fontsize() >= MIN_TEXT_PT for t in notes)
    _assert_text_fits(fig)


@pytest.mark.parametrize("name", ["merger", "voluntary_alliance", "mandated_buddying"])
def test_small_network_and_matrix_names_are_readable(name):
    """5.5 pt names (and 6 pt cell values) are below what journals print."""
    from matplotlib.text import Text

    pairs = _pairs(name)
    for fig in (F.plot_trust_network(pairs), F.plot_trust_matrix(pairs)):
        sizes = [t.get_fontsize() for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip()]
        assert min(sizes) >= MIN_TEXT_PT
        _assert_text_fits(fig)


def _lab(colours) -> np.ndarray:
    """CIELAB (D65) of sRGB colours, for colour differences (Delta E 1976)."""
    rgb = np.asarray(colours, float)[..., :3]
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                             [0.0193, 0.1192, 0.9505]]).T / np.array([0.95047, 1, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], -1)


def test_trust_colours_are_not_kind_colours():
    """The trust matrix's low-trust cells were the yellow of its VCSE kind strips
    (cividis_r's light end, Delta E 6): no colour of the trust scale is now near a kind's."""
    from matplotlib.colors import to_rgb

    pairs = _pairs("merger")
    for fig in (F.plot_trust_matrix(pairs), F.plot_trust_network(pairs)):
        bar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0]
        cmap = bar._colorbar.cmap  # the scale of the cells or edges and of their colour bar
        scale = _lab(cmap(np.linspace(0, 1, 101)))
        for kind, colour in KIND_COLOURS.items():
            gap = np.linalg.norm(scale - _lab(to_rgb(colour)), axis=1).min()
            assert gap > 20, (kind, gap)


def test_power_relations_are_not_drawn_in_regime_colours():
    """Smaller-in-larger was dissolution vermillion and larger-in-smaller synergy blue."""
    from matplotlib.colors import to_hex

    steps = np.arange(4)
    table = pd.concat([_band(steps, 3, relation=r) for r in
                       ("smaller_in_larger", "peers", "larger_in_smaller")])
    table["size_ratio"] = 2.0
    fig = F.plot_power_trust(table)
    drawn = {to_hex(line.get_color()).upper() for line in fig.axes[0].get_lines()}
    assert len(drawn) == 3
    assert not drawn & {c.upper() for c in REGIME_COLOURS.values()}


@pytest.mark.parametrize("name", ["ics_mandated", "voluntary_alliance", "research_collaboration",
                                  "a_user_scenario_of_thirty_chars"])
def test_one_runs_regime_shares_are_single_column_whatever_its_name(name):
    """A name over 16 characters made a 175 x 43 mm strip of one row; the figure of one
    run is one column wide, its label wrapped."""
    fig = F.plot_regime_shares(_shares({name: ["synergy", "inertia", "inertia"]}),
                               title=f"{name}: regime at the end of the run (3 replicates)")
    assert fig.get_figwidth() == pytest.approx(SINGLE_COLUMN)
    _assert_text_fits(fig)


def test_a_timeline_axis_is_labelled_in_words():
    """A sweep axis over a timeline event was labelled '1.month'."""
    from analysis.figures_sweep import key_label

    assert key_label("timeline.1.month") == "Month of timeline event 1"
    assert key_label("timeline.2.funding") == "Funding from timeline event 2 (0–1)"
    assert key_label("timeline.2.funding", unit=False) == "Funding from timeline event 2"
    assert key_label("timeline.1.regime") == "Regime from timeline event 1"


def _event_lines(ax) -> list[float]:
    """x of the vertical dotted lines on `ax`."""
    return [line.get_xdata()[0] for line in ax.lines
            if line.get_linestyle() == ":" and len(set(line.get_xdata())) == 1]


def test_run_figures_mark_the_timeline_events_on_their_months(tmp_path):
    """Nothing in a figure said when a scenario's funding cut or mandate came: the
    trajectories and conflicts now draw a dotted line at each event's month, named in
    the legend; an event after the run's last month is left out."""
    from analysis.figures_run import timeline_events

    assert timeline_events(load_scenario("stp_to_ics")) == [(24, "regime mandated")]
    assert timeline_events(load_scenario("stp_to_ics", steps=20)) == []
    assert timeline_events(load_scenario("ics_mandated")) == []
    path = tmp_path / "events.toml"
    path.write_text('regime = "voluntary"\nform = "alliance"\nsteps = 12\n'
                    "[organisations]\nacute_trust = 3\n"
                    '[[timeline]]\nmonth = 4\nset = { funding = 0.1, form = "merger" }\n'
                    '[[timeline]]\nmonth = 8\nset = { regime = "mandated" }\n')
    events = timeline_events(load_scenario(path))
    assert events == [(4, "funding 0.1, form merger"), (8, "regime mandated")]
    assert main(["run", str(path), "--replicates", "3", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    _, jobs, _ = F.figure_jobs(tmp_path / "run")
    for job in jobs:
        if job.stem in ("trajectories", "conflicts"):
            _, fig = job.make()
            for ax in (a for a in fig.axes if a.get_visible()):
                assert _event_lines(ax) == [4, 8], job.stem
            title = fig.legends[0].get_title().get_text().replace("\n", " ")
            assert ("Dotted lines: timeline events (month 4: funding 0.1, form merger; "
                    "month 8: regime mandated)") in title, job.stem
            fig.clear()
    run = F.read_run(tmp_path / "run")
    plain = F.plot_trajectories(F.trajectory_table(run.timeseries, run.summary))
    assert all(_event_lines(ax) == [] for ax in plain.axes)
    assert "Dotted" not in plain.legends[0].get_title().get_text()


def test_sweep_figure_titles_give_the_sweeps_own_set(folders):
    """A sweep whose set overrides its base scenario (set = { regime = "voluntary" } on a
    mandated base) drew figures titled by the base alone."""
    assert F.sweep_subject("timing", {"scenario": "stp_to_ics", "set": {
        "context.funding": 0.8, "regime": "voluntary", "organisations.pcn": 12,
        "timeline.1.month": 36}}) == ("timing (base scenario stp_to_ics; set funding=0.8, "
                                      "regime=voluntary, pcn=12, timeline.1.month=36)")
    assert F.sweep_subject("t", {"scenario": "merger", "set": {}}) == "t (base scenario merger)"
    manifest = F.read_manifest(folders["grid2"])
    manifest["sweep"] = {**manifest["sweep"], "set": {"context.quick_wins": 0.5}}
    for job in F.sweep_jobs(folders["grid2"], manifest):
        _, fig = job.make()
        assert "; set quick_wins=0.5)" in fig._suptitle.get_text().replace("\n", " ")
        fig.clear()
