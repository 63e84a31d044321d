"""Figures of one scenario's replicates: tidy tables and the figures drawn from them.

Each figure is a pair: a ``*_table`` function returning the tidy
`pandas.DataFrame` the figure is drawn from, and a ``plot_*`` function drawing
a `matplotlib.figure.Figure` from that table alone (so a reader can redraw a
figure from its CSV). `analysis.figures` wires them to run folders and to
``icsabm figures``; notebooks call them directly.

Pairwise trust is not stored in run folders; the trust network, trust matrix
and power figures re-simulate replicates with `ICSModel(scenario, seed=...)`,
which reproduces a replicate of the batch kernel bit for bit (CONTRACT:
Python API).
"""

from __future__ import annotations

import math
import numbers
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from scipy.stats import t as student_t

from agents.kinds import KIND_INDEX, KIND_NAMES
from analysis.figures_sweep import FigureInputError
from analysis.palette import (
    EVENT_COLOUR,
    EXITED_COLOUR,
    KIND_COLOURS,
    MATURITY_COLOURS,
    OKABE_ITO,
    REGIME_COLOURS,
    SIZE_RELATION_COLOURS,
    TRUST_SCALE_START,
)
from analysis.stats import REGIME_ORDER, regime_table
from analysis.theme import (
    DOUBLE_COLUMN,
    KIND_LABELS,
    MATURITY_LABELS,
    MIN_TEXT_PT,
    REGIME_LABELS,
    SINGLE_COLUMN,
    new_figure,
    themed,
)
from model import state as S
from model.regimes import MIN_MEMBERS
from model.scenario import (
    MAX_SEED,
    Scenario,
    ScenarioError,
    shown,
    timeline_words,
    whole_number,
)

#: Quantile columns of the band tables: median, 50% and 90% bands across replicates.
QUANTILES = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95}

#: Time-series columns of the trajectory figure, with panel titles and axis labels.
TRAJECTORY_VARIABLES = {
    "mean_trust": ("Trust", "Mean trust in partners (0–1)"),
    "mean_faith": ("Faith", "Mean faith (0–1)"),
    "mean_behaviour": ("Collaborative behaviour", "Mean behaviour (0–1)"),
    "output": ("Joint output", "Joint output per month (model units)"),
}
MONTH_LABEL = "Time (months)"
#: Time-series columns that are means over the members (or over their pairs). With fewer
#: than `MIN_MEMBERS` members left there is no partnership and the time series records 0
#: (the mean over nobody), which is no one's value: the figures leave such months out of
#: these columns, as the browser app's charts do (`model.ui.state_svg`).
MEMBER_MEANS = ("mean_trust", "mean_faith", "mean_capacity", "mean_behaviour",
                "mean_confidence", "communication")
#: Partnerships of at most this many organisations get a more explicit trust network and
#: matrix: every edge drawn solid and each organisation named; each cell's value printed.
#: Lower than the browser app's `model.ui.NAMED_LIMIT` (8) on purpose: a figure draws four
#: networks side by side in a column's width, the app one network in a whole panel.
SMALL_PARTNERSHIP = 6

#: Size ratio that makes a pair unequal in the power figure: j is *larger* than i when
#: it has at least this many times i's staff (power follows size, C17).
SIZE_RATIO = 2.0
#: What the re-simulating tables take as a scenario (as `load_scenario`).
ScenarioLike = Scenario | str | os.PathLike | Mapping[str, Any]
#: Relations of the power figure (truster -> trusted): label, colour, line style.
POWER_RELATIONS = {
    "smaller_in_larger": ("Smaller in larger partner", SIZE_RELATION_COLOURS["smaller_in_larger"],
                          "-"),
    "peers": ("Among peers of similar size", SIZE_RELATION_COLOURS["peers"], "--"),
    "larger_in_smaller": ("Larger in smaller partner", SIZE_RELATION_COLOURS["larger_in_smaller"],
                          ":"),
}
#: Colour scale of trust (0-1) in the network and matrix: cividis, light = low, from
#: `TRUST_SCALE_START` on, so low trust is not the VCSE kind's yellow.
TRUST_MAP = ListedColormap(mpl.colormaps["cividis_r"](np.linspace(TRUST_SCALE_START, 1, 256)),
                           name="trust")


# ----------------------------------------------------------------------------- helpers
def band_table(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Replicates, mean and the `QUANTILES` of `value` within each group of `by`."""
    groups = frame.groupby(by, sort=True)[value]
    bands = groups.quantile(list(QUANTILES.values())).unstack()
    bands.columns = list(QUANTILES)
    bands.insert(0, "mean", groups.mean())
    bands.insert(0, "replicates", groups.size())
    return bands.reset_index()


def _draw_bands(ax, frame: pd.DataFrame, colour: str, label: str, linestyle: str = "-",
                wide: bool = True) -> None:
    """Median line, 50% band and (if `wide`) 90% band of a `band_table` slice over months."""
    x = frame["step"].to_numpy()
    if wide:
        ax.fill_between(x, frame["q05"], frame["q95"], color=colour, alpha=0.13, lw=0)
    ax.fill_between(x, frame["q25"], frame["q75"], color=colour, alpha=0.3, lw=0)
    ax.plot(x, frame["median"], color=colour, ls=linestyle, label=label)


def _while_half_remain(part: pd.DataFrame, n: int) -> pd.DataFrame:
    """A band table's months with at least half of `n` replicates (NaN after: the line
    ends). A median over the few partnerships left after dissolutions stands for them
    alone, not for the `n` replicates the legend names."""
    return part.where(2 * part["replicates"] >= n).assign(step=part["step"])


def _wrapped(title: str, width: float) -> str:
    """`title` broken into lines that fit a figure `width` inches wide (7-8 pt text)."""
    return textwrap.fill(title, max(30, int(width * 15)))


def replicates_text(n: int) -> str:
    """'1 replicate', '20 replicates' (a no-break space: never wrapped apart)."""
    return f"{n}\u00a0replicate{'' if n == 1 else 's'}"


def _n_text(replicates: pd.Series) -> str:
    """'n = 20', or 'n = 19–20' when the count varies over months."""
    lo, hi = int(replicates.min()), int(replicates.max())
    return f"n = {lo}" if lo == hi else f"n = {lo}–{hi}"


def _kind_legend(fig: Figure, kinds: Sequence[str], exited: bool = False,
                 marker: str = "o") -> None:
    """Legend of the kinds present (and of members who left): circles for the network,
    squares for the matrix cells."""
    handles = [Line2D([], [], marker=marker, ls="", color=KIND_COLOURS[k],
                      markeredgecolor="#444444", markeredgewidth=0.3, label=KIND_LABELS[k])
               for k in kinds]
    if exited:
        handles.append(Line2D([], [], marker=marker, ls="", color=EXITED_COLOUR,
                              markeredgecolor="#444444", markeredgewidth=0.3,
                              label="Left the partnership"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))


def _kind_order(kinds: Sequence[str]) -> list[str]:
    present = set(kinds)
    return [k for k in KIND_NAMES if k in present]


def _table_of(name: str, frame: Any, columns: Iterable[str], table: str) -> pd.DataFrame:
    """`frame` when it is a DataFrame with rows and `columns`; a FigureInputError naming
    `name`, what is missing and the table it should be (`table`) otherwise, not pandas'
    KeyError from inside (a notebook passing `run.timeseries` where `run.organisations`
    goes)."""
    if not isinstance(frame, pd.DataFrame):
        raise FigureInputError(f"{name} = {shown(frame)} is not a DataFrame; allowed: {table}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FigureInputError(f"{name} has no column {missing[0]!r}; allowed: {table}")
    if frame.empty:
        raise FigureInputError(f"{name} has no rows; allowed: {table}")
    return frame


# ----------------------------------------------------------------------- trajectories
def trajectory_table(timeseries: pd.DataFrame, summary: pd.DataFrame,
                     variables: Sequence[str] = tuple(TRAJECTORY_VARIABLES)) -> pd.DataFrame:
    """Median and 50%/90% bands across replicates of each variable per month, by final regime.

    Columns: final_regime, variable, step, replicates, mean, q05, q25, median, q75, q95.
    The two feedback loops of THEORY §1 make synergy runs show the
    inertia-then-synergy shape: output near zero for the first months, then a
    rise once trust and faith pass the threshold (C40, C43, C28).

    A month in which a replicate has fewer than `MIN_MEMBERS` members left is
    left out of its `MEMBER_MEANS` (the 0 recorded there is a mean over nobody,
    not collapsed trust), so `replicates` counts the replicates still a
    partnership that month and a variable's rows end when none is.
    """
    _table_of("timeseries", timeseries, ["replicate", "step", *variables],
              "a run's time series (timeseries.parquet, run.timeseries)")
    _table_of("summary", summary, ["replicate", "regime"],
              "a run's summary (summary.parquet, run.summary)")
    regime = summary.set_index("replicate")["regime"]
    ids = ["replicate", "step", *(["active_members"] if "active_members" in timeseries else [])]
    long = timeseries.melt(id_vars=ids, value_vars=list(variables), var_name="variable")
    if "active_members" in long:
        long = long[~(long["variable"].isin(MEMBER_MEANS)
                      & (long["active_members"] < MIN_MEMBERS))]
    long["final_regime"] = long["replicate"].map(regime)
    table = band_table(long, ["final_regime", "variable", "step"], "value")
    table["final_regime"] = pd.Categorical(table["final_regime"], REGIME_ORDER, ordered=True)
    table["variable"] = pd.Categorical(table["variable"], list(variables), ordered=True)
    table = table.sort_values(["final_regime", "variable", "step"]).reset_index(drop=True)
    table["final_regime"] = table["final_regime"].astype(str)
    table["variable"] = table["variable"].astype(str)
    return table


def timeline_events(scenario: Scenario, steps: int | None = None) -> list[tuple[int, str]]:
    """(month, what it sets) of each of the scenario's timeline events that happens within
    its months (or `steps` months, for a run longer or shorter than the scenario's), in
    words (``(24, "regime mandated")``), to mark on a time axis."""
    last = scenario.steps if steps is None else steps

    def word(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return [(month, ", ".join(f"{key} {word(value)}"
                              for key, value in timeline_words(changes).items()))
            for month, changes in scenario.timeline if month <= last]


def _mark_events(ax, events: Sequence[tuple[int, str]]) -> None:
    for month, _ in events:
        ax.axvline(month, color=EVENT_COLOUR, lw=0.6, ls=":", zorder=0.5)


def _events_text(events: Sequence[tuple[int, str]], width: float) -> str:
    """The legend's lines for the dotted event lines, to add to its title ('' without
    events), fitted to a figure `width` inches wide."""
    if not events:
        return ""
    text = ("Dotted lines: timeline events ("
            + "; ".join(f"month {m}: {what}" for m, what in events) + ")")
    return "\n" + _wrapped(text, width)


@themed
def plot_trajectories(table: pd.DataFrame, title: str | None = None,
                      events: Sequence[tuple[int, str]] = ()) -> Figure:
    """Trust, faith, behaviour and output over months: median and 50%/90% bands by final
    regime; `events` (`timeline_events`) are drawn as dotted lines at their months."""
    variables = list(dict.fromkeys(table["variable"]))
    ncols = 2 if len(variables) > 1 else 1
    nrows = -(-len(variables) // ncols)
    fig = new_figure(DOUBLE_COLUMN if ncols > 1 else SINGLE_COLUMN, 1.9 * nrows + 0.5)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, squeeze=False)).ravel()
    for ax, variable in zip(axes, variables, strict=False):
        panel_title, ylabel = TRAJECTORY_VARIABLES.get(variable, (variable, variable))
        for regime in REGIME_ORDER:
            part = table[(table["variable"] == variable) & (table["final_regime"] == regime)]
            if len(part):
                n = int(table.loc[table["final_regime"] == regime, "replicates"].max())
                part = _while_half_remain(part, n)
                _draw_bands(ax, part, REGIME_COLOURS[regime], f"{REGIME_LABELS[regime]} (n = {n})")
        _mark_events(ax, events)
        ax.set_title(panel_title)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
    for ax in axes[len(variables):]:
        ax.set_visible(False)
    for ax in axes[max(0, len(variables) - ncols):len(variables)]:
        ax.set_xlabel(MONTH_LABEL)
    handles, labels = axes[0].get_legend_handles_labels()
    legend = ("Final regime (line: median; bands: 50% and 90% of replicates)"
              if table["replicates"].max() > 1 else "Final regime (one replicate: no bands)")
    if _members_dropped(table):
        legend += (f"\nMeans over members: a replicate with fewer than {MIN_MEMBERS} members "
                   "left (dissolved) drops out; a line ends when under half remain")
    legend += _events_text(events, fig.get_figwidth())
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), title=legend)
    if title:
        fig.suptitle(_wrapped(title, fig.get_figwidth()), x=0.01, ha="left", fontsize=8)
    return fig


def _members_dropped(table: pd.DataFrame) -> bool:
    """Whether a `trajectory_table` left out replicates in some months (dissolved
    partnerships): fewer replicates, or fewer months, than its regime has elsewhere."""
    most = table.groupby("final_regime")["replicates"].transform("max")
    months = table.groupby(["final_regime", "variable"])["step"].transform("size")
    return bool((table["replicates"] < most).any()
                or (months < table["step"].nunique()).any())


# ---------------------------------------------------------------------- regime shares
def regime_share_table(summaries: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Share of runs in each regime with 95% Wilson intervals, for each named scenario.

    Columns: scenario, regime, runs, count, share, ci_low, ci_high. Shares of
    one scenario sum to 1 (THEORY §4: synergy, inertia, dissolution).

    Raises:
        FigureInputError: `summaries` is not a non-empty mapping (one summary table
            goes in as ``{"name": summary}``), or a table has no `regime` column.
    """
    if not isinstance(summaries, Mapping):
        raise FigureInputError(f"summaries = {shown(summaries)} is not a mapping of scenario "
                               "names to summary tables; give one as {'name': summary}, or "
                               "the dict run_scenarios or run_summaries returns")
    if not summaries:
        raise FigureInputError("summaries is empty: give at least one summary table, as "
                               "{'name': summary}")
    for name, summary in summaries.items():
        if not isinstance(summary, pd.DataFrame) or "regime" not in summary:
            raise FigureInputError(f"summaries[{name!r}] has no column 'regime'; allowed: a "
                                   "summary table (summary.parquet, run_scenarios)")
    parts = []
    for name, summary in summaries.items():
        part = regime_table(summary)
        part.insert(0, "runs", len(summary))
        part.insert(0, "scenario", name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[
        ["scenario", "regime", "runs", "count", "share", "ci_low", "ci_high"]]


@themed
def plot_regime_shares(table: pd.DataFrame, title: str | None = None,
                       axis_label: str = "Scenario") -> Figure:
    """Regime shares per scenario (or sweep point), with 95% Wilson intervals.

    One row per scenario, labelled horizontally so long labels stay readable;
    in each row one bar per regime, a dot of the regime's colour at its share
    and a whisker spanning its interval, drawn for every regime, also at a
    share of 0 or 1 (0 of 3 runs: [0, 0.56]).
    """
    scenarios = list(dict.fromkeys(table["scenario"]))
    pivot = table.pivot(index="scenario", columns="regime").reindex(scenarios)
    runs = pivot[("runs", REGIME_ORDER[0])].to_numpy(int)
    def wrapped(width: int) -> list[str]:  # never "(n =" / "10)": non-breaking spaces
        return [textwrap.fill(f"{s} (n\u00a0=\u00a0{n})", width)
                for s, n in zip(scenarios, runs, strict=True)]

    # single column, labels wrapped at 24 characters (a scenario name of any length); double
    # only for labels of more than three lines there (sweep points naming several keys)
    labels = wrapped(24)
    wide = max(label.count("\n") + 1 for label in labels) > 3
    if wide:
        labels = wrapped(40)
    row = max(0.2, 0.1 * max(label.count("\n") + 1 for label in labels) + 0.04)
    # at least 0.6 in of rows: the axis label, turned upright, is taller than one row
    fig = new_figure(DOUBLE_COLUMN if wide else SINGLE_COLUMN,
                     1.1 + max(0.6, row * len(scenarios)))
    ax = fig.subplots()
    y = np.arange(len(scenarios))
    for k, regime in enumerate(REGIME_ORDER):
        share = pivot[("share", regime)].to_numpy(float)
        at = y + (k - 1) * 0.27
        ax.barh(at, share, 0.25, color=REGIME_COLOURS[regime], label=REGIME_LABELS[regime])
        # Wilson bounds of a share of 0 or 1 can miss it by a rounding (1 - 1e-16 for 6 of
        # 6 runs), which errorbar refuses as a negative length
        low = np.maximum(share - pivot[("ci_low", regime)].to_numpy(float), 0)
        high = np.maximum(pivot[("ci_high", regime)].to_numpy(float) - share, 0)
        ax.errorbar(share, at, xerr=[low, high],
                    fmt="o", ms=2.5, mfc=REGIME_COLOURS[regime], mec="black", mew=0.4,
                    ecolor="black", elinewidth=0.6, capsize=1.5, clip_on=False)
    ax.set_yticks(y, labels)
    ax.set_ylim(len(scenarios) - 0.5, -0.5)  # first scenario on top
    ax.set_xlim(0, 1)
    ax.set_xlabel("Share of replicates (0–1)")
    ax.set_ylabel(axis_label)
    fig.legend(loc="outside lower center", ncols=3, title="Regime (whiskers: 95% Wilson intervals)")
    fig.suptitle(_wrapped(title or "Regime at the end of the run", fig.get_figwidth()), x=0.01,
                 ha="left", fontsize=8)
    return fig


def run_scenarios(names: str | os.PathLike | Iterable[str | os.PathLike], replicates: int = 20,
                  seed: int = 0, steps: int | None = None) -> dict[str, pd.DataFrame]:
    """Run bundled (or TOML) scenarios with the batch kernel; summary table of each.

    `names` is a list of scenario names or paths, or one name or path (a str or an
    `os.PathLike`); `replicates` a whole number >= 1 and `seed` one in [0, 2^63 - 1]
    (ScenarioError otherwise, for more replicates than fit in memory, and for two
    scenarios of one name, since the result is keyed by name). A helper
    for `regime_share_table` in notebooks:
    ``plot_regime_shares(regime_share_table(run_scenarios(["ics_mandated", ...])))``.
    """
    from model.batch import run_arrays, summary_frame
    from model.resources import check_run_memory
    from model.rng import replicate_seeds
    from model.scenario import load_scenario

    out = {}
    seed = whole_number("seed", seed, 0, MAX_SEED)
    replicates = whole_number("replicates", replicates, 1)
    if isinstance(names, str | os.PathLike):
        names = [names]
    elif not isinstance(names, Iterable):
        raise ScenarioError(f"names = {shown(names)} is not a scenario name or a list of "
                            "them; allowed: a bundled name, a path to a TOML file, or a list "
                            "of those")
    scenarios = [load_scenario(name, steps=steps) for name in names]
    seen = set()
    for scenario in scenarios:  # keys of the result: one would silently replace another
        if scenario.name in seen:
            raise ScenarioError(f"names: two scenarios are named {scenario.name!r}; give "
                                "each once, or a dict with another name for one of them")
        seen.add(scenario.name)
    for scenario in scenarios:
        check_run_memory(replicates, scenario.steps, scenario.n_organisations, name="replicates")
    seeds = replicate_seeds(seed, replicates)
    for scenario in scenarios:
        metrics, _, _ = run_arrays(scenario, seeds)
        out[scenario.name] = summary_frame(scenario, metrics, seeds)
    return out


# ---------------------------------------------------------------- trust (re-simulated)
def _scenario(scenario: ScenarioLike) -> Scenario:
    """`scenario` as a `Scenario`: a bundled name, a TOML path or a dict (as
    `load_scenario` takes), or a `Scenario` as it is; ScenarioError otherwise."""
    from model.scenario import load_scenario

    return load_scenario(scenario)


def _listed(name: str, values: Any, allowed: str) -> list:
    """`values` (a list, tuple, array, pandas Series or other iterable) as a list; one
    value, a string or None is refused (FigureInputError naming `name` and `allowed`)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise FigureInputError(f"{name} = {shown(values)} is not a list of {name}; "
                               f"allowed: {allowed}")
    return list(values)


def trust_snapshots(scenario: ScenarioLike, seed: int, months: Iterable[int]
                    ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Re-simulate one replicate and keep (month, trust matrix, active, size) at `months`.

    `trust[i, j]` is i's trust in j (THEORY §2). Uses `ICSModel`, which is
    bit-identical to the batch kernel for the same seed. `scenario` is a `Scenario` or
    anything `load_scenario` takes (a bundled name, a TOML path, a dict); `seed` a whole
    number in [0, 2^63 - 1] (a Python or numpy integer); `months` a list, array or
    Series of whole numbers from 0 to the scenario's steps.

    Raises:
        ScenarioError: a bad scenario or seed.
        FigureInputError: `months` is not a list, is empty, or has a month that is not a
            whole number from 0 to the scenario's steps.
    """
    from model.ics_model import ICSModel

    scenario = _scenario(scenario)
    seed = whole_number("seed", seed, 0, MAX_SEED)  # None would draw a fresh seed
    months = _listed("months", months, f"a list of whole numbers in [0, {scenario.steps}], "
                                       "e.g. [0, 12]")
    try:
        wanted = sorted({whole_number("months", m, 0, scenario.steps) for m in months})
    except ScenarioError as exc:
        raise FigureInputError(f"{exc} (the months of the run)") from None
    if not wanted:
        raise FigureInputError(f"months is empty; allowed: months 0 to {scenario.steps}")
    model = ICSModel(scenario, seed=seed, network=False)
    out = []
    for month in range(wanted[-1] + 1):
        if month:
            model.step()
        if month in wanted:
            st = model.state
            out.append((month, st.pair[S.TRUST].copy(), st.org[S.ACTIVE] == 1.0,
                        st.org[S.SIZE].copy()))
    return out


def default_months(steps: int) -> list[int]:
    """Months shown in the trust network and matrix: start, thirds and end of the run."""
    return sorted({0, round(steps / 3), round(2 * steps / 3), steps})


def trust_pairs_table(scenario: ScenarioLike, seed: int, months: Iterable[int],
                      replicate: int | None = None) -> pd.DataFrame:
    """Directed trust between every pair of organisations at `months` of one replicate.

    Columns: replicate, seed, month, org, name, kind, size, active, partner,
    partner_name, partner_kind, partner_size, partner_active, trust (org's
    trust in partner, 0-1). Arguments and errors as `trust_snapshots`; `replicate`
    only labels the rows.
    """
    scenario = _scenario(scenario)
    seed = whole_number("seed", seed, 0, MAX_SEED)
    names = np.array(scenario.roster.names, dtype=object)
    kinds = np.array([KIND_NAMES[k] for k in scenario.roster.kinds], dtype=object)
    n = len(names)
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    parts = []
    for month, trust, active, size in trust_snapshots(scenario, seed, months):
        parts.append(pd.DataFrame({
            "replicate": replicate, "seed": int(seed), "month": month,
            "org": i, "name": names[i], "kind": kinds[i], "size": size[i], "active": active[i],
            "partner": j, "partner_name": names[j], "partner_kind": kinds[j],
            "partner_size": size[j], "partner_active": active[j], "trust": trust[i, j],
        }))
    return pd.concat(parts, ignore_index=True)


def _organisation_order(pairs: pd.DataFrame) -> pd.DataFrame:
    """Organisations (org, name, kind, size at the first month) ordered by kind, then size."""
    orgs = pairs.drop_duplicates(["month", "org"])[["month", "org", "name", "kind", "size",
                                                     "active"]]
    first = orgs[orgs["month"] == orgs["month"].min()].copy()
    first["kind_rank"] = first["kind"].map(KIND_INDEX)
    first = first.sort_values(["kind_rank", "size"], ascending=[True, False])
    return first[["org", "name", "kind", "size"]].reset_index(drop=True)


def _months_title(pairs: pd.DataFrame) -> str:
    rep, seed = pairs["replicate"].iloc[0], pairs["seed"].iloc[0]
    which = f"replicate {rep}" if pd.notna(rep) else "one replicate"
    return f"{which} (seed {seed})"


@themed
def plot_trust_network(pairs: pd.DataFrame, title: str | None = None) -> Figure:
    """The partnership as a trust network at each month of a `trust_pairs_table`.

    Organisations sit on a circle grouped by kind (colour) and ordered by size
    (marker area grows with the square root of headcount); each edge is the
    mutual trust of a pair, (T_ij + T_ji) / 2, coloured as in the trust matrix and
    more opaque and thicker when higher. In partnerships of at most
    `SMALL_PARTNERSHIP` organisations every edge is opaque (its colour and width
    show its trust) and each organisation is named.
    Members who left are grey and lose their edges (C20, C36).
    """
    import matplotlib as mpl

    order = _organisation_order(pairs)
    n = len(order)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    pos = np.zeros((int(order["org"].max()) + 1, 2))
    pos[order["org"].to_numpy()] = np.column_stack([np.cos(angle), np.sin(angle)])
    months = sorted(pairs["month"].unique())
    small = n <= SMALL_PARTNERSHIP
    fig = new_figure(DOUBLE_COLUMN, DOUBLE_COLUMN / len(months) + 0.9)
    axes = np.atleast_1d(fig.subplots(1, len(months), squeeze=False)).ravel()
    cmap, norm = TRUST_MAP, mpl.colors.Normalize(0, 1)
    area = 4 + 70 * np.sqrt(order["size"].to_numpy() / order["size"].max())
    exited = False
    for ax, month in zip(axes, months, strict=True):
        part = pairs[pairs["month"] == month]
        keep = part[(part["org"] < part["partner"]) & part["active"] & part["partner_active"]]
        back = part.set_index(["org", "partner"])["trust"]
        mutual = 0.5 * (keep["trust"].to_numpy()
                        + back.loc[list(zip(keep["partner"], keep["org"], strict=True))].to_numpy())
        rank = np.argsort(mutual)
        segments = np.stack([pos[keep["org"].to_numpy()], pos[keep["partner"].to_numpy()]], 1)
        colours = cmap(norm(mutual[rank]))
        if small:  # a few edges: each solid, its colour and width alone show its trust
            widths = 1.0 + 2.0 * mutual[rank]
        else:  # hundreds of edges: faint when low, solid when high, so the strong ones show
            colours[:, 3] = 0.04 + 0.9 * mutual[rank] ** 3
            widths = 0.2 + 1.3 * mutual[rank] ** 3
        ax.add_collection(LineCollection(segments[rank], colors=colours, linewidths=widths,
                                         zorder=1))
        active = part.drop_duplicates("org").set_index("org")["active"]
        colours = [KIND_COLOURS[k] if active[o] else EXITED_COLOUR
                   for o, k in zip(order["org"], order["kind"], strict=True)]
        exited |= not active.all()
        xy = pos[order["org"].to_numpy()]
        ax.scatter(xy[:, 0], xy[:, 1], s=area, c=colours, edgecolors="#333333",
                   linewidths=0.3, zorder=2)
        if small:  # name each organisation above (top one) or below its marker
            for (x, y), name in zip(xy, order["name"], strict=True):
                top = y > 0.99
                ax.text(x, y + (0.2 if top else -0.2), textwrap.fill(
                    str(name).replace("_", " "), 10), ha="center", va="bottom" if top else "top",
                    fontsize=MIN_TEXT_PT, linespacing=1.0, zorder=3,
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                          "alpha": 0.8})
        ax.set_title(f"Month {month}")
        reach = 1.5 if small else 1.15
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.set_axis_off()
    fig.colorbar(mpl.cm.ScalarMappable(norm, cmap), ax=axes.tolist(), shrink=0.7,
                 label="Mutual trust of a pair (0–1)")
    _kind_legend(fig, _kind_order(order["kind"]), exited)
    fig.suptitle(_wrapped(title or f"Trust network, {_months_title(pairs)}", DOUBLE_COLUMN),
                 x=0.01, ha="left", fontsize=8)
    return fig


@themed
def plot_trust_matrix(pairs: pd.DataFrame, title: str | None = None) -> Figure:
    """Heatmaps of directed trust T_ij (row i's trust in column j) ordered by kind, then size.

    The coloured strips mark each organisation's kind; rows and columns of
    members who left are grey (``EXITED_COLOUR``, in the legend), the diagonal
    is blank. In partnerships of at most `SMALL_PARTNERSHIP` organisations each
    cell also prints its trust value, and the rows (first panel) and columns are
    named, as in the trust network.
    """
    import matplotlib as mpl

    order = _organisation_order(pairs)
    n = len(order)
    rank = pd.Series(np.arange(n), index=order["org"])
    months = sorted(pairs["month"].unique())
    small = n <= SMALL_PARTNERSHIP
    # a small partnership prints values and names at a readable size (>= MIN_TEXT_PT):
    # its panels go two a row, so each cell is wide enough for them
    ncols = min(len(months), 2 if small else len(months))
    nrows = -(-len(months) // ncols)
    fig = new_figure(DOUBLE_COLUMN, nrows * (DOUBLE_COLUMN / ncols * (0.7 if small else 1))
                     + 1.0)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[len(months):]:
        ax.set_visible(False)
    axes = axes[:len(months)]
    strip = 0.045 * n  # kind strips: the same share of the panel whatever the size
    kind_colours = [mpl.colors.to_rgb(KIND_COLOURS[k]) for k in order["kind"]]
    gone_colour = (*mpl.colors.to_rgb(EXITED_COLOUR), 1.0)
    names = [textwrap.fill(str(name).replace("_", " "), 10) for name in order["name"]]
    image, exited = None, False
    for ax, month in zip(axes, months, strict=True):
        part = pairs[pairs["month"] == month]
        matrix = np.full((n, n), np.nan)
        live = part[part["active"] & part["partner_active"]]
        matrix[rank[live["org"]].to_numpy(), rank[live["partner"]].to_numpy()] = live["trust"]
        image = ax.imshow(matrix, cmap=TRUST_MAP, vmin=0, vmax=1, interpolation="nearest")
        active = part.drop_duplicates("org").set_index("org")["active"].reindex(order["org"])
        gone = ~active.to_numpy(bool)
        if gone.any():  # rows and columns of members who left: grey, not blank like low trust
            exited = True
            mask = (gone[:, None] | gone[None, :]) & ~np.eye(n, dtype=bool)
            overlay = np.zeros((n, n, 4))
            overlay[mask] = gone_colour
            ax.imshow(overlay, interpolation="nearest")
        if small:  # few cells: print each trust value in its cell
            for (r, c), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    ax.text(c, r, f"{value:.2f}", ha="center", va="center",
                            fontsize=MIN_TEXT_PT,
                            color="white" if value > 0.55 else "black")
        for k, colour in enumerate(kind_colours):
            ax.add_patch(Rectangle((-0.5 - 1.2 * strip, k - 0.5), strip, 1, color=colour, lw=0))
            ax.add_patch(Rectangle((k - 0.5, -0.5 - 1.2 * strip), 1, strip, color=colour, lw=0))
        ax.set_xlim(-0.5 - 1.3 * strip, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5 - 1.3 * strip)
        ax.set_xticks([])
        ax.set_yticks([])
        if small:  # printed values need their organisations' names
            ax.set_xticks(range(n), names, rotation=90, fontsize=MIN_TEXT_PT, linespacing=1.0)
            if ax in axes[::ncols]:
                ax.set_yticks(range(n), names, fontsize=MIN_TEXT_PT, linespacing=1.0)
            ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(f"Month {month}")
        ax.set_xlabel("Trusted organisation")
    for ax in axes[::ncols]:
        ax.set_ylabel("Trusting organisation")
    fig.colorbar(image, ax=axes.tolist(), shrink=0.7, label="Trust of row in column (0–1)")
    _kind_legend(fig, _kind_order(order["kind"]), exited, marker="s")
    fig.suptitle(_wrapped(title or f"Trust matrix by kind, {_months_title(pairs)}",
                          DOUBLE_COLUMN), x=0.01, ha="left", fontsize=8)
    return fig


# ------------------------------------------------------------------------- maturity
def maturity_table(organisations: pd.DataFrame) -> pd.DataFrame:
    """Share of organisations at each maturity level per month, by kind and for all.

    Maturity is M23's adaptation of Westrum's typology (THEORY §4):
    pathological, bureaucratic, generative from the mean of an organisation's
    trust in its partners and its faith (`model.regimes.maturity`); members who
    left are counted as ``exited``. Counts are pooled over replicates. Columns:
    kind (``all`` for every organisation), kind_label, step, level,
    organisations, share; the shares of one kind and month sum to 1.
    """
    _table_of("organisations", organisations, ["kind", "step", "active", "maturity"],
              "a run's organisations (organisations.parquet of --agents, run.organisations)")
    levels = list(MATURITY_LABELS)
    frame = organisations.assign(
        level=np.where(organisations["active"], organisations["maturity"], "exited"))
    parts = [frame.assign(kind="all"), frame]
    counts = (pd.concat(parts, ignore_index=True).groupby(["kind", "step", "level"]).size()
              .unstack(fill_value=0).reindex(columns=levels, fill_value=0).stack()
              .rename("organisations").reset_index())
    total = counts.groupby(["kind", "step"])["organisations"].transform("sum")
    counts["share"] = counts["organisations"] / total
    kinds = ["all", *_kind_order(frame["kind"].unique())]
    counts["kind"] = pd.Categorical(counts["kind"], kinds, ordered=True)
    counts["level"] = pd.Categorical(counts["level"], levels, ordered=True)
    counts = counts.sort_values(["kind", "step", "level"]).reset_index(drop=True)
    counts["kind"] = counts["kind"].astype(str)
    counts["level"] = counts["level"].astype(str)
    counts.insert(1, "kind_label", counts["kind"].map({**KIND_LABELS, "all": "All organisations"}))
    return counts


@themed
def plot_maturity(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Stacked shares of pathological, bureaucratic and generative organisations over months,
    one panel for all and one per kind (M23's adaptation of Westrum); a single panel when
    every organisation is of one kind (it would repeat the first)."""
    kinds = list(dict.fromkeys(table["kind"]))
    labels = table.drop_duplicates("kind").set_index("kind")["kind_label"].to_dict()
    if len(kinds) == 2 and "all" in kinds:  # one kind: its panel would repeat "all"
        only = next(k for k in kinds if k != "all")
        kinds, labels = ["all"], {"all": f"All organisations ({labels[only]})"}
    ncols = min(3, len(kinds))
    nrows = -(-len(kinds) // ncols)
    fig = new_figure(DOUBLE_COLUMN if ncols > 1 else SINGLE_COLUMN, 1.55 * nrows + 0.9)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
    levels = [lv for lv in MATURITY_LABELS
              if lv != "exited" or table.loc[table["level"] == "exited", "share"].gt(0).any()]
    colours = {**MATURITY_COLOURS, "exited": EXITED_COLOUR}
    for ax, kind in zip(axes.ravel(), kinds, strict=False):
        part = table[table["kind"] == kind].pivot(index="step", columns="level", values="share")
        ax.stackplot(part.index, *[part[lv] for lv in levels],
                     colors=[colours[lv] for lv in levels], lw=0)
        ax.set_title(labels[kind])
        ax.set_ylim(0, 1)
        ax.set_xlim(part.index.min(), part.index.max())
    for ax in axes.ravel()[len(kinds):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Share of organisations")
    for ax in axes[-1, :]:
        ax.set_xlabel(MONTH_LABEL)
    handles = [Patch(color=colours[lv], label=MATURITY_LABELS[lv]) for lv in levels]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               title="Maturity (M23's adaptation of Westrum)")
    if title:
        fig.suptitle(_wrapped(title, fig.get_figwidth()), x=0.01, ha="left", fontsize=8)
    return fig


# ------------------------------------------------------------------------- conflict
def conflict_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Conflicts raised and resolved per month: mean and quantiles across replicates.

    Conflicts arise from communication across cultural distance, power gaps,
    unshared vision and stalled progress (C16, C30, C33); a share is resolved
    constructively, set by conflict resolution and accountability (C32).
    Columns: measure (raised | resolved), step, replicates, mean, q05, q25,
    median, q75, q95 (conflicts per month), then sd and ci_low, ci_high: the
    95% Student-t interval of the mean (NaN with one replicate), cut at 0, below
    which a mean of counts cannot lie (rare conflicts spread the t interval past it).
    """
    _table_of("timeseries", timeseries, ["replicate", "step", "conflicts", "conflicts_resolved"],
              "a run's time series (timeseries.parquet, run.timeseries)")
    long = timeseries.rename(columns={"conflicts": "raised", "conflicts_resolved": "resolved"})
    long = long.melt(id_vars=["replicate", "step"], value_vars=["raised", "resolved"],
                     var_name="measure")
    table = band_table(long, ["measure", "step"], "value")
    table["sd"] = long.groupby(["measure", "step"], sort=True)["value"].std().to_numpy()
    n = table["replicates"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = student_t.ppf(0.975, n - 1) * table["sd"].to_numpy() / np.sqrt(n)
    table["ci_low"] = np.maximum(table["mean"] - half, 0.0)  # NaN stays NaN
    table["ci_high"] = table["mean"] + half
    return table


@themed
def plot_conflicts(table: pd.DataFrame, title: str | None = None,
                   events: Sequence[tuple[int, str]] = ()) -> Figure:
    """Mean conflicts raised and resolved per month, with the 95% interval of the mean;
    `events` (`timeline_events`) are drawn as dotted lines at their months.

    Counts per month are small whole numbers, so the mean (the expected number of
    conflicts) is the line; its band is the interval of that mean, which contains
    the line by construction (a quantile band of counts need not).
    """
    fig = new_figure(SINGLE_COLUMN, 2.7)
    ax = fig.subplots()
    style = {"raised": ("Raised", OKABE_ITO["vermillion"], "-"),
             "resolved": ("Resolved", OKABE_ITO["bluish_green"], "--")}
    for measure, (label, colour, ls) in style.items():
        part = table[table["measure"] == measure]
        ax.fill_between(part["step"], part["ci_low"], part["ci_high"], color=colour, alpha=0.2,
                        lw=0)
        ax.plot(part["step"], part["mean"], color=colour, ls=ls, label=label)
    _mark_events(ax, events)
    ax.set_xlabel(MONTH_LABEL)
    ax.set_ylabel("Conflicts per month (count)")
    ax.set_ylim(bottom=0)
    n = int(table["replicates"].max()) if len(table) else 0
    fig.legend(loc="outside lower center", ncols=2,
               title=(f"Conflicts (line: mean of {n} replicates; band: its 95% CI)"
                      if n > 1 else "Conflicts (one replicate: no band)")
               + _events_text(events, SINGLE_COLUMN))
    ax.set_title(_wrapped(title or "Conflicts raised and resolved", SINGLE_COLUMN))
    return fig


# --------------------------------------------------------------------------- power
def power_trust_table(scenario: ScenarioLike, seeds: Iterable[int],
                      size_ratio: float = SIZE_RATIO) -> pd.DataFrame:
    """Trust of smaller organisations in larger ones vs among peers, over months (C17).

    For a directed pair (i, j) with staff s_i and s_j: *smaller in larger* when
    s_j >= size_ratio * s_i (i is the weaker partner: a PCN or VCSE
    organisation trusting an acute trust, the struggling trust in a buddying
    pair), *larger in smaller* when s_i >= size_ratio * s_j, and *peers*
    otherwise. Power follows size (power = size^gamma, C17), and the power gap
    erodes the weaker partner's trust, more under mandate and less with
    autonomy (C17, C19); C17 predicts smaller-in-larger below peers. For each
    replicate (re-simulated with `ICSModel`) and month, the mean trust T_ij over
    the pairs of members in each relation. Columns: relation, size_ratio, step,
    replicates, mean, q05, q25, median, q75, q95 (across replicates);
    relations with no pairs are absent. `scenario` is a `Scenario` or anything
    `load_scenario` takes; `seeds` a list, array or Series of whole numbers in
    [0, 2^63 - 1] (a summary's `seed` column); `size_ratio` a number > 1.

    Raises:
        ScenarioError: a bad scenario or seed.
        FigureInputError: `seeds` is not a list or is empty; `size_ratio` is not a
            number > 1.
    """
    scenario = _scenario(scenario)
    seeds = _listed("seeds", seeds, "a list, array or Series of whole numbers in "
                                    "[0, 2^63 - 1], e.g. a summary's seed column")
    if not seeds:
        raise FigureInputError("seeds is empty: give the seed of at least one replicate")
    seeds = [whole_number(f"seeds[{i}]", seed, 0, MAX_SEED) for i, seed in enumerate(seeds)]
    if (isinstance(size_ratio, bool | np.bool_) or not isinstance(size_ratio, numbers.Real)
            or not 1 < size_ratio < math.inf):
        # at 1 or below a pair would be both smaller-in-larger and larger-in-smaller
        raise FigureInputError(f"size_ratio = {shown(size_ratio)} is not a staff ratio; "
                               "allowed: a number > 1 (default 2)")
    size_ratio = float(size_ratio)
    rows = []
    months = range(scenario.steps + 1)
    for replicate, seed in enumerate(seeds):
        for month, trust, active, size in trust_snapshots(scenario, seed, months):
            live = np.outer(active, active) & ~np.eye(len(size), dtype=bool)
            larger = size[None, :] >= size_ratio * size[:, None]  # j larger than i
            smaller = size[:, None] >= size_ratio * size[None, :]
            for relation, mask in (("smaller_in_larger", larger), ("peers", ~larger & ~smaller),
                                   ("larger_in_smaller", smaller)):
                if (mask & live).any():
                    rows.append((relation, replicate, month, trust[mask & live].mean()))
    frame = pd.DataFrame(rows, columns=["relation", "replicate", "step", "trust"])
    table = band_table(frame, ["relation", "step"], "trust")
    table["relation"] = pd.Categorical(table["relation"], list(POWER_RELATIONS), ordered=True)
    table = table.sort_values(["relation", "step"]).reset_index(drop=True)
    table["relation"] = table["relation"].astype(str)
    table.insert(1, "size_ratio", size_ratio)
    return table


@themed
def plot_power_trust(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Median trust (50% band) of smaller organisations in larger ones vs among peers (C17).

    Each relation's legend entry gives n, the replicates that have pairs in it
    (in `voluntary_alliance` a size gap of 2x occurs in 1 replicate of 20).
    """
    fig = new_figure(SINGLE_COLUMN, 3.0)
    ax = fig.subplots()
    for relation, (label, colour, ls) in POWER_RELATIONS.items():
        part = table[table["relation"] == relation]
        if len(part):  # n: replicates that have such pairs (a relation may be rare)
            _draw_bands(ax, _while_half_remain(part, int(part["replicates"].max())), colour,
                        f"{label} ({_n_text(part['replicates'])})", ls, wide=False)
    if len(table):  # every month of the run, also after the lines end
        ax.update_datalim([(table["step"].min(), 0), (table["step"].max(), 0)])
        ax.autoscale_view()
    ax.set_xlabel(MONTH_LABEL)
    ax.set_ylabel("Mean trust of truster in trusted (0–1)")
    ax.set_ylim(0, 1)
    ratio = table["size_ratio"].iloc[0] if len(table) else SIZE_RATIO
    bands = ("median and 50% band across the n replicates with such pairs"
             if len(table) and table["replicates"].max() > 1 else "one replicate: no band")
    most = table.groupby("relation")["replicates"].transform("max")
    if (2 * table["replicates"] < most).any():  # partnerships dissolved
        bands += ";\na line ends when under half of them have such pairs left"
    fig.legend(loc="outside lower center", ncols=1,
               title=f"Truster in trusted (larger: ≥ {ratio:g}× the staff)\n{bands}")
    ax.set_title(_wrapped(title or "Trust across the size gap (C17)", SINGLE_COLUMN))
    return fig
