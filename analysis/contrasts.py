"""Directional tests of the CMOCs of THEORY §3, one table-driven contrast each.

A `Contrast` states one causal claim as an experiment: a scenario, the
context of a *baseline* arm and of a *changed* arm (dotted overrides, as
``--set`` takes them), an `Outcome` read from every replicate, and the
expected direction. `run_contrast` runs both arms on the SAME replicate seeds
(common random numbers: the kernels draw a fixed budget of random numbers per
month, so paired replicates share their randomness as far as the schedule
allows) and judges the claim by

* the median paired difference (changed - baseline) with a bootstrap 95% CI,
* the Vargha-Delaney A of changed vs baseline, oriented so that A > 0.5
  points the expected way (0.64 = a "small-to-medium" effect, the default
  floor; Vargha & Delaney 2000),
* a one-sided Wilcoxon signed-rank test of the paired differences.

A claim is *supported* when p < `ALPHA` (0.01) and A >= the contrast's floor.

`CONTRASTS` holds exactly one contrast per CMOC id; `SECONDARY` holds the
extra checks of some CMOCs (the other outcome of a two-outcome claim, the
falling-behind half of C26, the other half or the direct route of C18, C20,
C28, C30 and C43); `EMERGENT_MANDATE` and `bistability` are the two emergent
checks. ``python -m analysis.contrasts`` prints the table.

Where a CMOC is a mechanism with no context lever (C10, C30, C31, C41, C43),
the contrast knocks the mechanism's constant in or out and says so in
`claim`. Where a context lever also moves other rules, the contrast holds
those routes off in both arms (`shared`: C20, C22) or reads the outcome where
only the named rule acts (C25). Where the theory is about a time course (C28;
C43's SECONDARY), the outcome is a within-run contrast (`WithinRun`): the two
arms are two windows of the same runs.

Every verdict must be able to fail: `KNOCKOUTS` sets, for each CMOC, the
parameters of its own rule to their neutral value in both arms, and
`run_knockout` reruns the primary contrast so (expected: not supported).
`NOT_KNOCKABLE` lists the rules no parameter switches off (C34, C42) and
`SURVIVES_KNOCKOUT` the contrasts that pass through other rules even so (C10,
C18, C40), each with the route and the parameters that close it.

`holm_adjust` (Holm-Bonferroni), `bootstrap_a12_ci`, `scaled` (a contrast
with free constants multiplied on both arms) and the ``unchecked`` hook of
`run_contrast` (constants written past validation, e.g. a flipped sign) serve
the validation report of `analysis.validate` (``icsabm validate``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from agents.kinds import KIND_NAMES
from analysis.stats import wilson_interval
from model import params as P
from model import state as S
from model.batch import run_arrays, summary_frame
from model.rng import replicate_seeds
from model.scenario import (
    MAX_SEED,
    Scenario,
    ScenarioError,
    load_scenario,
    read_raw,
    resolve_path,
    whole_number,
)

ALPHA = 0.01
DEFAULT_A12_FLOOR = 0.64
DEFAULT_REPLICATES = 100
BOOTSTRAP_RESAMPLES = 2000
ROSTER_DIR = Path(__file__).resolve().parent / "rosters"

_METRIC = {name: i for i, name in enumerate(S.METRICS)}
_RECORD = {name: i for i, name in enumerate(S.ORG_RECORD)}


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """A per-replicate number read from a run's arrays.

    Attributes:
        metric: a `state.METRICS` column, or (when `org` is set) a
            `state.ORG_RECORD` field.
        first, last: the months read (inclusive); one month when equal.
        reduce: ``"mean"`` or ``"sum"`` over the months.
        minus: a second METRICS column; the outcome is then the mean (or
            sum) over the months of ``|metric - minus|``.
        org: which organisations an ORG_RECORD field is averaged over:
            ``"smallest"`` or ``"largest"`` (by size, the `count` smallest or
            largest of each replicate; ties go to the later roster row for
            ``smallest`` and the earlier one for ``largest``), ``"all"``,
            ``"non_champions"`` (the organisations that are not champions, C25:
            champions are drawn at month 0 and stay champions), or a roster row index.
        count: how many organisations ``smallest`` / ``largest`` takes.
    """

    metric: str
    first: int
    last: int
    reduce: str = "mean"
    minus: str | None = None
    org: str | int | None = None
    count: int = 1

    def __post_init__(self) -> None:
        if self.org is None:
            for name in (self.metric, self.minus):
                if name is not None and name not in _METRIC:
                    raise ValueError(f"unknown METRICS column {name!r}")
        else:
            if self.metric not in _RECORD:
                raise ValueError(f"unknown ORG_RECORD field {self.metric!r}")
            if self.minus is not None:
                raise ValueError("a gap outcome reads METRICS columns only")
            if isinstance(self.org, str) and self.org not in ("smallest", "largest", "all",
                                                               "non_champions"):
                raise ValueError(f"unknown organisation selection {self.org!r}")
        if self.reduce not in ("mean", "sum"):
            raise ValueError(f"reduce must be mean or sum, not {self.reduce!r}")
        if not 0 <= self.first <= self.last:
            raise ValueError(f"bad month range {self.first}..{self.last}")

    @property
    def needs_agents(self) -> bool:
        return self.org is not None

    @property
    def last_month(self) -> int:
        return self.last

    def label(self) -> str:
        months = f"m{self.first}" if self.first == self.last else f"m{self.first}-{self.last}"
        name = f"|{self.metric} - {self.minus}|" if self.minus else self.metric
        if self.org is not None:
            who = self.org if not isinstance(self.org, str) or self.count == 1 else (
                f"{self.count} {self.org}")
            name = f"{name} of {'row ' if isinstance(self.org, int) else ''}{who}"
        if self.first == self.last:
            return f"{name} @ {months}"
        return f"{self.reduce} {name} {months}"

    def values(self, metrics: np.ndarray, organisations: np.ndarray,
               sizes: np.ndarray) -> np.ndarray:
        """The outcome of every replicate, float64 `[R]`."""
        months = slice(self.first, self.last + 1)
        if self.org is None:
            series = metrics[:, months, _METRIC[self.metric]]
            if self.minus is not None:
                series = np.abs(series - metrics[:, months, _METRIC[self.minus]])
        else:
            field_ = organisations[:, months, :, _RECORD[self.metric]]  # [R, T, N]
            mask = self.selection(sizes, organisations[:, 0, :, _RECORD["champion"]])  # [R, N]
            series = (field_ * mask[:, None, :]).sum(axis=2) / mask.sum(axis=1)[:, None]
        return series.sum(axis=1) if self.reduce == "sum" else series.mean(axis=1)

    def selection(self, sizes: np.ndarray, champion: np.ndarray) -> np.ndarray:
        """Boolean mask `[R, N]` of the organisations an ORG_RECORD field averages over
        (`sizes` and the `champion` flags are `[R, N]`)."""
        r, n = sizes.shape
        mask = np.zeros((r, n), dtype=bool)
        if self.org == "all":
            mask[:] = True
        elif self.org == "non_champions":
            mask[:] = champion == 0.0
        elif isinstance(self.org, int):
            mask[:, self.org] = True
        else:
            rows = np.arange(n)
            for k in range(r):
                if self.org == "smallest":  # by size, then later rows first
                    order = np.lexsort((-rows, sizes[k]))
                else:  # by size descending, then earlier rows first
                    order = np.lexsort((rows, -sizes[k]))
                mask[k, order[: self.count]] = True
        return mask


@dataclass(frozen=True)
class WithinRun:
    """A within-run contrast: the baseline arm is `early`, the changed arm `late`,
    both read from the same runs (a time course, e.g. C28, C43)."""

    early: Outcome
    late: Outcome

    @property
    def needs_agents(self) -> bool:
        return self.early.needs_agents or self.late.needs_agents

    @property
    def last_month(self) -> int:
        return max(self.early.last_month, self.late.last_month)

    def label(self) -> str:
        return f"{self.late.label()} vs {self.early.label()} (same runs)"


def at(metric: str, month: int) -> Outcome:
    """A METRICS column at one month."""
    return Outcome(metric, month, month)


def mean_over(metric: str, first: int, last: int) -> Outcome:
    """Mean of a METRICS column over months first..last (inclusive)."""
    return Outcome(metric, first, last, "mean")


def sum_over(metric: str, first: int, last: int) -> Outcome:
    """Sum of a METRICS column over months first..last (inclusive)."""
    return Outcome(metric, first, last, "sum")


def gap_over(metric: str, other: str, first: int, last: int) -> Outcome:
    """Mean absolute gap |metric - other| over months first..last (inclusive)."""
    return Outcome(metric, first, last, "mean", minus=other)


def org_at(record: str, month: int, org: str | int = "smallest", count: int = 1) -> Outcome:
    """An ORG_RECORD field at one month, averaged over a selection of organisations."""
    return Outcome(record, month, month, org=org, count=count)


def within(early: Outcome, late: Outcome) -> WithinRun:
    """Late window (changed arm) vs early window (baseline arm) of the same runs."""
    return WithinRun(early, late)


# --------------------------------------------------------------------------- contrasts


@dataclass(frozen=True)
class Contrast:
    """One directional test of a CMOC.

    Attributes:
        cmoc: CMOC id of THEORY §3 ("C04").
        claim: the expected direction in plain English.
        scenario: a bundled scenario name, or a dict of parsed TOML contents.
        baseline: dotted overrides of the baseline arm.
        changed: dotted overrides of the changed arm: the context change. It
            has the same keys as `baseline`. The special key ``"timeline"``
            replaces the scenario's whole ``[[timeline]]`` list.
        outcome: the per-replicate outcome (`Outcome` or `WithinRun`).
        direction: +1 when changed > baseline is expected, -1 when changed < baseline.
        a12_floor: smallest Vargha-Delaney A, in the expected direction, that
            counts as support.
        steps: months to run (>= the outcome's last month; 0 = month 0 only).
        replicates: paired replicates per arm.
        shared: dotted overrides applied to both arms (the setting).
    """

    cmoc: str
    claim: str
    scenario: str | dict
    baseline: dict[str, Any]
    changed: dict[str, Any]
    outcome: Outcome | WithinRun
    direction: int
    a12_floor: float = DEFAULT_A12_FLOOR
    steps: int = 24
    replicates: int = DEFAULT_REPLICATES
    shared: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"{self.cmoc}: direction must be +1 or -1")
        if self.steps < self.outcome.last_month:
            raise ValueError(f"{self.cmoc}: {self.steps} steps do not reach month "
                             f"{self.outcome.last_month}")
        if isinstance(self.outcome, WithinRun):
            if self.baseline != self.changed:
                raise ValueError(f"{self.cmoc}: a within-run contrast runs one arm")
        elif set(self.baseline) != set(self.changed) or not self.changed:
            raise ValueError(f"{self.cmoc}: baseline and changed must set the same keys")
        if set(self.shared) & set(self.changed):
            raise ValueError(f"{self.cmoc}: shared and changed overlap")
        if not 0.5 <= self.a12_floor <= 1.0:
            raise ValueError(f"{self.cmoc}: a12_floor must be in [0.5, 1]")

    @property
    def within_run(self) -> bool:
        return isinstance(self.outcome, WithinRun)

    def overrides(self, arm: str) -> dict[str, Any]:
        """All overrides of one arm ("baseline" or "changed")."""
        own = self.baseline if arm == "baseline" else self.changed
        return {**self.shared, **own}

    def load(self, arm: str, unchecked: dict[str, float] | None = None) -> Scenario:
        """The validated scenario of one arm.

        `unchecked` constants are written after validation, so they may lie
        outside their allowed range (a test hook: a flipped sign breaks a
        mechanism on purpose, to show the validator can fail).
        """
        scenario = load_arm(self.scenario, self.overrides(arm), self.steps)
        if unchecked:
            unknown = set(unchecked) - set(P.keys("constants"))
            if unknown:
                raise ValueError(f"unchecked overrides must be constants, not {sorted(unknown)}")
            scenario = replace(scenario, constants={**scenario.constants, **unchecked})
        return scenario


def _raw_scenario(scenario: str | dict) -> dict:
    """Parsed TOML contents of a scenario, with a relative roster made absolute."""
    if isinstance(scenario, dict):
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in scenario.items()}
    path = resolve_path(scenario)
    raw = read_raw(path)
    table = raw.get("organisations", {})
    if isinstance(table, dict) and "roster" in table:
        roster = Path(table["roster"])
        if not roster.is_absolute():
            table["roster"] = str(path.parent / roster)
    return raw


def load_arm(scenario: str | dict, overrides: dict[str, Any], steps: int) -> Scenario:
    """Load a scenario with dotted overrides; ``"timeline"`` replaces the timeline."""
    overrides = dict(overrides)
    if "timeline" in overrides:
        raw = _raw_scenario(scenario)
        raw["timeline"] = overrides.pop("timeline")
        scenario = raw
    return load_scenario(scenario, overrides=overrides, steps=max(1, steps))


# --------------------------------------------------------------------------- statistics


def vargha_delaney_a(x: np.ndarray, y: np.ndarray) -> float:
    """Vargha-Delaney A: P(X > Y) + 0.5 P(X = Y) for independent draws of x and y."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    ranks = stats.rankdata(np.concatenate([x, y]))
    m, n = len(x), len(y)
    return float((ranks[:m].sum() - m * (m + 1) / 2) / (m * n))


def wilcoxon_one_sided(differences: np.ndarray, direction: int) -> float:
    """One-sided Wilcoxon signed-rank p-value that the differences lean `direction`.

    All-zero differences carry no evidence: p = 1.
    """
    d = np.asarray(differences, dtype=float)
    if len(d) == 0 or np.all(d == 0):
        return 1.0
    alternative = "greater" if direction > 0 else "less"
    return float(stats.wilcoxon(d, alternative=alternative).pvalue)


def bootstrap_median_ci(differences: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the median (fixed-seed numpy Generator)."""
    d = np.asarray(differences, dtype=float)
    if len(d) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    medians = np.median(d[rng.integers(0, len(d), size=(resamples, len(d)))], axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(medians, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_a12_ci(baseline: np.ndarray, changed: np.ndarray, direction: int,
                     resamples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the oriented Vargha-Delaney A.

    Replicates are resampled as pairs (both arms of a replicate together), as
    the design pairs them; A is oriented as in `judge` (> 0.5: the expected way).
    """
    x = np.asarray(changed if direction > 0 else baseline, dtype=float)
    y = np.asarray(baseline if direction > 0 else changed, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan
    rows = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    ranks = stats.rankdata(np.concatenate([x[rows], y[rows]], axis=1), axis=1)
    a = (ranks[:, :n].sum(axis=1) - n * (n + 1) / 2) / (n * n)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(a, [tail, 100 - tail])
    return float(lo), float(hi)


def holm_adjust(p_values: Any) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down; Holm 1979), capped at 1.

    The k-th smallest of m p-values is multiplied by m - k + 1 and made
    non-decreasing along the sorted order; rejecting where the adjusted p is
    below alpha controls the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(steps, 1.0)
    return out


@dataclass
class ContrastResult:
    """Both arms' outcome vectors and the verdict of one contrast."""

    contrast: Contrast
    baseline: np.ndarray
    changed: np.ndarray
    median_difference: float
    ci_low: float
    ci_high: float
    a12: float
    p_value: float
    supported: bool
    seconds: float = 0.0

    @property
    def replicates(self) -> int:
        return len(self.baseline)

    def row(self) -> dict[str, Any]:
        c = self.contrast
        return {
            "cmoc": c.cmoc,
            "outcome": c.outcome.label(),
            "direction": "+" if c.direction > 0 else "-",
            "baseline_mean": float(np.mean(self.baseline)),
            "changed_mean": float(np.mean(self.changed)),
            "median_difference": self.median_difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "a12": self.a12,
            "a12_floor": c.a12_floor,
            "p_value": self.p_value,
            "replicates": self.replicates,
            "supported": self.supported,
        }

    def describe(self) -> str:
        c = self.contrast
        arrow = "up" if c.direction > 0 else "down"
        return (
            f"{c.cmoc} {'SUPPORTED' if self.supported else 'NOT SUPPORTED'}: {c.claim} "
            f"[{c.outcome.label()}, expected {arrow}] baseline mean "
            f"{np.mean(self.baseline):.4g}, changed mean {np.mean(self.changed):.4g}, "
            f"median paired difference {self.median_difference:+.4g} "
            f"(95% CI {self.ci_low:+.4g} to {self.ci_high:+.4g}), "
            f"A12 = {self.a12:.3f} (floor {c.a12_floor}), one-sided Wilcoxon p = "
            f"{self.p_value:.3g} (alpha {ALPHA}), {self.replicates} paired replicates"
        )


def judge(c: Contrast, baseline: np.ndarray, changed: np.ndarray,
          seed: int = 0) -> ContrastResult:
    """The statistics and verdict of a contrast from its two outcome vectors."""
    baseline = np.asarray(baseline, dtype=float)
    changed = np.asarray(changed, dtype=float)
    differences = changed - baseline
    if c.direction > 0:
        a12 = vargha_delaney_a(changed, baseline)
    else:
        a12 = vargha_delaney_a(baseline, changed)
    p = wilcoxon_one_sided(differences, c.direction)
    lo, hi = bootstrap_median_ci(differences, seed=seed)
    return ContrastResult(
        contrast=c, baseline=baseline, changed=changed,
        median_difference=float(np.median(differences)), ci_low=lo, ci_high=hi,
        a12=a12, p_value=p, supported=bool(p < ALPHA and a12 >= c.a12_floor),
    )


def run_contrast(c: Contrast, replicates: int | None = None, seed: int = 0,
                 unchecked: dict[str, float] | None = None) -> ContrastResult:
    """Run both arms of `c` on the same replicate seeds and judge the claim.

    `unchecked` constants are written into both arms past validation (see
    `Contrast.load`): a way to break a mechanism on purpose. `replicates` (default: the
    contrast's own) is a whole number >= 1 and `seed` one in [0, 2^63 - 1]; anything
    else raises a ScenarioError naming it.
    """
    start = time.perf_counter()
    n = c.replicates if replicates is None else whole_number("replicates", replicates, 1)
    seeds = replicate_seeds(whole_number("seed", seed, 0, MAX_SEED), n)
    agents = c.outcome.needs_agents
    arrays = run_arrays(c.load("baseline", unchecked), seeds, steps=c.steps, agents=agents)
    if isinstance(c.outcome, WithinRun):
        baseline = c.outcome.early.values(*arrays)
        changed = c.outcome.late.values(*arrays)
    else:
        baseline = c.outcome.values(*arrays)
        changed = c.outcome.values(*run_arrays(c.load("changed", unchecked), seeds,
                                               steps=c.steps, agents=agents))
    result = judge(c, baseline, changed, seed=seed)
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- the table

def _mix(**counts: int) -> dict[str, int]:
    """Organisation counts of every kind (unnamed kinds 0) as dotted overrides."""
    return {f"organisations.{k}": counts.get(k, 0) for k in KIND_NAMES}


#: ics_mandated's partners, and the same mix with every count but the ICB doubled
#: (C07, C15: more partners, the same mean size, sector mix and capacity).
_ICS = _mix(icb=1, acute_trust=3, community_trust=1, mental_health_trust=1, local_authority=2,
            pcn=12, vcse=8, university=1)
_ICS_DOUBLED = _mix(icb=1, acute_trust=6, community_trust=2, mental_health_trust=2,
                    local_authority=4, pcn=24, vcse=16, university=2)
#: Two 12-partner mixes (C34): all health vs cross-sector, with near-equal mean log10
#: headcount (2.56 vs 2.59) and summed capacity offsets (-0.64 vs -0.59).
_HEALTH_12 = _mix(acute_trust=2, community_trust=1, mental_health_trust=1, pcn=8)
_CROSS_12 = _mix(acute_trust=2, local_authority=3, vcse=5, university=2)


def _default(key: str) -> float:
    return P.PARAM_BY_KEY[key].default


def _roster(name: str) -> str:
    return str(ROSTER_DIR / name)


CONTRASTS: tuple[Contrast, ...] = (
    # --- initial conditions (month 0) --------------------------------------------------
    Contrast("C01", "a mandated regime lowers initial trust", "ics_mandated",
             {"regime": "voluntary"}, {"regime": "mandated"},
             at("mean_trust", 0), -1, steps=0),
    Contrast("C02", "a mandated regime lowers legitimacy and so initial faith", "ics_mandated",
             {"regime": "voluntary"}, {"regime": "mandated"},
             at("mean_faith", 0), -1, steps=0),
    Contrast("C03", "stakeholder involvement raises legitimacy and so initial faith",
             "ics_mandated",
             {"context.stakeholder_involvement": 0.1}, {"context.stakeholder_involvement": 0.8},
             at("mean_faith", 0), +1, steps=0),
    Contrast("C04", "a history of competition lowers initial trust", "ics_mandated",
             {"context.history_of_competition": 0.1}, {"context.history_of_competition": 0.9},
             at("mean_trust", 0), -1, steps=0),
    Contrast("C05", "prior successful collaboration raises initial trust", "ics_mandated",
             {"context.prior_success": 0.0}, {"context.prior_success": 0.8},
             at("mean_trust", 0), +1, steps=0),
    Contrast("C06", "mistrust of regulators lowers initial trust (and faith: SECONDARY)",
             "ics_mandated",
             {"context.regulator_mistrust": 0.0}, {"context.regulator_mistrust": 0.8},
             at("mean_trust", 0), -1, steps=0),
    # The same mix of kinds, twice the partners: complexity rises with the number of
    # partners while mean size, sector mix and capacity stay put (adding only PCNs and
    # VCSE would also lower mean capacity, which lowers faith through C08).
    Contrast("C07", "more partners (same mix) raise task complexity and so lower initial "
             "faith", "ics_mandated", _ICS, _ICS_DOUBLED,
             at("mean_faith", 0), -1, steps=0),
    Contrast("C08", "external funding raises capacity and so initial faith", "ics_mandated",
             {"context.funding": 0.1}, {"context.funding": 0.8},
             at("mean_faith", 0), +1, steps=0),
    # --- trust, confidence and risk ----------------------------------------------------
    Contrast("C10", "higher trust (knock-in: constants.trust_base, all else equal) raises "
             "risk tolerance and so collaborative behaviour", "ics_mandated",
             {"constants.trust_base": 0.4}, {"constants.trust_base": 0.7},
             mean_over("mean_behaviour", 0, 6), +1, steps=6),
    Contrast("C11", "formalisation raises confidence and so early behaviour under a mandate "
             "(confidence: SECONDARY)", "ics_mandated",
             {"context.formalisation": 0.1}, {"context.formalisation": 0.8},
             mean_over("mean_behaviour", 1, 12), +1, steps=12),
    Contrast("C12", "over-formalisation of a voluntary informal network lowers trust",
             "voluntary_alliance",
             {"context.formalisation": 0.45}, {"context.formalisation": 0.95},
             at("mean_trust", 24), -1, steps=24, shared={"form": "network"}),
    Contrast("C13", "communication (shared roles) between compatible cultures raises trust",
             "voluntary_alliance",
             {"context.shared_roles": 0.0}, {"context.shared_roles": 1.0},
             at("mean_trust", 12), +1, steps=12),
    Contrast("C14", "geographic distance lowers communication", "ics_mandated",
             {"context.footprint_km": 20.0}, {"context.footprint_km": 200.0},
             at("communication", 1), -1, steps=1),
    Contrast("C15", "complexity from more partners (same mix) lowers communication",
             "ics_mandated", _ICS, _ICS_DOUBLED,
             at("communication", 1), -1, steps=1),
    Contrast("C16", "a shared vision lowers conflict", "ics_mandated",
             {"context.shared_vision": 0.1}, {"context.shared_vision": 0.9},
             sum_over("conflicts", 1, 24), -1, steps=24),
    # Equal roster: both trusts at the geometric mean of 9500 and 1500 staff, so mean log
    # size (complexity) is the same in both arms and only the power gap differs. C17 and
    # C19 read one organisation's trust, which varies a lot between replicates; their
    # two-organisation runs are cheap, so 400 replicates steady the estimate of A.
    Contrast("C17", "a size gap in a mandated pairing lowers the weaker partner's trust",
             "mandated_buddying",
             {"organisations.roster": _roster("buddying_equal.csv")},
             {"organisations.roster": _roster("buddying_unequal.csv")},
             org_at("trust_in_others", 24, "smallest"), -1, steps=24, replicates=400),
    Contrast("C18", "collaborative leadership raises trust (all routes; the direct trust "
             "term: SECONDARY)", "ics_mandated",
             {"context.leadership": 0.2}, {"context.leadership": 0.8},
             at("mean_trust", 24), +1, steps=24),
    Contrast("C19", "autonomy protects the weaker partner's sovereignty and so its trust",
             "mandated_buddying",
             {"context.autonomy": 0.0}, {"context.autonomy": 0.9},
             org_at("trust_in_others", 24, "smallest"), +1, steps=24, replicates=400),
    # --- faith and progress ------------------------------------------------------------
    # Leaving over grievances (C36) is switched off in both arms (exit_grievance 100), so
    # members can leave only through C20's route: months of faith below the exit bar.
    Contrast("C20", "a stalled partnership dissolves (members leave when faith stays low) "
             "when voluntary, not when mandated (progress and faith: SECONDARY)",
             "ics_mandated",
             {"regime": "mandated"}, {"regime": "voluntary"},
             at("active_members", 60), -1, steps=60,
             shared={"constants.exit_grievance": 100.0}),
    Contrast("C21", "quick wins raise faith", "ics_mandated",
             {"context.quick_wins": 0.0}, {"context.quick_wins": 0.8},
             at("mean_faith", 12), +1, steps=12),
    # The faith anchor's own ambition term (an inverted U, also C22) and ambition's share
    # of task complexity (C07) are 0 in both arms, so ambition can act only through the
    # bar progress is judged against.
    Contrast("C22", "over-ambition raises the bar progress is judged against, so progress "
             "looks small and faith falls", "ics_mandated_supported",
             {"context.ambition": 0.5}, {"context.ambition": 0.95},
             at("mean_faith", 24), -1, steps=24,
             shared={"constants.faith_ambition": 0.0, "constants.complexity_ambition": 0.0}),
    Contrast("C23", "evaluation makes perceived progress track real progress", "ics_mandated",
             {"context.evaluation": 0.0}, {"context.evaluation": 0.9},
             gap_over("mean_perceived_progress", "real_progress", 1, 36), -1, steps=36),
    Contrast("C24", "leadership turnover lowers faith", "ics_mandated",
             {"context.leadership_turnover": 0.0}, {"context.leadership_turnover": 0.1},
             at("mean_faith", 24), -1, steps=24),
    # Champions have more faith themselves (faith anchor); the claim is that they spread
    # it, so the outcome is the faith of the members who are NOT champions.
    Contrast("C25", "champions spread faith across the partnership: the members who are not "
             "champions gain faith", "ics_mandated",
             {"context.champions": 0.0}, {"context.champions": 0.4},
             org_at("faith", 12, "non_champions"), +1, steps=12),
    Contrast("C26", "peer comparison raises faith in a partnership that is progressing "
             "(falling behind: SECONDARY)", "voluntary_alliance",
             {"context.peer_comparison": 0.0}, {"context.peer_comparison": 1.0},
             at("mean_faith", 24), +1, steps=24),
    Contrast("C27", "withheld funding (a cut at month 12) lowers faith (and trust: SECONDARY)",
             "ics_mandated",
             {"timeline": []}, {"timeline": [{"month": 12, "set": {"funding": 0.1}}]},
             at("mean_faith", 13), -1, steps=13, shared={"context.funding": 0.6}),
    Contrast("C28", "collaboration first costs capacity: capacity at month 6 is below month 0 "
             "(C43's transaction cost off in both, so only the cost of acting spends it; "
             "paying back later: SECONDARY)", "voluntary_alliance", {}, {},
             within(at("mean_capacity", 0), at("mean_capacity", 6)), -1, steps=6,
             shared={"constants.transaction_cost": 0.0}),
    # --- conflict ----------------------------------------------------------------------
    Contrast("C30", "cultural incompatibility (knock-out: constants.conflict_culture 0 vs its "
             "default) raises conflict between partners in intense contact (shared roles 0.9; "
             "contact itself: SECONDARY)", "ics_mandated",
             {"constants.conflict_culture": 0.0},
             {"constants.conflict_culture": _default("constants.conflict_culture")},
             sum_over("conflicts", 1, 12), +1, steps=12,
             shared={"context.shared_roles": 0.9}),
    Contrast("C31", "conflict (knock-out: constants.conflict_rate 0 vs its default) lowers "
             "trust", "ics_mandated",
             {"constants.conflict_rate": 0.0},
             {"constants.conflict_rate": _default("constants.conflict_rate")},
             at("mean_trust", 24), -1, steps=24),
    Contrast("C32", "conflict resolution dampens conflict's damage to trust", "ics_mandated",
             {"context.conflict_resolution": 0.0}, {"context.conflict_resolution": 0.9},
             at("mean_trust", 24), +1, steps=24),
    Contrast("C33", "stalled progress against an over-high bar raises conflict",
             "ics_mandated",
             {"context.ambition": 0.2}, {"context.ambition": 0.95},
             sum_over("conflicts", 12, 36), +1, steps=36),
    # Twelve partners either way, near-equal mean log size and capacity offset. The divide
    # itself is the outcome; its consequences (lower trust, more conflict) are SECONDARY.
    Contrast("C34", "a cross-sector partnership has a larger cultural divide than an "
             "all-health one (lower trust, more conflict: SECONDARY)", "ics_mandated",
             _HEALTH_12, _CROSS_12, at("mean_culture_distance", 0), +1, steps=0),
    Contrast("C35", "cultural due diligence raises cultural integration (SECONDARY) and so "
             "trust",
             "ics_mandated",
             {"context.due_diligence": 0.0}, {"context.due_diligence": 1.0},
             at("mean_trust", 36), +1, steps=36),
    # A voluntary ICS that mostly stays together while conflict is resolved (the
    # unsupported ICS dissolves through low faith in both arms, C20, hiding C36).
    Contrast("C36", "without conflict resolution, unresolved conflict ends membership in a "
             "voluntary partnership", "ics_mandated_supported",
             {"context.conflict_resolution": 0.9}, {"context.conflict_resolution": 0.0},
             at("active_members", 60), -1, steps=60, shared={"regime": "voluntary"}),
    # --- behaviour and performance -----------------------------------------------------
    Contrast("C40", "a high-trust context (good history, prior success) ends in more "
             "collaborative behaviour than a low-trust one", "ics_mandated_supported",
             {"context.history_of_competition": 0.9, "context.prior_success": 0.0},
             {"context.history_of_competition": 0.1, "context.prior_success": 0.9},
             at("mean_behaviour", 36), +1, steps=36),
    Contrast("C41", "collaborative success feeds trust (knock-out: constants.trust_from_"
             "success 0 vs its default)", "ics_mandated_supported",
             {"constants.trust_from_success": 0.0},
             {"constants.trust_from_success": _default("constants.trust_from_success")},
             at("mean_trust", 36), +1, steps=36),
    Contrast("C42", "more collaborative behaviour (raised by formalisation under a mandate) "
             "produces more joint output", "ics_mandated",
             {"context.formalisation": 0.1}, {"context.formalisation": 0.9},
             at("cumulative_output", 36), +1, steps=36),
    Contrast("C43", "daily functioning consumes capacity: transaction costs (knock-out: "
             "constants.transaction_cost 0 vs its default) lower capacity (slow output at "
             "first: SECONDARY)", "voluntary_alliance",
             {"constants.transaction_cost": 0.0},
             {"constants.transaction_cost": _default("constants.transaction_cost")},
             at("mean_capacity", 12), -1, steps=12),
    # --- turbulence and opportunity ----------------------------------------------------
    Contrast("C50", "turbulence pulls organisations inward: lower capacity (and behaviour: "
             "SECONDARY)", "ics_mandated_supported",
             {"context.turbulence_rate": 0.0}, {"context.turbulence_rate": 0.2},
             at("mean_capacity", 24), -1, steps=24),
    Contrast("C51", "economic pressure lowers capacity for collaborative work", "ics_mandated",
             {"context.economic_pressure": 0.1}, {"context.economic_pressure": 0.9},
             at("mean_capacity", 12), -1, steps=12),
)


# --------------------------------------------------------------------------- knock-outs

#: The knock-out of each CMOC's own rule: the parameters that encode it (docs/ODD.md §10)
#: set to their neutral value in BOTH arms of its primary contrast, so that the contrast
#: must fail (`run_knockout`). Each entry names the kernel function (model/kernel.py) and
#: the THEORY §5 step it silences. A value outside the parameter's allowed range (C10 and
#: C40's flat behaviour slope, C14's unlimited proximity scale, C36's unreachable
#: grievance bar), or a constant the contrast's arms themselves set (the knock-out
#: contrasts C30, C41 and C43, whose arms then become the same arm), is written past
#: validation (`knocked_out`). C32 and C50 set context keys (C32's rule has no constant of
#: its own; C50's shock size is context). C34 and C42 have no entry: `NOT_KNOCKABLE` says
#: why.
KNOCKOUTS: dict[str, dict[str, float]] = {
    # --- initial conditions: init_state, update_context and faith_anchor (step 1)
    "C01": {"constants.trust_mandate": 0.0},  # init_state: base trust's mandate term
    "C02": {"constants.legitimacy_mandate": 0.0},  # update_context: legitimacy's mandate term
    "C03": {"constants.legitimacy_stakeholders": 0.0},  # update_context: the stakeholder term
    "C04": {"constants.trust_history": 0.0},  # init_state: base trust's history term
    "C05": {"constants.trust_prior_success": 0.0},  # init_state: the prior-success term
    "C06": {"constants.trust_regulator_mistrust": 0.0},  # init_state: the regulator term
    "C07": {"constants.faith_complexity": 0.0},  # faith_anchor: complexity lowers faith
    "C08": {"constants.faith_capacity": 0.0},  # faith_anchor: capacity raises faith
    # --- trust, confidence and risk (steps 3-8)
    # derive_behaviour (steps 7-8): a flat behaviour slope, so risk tolerance (trust) and
    # faith no longer move willingness (risk tolerance itself has no constant).
    "C10": {"constants.behaviour_slope": 0.0},
    "C11": {"constants.confidence_base": 0.0,  # derive_behaviour (step 7): no confidence
            "constants.confidence_mandate": 0.0,  # from formalisation in any regime or form
            "constants.confidence_integration": 0.0},
    "C12": {"constants.trust_loss_overformalisation": 0.0},  # build_trust (step 4)
    "C13": {"constants.trust_from_communication": 0.0},  # build_trust (step 4)
    # init_state's proximity exp(-distance / scale) (step 1): 1 at any distance.
    "C14": {"constants.proximity_scale_km": math.inf},
    "C15": {"constants.communication_complexity": 0.0},  # communicate: reach (step 3)
    "C16": {"constants.conflict_vision": 0.0},  # raise_conflicts: the vision drive (step 5)
    "C17": {"constants.trust_power_gap": 0.0,  # init_state: initial trust (step 1)
            "constants.trust_loss_power": 0.0,  # build_trust: domination (step 4)
            "constants.conflict_power": 0.0},  # raise_conflicts: the power drive (step 5)
    "C18": {"constants.trust_from_leadership": 0.0,  # build_trust (step 4)
            "constants.faith_leadership": 0.0},  # faith_anchor (step 12)
    "C19": {"constants.autonomy_protection": 0.0},  # build_trust: domination_scale (step 4)
    # --- faith and progress (steps 11-13)
    "C20": {"constants.exit_faith": 0.0},  # exit_members (step 13): faith is never below 0
    "C21": {"constants.quick_win_size": 0.0},  # perceive_progress (step 11)
    # expected_progress (step 5): no bar, so ambition cannot raise it (the contrast holds
    # ambition's other routes off already).
    "C22": {"constants.expected_progress": 0.0},
    "C23": {"constants.perception_noise": 0.0,  # perceive_progress (step 11): nothing to
            "constants.evaluation_speedup": 0.0},  # correct, no faster tracking
    "C24": {"constants.turnover_faith_loss": 0.0,  # turn_over_leaders (step 13a)
            "constants.turnover_trust_reset": 0.0},
    "C25": {"constants.faith_champion": 0.0,  # faith_anchor and update_faith (step 12): a
            "constants.champion_influence": 0.0},  # champion is an ordinary member
    "C26": {"constants.peer_amplifier": 0.0},  # update_faith (step 12)
    "C27": {"constants.funding_cut_faith": 0.0,  # shocks_and_cuts (step 2): a cut costs
            "constants.funding_cut_trust": 0.0},  # no faith and no trust of its own
    "C28": {"constants.behaviour_cost": 0.0},  # spend_capacity (step 10): acting is free
    # --- conflict (steps 5-6, 13)
    "C30": {"constants.conflict_culture": 0.0},  # raise_conflicts: the culture drive
    # raise_conflicts (step 5): an unresolved conflict costs no trust and no faith; and
    # build_trust (step 4): talking amid its tension costs no trust either.
    "C31": {"constants.conflict_trust_loss": 0.0, "constants.conflict_faith_loss": 0.0,
            "constants.trust_loss_tension": 0.0},
    # raise_conflicts (step 5): resolution chance = resolution x (floor + (1 - floor) x
    # accountability) has no constant of its own; with wholly unaccountable leaders and no
    # floor no conflict is ever resolved, whatever the resolution mechanism.
    "C32": {"context.accountability": 0.0, "constants.accountability_noise": 0.0,
            "constants.resolution_accountability_floor": 0.0},
    "C33": {"constants.conflict_stall": 0.0},  # raise_conflicts: the stall drive (step 5)
    "C35": {"constants.culture_due_diligence": 0.0},  # drift_cultures (step 6)
    "C36": {"constants.exit_grievance": math.inf},  # exit_members (step 13): no load is enough
    # --- behaviour and performance (steps 7-10)
    "C40": {"constants.behaviour_slope": 0.0},  # derive_behaviour (step 8), as C10
    "C41": {"constants.trust_from_success": 0.0},  # build_trust (step 4)
    "C43": {"constants.transaction_cost": 0.0},  # spend_capacity (step 10)
    # --- turbulence and opportunity (steps 2, 10)
    "C50": {"context.turbulence_size": 0.0},  # shocks_and_cuts (step 2): shocks cut nothing
    "C51": {"constants.capacity_pressure": 0.0},  # funded_level (steps 1, 2, 10)
}

#: CMOCs whose rule no parameter switches off, and why (no knock-out is faked for them).
NOT_KNOCKABLE: dict[str, str] = {
    "C34": "the divide is the distance between the sectors' culture centres "
           "(agents/kinds.py SECTOR_CULTURE), data rather than a constant; "
           "constants.culture_noise only scatters cultures around those centres (with it 0 "
           "the contrast still holds)",
    "C42": "joint output is made of collaborative behaviour (produce: the product of both "
           "partners' behaviour, step 9) with no constant between them; "
           "constants.complementarity only adds value to cross-sector pairs (with it 0 the "
           "contrast still holds)",
}


@dataclass(frozen=True)
class OtherRoute:
    """How a primary contrast still passes with its own rule knocked out (a finding:
    the context lever reaches the outcome through other rules too).

    Attributes:
        reason: the route, in words, naming the kernel function and CMOC it runs through.
        closed_by: the parameters that close it; with these at their value as well as the
            knock-out, the contrast fails (tests/test_cmoc.py).
    """

    reason: str
    closed_by: dict[str, float]


#: The primary contrasts that survive their own knock-out, and through which route.
SURVIVES_KNOCKOUT: dict[str, OtherRoute] = {
    "C10": OtherRoute(
        "trust also lowers C43's transaction costs (spend_capacity), so a more trusting "
        "organisation keeps more capacity, and capacity limits behaviour below "
        "constants.capacity_reference (derive_behaviour)",
        {"constants.transaction_cost": 0.0}),
    "C18": OtherRoute(
        "leadership also sets how fast an organisation's culture drifts toward its "
        "partners' (drift_cultures: C35's inclusive leadership), and closer cultures build "
        "more trust from communication (C13)",
        {"constants.culture_drift": 0.0}),
    "C40": OtherRoute(
        "trust also lowers C43's transaction costs and weights joint output, whose lagged "
        "returns refill capacity (produce, spend_capacity: C28), and capacity limits "
        "behaviour below constants.capacity_reference (derive_behaviour)",
        {"constants.transaction_cost": 0.0, "constants.return_share": 0.0}),
}


def _also(cmoc: str, **changes: Any) -> Contrast:
    """A secondary check: the primary contrast of `cmoc` with some fields replaced."""
    return replace(next(c for c in CONTRASTS if c.cmoc == cmoc), **changes)


#: Second outcomes of two-outcome claims, the falling-behind half of C26, the other half
#: or direct route of C18, C20, C28, C30 and C43, and the halves of C11, C16, C18, C21,
#: C22, C24, C31, C32 and C51 their primary contrasts do not read.
SECONDARY: tuple[Contrast, ...] = (
    _also("C06", claim="mistrust of regulators lowers initial faith",
          outcome=at("mean_faith", 0)),
    _also("C11", claim="formalisation raises confidence under a mandate",
          outcome=mean_over("mean_confidence", 1, 12)),
    _also("C26", claim="peer comparison lowers faith in a partnership falling behind",
          scenario="ics_mandated", direction=-1),
    _also("C27", claim="withheld funding (a cut at month 12) lowers trust",
          outcome=at("mean_trust", 13)),
    _also("C50", claim="turbulence pulls organisations inward: lower collaborative behaviour",
          outcome=mean_over("mean_behaviour", 1, 24)),
    _also("C34", claim="a cross-sector partnership has lower trust than an all-health one",
          outcome=at("mean_trust", 24), direction=-1, steps=24),
    _also("C34", claim="a cross-sector partnership has more conflict than an all-health one",
          outcome=sum_over("conflicts", 1, 24), direction=+1, steps=24),
    _also("C35", claim="cultural due diligence raises cultural integration (a smaller divide)",
          outcome=at("mean_culture_distance", 36), direction=-1),
    _also("C18", claim="the direct term: leadership's trust gain (knock-out: "
          "constants.trust_from_leadership 0 vs its default) raises trust",
          baseline={"constants.trust_from_leadership": 0.0},
          changed={"constants.trust_from_leadership":
                   _default("constants.trust_from_leadership")}),
    _also("C20", claim="perceived progress raises faith in a partnership that is progressing "
          "(knock-out: constants.faith_from_progress 0 vs its default)",
          scenario="voluntary_alliance", baseline={"constants.faith_from_progress": 0.0},
          changed={"constants.faith_from_progress": _default("constants.faith_from_progress")},
          outcome=at("mean_faith", 24), direction=+1, steps=24, shared={}),
    _also("C20", claim="stalled progress lowers faith (knock-out: constants.faith_from_progress "
          "0 vs its default)", baseline={"constants.faith_from_progress": 0.0},
          changed={"constants.faith_from_progress": _default("constants.faith_from_progress")},
          outcome=at("mean_faith", 24), direction=-1, steps=24, shared={}),
    _also("C28", claim="collaboration pays back later: returns (knock-out: "
          "constants.return_share 0 vs its default) raise capacity at month 36",
          baseline={"constants.return_share": 0.0},
          changed={"constants.return_share": _default("constants.return_share")},
          outcome=at("mean_capacity", 36), direction=+1, steps=36, shared={}),
    _also("C30", claim="conflict needs contact: intense communication (shared roles) raises "
          "conflict", baseline={"context.shared_roles": 0.0},
          changed={"context.shared_roles": 0.9}, shared={}),
    # The other halves of statements whose primary contrast reads one outcome. Where a
    # lever moves several rules, the others are held off in both arms (`shared`), and
    # tests/test_cmoc.py shows each check failing with its named term set to 0.
    _also("C11", claim="formalisation gives more confidence in an integrative form (a merger "
          "vs a network, formalisation 0.8)", baseline={"form": "network"},
          changed={"form": "merger"}, outcome=at("mean_confidence", 0), steps=0,
          shared={"context.formalisation": 0.8}),
    _also("C11", claim="formalisation gives more confidence under a mandate (mandated vs "
          "voluntary, formalisation 0.8)", baseline={"regime": "voluntary"},
          changed={"regime": "mandated"}, outcome=at("mean_confidence", 0), steps=0,
          shared={"context.formalisation": 0.8}),
    _also("C16", claim="a clear shared vision raises faith", outcome=at("mean_faith", 0),
          direction=+1, steps=0),
    _also("C18", claim="collaborative leadership raises faith", outcome=at("mean_faith", 0),
          steps=0),
    _also("C21", claim="quick wins raise trust", outcome=at("mean_trust", 12)),
    _also("C22", claim="ambition has an optimum: timid aims (0.05) inspire less faith than "
          "middling ones (0.5); ambition's share of complexity off in both arms",
          baseline={"context.ambition": 0.5}, changed={"context.ambition": 0.05},
          outcome=at("mean_faith", 0), direction=-1, steps=0,
          shared={"constants.complexity_ambition": 0.0}),
    _also("C24", claim="turnover resets trust-building (knock-out: "
          "constants.turnover_trust_reset 0 vs its default, turnover 0.1 in both arms)",
          scenario="voluntary_alliance", baseline={"constants.turnover_trust_reset": 0.0},
          changed={"constants.turnover_trust_reset": _default("constants.turnover_trust_reset")},
          outcome=at("mean_trust", 24), shared={"context.leadership_turnover": 0.1}),
    _also("C31", claim="conflict (knock-out: constants.conflict_rate 0 vs its default) lowers "
          "faith", outcome=at("mean_faith", 24)),
    _also("C32", claim="accountable leaders resolve more conflicts, so conflict costs less "
          "trust (accountability 0.1 vs 0.9, resolution 0.9 in both arms; accountability's "
          "route to confidence off)", baseline={"context.accountability": 0.1},
          changed={"context.accountability": 0.9},
          shared={"context.conflict_resolution": 0.9,
                  "constants.confidence_accountability_floor": 1.0}),
    _also("C51", claim="shared roles and events raise communication",
          baseline={"context.shared_roles": 0.0}, changed={"context.shared_roles": 0.9},
          outcome=at("communication", 1), direction=+1, steps=1),
    _also("C43", claim="output is slow at first and higher later: months 37-48 above months "
          "1-12", baseline={}, changed={},
          outcome=within(mean_over("output", 1, 12), mean_over("output", 37, 48)), direction=+1,
          steps=48),
)

#: Emergent check (b): the same partners, mandated with formalisation 0.8 vs voluntary with
#: formalisation 0.3. Mandate raises early behaviour (confidence) but lowers later trust.
#: The partners are those of the supported ICS, which stays together under both regimes
#: (the unsupported ICS dissolves when voluntary, and the mean trust of its few
#: survivors would not compare like with like).
EMERGENT_MANDATE: tuple[Contrast, ...] = (
    Contrast("E-mandate-behaviour", "a formal mandate raises collaborative behaviour in "
             "months 1-12 over a loose voluntary arrangement of the same partners",
             "ics_mandated_supported",
             {"regime": "voluntary", "context.formalisation": 0.3},
             {"regime": "mandated", "context.formalisation": 0.8},
             mean_over("mean_behaviour", 1, 12), +1, steps=12),
    Contrast("E-mandate-trust", "... but leaves lower trust at month 36 than the loose "
             "voluntary arrangement", "ics_mandated_supported",
             {"regime": "voluntary", "context.formalisation": 0.3},
             {"regime": "mandated", "context.formalisation": 0.8},
             at("mean_trust", 36), -1, steps=36),
)


@dataclass
class Bistability:
    """One context run for `steps` months from low and from high initial trust: how many
    runs end in synergy, and the median over runs of the final 12-month mean behaviour.

    THEORY §1: two feedback loops make the system bistable, so the same context settles
    in two distinct states depending on where it starts. A single lukewarm equilibrium
    (a shallow behaviour slope, THEORY §5.1) could also put the two arms either side of
    the synergy bar over a short run; `settled` tells the two apart: the arms' typical
    runs end far apart, one near no collaboration and one near full collaboration.
    """

    scenario: str
    replicates: int
    low_synergy: int
    high_synergy: int
    steps: int = 0
    low_behaviour: float = float("nan")
    high_behaviour: float = float("nan")

    @property
    def settled(self) -> bool:
        """Median final behaviour below `SETTLED_LOW` from low trust and above
        `SETTLED_HIGH` from high trust: two states, each far from the bar between them."""
        return self.low_behaviour < SETTLED_LOW and self.high_behaviour > SETTLED_HIGH

    @property
    def low_share(self) -> float:
        return self.low_synergy / self.replicates

    @property
    def high_share(self) -> float:
        return self.high_synergy / self.replicates

    @property
    def low_interval(self) -> tuple[float, float]:
        return wilson_interval(self.low_synergy, self.replicates)

    @property
    def high_interval(self) -> tuple[float, float]:
        return wilson_interval(self.high_synergy, self.replicates)

    def describe(self) -> str:
        lo, hi = self.low_interval, self.high_interval
        return (f"{self.scenario}: synergy share {self.low_share:.2f} "
                f"[{lo[0]:.2f}, {lo[1]:.2f}] from low initial trust vs {self.high_share:.2f} "
                f"[{hi[0]:.2f}, {hi[1]:.2f}] from high ({self.replicates} replicates each, "
                f"95% Wilson) after {self.steps} months; median final behaviour "
                f"{self.low_behaviour:.2f} vs {self.high_behaviour:.2f}")


#: Initial-trust drivers of the two arms of the bistability check (C04, C05). Both keys
#: act only at month 0 (`params.MONTH_ZERO_ONLY`): the arms run the same rules from
#: different initial states.
LOW_TRUST = {"context.history_of_competition": 0.9, "context.prior_success": 0.0}
HIGH_TRUST = {"context.history_of_competition": 0.1, "context.prior_success": 0.9}


#: Months the bistability check runs: long enough for runs to settle in a state (at the
#: scenarios' 60 months many still hover near the synergy bar).
SETTLING_MONTHS = 240
#: `Bistability.settled`: the low arm's median final behaviour below this, the high arm's
#: above `SETTLED_HIGH` (the bottom and top quarters of the 0-1 scale).
SETTLED_LOW = 0.25
SETTLED_HIGH = 0.75


def bistability(scenario: str = "ics_mandated_supported", replicates: int = 200,
                seed: int = 0, steps: int = SETTLING_MONTHS,
                shared: dict[str, Any] | None = None) -> Bistability:
    """The same context (with `shared` overrides) from low and from high initial trust,
    on the same seeds, for `steps` months."""
    replicates = whole_number("replicates", replicates, 1)
    seeds = replicate_seeds(whole_number("seed", seed, 0, MAX_SEED), replicates)
    counts, medians = [], []
    behaviour = _METRIC["mean_behaviour"]
    for arm in (LOW_TRUST, HIGH_TRUST):
        sc = load_scenario(scenario, overrides={**(shared or {}), **arm}, steps=steps)
        metrics, _, _ = run_arrays(sc, seeds)
        counts.append(int((summary_frame(sc, metrics, seeds)["regime"] == "synergy").sum()))
        medians.append(float(np.median(metrics[:, -12:, behaviour].mean(axis=1))))
    return Bistability(scenario, replicates, counts[0], counts[1], steps, *medians)


def scaled(c: Contrast, factors: dict[str, float]) -> Contrast:
    """`c` with each constant in `factors` multiplied by its factor in BOTH arms.

    A constant the contrast sets in its arms (a knock-out such as C41's
    ``constants.trust_from_success``) is scaled in each arm, so the arms still
    differ only in their stated context; any other is set in `shared` to the
    factor times the value the baseline arm resolves to. A perturbation, not a
    new experiment: used by the robustness check of the verdicts.
    """
    unknown = set(factors) - set(P.keys("constants"))
    if unknown:
        raise ValueError(f"only constants can be scaled, not {sorted(unknown)}")
    baseline, changed, shared = dict(c.baseline), dict(c.changed), dict(c.shared)
    resolved = c.load("baseline").constants
    for key, factor in factors.items():
        if key in changed:
            baseline[key] = baseline[key] * factor
            changed[key] = changed[key] * factor
        else:
            shared[key] = resolved[key] * factor
    return replace(c, baseline=baseline, changed=changed, shared=shared)


def knocked_out(c: Contrast, extra: dict[str, float] | None = None,
                ) -> tuple[Contrast, dict[str, float]]:
    """`c` with the rule of its own CMOC knocked out in both arms (`KNOCKOUTS`, and
    `extra` on top), and the constants to write past validation (``unchecked`` of
    `run_contrast`).

    A knocked-out value inside its allowed range goes into `shared` (replacing the
    contrast's own setting of that key); one outside it, or a constant the arms set
    themselves, is returned to be written into both arms after validation.
    """
    shared, unchecked = dict(c.shared), {}
    for key, value in {**KNOCKOUTS[c.cmoc], **(extra or {})}.items():
        param = P.PARAM_BY_KEY[key]
        if key in c.changed or not param.lo <= value <= param.hi:
            unchecked[key] = value
        else:
            shared[key] = value
    return replace(c, shared=shared), unchecked


def run_knockout(c: Contrast, replicates: int | None = None, seed: int = 0,
                 unchecked: dict[str, float] | None = None,
                 extra: dict[str, float] | None = None) -> ContrastResult:
    """Run `c` with its own CMOC's rule knocked out in both arms (`knocked_out`).

    Expected: not supported. A contrast that still passes reaches its outcome through
    other rules (`SURVIVES_KNOCKOUT`). `unchecked` constants (a test hook) are written
    first, the knock-out's own over them.
    """
    d, own = knocked_out(c, extra)
    return run_contrast(d, replicates, seed, {**(unchecked or {}), **own} or None)


def knockout_text(cmoc: str) -> str:
    """The knock-out of `cmoc` in words: ``trust_mandate=0, ...`` (short parameter names)."""
    return ", ".join(f"{key.split('.', 1)[1]}={value:g}"
                     for key, value in KNOCKOUTS[cmoc].items())


def run_all(contrasts: tuple[Contrast, ...] = CONTRASTS, replicates: int | None = None,
            seed: int = 0) -> list[ContrastResult]:
    return [run_contrast(c, replicates, seed) for c in contrasts]


def results_table(results: list[ContrastResult]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in results])


def _markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append(f"{v:.3g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="CMOC ids to run (default: all)")
    parser.add_argument("--secondary", action="store_true", help="also run SECONDARY and "
                        "the emergent checks")
    args = parser.parse_args(argv)
    from analysis.validate import checked_ids  # validate imports this module at its load

    try:  # --only C99, c05: one line, or the ids as icsabm validate --only takes them
        args.only = checked_ids(args.only, "--only") if args.only else None
    except ScenarioError as exc:
        print(f"python -m analysis.contrasts: error: {exc}", file=sys.stderr)
        return 2
    chosen = tuple(c for c in CONTRASTS if not args.only or c.cmoc in args.only)
    if args.secondary:
        chosen += tuple(c for c in SECONDARY if not args.only or c.cmoc in args.only)
        chosen += EMERGENT_MANDATE if not args.only else ()
    try:
        results = run_all(chosen, args.replicates, args.seed)
    except ScenarioError as exc:  # --replicates 0, --seed -1: one line, as icsabm says it
        print(f"python -m analysis.contrasts: error: --{exc}", file=sys.stderr)
        return 2
    frame = results_table(results)
    print(_markdown(frame.drop(columns=["a12_floor", "replicates"])))
    print(f"\n{int(frame['supported'].sum())} of {len(frame)} supported")
    if args.secondary and not args.only:
        print(bistability(seed=args.seed).describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
