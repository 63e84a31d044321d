"""Organisation kinds of an English Integrated Care System and their defaults.

Each kind has a sector (THEORY §2: health, social care, voluntary, academic), a
log-normal staff headcount (median and log-sd chosen so that the central 90% of
draws falls in the ranges of THEORY §2), and a capacity offset. Cultures are
drawn around one centre per sector, so cross-sector pairs start further apart
(C34 [A22, M23]).

The numbers are orders of magnitude, not data: THEORY §2 and §7 give the
ranges (acute trust ~5,000-10,000 staff; community or mental health trust
~2,000-5,000; local authority adult social care and public health
~1,000-3,000; PCN ~50-200; VCSE ~5-200; university research staff
~500-2,000; ICB ~300-600).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECTORS: tuple[str, ...] = ("health", "social_care", "voluntary", "academic")

#: Culture centre of each sector in a D=4 space of attitudes and working
#: practices (hierarchy, person-centredness, evidence orientation, informality).
#: Distances between centres make the cross-sector divide of C34.
SECTOR_CULTURE = np.array(
    [
        [0.75, 0.30, 0.65, 0.35],  # health: hierarchical, target-driven
        [0.45, 0.65, 0.40, 0.55],  # social care
        [0.25, 0.80, 0.30, 0.75],  # voluntary and community sector
        [0.50, 0.35, 0.85, 0.20],  # academic
    ],
    dtype=np.float64,
)
CULTURE_DIMS = SECTOR_CULTURE.shape[1]


@dataclass(frozen=True)
class Kind:
    """One kind of partner organisation.

    Attributes:
        name: key used in scenario files (`[organisations]` and rosters).
        label: plain-English name for tables, figures and the UI.
        sector: one of `SECTORS`.
        size_median: median staff headcount (THEORY §2).
        size_sigma: log-sd of the headcount.
        capacity_offset: added to the funded capacity level; small
            organisations have less slack for collaborative work (C51 [G24]).
    """

    name: str
    label: str
    sector: str
    size_median: float
    size_sigma: float
    capacity_offset: float


KINDS: tuple[Kind, ...] = (
    Kind("icb", "Integrated care board", "health", 450.0, 0.15, 0.05),
    Kind("acute_trust", "Acute trust", "health", 7000.0, 0.20, 0.0),
    Kind("community_trust", "Community trust", "health", 3200.0, 0.25, 0.0),
    Kind("mental_health_trust", "Mental health trust", "health", 3200.0, 0.25, 0.0),
    Kind("local_authority", "Local authority", "social_care", 1700.0, 0.30, -0.03),
    Kind("pcn", "Primary care network", "health", 100.0, 0.40, -0.08),
    Kind("vcse", "Voluntary / community org", "voluntary", 35.0, 0.90, -0.10),
    Kind("university", "University", "academic", 1000.0, 0.35, 0.0),
)
KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
KIND_INDEX: dict[str, int] = {k.name: i for i, k in enumerate(KINDS)}

#: Column layout of `kind_table()`, the array form kernels receive.
KT_SECTOR, KT_SIZE_MEDIAN, KT_SIZE_SIGMA, KT_CAPACITY_OFFSET = range(4)


def kind_table() -> np.ndarray:
    """The kinds as a float array `[n_kinds, 4]` for the numba kernels."""
    return np.array(
        [
            [SECTORS.index(k.sector), k.size_median, k.size_sigma, k.capacity_offset]
            for k in KINDS
        ],
        dtype=np.float64,
    )
