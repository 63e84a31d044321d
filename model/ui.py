"""The students' browser app: Mesa's SolaraViz around `ICSModel`.

Start it with ``icsabm ui`` (or ``solara run model.ui``). The sidebar picks a
bundled scenario, the regime, the context levers THEORY.md names and the
number of organisations of the larger kinds; Mesa's Reset / Step / Play drive
the model. The main page shows the partnership network, the mean state of the
partners over time, the output of the collaboration, the regime so far and a
plain-English note on each lever with its CMOC ids.

Everything drawn here comes from the model's own arrays and DataCollector;
the drawing functions take a model and a matplotlib Axes so they can be
tested without a browser.
"""

from __future__ import annotations

import math
import socket
import sys
import warnings
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

# Mesa 3.3's own ComponentsView trips one of Solara's hook checks; harmless, and not ours.
warnings.filterwarnings("ignore", message=".*found despite early return", category=UserWarning)
import solara  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from agents.kinds import KINDS  # noqa: E402
from analysis.palette import (  # noqa: E402
    EXITED_COLOUR,
    KIND_COLOURS,
    MATURITY_COLOURS,
    METRIC_COLOURS,
    REGIME_COLOURS,
)
from model import params as P  # noqa: E402
from model import state as S  # noqa: E402
from model.ics_model import ICSModel  # noqa: E402
from model.regimes import MATURITY, maturity  # noqa: E402
from model.scenario import bundled_scenarios, load_scenario  # noqa: E402

SCENARIO_REGIME = "as in scenario"
REGIME_CHOICES = (SCENARIO_REGIME, "mandated", "voluntary")
DEFAULT_SCENARIO = "ics_mandated"
EDGE_LIMIT = 2000  # strongest ties drawn; a complete graph of 300 partners has 44,850


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

REGIME_TEXT = {
    "inertia": "Collaborative inertia: partners go through the motions; little gets done.",
    "synergy": "Synergy: partners work together and the joint output is high.",
    "dissolution": "Dissolution: most partners have left the collaboration.",
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
    SolaraViz's Reset requires). See `lever_overrides` for how they apply."""

    def __init__(self, scenario: str = DEFAULT_SCENARIO, regime: str = SCENARIO_REGIME,
                 use_levers: bool = True, seed: str | int = "0", **kwargs: float) -> None:
        defaults = load_scenario(DEFAULT_SCENARIO)
        levers = {lv.key: kwargs.pop(lv.key, defaults.context[f"context.{lv.key}"])
                  for lv in LEVERS}
        counts = {kind: kwargs.pop(kind, defaults.roster.counts[kind])
                  for kind, _, _ in COUNT_KINDS}
        if kwargs:  # named `kwargs` because Mesa's ModelCreator checks for that name
            raise TypeError(f"unknown control(s): {', '.join(sorted(kwargs))}")
        seed_value, self.note = parse_seed(seed)
        self.controls = {"scenario": scenario, "regime": regime, "use_levers": use_levers,
                         "seed": seed_value, **levers, **counts}
        super().__init__(scenario, seed=seed_value,
                         overrides=lever_overrides(scenario, regime, use_levers, levers, counts))


def model_params() -> dict[str, dict]:
    """The sidebar's inputs (Mesa `ModelCreator` format); values start at `ics_mandated`'s."""
    defaults = load_scenario(DEFAULT_SCENARIO)
    params: dict[str, dict] = {
        "scenario": {"type": "Select", "label": "Scenario", "value": DEFAULT_SCENARIO,
                     "values": list(bundled_scenarios())},
        "regime": {"type": "Select", "label": "Regime", "value": SCENARIO_REGIME,
                   "values": list(REGIME_CHOICES)},
        "use_levers": {"type": "Checkbox", "value": True,
                       "label": "Sliders set the context (untick: the scenario's own)"},
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


# --- drawing (plain matplotlib, testable without a browser) --------------------------------


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


def draw_network(model: ICSModel, ax) -> None:
    """Partnership network: nodes by kind (fill) and maturity (outline), area by
    size (C17); edges shaded by mutual trust; exited members grey with a cross
    (C36). The key is `network_legend_markdown`, drawn as text because a
    matplotlib legend would double the cost of a frame."""
    xy = network_layout(model)
    edges = network_edges(model)
    if len(edges):
        a, b = edges[:, 0].astype(int), edges[:, 1].astype(int)
        lines = LineCollection(np.stack([xy[a], xy[b]], axis=1), cmap="Blues", linewidths=0.8,
                               zorder=1)
        lines.set_array(edges[:, 2])
        lines.set_clim(0.0, 1.0)
        ax.add_collection(lines)
    nodes = network_nodes(model)
    sizes = np.array([20.0 + 6.0 * math.sqrt(n["size"]) for n in nodes])
    faces = [KIND_COLOURS[n["kind"]] if n["active"] else EXITED_COLOUR for n in nodes]
    outlines = [MATURITY_COLOURS[n["maturity"]] if n["active"] else "#777777" for n in nodes]
    ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=faces, edgecolors=outlines, linewidths=2.2,
               zorder=2)
    gone = np.array([not n["active"] for n in nodes], dtype=bool)
    if gone.any():
        ax.scatter(xy[gone, 0], xy[gone, 1], s=40, marker="x", c="#444444", zorder=3)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Partnership network, month {model.month}", fontsize=10)


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
    return (f"<small>{kinds}<br>Outline, maturity (M23 after Westrum): {levels}<br>"
            f"{_swatch(EXITED_COLOUR)} left the collaboration &nbsp; Node area: staff "
            "headcount &nbsp; Edges: darker blue = more mutual trust</small>")


#: Series of the state chart: DataCollector column and legend label.
STATE_SERIES = (("mean_trust", "trust"), ("mean_faith", "faith"),
                ("mean_confidence", "confidence"),
                ("mean_behaviour", "collaborative behaviour"), ("mean_capacity", "capacity"))


def draw_state(model: ICSModel, ax) -> None:
    """Mean trust, faith, confidence, collaborative behaviour and capacity of
    the active members over months (C40: behaviour is what makes synergy)."""
    frame = model.datacollector.get_model_vars_dataframe()
    for column, label in STATE_SERIES:
        ax.plot(frame.index, frame[column], label=label, linewidth=1.6,
                color=METRIC_COLOURS[column])
    ax.axhline(model.state.params[P.SYNERGY_BEHAVIOUR], color=METRIC_COLOURS["mean_behaviour"],
               linestyle=":", linewidth=1, label="synergy threshold (behaviour)")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max(model.max_steps, 1))
    ax.set_xlabel("month")
    ax.set_ylabel("mean over active members (0-1)")
    ax.set_title("Trust, faith and behaviour", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def draw_output(model: ICSModel, ax) -> None:
    """Monthly output of the collaboration and its running total (C40, C41)."""
    frame = model.datacollector.get_model_vars_dataframe()
    ax.plot(frame.index, frame["output"], color=METRIC_COLOURS["output"], label="output")
    ax.set_xlim(0, max(model.max_steps, 1))
    ax.set_xlabel("month")
    ax.set_ylabel("output per month")
    total = ax.twinx()
    total.plot(frame.index, frame["cumulative_output"], color=METRIC_COLOURS["cumulative_output"],
               linestyle="--",
               label="cumulative output")
    total.set_ylabel("cumulative output")
    handles = ax.get_legend_handles_labels()[0] + total.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=False)
    ax.set_title("Output of the collaboration", fontsize=10)


def regime_markdown(model: ICSModel) -> str:
    """The live regime panel: regime so far, month synergy was reached, members."""
    regime, month = model.regime
    colour = REGIME_COLOURS[regime]
    active = int(model.state.org[S.ACTIVE].sum())
    reached = f"month {month}" if month is not None else "not yet"
    lines = [
        f"### Month {model.month} of {model.max_steps}",
        f"**Regime so far:** <span style='color:{colour}'>**{regime}**</span> — "
        f"{REGIME_TEXT[regime]}",
        f"**Synergy reached:** {reached}",
        f"**Members:** {active} of {len(model.organisations)} active "
        f"({model.scenario.regime} regime, scenario `{model.scenario.name}`)",
    ]
    if getattr(model, "note", None):
        lines += [f"**Note:** {model.note}"]
    return "\n\n".join(lines)


def built_with_markdown(model: ICSModel) -> str:
    """The controls the current model was built with (changes apply on Reset)."""
    controls = model.controls if isinstance(model, ExploreModel) else {}
    built = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in controls.items())
    return f"**This model was built with:** {built}" if built else ""


def levers_markdown() -> str:
    """Plain-English notes on each lever, with THEORY.md's CMOC ids."""
    rows = [f"- **{lv.label}** ({lv.cmoc}): {lv.explanation}" for lv in LEVERS]
    return "\n".join([
        "### What the levers do",
        *rows,
        "- **Regime**: a mandate keeps partners at the table however they feel, but power "
        "differences bite harder (C01, C17, C20); under a voluntary regime partners who lose "
        "faith leave (C36).",
        "- **Organisation counts**: more partners make the collaboration more complex, so "
        "each talks less with each (C15).",
        "",
        "The regime is judged on the months run so far (THEORY §4): synergy needs "
        "collaborative behaviour and output above their thresholds over the last months "
        "(C40); dissolution, that most partners have left.",
        "",
        "<small>Untick *Sliders set the context* to run a scenario with its own context; "
        "press **Reset** after changing anything.</small>",
    ])


# --- Solara components -------------------------------------------------------------------

def figure(draw, model: ICSModel, width: float, height: float, right: float = 0.86) -> Figure:
    """A figure of `draw(model, ax)`; fixed margins (automatic layout costs a frame's time)."""
    fig = Figure(figsize=(width, height), dpi=80)
    fig.subplots_adjust(left=0.15, right=right, bottom=0.14, top=0.9)
    draw(model, fig.subplots())
    return fig


def NetworkView(model: ICSModel):
    fig = Figure(figsize=(4.6, 4.4), dpi=80)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.93)
    draw_network(model, fig.subplots())
    return solara.FigureMatplotlib(fig, format="png")


def StateChart(model: ICSModel):
    return solara.FigureMatplotlib(figure(draw_state, model, 5.6, 3.6, right=0.66), format="png")


def OutputChart(model: ICSModel):
    return solara.FigureMatplotlib(figure(draw_output, model, 5.6, 3.6), format="png")


def RegimePanel(model: ICSModel):
    """The regime so far, then the key of the network view beside it."""
    return solara.Markdown(regime_markdown(model) + "\n\n" + network_legend_markdown(model))


def LeversPanel(model: ICSModel):
    return solara.Markdown(built_with_markdown(model) + "\n\n" + levers_markdown())


COMPONENTS = [NetworkView, RegimePanel, StateChart, OutputChart, LeversPanel]


@solara.component
def Page():
    """One app per browser session, with its own model."""
    model = solara.use_memo(ExploreModel, [])
    return SolaraViz(model, components=COMPONENTS, model_params=model_params(),
                     name="icsabm: collaboration in an Integrated Care System",
                     play_interval=150, render_interval=1)


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

    print(f"icsabm ui: http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    argv = ["run", "model.ui", "--host", host, "--port", str(port), "--production",
            "--no-open", "--no-check-version", "--log-level", "warning"]
    try:
        solara_cli.main(args=argv, prog_name="solara", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0
