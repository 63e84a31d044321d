"""Theory validation as a report: ``icsabm validate`` (issue 6).

For every CMOC id of THEORY §3 this runs its contrast experiment from
`analysis.contrasts.CONTRASTS` (a baseline scenario, one context change, an
outcome read at a stated month, an expected direction) on paired seeds with
the batch kernel, and judges it as a family:

* per contrast: both arms' outcome, the median paired difference with a
  bootstrap 95% CI, the Vargha-Delaney A (oriented: > 0.5 is the expected
  way) with a paired bootstrap 95% CI, and a one-sided Wilcoxon signed-rank p;
* the p-values of the primary contrasts are Holm-adjusted (family-wise alpha
  `FAMILY_ALPHA` = 0.05 over every CMOC that ran); a CMOC is *supported* when
  its Holm-adjusted p < 0.05 AND A >= the contrast's floor (0.64 unless the
  table says otherwise; the same floor `contrasts.judge` uses);
* the SECONDARY checks (second outcomes, other halves and direct routes of
  some CMOCs) and the emergent mandate checks form a second Holm family; the
  bistability check (C04, C05, C40) reports regime shares with Wilson
  intervals after 240 months and whether the two starts settle apart;
* the THEORY §6 calibration targets and the regime shares of every bundled
  scenario come from `analysis.calibration`;
* robustness: every primary contrast is rerun at `SETTINGS`, perturbations of
  the free constants applied to both arms (the learning rates x0.8 and x1.2,
  the behaviour threshold x0.9 and x1.1), each its own Holm family; a verdict
  is *robust* when all settings agree with it;
* knock-outs (can each verdict fail?): every primary contrast is rerun with
  its own CMOC's rule knocked out in both arms (`contrasts.KNOCKOUTS`), one
  Holm family judged by the same rule; each should be *not supported*. A
  knock-out still supported is reported as a disagreement with its route
  (`contrasts.SURVIVES_KNOCKOUT`); the CMOCs no parameter switches off
  (`contrasts.NOT_KNOCKABLE`) are listed with the reason.

Writes ``validation.parquet`` (one row per CMOC id), ``secondary.parquet``,
``robustness.parquet``, ``knockouts.parquet``, ``report.md`` with
``forest.png``/``forest.pdf``, and ``manifest.json``. The exit status is 0
whenever the report is written, even when a verdict is "not supported": the
report is the product, not a gate.

``python -m analysis.validate --docs`` regenerates ``docs/VALIDATION.md`` and
``docs/validation_forest.png`` (200 replicates, seed 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import calibration
from analysis.contrasts import (
    CONTRASTS,
    DEFAULT_REPLICATES,
    EMERGENT_MANDATE,
    KNOCKOUTS,
    NOT_KNOCKABLE,
    SECONDARY,
    SETTLED_HIGH,
    SETTLED_LOW,
    SURVIVES_KNOCKOUT,
    Bistability,
    Contrast,
    ContrastResult,
    WithinRun,
    bistability,
    bootstrap_a12_ci,
    holm_adjust,
    knockout_text,
    run_contrast,
    run_knockout,
    scaled,
    wilcoxon_one_sided,
)
from analysis.palette import OKABE_ITO
from model.scenario import MAX_SEED, ScenarioError, shown, whole_number

FAMILY_ALPHA = 0.05
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"
DOCS_COMMAND = "python -m analysis.validate --docs"

#: The CMOC groups of THEORY §3 and, per id, its statement in short.
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Initial conditions", (
        ("C01", "mandated regime lowers initial trust"),
        ("C02", "mandated regime lowers legitimacy and so initial faith"),
        ("C03", "stakeholder involvement raises legitimacy and so faith"),
        ("C04", "history of competition lowers initial trust"),
        ("C05", "prior successful collaboration raises initial trust"),
        ("C06", "mistrust of regulators lowers trust and faith"),
        ("C07", "task complexity (partners, size, mix, regulation, deprivation) lowers faith"),
        ("C08", "resources raise perceived capacity and so faith"),
    )),
    ("Trust, confidence and risk", (
        ("C10", "trust raises risk tolerance and so collaborative behaviour"),
        ("C11", "formalisation raises confidence, which stands in for trust"),
        ("C12", "over-formalisation of voluntary, loose forms lowers trust"),
        ("C13", "communication between compatible cultures raises trust"),
        ("C14", "geographic distance lowers communication"),
        ("C15", "complexity (many or large partners) lowers communication"),
        ("C16", "shared vision lowers conflict (and raises trust and faith)"),
        ("C17", "power imbalance lowers the weaker partner's trust"),
        ("C18", "collaborative leadership raises trust and faith"),
        ("C19", "autonomy protects sovereignty and so trust"),
    )),
    ("Faith and progress", (
        ("C20", "perceived progress raises faith; stalled voluntary partnerships dissolve"),
        ("C21", "early quick wins raise progress, trust and faith"),
        ("C22", "over-ambition lowers perceived progress and so faith"),
        ("C23", "evaluation makes perceived progress track real progress"),
        ("C24", "leadership turnover lowers faith and resets trust-building"),
        ("C25", "champions spread faith across the partnership"),
        ("C26", "peer pressure sharpens the progress-faith link"),
        ("C27", "a capacity cut or withheld funding lowers faith and trust"),
        ("C28", "collaboration first costs capacity before it pays back"),
    )),
    ("Conflict", (
        ("C30", "cultural incompatibility with intense communication raises conflict"),
        ("C31", "conflict lowers trust and faith"),
        ("C32", "conflict resolution and accountability dampen conflict's effect"),
        ("C33", "slow progress raises conflict"),
        ("C34", "cross-sector partnerships have a larger cultural divide"),
        ("C35", "cultural due diligence raises integration and so trust"),
        ("C36", "severe unresolved conflict ends voluntary membership"),
    )),
    ("Behaviour and performance", (
        ("C40", "high trust and faith lead to collaborative behaviour (synergy)"),
        ("C41", "collaborative success feeds trust again"),
        ("C42", "collaborative behaviour produces joint performance"),
        ("C43", "transaction costs keep early output slow"),
    )),
    ("System turbulence and opportunity", (
        ("C50", "turbulence pulls organisations inward: lower capacity and behaviour"),
        ("C51", "economic pressure lowers capacity for collaborative work"),
    )),
)
STATEMENT = {cmoc: text for _, items in GROUPS for cmoc, text in items}
GROUP_OF = {cmoc: group for group, items in GROUPS for cmoc, _ in items}
CMOC_IDS = tuple(STATEMENT)

#: CMOC ids with no contrast experiment, and why. Empty: every id of THEORY §3
#: has exactly one contrast in `CONTRASTS`. An exempt id still gets a report row.
EXEMPT: dict[str, str] = {}

#: What a CMOC states that its primary contrast does not test (honest scope notes).
SCOPE: dict[str, str] = {
    "C06": "faith half: SECONDARY check",
    "C07": "only the number of partners is varied; size, sector mix, regulation, "
           "deprivation, IT and aims enter the same complexity index untested here",
    "C10": "no context lever: initial trust is knocked up through constants.trust_base",
    "C11": "confidence itself, and 'most in mandated or integrative forms' (a mandate, and "
           "a merger vs a network, at the same formalisation): SECONDARY checks",
    "C12": "only the informal network form is tested",
    "C13": "the reversal with conflict running (communication lowers trust) is encoded "
           "(constants.trust_loss_tension) but too weak to test: its knock-out moves mean "
           "trust at month 24 by 0.001 to 0.004 (A 0.52 to 0.55 in ics_mandated, "
           "ics_mandated_supported and voluntary_alliance, with and without shared roles "
           "0.9), since tension lasts a few months after a rare unresolved conflict",
    "C16": "conflict; faith (the faith anchor's vision term, month 0): SECONDARY; the "
           "trust consequence of less conflict is not tested on its own",
    "C17": "only a size gap is tested (not unequal resources)",
    "C18": "the total effect of the context lever (leadership also raises faith and culture "
           "drift, which feed trust); the direct trust term alone, and faith: SECONDARY; "
           "negative leadership is the low end of the same lever",
    "C20": "leaving over grievances (C36) is off in both arms, so members leave through low "
           "faith alone; under a mandate nobody may leave (a rule of the model), so the "
           "mandated arm keeps every member by construction; progress raising faith and "
           "stalled progress lowering it: SECONDARY checks",
    "C21": "faith; trust: SECONDARY; avoiding inertia is not tested",
    "C22": "the over-ambition side of the optimum; the timid side (the faith anchor's "
           "inverted U, month 0): SECONDARY; in this contrast the faith anchor's own "
           "ambition term (also C22) and ambition's share of complexity (C07) are 0 in both "
           "arms, so the route tested is the higher bar progress is judged against; with "
           "that bar at 0 the contrast fails (tests/test_cmoc.py)",
    "C24": "faith; the trust reset (knock-out of constants.turnover_trust_reset): "
           "SECONDARY",
    "C25": "the outcome is the faith of the members who are not champions (champions also "
           "have more faith themselves, through the faith anchor, which is not spreading); "
           "with faith diffusion off the contrast fails (tests/test_cmoc.py)",
    "C26": "falling-behind half: SECONDARY check",
    "C27": "trust half: SECONDARY check",
    "C28": "within-run: capacity at month 6 vs month 0 of the same runs, with C43's "
           "transaction cost off in both arms (with it on, the dip held without the cost of "
           "acting); with constants.behaviour_cost 0 as well the contrast fails "
           "(tests/test_cmoc.py); paying back (knock-out of constants.return_share): "
           "SECONDARY",
    "C30": "no context lever for incompatibility alone: knock-out of "
           "constants.conflict_culture with shared roles 0.9 in both arms; that conflict "
           "needs contact: SECONDARY; how incompatibility and contact interact (the conflict "
           "chance is their product in the model) is not tested separately",
    "C31": "no context lever: conflict knocked out through constants.conflict_rate, its "
           "total effect (the trust cut of unresolved conflicts and the tension it leaves); "
           "faith: SECONDARY",
    "C32": "resolution strength; accountability (with resolution 0.9, its route to "
           "confidence off): SECONDARY",
    "C33": "a failed joint task is not modelled separately from slow progress",
    "C34": "lower trust and more conflict: SECONDARY checks",
    "C35": "integration itself: SECONDARY; inclusive leadership untested",
    "C40": "the total effect of a high-trust context (it raises faith too); trust's own route "
           "to behaviour is C10's contrast; task achievement (synergy share) is shown by the "
           "bistability check",
    "C41": "no context lever: knock-out of constants.trust_from_success",
    "C42": "the three performance domains are one output measure",
    "C43": "no context lever: knock-out of constants.transaction_cost, read on capacity; "
           "output slow at first (months 1-12 vs 37-48 of the same runs): SECONDARY; the "
           "transaction costs' own effect on early output is small in the model (knock-out, "
           "voluntary_alliance, months 1-12: -0.007, A = 0.57) because capacity limits "
           "behaviour only below constants.capacity_reference",
    "C50": "behaviour half: SECONDARY; breaking stable collaborations: calibration target",
    "C51": "economic pressure; shared roles raising communication: SECONDARY; a "
           "competitive culture is not a separate lever",
}

def smallest_p(pairs: int) -> float:
    """The smallest one-sided Wilcoxon signed-rank p-value `pairs` paired differences can
    give (all of one sign, distinct sizes), as `contrasts.run_contrast` computes it."""
    return wilcoxon_one_sided(np.arange(1.0, pairs + 1.0), +1)


#: The per-month learning rates of THEORY §5 (trust, faith, culture, capacity and
#: perceived progress move by these each month). Decays (shares left after a
#: month) and probabilities are not learning rates and are left alone.
LEARNING_RATES = (
    "constants.trust_from_communication",
    "constants.trust_from_leadership",
    "constants.trust_from_success",
    "constants.trust_loss_tension",
    "constants.trust_loss_power",
    "constants.trust_loss_overformalisation",
    "constants.culture_drift",
    "constants.capacity_relaxation",
    "constants.progress_rate",
    "constants.faith_from_progress",
    "constants.faith_anchor_rate",
    "constants.faith_diffusion",
)


@dataclass(frozen=True)
class Setting:
    """A perturbation of free constants: each key is multiplied by its factor."""

    name: str
    doc: str
    factors: dict[str, float]


SETTINGS: tuple[Setting, ...] = (
    Setting("rates x0.8", "every learning rate -20%", dict.fromkeys(LEARNING_RATES, 0.8)),
    Setting("rates x1.2", "every learning rate +20%", dict.fromkeys(LEARNING_RATES, 1.2)),
    Setting("threshold x0.9", "behaviour threshold -10% (0.54): collaborating is easier",
            {"constants.behaviour_threshold": 0.9}),
    Setting("threshold x1.1", "behaviour threshold +10% (0.66): collaborating is harder",
            {"constants.behaviour_threshold": 1.1}),
)


# --------------------------------------------------------------------------- running


@dataclass
class Check:
    """One contrast's result judged within its Holm family."""

    result: ContrastResult
    p_holm: float
    supported: bool
    a12_low: float
    a12_high: float

    @property
    def contrast(self) -> Contrast:
        return self.result.contrast

    @property
    def verdict(self) -> str:
        return "supported" if self.supported else "not supported"


def replicates_for(c: Contrast, replicates: int) -> int:
    """Paired replicates of `c` for a report at `replicates`: scaled by the contrast's own
    share of `DEFAULT_REPLICATES` (C17 and C19 read one noisy organisation and ask 4x)."""
    return max(1, round(replicates * c.replicates / DEFAULT_REPLICATES))


def judge_family(results: list[ContrastResult], seed: int = 0,
                 intervals: bool = True) -> list[Check]:
    """Holm-adjust a family of results and give each its verdict.

    Supported: Holm-adjusted one-sided Wilcoxon p < `FAMILY_ALPHA` and Vargha-Delaney
    A (oriented) >= the contrast's floor. `intervals`: also bootstrap A's 95% CI.
    """
    adjusted = holm_adjust([r.p_value for r in results]) if results else []
    checks = []
    for r, p in zip(results, adjusted, strict=True):
        lo, hi = (bootstrap_a12_ci(r.baseline, r.changed, r.contrast.direction, seed=seed)
                  if intervals else (math.nan, math.nan))
        ok = bool(p < FAMILY_ALPHA and r.a12 >= r.contrast.a12_floor)
        checks.append(Check(r, float(p), ok, lo, hi))
    return checks


def run_family(contrasts: Iterable[Contrast], replicates: int, seed: int,
               factors: dict[str, float] | None = None,
               unchecked: dict[str, float] | None = None,
               tick: Callable[[], None] = lambda: None) -> list[Check]:
    """Run contrasts on paired seeds (optionally with scaled constants) and judge them."""
    results = []
    for c in contrasts:
        if factors:
            c = scaled(c, factors)
        results.append(run_contrast(c, replicates_for(c, replicates), seed, unchecked))
        tick()
    return judge_family(results, seed, intervals=not factors)


def run_knockouts(contrasts: Iterable[Contrast], replicates: int, seed: int,
                  unchecked: dict[str, float] | None = None,
                  tick: Callable[[], None] = lambda: None) -> list[Check]:
    """Rerun every contrast whose CMOC has a knock-out with that rule knocked out in both
    arms (`contrasts.run_knockout`), as one Holm family: can each verdict fail?"""
    results = []
    for c in contrasts:
        if c.cmoc in KNOCKOUTS:
            results.append(run_knockout(c, replicates_for(c, replicates), seed, unchecked))
            tick()
    return judge_family(results, seed, intervals=False)


@dataclass
class Validation:
    """Everything a validation report shows."""

    replicates: int
    seed: int
    only: tuple[str, ...] | None
    primary: list[Check]
    secondary: list[Check] = field(default_factory=list)
    robustness: dict[str, list[Check]] = field(default_factory=dict)
    #: Each primary contrast with its own CMOC's rule knocked out (expected: not supported).
    knockouts: list[Check] = field(default_factory=list)
    bistability: Bistability | None = None
    targets: list[tuple[str, bool, str]] = field(default_factory=list)
    shares: pd.DataFrame | None = None
    seconds: float = 0.0
    started: str = ""
    #: The code's commit when the validation ran (before the report is written, which
    #: would otherwise make a clean checkout read as "-dirty").
    commit: str | None = None

    def check(self, cmoc: str) -> Check | None:
        return next((k for k in self.primary if k.contrast.cmoc == cmoc), None)

    def knockout(self, cmoc: str) -> Check | None:
        """The knock-out of `cmoc`'s contrast (None: not run, or not knockable)."""
        return next((k for k in self.knockouts if k.contrast.cmoc == cmoc), None)

    @property
    def cmocs(self) -> tuple[str, ...]:
        """The ids this report covers (all of THEORY §3 unless `only`)."""
        return self.only or CMOC_IDS


def chosen_contrasts(only: Iterable[str] | None) -> tuple[Contrast, ...]:
    """The primary contrasts of `only` (all when None), in THEORY order."""
    wanted = set(CMOC_IDS if only is None else only)
    return tuple(c for c in CONTRASTS if c.cmoc in wanted)


def validate(replicates: int = 200, seed: int = 0, only: Iterable[str] | None = None,
             robustness: bool = True, calibrate: bool = True,
             unchecked: dict[str, float] | None = None,
             progress: Callable[[int], Callable[[], None]] | None = None) -> Validation:
    """Run the whole validation and return it (nothing is written).

    Args:
        replicates: paired replicates of a standard contrast (`replicates_for`), a whole
            number >= 1.
        seed: master seed, a whole number in [0, 2^63 - 1]; every contrast uses
            replicate seeds 0..R-1 of it.
        only: CMOC ids to run (default all), as ``"C05,C13"`` or ``["C05", "C13"]``;
            the secondary checks of those ids run too; the emergent checks and
            bistability only in a full run.
        robustness: also rerun the primary contrasts at every `SETTINGS`.
        calibrate: also check the THEORY §6 targets and regime shares.
        unchecked: constants written into every contrast arm past validation (a
            test hook for breaking a mechanism on purpose; see `Contrast.load`); a
            knock-out's own constants are written over them.
        progress: called once with the number of steps; returns the tick.

    Raises:
        ScenarioError (a ValueError): a bad `replicates`, `seed` or `only`, named, before
            anything runs.
    """
    from model.provenance import git_commit

    replicates = whole_number("replicates", replicates, 1)
    seed = whole_number("seed", seed, 0, MAX_SEED)
    only = checked_ids(only)
    start = time.perf_counter()
    started = dt.datetime.now(dt.UTC).isoformat()
    commit = git_commit()
    primary = chosen_contrasts(only)
    extra = tuple(c for c in SECONDARY if c.cmoc in {p.cmoc for p in primary})
    if only is None:
        extra += EMERGENT_MANDATE
    settings = SETTINGS if robustness else ()
    knockable = sum(c.cmoc in KNOCKOUTS for c in primary)
    steps = len(primary) * (1 + len(settings)) + knockable + len(extra) + (
        (3 if only is None else 2) if calibrate else 0)
    tick = progress(steps) if progress else (lambda: None)

    v = Validation(replicates, seed, only, run_family(primary, replicates, seed,
                                                      unchecked=unchecked, tick=tick))
    v.secondary = run_family(extra, replicates, seed, unchecked=unchecked, tick=tick)
    v.knockouts = run_knockouts(primary, replicates, seed, unchecked, tick)
    for s in settings:
        v.robustness[s.name] = run_family(primary, replicates, seed, s.factors, unchecked,
                                          tick)
    if calibrate:
        v.targets = calibration.targets(replicates, seed)
        tick()
        v.shares = calibration.regime_shares(replicates, seed)
        tick()
        if only is None:
            v.bistability = bistability(replicates=replicates, seed=seed)
            tick()
    v.seconds = time.perf_counter() - start
    v.started = started
    v.commit = commit
    return v


# --------------------------------------------------------------------------- tables


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _mix(arm: dict[str, Any]) -> dict[str, int]:
    """Organisation counts of an arm's ``organisations.<kind>`` overrides."""
    return {k.split(".", 1)[1]: int(v) for k, v in arm.items()
            if k.startswith("organisations.") and k != "organisations.roster"}


def _same_mix(a: dict[str, int], b: dict[str, int]) -> bool:
    """Whether two kind mixes are proportional (one is the other scaled)."""
    ta, tb = sum(a.values()), sum(b.values())
    return bool(ta and tb) and all(a[k] * tb == b.get(k, 0) * ta for k in a)


def _arm_text(c: Contrast, arm: dict[str, Any], detail: bool = False) -> str:
    """One arm's overrides in words (rosters by file name, kind mixes by size, and by
    kind when `detail`)."""
    parts = []
    mix = _mix(arm)
    if mix:
        counts = ", ".join(f"{k} {n}" for k, n in mix.items() if n)
        parts.append(f"{sum(mix.values())} partners" + (f" ({counts})" if detail else ""))
    for key, value in arm.items():
        if key == "timeline":
            events = [f"m{e['month']}: " + ", ".join(f"{k}={_number(x)}"
                                                      for k, x in e["set"].items())
                      for e in value]
            parts.append("timeline " + ("; ".join(events) if events else "none"))
        elif key == "organisations.roster":
            parts.append(f"roster {Path(value).name}")
        elif not key.startswith("organisations."):
            parts.append(f"{key.split('.', 1)[-1]}={_number(value)}")
    return ", ".join(parts)


def change_text(c: Contrast) -> str:
    """The context change of a contrast: scenario, baseline -> changed, shared setting."""
    scenario = c.scenario if isinstance(c.scenario, str) else "inline scenario"
    if isinstance(c.outcome, WithinRun):
        text = f"{scenario}: two windows of the same runs"
    else:
        same = _same_mix(_mix(c.baseline), _mix(c.changed))
        text = (f"{scenario}: {_arm_text(c, c.baseline, not same)} → "
                f"{_arm_text(c, c.changed, not same)}" + (" (same mix)" if same else ""))
    if c.shared:
        text += f" (both arms: {_arm_text(c, c.shared)})"
    return text


def _check_row(k: Check) -> dict[str, Any]:
    c, r = k.contrast, k.result
    row = r.row()
    del row["cmoc"], row["supported"]  # the table has its own id column and the Holm verdict
    return {
        "claim": c.claim,
        "scenario": c.scenario if isinstance(c.scenario, str) else "inline",
        "context_change": change_text(c),
        "month": c.outcome.last_month,
        **row,
        "a12_ci_low": k.a12_low,
        "a12_ci_high": k.a12_high,
        "p_holm": k.p_holm,
        "verdict": k.verdict,
    }


def validation_table(v: Validation) -> pd.DataFrame:
    """One row per CMOC id the report covers (exempt ids included, with their reason)."""
    rows = []
    for cmoc in v.cmocs:
        row: dict[str, Any] = {"group": GROUP_OF[cmoc], "cmoc": cmoc,
                               "statement": STATEMENT[cmoc]}
        k = v.check(cmoc)
        if k is None:
            row["verdict"] = "exempt"
            row["exemption"] = EXEMPT.get(cmoc, "")
        else:
            row.update(_check_row(k))
            row["exemption"] = ""
            extra = [s for s in v.secondary if s.contrast.cmoc == cmoc]
            row["secondary"] = (f"{sum(s.supported for s in extra)}/{len(extra)} supported"
                                if extra else "")
            if v.robustness:
                agree = [_find(checks, cmoc).supported == k.supported
                         for checks in v.robustness.values()]
                row["robust"] = all(agree)
                row["robustness"] = f"{sum(agree)}/{len(agree)} settings agree"
            row["knockout"] = knockout_verdict(v, cmoc)
        row["scope"] = SCOPE.get(cmoc, "")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "robust" in frame:
        frame["robust"] = frame["robust"].astype("boolean")
    return frame


def _find(checks: list[Check], cmoc: str) -> Check:
    return next(k for k in checks if k.contrast.cmoc == cmoc)


def secondary_table(v: Validation) -> pd.DataFrame:
    """One row per secondary or emergent check."""
    return pd.DataFrame([{"cmoc": k.contrast.cmoc, **_check_row(k)} for k in v.secondary])


def knockout_verdict(v: Validation, cmoc: str) -> str:
    """The verdict of `cmoc`'s contrast with its own rule knocked out: "not supported" (the
    verdict can fail), "supported", "cannot be knocked out", or "" (not run)."""
    if cmoc in NOT_KNOCKABLE:
        return "cannot be knocked out"
    k = v.knockout(cmoc)
    return "" if k is None else k.verdict


def knockout_table(v: Validation) -> pd.DataFrame:
    """One row per CMOC whose contrast ran: its knock-out, A, Holm p and verdict, or why it
    cannot be knocked out."""
    rows = []
    for k in v.primary:
        cmoc = k.contrast.cmoc
        ko = v.knockout(cmoc)
        rows.append({
            "cmoc": cmoc,
            "knocked_out": knockout_text(cmoc) if cmoc in KNOCKOUTS else "",
            "a12": ko.result.a12 if ko else math.nan,
            "median_difference": ko.result.median_difference if ko else math.nan,
            "p_holm": ko.p_holm if ko else math.nan,
            "verdict": knockout_verdict(v, cmoc),
            "reason": NOT_KNOCKABLE.get(cmoc, "") or (
                SURVIVES_KNOCKOUT[cmoc].reason if ko and ko.supported
                and cmoc in SURVIVES_KNOCKOUT else ""),
        })
    return pd.DataFrame(rows, columns=["cmoc", "knocked_out", "a12", "median_difference",
                                       "p_holm", "verdict", "reason"])


def robustness_table(v: Validation) -> pd.DataFrame:
    """One row per CMOC and perturbed setting (plus the unperturbed "default")."""
    rows = []
    for name, checks in {"default": v.primary, **v.robustness}.items():
        for k in checks:
            rows.append({"setting": name, "cmoc": k.contrast.cmoc, "a12": k.result.a12,
                         "median_difference": k.result.median_difference,
                         "p_holm": k.p_holm, "verdict": k.verdict})
    return pd.DataFrame(rows, columns=["setting", "cmoc", "a12", "median_difference",
                                       "p_holm", "verdict"])


# --------------------------------------------------------------------------- figure


def forest_plot(v: Validation, paths: Iterable[Path]) -> None:
    """Oriented Vargha-Delaney A of every primary contrast with its paired bootstrap 95%
    CI, grouped as THEORY §3; blue supported, vermillion not supported."""
    from matplotlib.figure import Figure  # no pyplot: no window, no global backend switch

    rows: list[tuple[str, Check | None]] = []
    for group, items in GROUPS:
        ids = [cmoc for cmoc, _ in items if v.check(cmoc) is not None]
        if ids:
            rows.append((group, None))
            rows.extend((cmoc, v.check(cmoc)) for cmoc in ids)
    fig = Figure(figsize=(7.5, 0.24 * len(rows) + 1.3))
    ax = fig.subplots()
    labels = []
    for y, (name, k) in enumerate(rows):
        if k is None:
            labels.append(name.upper())
            continue
        colour = OKABE_ITO["blue"] if k.supported else OKABE_ITO["vermillion"]
        a = k.result.a12
        ax.errorbar(a, y, xerr=[[a - k.a12_low], [k.a12_high - a]], fmt="o", ms=4,
                    color=colour, ecolor=colour, capsize=2, lw=1)
        text = STATEMENT[name]
        labels.append(f"{name} {text if len(text) <= 56 else text[:55] + '…'}")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    for tick, (_, k) in zip(ax.get_yticklabels(), rows, strict=True):
        if k is None:
            tick.set_fontweight("bold")
    ax.axvline(0.5, color=OKABE_ITO["grey"], lw=1)
    ax.axvline(0.64, color=OKABE_ITO["grey"], lw=1, ls="--")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("Vargha-Delaney A, expected direction (0.5: no effect; dashed: floor 0.64)",
                  fontsize=8)
    ax.set_title(f"CMOC contrasts: A with paired bootstrap 95% CI\n"
                 f"{v.replicates} replicates, seed {v.seed}; blue supported, "
                 "vermillion not supported (Holm)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")


# --------------------------------------------------------------------------- report


def _cell(value: Any) -> str:
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(x) for x in row) + " |" for row in rows)]


def _p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _row_cells(k: Check, robust: str | None) -> list[Any]:
    c, r = k.contrast, k.result
    cells = [
        f"**{c.cmoc}**", c.claim, change_text(c), c.outcome.label(),
        "↑" if c.direction > 0 else "↓", f"{np.mean(r.baseline):.3g}",
        f"{np.mean(r.changed):.3g}",
        f"{r.median_difference:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}]",
        f"{r.a12:.2f} [{k.a12_low:.2f}, {k.a12_high:.2f}]", _p(k.p_holm),
        k.verdict if k.supported else f"**{k.verdict}**",
    ]
    if robust is not None:
        cells.append(robust)
    return cells


def report_markdown(v: Validation, forest: str, command: str) -> str:
    """The readable report: verdicts grouped as THEORY §3, then the rest."""
    from model import __version__

    table = validation_table(v)
    counts = table["verdict"].value_counts()
    n_sup, n_not = int(counts.get("supported", 0)), int(counts.get("not supported", 0))
    n_exempt = int(counts.get("exempt", 0))
    met = sum(bool(t[1]) for t in v.targets)
    out = [
        "# Validation of the CMOCs of THEORY.md",
        "",
        f"Regenerate with `{command}`.",
        "",
        f"icsabm {__version__}, commit `{v.commit or 'unknown'}`, master seed {v.seed}, "
        f"{v.replicates} paired replicates per contrast{_more(v)}, generated "
        f"{v.started[:19]} UTC in {v.seconds:.0f} s.",
        "",
        "## Summary",
        "",
        f"- **{n_sup} supported, {n_not} not supported, {n_exempt} exempt** of "
        f"{len(table)} CMOC ids" + (f" (a subset: --only {','.join(v.only)})." if v.only else
                                     " (every id of THEORY §3)."),
    ]
    if v.secondary:
        out.append(f"- Secondary and emergent checks: "
                   f"{sum(k.supported for k in v.secondary)} of {len(v.secondary)} supported.")
    if v.targets:
        out.append(f"- Calibration targets of THEORY §6: {met} of {len(v.targets)} met.")
    if v.robustness:
        robust = int(table["robust"].fillna(False).sum())
        out.append(f"- Robustness: {robust} of {len(v.primary)} verdicts agree under all "
                   f"{len(v.robustness)} perturbed settings.")
    if v.knockouts:
        out.append("- Can each verdict fail: " + _knockout_summary(v) + ".")
    weakest = sorted(v.primary, key=lambda k: k.result.a12)[:5]
    out.append("- Weakest effects (smallest A): " + ", ".join(
        f"{k.contrast.cmoc} A = {k.result.a12:.2f}" for k in weakest) + ".")
    out += [
        "",
        "## How a claim is judged",
        "",
        "Each CMOC is one contrast (`analysis/contrasts.py`, `CONTRASTS`): a bundled "
        "scenario, a baseline and a changed arm that differ only in the stated context, an "
        "outcome read at a stated month, and the expected direction. Both arms run on the "
        "same replicate seeds (common random numbers) with the batch kernel. Reported: both "
        "arms' mean outcome, the median paired difference (changed − baseline) with a "
        "percentile bootstrap 95% CI, the Vargha–Delaney A oriented so that A > 0.5 points "
        "the expected way (paired bootstrap 95% CI), and a one-sided Wilcoxon signed-rank "
        "p-value.",
        "",
        f"**Rule.** Multiple comparisons: Holm–Bonferroni over the {len(v.primary)} primary "
        f"contrasts at family-wise α = {FAMILY_ALPHA}. A CMOC is *supported* when its "
        "Holm-adjusted p < 0.05 **and** A ≥ its floor (0.64, a small-to-medium effect, "
        "Vargha & Delaney 2000; the same floor as `contrasts.judge`). Otherwise *not "
        "supported*. Secondary and emergent checks are a second Holm family; each "
        "robustness setting is its own family. The command exits 0 whenever the report is "
        "written, whatever the verdicts.",
        "",
        "**Why A decides.** Paired seeds make the differences of the two arms nearly "
        "noise-free, so any consistent shift, however small, gets a p-value near the "
        f"smallest the signed-rank test can give with {v.replicates} pairs "
        f"({_p(smallest_p(v.replicates))} when every difference has the same sign; with "
        f"{4 * v.replicates} pairs {_p(smallest_p(4 * v.replicates))}): the p-values "
        "printed say the direction is consistent, not how large the effect is. The "
        "significance test alone therefore rejects almost nothing; the effect-size floor on "
        "A, which compares the two arms' spreads of outcomes, is what a weak mechanism "
        "fails.",
        "",
        f"![Forest plot of effect sizes]({forest})",
        "",
    ]
    by_id = {k.contrast.cmoc: k for k in v.primary}
    header = ["CMOC", "claim tested", "context change", "outcome", "exp.", "baseline",
              "changed", "median Δ [95% CI]", "A [95% CI]", "p (Holm)", "verdict"]
    if v.robustness:
        header.append("robust")
    rob = dict(zip(table["cmoc"], table.get("robustness", [None] * len(table)), strict=True))
    for group, items in GROUPS:
        ids = [cmoc for cmoc, _ in items if cmoc in v.cmocs]
        if not ids:
            continue
        out += [f"## {group}", ""]
        rows = []
        for cmoc in ids:
            if cmoc in by_id:
                rows.append(_row_cells(by_id[cmoc], rob.get(cmoc) if v.robustness else None))
            else:
                rows.append([f"**{cmoc}**", STATEMENT[cmoc], "—", "—", "", "", "", "", "",
                             "", f"exempt: {EXEMPT.get(cmoc, '')}"]
                            + ([""] if v.robustness else []))
        out += _table(header, rows) + [""]
    if v.secondary:
        out += ["## Secondary outcomes and emergent checks", "",
                "Second outcomes of two-outcome CMOCs, the falling-behind half of C26, the "
                "other half or the direct route of C18, C20, C28, C30 and C43, and "
                "the emergent mandate trade-off (a formal mandate raises early behaviour but "
                "leaves lower trust than a loose voluntary arrangement). One Holm family.", ""]
        out += _table(header[:-1] if v.robustness else header,
                      [_row_cells(k, None) for k in v.secondary]) + [""]
    if v.bistability is not None:
        b = v.bistability
        out += ["## Bistability (C04, C05, C40)", "",
                "The same context started from low and from high initial trust (history "
                "of competition 0.9 / prior success 0 vs 0.1 / 0.9, month-0-only keys), run "
                "long enough to settle; bistable when the low start ends mostly in inertia, "
                "the high start mostly in synergy, and the two settle in distinct states "
                f"(median final behaviour below {SETTLED_LOW} and above {SETTLED_HIGH}, "
                "not one middling state either side of the bar):", "",
                f"- {b.describe()}: "
                f"{'two distinct states' if b.settled else 'NOT two distinct states'}", ""]
    if v.targets:
        out += ["## Calibration targets (THEORY §6)", "",
                f"{v.replicates} replicates per scenario "
                f"({max(v.replicates, calibration.TIMING_REPLICATES)} for the alliance, "
                "supported and turbulent ICS), seed "
                f"{v.seed} (`analysis/calibration.py`). The turbulence, weaker-partner and "
                "merger targets are paired one-sided tests at α = 0.01 (same seeds); the "
                "supported ICS's timing is a one-sided Mann-Whitney test on the runs that "
                "reach synergy; buddying's early behaviour is a ratio (over 1.5× without "
                "formalisation).", ""]
        out += [f"- [{'x' if ok else ' '}] {text}: {numbers}" for text, ok, numbers in
                v.targets] + [""]
    if v.shares is not None:
        out += ["Regime shares of the bundled scenarios (95% Wilson intervals):", ""]
        out += _table(list(v.shares.columns), v.shares.values.tolist()) + [""]
    if v.robustness:
        out += ["## Robustness of the verdicts", "",
                "Every primary contrast rerun with free constants perturbed on both arms "
                f"({v.replicates} replicates, seed {v.seed}; each setting its own Holm "
                "family). Learning rates: " + ", ".join(
                    f"`{k.split('.', 1)[1]}`" for k in LEARNING_RATES) + ".", ""]
        out += [f"- **{s.name}**: {s.doc}" for s in SETTINGS if s.name in v.robustness]
        out.append("")
        names = list(v.robustness)
        rows = []
        for k in v.primary:
            cells = [k.contrast.cmoc, f"{k.result.a12:.2f} {_short(k)}"]
            for name in names:
                other = _find(v.robustness[name], k.contrast.cmoc)
                cells.append(f"{other.result.a12:.2f} {_short(other)}")
            rows.append(cells)
        out += _table(["CMOC", "default: A, verdict"] + [f"{n}: A, verdict" for n in names],
                      rows) + ["", "✓ supported, ✗ not supported.", ""]
    if v.knockouts:
        out += knockout_section(v)
    out += ["## Where the model and the theory disagree", ""]
    out += disagreements(v, table)
    out += ["", "### What the contrasts leave untested", "",
            "Parts of a CMOC its primary contrast does not test (some are covered by a "
            "secondary check, the bistability check or a calibration target):", ""]
    out += [f"- **{cmoc}**: {SCOPE[cmoc]}" for cmoc in v.cmocs if cmoc in SCOPE]
    return "\n".join(out) + "\n"


def _knockout_summary(v: Validation) -> str:
    """One sentence: how many contrasts fail with their own rule knocked out."""
    failed = [k for k in v.knockouts if not k.supported]
    survived = [k.contrast.cmoc for k in v.knockouts if k.supported]
    fixed = [k.contrast.cmoc for k in v.primary if k.contrast.cmoc in NOT_KNOCKABLE]
    text = (f"{len(failed)} of {len(v.knockouts)} contrasts are not supported with their "
            "own rule knocked out")
    if survived:
        text += (f"; {len(survived)} still {'is' if len(survived) == 1 else 'are'} "
                 f"({', '.join(survived)}: through other rules, see the disagreements)")
    if fixed:
        text += (f"; {len(fixed)} CMOC{'' if len(fixed) == 1 else 's'} cannot be knocked "
                 f"out ({', '.join(fixed)})")
    return text


def knockout_section(v: Validation) -> list[str]:
    """The report's knock-out table: can each verdict fail?"""
    out = ["## Can each verdict fail? Each contrast with its own rule knocked out", "",
           "Each primary contrast rerun with the parameters that encode its own CMOC "
           "(docs/ODD.md §10) at their neutral value in both arms (`KNOCKOUTS` in "
           "`analysis/contrasts.py`, usually 0; a value outside its allowed range, or a "
           "constant the arms themselves set, is written past validation). A verdict that "
           "cannot fail tests nothing, so each should now be *not supported*: the same "
           f"replicates, seeds and rule as above, one Holm family of {len(v.knockouts)}. "
           "Where the knock-out leaves the two arms the same, A is 0.50 and p is 1. "
           f"{_knockout_summary(v)}.", ""]
    rows = []
    for k in v.primary:
        cmoc = k.contrast.cmoc
        ko = v.knockout(cmoc)
        if cmoc in NOT_KNOCKABLE:
            rows.append([f"**{cmoc}**", "—", f"{k.result.a12:.2f}", "", "",
                         f"cannot be knocked out: {NOT_KNOCKABLE[cmoc]}"])
        elif ko is not None:
            verdict = ("**supported**: another route (see the disagreements)"
                       if ko.supported else ko.verdict)
            rows.append([f"**{cmoc}**", f"`{knockout_text(cmoc)}`", f"{k.result.a12:.2f}",
                         f"{ko.result.a12:.2f}", _p(ko.p_holm), verdict])
    out += _table(["CMOC", "knocked out (both arms)", "A with the rule", "A knocked out",
                   "p (Holm)", "verdict"], rows) + [""]
    return out


def _more(v: Validation) -> str:
    """Which contrasts ran more replicates than the rest (`replicates_for`)."""
    more = [k for k in v.primary if k.result.replicates != v.replicates]
    if not more:
        return ""
    return " (" + ", ".join(f"{k.contrast.cmoc}: {k.result.replicates}" for k in more) + ")"


def _short(k: Check) -> str:
    return "✓" if k.supported else "✗"


def disagreements(v: Validation, table: pd.DataFrame) -> list[str]:
    """Closing note: every verdict, target or check that goes against the theory."""
    lines = []
    for k in v.primary:
        if not k.supported:
            r = k.result
            why = ("the effect points the other way" if r.a12 < 0.5 else
                   f"the effect is below the floor (A = {r.a12:.2f} < {k.contrast.a12_floor})"
                   if r.a12 < k.contrast.a12_floor else
                   f"not significant after Holm (p = {_p(k.p_holm)})")
            lines.append(f"- **{k.contrast.cmoc} not supported**: {k.contrast.claim}; {why}. "
                         "The model, as calibrated, does not reproduce this statement.")
    lines += [f"- **{k.contrast.cmoc} secondary not supported**: {k.contrast.claim} "
              f"(A = {k.result.a12:.2f}, Holm p = {_p(k.p_holm)})."
              for k in v.secondary if not k.supported]
    lines += [f"- **Calibration target missed**: {text} ({numbers})."
              for text, ok, numbers in v.targets if not ok]
    for ko in v.knockouts:
        if ko.supported:
            cmoc = ko.contrast.cmoc
            route = SURVIVES_KNOCKOUT.get(cmoc)
            with_rule = v.check(cmoc)
            line = (f"- **{cmoc} passes with its own rule knocked out**: with "
                    f"`{knockout_text(cmoc)}` in both arms its contrast "
                    f"is still supported (median paired difference "
                    f"{ko.result.median_difference:+.3g}, A = {ko.result.a12:.2f}, Holm p = "
                    f"{_p(ko.p_holm)}; with the rule {with_rule.result.median_difference:+.3g}, "
                    f"A = {with_rule.result.a12:.2f}), so its verdict does not rest on that "
                    "rule alone. ")
            if route is None:
                line += "The route it passes through is not identified."
            else:
                closed = ", ".join(f"{key.split('.', 1)[1]}={value:g}"
                                   for key, value in route.closed_by.items())
                line += (f"The route left: {route.reason}; with `{closed}` as well the "
                         "contrast is not supported (tests/test_cmoc.py).")
            lines.append(line)
    if v.robustness:
        for cmoc in table.loc[table["robust"].eq(False).fillna(False), "cmoc"]:
            k = v.check(cmoc)
            flipped = [f"{name} (A = {_find(checks, cmoc).result.a12:.2f}, Holm p = "
                       f"{_p(_find(checks, cmoc).p_holm)}: {_find(checks, cmoc).verdict})"
                       for name, checks in v.robustness.items()
                       if _find(checks, cmoc).supported != k.supported]
            others = [_find(checks, cmoc) for checks in v.robustness.values()]
            direction_holds = all(o.p_holm < FAMILY_ALPHA and o.result.a12 > 0.5
                                  for o in [k, *others])
            lines.append(f"- **{cmoc} is not robust**: {k.verdict} at the defaults (A = "
                         f"{k.result.a12:.2f}, floor {k.contrast.a12_floor}), but "
                         f"{'; '.join(flipped)}." + (
                             " The direction holds significantly under every setting; only "
                             "the effect-size floor is crossed: a small effect, close to the "
                             "floor." if direction_holds else ""))
    if not lines:  # say only what was checked (--only, --skip-robustness run less)
        held = ["every CMOC's contrast supports its stated direction after Holm adjustment"]
        if v.secondary:
            held.append("every secondary check holds")
        if v.targets:
            held.append("every calibration target holds")
        if v.robustness:
            held.append("no verdict changes under the perturbed settings")
        if v.knockouts:
            held.append("every contrast fails with its own rule knocked out")
        lines.append("None at this seed and replicate count: " + ", ".join(held[:-1])
                     + (" and " if len(held) > 1 else "") + held[-1] + ".")
    for cmoc, reason in EXEMPT.items():
        lines.append(f"- **{cmoc} exempt**: {reason}.")
    return lines


# --------------------------------------------------------------------------- writing


def manifest(v: Validation) -> dict[str, Any]:
    """Provenance of a validation report."""
    import matplotlib
    import numba
    import scipy

    from model import __version__
    from model.batch import numerics_digest

    def arm(value: Any) -> Any:
        return json.loads(json.dumps(value, default=str))

    return {
        "kind": "validation",
        "icsabm_version": __version__,
        "git_commit": v.commit,
        "master_seed": v.seed,
        "replicates": v.replicates,
        "seed_rule": "every contrast runs replicate seeds SeedSequence(master_seed, "
                     "spawn_key=(0, r)) for r < its replicates -> model.rng.replicate_seeds",
        "only": list(v.only) if v.only else None,
        "family_alpha": FAMILY_ALPHA,
        "rule": "supported iff Holm-adjusted one-sided Wilcoxon signed-rank p < 0.05 over "
                "the primary contrasts AND oriented Vargha-Delaney A >= the contrast's floor",
        "robustness_settings": {s.name: s.factors for s in SETTINGS
                                if s.name in v.robustness},
        "knockouts": {k.contrast.cmoc: knockout_text(k.contrast.cmoc) for k in v.knockouts},
        "not_knockable": {cmoc: NOT_KNOCKABLE[cmoc] for cmoc in v.cmocs
                          if cmoc in NOT_KNOCKABLE},
        "contrasts": [{
            "cmoc": k.contrast.cmoc, "claim": k.contrast.claim,
            "scenario": k.contrast.scenario if isinstance(k.contrast.scenario, str)
            else "inline", "baseline": arm(k.contrast.baseline),
            "changed": arm(k.contrast.changed), "shared": arm(k.contrast.shared),
            "steps": k.contrast.steps, "outcome": k.contrast.outcome.label(),
            "direction": k.contrast.direction, "replicates": k.result.replicates,
        } for k in v.primary + v.secondary],
        "counts": validation_table(v)["verdict"].value_counts().to_dict(),
        "calibration_targets_met": [bool(t[1]) for t in v.targets],
        "numba_threads": numba.get_num_threads(),
        "numerics": numerics_digest(),  # equal on a machine that reproduces these bits
        "wall_time_s": round(v.seconds, 3),
        "started_utc": v.started,
        "argv": sys.argv,
        "versions": {"python": platform.python_version(), "numba": numba.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__,
                     "scipy": scipy.__version__, "matplotlib": matplotlib.__version__},
    }


def write_folder(v: Validation, folder: Path, command: str) -> None:
    """Write every output file of a validation into `folder` (which must exist)."""
    validation_table(v).to_parquet(folder / "validation.parquet", index=False)
    secondary_table(v).to_parquet(folder / "secondary.parquet", index=False)
    robustness_table(v).to_parquet(folder / "robustness.parquet", index=False)
    knockout_table(v).to_parquet(folder / "knockouts.parquet", index=False)
    forest_plot(v, [folder / "forest.png", folder / "forest.pdf"])
    (folder / "report.md").write_text(report_markdown(v, "forest.png", command))
    (folder / "manifest.json").write_text(json.dumps(manifest(v), indent=2))


def checked_ids(only: str | Iterable[str] | None, label: str = "only"
                ) -> tuple[str, ...] | None:
    """CMOC ids to run, in THEORY order: a comma-separated text (``"C01,C05"``) or an
    iterable of ids, any case; None (all) when None.

    Raises:
        ScenarioError: no id, an unknown id or one with no contrast, named with `label`.
    """
    if only is None:
        return None
    given = only.split(",") if isinstance(only, str) else (
        list(only) if isinstance(only, Iterable) else [only])
    if not all(isinstance(x, str) for x in given):
        raise ScenarioError(f"{label} = {shown(only)}: expected CMOC ids, e.g. "
                            "'C01,C05' or ['C01', 'C05']")
    ids = tuple(dict.fromkeys(x.strip().upper() for x in given if x.strip()))
    if not ids:
        raise ScenarioError(f"{label} {shown(only)}: expected comma-separated CMOC ids, "
                            "e.g. C01,C05")
    unknown = [x for x in ids if x not in STATEMENT]
    if unknown:
        raise ScenarioError(f"{label}: unknown CMOC id {unknown[0]!r}; known: "
                            f"{CMOC_IDS[0]}..{CMOC_IDS[-1]} as in THEORY.md §3")
    exempt = [x for x in ids if x in EXEMPT]
    if exempt:
        raise ScenarioError(f"{label}: {exempt[0]} has no contrast ({EXEMPT[exempt[0]]})")
    return tuple(x for x in CMOC_IDS if x in ids)


def parse_only(only: str | None) -> tuple[str, ...] | None:
    """CMOC ids of ``--only`` (comma-separated), checked; None when not given."""
    return checked_ids(only, "--only")


def validate_command(replicates: int = 200, seed: int = 0, out: str | None = None,
                     only: str | None = None, robustness: bool = True,
                     quiet: bool = False) -> int:
    """``icsabm validate``: run the validation and write the report folder.

    Returns 0 whenever the report is written (verdicts are findings, not errors).
    Bad input raises `model.cli.CLIError` before anything is run or written.
    """
    from tqdm import tqdm

    from model.cli import CLIError, output_folder

    ids = parse_only(only)
    if replicates < 1:
        raise CLIError(f"--replicates {replicates}: must be at least 1")
    bar = None

    def progress(total: int) -> Callable[[], None]:
        nonlocal bar
        bar = tqdm(total=total, unit="check", desc="validate", file=sys.stderr,
                   disable=quiet or None)
        return lambda: bar.update(1)

    with output_folder(out, "validation") as (tmp, folder):
        try:
            v = validate(replicates, seed, ids, robustness, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        command = " ".join(["icsabm", "validate", *sys.argv[2:]]) if (
            Path(sys.argv[0]).name == "icsabm") else "icsabm validate"
        write_folder(v, tmp, command)
    counts = validation_table(v)["verdict"].value_counts()
    print(f"validated {len(v.primary)} CMOC contrasts x {replicates} replicates "
          f"({v.seconds:.0f} s): {int(counts.get('supported', 0))} supported, "
          f"{int(counts.get('not supported', 0))} not supported, "
          f"{int(counts.get('exempt', 0))} exempt")
    if v.knockouts:
        print(f"can each verdict fail: {_knockout_summary(v)}")
    if v.targets:
        print(f"calibration targets met: {sum(bool(t[1]) for t in v.targets)} of "
              f"{len(v.targets)}")
    print(f"written to {folder}")
    return 0


def write_docs(v: Validation, docs: Path = DOCS_DIR, command: str = DOCS_COMMAND) -> None:
    """Write ``docs/VALIDATION.md`` and ``docs/validation_forest.png``."""
    forest_plot(v, [docs / "validation_forest.png"])
    (docs / "VALIDATION.md").write_text(report_markdown(v, "validation_forest.png", command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true",
                        help="regenerate docs/VALIDATION.md and docs/validation_forest.png")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="report folder (without --docs)")
    parser.add_argument("--only", help="comma-separated CMOC ids (without --docs)")
    parser.add_argument("--skip-robustness", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.docs:
        from model.cli import CLIError

        try:
            return validate_command(args.replicates, args.seed, args.out, args.only,
                                    not args.skip_robustness, args.quiet)
        except (CLIError, ScenarioError) as exc:
            print(f"icsabm: error: {exc}", file=sys.stderr)
            return 2
    if args.out or args.only:
        parser.error("--docs writes the full report to docs/; --out and --only do not apply")
    from tqdm import tqdm

    bar = None

    def progress(total: int) -> Callable[[], None]:
        nonlocal bar
        bar = tqdm(total=total, unit="check", desc="validate", file=sys.stderr,
                   disable=args.quiet or None)
        return lambda: bar.update(1)

    v = validate(args.replicates, args.seed, robustness=not args.skip_robustness,
                 progress=progress)
    bar.close()
    command = DOCS_COMMAND + "".join(
        f" --{name} {value}" for name, value, default in
        (("replicates", args.replicates, 200), ("seed", args.seed, 0)) if value != default)
    write_docs(v, command=command + (" --skip-robustness" if args.skip_robustness else ""))
    print(f"wrote {DOCS_DIR / 'VALIDATION.md'} and {DOCS_DIR / 'validation_forest.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
