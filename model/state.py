"""State layout: the struct-of-arrays form of every organisation and pair.

All dtypes and field orders are declared here, once. Kernels address a field
by its generated upper-case index (``org[state.FAITH]`` is the faith vector
of all organisations, ``pair[state.TRUST]`` the directed trust matrix), so
adding a field is one name in one tuple.

* ``org``     float64 ``[N_ORG, N]``: one row per organisation field.
* ``pair``    float64 ``[N_PAIR, N, N]``: directed pair fields (``[i, j]`` is
  i's view of j).
* ``culture`` float64 ``[N, D]``.
* ``kind``, ``sector`` int64 ``[N]``.
* ``world``   float64 ``[N_WORLD]``: partnership-level state.
* ``rng``     uint64 ``[4]``: the replicate's own random stream.
* ``metrics`` float64 ``[N_METRICS]``: the time-series row of one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLOAT = np.float64
INT = np.int64
RNG_WORDS = 4

ORG_FIELDS: tuple[str, ...] = (
    "size",  # staff headcount (static)
    "power",  # size^gamma / max (static, C17)
    "x_km",
    "y_km",  # position in the footprint (static, C14)
    "leadership",  # collaborative leadership quality (C18)
    "accountability",  # leaders' accountability (C32)
    "champion",  # 1 if the leader champions the collaboration (C25)
    "capacity_offset",  # per-organisation offset of the funded capacity level (C08)
    "funded",  # funded capacity level this month (C08, C27)
    "faith",  # belief the collaboration is worth it
    "capacity",  # resources free for collaborative work
    "confidence",  # mean confidence in partners (C11)
    "risk_tolerance",  # (C10)
    "behaviour",  # collaborative behaviour (C40)
    "perceived_progress",  # (C20, C23)
    "grievance",  # leaky count of unresolved conflicts (C36)
    "low_faith_months",  # consecutive months with faith below the exit bar (C20)
    "active",  # 1 while a member, 0 after exit
)
PAIR_FIELDS: tuple[str, ...] = (
    "trust",  # i's trust in j
    "trust_initial",  # trust at month 0, what leadership turnover resets toward (C24)
    "communication",  # communication intensity, symmetric (C13-C15)
    "tension",  # a running, unresolved conflict, decaying (C13, C31)
    "proximity",  # exp(-distance / d0), static (C14)
    "power_gap",  # max(0, power_j - power_i), static (C17)
    "culture_distance",  # cultural distance, updated as cultures drift (C30, C34)
)
WORLD_FIELDS: tuple[str, ...] = (
    "month",
    "cross_sector",  # share of cross-sector pairs, static (C07, C34)
    "mean_log_size",  # mean log10 headcount, static (C07)
    "complexity",  # task complexity (C07)
    "legitimacy",  # perceived legitimacy (C02, C03)
    "strain",  # turbulence pulling organisations inward (C50)
    "pipeline",  # lagged joint output that pays back capacity (C28)
    "output",  # joint value created this month (C42)
    "cumulative_output",
    "real_progress",  # output's progress signal (C20)
    "expected_progress",  # the bar progress is judged against (C20, C22)
    "conflicts",  # conflicts raised this month (C30)
    "conflicts_resolved",  # of which resolved (C32)
    "shocks",  # turbulence shocks this month (C50)
    "exits",  # members who left this month (C20, C36)
)
METRICS: tuple[str, ...] = (
    "mean_trust",
    "mean_faith",
    "mean_capacity",
    "mean_behaviour",
    "mean_confidence",
    "mean_risk_tolerance",
    "mean_perceived_progress",
    "communication",
    "mean_culture_distance",
    "conflicts",
    "conflicts_resolved",
    "output",
    "cumulative_output",
    "real_progress",
    "strain",
    "shocks",
    "exits",
    "active_members",
)
#: The metrics that are counts: int64 in timeseries.parquet and ints in `ICSModel`'s
#: DataCollector (the kernels hold every metric as float64).
INTEGER_METRICS: tuple[str, ...] = ("conflicts", "conflicts_resolved", "shocks", "exits",
                                    "active_members")
#: Per-run reduction of a trajectory (summary.parquet), computed by
#: `regimes.summarise` inside the kernels so sweeps need not keep trajectories.
SUMMARY: tuple[str, ...] = (
    "regime",  # code into regimes.REGIMES
    "time_to_synergy",  # months, or -1 (see regimes.classify): not synergy, or no month qualifies
    "final_mean_trust",
    "final_mean_faith",
    "final_mean_behaviour",
    "final_mean_capacity",
    "final_mean_confidence",
    "cumulative_output",
    "exits",
    "conflicts",
    "conflicts_resolved",
    "shocks",
)
#: Per-organisation record written to `organisations.parquet`.
ORG_RECORD: tuple[str, ...] = (
    "trust_in_others",
    "trusted_by_others",
    "faith",
    "capacity",
    "behaviour",
    "active",
    "champion",
)


def _generate_indices() -> None:
    for names in (ORG_FIELDS, PAIR_FIELDS, WORLD_FIELDS):
        for i, name in enumerate(names):
            globals()[name.upper()] = i
    for i, name in enumerate(METRICS):
        globals()["M_" + name.upper()] = i
    for i, name in enumerate(ORG_RECORD):
        globals()["R_" + name.upper()] = i
    for i, name in enumerate(SUMMARY):
        globals()["Y_" + name.upper()] = i


_generate_indices()
N_ORG, N_PAIR, N_WORLD = len(ORG_FIELDS), len(PAIR_FIELDS), len(WORLD_FIELDS)
N_METRICS, N_ORG_RECORD, N_SUMMARY = len(METRICS), len(ORG_RECORD), len(SUMMARY)


@dataclass
class State:
    """The arrays of one replicate. Kernels take them field by field."""

    org: np.ndarray
    pair: np.ndarray
    culture: np.ndarray
    kind: np.ndarray
    sector: np.ndarray
    world: np.ndarray
    rng: np.ndarray
    params: np.ndarray
    metrics: np.ndarray = field(default_factory=lambda: np.zeros(N_METRICS, FLOAT))

    @classmethod
    def allocate(cls, kind: np.ndarray, culture_dims: int, params: np.ndarray,
                 rng: np.ndarray) -> State:
        """Zeroed arrays for organisations of the given kinds."""
        n = len(kind)
        return cls(
            org=np.zeros((N_ORG, n), FLOAT),
            pair=np.zeros((N_PAIR, n, n), FLOAT),
            culture=np.zeros((n, culture_dims), FLOAT),
            kind=np.asarray(kind, INT).copy(),
            sector=np.zeros(n, INT),
            world=np.zeros(N_WORLD, FLOAT),
            rng=np.asarray(rng, np.uint64).copy(),
            params=np.asarray(params, FLOAT).copy(),
        )
