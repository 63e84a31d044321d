"""The contrast table and its statistics: one contrast per CMOC, clean arms, known answers."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from analysis.contrasts import (
    CONTRASTS,
    EMERGENT_MANDATE,
    SECONDARY,
    Contrast,
    Outcome,
    WithinRun,
    at,
    bistability,
    bootstrap_median_ci,
    judge,
    org_at,
    run_contrast,
    vargha_delaney_a,
    wilcoxon_one_sided,
)
from model import params as P
from model import state as S

#: The CMOC ids of docs/THEORY.md §3 (test_validate checks analysis.validate.CMOC_IDS, these
#: same ids, against that file).
CMOC_IDS = (
    "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08",
    "C10", "C11", "C12", "C13", "C14", "C15", "C16", "C17", "C18", "C19",
    "C20", "C21", "C22", "C23", "C24", "C25", "C26", "C27", "C28",
    "C30", "C31", "C32", "C33", "C34", "C35", "C36",
    "C40", "C41", "C42", "C43",
    "C50", "C51",
)  # fmt: skip
ALL = CONTRASTS + SECONDARY + EMERGENT_MANDATE


def test_forty_cmoc_ids():
    assert len(CMOC_IDS) == 40 and len(set(CMOC_IDS)) == 40


def test_exactly_one_contrast_per_cmoc():
    ids = [c.cmoc for c in CONTRASTS]
    assert sorted(ids) == sorted(CMOC_IDS)
    assert len(ids) == len(set(ids))


def test_secondary_checks_belong_to_known_cmocs():
    assert {c.cmoc for c in SECONDARY} <= set(CMOC_IDS)


def _allowed_indices(keys) -> set[int]:
    """Packed parameter indices a set of dotted override keys may move."""
    out: set[int] = set()
    for key in keys:
        if key == "regime":
            out.add(P.MANDATED)
        elif key == "form":
            out |= {P.INTEGRATION, P.FORM_REPUTATION}
        elif key.startswith(("context.", "constants.")):
            out.add(P.index(key))
    return out


@pytest.mark.parametrize("contrast", ALL, ids=lambda c: f"{c.cmoc}-{c.outcome.label()}")
def test_arms_differ_only_in_the_changed_keys(contrast: Contrast):
    base, changed = contrast.load("baseline"), contrast.load("changed")
    if contrast.within_run:
        assert contrast.baseline == contrast.changed == {}
        return
    keys = set(contrast.changed)
    assert set(contrast.baseline) == keys
    assert contrast.baseline != contrast.changed
    moved = set(np.flatnonzero(base.packed() != changed.packed()).tolist())
    assert moved <= _allowed_indices(keys), (
        f"parameters moved beyond {sorted(keys)}: "
        f"{sorted(P.PARAMS[i].key for i in moved - _allowed_indices(keys))}")
    same_roster = (
        base.roster.names == changed.roster.names
        and np.array_equal(base.roster.kinds, changed.roster.kinds)
        and np.array_equal(base.roster.size, changed.roster.size, equal_nan=True)
    )
    if not any(k.startswith("organisations.") for k in keys):
        assert same_roster
    else:
        assert not same_roster
    if "timeline" in keys:
        assert base.timeline != changed.timeline
    else:
        assert base.timeline == changed.timeline
    assert (base.regime != changed.regime) == ("regime" in keys)
    assert (base.form != changed.form) == ("form" in keys)


@pytest.mark.parametrize("contrast", ALL, ids=lambda c: f"{c.cmoc}-{c.outcome.label()}")
def test_contrast_is_well_formed(contrast: Contrast):
    assert contrast.direction in (1, -1)
    assert 0.5 < contrast.a12_floor <= 1.0
    assert contrast.steps >= contrast.outcome.last_month
    assert contrast.claim


def test_contrast_rejects_mismatched_arms():
    with pytest.raises(ValueError):
        Contrast("C99", "x", "ics_mandated", {"context.funding": 0.1},
                 {"context.leadership": 0.8}, at("mean_faith", 0), 1, steps=0)
    with pytest.raises(ValueError):
        Contrast("C99", "x", "ics_mandated", {"context.funding": 0.1},
                 {"context.funding": 0.8}, at("mean_faith", 12), 1, steps=6)


# ------------------------------------------------------------------ statistics, known answers


def test_a12_identical_is_one_half():
    x = np.array([0.1, 0.5, 0.5, 0.9, 2.0])
    assert vargha_delaney_a(x, x) == pytest.approx(0.5)
    assert vargha_delaney_a(np.ones(7), np.ones(5)) == pytest.approx(0.5)


def test_a12_fully_separated():
    lo, hi = np.arange(10.0), np.arange(10.0) + 100
    assert vargha_delaney_a(hi, lo) == pytest.approx(1.0)
    assert vargha_delaney_a(lo, hi) == pytest.approx(0.0)


def test_a12_known_value():
    # pairs (x > y): 3 > 1, 3 > 2, 2 > 1, and 2 = 2 counts one half -> 3.5 / 4
    assert vargha_delaney_a([2, 3], [1, 2]) == pytest.approx(3.5 / 4)


def test_wilcoxon_clear_shift_and_none():
    rng = np.random.default_rng(1)
    d = 1.0 + 0.1 * rng.standard_normal(60)
    assert wilcoxon_one_sided(d, +1) < 1e-6
    assert wilcoxon_one_sided(d, -1) > 0.99
    assert wilcoxon_one_sided(-d, -1) < 1e-6
    assert wilcoxon_one_sided(np.zeros(60), +1) == 1.0
    assert wilcoxon_one_sided(np.zeros(60), -1) == 1.0


def test_bootstrap_ci():
    lo, hi = bootstrap_median_ci(np.full(50, 0.3))
    assert lo == pytest.approx(0.3) and hi == pytest.approx(0.3)
    d = np.random.default_rng(2).normal(1.0, 1.0, 200)
    lo, hi = bootstrap_median_ci(d)
    assert lo < np.median(d) < hi
    assert bootstrap_median_ci(d) == (lo, hi)  # fixed seed: reproducible


def test_judge_known_verdicts():
    c = next(x for x in CONTRASTS if x.direction > 0 and not x.within_run)
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, 100)
    shifted = judge(c, base, base + 1.0 + 0.2 * rng.standard_normal(100))
    assert shifted.supported and shifted.a12 > 0.7 and shifted.p_value < 1e-6
    reversed_ = judge(c, base, base - 1.0)
    assert not reversed_.supported and reversed_.a12 < 0.5
    null = judge(c, base, base)
    assert not null.supported and null.a12 == pytest.approx(0.5) and null.p_value == 1.0
    # significant but too small an effect: the A floor still says no
    tiny = judge(c, base, base + 0.01)
    assert tiny.p_value < 0.01 and not tiny.supported


# ------------------------------------------------------------------ outcomes on synthetic arrays


def test_outcome_reductions():
    metrics = np.zeros((2, 5, S.N_METRICS))
    metrics[:, :, S.M_CONFLICTS] = [[0, 1, 2, 3, 4], [0, 0, 0, 0, 10]]
    metrics[:, :, S.M_MEAN_PERCEIVED_PROGRESS] = 0.5
    metrics[:, :, S.M_REAL_PROGRESS] = [[0.5, 0.7, 0.3, 0.5, 0.5], [0.5] * 5]
    empty = np.zeros((2, 0, 3, S.N_ORG_RECORD))
    sizes = np.ones((2, 3))
    assert Outcome("conflicts", 1, 3, "sum").values(metrics, empty, sizes).tolist() == [6, 0]
    assert Outcome("conflicts", 4, 4).values(metrics, empty, sizes).tolist() == [4, 10]
    gap = Outcome("mean_perceived_progress", 1, 2, minus="real_progress")
    assert gap.values(metrics, empty, sizes) == pytest.approx([0.2, 0.0])


def test_org_outcome_selects_smallest():
    organisations = np.zeros((2, 1, 3, S.N_ORG_RECORD))
    organisations[:, 0, :, S.R_TRUST_IN_OTHERS] = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    sizes = np.array([[5.0, 1.0, 9.0], [2.0, 2.0, 2.0]])
    metrics = np.zeros((2, 1, S.N_METRICS))
    smallest = org_at("trust_in_others", 0, "smallest").values(metrics, organisations, sizes)
    assert smallest == pytest.approx([0.2, 0.6])  # ties go to the later roster row
    largest = org_at("trust_in_others", 0, "largest").values(metrics, organisations, sizes)
    assert largest == pytest.approx([0.3, 0.4])
    both = org_at("trust_in_others", 0, "smallest", count=2).values(metrics, organisations, sizes)
    assert both == pytest.approx([0.15, 0.55])
    every = org_at("trust_in_others", 0, "all").values(metrics, organisations, sizes)
    assert every == pytest.approx([0.2, 0.5])


def test_org_outcome_selects_non_champions():
    """C25's outcome: the members who are not champions, by the month-0 flag."""
    organisations = np.zeros((2, 3, 3, S.N_ORG_RECORD))
    organisations[:, 2, :, S.R_FAITH] = [[0.9, 0.2, 0.4], [0.8, 0.8, 0.1]]
    organisations[:, 0, :, S.R_CHAMPION] = [[1, 0, 0], [1, 1, 0]]
    metrics = np.zeros((2, 3, S.N_METRICS))
    sizes = np.ones((2, 3))
    others = org_at("faith", 2, "non_champions").values(metrics, organisations, sizes)
    assert others == pytest.approx([0.3, 0.1])


def test_within_run_reads_one_run():
    c = next(x for x in CONTRASTS if x.cmoc == "C28")
    assert isinstance(c.outcome, WithinRun)
    r = run_contrast(c, replicates=8)
    assert len(r.baseline) == len(r.changed) == 8
    assert not np.array_equal(r.baseline, r.changed)


# ------------------------------------------------------------------ the test can fail


def test_broken_mechanism_is_not_supported():
    """With the history term knocked out, C04's context change has no effect."""
    c04 = next(c for c in CONTRASTS if c.cmoc == "C04")
    broken = replace(c04, shared={**c04.shared, "constants.trust_history": 0.0})
    result = run_contrast(broken, replicates=40)
    assert not result.supported, result.describe()
    assert result.median_difference == 0.0 and result.p_value == 1.0


def test_mechanism_knocked_out_reverses_direction_and_is_not_supported():
    """Without the over-formalisation term, formalisation RAISES trust in a voluntary
    network (confidence -> behaviour -> communication): C12 must then fail."""
    c12 = next(c for c in CONTRASTS if c.cmoc == "C12")
    broken = replace(c12, shared={**c12.shared,
                                  "constants.trust_loss_overformalisation": 0.0})
    result = run_contrast(broken, replicates=40)
    assert not result.supported, result.describe()
    assert result.a12 < 0.5


def test_claiming_the_wrong_direction_is_not_supported():
    """Claiming the opposite direction of a working mechanism is rejected."""
    c05 = next(c for c in CONTRASTS if c.cmoc == "C05")
    flipped = replace(c05, direction=-c05.direction)
    result = run_contrast(flipped, replicates=40)
    assert not result.supported, result.describe()
    assert result.a12 < 0.5 and result.p_value > 0.5


def test_paired_seeds_are_common_random_numbers():
    """An arm compared with itself gives zero paired differences (same seeds both arms)."""
    c = next(c for c in CONTRASTS if c.cmoc == "C18")
    same = replace(c, changed=dict(c.baseline))
    with pytest.raises(ValueError):
        replace(c, changed={})
    r = run_contrast(same, replicates=10)
    assert np.array_equal(r.baseline, r.changed)


# ------------------------------------------------------------------ validation-report helpers


def test_bootstrap_a12_ci_brackets_a_and_is_oriented():
    from analysis.contrasts import bootstrap_a12_ci

    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 80)
    changed = base + 0.5 + rng.normal(0, 1, 80)
    lo, hi = bootstrap_a12_ci(base, changed, +1)
    assert lo < vargha_delaney_a(changed, base) < hi
    lo_down, hi_down = bootstrap_a12_ci(base, changed, -1)
    assert lo_down == pytest.approx(1 - hi, abs=0.02) and hi_down < 0.5
    assert bootstrap_a12_ci(base, changed, +1) == (lo, hi)  # fixed seed


def test_scaled_moves_constants_on_both_arms_only():
    from analysis.contrasts import scaled

    c41 = next(c for c in CONTRASTS if c.cmoc == "C41")  # its arms set the scaled constant
    d = scaled(c41, {"constants.trust_from_success": 1.5, "constants.culture_drift": 0.5})
    assert d.baseline == {"constants.trust_from_success": 0.0}
    assert d.changed["constants.trust_from_success"] == pytest.approx(0.06)
    assert d.shared["constants.culture_drift"] == pytest.approx(0.05)
    with pytest.raises(ValueError):
        scaled(c41, {"context.funding": 1.2})


def test_knocked_out_puts_in_range_values_in_shared_and_the_rest_past_validation():
    """A knock-out inside its allowed range joins the contrast's setting; one outside it
    (C36's unreachable grievance bar) or a constant the arms set (C41's knock-out
    contrast) is written past validation, over both arms."""
    from analysis.contrasts import knocked_out

    by_id = {c.cmoc: c for c in CONTRASTS}
    c28, unchecked = knocked_out(by_id["C28"])
    assert c28.shared == {"constants.transaction_cost": 0.0, "constants.behaviour_cost": 0.0}
    assert unchecked == {}
    c50, unchecked = knocked_out(by_id["C50"])
    assert c50.shared == {"context.turbulence_size": 0.0} and unchecked == {}
    c36, unchecked = knocked_out(by_id["C36"])
    assert unchecked == {"constants.exit_grievance": float("inf")}
    assert c36.shared == by_id["C36"].shared
    c41, unchecked = knocked_out(by_id["C41"])
    assert c41 == by_id["C41"] and unchecked == {"constants.trust_from_success": 0.0}
    assert {c41.load(arm, unchecked).packed()[P.TRUST_FROM_SUCCESS]
            for arm in ("baseline", "changed")} == {0.0}
    c18, _ = knocked_out(by_id["C18"], extra={"constants.culture_drift": 0.0})
    assert c18.shared["constants.culture_drift"] == 0.0
    assert c18.shared["constants.trust_from_leadership"] == 0.0


def test_unchecked_constants_pass_validation_on_both_arms():
    c13 = next(c for c in CONTRASTS if c.cmoc == "C13")
    flipped = {"constants.trust_from_communication": -0.08}
    for arm in ("baseline", "changed"):
        assert c13.load(arm, flipped).packed()[P.TRUST_FROM_COMMUNICATION] == -0.08
    with pytest.raises(ValueError):
        c13.load("baseline", {"context.funding": 2.0})


@pytest.mark.parametrize("kwargs, words", [
    ({"replicates": 0}, "replicates = 0 is out of range"),
    ({"replicates": 2.7}, "replicates = 2.7 is not a whole number"),
    ({"seed": -1}, "seed = -1 is out of range"),
    ({"seed": 1.5}, "seed = 1.5 is not a whole number"),
])
def test_run_contrast_refuses_what_is_not_a_count_or_seed(kwargs, words):
    """`replicates=2.7` ran 2, `replicates=0` judged empty arms with numpy's 'Mean of
    empty slice' warnings, and `seed=-1` failed inside numpy's SeedSequence: now one
    ScenarioError names the argument (bistability checks its own the same way)."""
    from model import ScenarioError

    c = next(x for x in CONTRASTS if x.cmoc == "C05")
    with pytest.raises(ScenarioError, match=re.escape(words)):
        run_contrast(c, **kwargs)
    with pytest.raises(ScenarioError, match=re.escape(words)):
        bistability(**{"replicates": 2, "steps": 2, **kwargs})


@pytest.mark.parametrize("argv, words", [(["--seed", "-1"], "--seed = -1 is out of range"),
                                         (["--replicates", "0"], "--replicates = 0 is out"),
                                         (["--only", "C99"], "--only: unknown CMOC id 'C99'")])
def test_contrasts_script_says_a_bad_argument_in_one_line(capsys, argv, words):
    """`python -m analysis.contrasts --seed -1` ended in a traceback from numpy, and
    `--only C99` ran nothing and said '0 of 0 supported'."""
    from analysis.contrasts import main

    assert main(["--only", "C05", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
