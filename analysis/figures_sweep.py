"""Figures of a sweep folder: regime phase diagrams and Sobol sensitivity indices.

As in `analysis.figures_run`, each figure is a ``*_table`` function returning
the tidy table and a ``plot_*`` function drawing the figure from that table
alone. The tables read what `icsabm sweep` writes (`model.sweep`):
``phase.parquet`` (per point: regime shares with Wilson intervals, median
months to synergy), ``sobol.parquet`` and the ``summary/`` parts.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.palette import REGIME_COLOURS
from analysis.theme import (
    DOUBLE_COLUMN,
    KIND_LABELS,
    MIN_TEXT_PT,
    SINGLE_COLUMN,
    new_figure,
    themed,
)
from model import params as P
from model.scenario import shown
from model.sweep_file import axis_column


class FigureInputError(ValueError):
    """A folder or sweep a figure cannot be drawn from; the message is one line."""


#: Plain-words labels of the Sobol outcomes (`model.sweep.SOBOL_OUTCOMES`).
OUTCOME_LABELS = {
    "synergy": "Share of runs ending in synergy",
    "final_mean_trust": "Final mean trust",
    "final_mean_faith": "Final mean faith",
    "final_mean_behaviour": "Final mean behaviour",
    "cumulative_output": "Cumulative joint output",
}
#: A share outcome is "almost constant" when its rarer class has fewer runs than this.
MIN_RARE_RUNS = 50
#: Any other outcome is "almost constant" when its standard deviation across runs is at
#: most this fraction of its mean's absolute value.
MIN_RELATIVE_SD = 0.01
#: A median time to synergy from fewer runs than this is marked as resting on few runs.
MIN_SYNERGY_RUNS = 5
#: A phase panel with more cells than this is drawn as an image in vector formats, without
#: cell edges (thinner than a cell there): one path a cell took 7 s a figure and 1.7 MB
#: for a grid of 100,000 points.
MAX_VECTOR_CELLS = 10_000
SYNERGY_MAP = LinearSegmentedColormap.from_list("synergy", ["#FFFFFF", REGIME_COLOURS["synergy"]])


def key_label(key: str, unit: bool = True) -> str:
    """Plain words for a dotted key: ``context.history_of_competition`` -> ``History of
    competition (0–1)``; ``organisations.pcn`` -> ``Primary care networks (count)``;
    ``timeline.1.month`` -> ``Month of timeline event 1``."""
    group, _, name = key.partition(".")
    if not name:
        return key.replace("_", " ").capitalize()
    if group == "timeline" and name.count(".") == 1:  # timeline.<event>.<key>
        event, _, field = name.partition(".")
        if field == "month":
            return f"Month of timeline event {event}"
        words = f"{field.replace('_', ' ').capitalize()} from timeline event {event}"
        plain = key_label(f"context.{field}", unit=False)
        return words + key_label(f"context.{field}", unit)[len(plain):]  # its unit, if any
    if group == "organisations" and name in KIND_LABELS:
        return f"{KIND_LABELS[name]}s" + (" (count)" if unit else "")
    text = name.replace("_", " ").capitalize()
    param = P.PARAM_BY_KEY.get(key)
    if unit and param is not None:
        text += " (0–1)" if param.unit == "share 0-1" else f" ({param.unit})"
    return text


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# ---------------------------------------------------------------------- phase diagram
def grid_axes(manifest: dict) -> list[tuple[str, list[str], list[tuple]]]:
    """(axis name, keys, rows of values) of each axis of a grid sweep, in the file's order."""
    from model.sweep_file import grid_axis

    sweep = manifest["sweep"]
    return [(name, *grid_axis(sweep["name"], name, spec)) for name, spec in sweep["axes"].items()]


def phase_table(manifest: dict, phase: pd.DataFrame) -> pd.DataFrame:
    """Cells of a 2-D grid sweep for the phase diagram, one panel per regime.

    Uses the sweep's `phase.parquet` (one row per point). The `regime` axis, if
    any, makes the panels (mandated / voluntary, C01, C02, C11, C12); the two
    other axes are x (the first in the sweep file) and y. An axis that moves
    several keys together (``{keys, rows}``) is one coordinate whose ticks list
    the keys' values (two keys: "v1/v2"; more: "level 1", "level 2", ... in the file's
    row order, the values being in this table's axis columns). Columns: panel, x, y
    (cell indices), x_axis, y_axis (axis labels), x_tick, y_tick (tick labels), the
    axis value columns, runs,
    the share and 95% Wilson interval of each regime, median_time_to_synergy,
    timed_runs (the runs behind the median; absent from a phase.parquet written before
    that column existed).

    Raises:
        FigureInputError: the sweep is not a grid with two axes besides regime, or a
            point of `phase` is not one of its points.
    """
    sweep = manifest["sweep"]
    if sweep.get("design") != "grid":
        raise FigureInputError(f"sweep {sweep['name']!r} has a {sweep.get('design')} design; "
                               "the phase diagram needs a grid")
    axes = grid_axes(manifest)
    panel = next((a for a in axes if a[1] == ["regime"]), None)
    others = [a for a in axes if a is not panel]
    if len(others) != 2:
        names = ", ".join(a[0] for a in others) or "none"
        raise FigureInputError(f"sweep {sweep['name']!r}: the phase diagram needs a grid with "
                               f"two axes besides regime; it has {len(others)} ({names})")
    shape = [len(a[2]) for a in axes]
    outside = phase["point"][~phase["point"].isin(range(math.prod(shape)))]
    if len(outside):  # a hand-edited or foreign phase.parquet
        raise FigureInputError(f"sweep {sweep['name']!r}: phase.parquet has point "
                               f"{shown(outside.tolist()[0])}; allowed: the grid's points 0 to "
                               f"{math.prod(shape) - 1} (re-create the sweep folder)")
    index = np.unravel_index(phase["point"].to_numpy(np.int64), shape)
    where = {a[0]: i for a, i in zip(axes, index, strict=True)}
    table = pd.DataFrame(index=range(len(phase)))
    table["panel"] = [str(panel[2][i][0]) for i in where[panel[0]]] if panel else sweep["name"]
    for coord, (name, keys, rows) in zip(("x", "y"), others, strict=True):
        table[coord] = where[name]
        if len(keys) == 1:
            table[f"{coord}_axis"] = key_label(keys[0])
            ticks = [_tick(r[0]) for r in rows]
        else:
            # ' / ' separates the keys as '/' their values in the ticks, so a key's own
            # slash ('Voluntary / community orgs') becomes 'or': two keys, one separator
            table[f"{coord}_axis"] = (f"{name.replace('_', ' ').capitalize()} ("
                                      + " / ".join(key_label(k, unit=False).lower()
                                                   .replace(" / ", " or ") for k in keys)
                                      + ")")
            ticks = (["/".join(_tick(v) for v in r) for r in rows] if len(keys) <= 2
                     else [f"level {k + 1}" for k in range(len(rows))])
        table[f"{coord}_tick"] = [ticks[i] for i in where[name]]
    columns = [c for c in phase.columns if c == "point" or c == "runs" or c.endswith("_share")
               or "_ci_" in c or c in ("median_time_to_synergy", "timed_runs")
               or c in {axis_column(k) for a in axes for k in a[1]}]
    return pd.concat([table, phase[columns].reset_index(drop=True)], axis=1)


def _ticks(ax, coord: str, part: pd.DataFrame) -> None:
    ticks = part.drop_duplicates(coord).sort_values(coord)
    step = max(1, -(-len(ticks) // 8))
    positions, labels = ticks[coord].to_numpy()[::step], ticks[f"{coord}_tick"].to_numpy()[::step]
    (ax.set_xticks if coord == "x" else ax.set_yticks)(positions, labels)


def runs_text(runs: pd.Series) -> str:
    """'20 runs per cell', or '18–20 runs per cell' when the count varies (a no-break
    space after the number: a wrapped title never splits it from 'runs')."""
    lo, hi = int(runs.min()), int(runs.max())
    return f"{lo}{'' if lo == hi else f'–{hi}'}\u00a0runs per cell"


def phase_title(table: pd.DataFrame, value: str, subject: str | None = None) -> str:
    """The phase figure's title: what is drawn, how many runs each cell has and the marks;
    `subject` (say, the sweep and its base scenario) goes first."""
    if value == "synergy_share":
        what = (f"Share of runs ending in synergy ({runs_text(table['runs'])}; dashed: 50%; "
                "dot: its 95% interval contains 50%)")
    else:
        what = (f"Median time to synergy ({runs_text(table['runs'])}; grey: no run has one; "
                f"dot: fewer than {MIN_SYNERGY_RUNS} have; dashed: 50% in synergy)")
    return f"{subject}: {what}" if subject else what


@themed
def plot_phase(table: pd.DataFrame, value: str = "synergy_share",
               title: str | None = None) -> Figure:
    """Heatmap of `value` per cell, one panel per regime, with the 50% synergy boundary.

    ``value="synergy_share"``: share of runs ending in synergy (white to the
    synergy colour, 0 to 1); a dot marks a cell whose 95% Wilson interval
    contains 0.5, where the side of the boundary is not settled.
    ``value="median_time_to_synergy"``: median months to synergy among runs
    that have one (`timed_runs`), on one colour scale for every panel (grey
    cells: none has; a dot: fewer than `MIN_SYNERGY_RUNS` have). Each panel is framed,
    so white cells (a share of 0) do not run off into the page. The dashed black contour is
    where half the runs end in synergy — the edge of the basin of THEORY §1's
    bistable system. The title (default: `phase_title`) gives the runs per cell.
    """
    panels = list(dict.fromkeys(table["panel"]))
    nx, ny = int(table["x"].max()) + 1, int(table["y"].max()) + 1
    share_plot = value == "synergy_share"
    width = DOUBLE_COLUMN if len(panels) > 1 else SINGLE_COLUMN
    fig = new_figure(width, min(4.2, 1.2 + 2.6 * ny / max(nx, 1)) if len(panels) > 1 else 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)).ravel()
    values = table[value].astype(float)
    if share_plot:
        scale = {"vmin": 0.0, "vmax": 1.0}
    elif values.notna().any():  # one scale for every panel, so colours compare across them
        scale = {"vmin": float(values.min()), "vmax": float(values.max())}
    else:
        scale = {"vmin": 0.0, "vmax": 1.0}
    if "timed_runs" in table:
        timed = table["timed_runs"]
    else:  # an older phase.parquet: its synergy runs, an upper bound (5 / 77 * 77 < 5)
        timed = (table["synergy_share"] * table["runs"]).round()
    marked = ((table["synergy_ci_low"] <= 0.5) & (table["synergy_ci_high"] >= 0.5)
              if share_plot else (timed > 0) & (timed < MIN_SYNERGY_RUNS))
    mesh = None
    for ax, panel in zip(axes, panels, strict=True):
        part = table[table["panel"] == panel]
        grid = np.full((ny, nx), np.nan)
        share = np.full((ny, nx), np.nan)
        grid[part["y"], part["x"]] = part[value].astype(float)
        share[part["y"], part["x"]] = part["synergy_share"]
        ax.set_facecolor("#DDDDDD")
        for side in ax.spines.values():  # framed: cells at 0 are white, as the page is
            side.set_visible(True)
        many = nx * ny > MAX_VECTOR_CELLS  # an image, not a path a cell, in the PDF
        mesh = ax.pcolormesh(np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5, grid,
                             cmap=SYNERGY_MAP if share_plot else "cividis", **scale,
                             edgecolors="none" if many else "white", linewidth=0.2,
                             rasterized=many)
        if nx > 1 and ny > 1 and np.nanmin(share) < 0.5 < np.nanmax(share):
            ax.contour(np.arange(nx), np.arange(ny), share, levels=[0.5], colors="black",
                       linewidths=1.2, linestyles="--")
        dots = part[marked[part.index]]
        ax.scatter(dots["x"], dots["y"], s=6, color="black", linewidths=0, zorder=3)
        _ticks(ax, "x", part)
        _ticks(ax, "y", part)
        ax.set_xlabel(textwrap.fill(part["x_axis"].iloc[0], int(width / len(panels) * 13)))
        # panels by regime, named also when the regime axis gives one value (the base
        # scenario's regime may be the other); one panel of a grid without it has no name
        if len(panels) > 1 or "scenario.regime" in part:
            ax.set_title(str(panel).capitalize())
        long_ticks = part["x_tick"].astype(str).str.len().max() > 4
        ax.tick_params(axis="x", labelrotation=45 if long_ticks else 0)
    axes[0].set_ylabel(textwrap.fill(table["y_axis"].iloc[0], 34))
    if share_plot or values.notna().any():
        label = ("Share of runs ending in synergy (0–1)" if share_plot
                 else "Median time to synergy (months)")
        fig.colorbar(mesh, ax=axes.tolist(), shrink=0.85, label=label)
    else:
        for ax in axes:
            ax.text(0.5, 0.5, "No run reached synergy", transform=ax.transAxes, ha="center",
                    va="center", fontsize=8)
    fig.suptitle(textwrap.fill(title or phase_title(table, value), int(width * 15)), x=0.01,
                 ha="left", fontsize=8)
    return fig


# ------------------------------------------------------------------------ sensitivity
def outcome_spread(summary: pd.DataFrame) -> pd.DataFrame:
    """How much each Sobol outcome varies across a sweep's runs (its summary rows).

    An outcome that barely varies has Sobol indices that are not identifiable
    (noise divided by almost nothing): the share of runs ending in synergy when
    fewer than `MIN_RARE_RUNS` runs are in its rarer class (synergy, or not
    synergy); any other outcome when its standard deviation across runs is at
    most `MIN_RELATIVE_SD` of its mean's absolute value. Columns: outcome,
    identifiable, note (why not, in words).
    """
    rows = []
    n = len(summary)
    synergy = int((summary["regime"] == "synergy").sum())
    rare = min(synergy, n - synergy)
    rows.append({"outcome": "synergy", "identifiable": rare >= MIN_RARE_RUNS,
                 "note": f"{synergy} of {n} runs end in synergy"})
    for outcome in OUTCOME_LABELS:
        if outcome in summary.columns:
            values = summary[outcome].astype(float)
            sd, mean = values.std(), values.mean()
            rows.append({"outcome": outcome, "identifiable": sd > MIN_RELATIVE_SD * abs(mean),
                         "note": f"standard deviation {sd:.2g} across runs, mean {mean:.2g}"})
    return pd.DataFrame(rows)


def sobol_table(sobol: pd.DataFrame, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sobol indices of a Sobol sweep (its `sobol.parquet`), sorted for plotting.

    First-order (S1) and total (ST) indices with 95% confidence half-widths
    (SALib), per outcome and parameter; within each outcome, parameters are
    ranked by ST (rank 1 = most influential). With the sweep's runs
    (`summary`), ``identifiable`` is False for an outcome that barely varies
    (`outcome_spread`, said in ``note``); without, every outcome counts as
    identifiable. Columns: outcome, outcome_label, parameter, parameter_label,
    S1, S1_conf, ST, ST_conf, rank, identifiable, note.
    """
    table = sobol.copy()
    table["rank"] = table.groupby("outcome")["ST"].rank(ascending=False, method="first")
    table["rank"] = table["rank"].astype(int)
    table.insert(1, "outcome_label", table["outcome"].map(OUTCOME_LABELS).fillna(table["outcome"]))
    table.insert(3, "parameter_label", [key_label(k, unit=False) for k in table["parameter"]])
    outcomes = list(dict.fromkeys(table["outcome"]))
    table["order"] = table["outcome"].map({o: i for i, o in enumerate(outcomes)})
    spread = (outcome_spread(summary) if summary is not None
              else pd.DataFrame(columns=["outcome", "identifiable", "note"]))
    table = table.merge(spread, on="outcome", how="left")
    table["identifiable"] = table["identifiable"].fillna(True).astype(bool)
    table["note"] = table["note"].fillna("")
    return (table.sort_values(["order", "rank"]).drop(columns="order")
            .reset_index(drop=True))


#: The dotted line of a Sobol panel at its outcome's `noise_share`.
NOISE_LINE = {"color": "black", "linestyle": ":", "linewidth": 0.9}


@themed
def plot_sobol(table: pd.DataFrame, title: str | None = None) -> Figure:
    """First-order and total Sobol indices with 95% intervals, sorted by total index,
    one panel per outcome. An outcome whose indices are not identifiable (column
    ``identifiable``, see `outcome_spread`) is drawn in pale grey and says so. With a
    ``noise_share`` column (`model.sweep.noise_share`), a dotted line marks it in each
    panel: the total index replicate noise alone gives a parameter with no effect."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    ncols = min(3, len(outcomes))
    nrows = -(-len(outcomes) // ncols)
    n_par = table["parameter"].nunique()
    # a greyed-out panel's note (five lines at MIN_TEXT_PT) needs about 0.9 in of panel
    panel = max(0.16 * n_par, 0.0 if table["identifiable"].all() else 0.9)
    # one column wide, the legend takes a line for its title's second half and each entry
    legend = 0.5 if ncols == 1 else 0.0
    fig = new_figure(DOUBLE_COLUMN if ncols > 1 else SINGLE_COLUMN,
                     nrows * (0.6 + panel) + 0.5 + legend)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    styles = (("ST", "Total (ST)", "#444444"), ("S1", "First order (S1)", "#AAAAAA"))
    for ax, outcome in zip(axes, outcomes, strict=False):
        part = table[table["outcome"] == outcome].sort_values("rank")
        ok = "identifiable" not in part or bool(part["identifiable"].iloc[0])
        y = np.arange(len(part))
        for k, (col, label, colour) in enumerate(styles):
            ax.barh(y + (k - 0.5) * 0.38, part[col], 0.38, xerr=part[f"{col}_conf"],
                    color=colour, label=label, alpha=1 if ok else 0.25,
                    error_kw={"elinewidth": 0.6, "capsize": 1.2,
                              "ecolor": "black" if ok else "#BBBBBB"})
        ax.set_yticks(y, part["parameter_label"])
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.5)
        noise = float(part["noise_share"].iloc[0]) if "noise_share" in part else math.nan
        if ok and math.isfinite(noise) and noise > 0:
            ax.axvline(noise, **NOISE_LINE)
        ax.set_xlabel("Sobol index")
        ax.set_title(textwrap.fill(part["outcome_label"].iloc[0], 28))
        if not ok:  # pale bars on the 0-1 scale, whiskers cut, and why in words
            ax.set_xlim(-0.25, 1.25)
            ax.text(0.5, 0.5, textwrap.fill(f"Outcome almost constant ({part['note'].iloc[0]}):"
                                             " indices not identifiable", 22),
                    transform=ax.transAxes, ha="center", va="center", fontsize=MIN_TEXT_PT,
                    bbox={"facecolor": "white", "edgecolor": "#888888", "linewidth": 0.5})
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    handles = [Patch(color=colour, label=label) for _, label, colour in styles]
    if "noise_share" in table and (table["noise_share"].astype(float) > 0).any():
        handles.append(Line2D([], [], **NOISE_LINE,
                              label="Replicate noise (ST of a parameter with no effect)"))
    title_text = "Sobol index: share of the outcome's variance (whiskers: 95% intervals)"
    if ncols == 1:  # one column wide (one outcome, in a notebook): the entries one a line
        title_text = title_text.replace(" (", "\n(")
    fig.legend(handles=handles, loc="outside lower center",
               ncols=1 if ncols == 1 else len(handles), title=title_text)
    fig.suptitle(textwrap.fill(title or "Sensitivity of the outcomes to the context",
                               int(fig.get_figwidth() * 15)), x=0.01, ha="left", fontsize=8)
    return fig


# ------------------------------------------------------------------ points and 1-D grids
def point_labels(manifest: dict) -> list[str]:
    """A short label for each point of a sweep (its axis values)."""
    labels = []
    for point in manifest["sweep"]["points"]:
        labels.append(", ".join(f"{key_label(k, unit=False).lower()} {_tick(v)}"
                                for k, v in point.items()) or "base")
    return labels


def sweep_summaries(manifest: dict, summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The sweep's summary rows grouped by point, keyed by the point's label (for
    `figures_run.regime_share_table`)."""
    labels = point_labels(manifest)
    return {labels[int(p)]: group for p, group in summary.groupby("point", sort=True)}
