"""The parameter table: every number the model uses, declared once.

Each `Param` carries its default, allowed range, unit, the CMOC ids of
THEORY.md it serves and where its value comes from. Three groups:

* ``structure.*`` — derived from the scenario's `regime` and `form`; not set
  directly in a scenario file.
* ``context.*`` — the partnership context of THEORY §2 (the `[context]` table
  of a scenario file). Timelines may change them at a given month.
* ``constants.*`` — the free constants of the reference formulation of THEORY
  §5 (learning rates, thresholds), settable in a `[constants]` table or with
  ``--set constants.NAME=VALUE`` for sensitivity analysis.

Kernels receive all of them as one packed float64 array. The index of every
parameter is generated here from the table as an upper-case module attribute
(``params.FORMALISATION``, ``params.TRUST_FROM_COMMUNICATION``), so adding a
parameter is one line in `PARAMS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes:
        key: dotted name used in scenario files, ``--set`` and output columns.
        default: value used when a scenario does not set it.
        lo: smallest allowed value (inclusive).
        hi: largest allowed value (inclusive).
        unit: unit in plain words.
        cmoc: CMOC ids of THEORY.md this parameter carries.
        source: where the value or its range comes from.
        doc: what it means, in one sentence.
    """

    key: str
    default: float
    lo: float
    hi: float
    unit: str
    cmoc: str
    source: str
    doc: str

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


_U = "share 0-1"
_T = "THEORY §5 reference formulation; calibrated to THEORY §6 (docs/ODD.md)"

PARAMS: tuple[Param, ...] = (
    # --- structure, from regime and form -----------------------------------
    Param("structure.mandated", 0, 0, 1, "flag", "C01 C02 C11 C12 C17 C20 C36",
          "THEORY §2", "1 under a mandated regime, 0 under a voluntary one"),
    Param("structure.integration", 0.7, 0, 1, _U, "C11 C12",
          "M23 ch. 2 (collaboration forms)", "integration depth of the form"),
    Param("structure.form_reputation", 0.0, -0.2, 0.2, "legitimacy", "C02 C03",
          "A22", "legitimacy the form itself carries"),
    # --- context (THEORY §2; CONTRACT [context]) ----------------------------
    Param("context.formalisation", 0.3, 0, 1, _U, "C11 C12", "A22, M23",
          "strength of the MoU / contract / governance"),
    Param("context.conflict_resolution", 0.3, 0, 1, _U, "C32", "A22, M23",
          "strength of the dispute and conflict-resolution mechanism"),
    Param("context.shared_vision", 0.4, 0, 1, _U, "C16", "A22",
          "clarity and sharedness of the collaboration's vision"),
    Param("context.ambition", 0.5, 0, 1, _U, "C07 C22", "A22, M23",
          "ambition of the aims (raises the bar progress is judged against)"),
    Param("context.funding", 0.4, 0, 1, _U, "C08 C27", "A22",
          "external funding and support for collaborative work"),
    Param("context.regulatory_favourability", 0.4, 0, 1, _U, "C07", "A22, M23",
          "how far regulation eases the joint work"),
    Param("context.history_of_competition", 0.6, 0, 1, _U, "C04", "M23, G24",
          "bad blood and fortress mentality between the partners"),
    Param("context.stakeholder_involvement", 0.3, 0, 1, _U, "C03", "A22",
          "stakeholder and service-user involvement"),
    Param("context.prior_success", 0.2, 0, 1, _U, "C05", "M23",
          "history of successful collaboration between the partners"),
    Param("context.quick_wins", 0.0, 0, 1, _U, "C21", "A22, M23",
          "quick wins planned early in the life cycle"),
    Param("context.evaluation", 0.3, 0, 1, _U, "C23", "A22, M23",
          "continuous evaluation of the collaboration's progress"),
    Param("context.autonomy", 0.5, 0, 1, _U, "C19", "A22",
          "autonomy partners keep within the collaboration"),
    Param("context.due_diligence", 0.2, 0, 1, _U, "C35", "A22, M23",
          "cultural due diligence and integration work"),
    Param("context.shared_roles", 0.1, 0, 1, _U, "C51", "G24",
          "shared roles, directories and joint events"),
    Param("context.it_interoperability", 0.3, 0, 1, _U, "C07", "A22, M23",
          "interoperability of the partners' IT and data"),
    Param("context.deprivation", 0.5, 0, 1, _U, "C07", "A22",
          "deprivation of the population served"),
    Param("context.footprint_km", 60.0, 0.0, 1000.0, "km", "C14", "THEORY §7",
          "side of the square footprint organisations are placed in (0: all at one point)"),
    Param("context.turbulence_rate", 0.0, 0, 1, "shocks per month", "C50", "vE24",
          "monthly probability of a system-wide financial or operational shock"),
    Param("context.turbulence_size", 0.2, 0, 1, "share of capacity", "C50", "vE24",
          "mean share of capacity a shock removes"),
    Param("context.leadership_turnover", 0.01, 0, 1, "per organisation per month", "C24",
          "A22, M23", "probability an organisation's leader changes in a month"),
    Param("context.leadership", 0.5, 0, 1, _U, "C18 C35", "A22",
          "mean collaborative leadership quality of the partners"),
    Param("context.accountability", 0.5, 0, 1, _U, "C11 C32", "A22, M23",
          "mean accountability of the partners' leaders"),
    Param("context.regulator_mistrust", 0.2, 0, 1, _U, "C06", "A22",
          "mistrust of regulators; funding promised before but not delivered"),
    Param("context.champions", 0.0, 0, 1, "share of organisations", "C25", "A22",
          "share of organisations whose leaders champion the collaboration"),
    Param("context.peer_comparison", 0.0, 0, 1, _U, "C26", "A22",
          "strength of peer comparison (league tables, peer review)"),
    Param("context.economic_pressure", 0.3, 0, 1, _U, "C51", "G24, vE24",
          "financial pressure and competitive culture squeezing spare capacity"),
    # --- constants: initial conditions (THEORY §5 step 1) -------------------
    Param("constants.power_exponent", 0.5, 0.1, 1.0, "exponent", "C17", _T,
          "power is size to this exponent, normalised by the largest partner"),
    Param("constants.proximity_scale_km", 25.0, 1.0, 500.0, "km", "C14", _T,
          "distance over which proximity falls by a factor e"),
    Param("constants.complexity_partners", 0.35, 0, 1, "weight", "C07", _T,
          "complexity from the number of partners (log scale, 100 partners = 1)"),
    Param("constants.complexity_size", 0.15, 0, 1, "weight", "C07", _T,
          "complexity from the partners' mean log10 headcount / 4"),
    Param("constants.complexity_cross_sector", 0.25, 0, 1, "weight", "C07 C34", _T,
          "complexity from the share of cross-sector pairs"),
    Param("constants.complexity_regulation", 0.1, 0, 1, "weight", "C07", _T,
          "complexity from unfavourable regulation"),
    Param("constants.complexity_deprivation", 0.1, 0, 1, "weight", "C07", _T,
          "complexity from population deprivation"),
    Param("constants.complexity_ambition", 0.1, 0, 1, "weight", "C07", _T,
          "complexity from ambitious (less simple) aims"),
    Param("constants.complexity_it", 0.15, 0, 1, "weight", "C07", _T,
          "complexity removed by IT interoperability"),
    Param("constants.legitimacy_base", 0.6, 0, 1, _U, "C02", _T,
          "legitimacy of a voluntary collaboration with no involvement"),
    Param("constants.legitimacy_mandate", 0.2, 0, 1, "legitimacy", "C02", _T,
          "legitimacy lost when the collaboration is mandated"),
    Param("constants.legitimacy_stakeholders", 0.35, 0, 1, "legitimacy", "C03", _T,
          "legitimacy gained from full stakeholder involvement"),
    Param("constants.trust_base", 0.45, 0, 1, "trust", "C04 C05", _T,
          "initial trust with no history, no mandate and no power gap"),
    Param("constants.trust_history", 0.3, 0, 1, "trust", "C04", _T,
          "initial trust lost to a full history of competition"),
    Param("constants.trust_prior_success", 0.2, 0, 1, "trust", "C05", _T,
          "initial trust gained from full prior success"),
    Param("constants.trust_mandate", 0.1, 0, 1, "trust", "C01", _T,
          "initial trust lost under a mandate (sovereignty, takeover fears)"),
    Param("constants.trust_power_gap", 0.15, 0, 1, "trust", "C17", _T,
          "initial trust lost per unit of power gap toward a larger partner"),
    Param("constants.trust_regulator_mistrust", 0.1, 0, 1, "trust", "C06", _T,
          "initial trust lost to full mistrust of regulators"),
    Param("constants.trust_noise", 0.05, 0, 0.5, "trust", "C04 C05", _T,
          "sd of initial trust between pairs"),
    Param("constants.capacity_base", 0.3, 0, 1, _U, "C08", _T,
          "funded capacity level with no funding and no pressure"),
    Param("constants.capacity_funding", 0.5, 0, 1, _U, "C08 C27", _T,
          "funded capacity gained from full funding"),
    Param("constants.capacity_pressure", 0.25, 0, 1, _U, "C51", _T,
          "funded capacity lost to full economic pressure"),
    Param("constants.capacity_noise", 0.05, 0, 0.5, _U, "C08", _T,
          "sd of the funded capacity between organisations"),
    Param("constants.faith_base", 0.4, 0, 1, "faith", "C02 C07 C08", _T,
          "faith anchor when its other terms are 0: legitimacy, capacity, vision and "
          "leadership 0.5; no complexity, regulator mistrust or champion; ambition 0 or 1"),
    Param("constants.faith_legitimacy", 0.5, 0, 2, "faith per legitimacy", "C02 C03", _T,
          "faith anchor gained per unit of legitimacy above 0.5"),
    Param("constants.faith_complexity", 0.2, 0, 2, "faith per complexity", "C07", _T,
          "faith anchor lost per unit of task complexity"),
    Param("constants.faith_capacity", 0.3, 0, 2, "faith per capacity", "C08", _T,
          "faith anchor gained per unit of capacity above 0.5"),
    Param("constants.faith_vision", 0.2, 0, 2, "faith per vision", "C16", _T,
          "faith anchor gained per unit of shared vision above 0.5"),
    Param("constants.faith_leadership", 0.2, 0, 2, "faith per leadership", "C18", _T,
          "faith anchor gained per unit of leadership above 0.5"),
    Param("constants.faith_regulator_mistrust", 0.15, 0, 1, "faith", "C06", _T,
          "faith anchor lost to full mistrust of regulators"),
    Param("constants.faith_ambition", 0.05, 0, 1, "faith", "C22", _T,
          "faith anchor from inspiring aims, 4 a (1 - a) at ambition a (most at 0.5)"),
    Param("constants.faith_champion", 0.25, 0, 1, "faith", "C25", _T,
          "faith anchor gained by an organisation whose leader is a champion"),
    Param("constants.faith_noise", 0.05, 0, 0.5, "faith", "C02", _T,
          "sd of initial faith between organisations"),
    Param("constants.leadership_noise", 0.15, 0, 0.5, _U, "C18", _T,
          "sd of leadership quality between organisations"),
    Param("constants.accountability_noise", 0.1, 0, 0.5, _U, "C32", _T,
          "sd of accountability between organisations"),
    Param("constants.culture_noise", 0.06, 0, 0.5, "culture", "C34", _T,
          "sd of an organisation's culture around its sector's centre"),
    # --- constants: dynamics (THEORY §5 steps 2-13) --------------------------
    Param("constants.communication_base", 0.3, 0, 1, _U, "C13", _T,
          "communication between partners that do not yet collaborate"),
    Param("constants.communication_complexity", 0.6, 0, 1, "weight", "C15", _T,
          "communication lost per unit of complexity"),
    Param("constants.communication_shared_roles", 0.4, 0, 1, "proximity", "C51", _T,
          "proximity added by full shared roles and events"),
    Param("constants.culture_tolerance", 0.6, 0.05, 2, "culture distance", "C13", _T,
          "cultural distance at which communication stops building trust"),
    Param("constants.trust_from_communication", 0.08, 0, 1, "per month", "C13", _T,
          "trust learning rate from communication with a compatible partner"),
    Param("constants.trust_from_leadership", 0.02, 0, 1, "per month", "C18", _T,
          "trust gained from communicating with a collaborative leader"),
    Param("constants.trust_from_success", 0.04, 0, 1, "per month", "C41", _T,
          "trust gained per unit of real joint progress"),
    Param("constants.trust_loss_tension", 0.08, 0, 1, "per month", "C13 C31", _T,
          "trust lost when communicating while a conflict is running"),
    Param("constants.trust_loss_power", 0.015, 0, 1, "per month", "C17", _T,
          "trust eroded per unit of power gap (domination)"),
    Param("constants.power_mandate_amplifier", 1.0, 0, 5, "factor", "C17", _T,
          "extra domination when a weaker partner is paired by mandate"),
    Param("constants.autonomy_protection", 0.8, 0, 1, _U, "C19", _T,
          "share of domination removed by full autonomy"),
    Param("constants.trust_loss_overformalisation", 0.04, 0, 1, "per month", "C12", _T,
          "trust eroded by formalisation above the threshold in voluntary forms"),
    Param("constants.overformalisation_threshold", 0.5, 0, 1, _U, "C12", _T,
          "formalisation above which a voluntary, loose form reads it as obligation"),
    Param("constants.tension_decay", 0.7, 0, 1, "per month", "C13 C31", _T,
          "share of a running conflict's tension left after a month"),
    Param("constants.conflict_rate", 0.06, 0, 1, "per month", "C30", _T,
          "conflict probability per unit of communication and conflict drive"),
    Param("constants.conflict_culture", 3.0, 0, 5, "weight", "C30 C34", _T,
          "conflict drive per unit of cultural distance"),
    Param("constants.conflict_power", 0.5, 0, 5, "weight", "C17", _T,
          "conflict drive per unit of power difference"),
    Param("constants.conflict_vision", 0.5, 0, 5, "weight", "C16", _T,
          "conflict drive per unit of unshared vision"),
    Param("constants.conflict_stall", 2.0, 0, 5, "weight", "C33", _T,
          "conflict drive per unit of progress below expectation"),
    Param("constants.conflict_mandate", 0.2, 0, 5, "weight", "C01", _T,
          "conflict drive added by a mandate"),
    Param("constants.resolution_accountability_floor", 0.3, 0, 1, _U, "C32", _T,
          "share of resolution strength left when leaders are wholly unaccountable"),
    Param("constants.conflict_trust_loss", 0.15, 0, 1, "share of trust", "C31", _T,
          "share of trust lost, both ways, to an unresolved conflict"),
    Param("constants.conflict_faith_loss", 0.02, 0, 1, "faith", "C31", _T,
          "faith lost on both sides to an unresolved conflict"),
    Param("constants.culture_drift", 0.1, 0, 1, "per month", "C35", _T,
          "rate cultures drift toward communicating partners"),
    Param("constants.culture_due_diligence", 4.0, 0, 10, "factor", "C35", _T,
          "extra culture drift from full cultural due diligence"),
    Param("constants.confidence_base", 0.3, 0, 1, "confidence", "C11", _T,
          "confidence per unit of formalisation in a voluntary, loose form"),
    Param("constants.confidence_mandate", 0.3, 0, 1, "confidence", "C11", _T,
          "extra confidence per unit of formalisation under a mandate"),
    Param("constants.confidence_integration", 0.4, 0, 1, "confidence", "C11", _T,
          "extra confidence per unit of formalisation in a fully integrative form"),
    Param("constants.confidence_accountability_floor", 0.5, 0, 1, _U, "C11", _T,
          "share of confidence kept in a wholly unaccountable partner"),
    Param("constants.behaviour_slope", 11.0, 1, 50, "per unit driver", "C10 C40", _T,
          "steepness of the behaviour threshold on sqrt(risk tolerance x faith)"),
    Param("constants.behaviour_threshold", 0.6, 0, 1, "driver", "C10 C40", _T,
          "value of sqrt(risk tolerance x faith) at which behaviour is half on"),
    Param("constants.capacity_reference", 0.5, 0.05, 1, _U, "C43 C51", _T,
          "capacity at which an organisation can fully behave collaboratively"),
    Param("constants.capacity_exponent", 0.5, 0, 2, "exponent", "C43", _T,
          "how strongly low capacity limits collaborative behaviour"),
    Param("constants.strain_behaviour", 1.0, 0, 1, "factor", "C50", _T,
          "behaviour withheld per unit of turbulence strain (pulled inward)"),
    Param("constants.strain_decay", 0.8, 0, 1, "per month", "C50", _T,
          "share of turbulence strain left after a month"),
    Param("constants.complementarity", 0.5, 0, 2, "factor", "C42", _T,
          "extra value of a cross-sector pair that behaves collaboratively"),
    Param("constants.behaviour_cost", 0.03, 0, 1, "capacity per month", "C28 C43", _T,
          "capacity spent per unit of collaborative behaviour"),
    Param("constants.transaction_cost", 0.03, 0, 1, "capacity per month", "C43", _T,
          "extra capacity spent on daily functioning when trust is absent"),
    Param("constants.capacity_relaxation", 0.1, 0, 1, "per month", "C08", _T,
          "rate capacity returns to its funded level"),
    Param("constants.return_lag", 12.0, 1, 120, "months", "C28", _T,
          "time constant before joint output pays back in capacity"),
    Param("constants.return_share", 0.05, 0, 1, "capacity per output", "C28 C42", _T,
          "capacity returned per unit of (lagged) joint output"),
    Param("constants.progress_rate", 0.15, 0, 1, "per month", "C20 C23", _T,
          "rate perceived progress follows its signal"),
    Param("constants.evaluation_speedup", 1.0, 0, 10, "factor", "C23", _T,
          "extra tracking speed of perceived progress under full evaluation"),
    Param("constants.perception_noise", 0.15, 0, 1, "progress", "C23", _T,
          "sd of the misperception of progress with no evaluation"),
    Param("constants.quick_win_size", 0.42, 0, 1, "progress", "C21", _T,
          "real progress added by full quick wins while they last"),
    Param("constants.quick_win_months", 18, 0, 120, "months", "C21", _T,
          "months from the start during which quick wins arrive"),
    Param("constants.expected_progress", 0.3, 0, 1, "progress", "C20 C22", _T,
          "progress partners expect once patience has run out, at ambition 0.5"),
    Param("constants.patience_months", 18, 1, 120, "months", "C20 C28", _T,
          "months over which expected progress ramps up (collaboration costs first)"),
    Param("constants.faith_from_progress", 0.04, 0, 1, "per month", "C20", _T,
          "faith learning rate from perceived progress against expectation"),
    Param("constants.faith_anchor_rate", 0.04, 0, 1, "per month", "C02 C07 C08", _T,
          "rate faith relaxes toward its context anchor"),
    Param("constants.peer_amplifier", 1.0, 0, 5, "factor", "C26", _T,
          "extra progress-to-faith gain under full peer comparison"),
    Param("constants.faith_diffusion", 0.05, 0, 1, "per month", "C25", _T,
          "rate faith spreads between communicating partners"),
    Param("constants.champion_influence", 3.0, 0, 20, "factor", "C25", _T,
          "extra weight of a champion's faith in diffusion"),
    Param("constants.funding_cut_faith", 0.5, 0, 5, "faith per capacity", "C27", _T,
          "faith lost per unit of capacity cut or funding withheld"),
    Param("constants.funding_cut_trust", 0.5, 0, 5, "share per capacity", "C27", _T,
          "share of trust lost per unit of capacity cut or funding withheld"),
    Param("constants.turnover_faith_loss", 0.3, 0, 1, "share of faith", "C24", _T,
          "share of faith lost when an organisation's leader changes"),
    Param("constants.turnover_trust_reset", 0.5, 0, 1, "share", "C24", _T,
          "share of trust built since the start that a leadership change undoes"),
    Param("constants.exit_faith", 0.15, 0, 1, "faith", "C20", _T,
          "faith below which a voluntary member counts months toward leaving"),
    Param("constants.exit_patience", 6, 1, 120, "months", "C20", _T,
          "months of faith below exit_faith after which a voluntary member leaves"),
    Param("constants.exit_grievance", 3.0, 0.5, 100, "conflicts", "C36", _T,
          "unresolved-conflict load at which a voluntary member leaves"),
    Param("constants.grievance_decay", 0.9, 0, 1, "per month", "C36", _T,
          "share of the unresolved-conflict load left after a month"),
    # --- constants: classification (THEORY §4) --------------------------------
    Param("constants.regime_window", 12, 1, 120, "months", "C40", "THEORY §4",
          "final window over which a run's regime is judged"),
    Param("constants.synergy_behaviour", 0.5, 0, 1, "behaviour", "C40", "THEORY §4",
          "mean behaviour over the final window at or above which a run is in synergy"),
    Param("constants.synergy_output", 0.15, 0, 1, "output", "C40", "THEORY §4",
          "mean output over the final window at or above which a run is in synergy"),
    Param("constants.dissolution_share", 0.5, 0, 1, "share of members", "C20 C36", "THEORY §4",
          "share of members left below which a voluntary run has dissolved (as has one "
          "with fewer than two members left)"),
    Param("constants.maturity_bureaucratic", 0.35, 0, 1, "score", "C40", "M23 ch. 7 (Westrum)",
          "mean of trust and faith from which an organisation is bureaucratic"),
    Param("constants.maturity_generative", 0.65, 0, 1, "score", "C40", "M23 ch. 7 (Westrum)",
          "mean of trust and faith from which an organisation is generative"),
)

#: Parameters whose value must be a whole number.
INTEGER_KEYS = frozenset(
    {
        "constants.quick_win_months",
        "constants.patience_months",
        "constants.exit_patience",
        "constants.regime_window",
    }
)

#: Context that acts only when the partnership forms (month 0): a timeline
#: cannot change it (the loader says so rather than ignoring the change).
MONTH_ZERO_ONLY = frozenset(
    {
        "context.history_of_competition",
        "context.prior_success",
        "context.footprint_km",
        "context.champions",
        "context.accountability",
    }
)

#: Integration depth and reputation of each collaboration form [M23 ch. 2], read into
#: `structure.integration` and `structure.form_reputation` by `Scenario.packed`. Kept
#: here, in a kernel source, so that `jit_cache.source_hash` (the workers' check, a
#: sweep's `--resume`) changes when these values do.
FORMS: dict[str, tuple[float, float]] = {
    "network": (0.1, 0.0),
    "buddying": (0.4, -0.05),
    "alliance": (0.5, 0.05),
    "research": (0.3, 0.05),
    "ics": (0.7, 0.0),
    "merger": (1.0, -0.05),
}

PARAM_BY_KEY: dict[str, Param] = {p.key: p for p in PARAMS}
N_PARAMS = len(PARAMS)
DEFAULTS = np.array([p.default for p in PARAMS], dtype=np.float64)


def _generate_indices() -> None:
    """Expose the packed index of each parameter as an upper-case module attribute."""
    seen: set[str] = set()
    for index, param in enumerate(PARAMS):
        name = param.name.upper()
        if name in seen:
            raise RuntimeError(f"two parameters are both named {name!r}")
        seen.add(name)
        globals()[name] = index


_generate_indices()


_INDEX = {param.key: i for i, param in enumerate(PARAMS)}


def index(key: str) -> int:
    """Packed index of the parameter with dotted `key` (KeyError for an unknown key)."""
    return _INDEX[key]


#: The parameters of each group by short name, in table order (looked up for every
#: point of a sweep, so built once).
BY_GROUP: dict[str, dict[str, Param]] = {
    group: {p.name: p for p in PARAMS if p.group == group}
    for group in ("structure", "context", "constants")
}


def keys(group: str) -> list[str]:
    """Dotted keys of one group (`structure`, `context` or `constants`)."""
    return [p.key for p in BY_GROUP[group].values()]
