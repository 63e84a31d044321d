"""The project's one figure theme: seaborn "ticks" at journal sizes, Okabe-Ito colours.

Every figure of `analysis.figures` is drawn inside `theme()`, so it looks the
same in a notebook, in `icsabm figures` and in the docs. Figures are plain
`matplotlib.figure.Figure` objects rendered by Agg (PNG) or the vector
backends: pyplot is never imported, so nothing opens a window, no global
backend is switched, and notebooks still show a returned figure. Notebooks that draw
their own figures can call `use_theme()` once. Colours come from
`analysis.palette` (a fixed colour per organisation kind, regime and maturity
level, shared with the browser UI); sizes from the journal column widths
below; text is 7 pt, and none is smaller than `MIN_TEXT_PT` (6.5 pt), readable when a
figure is printed at its width.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from functools import wraps
from pathlib import Path

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure

from agents.kinds import KINDS
from analysis.palette import OKABE_ITO

MM = 1 / 25.4
#: Journal single-column width (about 85 mm), in inches.
SINGLE_COLUMN = 85 * MM
#: Journal double-column width (about 175 mm), in inches.
DOUBLE_COLUMN = 175 * MM
#: The smallest text of any figure, in points at its printed width (tick labels; journals
#: ask for at least 6-7 pt).
MIN_TEXT_PT = 6.5
#: Resolution of raster output (PNG).
DPI = 300
#: File formats `save_figure` writes.
FORMATS = ("pdf", "png", "svg")
#: No creation date in vector files, so drawing a figure twice gives the same bytes
#: (`figures.json` records when figures were made).
_NO_DATE = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}

#: Plain-English names for figures.
KIND_LABELS = {k.name: k.label for k in KINDS}
REGIME_LABELS = {"synergy": "Synergy", "inertia": "Inertia", "dissolution": "Dissolution"}
MATURITY_LABELS = {"pathological": "Pathological", "bureaucratic": "Bureaucratic",
                   "generative": "Generative", "exited": "Left the partnership"}

_CYCLE = [OKABE_ITO[c] for c in ("blue", "orange", "bluish_green", "vermillion",
                                 "reddish_purple", "sky_blue", "yellow", "black")]


def theme_rc() -> dict:
    """Matplotlib settings of the theme (seaborn "ticks", "paper" context at 7 pt)."""
    rc: dict = {}
    rc.update(sns.axes_style("ticks"))
    rc.update(sns.plotting_context("paper", rc={
        "font.size": 7, "axes.labelsize": 7, "axes.titlesize": 7.5,
        "xtick.labelsize": 6.5, "ytick.labelsize": 6.5, "legend.fontsize": 6.5,
        "legend.title_fontsize": 7, "lines.linewidth": 1.1, "axes.linewidth": 0.6,
        "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
    }))
    rc.update({
        "axes.prop_cycle": cycler(color=_CYCLE),
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.titleweight": "normal", "axes.titlelocation": "left",
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
        "figure.dpi": 100, "savefig.dpi": DPI,
        "pdf.fonttype": 42, "ps.fonttype": 42,  # editable text in vector files
        "svg.fonttype": "none",
        "svg.hashsalt": "icsabm",  # fixed SVG element ids (random otherwise)
        "image.cmap": "cividis",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "sans-serif"],
    })
    return rc


def use_theme() -> None:
    """Set the theme globally (for notebooks drawing their own figures)."""
    mpl.rcParams.update(theme_rc())


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """The theme for the duration of a `with` block; global settings are restored after."""
    with mpl.rc_context(theme_rc()):
        yield


def themed(draw: Callable) -> Callable:
    """Decorator: draw a figure inside `theme()`."""

    @wraps(draw)
    def wrapper(*args, **kwargs):
        with theme():
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure `width` x `height` inches with constrained layout (call inside `theme()`)."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, table: pd.DataFrame, folder: Path, stem: str,
                formats: Sequence[str] = ("pdf", "png")) -> list[Path]:
    """Write `stem.<format>` for each format and the tidy table `stem.csv`.

    Vector formats keep text as text; PNG is written at `DPI` (300 dpi). No file
    carries a date or random ids: the same figure gives the same bytes.
    """
    folder = Path(folder)
    paths = []
    with theme():
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, dpi=DPI, metadata=_NO_DATE[fmt])
            paths.append(path)
    path = folder / f"{stem}.csv"
    table.to_csv(path, index=False)
    paths.append(path)
    return paths
