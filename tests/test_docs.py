"""The documentation says what the code does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.paramdoc import render

ROOT = Path(__file__).resolve().parent.parent
CMOCS = [f"C{i:02d}" for i in (*range(1, 9), *range(10, 20), *range(20, 29), *range(30, 37),
                               40, 41, 42, 43, 50, 51)]


def test_parameter_page_is_current():
    assert (ROOT / "docs" / "PARAMETERS.md").read_text() == render(), \
        "docs/PARAMETERS.md is out of date: run python -m model.paramdoc"


def test_every_cmoc_is_in_the_code_the_odd_and_the_contrasts():
    code = (ROOT / "model" / "kernel.py").read_text() + (ROOT / "model" / "params.py").read_text()
    odd = (ROOT / "docs" / "ODD.md").read_text()
    from analysis.contrasts import CONTRASTS

    ids = {c.cmoc for c in CONTRASTS}
    assert len(CMOCS) == 40
    for cmoc in CMOCS:
        assert cmoc in code, cmoc
        assert f"| {cmoc} |" in odd, cmoc
        assert cmoc in ids, cmoc


def test_odd_names_only_real_parameters():
    import re

    from model.params import PARAM_BY_KEY

    odd = (ROOT / "docs" / "ODD.md").read_text()
    for key in re.findall(r"`((?:context|constants|structure)\.[a-z_]+)`", odd):
        assert key in PARAM_BY_KEY, key


def test_citation_file_matches_the_package():
    import tomllib

    import yaml

    from model import __version__

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == project["version"] == __version__
    assert cff["license"] == project["license"]["text"]
    assert (ROOT / "LICENSE").read_text().startswith(f"{cff['license']} License")
    # the studies the theory is drawn from, as the README's Sources lists them
    years = sorted(r["year"] for r in cff["references"])
    assert years == [2022, 2023, 2024, 2024]
    assert "CITATION.cff" in (ROOT / "README.md").read_text()


def _cited(text: str) -> set[str]:
    """CMOC ids a text cites, ranges such as C20-C23 expanded."""
    import re

    ids = set(re.findall(r"C\d\d", text))
    for first, last in re.findall(r"C(\d\d)\s*[-–]\s*C(\d\d)", text):
        ids |= {f"C{i:02d}" for i in range(int(first), int(last) + 1)}
    return ids


def _functions() -> dict[str, str]:
    """Source (docstring and comments included) of every top-level function of the
    kernels and of the regime classifier, by name (`regimes.` prefixed for the latter)."""
    import ast

    out = {}
    for path, prefix in (("model/kernel.py", ""), ("model/regimes.py", "regimes.")):
        text = (ROOT / path).read_text()
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                out[prefix + node.name] = "\n".join(lines[node.lineno - 1:node.end_lineno])
    return out


def _odd_rows() -> dict[str, tuple[list[str], list[str]]]:
    """ODD §10's table: CMOC id -> (functions named in `code`, keys named in `parameters`)."""
    import re

    rows = {}
    for line in (ROOT / "docs" / "ODD.md").read_text().splitlines():
        m = re.match(r"\| (C\d\d) \| .*? \| (.*?) \| (.*?) \|$", line)
        if m:
            rows[m.group(1)] = (re.findall(r"`([a-z_.]+)`", m.group(2)),
                                re.findall(r"`([a-z_.]+)`", m.group(3)))
    return rows


def test_odd_rows_name_functions_that_carry_the_id():
    """Each function an ODD row names exists and cites that row's CMOC id in its code."""
    functions = _functions()
    rows = _odd_rows()
    assert sorted(rows) == CMOCS
    for cmoc, (names, _) in rows.items():
        assert names, cmoc
        for name in names:
            assert name in functions, f"{cmoc}: ODD names {name}, which is not a function"
            assert cmoc in _cited(functions[name]), f"{cmoc}: {name} does not cite {cmoc}"


def test_odd_rows_name_parameters_that_carry_the_id():
    """Each parameter an ODD row names (wildcards aside) lists that row's CMOC id."""
    from model.params import PARAM_BY_KEY

    for cmoc, (_, keys) in _odd_rows().items():
        for key in keys:
            listed = PARAM_BY_KEY[key].cmoc
            assert cmoc in listed.split(), f"{cmoc}: ODD names {key}, which lists {listed}"


def test_the_python_api_has_a_docstring_on_every_public_member():
    """help() in a notebook: the names README's Python API section uses, and the members
    ICSModel and Organisation add to Mesa's, each say what they are."""
    import inspect

    import model
    from agents.organisation import Organisation
    from model.ics_model import ICSModel

    missing = [name for name in model.__all__ if not inspect.getdoc(getattr(model, name))]
    for cls in (ICSModel, Organisation):
        for name, member in vars(cls).items():
            if not name.startswith("_") and not (getattr(member, "__doc__", None) or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, missing


def test_parameter_page_marks_whole_numbers_and_month_0_context():
    """The loader refuses 6.5 for a month count and a timeline change of context that acts
    only at month 0; the page gave neither rule, so a newcomer met them as errors."""
    from model.params import INTEGER_KEYS, MONTH_ZERO_ONLY, PARAMS

    rows = {line.split("`")[1]: line for line in
            (ROOT / "docs" / "PARAMETERS.md").read_text().splitlines()
            if line.startswith("| `") and "." in line.split("`")[1]}
    for p in PARAMS:
        cells = [c.strip() for c in rows[p.key].split("|")]
        assert cells[3].endswith(", whole number") is (p.key in INTEGER_KEYS), p.key
        assert cells[7].endswith("(month 0 only: a timeline cannot change it)") is (
            p.key in MONTH_ZERO_ONLY), p.key
    text = (ROOT / "docs" / "PARAMETERS.md").read_text()
    assert "A `[[timeline]]` event can change any `context.*` key" in text


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}\n")
    return " ".join(text[start:text.index("\n## ", start + 1)].split())


def test_readme_scenario_files_state_what_the_loader_requires():
    """The section named a roster's columns but not their units (staff? km?), that every
    row needs a size, that positions are drawn in the footprint when absent, or which
    keys are required; nor which keys a timeline may set and when events act."""
    from model.scenario import MAX_ORGANISATIONS

    section = _readme_section("Scenario files")
    for phrase in ("`regime` and `form` are required", "default: the file's name",
                   "staff headcount", "in km", "uniformly in the square of side "
                   "`context.footprint_km`", f"2 to {MAX_ORGANISATIONS} organisations in all",
                   "names unique", "events after the run's last month never happen",
                   "without the `context.` prefix", "at most once a month",
                   "cannot change during a run"):
        assert phrase in section, phrase


# ------------------------------------------------------------------ the shipped theory

THEORY = ROOT / "docs" / "THEORY.md"
SPEC = Path("/work/shared/spec/THEORY.md")  # the team's spec folder, absent on CI


def _theory_sections() -> dict[str, set[int]]:
    """The section numbers of docs/THEORY.md ("5", "5.1"), each with its numbered items."""
    import re

    sections: dict[str, set[int]] = {}
    current = None
    for line in THEORY.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
        elif current is not None and (item := re.match(r"(\d+)\. ", line)):
            current.add(int(item.group(1)))
    return sections


def test_every_theory_section_cited_exists_in_the_shipped_theory():
    import re

    sections = _theory_sections()
    assert {"1", "3", "4", "5", "5.1", "6", "7"} <= set(sections)
    paths = [ROOT / "README.md"]
    for folder in ("model", "agents", "analysis", "docs", "benchmarks", "tests"):
        paths += [*(ROOT / folder).rglob("*.py"), *(ROOT / folder).rglob("*.md")]
    cited = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for number, step in re.findall(r"THEORY §(\d+(?:\.\d+)?)(?: step (\d+))?", text):
            cited += 1
            where = f"{path.relative_to(ROOT)}: THEORY §{number}"
            assert number in sections, where
            assert not step or int(step) in sections[number], f"{where} step {step}"
    assert cited > 200


def test_the_shipped_theory_is_the_teams_spec():
    if not SPEC.exists():
        import pytest

        pytest.skip("the team's spec folder is not on this machine")
    assert THEORY.read_text(encoding="utf-8") == SPEC.read_text(encoding="utf-8"), \
        "docs/THEORY.md differs from the spec: copy the spec's THEORY.md into docs/"


# ------------------------------------------------------------------ ODD §7 against the kernel

def _odd_section(number: str) -> str:
    """The text of ODD's paragraph '**7.1 ...' (or section '## 8. ...'), one line."""
    import re

    text = (ROOT / "docs" / "ODD.md").read_text()
    start = re.search(rf"^(\*\*{re.escape(number)} |## {re.escape(number)}\. )", text, re.M).start()
    end = re.search(r"^(\*\*\d+\.\d+ |## )", text[start + 3:], re.M)
    return " ".join(text[start:start + 3 + (end.start() if end else len(text))].split())


def test_odd_says_a_shocks_capacity_loss_is_a_cut_that_hits_faith_and_trust():
    """ODD §7.1 called only a fall in the funded level a cut, so a reader took shocks to
    spare faith and trust; the kernel counts a shock's capacity loss as a cut (C27)."""
    from model import kernel
    from model import params as P
    from model import state as S
    from model.ics_model import ICSModel

    m = ICSModel("voluntary_alliance", seed=3, network=False,
                 overrides={"context.turbulence_rate": 1.0, "context.turbulence_size": 0.5})
    st = m.state
    arrays = {}
    for cut_faith, cut_trust in ((0.0, 0.0), (0.5, 0.5)):
        org, pair, world, p, rng = (a.copy() for a in (st.org, st.pair, st.world, st.params,
                                                       st.rng))
        p[P.FUNDING_CUT_FAITH], p[P.FUNDING_CUT_TRUST] = cut_faith, cut_trust
        kernel.shocks_and_cuts(org, pair, world, p, rng)
        assert world[S.SHOCKS] == 1.0
        arrays[cut_faith] = (org[S.FAITH], pair[S.TRUST])
    assert (arrays[0.5][0] < arrays[0.0][0]).all()  # no funding fell: the shock's loss did it
    off_diagonal = ~np.eye(st.org.shape[1], dtype=bool)
    assert (arrays[0.5][1][off_diagonal] < arrays[0.0][1][off_diagonal]).all()
    section = _odd_section("7.1")
    assert "a shock's capacity loss also counts as a cut" in section
    assert "min(capacity, turbulence_size · u · capacity)" in section
    assert "clip(1 − funding_cut_trust · cut)" in section


def test_odd_schedule_is_the_order_of_kernel_step():
    """ODD §3 names the kernel functions of a month in the order `kernel.step` calls them
    (it left out the timeline, the context and the expected progress `raise_conflicts`
    reads, computed before it)."""
    import ast
    import re

    text = (ROOT / "docs" / "ODD.md").read_text()
    start = text.index("## 3. Process overview")
    schedule = text[start:text.index("\n## ", start + 1)]
    functions = _functions()
    documented = [name for name in re.findall(r"`([a-z_]+)`", schedule) if name in functions]
    calls = [node for node in ast.walk(ast.parse(functions["step"]))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in functions]
    called = [node.func.id for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset))]
    assert documented == called


def test_odd_regimes_say_when_dissolution_and_the_window_are_judged():
    """ODD §8 put dissolution 'over the final regime_window months'; `classify` judges it
    on the final month alone, before the window, and the window never holds month 0."""
    from model import params as P
    from model.regimes import DISSOLUTION, INERTIA, classify

    p = P.DEFAULTS.copy()  # a 12-month window, dissolution below half of the members
    months = 25
    behaviour, output = np.full(months, 0.9), np.full(months, 0.5)
    members = np.full(months, 10.0)
    members[-1] = 4.0  # eleven months of the window with everyone, the last with 4 of 10
    assert classify(behaviour, output, members, 10.0, p)[0] == DISSOLUTION
    short = np.array([0.9, 0.1, 0.1, 0.1])  # month 0 high, months 1-3 low
    assert classify(short, np.full(4, 0.5), np.full(4, 10.0), 10.0, p)[0] == INERTIA
    section = _odd_section("8")
    assert "judged first and on the final month alone (not on the window)" in section
    assert "never month 0" in section


def test_every_output_column_is_documented_in_the_odd_and_the_readme():
    """The time-series and summary columns beyond the contract's (mean_risk_tolerance,
    real_progress, strain, final_mean_capacity, ...) were named nowhere, nor whether a
    count is the month's or the run's; ODD §8 defines each, the README names each."""
    import re

    from model import state as S

    odd = _odd_section("8")
    text = (ROOT / "README.md").read_text()
    start = text.index("### Inspect the output")
    readme = set(re.findall(r"[a-z_]+", text[start:text.index("\n### ", start + 1)]))
    for name in (*S.METRICS, *S.SUMMARY, *S.ORG_RECORD, "maturity"):
        assert f"`{name}`" in odd, f"ODD §8 does not define {name}"
        assert name in readme, f"README's 'Inspect the output' does not name {name}"


def test_odd_names_every_parameter_and_only_real_ones_in_its_equations():
    """Every parameter of params.py appears in the ODD (the complexity weights were
    written w_partners, w_reg, ... and so named no parameter), and every name in an
    equation of §5 and §7 is a parameter, a kernel function or a state field: a renamed
    or dropped parameter left behind in a formula fails here, not in a reader's hands."""
    import re

    from model import params as P
    from model import state as S

    text = (ROOT / "docs" / "ODD.md").read_text()
    for param in P.PARAMS:
        assert re.search(rf"(?<![a-z_]){param.name}(?![a-z_])", text), \
            f"{param.key} is not in docs/ODD.md"
    known = {p.name for p in P.PARAMS} | set(_functions()) | {
        *S.ORG_FIELDS, *S.PAIR_FIELDS, *S.WORLD_FIELDS}
    equations = text[text.index("## 5. Initialization"):text.index("## 6. Input data")]
    equations += text[text.index("## 7. Submodels"):text.index("## 8. Regimes")]
    for code in re.findall(r"`([^`]+)`", equations):
        for name in re.findall(r"(?<![.\w])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![.\w])", code):
            if re.search(r"_(i|j|ij|ii|kind)$", name):  # a symbol: leadership_j, offset_kind
                continue
            assert name in known, f"ODD names {name!r}, which is no parameter, " \
                                  "kernel function or state field"


def test_the_cmoc_list_is_theory_section_3():
    """The ids the traceability tests walk (`CMOCS`) are exactly those THEORY §3 states,
    so a statement added to the theory cannot go untraced in code, ODD and contrasts."""
    import re

    text = THEORY.read_text(encoding="utf-8")
    catalogue = text[text.index("## 3. "):text.index("## 4. ")]
    assert re.findall(r"^- \*\*(C\d\d)\*\*", catalogue, re.M) == CMOCS


def test_every_knock_out_sets_parameters_of_its_odd_row():
    """ODD §10 says a CMOC's knock-out sets 'the parameters of the table below that encode
    it'; C31's also zeroed constants.trust_loss_tension, which its row did not name."""
    import re
    from fnmatch import fnmatch

    from analysis.contrasts import KNOCKOUTS

    listed = {}  # CMOC id -> the keys of its row's parameters column, wildcards kept
    for line in (ROOT / "docs" / "ODD.md").read_text().splitlines():
        if m := re.match(r"\| (C\d\d) \| .*\| (.*?) \|$", line):
            listed[m.group(1)] = re.findall(r"`([a-z_.*]+)`", m.group(2))
    for cmoc, knocked in KNOCKOUTS.items():
        for key in knocked:
            assert any(fnmatch(key, pattern) for pattern in listed[cmoc]), \
                f"{cmoc}: the knock-out sets {key}, which ODD §10's row does not name"


def test_readme_and_validation_report_tabulate_every_bundled_scenario():
    """docs/VALIDATION.md's regime-share table lacked stp_to_ics, bundled after the report
    was last regenerated, while README (which calls it the current report) had the row."""
    import re

    from model.scenario import bundled_scenarios

    for path in (ROOT / "README.md", ROOT / "docs" / "VALIDATION.md"):
        rows = set(re.findall(r"^\| ([a-z_]+) \| [\d.]+ \[", path.read_text(), re.M))
        assert rows == set(bundled_scenarios()), path.name
