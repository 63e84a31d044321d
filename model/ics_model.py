"""`ICSModel`: the Mesa model, holding the state arrays and calling the kernel.

The model owns one replicate's arrays (`model.state`) and advances them with
`model.kernel.step`, the same function the batch runner calls. Organisations
are `agents.Organisation` views onto those arrays; a `DataCollector` records
every time-series column of CONTRACT.md and the `organisations.parquet`
columns; a `mesa.discrete_space.Network` holds the partnership graph with
edges weighted by mutual trust, for the browser UI.
"""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Mapping
from typing import Any

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from agents.kinds import SECTOR_CULTURE, kind_table
from agents.organisation import Organisation
from model import kernel
from model import params as P
from model import state as S
from model.regimes import REGIMES, classify
from model.rng import stream_state
from model.scenario import (
    MAX_SEED,
    MAX_STEPS,
    Scenario,
    ScenarioError,
    load_scenario,
    shown,
    whole_number,
)

NETWORK_LIMIT = 300  # organisations; a complete graph of more is slow to keep up to date
AGENT_REPORTERS = ("kind", "size", "trust_in_others", "trusted_by_others", "faith", "capacity",
                   "behaviour", "active", "champion", "maturity")


def _report_metric(model: ICSModel, index: int, kind: type) -> float | int:
    return kind(model.state.metrics[index])


def _metric(name: str) -> functools.partial:
    """The DataCollector reporter of a metric: an int for `state.INTEGER_METRICS` (as in
    `run_replicates` and timeseries.parquet), else a float. A partial of a module-level
    function, not a closure, so that a model pickles (a checkpoint, a process pool)."""
    index, kind = S.METRICS.index(name), int if name in S.INTEGER_METRICS else float
    return functools.partial(_report_metric, index=index, kind=kind)


class ICSModel(mesa.Model):
    """One replicate of a scenario as a Mesa model.

    Args:
        scenario: a `Scenario`, a bundled scenario name, a path to a TOML file or a
            dict of a scenario's contents (as `load_scenario` takes).
        seed: the replicate's integer seed, in [0, 2^63 - 1]. `ICSModel(scenario, seed=s)`
            reproduces the replicate of `run_replicates` whose `seed` column is
            `s`, bit for bit. None draws a fresh seed (recorded in `self.seed`).
        overrides: a mapping of dotted keys to values, applied when `scenario` is not a
            `Scenario`.
        steps: months after which `running` turns False, in [1, MAX_STEPS] (default: the
            scenario's).
        network: keep the Mesa `Network` space (a complete graph) and its trust weights up
            to date; None (the default) does so for up to `NETWORK_LIMIT` organisations.

    Raises:
        ScenarioError (a ValueError): a bad scenario, override, seed, steps or network,
            named.

    `self.datacollector` holds every time-series column (the counts of
    `state.INTEGER_METRICS` as ints, the rest as floats) and an agent table keyed
    by Mesa's `Step` and 1-based `AgentID` (organisation `org` + 1), where
    organisations.parquet has `step` and the 0-based `org`.
    """

    def __init__(self, scenario: Scenario | str | os.PathLike | Mapping = "ics_mandated",
                 seed: int | None = None, overrides: Mapping[str, Any] | None = None,
                 steps: int | None = None, network: bool | None = None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
        seed = whole_number("seed", seed, 0, MAX_SEED)
        if steps is not None:
            steps = whole_number("steps", steps, 1, MAX_STEPS)
        if network is not None and not isinstance(network, bool | np.bool_):
            raise ScenarioError(f"network = {shown(network)} is not a bool; allowed: True, "
                                "False or None (keep it for up to NETWORK_LIMIT organisations)")
        super().__init__(seed=seed)
        scenario = load_scenario(scenario, overrides=overrides)
        self.scenario = scenario
        self.seed = seed
        self.max_steps = scenario.steps if steps is None else steps
        roster = scenario.roster
        self.state = S.State.allocate(roster.kinds, SECTOR_CULTURE.shape[1], scenario.packed(),
                                      stream_state(self.seed))
        self._timeline = scenario.timeline_array()
        st = self.state
        kernel.init_state(st.org, st.pair, st.culture, st.kind, st.sector, st.world, st.params,
                          st.rng, roster.size, roster.x_km, roster.y_km, kind_table(),
                          SECTOR_CULTURE)
        kernel.measure(st.org, st.pair, st.world, st.metrics, True)

        self.organisations = [Organisation(self, i, name) for i, name in enumerate(roster.names)]
        self.network = None
        if network is None:
            network = len(self.organisations) <= NETWORK_LIMIT
        if network:
            graph = nx.complete_graph(len(self.organisations))
            self.network = Network(graph, random=self.random)
            for org, cell in zip(self.organisations, self.network.all_cells, strict=True):
                org.cell = cell
            self._update_network()
        self.datacollector = mesa.DataCollector(
            # the seed first, as in timeseries.parquet: a mesa.batch_run given no seed
            # then still says which seed each run drew
            model_reporters={"seed": "seed", **{name: _metric(name) for name in S.METRICS}},
            # attrgetters rather than names: Mesa wraps a name in a closure, which
            # would make the model unpicklable
            agent_reporters={name: operator.attrgetter(name) for name in AGENT_REPORTERS},
        )
        self.datacollector.collect(self)

    def step(self) -> None:
        """Advance one month with the shared kernel, then record it."""
        st = self.state
        kernel.step(st.org, st.pair, st.culture, st.kind, st.sector, st.world, st.params, st.rng,
                    self._timeline)
        kernel.measure(st.org, st.pair, st.world, st.metrics, True)
        if self.network is not None:
            self._update_network()
        self.datacollector.collect(self)
        if self.steps >= self.max_steps:
            self.running = False

    def run_for(self, months: int) -> None:
        """Step `months` times, a whole number >= 0 (CONTRACT: Python API).

        Raises:
            ScenarioError (a ValueError): `months` is not a whole number >= 0.
        """
        for _ in range(whole_number("months", months, 0)):
            self.step()

    def _update_network(self) -> None:
        trust = self.state.pair[S.TRUST]
        mutual = 0.5 * (trust + trust.T)
        active = self.state.org[S.ACTIVE] == 1.0
        for i, j, data in self.network.G.edges(data=True):
            data["weight"] = float(mutual[i, j]) if active[i] and active[j] else 0.0

    @property
    def month(self) -> int:
        """Months run so far (0 at the start; Mesa's `steps` counts the same)."""
        return int(self.state.world[S.MONTH])

    @property
    def mandated(self) -> bool:
        """Whether a mandate is in force this month: the scenario's regime until a timeline
        event changes it (THEORY §5 step 2; C01, C02, C11, C17, C36)."""
        return bool(self.state.params[P.MANDATED] == 1.0)

    @property
    def regime(self) -> tuple[str, int | None]:
        """(regime, time to synergy) judged on the months run so far (THEORY §4)."""
        frame = self.datacollector.get_model_vars_dataframe()
        code, months = classify(frame["mean_behaviour"].to_numpy(), frame["output"].to_numpy(),
                                frame["active_members"].to_numpy(float),
                                float(len(self.organisations)), self.state.params)
        return REGIMES[code], (int(months) if months >= 0 else None)
