"""The students' browser app: Mesa's SolaraViz around `ICSModel`.

Start it with ``icsabm ui`` (or ``solara run model.ui --no-check-version``). The sidebar picks a
bundled scenario, the regime, the context levers THEORY.md names and the
number of organisations of the larger kinds; Mesa's Reset / Step / Play drive
the model. The main page shows the partnership network, the mean state of the
partners over time, the output of the collaboration, the regime so far and a
plain-English note on each lever with its CMOC ids.

Everything drawn here comes from the model's own arrays and DataCollector.
The views are SVG written directly (`network_svg`, `state_svg`,
`output_svg`): a frame costs milliseconds where matplotlib took about 0.1 s
a chart, and the functions return plain text that tests can read without a
browser. Publication figures are `analysis.figures`.
"""

from __future__ import annotations

import html
import math
import socket
import sys
import warnings
from dataclasses import dataclass

import markdown
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import reacton.ipywidgets as rw  # noqa: E402

# Mesa 3.3's own ComponentsView trips one of Solara's hook checks; harmless, and not ours.
warnings.filterwarnings("ignore", message=".*found despite early return", category=UserWarning)
# Solara warns, 15 lines on every page load, that it cannot set a samesite=none cookie
# over plain http (the cookie is then samesite=lax, all a page on this machine needs)
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https",
                        category=UserWarning)
import solara  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from agents.kinds import KINDS  # noqa: E402
from analysis.figures_run import timeline_events  # noqa: E402
from analysis.palette import (  # noqa: E402
    EVENT_COLOUR,
    EXITED_COLOUR,
    KIND_COLOURS,
    MATURITY_COLOURS,
    METRIC_COLOURS,
    REGIME_COLOURS,
)
from model import params as P  # noqa: E402
from model import state as S  # noqa: E402
from model.ics_model import ICSModel  # noqa: E402
from model.regimes import MATURITY, MIN_MEMBERS, maturity  # noqa: E402
from model.scenario import ScenarioError, bundled_scenarios, load_scenario  # noqa: E402

APP_NAME = "icsabm: collaboration in an Integrated Care System"
SCENARIO_REGIME = "as in scenario"
APPLY_SLIDERS = "Apply the sliders below"
REGIME_CHOICES = (SCENARIO_REGIME, "mandated", "voluntary")
DEFAULT_SCENARIO = "ics_mandated"
EDGE_LIMIT = 2000  # strongest ties drawn; a complete graph of 300 partners has 44,850
NAMED_LIMIT = 8  # partnerships this small get their members' names on the network view


@dataclass(frozen=True)
class Lever:
    """One context lever of the sidebar and its entry in the explanation panel."""

    key: str  # context key (`context.<key>`)
    label: str
    cmoc: str
    explanation: str
    maximum: float = 1.0
    step: float = 0.05


#: The main context levers of THEORY §2, in the order the sidebar shows them.
LEVERS: tuple[Lever, ...] = (
    Lever("formalisation", "Formalisation", "C11, C12",
          "A firmer agreement or contract makes partners more confident in each other and "
          "readier to take risks; past a point it feels like box-ticking and costs trust."),
    Lever("conflict_resolution", "Conflict resolution", "C32",
          "A working dispute mechanism settles more conflicts before they eat into trust, "
          "as long as leaders are held to account."),
    Lever("shared_vision", "Shared vision", "C16",
          "A clear, shared purpose means fewer conflicts over aims and a firmer belief that "
          "the collaboration is worth it."),
    Lever("quick_wins", "Quick wins", "C21",
          "Early, visible successes are real progress: they lift faith and, through success, "
          "trust (C41) while the long-term benefits are still to come."),
    Lever("funding", "Funding", "C08, C27",
          "Money and support for the joint work free capacity; a funding cut costs faith "
          "and trust."),
    Lever("history_of_competition", "History of competition", "C04",
          "Bad blood from years of competing for contracts lowers the trust partners "
          "start with."),
    Lever("stakeholder_involvement", "Stakeholder involvement", "C03",
          "Involving staff, patients and the public gives the partnership legitimacy, and "
          "so faith in it."),
    Lever("turbulence_rate", "Turbulence (shocks per month)", "C50",
          "Financial or operational shocks hit every partner's capacity at once and set "
          "the joint work back.", maximum=0.2, step=0.01),
)

#: Kinds with many members in an ICS, whose counts get a slider (THEORY §7).
COUNT_KINDS: tuple[tuple[str, int, int], ...] = (("pcn", 0, 40), ("vcse", 0, 40),
                                                   ("acute_trust", 1, 4))

#: What each regime means, after its name in the regime panel (short: the panel shares its
#: card with the network's key, and must fit a laptop screen).
REGIME_TEXT = {
    "inertia": "partners go through the motions; little gets done.",
    "synergy": "partners work together and the joint output is high.",
    "dissolution": "most partners have left the collaboration.",
}


def parse_seed(text: str | int) -> tuple[int, str | None]:
    """The seed typed in the sidebar, or 0 with a note when it is not a whole number."""
    try:
        seed = int(str(text).strip())
    except ValueError:
        return 0, f"seed {text!r} is not a whole number; using 0"
    if not 0 <= seed < 2**63:
        return 0, f"seed {text!r} is outside [0, 2^63); using 0"
    return seed, None


def lever_overrides(scenario: str, regime: str, use_levers: bool, levers: dict[str, float],
                    counts: dict[str, int]) -> dict[str, object]:
    """Scenario overrides from the sidebar's controls.

    The regime applies unless it is "as in scenario". The levers and the
    counts apply only when `use_levers` is set; counts never apply to a
    scenario with a roster file (its organisations are named one by one).
    """
    overrides: dict[str, object] = {}
    if regime != SCENARIO_REGIME:
        overrides["regime"] = regime
    if use_levers:
        overrides.update({f"context.{key}": float(value) for key, value in levers.items()})
        if load_scenario(scenario).roster.path is None:
            overrides.update({f"organisations.{kind}": int(n) for kind, n in counts.items()})
    return overrides


class ExploreModel(ICSModel):
    """`ICSModel` built from the app's controls (keyword arguments only, as
    SolaraViz's Reset requires). See `lever_overrides` for how they apply.

    Controls never make Reset fail: a seed that is not one becomes 0, and sliders
    the scenario cannot take (counts leaving fewer than two organisations) are not
    applied; `note` says which, for the regime panel, and that counts do not apply to
    a scenario with a roster."""

    def __init__(self, scenario: str = DEFAULT_SCENARIO, regime: str = SCENARIO_REGIME,
                 use_levers: bool = False, seed: str | int = "0", **kwargs: float) -> None:
        defaults = load_scenario(DEFAULT_SCENARIO)
        levers = {lv.key: kwargs.pop(lv.key, defaults.context[f"context.{lv.key}"])
                  for lv in LEVERS}
        counts = {kind: kwargs.pop(kind, defaults.roster.counts[kind])
                  for kind, _, _ in COUNT_KINDS}
        if kwargs:  # named `kwargs` because Mesa's ModelCreator checks for that name
            raise TypeError(f"unknown control(s): {', '.join(sorted(kwargs))}")
        seed_value, seed_note = parse_seed(seed)
        notes = [seed_note] if seed_note else []
        self.sliders_refused = False  # ticked, but the scenario cannot take them
        try:
            built = load_scenario(scenario, overrides=lever_overrides(
                scenario, regime, use_levers, levers, counts))
        except ScenarioError as exc:  # e.g. counts that leave fewer than two organisations
            notes.append(f"the sliders were not applied ({exc}); the scenario runs with its "
                         "own values")
            use_levers, self.sliders_refused = False, True
            built = load_scenario(scenario, overrides=lever_overrides(
                scenario, regime, False, levers, counts))
        if use_levers and built.roster.path is not None:
            notes.append("the organisation counts do not apply: this scenario names its "
                         "organisations one by one (a roster)")
        self.note = "; ".join(notes) or None
        self.use_levers = use_levers
        super().__init__(built, seed=seed_value)

    def step(self) -> None:
        """One month, and none past the scenario's last: Mesa's Step and Play advance
        *Render interval* months at a time, which could overshoot the end."""
        if self.month < self.max_steps:
            super().step()
        else:
            self.steps -= 1  # Mesa counted the call; the page's "Step: N" stays at the end


def model_params() -> dict[str, dict]:
    """The sidebar's inputs (Mesa `ModelCreator` format); values start at `ics_mandated`'s."""
    defaults = load_scenario(DEFAULT_SCENARIO)
    params: dict[str, dict] = {
        "scenario": {"type": "Select", "label": "Scenario", "value": DEFAULT_SCENARIO,
                     "values": list(bundled_scenarios())},
        "regime": {"type": "Select", "label": "Regime", "value": SCENARIO_REGIME,
                   "values": list(REGIME_CHOICES)},
        "use_levers": {"type": "Checkbox", "value": False,
                       "label": APPLY_SLIDERS + " (unticked: the scenario's own values)"},
    }
    for lever in LEVERS:
        params[lever.key] = {"type": "SliderFloat", "label": f"{lever.label} ({lever.cmoc})",
                             "value": defaults.context[f"context.{lever.key}"], "min": 0.0,
                             "max": lever.maximum, "step": lever.step}
    for kind, low, high in COUNT_KINDS:
        label = next(k.label for k in KINDS if k.name == kind)
        params[kind] = {"type": "SliderInt", "label": f"{label}s", "value":
                        defaults.roster.counts[kind], "min": low, "max": high, "step": 1}
    params["seed"] = {"type": "InputText", "label": "Seed", "value": "0"}
    return params


# --- drawing (SVG text, testable without a browser) ------------------------------------------


def network_layout(model: ICSModel) -> np.ndarray:
    """Positions `[N, 2]` on a circle, organisations grouped by kind."""
    kinds = model.state.kind
    order = np.lexsort((np.arange(len(kinds)), kinds))
    angle = np.empty(len(kinds))
    angle[order] = 2 * np.pi * np.arange(len(kinds)) / max(len(kinds), 1)
    return np.column_stack([np.cos(angle), np.sin(angle)])


def network_nodes(model: ICSModel) -> list[dict]:
    """One row per organisation: what the network view draws (C17 size, faith, maturity)."""
    st = model.state
    rows = []
    for org in model.organisations:
        i = org.index
        trust_in_others = org.trust_in_others
        level = MATURITY[int(maturity(trust_in_others, st.org[S.FAITH, i], st.params))]
        rows.append({"name": org.name, "kind": org.kind, "size": float(st.org[S.SIZE, i]),
                     "faith": float(st.org[S.FAITH, i]), "maturity": level,
                     "active": org.active})
    return rows


def network_edges(model: ICSModel) -> np.ndarray:
    """`[E, 3]` rows (i, j, mutual trust) between active members, strongest first,
    at most `EDGE_LIMIT`."""
    trust = model.state.pair[S.TRUST]
    mutual = 0.5 * (trust + trust.T)
    active = model.state.org[S.ACTIVE] == 1.0
    i, j = np.triu_indices(len(active), k=1)
    keep = active[i] & active[j]
    i, j = i[keep], j[keep]
    weight = mutual[i, j]
    order = np.argsort(-weight, kind="stable")[:EDGE_LIMIT]
    return np.column_stack([i[order], j[order], weight[order]])


def network_svg(model: ICSModel, width: int = 380, height: int = 360) -> str:
    """Partnership network as SVG: nodes by kind (fill) and maturity (outline), area
    by size (C17); edges darker the more mutual trust; exited members grey with a
    cross (C20, C36). The key is `network_legend_markdown`."""
    few = model.state.kind.size <= NAMED_LIMIT  # a small partnership: thick ties, and names
    # on the nodes, which need room above the top node (below the title) and below the bottom
    cx, cy = width / 2, (height + 20) / 2
    radius = min(width, height - 20) / 2 - (34 if few else 22)
    xy = network_layout(model) * radius + np.array([cx, cy])
    xy[:, 1] = 2 * cy - xy[:, 1]  # SVG's y points down
    parts = [_text(width / 2, 15, f"Partnership network, month {model.month}", size=13,
                   anchor="middle")]
    edges = network_edges(model)[::-1]  # weakest first, so the strongest ties lie on top
    if len(edges):
        # from light to dark blue: even no trust stays visible against the white page
        colours = matplotlib.colormaps["Blues"](0.25 + 0.75 * np.clip(edges[:, 2], 0.0, 1.0))
        for (i, j, weight), colour in zip(edges, colours, strict=True):
            (x1, y1), (x2, y2) = xy[int(i)], xy[int(j)]
            parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                         f'stroke="{matplotlib.colors.to_hex(colour)}" '
                         f'stroke-width="{3.0 if few else 0.7}" '
                         f'stroke-opacity="{0.3 + 0.6 * min(1.0, weight):.2f}"/>')
    for (x, y), node in zip(xy, network_nodes(model), strict=True):
        r = 0.9 * math.sqrt((20.0 + 6.0 * math.sqrt(node["size"])) / math.pi)
        if node["active"]:
            fill, stroke = KIND_COLOURS[node["kind"]], MATURITY_COLOURS[node["maturity"]]
        else:
            fill, stroke = EXITED_COLOUR, "#777777"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="2.2"/>')
        if not node["active"]:
            parts.append(_text(x, y + 4, "×", size=12, anchor="middle", colour="#444444"))
        if few:
            below = y + r + 12 if y >= cy else y - r - 5
            parts.append(_text(x, below, node["name"].replace("_", " "), size=10,
                               anchor="middle"))
    return _svg(width, height, parts)


def _swatch(colour: str, outline: str | None = None) -> str:
    border = f"3px solid {outline}" if outline else "1px solid #666"
    fill = "white" if outline else colour
    return (f"<span style='display:inline-block;width:11px;height:11px;border-radius:50%;"
            f"background:{fill};border:{border};vertical-align:middle'></span>")


def network_legend_markdown(model: ICSModel) -> str:
    """Key of the network view: kinds present (fill), maturity (outline), exits, edges."""
    present = sorted({int(k) for k in model.state.kind})
    kinds = " ".join(f"{_swatch(KIND_COLOURS[KINDS[k].name])} {KINDS[k].label}"
                     for k in present)
    levels = " ".join(f"{_swatch('', MATURITY_COLOURS[m])} {m}" for m in MATURITY)
    return (f"<small>{kinds}<br>Outline = maturity (M23, after Westrum): {levels}<br>"
            f"{_swatch(EXITED_COLOUR)} left the collaboration &middot; area = staff &middot; "
            "darker edge = more mutual trust</small>")


#: Series of the state chart: DataCollector column and legend label.
STATE_SERIES = (("mean_trust", "trust"), ("mean_faith", "faith"),
                ("mean_confidence", "confidence"),
                ("mean_behaviour", "collaborative behaviour"), ("mean_capacity", "capacity"))


def state_svg(model: ICSModel) -> str:
    """Mean trust, faith, confidence, collaborative behaviour and capacity of the
    active members over months, with the synergy threshold (C40)."""
    frame = model.datacollector.get_model_vars_dataframe()
    # Once fewer than MIN_MEMBERS are left the partnership has dissolved (`regimes`): the
    # means over members and pairs are recorded as 0, which is no one's trust, so the
    # lines stop at the last month with a partnership and the title says when it ended.
    ended = np.flatnonzero(frame["active_members"].to_numpy() < MIN_MEMBERS)
    shown = int(ended[0]) if ended.size else len(frame)
    series = [(label, METRIC_COLOURS[column], frame[column].to_numpy()[:shown], "")
              for column, label in STATE_SERIES]
    threshold = float(model.state.params[P.SYNERGY_BEHAVIOUR])
    series.append(("synergy threshold", METRIC_COLOURS["mean_behaviour"],
                   np.array([threshold, threshold]), "3,3"))
    title = "Trust, faith and behaviour"
    if ended.size:
        title += f" (dissolved at month {shown})"
    return _svg(470, 290, _panel(series, [0.0, float(model.max_steps)], model.max_steps,
                                 [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                                 "mean over active members (0-1)", title, 0, 290,
                                 events=chart_events(model)))


def output_svg(model: ICSModel) -> str:
    """Monthly output of the collaboration (C42), with the output synergy needs (C40), and
    its running total."""
    frame = model.datacollector.get_model_vars_dataframe()
    events = chart_events(model)
    threshold = float(model.state.params[P.SYNERGY_OUTPUT])
    dashed = ("synergy threshold", METRIC_COLOURS["output"], np.array([threshold, threshold]),
              "3,3")
    parts = []
    for k, (column, label, floor) in enumerate((("output", "output per month",
                                                  1.1 * threshold),
                                                 ("cumulative_output", "cumulative output",
                                                  1.0))):
        values = frame[column].to_numpy()
        ticks = nice_ticks(max(floor, float(values.max())))
        title = "Output of the collaboration (dashed: what synergy needs)" if k == 0 else ""
        series = [(label, METRIC_COLOURS[column], values, "")] + ([dashed] if k == 0 else [])
        parts += _panel(series, [0.0, float(model.max_steps)], model.max_steps, ticks, label,
                        title, 145 * k, 145, legend=False, events=events,
                        event_labels=k == 0)  # labelled once: the panels share the axis
    return _svg(470, 290, parts)


def chart_events(model: ICSModel) -> list[tuple[int, str]]:
    """The scenario's timeline events the charts mark (`timeline_events`: month and what it
    sets, in words), those within the months the charts show."""
    return timeline_events(model.scenario, model.max_steps)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 up to at least `top` (about `count` of them)."""
    top = top if top > 0 else 1.0
    raw = top / (count - 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    return [k * step for k in range(math.ceil(top / step - 1e-9) + 1)]


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start",
          colour: str = "#222222", rotate: bool = False) -> str:
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{colour}"{turn}>{html.escape(text)}</text>')


def _svg(width: int, height: int, parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
            f'<rect width="{width}" height="{height}" fill="white"/>{"".join(parts)}</svg>')


def _panel(series, x_values, x_max: int, y_ticks: list[float], y_label: str, title: str,
           top: float, height: float, width: float = 470, legend: bool = True,
           events=(), event_labels: bool = True) -> list[str]:
    """One line chart as SVG elements: frame, grid, ticks, labels, lines and legend.

    `series` holds (label, colour, values, dash); values are at months 0, 1, ...
    unless `x_values` gives their months (a threshold drawn across the chart).
    `events` (`chart_events`) are dotted lines at their months, under the series, each
    labelled with what it sets (unless not `event_labels`) and in the legend.
    """
    left, right, head, foot = 52.0, (150.0 if legend else 14.0), 22.0, 34.0
    pw, ph = width - left - right, height - head - foot
    y_top = y_ticks[-1]

    def px(month: float) -> float:
        return left + pw * month / max(x_max, 1)

    def py(value: float) -> float:
        return top + head + ph * (1.0 - value / y_top)

    parts = [_text(left + pw / 2, top + 15, title, size=13, anchor="middle")] if title else []
    for value in y_ticks:
        y = py(value)
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + pw:.1f}" y2="{y:.1f}" '
                     'stroke="#e5e5e5"/>')
        parts.append(_text(left - 5, y + 4, f"{value:g}", size=10, anchor="end"))
    for month in nice_ticks(x_max, 7):
        if month <= x_max:
            parts.append(_text(px(month), top + head + ph + 14, f"{month:g}", size=10,
                               anchor="middle"))
    parts.append(_text(left + pw / 2, top + height - 4, "month", size=11, anchor="middle"))
    parts.append(_text(13, top + head + ph / 2, y_label, size=11, anchor="middle",
                       rotate=True))
    parts.append(f'<rect x="{left:.1f}" y="{top + head:.1f}" width="{pw:.1f}" '
                 f'height="{ph:.1f}" fill="none" stroke="#444444"/>')
    labels: list[str] = []
    ends: list[float] = []  # where the labels of each row end, so that near events stagger
    for month, what in events:
        x = px(month)
        parts.append(f'<line x1="{x:.1f}" y1="{top + head:.1f}" x2="{x:.1f}" '
                     f'y2="{top + head + ph:.1f}" stroke="{EVENT_COLOUR}" stroke-width="1.2" '
                     f'stroke-dasharray="2,3"><title>{html.escape(f"month {month}: {what}")}'
                     '</title></line>')
        if not event_labels:
            continue
        text = what if len(what) <= 24 else what[:23] + "…"
        span = 5.0 * len(text)  # about 0.55 em a character at 9 px
        start = x + 3 if x + 3 + span <= left + pw else x - 3 - span  # inside the frame
        row = next((r for r, end in enumerate(ends) if end < start), len(ends))
        ends[row:row + 1] = [start + span + 4]
        labels.append(_text(x + 3 if start > x else x - 3, top + head + 10 + 10 * row, text,
                            size=9, anchor="start" if start > x else "end",
                            colour=EVENT_COLOUR).replace(
            "<text ", '<text stroke="white" stroke-width="3" paint-order="stroke" ', 1))
    for k, (label, colour, values, dash) in enumerate(series):
        months = x_values if x_values is not None and dash else range(len(values))
        points = " ".join(f"{px(m):.1f},{py(v):.1f}" for m, v in zip(months, values,
                                                                      strict=True))
        style = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.8"{style}><title>{html.escape(label)}</title>'
                     '</polyline>')
        if len(values) == 1:  # month 0: a line of one point draws nothing, so a dot
            parts.append(f'<circle cx="{px(0):.1f}" cy="{py(values[0]):.1f}" r="2.5" '
                         f'fill="{colour}"><title>{html.escape(label)}</title></circle>')
        if legend:
            y = top + head + 8 + 16 * k
            parts.append(f'<line x1="{left + pw + 8:.1f}" y1="{y:.1f}" x2="{left + pw + 26:.1f}" '
                         f'y2="{y:.1f}" stroke="{colour}" stroke-width="2"{style}/>')
            parts.append(_text(left + pw + 30, y + 4, label, size=10))
    if legend and events:
        y = top + head + 8 + 16 * len(series)
        parts.append(f'<line x1="{left + pw + 8:.1f}" y1="{y:.1f}" x2="{left + pw + 26:.1f}" '
                     f'y2="{y:.1f}" stroke="{EVENT_COLOUR}" stroke-width="1.2" '
                     'stroke-dasharray="2,3"/>')
        parts.append(_text(left + pw + 30, y + 4, "timeline event", size=10))
    return parts + labels  # on top of the series, with a white halo


def _regime_in_force(model: ICSModel) -> str:
    """The regime this month, and the one the partnership formed under when a timeline has
    changed it."""
    now = "mandated" if model.mandated else "voluntary"
    return now if now == model.scenario.regime else f"{now} (formed {model.scenario.regime})"


def regime_markdown(model: ICSModel) -> str:
    """The live regime panel: regime so far, month synergy was reached, members."""
    regime, month = model.regime
    window = int(model.state.params[P.REGIME_WINDOW])
    active = int(model.state.org[S.ACTIVE].sum())
    # Dissolution is judged on who is left, not on the window (`classify`): it is shown as
    # soon as it happens, as the state chart's title says it (C20, C36)
    if model.month < window and regime != "dissolution":  # too few months to judge
        judged = (f"not judged yet: the regime is judged over the last {window} months "
                  f"(month {model.month} of {window})")
    else:
        judged = (f"<span style='color:{REGIME_COLOURS[regime]}'>**{regime}**</span> — "
                  f"{REGIME_TEXT[regime]}")
    if month is not None:  # known only in hindsight: the month behaviour stayed up from
        since = f"month {month}"
    elif regime == "synergy" and model.month >= window:
        since = ("not sustained: behaviour is below its threshold this month, though its "
                 f"mean over the last {window} months is above it")
    else:
        since = "not reached"
    lines = [
        f"### Month {model.month} of {model.max_steps}",
        f"**Regime so far:** {judged}",
        f"**In synergy since:** {since}",
        f"**Members:** {active} of {len(model.organisations)} active, "
        f"{_regime_in_force(model)} regime ({model.scenario.name})",
    ]
    if getattr(model, "note", None):
        lines += [f"**Note:** {html.escape(model.note)}"]  # it quotes what the student typed
    return "\n\n".join(lines)


def built_with_markdown(model: ICSModel) -> str:
    """What the current model runs with, read from the model itself (not the sidebar,
    whose sliders apply only when ticked): scenario, regime, seed, the levers' values
    and the organisations. Changes in the sidebar apply on Reset."""
    scenario = model.scenario
    levers = ", ".join(f"{lv.key} {scenario.context[f'context.{lv.key}']:g}" for lv in LEVERS)
    counts = ", ".join(f"{kind} {n}" for kind, n in scenario.roster.counts.items() if n)
    if getattr(model, "use_levers", False):
        source = "the sliders' values"
    elif getattr(model, "sliders_refused", False):
        source = "the scenario's own values: the sliders were not applied, see the note above"
    else:
        source = f"the scenario's own values (tick *{APPLY_SLIDERS}* to use the sliders')"
    events = "; ".join(f"month {month} — {what}" for month, what in chart_events(model))
    return "\n\n".join([
        f"**This model was built with:** scenario {scenario.name}, regime {scenario.regime}, "
        f"seed {model.seed}, {levers} ({source}); organisations: {counts}",
        *([f"**Timeline:** {html.escape(events)}"] if events else []),
        f"**Scenario:** {html.escape(scenario.description)}",
    ])


def levers_markdown() -> str:
    """Plain-English notes on each lever, with THEORY.md's CMOC ids."""
    rows = [f"- **{lv.label}** ({lv.cmoc}): {lv.explanation}" for lv in LEVERS]
    return "\n".join([
        "### What the levers do",
        *rows,
        "- **Regime**: a mandate keeps partners at the table however they feel (C20, C36), "
        "but they start with less trust and faith (C01, C02) and power differences bite "
        "harder (C17); under a voluntary regime partners whose faith stays low (C20) or whose "
        "unresolved conflicts pile up (C36) leave.",
        "- **Organisation counts**: more partners make the collaboration more complex, so "
        "each talks less with each (C15).",
        "",
        "The regime is judged on the months run so far (THEORY §4): synergy needs "
        "collaborative behaviour and output above their thresholds over the last months "
        "(C40); dissolution, that most partners have left.",
        "",
        f"<small>A scenario runs as written; tick *{APPLY_SLIDERS}* to replace its context "
        "(and, without a roster, its organisation counts) by the sliders. Press **Reset** "
        "after changing anything.</small>",
    ])


# --- Solara components -------------------------------------------------------------------

def _image(svg: str):
    # SVG written directly: a few milliseconds a frame (matplotlib took ~0.1 s a chart)
    return rw.Image(value=svg.encode(), format="svg+xml")


def NetworkView(model: ICSModel):
    return _image(network_svg(model))


def StateChart(model: ICSModel):
    return _image(state_svg(model))


def OutputChart(model: ICSModel):
    return _image(output_svg(model))


def _markdown(text: str):
    # Markdown turned into HTML here, not by solara.Markdown: its front end fetches KaTeX
    # through Solara's CDN proxy on every render, which solara-assets does not ship (the
    # server then tries the CDN: a 404 and a script error offline)
    return solara.HTML(tag="div", unsafe_innerHTML=markdown.markdown(text),
                       classes=["solara-markdown", "rendered_html", "jp-RenderedHTMLCommon"])


def RegimePanel(model: ICSModel):
    """The regime so far, then the key of the network view beside it."""
    return _markdown(regime_markdown(model) + "\n\n" + network_legend_markdown(model))


def LeversPanel(model: ICSModel):
    return _markdown(built_with_markdown(model) + "\n\n" + levers_markdown())


COMPONENTS = [NetworkView, RegimePanel, StateChart, OutputChart, LeversPanel]


@solara.component
def Page():
    """One app per browser session, with its own model (Solara puts the title and the app,
    returned by no one, in its layout)."""
    model = solara.use_memo(ExploreModel, [])
    solara.Title(APP_NAME)  # the browser tab's (Solara's default is the module's, "Ui")
    SolaraViz(model, components=COMPONENTS, model_params=model_params(), name=APP_NAME,
              play_interval=150, render_interval=1)


def app_url(host: str, port: int) -> str:
    """The address a browser opens: an IPv6 host goes in brackets (http://[::1]:8765/)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8765) -> int:
    """Run the app with Solara's server (what `icsabm ui` does)."""
    from model.cli import CLIError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    from solara.__main__ import cli as solara_cli

    # Build and step a model here, so that numba compiles (or loads from its cache) every
    # kernel before the page opens: otherwise the first Step would hang for seconds.
    print("icsabm ui: preparing the model (the first time, compiling takes up to a minute)",
          file=sys.stderr, flush=True)
    ExploreModel().step()
    print(f"icsabm ui: {app_url(host, port)} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    argv = ["run", "model.ui", "--host", host, "--port", str(port), "--production",
            "--no-open", "--no-check-version", "--log-level", "warning"]
    import click

    try:
        solara_cli.main(args=argv, prog_name="solara", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):  # Ctrl-C or SIGTERM (`kill`): click
        pass  # turns the KeyboardInterrupt `model.cli` raises for either into Abort
    return 0
