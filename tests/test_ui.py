"""The browser app's wiring and drawing, without a browser (issue 4)."""

from __future__ import annotations

import inspect
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from agents.kinds import KIND_NAMES
from analysis.palette import EXITED_COLOUR, KIND_COLOURS, MATURITY_COLOURS, REGIME_COLOURS
from model import ui
from model.regimes import MATURITY, REGIMES
from model.scenario import bundled_scenarios, load_scenario


def test_palette_covers_every_kind_regime_and_maturity():
    assert set(KIND_COLOURS) == set(KIND_NAMES)
    assert set(REGIME_COLOURS) == set(REGIMES)
    assert set(MATURITY_COLOURS) == set(MATURITY)
    assert len(set(KIND_COLOURS.values())) == len(KIND_COLOURS)


def test_sidebar_inputs_are_the_model_keywords():
    params = ui.model_params()
    signature = inspect.signature(ui.ExploreModel.__init__).parameters
    explicit = {name for name in signature if name not in ("self", "kwargs")}
    levers = {lever.key for lever in ui.LEVERS} | {kind for kind, _, _ in ui.COUNT_KINDS}
    assert set(params) == explicit | levers
    assert params["scenario"]["values"] == list(bundled_scenarios())
    assert params["regime"]["values"] == ["as in scenario", "mandated", "voluntary"]
    # the sliders start at ics_mandated's context and counts
    base = load_scenario("ics_mandated")
    for lever in ui.LEVERS:
        assert params[lever.key]["value"] == base.context[f"context.{lever.key}"]
    assert params["pcn"]["value"] == base.roster.counts["pcn"]
    # Mesa's own check of model_params against the model's signature passes
    from mesa.visualization.solara_viz import _check_model_params

    _check_model_params(ui.ExploreModel.__init__, params)


def test_levers_named_by_the_issue_are_all_there():
    keys = {lever.key for lever in ui.LEVERS}
    assert keys == {"formalisation", "conflict_resolution", "shared_vision", "quick_wins",
                    "funding", "history_of_competition", "stakeholder_involvement",
                    "turbulence_rate"}


def test_controls_rebuild_the_model_with_their_values():
    model = ui.ExploreModel(regime="voluntary", use_levers=True, formalisation=0.8, pcn=20,
                            seed="7")
    assert model.scenario.regime == "voluntary"
    assert model.scenario.context["context.formalisation"] == 0.8
    assert model.scenario.roster.counts["pcn"] == 20
    assert model.seed == 7
    assert "formalisation 0.8" in ui.built_with_markdown(model)
    assert "the sliders' values" in ui.built_with_markdown(model)


def test_by_default_a_scenario_runs_as_written_and_the_panel_says_so():
    """Picking a scenario gives that scenario: the sliders start at ics_mandated's values
    and apply only when ticked (the panel shows what the model really runs with)."""
    model = ui.ExploreModel(scenario="merger", formalisation=0.1, pcn=30)
    own = load_scenario("merger")
    assert model.scenario.context == own.context
    assert model.scenario.roster.counts == own.roster.counts
    text = ui.built_with_markdown(model)
    assert "scenario merger" in text and "the scenario's own values" in text
    assert f"formalisation {own.context['context.formalisation']:g}" in text
    assert "pcn" not in text and own.description in text


def test_steps_past_the_last_month_do_nothing():
    model = ui.ExploreModel(scenario="mandated_buddying")
    for _ in range(model.max_steps + 4):  # Step with Render interval 5 near the end
        model.step()
    assert model.month == model.max_steps and model.steps == model.max_steps
    assert not model.running


def test_scenario_context_is_kept_when_the_sliders_are_off():
    own = load_scenario("voluntary_alliance")
    model = ui.ExploreModel(scenario="voluntary_alliance", use_levers=False, funding=0.0)
    assert model.scenario.context == own.context
    assert model.scenario.regime == own.regime


def test_counts_do_not_apply_to_a_roster_scenario():
    overrides = ui.lever_overrides("mandated_buddying", "as in scenario", True,
                                   {"funding": 0.5}, {"pcn": 30})
    assert overrides == {"context.funding": 0.5}


def test_a_bad_seed_falls_back_to_zero_with_a_note():
    model = ui.ExploreModel(seed="abc")
    assert model.seed == 0
    assert "not a whole number" in ui.regime_markdown(model)
    assert ui.parse_seed(" 12 ") == (12, None)
    assert ui.parse_seed(-1)[0] == 0


def test_a_typed_seed_is_shown_as_text_not_as_html():
    text = ui.regime_markdown(ui.ExploreModel(seed="<img src=x onerror=alert(1)>"))
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_sliders_the_scenario_cannot_take_leave_it_as_written_with_a_note():
    """Reset never fails: counts leaving one organisation (voluntary_alliance has only acute
    trusts) used to put a traceback in place of the page."""
    model = ui.ExploreModel(scenario="voluntary_alliance", regime="mandated", use_levers=True,
                            funding=0.0, pcn=0, vcse=0, acute_trust=1, seed="x")
    own = load_scenario("voluntary_alliance")
    assert model.scenario.roster.counts == own.roster.counts
    assert model.scenario.context == own.context
    assert model.scenario.regime == "mandated"  # the regime is not a slider: it still applies
    assert not model.use_levers
    text = ui.regime_markdown(model)
    assert "sliders were not applied" in text and "gives 1 organisation;" in text
    assert "not a whole number" in text  # the seed's note is kept too
    built = ui.built_with_markdown(model)
    assert "the scenario's own values" in built and "sliders were not applied" in built
    assert "tick" not in built  # the box is ticked: telling the student to tick it was wrong


def test_unknown_control_is_an_error():
    with pytest.raises(TypeError, match="unknown control"):
        ui.ExploreModel(formalisaton=0.5)


def test_same_controls_same_trajectory():
    a, b = ui.ExploreModel(seed="3"), ui.ExploreModel(seed="3")
    a.run_for(5)
    b.run_for(5)
    assert np.array_equal(a.state.pair, b.state.pair)


def test_network_view_marks_exits_and_shades_edges():
    model = ui.ExploreModel(scenario="research_collaboration", use_levers=False, seed="1")
    model.run_for(model.max_steps)
    nodes = ui.network_nodes(model)
    assert len(nodes) == len(model.organisations)
    assert {n["maturity"] for n in nodes} <= set(MATURITY)
    edges = ui.network_edges(model)
    active = {i for i, n in enumerate(nodes) if n["active"]}
    assert all(int(i) in active and int(j) in active for i, j, _ in edges)
    assert len(edges) == len(active) * (len(active) - 1) // 2
    assert np.all(np.diff(edges[:, 2]) <= 0)  # strongest first
    svg = ui.network_svg(model)
    exited = len(nodes) - len(active)
    assert exited > 0  # this replicate lost members (the next test guards the premise)
    assert svg.count("<circle") == len(nodes)
    assert svg.count("<line") == len(edges)
    assert svg.count(">×</text>") == exited
    assert svg.count(f'fill="{EXITED_COLOUR}"') == exited
    assert f"month {model.max_steps}" in svg
    assert "left the collaboration" in ui.network_legend_markdown(model)


def test_exits_happen_in_some_voluntary_replicate():
    lost = 0
    for seed in range(6):
        model = ui.ExploreModel(scenario="research_collaboration", use_levers=False,
                                seed=str(seed))
        model.run_for(model.max_steps)
        lost += sum(not n["active"] for n in ui.network_nodes(model))
    assert lost > 0


def test_charts_carry_labels_and_all_series():
    model = ui.ExploreModel()
    model.run_for(4)
    svg = ui.state_svg(model)
    assert ">month</text>" in svg and "mean over active members" in svg
    for _, label in ui.STATE_SERIES:
        assert f"<title>{label}</title>" in svg
    lines = re.findall(r'<polyline points="([^"]*)"', svg)
    assert len(lines) == len(ui.STATE_SERIES) + 1  # and the synergy threshold
    assert all(len(points.split()) == 5 for points in lines[:len(ui.STATE_SERIES)])
    svg = ui.output_svg(model)
    assert "output per month" in svg and "cumulative output" in svg
    assert svg.count("<polyline") == 3  # output, its synergy threshold, cumulative output
    threshold = float(model.state.params[ui.P.SYNERGY_OUTPUT])
    dashed = re.search(r'<polyline points="[^"]*" fill="none" stroke="[^"]*" '
                       r'stroke-width="1.8" stroke-dasharray="3,3"><title>synergy threshold',
                       svg)
    assert dashed, "the output synergy needs is drawn on the output chart"
    assert threshold < ui.nice_ticks(1.1 * threshold)[-1]  # inside the frame


def test_charts_show_the_starting_values_at_month_0():
    """A line of one point draws nothing: at month 0 (and after every Reset) the charts were
    empty but for the thresholds; each series is a dot there."""
    model = ui.ExploreModel()
    for svg, series in ((ui.state_svg(model), len(ui.STATE_SERIES)), (ui.output_svg(model), 2)):
        dots = re.findall(r'<circle cx="([^"]*)" cy="[^"]*" r="2.5"', svg)
        assert len(dots) == series
        assert len(set(dots)) == 1  # all at month 0, on the left edge of their frame
    model.run_for(1)
    assert 'r="2.5"' not in ui.state_svg(model) + ui.output_svg(model)  # lines from month 1


def test_state_chart_stops_where_the_partnership_dissolved():
    """After dissolution (fewer than two members) the recorded means are 0 over no one:
    the lines stop at the last month with a partnership, and the title says so."""
    from model.ics_model import ICSModel

    model = ICSModel("research_collaboration", seed=0,
                     overrides={"constants.exit_faith": 1.0, "constants.exit_patience": 2})
    model.run_for(8)
    active = model.datacollector.get_model_vars_dataframe()["active_members"].to_numpy()
    gone = int(np.flatnonzero(active < 2)[0])  # every member's faith is below 1: all leave
    assert 0 < gone < 8
    svg = ui.state_svg(model)
    assert f"(dissolved at month {gone})" in svg
    lines = re.findall(r'<polyline points="([^"]*)"', svg)[:len(ui.STATE_SERIES)]
    assert all(len(points.split()) == gone for points in lines)
    kept = ui.state_svg(ui.ExploreModel())
    assert "dissolved" not in kept


def test_count_sliders_on_a_rostered_scenario_are_noted_at_reset():
    model = ui.ExploreModel(scenario="mandated_buddying", use_levers=True, pcn=9)
    assert model.state.kind.size == 2  # the roster's two organisations
    assert "roster" in model.note and "counts do not apply" in model.note
    assert "roster" in ui.regime_markdown(model)
    assert ui.ExploreModel(scenario="mandated_buddying").note is None  # sliders off
    assert ui.ExploreModel(scenario="ics_mandated", use_levers=True).note is None


def test_chart_ticks_cover_the_data():
    assert ui.nice_ticks(1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ui.nice_ticks(60, 7) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    for top in (0.003, 0.05, 0.37, 6.2, 123.0):
        ticks = ui.nice_ticks(top)
        assert ticks[0] == 0.0 and ticks[-1] >= top and len(ticks) <= 7


def test_regime_panel_reports_regime_and_month():
    model = ui.ExploreModel(scenario="voluntary_alliance", use_levers=False, seed="0")
    model.run_for(model.max_steps)
    regime, month = model.regime
    text = ui.regime_markdown(model)
    assert f"Month {model.max_steps} of {model.max_steps}" in text
    assert f"**{regime}**" in text
    assert (f"In synergy since:** month {month}" if month is not None else "not") in text


def test_regime_panel_does_not_judge_before_the_window_is_full():
    model = ui.ExploreModel(scenario="voluntary_alliance")
    model.run_for(3)
    text = ui.regime_markdown(model)
    assert "not judged yet" in text and "month 3 of 12" in text
    assert "inertia**" not in text and "synergy**" not in text


def test_regime_panel_shows_a_dissolution_before_the_window_is_full():
    """Dissolution is judged on who is left, not over the window: the panel said "not judged
    yet" while the state chart's title said the partnership had dissolved."""
    from model.ics_model import ICSModel

    model = ICSModel("research_collaboration", seed=0,
                     overrides={"constants.exit_faith": 1.0, "constants.exit_patience": 2})
    model.run_for(8)
    assert model.regime[0] == "dissolution" and model.month < 12
    text = ui.regime_markdown(model)
    assert "**dissolution**" in text and "not judged yet" not in text
    assert "dissolved at month" in ui.state_svg(model)


def test_regime_panel_says_when_synergy_is_not_sustained(monkeypatch):
    model = ui.ExploreModel(scenario="voluntary_alliance", use_levers=False, seed="0")
    model.run_for(12)
    monkeypatch.setattr(ui.ExploreModel, "regime", property(lambda self: ("synergy", None)))
    text = ui.regime_markdown(model)
    assert "not sustained" in text and "not reached" not in text


def test_text_panels_are_html_written_here_not_solara_markdown():
    """solara.Markdown's front end fetches KaTeX through Solara's CDN proxy on every render,
    and solara-assets does not ship it: offline, a 404 and a script error on the page."""
    import solara

    model = ui.ExploreModel()
    for panel, heading in ((ui.RegimePanel, "<h3>Month 0 of 60</h3>"),
                           (ui.LeversPanel, "<h3>What the levers do</h3>")):
        element = panel(model)
        assert element.component is solara.HTML
        assert heading in element.kwargs["unsafe_innerHTML"]
        assert "<strong>" in element.kwargs["unsafe_innerHTML"]


def test_lever_notes_cite_cmoc_ids_of_the_theory(root):
    # docs/ODD.md traces every CMOC id of docs/THEORY.md
    known = set(re.findall(r"C\d\d", (root / "docs" / "ODD.md").read_text(encoding="utf-8")))
    text = ui.levers_markdown()
    cited = set(re.findall(r"C\d\d", text))
    assert cited and cited <= known
    for lever in ui.LEVERS:
        assert lever.label in text


@pytest.mark.parametrize("module", ["model", "model.cli"])
def test_ui_refuses_a_port_in_use_with_one_line(module):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", module, "ui", "--port", str(port)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("icsabm: error: cannot listen on 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_ui_rejects_a_bad_port():
    result = subprocess.run([sys.executable, "-m", "model", "ui", "--port", "70000"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "must be in 1..65535" in result.stderr


def test_a_small_partnership_shows_names_and_visible_ties():
    small = ui.ExploreModel(scenario="mandated_buddying")
    svg = ui.network_svg(small)
    for org in small.organisations:
        assert f">{org.name.replace('_', ' ')}</text>" in svg
    width, opacity = re.search(r'<line [^>]*stroke-width="([\d.]+)" stroke-opacity="([\d.]+)"',
                               svg).groups()
    assert float(width) >= 2 and float(opacity) >= 0.3  # low trust is still a visible tie
    # the names fit between the title (baseline 15, 13 px) and the foot of the view
    for scenario in ("voluntary_alliance", "merger", "mandated_buddying"):
        svg = ui.network_svg(ui.ExploreModel(scenario=scenario))
        height = float(re.search(r'<svg [^>]*height="(\d+)"', svg).group(1))
        names = [float(y) for y in re.findall(r'<text x="[^"]*" y="([^"]*)" font-size="10"', svg)]
        assert names and all(15 + 13 < y < height - 4 for y in names), (scenario, names)
    large = ui.ExploreModel()
    assert not any(f">{org.name.replace('_', ' ')}</text>" in ui.network_svg(large)
                   for org in large.organisations)


def test_ui_rejects_an_empty_host():
    """`--host ""` (an unset shell variable) bound every interface and printed http://:8765/:
    the app was open to the network while the student thought it was on loopback."""
    result = subprocess.run([sys.executable, "-m", "model", "ui", "--host", " ", "--port",
                             "70000"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "host ' ' is empty" in result.stderr and "127.0.0.1" in result.stderr


def test_ui_prints_an_address_a_browser_can_open():
    """`--host ::1` printed http://::1:8765/, which no browser opens."""
    assert ui.app_url("::1", 8765) == "http://[::1]:8765/"
    assert ui.app_url("127.0.0.1", 8765) == "http://127.0.0.1:8765/"
    assert ui.app_url("localhost", 80) == "http://localhost:80/"



def test_the_regime_panel_shows_the_regime_in_force_this_month():
    """A timeline can make a partnership statutory: the panel kept saying the regime the
    scenario started with."""
    from model import ICSModel

    model = ICSModel({"regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
                      "timeline": [{"month": 2, "set": {"regime": "mandated"}}]}, seed=1)
    model.run_for(1)
    assert not model.mandated
    assert "active, voluntary regime (scenario)" in ui.regime_markdown(model)
    model.run_for(1)
    assert model.mandated
    assert "active, mandated (formed voluntary) regime (scenario)" in ui.regime_markdown(model)


def _event_lines(svg: str) -> list[tuple[float, float]]:
    """(x1, x2) of the charts' dotted timeline-event lines (not the legend's sample)."""
    from analysis.palette import EVENT_COLOUR

    return [(float(a), float(b)) for a, b in re.findall(
        rf'<line x1="([^"]*)" y1="[^"]*" x2="([^"]*)" y2="[^"]*" stroke="{EVENT_COLOUR}" '
        r'[^>]*stroke-dasharray="[^"]*"><title>', svg)]


def _month_x(svg: str, month: float) -> float:
    """x of `month` on the first panel's month axis of a 60-month run, from its tick labels
    at 0 and 60 (written to 0.1 px)."""
    def tick(m: int) -> float:
        return float(re.findall(rf'<text x="([^"]*)" y="[^"]*" font-size="10" '
                                rf'text-anchor="middle" fill="[^"]*">{m}</text>', svg)[0])

    return tick(0) + (tick(60) - tick(0)) * month / 60


def test_charts_mark_the_timeline_events_before_they_happen():
    """Students could not see when a scenario's timeline changes its context or regime: each
    chart now has a dotted line at each event's month from month 0 on, with a short label."""
    from analysis.palette import EVENT_COLOUR

    assert EVENT_COLOUR.lower() not in {c.lower() for c in REGIME_COLOURS.values()}
    model = ui.ExploreModel(scenario="ics_turbulent")  # funding cut at 30, restored at 42
    assert model.month == 0
    state, output = ui.state_svg(model), ui.output_svg(model)
    lines = _event_lines(state)
    assert [x1 for x1, _ in lines] == [x2 for _, x2 in lines]  # vertical
    assert [x for x, _ in lines] == [pytest.approx(_month_x(state, m), abs=0.1)
                                     for m in (30, 42)]
    assert ">funding 0.6</text>" in state and ">funding 0.8</text>" in state
    assert "<title>month 30: funding 0.6</title>" in state
    assert ">timeline event</text>" in state  # the legend's line for them
    # the output chart: both panels (output per month, cumulative) have the lines
    xs = sorted(x for x, _ in _event_lines(output))
    assert len(xs) == 4 and xs[0] == xs[1] == pytest.approx(_month_x(output, 30), abs=0.1)
    assert ">funding 0.6</text>" in output
    model.run_for(31)  # still there once the month has passed
    assert len(_event_lines(ui.state_svg(model))) == 2


def test_a_regime_event_is_marked_on_the_charts():
    model = ui.ExploreModel(scenario="stp_to_ics")  # voluntary, mandated at month 24
    state = ui.state_svg(model)
    assert [x for x, _ in _event_lines(state)] == [pytest.approx(_month_x(state, 24), abs=0.1)]
    assert ">regime mandated</text>" in state


def test_charts_without_a_timeline_have_no_event_lines():
    model = ui.ExploreModel()
    assert not model.scenario.timeline
    for svg in (ui.state_svg(model), ui.output_svg(model)):
        assert _event_lines(svg) == [] and "timeline event" not in svg


def test_events_after_the_last_month_drawn_are_not_drawn():
    from model import ICSModel

    model = ICSModel("stp_to_ics", seed=1, steps=12)  # the mandate comes at month 24
    assert _event_lines(ui.state_svg(model)) == [] and _event_lines(ui.output_svg(model)) == []


def test_the_built_with_panel_lists_the_timeline():
    text = ui.built_with_markdown(ui.ExploreModel(scenario="stp_to_ics"))
    assert "**Timeline:** month 24 — regime mandated" in text
    text = ui.built_with_markdown(ui.ExploreModel(scenario="ics_turbulent"))
    assert "**Timeline:** month 30 — funding 0.6; month 42 — funding 0.8" in text
    assert "Timeline" not in ui.built_with_markdown(ui.ExploreModel())


def test_timeline_words_are_shown_as_text_not_as_html(monkeypatch):
    monkeypatch.setattr(ui, "timeline_events",
                        lambda scenario, steps=None: [(6, "form <b>x</b> & y")])
    model = ui.ExploreModel()
    for text in (ui.state_svg(model), ui.output_svg(model), ui.built_with_markdown(model)):
        assert "<b>" not in text and "&lt;b&gt;x&lt;/b&gt; &amp; y" in text
    assert len(_event_lines(ui.state_svg(model))) == 1


def test_a_model_run_past_its_scenarios_months_marks_the_events_it_reaches():
    """A model built with more months than its scenario ran an event in the extra months
    without drawing or listing it."""
    from model import ICSModel

    model = ICSModel({"regime": "voluntary", "form": "alliance", "steps": 12,
                      "organisations": {"pcn": 3},
                      "timeline": [{"month": 20, "set": {"regime": "mandated"}}]},
                     seed=1, steps=30)
    assert ui.chart_events(model) == [(20, "regime mandated")]
    assert "**Timeline:** month 20 — regime mandated" in ui.built_with_markdown(model)


def test_the_built_with_panel_escapes_the_scenario_description():
    from model import ICSModel

    model = ICSModel({"regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
                      "description": "<img src=x onerror=alert(1)> & co"}, seed=1)
    text = ui.built_with_markdown(model)
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in text and "<img" not in text
