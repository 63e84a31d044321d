"""`icsabm validate` (analysis/validate.py): experiment definitions, Holm, the report
end to end on a few CMOCs, a broken mechanism the validator must reject, bad input."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis.validate as V
from analysis.contrasts import CONTRASTS, holm_adjust, judge, scaled
from model import params as P
from model.batch import numerics_digest
from model.cli import main

THEORY = Path(__file__).resolve().parent.parent / "docs" / "THEORY.md"
COLUMNS = ["group", "cmoc", "statement", "claim", "scenario", "context_change", "outcome",
           "month", "direction", "replicates", "baseline_mean", "changed_mean",
           "median_difference", "ci_low", "ci_high", "a12", "a12_ci_low", "a12_ci_high",
           "a12_floor", "p_value", "p_holm", "verdict", "exemption", "scope"]
FAST = "C05,C13,C28"  # month 0, a 12-month dynamic, a within-run time course


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


# ------------------------------------------------------------------ experiment definitions


def test_every_cmoc_has_exactly_one_experiment_or_a_stated_exemption():
    ids = [c.cmoc for c in CONTRASTS]
    for cmoc in V.CMOC_IDS:
        if cmoc in V.EXEMPT:
            assert V.EXEMPT[cmoc].strip() and cmoc not in ids, cmoc
        else:
            assert ids.count(cmoc) == 1, cmoc
    assert set(ids) <= set(V.CMOC_IDS)
    assert len(V.CMOC_IDS) == len(set(V.CMOC_IDS)) == 40


def test_cmoc_ids_and_groups_match_theory():
    text = THEORY.read_text().split("## 3.")[1].split("## 4.")[0]
    groups, current = {}, None
    for line in text.splitlines():
        found = re.match(r"- \*\*(C\d\d)\*\*", line)
        if found:
            groups.setdefault(current, []).append(found.group(1))
        elif line.strip() and not line.startswith(" ") and not line.startswith("Each"):
            current = line.strip()
    ours = {name: [cmoc for cmoc, _ in items] for name, items in V.GROUPS}
    assert [ids for ids in groups.values()] == list(ours.values())
    for name in ours:  # the group headings, give or take case and "System"
        assert any(name.lower() in heading.lower() or heading.lower() in name.lower()
                   for heading in groups)


def _moved(c) -> set[str]:
    """Keys of the packed parameters the two arms of `c` differ in."""
    base, changed = c.load("baseline").packed(), c.load("changed").packed()
    return {P.PARAMS[i].key for i in np.flatnonzero(base != changed)}


@pytest.mark.parametrize("setting", V.SETTINGS, ids=lambda s: s.name)
def test_perturbed_arms_differ_only_in_the_stated_context(setting):
    """A perturbation moves the same constants on both arms: the arms still differ only
    in their stated context, and every perturbed constant moved by its factor."""
    for c in CONTRASTS:
        d = scaled(c, setting.factors)
        assert set(d.baseline) == set(c.baseline) and set(d.changed) == set(c.changed)
        assert _moved(d) == _moved(c), c.cmoc
        for arm in ("baseline", "changed"):
            before, after = c.load(arm).constants, d.load(arm).constants
            for key, factor in setting.factors.items():
                assert after[key] == pytest.approx(before[key] * factor), (c.cmoc, key)
            untouched = set(before) - set(setting.factors)
            assert all(after[k] == before[k] for k in untouched), c.cmoc


def test_learning_rates_are_monthly_rates_of_the_parameter_table():
    for key in V.LEARNING_RATES:
        assert P.PARAM_BY_KEY[key].unit == "per month", key
        assert "share" not in P.PARAM_BY_KEY[key].doc and "probability" not in \
            P.PARAM_BY_KEY[key].doc, key


def test_replicates_scale_with_the_contrasts_own_share():
    c17 = next(c for c in CONTRASTS if c.cmoc == "C17")
    c05 = next(c for c in CONTRASTS if c.cmoc == "C05")
    assert V.replicates_for(c05, 200) == 200
    assert V.replicates_for(c17, 200) == 800 and V.replicates_for(c17, 1) == 4


# ------------------------------------------------------------------ Holm


def test_holm_against_a_hand_computed_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm_adjust(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm_adjust([0.02]) == pytest.approx([0.02])  # a family of one: unchanged
    assert len(holm_adjust([])) == 0


def test_holm_decides_the_verdict():
    """p = 0.02 with a large effect passes alone, not as the smallest of 40 with p = 0.5."""
    c = next(c for c in CONTRASTS if c.cmoc == "C05")
    base = np.random.default_rng(0).normal(0, 1, 30)
    result = replace(judge(c, base, base + 1.0), p_value=0.02)
    alone = V.judge_family([result])[0]
    crowd = V.judge_family([result] + [replace(result, p_value=0.5)] * 39)[0]
    assert alone.p_holm == pytest.approx(0.02) and alone.supported
    assert crowd.p_holm == pytest.approx(0.8) and not crowd.supported
    small = V.judge_family([replace(judge(c, base, base + 0.01), p_value=1e-9)])[0]
    assert not small.supported  # significant, but A is below the floor


# ------------------------------------------------------------------ end to end


def test_fast_subset_end_to_end(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["validate", "--replicates", "30", "--only", FAST, "--out", str(out),
                 "--quiet"]) == 0
    assert leftovers(tmp_path) == ["report"]
    assert {"validation.parquet", "report.md", "manifest.json", "forest.png",
            "forest.pdf", "secondary.parquet", "robustness.parquet",
            "knockouts.parquet"} <= set(leftovers(out))
    table = pd.read_parquet(out / "validation.parquet")
    assert set(COLUMNS + ["robust", "robustness", "secondary", "knockout"]) <= set(
        table.columns)
    assert (table["knockout"] == "not supported").all()
    assert table["cmoc"].tolist() == FAST.split(",")
    assert (table["verdict"] == "supported").all(), table[["cmoc", "a12", "p_holm"]]
    assert table["robust"].all()
    assert (table["replicates"] == 30).all()
    assert (table["p_holm"] >= table["p_value"]).all()
    robustness = pd.read_parquet(out / "robustness.parquet")
    assert len(robustness) == 3 * (1 + len(V.SETTINGS))
    report = (out / "report.md").read_text()
    for cmoc in FAST.split(","):
        assert f"**{cmoc}**" in report
    assert "Holm" in report and "(forest.png)" in report and "Calibration targets" in report
    assert "no verdict changes under the perturbed settings" in report
    assert "every contrast fails with its own rule knocked out" in report
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "validation" and manifest["replicates"] == 30
    assert manifest["numerics"] == numerics_digest()
    assert manifest["only"] == FAST.split(",") and manifest["family_alpha"] == 0.05
    assert {"icsabm_version", "git_commit", "master_seed", "contrasts", "wall_time_s",
            "robustness_settings"} <= set(manifest)
    assert "3 supported, 0 not supported" in capsys.readouterr().out


def test_a_report_without_robustness_claims_none(tmp_path):
    out = tmp_path / "report"
    assert main(["validate", "--replicates", "30", "--only", FAST, "--out", str(out),
                 "--skip-robustness", "--quiet"]) == 0
    report = (out / "report.md").read_text()
    assert "None at this seed" in report and "perturbed settings" not in report


def test_the_commit_is_read_before_the_report_is_written(tmp_path, monkeypatch):
    """Writing the report changes docs/, so a commit read afterwards would call a clean
    checkout "-dirty": the stamp is the commit when the validation ran."""
    commits = iter(["abc123", "abc123-dirty"])
    monkeypatch.setattr("model.provenance.git_commit", lambda: next(commits))
    v = V.validate(replicates=10, only=("C05",), robustness=False, calibrate=False)
    V.write_docs(v, docs=tmp_path, command="test")
    assert "commit `abc123`," in (tmp_path / "VALIDATION.md").read_text()
    assert V.manifest(v)["git_commit"] == "abc123"


def test_a_not_supported_verdict_is_reported_with_exit_status_0(tmp_path, monkeypatch):
    """A claim in the wrong direction is a finding: the report says so, exit 0."""
    wrong = tuple(replace(c, direction=-c.direction) if c.cmoc == "C05" else c
                  for c in CONTRASTS)
    monkeypatch.setattr(V, "CONTRASTS", wrong)
    out = tmp_path / "report"
    assert main(["validate", "--replicates", "20", "--only", "C05", "--out", str(out),
                 "--skip-robustness", "--quiet"]) == 0
    table = pd.read_parquet(out / "validation.parquet")
    assert table["verdict"].tolist() == ["not supported"]
    assert "robust" not in table
    assert "**C05 not supported**" in (out / "report.md").read_text()


def test_broken_mechanism_is_not_supported():
    """Flip the sign of the communication -> trust term (C13) in a copy of the parameters
    (past validation: the loader rejects negative rates): the validator must say C13 is
    not supported, while a CMOC that does not rest on that term (C05) still is."""
    flipped = {"constants.trust_from_communication":
               -P.PARAM_BY_KEY["constants.trust_from_communication"].default}
    v = V.validate(replicates=30, only=("C05", "C13"), robustness=False, calibrate=False,
                   unchecked=flipped)
    table = V.validation_table(v).set_index("cmoc")
    assert table.loc["C13", "verdict"] == "not supported", table.loc["C13"].to_dict()
    assert table.loc["C13", "a12"] < 0.5  # the effect reverses
    assert table.loc["C05", "verdict"] == "supported"
    assert "**C13 not supported**" in V.report_markdown(v, "forest.png", "test")
    intact = V.validate(replicates=30, only=("C13",), robustness=False, calibrate=False)
    assert intact.check("C13").supported


def test_the_report_shows_whether_each_verdict_can_fail(tmp_path, monkeypatch):
    """Every contrast is rerun with its own rule knocked out: the report tables each
    knock-out (C05 fails, as it should), lists a CMOC no parameter switches off (C34) with
    its reason, and reports a contrast that still passes (C18) as a disagreement, with
    the route it passes through."""
    v = V.validate(replicates=50, only=("C05", "C18", "C34"), robustness=False,
                   calibrate=False)
    assert [k.contrast.cmoc for k in v.knockouts] == ["C05", "C18"]
    assert not v.knockout("C05").supported and v.knockout("C05").result.a12 == 0.5
    assert v.knockout("C18").supported and v.knockout("C34") is None
    table = V.validation_table(v).set_index("cmoc")["knockout"].to_dict()
    assert table == {"C05": "not supported", "C18": "supported",
                     "C34": "cannot be knocked out"}
    V.write_folder(v, tmp_path, "test")
    knockouts = pd.read_parquet(tmp_path / "knockouts.parquet").set_index("cmoc")
    assert knockouts.loc["C05", "knocked_out"] == "trust_prior_success=0"
    assert "culture_drift" not in knockouts.loc["C05", "reason"]
    assert "drift_cultures" in knockouts.loc["C18", "reason"]
    assert "culture centres" in knockouts.loc["C34", "reason"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["knockouts"]["C05"] == "trust_prior_success=0"
    assert set(manifest["not_knockable"]) == {"C34"}
    report = (tmp_path / "report.md").read_text()
    assert "## Can each verdict fail?" in report
    assert ("1 of 2 contrasts are not supported with their own rule knocked out; 1 still is "
            "(C18") in report
    assert "| **C34** | — |" in report and "cannot be knocked out: the divide" in report
    assert "**C18 passes with its own rule knocked out**" in report
    assert "with `culture_drift=0` as well the contrast is not supported" in report
    assert "None at this seed" not in report
    monkeypatch.setattr(V, "SURVIVES_KNOCKOUT", {})
    assert "route it passes through is not identified" in V.report_markdown(v, "f.png", "t")


def test_an_exempt_cmoc_gets_a_row_with_its_reason(monkeypatch):
    monkeypatch.setitem(V.EXEMPT, "C28", "a time course, encoded as a calibration target")
    v = V.Validation(replicates=10, seed=0, only=("C28",), primary=[])
    table = V.validation_table(v)
    assert table.loc[0, "verdict"] == "exempt"
    assert "calibration target" in table.loc[0, "exemption"]
    assert "C28 exempt" in V.report_markdown(v, "forest.png", "test")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("args, words", [
    (["--only", "C05,C99"], "C99"),
    (["--only", " , "], "--only"),
])
def test_bad_only_exits_2_and_writes_nothing(tmp_path, capsys, args, words):
    out = tmp_path / "report"
    assert main(["validate", "--replicates", "5", "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("icsabm: error:") and words in err and err.count("\n") == 1
    assert leftovers(tmp_path) == []


def test_non_empty_out_exits_2_and_is_left_alone(tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["validate", "--replicates", "5", "--only", "C05", "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("icsabm: error:") and "not empty" in err and err.count("\n") == 1
    assert leftovers(tmp_path) == ["report"] and leftovers(out) == ["keep.txt"]


def test_docs_report_is_current_in_form():
    """docs/VALIDATION.md exists, names its command, covers every CMOC and links the plot."""
    docs = Path(V.DOCS_DIR)
    text = (docs / "VALIDATION.md").read_text()
    assert V.DOCS_COMMAND in text.splitlines()[2]
    assert all(f"**{cmoc}**" in text for cmoc in V.CMOC_IDS)
    assert "(validation_forest.png)" in text and (docs / "validation_forest.png").exists()


@pytest.mark.parametrize("kwargs, words", [
    ({"only": ["C05", "C99"]}, "only: unknown CMOC id 'C99'"),
    ({"only": [5]}, "only = [5]: expected CMOC ids"),
    ({"replicates": 0}, "replicates = 0 is out of range"),
    ({"replicates": 2.5}, "replicates = 2.5 is not a whole number"),
    ({"seed": -1}, "seed = -1 is out of range"),
])
def test_validate_in_python_refuses_bad_arguments_before_running(monkeypatch, kwargs, words):
    """`validate(only=["C99"])` ran nothing and reported nothing, `replicates=0` or -5 ran
    one replicate: now one ScenarioError names the argument, before any contrast runs."""
    from model import ScenarioError

    monkeypatch.setattr(V, "run_family", lambda *a, **k: pytest.fail("a contrast ran"))
    with pytest.raises(ScenarioError, match=re.escape(words)):
        V.validate(**{"replicates": 4, **kwargs}, robustness=False, calibrate=False)


def test_validate_takes_only_as_text_or_ids_in_any_case():
    """`only="C05"` was read letter by letter ('C', '0', '5') and ran nothing."""
    for only in ("C05", "c05", ["c05"], (x for x in ["C05"])):
        v = V.validate(replicates=4, only=only, robustness=False, calibrate=False)
        assert [k.contrast.cmoc for k in v.primary] == ["C05"] and v.cmocs == ("C05",)
