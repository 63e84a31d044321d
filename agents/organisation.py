"""The Mesa agent: an ICS partner organisation as a view onto its row of the state arrays.

An `Organisation` holds no state of its own beyond its row index: every
attribute reads (and, where it makes sense, writes) the model's arrays, so
the Mesa path and the batch kernels share one source of truth (Covasim's
`people.person(i)` idea). `model.agents.agg`, `select` and `groupby` work as
Mesa users expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa.discrete_space import FixedAgent

from agents.kinds import KIND_NAMES, KINDS, SECTORS
from model import state as S
from model.kernel import mean_trust
from model.regimes import MATURITY, maturity

if TYPE_CHECKING:
    from model.ics_model import ICSModel


def _org_field(index: int, doc: str, writable: bool = False) -> property:
    def get(self: Organisation) -> float:
        return float(self.model.state.org[index, self.index])

    def set_(self: Organisation, value: float) -> None:
        self.model.state.org[index, self.index] = value

    return property(get, set_ if writable else None, doc=doc)


class Organisation(FixedAgent):
    """One partner organisation (NHS trust, PCN, local authority, VCSE, university, ICB).

    Attributes are views onto `model.state`; see THEORY §2 for their meaning.
    """

    model: ICSModel

    def __init__(self, model: ICSModel, index: int, name: str) -> None:
        super().__init__(model)
        self.index = index
        self.name = name

    # static attributes -------------------------------------------------------
    @property
    def kind(self) -> str:
        """Kind key (`acute_trust`, `pcn`, ...)."""
        return KIND_NAMES[int(self.model.state.kind[self.index])]

    @property
    def kind_label(self) -> str:
        """Plain-English name of the kind (`Integrated care board`, ...)."""
        return KINDS[int(self.model.state.kind[self.index])].label

    @property
    def sector(self) -> str:
        """Sector key (`health`, `social_care`, `voluntary`, `academic`; C07, C34)."""
        return SECTORS[int(self.model.state.sector[self.index])]

    @property
    def culture(self) -> np.ndarray:
        """This organisation's culture vector (a view, C34, C35)."""
        return self.model.state.culture[self.index]

    size = _org_field(S.SIZE, "Staff headcount.")
    power = _org_field(S.POWER, "Power, size^gamma relative to the largest partner (C17).")
    x_km = _org_field(S.X_KM, "Position east, km.")
    y_km = _org_field(S.Y_KM, "Position north, km.")
    leadership = _org_field(S.LEADERSHIP, "Collaborative leadership quality (C18).", True)
    accountability = _org_field(S.ACCOUNTABILITY, "Leaders' accountability (C32).", True)

    @property
    def champion(self) -> bool:
        """True if its leader champions the collaboration (C25)."""
        return bool(self.model.state.org[S.CHAMPION, self.index] == 1.0)

    # dynamic state -------------------------------------------------------------
    faith = _org_field(S.FAITH, "Belief that the collaboration is worth it.", True)
    capacity = _org_field(S.CAPACITY, "Resources free for collaborative work.", True)
    confidence = _org_field(S.CONFIDENCE, "Mean confidence in partners (C11).")
    risk_tolerance = _org_field(S.RISK_TOLERANCE, "Risk tolerance (C10).")
    behaviour = _org_field(S.BEHAVIOUR, "Collaborative behaviour (C40).")
    perceived_progress = _org_field(S.PERCEIVED_PROGRESS, "Perceived progress (C20).")

    @property
    def active(self) -> bool:
        """True while a member; False after leaving (voluntary regimes only)."""
        return bool(self.model.state.org[S.ACTIVE, self.index] == 1.0)

    def trust_in(self, other: Organisation) -> float:
        """This organisation's trust in `other` (directed)."""
        return float(self.model.state.pair[S.TRUST, self.index, other.index])

    @property
    def trust_in_others(self) -> float:
        """Mean trust in the other active members."""
        st = self.model.state
        return float(mean_trust(st.org, st.pair, self.index)[0])

    @property
    def trusted_by_others(self) -> float:
        """Mean trust the other active members have in this one."""
        st = self.model.state
        return float(mean_trust(st.org, st.pair, self.index)[1])

    @property
    def maturity(self) -> str:
        """Pathological, bureaucratic or generative (M23's adaptation of Westrum)."""
        level = maturity(self.trust_in_others, self.faith, self.model.state.params)
        return MATURITY[int(level)]

    def __repr__(self) -> str:
        return f"Organisation({self.index}, {self.name!r}, {self.kind})"
