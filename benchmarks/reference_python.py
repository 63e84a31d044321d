"""A straightforward pure-Python, per-agent implementation of the monthly step.

This is the *reference* the benchmark compares the numba kernel with: the
model written the way a Mesa user would first write it — one `mesa.Agent`
object per organisation, partner state in per-agent dicts, parameters in a
dict, Python loops and the `math` module, no numpy in the step and no call
into `model.kernel`. It exists only in `benchmarks/` (CONVENTIONS: never two
implementations of a rule in the model itself; this one is a measuring stick).

It follows `model/kernel.py` rule by rule (THEORY §5 steps 1-13, same CMOC
terms, same order of operations). Its random numbers come from one of two
streams, drawn in the kernel's order:

- `stream="xoshiro"` (default): the kernel's xoshiro256** ported to Python
  integers, so with the same seed it normally reproduces the kernel's run
  (not guaranteed: a different libm or summation order can make runs drift);
- `stream="python"`: Python's `random.Random(seed)` (`random()`, `gauss(0, 1)`),
  as a Mesa user calls `self.random`; faster, but its runs are not the
  kernel's, so only its regime shares can be compared.

Either way its regime shares must match the kernel's within sampling error.

    python -m benchmarks.reference_python --check                 # 200 replicates x 5 scenarios
    python -m benchmarks.reference_python --check --stream python --jobs 2
    python -m benchmarks.reference_python ics_mandated --seed 7   # one run, its regime
    python -m benchmarks.reference_python ics_mandated --seed 7 --stream python
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import mesa

from agents.kinds import KINDS, SECTOR_CULTURE, SECTORS
from model import params as P
from model.rng import stream_state
from model.scenario import Scenario, load_scenario

REGIMES = ("inertia", "synergy", "dissolution")
#: ~100% inertia; mostly synergy; a mix; half dissolution (exits); shocks and a timeline.
CHECK_SCENARIOS = ("ics_mandated", "voluntary_alliance", "ics_mandated_supported",
                   "research_collaboration", "ics_turbulent")

# --- the random streams: xoshiro256** on Python ints (model/rng.py), or `random` ---
_MASK = (1 << 64) - 1
_TWO_POW_53 = 9007199254740992.0


class Xoshiro:
    """xoshiro256** with the state words of `model.rng.stream_state(seed)`."""

    def __init__(self, seed: int) -> None:
        self.s = [int(w) for w in stream_state(seed)]

    def next_u64(self) -> int:
        s = self.s
        x = (s[1] * 5) & _MASK
        result = ((((x << 7) | (x >> 57)) & _MASK) * 9) & _MASK
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & _MASK
        return result

    def uniform(self) -> float:
        return (self.next_u64() >> 11) / _TWO_POW_53

    def normal(self) -> float:
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class PythonRandom:
    """`Xoshiro`'s interface on Python's `random.Random(seed)` (what `mesa.Model.random` is).

    `uniform()` is `random()` and `normal()` is `gauss(0.0, 1.0)`, both bound
    once here, as a Mesa user calls `self.random.random()` / `self.random.gauss(0, 1)`.
    """

    def __init__(self, seed: int) -> None:
        self.random = random.Random(int(seed))
        self.uniform = self.random.random
        self.normal = functools.partial(self.random.gauss, 0.0, 1.0)


#: the `stream=` choices: name -> generator class, built from the replicate seed
STREAMS = {"xoshiro": Xoshiro, "python": PythonRandom}


def make_stream(stream: str, seed: int) -> Xoshiro | PythonRandom:
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}: choose one of "
                         f"{', '.join(repr(k) for k in STREAMS)}")
    return STREAMS[stream](seed)


def clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def parameters(scenario: Scenario) -> dict[str, float]:
    """Every parameter by its short name (`formalisation`, `trust_base`, ...)."""
    return {param.name: float(value) for param, value in zip(P.PARAMS, scenario.packed(),
                                                              strict=True)}


# --- agents --------------------------------------------------------------------
class Organisation(mesa.Agent):
    """One partner organisation; its view of every partner is held in dicts."""

    def __init__(self, model: ReferenceModel, index: int, kind: int) -> None:
        super().__init__(model)
        self.index = index
        self.kind = kind
        spec = KINDS[kind]
        self.sector = SECTORS.index(spec.sector)
        rng, p = model.rng, model.p
        roster = model.scenario.roster  # a roster's size and position, or NaN: draw them
        size, x, y = (float(roster.size[index]), float(roster.x_km[index]),
                      float(roster.y_km[index]))
        z = rng.normal()
        self.size = spec.size_median * math.exp(spec.size_sigma * z) if math.isnan(size) else size
        ux, uy = rng.uniform(), rng.uniform()
        self.x = ux * p["footprint_km"] if math.isnan(x) else x
        self.y = uy * p["footprint_km"] if math.isnan(y) else y
        self.leadership = clip01(p["leadership"] + p["leadership_noise"] * rng.normal())
        self.accountability = clip01(p["accountability"]
                                     + p["accountability_noise"] * rng.normal())
        self.champion = 1.0 if rng.uniform() < p["champions"] else 0.0
        self.culture = [clip01(c + p["culture_noise"] * rng.normal())
                        for c in SECTOR_CULTURE[self.sector].tolist()]
        self.capacity_offset = spec.capacity_offset + p["capacity_noise"] * rng.normal()
        self.funded = model.funded_level(self.capacity_offset)
        self.capacity = self.funded
        self.active = True
        self.power = 0.0
        self.faith = 0.0
        self.confidence = 0.0
        self.risk_tolerance = 0.0
        self.behaviour = 0.0
        self.perceived_progress = 0.0
        self.grievance = 0.0
        self.low_faith_months = 0
        # partner -> value
        self.trust: dict[Organisation, float] = {}
        self.trust_initial: dict[Organisation, float] = {}
        self.communication: dict[Organisation, float] = {}
        self.tension: dict[Organisation, float] = {}
        self.proximity: dict[Organisation, float] = {}
        self.power_gap: dict[Organisation, float] = {}
        self.culture_distance: dict[Organisation, float] = {}

    def partners(self):
        return [o for o in self.model.orgs if o is not self and o.active]

    def distance_to(self, other: Organisation) -> float:
        d2 = 0.0
        for a, b in zip(self.culture, other.culture, strict=True):
            d2 += (a - b) * (a - b)
        return math.sqrt(d2 / len(self.culture))

    def faith_anchor(self) -> float:
        p, m = self.model.p, self.model
        return clip01(
            p["faith_base"]
            + p["faith_legitimacy"] * (m.legitimacy - 0.5)
            - p["faith_complexity"] * m.complexity
            + p["faith_capacity"] * (self.capacity - 0.5)
            + p["faith_vision"] * (p["shared_vision"] - 0.5)
            + p["faith_leadership"] * (self.leadership - 0.5)
            - p["faith_regulator_mistrust"] * p["regulator_mistrust"]
            + p["faith_ambition"] * 4.0 * p["ambition"] * (1.0 - p["ambition"])
            + p["faith_champion"] * self.champion
        )

    def decide(self) -> None:
        """Confidence, risk tolerance and behaviour (C10, C11, C40, C43, C50)."""
        p, m = self.model.p, self.model
        if not self.active:
            self.confidence = self.risk_tolerance = self.behaviour = 0.0
            return
        scale = p["formalisation"] * (p["confidence_base"] + p["confidence_mandate"] * p["mandated"]
                                      + p["confidence_integration"] * p["integration"])
        floor = p["confidence_accountability_floor"]
        sum_c = sum_r = 0.0
        partners = self.partners()
        for other in partners:
            c = clip01(scale * (floor + (1.0 - floor) * other.accountability))
            sum_c += c
            sum_r += 1.0 - (1.0 - self.trust[other]) * (1.0 - c)
        if not partners:
            self.confidence = self.risk_tolerance = self.behaviour = 0.0
            return
        self.confidence = sum_c / len(partners)
        self.risk_tolerance = sum_r / len(partners)
        driver = math.sqrt(self.risk_tolerance * self.faith)
        able = min(1.0, self.capacity / p["capacity_reference"]) ** p["capacity_exponent"]
        willing = sigmoid(p["behaviour_slope"] * (driver - p["behaviour_threshold"]))
        withheld = clip01(p["strain_behaviour"] * m.strain)
        self.behaviour = able * willing * (1.0 - withheld)

    def update_trust(self) -> None:
        """Trust in each partner (C12, C13, C17, C18, C19, C41)."""
        if not self.active:
            return
        p, m = self.model.p, self.model
        overformal = (1.0 - p["mandated"]) * (1.0 - p["integration"]) * max(
            0.0, p["formalisation"] - p["overformalisation_threshold"])
        domination = (1.0 + p["power_mandate_amplifier"] * p["mandated"]) * (
            1.0 - p["autonomy_protection"] * p["autonomy"])
        for other in self.partners():
            t = self.trust[other]
            c = self.communication[other]
            tension = self.tension[other]
            compatible = max(0.0, 1.0 - self.culture_distance[other] / p["culture_tolerance"])
            gain = (p["trust_from_communication"] * c * compatible * (1.0 - tension)
                    + p["trust_from_leadership"] * c * other.leadership
                    + p["trust_from_success"] * m.real_progress)
            loss = (p["trust_loss_tension"] * c * tension
                    + p["trust_loss_power"] * self.power_gap[other] * domination
                    + p["trust_loss_overformalisation"] * overformal)
            self.trust[other] = clip01(t + gain * (1.0 - t) - loss * t)

    def trust_in_others(self) -> float:
        partners = self.partners()
        if not partners:
            return 0.0
        return sum(self.trust[o] for o in partners) / len(partners)

    def update_capacity(self) -> None:
        """Capacity: relaxes to funding, pays for behaviour, gets returns (C08, C28, C43)."""
        if not self.active:
            return
        p, m = self.model.p, self.model
        spend = self.behaviour * (p["behaviour_cost"]
                                  + p["transaction_cost"] * (1.0 - self.trust_in_others()))
        relax = p["capacity_relaxation"] * (self.funded - self.capacity)
        self.capacity = clip01(self.capacity + relax - spend + p["return_share"] * m.pipeline)


# --- the model -------------------------------------------------------------------
class ReferenceModel(mesa.Model):
    """One replicate of a scenario, stepped month by month in plain Python."""

    def __init__(self, scenario: Scenario | str = "ics_mandated", seed: int = 0, *,
                 stream: str = "xoshiro") -> None:
        rng = make_stream(stream, seed)  # a bad name fails before any work
        super().__init__(seed=int(seed))
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self.p = parameters(scenario)
        self.timeline = scenario.timeline
        self.stream = stream
        self.rng = rng
        self.month = 0
        self.strain = self.pipeline = self.output = self.cumulative_output = 0.0
        self.real_progress = self.expected = 0.0
        self.conflicts = self.resolved = self.shocks = self.exits = 0
        self.orgs = [Organisation(self, i, int(k)) for i, k in enumerate(scenario.roster.kinds)]
        self.initialise()
        self.datacollector = mesa.DataCollector(model_reporters={
            "mean_trust": "mean_trust", "mean_faith": "mean_faith",
            "mean_behaviour": "mean_behaviour", "mean_capacity": "mean_capacity",
            "output": "output", "active_members": "active_members",
            "conflicts": "conflicts", "shocks": "shocks",
        })
        self.measure()
        self.datacollector.collect(self)

    # context ------------------------------------------------------------------
    def funded_level(self, offset: float) -> float:
        p = self.p
        return clip01(p["capacity_base"] + p["capacity_funding"] * p["funding"]
                      - p["capacity_pressure"] * p["economic_pressure"] + offset)

    def update_context(self) -> None:
        """Complexity (C07) and legitimacy (C02, C03)."""
        p = self.p
        self.complexity = clip01(
            p["complexity_partners"] * math.log(len(self.orgs)) / math.log(100.0)
            + p["complexity_size"] * self.mean_log_size / 4.0
            + p["complexity_cross_sector"] * self.cross_sector
            + p["complexity_regulation"] * (1.0 - p["regulatory_favourability"])
            + p["complexity_deprivation"] * p["deprivation"]
            + p["complexity_ambition"] * p["ambition"]
            - p["complexity_it"] * p["it_interoperability"]
        )
        self.legitimacy = clip01(p["legitimacy_base"] - p["legitimacy_mandate"] * p["mandated"]
                                 + p["legitimacy_stakeholders"] * p["stakeholder_involvement"]
                                 + p["form_reputation"])

    def expected_progress(self) -> float:
        p = self.p
        ramp = min(1.0, self.month / p["patience_months"])
        return clip01(p["expected_progress"] * ramp * (0.5 + p["ambition"]))

    def initialise(self) -> None:
        """Month 0: power, complexity, initial trust and faith (C01-C08, C17, C34)."""
        p, orgs, rng = self.p, self.orgs, self.rng
        n = len(orgs)
        for org in orgs:
            org.power = org.size ** p["power_exponent"]
        biggest = max(org.power for org in orgs)
        for org in orgs:
            org.power /= biggest
        cross = sum(1 for a in orgs for b in orgs if a.sector != b.sector)
        self.cross_sector = cross / max(1.0, n * (n - 1.0))
        self.mean_log_size = sum(math.log10(org.size) for org in orgs) / n
        self.update_context()
        base_trust = (p["trust_base"] - p["trust_history"] * p["history_of_competition"]
                      + p["trust_prior_success"] * p["prior_success"]
                      - p["trust_mandate"] * p["mandated"]
                      - p["trust_regulator_mistrust"] * p["regulator_mistrust"])
        for a in orgs:
            for b in orgs:
                z = rng.normal()
                if a is b:
                    continue
                dx, dy = a.x - b.x, a.y - b.y
                a.proximity[b] = math.exp(-math.sqrt(dx * dx + dy * dy) / p["proximity_scale_km"])
                a.power_gap[b] = max(0.0, b.power - a.power)
                a.culture_distance[b] = a.distance_to(b)
                a.trust[b] = clip01(base_trust - p["trust_power_gap"] * a.power_gap[b]
                                    + p["trust_noise"] * z)
                a.trust_initial[b] = a.trust[b]
                a.communication[b] = 0.0
                a.tension[b] = 0.0
        for org in orgs:
            org.faith = clip01(org.faith_anchor() + p["faith_noise"] * rng.normal())
        for org in orgs:
            org.decide()

    # the monthly step ------------------------------------------------------------
    def step(self) -> None:
        p, orgs, rng = self.p, self.orgs, self.rng
        n = len(orgs)
        self.month += 1

        # 2. timeline and shocks (C27, C50); a timeline can change the regime itself
        for month, changes in self.timeline:
            if month == self.month:
                for key, value in changes.items():
                    p[key.split(".", 1)[1]] = value
        mandated = p["mandated"] == 1.0
        self.update_context()
        cut = {}
        for org in orgs:
            level = self.funded_level(org.capacity_offset)
            cut[org] = max(0.0, org.funded - level) if org.active else 0.0
            org.funded = level
        shock = rng.uniform() < p["turbulence_rate"]
        self.shocks = 1 if shock else 0
        if shock:
            self.strain = clip01(self.strain + p["turbulence_size"])
        for org in orgs:
            intensity = 0.5 + rng.uniform()
            if shock and org.active:
                loss = min(org.capacity, p["turbulence_size"] * intensity * org.capacity)
                org.capacity -= loss
                cut[org] += loss
        for org in orgs:
            if cut[org] > 0.0:
                org.faith = clip01(org.faith - p["funding_cut_faith"] * cut[org])
                keep = clip01(1.0 - p["funding_cut_trust"] * cut[org])
                for other in orgs:
                    if other is not org:
                        org.trust[other] *= keep

        # 3. communication (C13-C15, C51)
        reach = 1.0 - p["communication_complexity"] * self.complexity
        roles = p["communication_shared_roles"] * p["shared_roles"]
        base = p["communication_base"]
        for i, a in enumerate(orgs):
            for b in orgs[i + 1:]:
                c = 0.0
                if a.active and b.active:
                    engaged = base + (1.0 - base) * math.sqrt(a.behaviour * b.behaviour)
                    c = clip01((a.proximity[b] + roles) * reach * engaged)
                a.communication[b] = c
                b.communication[a] = c

        # 4. trust
        for org in orgs:
            org.update_trust()

        # 5. conflict and its resolution (C16, C17, C30-C33, C36)
        self.expected = self.expected_progress()
        self.conflicts = self.resolved = 0
        floor = p["resolution_accountability_floor"]
        for i, a in enumerate(orgs):
            for b in orgs[i + 1:]:
                u_raise = rng.uniform()
                u_resolve = rng.uniform()
                a.tension[b] *= p["tension_decay"]
                b.tension[a] = a.tension[b]
                if not (a.active and b.active):
                    continue
                stall = max(0.0, self.expected - 0.5 * (a.perceived_progress
                                                        + b.perceived_progress))
                drive = (p["conflict_culture"] * a.culture_distance[b]
                         + p["conflict_power"] * abs(a.power - b.power)
                         + p["conflict_vision"] * (1.0 - p["shared_vision"])
                         + p["conflict_stall"] * stall
                         + p["conflict_mandate"] * p["mandated"])
                if u_raise < p["conflict_rate"] * a.communication[b] * drive:
                    self.conflicts += 1
                    accountable = 0.5 * (a.accountability + b.accountability)
                    if u_resolve < p["conflict_resolution"] * (floor + (1.0 - floor) * accountable):
                        self.resolved += 1
                    else:
                        keep = 1.0 - p["conflict_trust_loss"]
                        a.trust[b] *= keep
                        b.trust[a] *= keep
                        for org in (a, b):
                            org.faith = clip01(org.faith - p["conflict_faith_loss"])
                            org.grievance += 1.0
                        a.tension[b] = b.tension[a] = 1.0

        # 6. culture drift (C35)
        drift = p["culture_drift"] * (1.0 + p["culture_due_diligence"] * p["due_diligence"])
        pulls = {}
        for a in orgs:
            pull = [0.0] * len(a.culture)
            if a.active:
                rate = drift * a.leadership / max(1.0, n - 1.0)
                for b in orgs:
                    if b is not a and a.communication[b] > 0.0:
                        for k in range(len(pull)):
                            pull[k] += rate * a.communication[b] * (b.culture[k] - a.culture[k])
            pulls[a] = pull
        for a in orgs:
            a.culture = [clip01(c + d) for c, d in zip(a.culture, pulls[a], strict=True)]
        for i, a in enumerate(orgs):
            for b in orgs[i + 1:]:
                a.culture_distance[b] = b.culture_distance[a] = a.distance_to(b)

        # 7-8. confidence, risk tolerance, behaviour
        for org in orgs:
            org.decide()

        # 9. output (C42, C43, C28)
        value = 0.0
        pairs = 0
        comp = p["complementarity"]
        for i, a in enumerate(orgs):
            if not a.active:
                continue
            for b in orgs[i + 1:]:
                if not b.active:
                    continue
                pairs += 1
                mutual = 0.5 * (a.trust[b] + b.trust[a])
                complement = (1.0 + comp) if a.sector != b.sector else 1.0
                value += (a.behaviour * b.behaviour * (0.5 + 0.5 * mutual) * complement
                          / (1.0 + comp))
        self.output = value / pairs if pairs else 0.0
        self.cumulative_output += self.output
        self.pipeline += (self.output - self.pipeline) / p["return_lag"]

        # 10. capacity
        for org in orgs:
            org.update_capacity()

        # 11. perceived progress (C20-C23)
        quick = p["quick_wins"] if self.month <= p["quick_win_months"] else 0.0
        self.real_progress = clip01(math.sqrt(self.output) + p["quick_win_size"] * quick)
        noise_sd = (1.0 - p["evaluation"]) * p["perception_noise"]
        rate = min(1.0, p["progress_rate"] * (1.0 + p["evaluation_speedup"] * p["evaluation"]))
        for org in orgs:
            z = rng.normal()
            if org.active:
                signal = self.real_progress + noise_sd * z
                org.perceived_progress = clip01(
                    org.perceived_progress + rate * (signal - org.perceived_progress))

        # 12. faith (C18, C20, C25, C26)
        members = sum(1 for org in orgs if org.active)
        gain = p["faith_from_progress"] * (1.0 + p["peer_amplifier"] * p["peer_comparison"])
        faith_before = {org: org.faith for org in orgs}
        for org in orgs:
            if not org.active:
                continue
            spread = 0.0
            for other in org.partners():
                weight = org.communication[other] * (1.0 + p["champion_influence"] * other.champion)
                spread += weight * (faith_before[other] - faith_before[org])
            spread /= max(1.0, members - 1.0)
            org.faith = clip01(faith_before[org]
                               + gain * (org.perceived_progress - self.expected)
                               + p["faith_anchor_rate"] * (org.faith_anchor() - faith_before[org])
                               + p["faith_diffusion"] * spread)

        # 13a. leadership turnover (C24)
        reset = p["turnover_trust_reset"]
        for org in orgs:
            u = rng.uniform()
            z = rng.normal()
            if not org.active or u >= p["leadership_turnover"]:
                continue
            org.faith *= 1.0 - p["turnover_faith_loss"]
            org.leadership = clip01(p["leadership"] + p["leadership_noise"] * z)
            for other in orgs:
                if other is not org:
                    built = org.trust[other] - org.trust_initial[other]
                    org.trust[other] -= reset * max(0.0, built)
                    built = other.trust[org] - other.trust_initial[org]
                    other.trust[org] -= reset * max(0.0, built)

        # 13b. exit, voluntary only (C20, C36)
        self.exits = 0
        for org in orgs:
            org.grievance *= p["grievance_decay"]
            if not org.active:
                continue
            org.low_faith_months = org.low_faith_months + 1 if org.faith < p["exit_faith"] else 0
            if mandated:
                continue
            if (org.low_faith_months >= p["exit_patience"]
                    or org.grievance >= p["exit_grievance"]):
                org.active = False
                org.behaviour = 0.0
                self.exits += 1
        self.strain *= p["strain_decay"]

        self.measure()
        self.datacollector.collect(self)
        if self.month >= self.scenario.steps:
            self.running = False

    def measure(self) -> None:
        members = [org for org in self.orgs if org.active]
        k = len(members)
        self.active_members = k
        self.mean_faith = sum(o.faith for o in members) / k if k else 0.0
        self.mean_behaviour = sum(o.behaviour for o in members) / k if k else 0.0
        self.mean_capacity = sum(o.capacity for o in members) / k if k else 0.0
        trusts = [a.trust[b] for a in members for b in members if a is not b]
        self.mean_trust = sum(trusts) / len(trusts) if trusts else 0.0

    def regime(self) -> tuple[str, int]:
        """(regime, time to synergy or -1), as `model.regimes.classify` (THEORY §4)."""
        frame = self.datacollector.model_vars
        return classify(frame["mean_behaviour"], frame["output"], frame["active_members"],
                        len(self.orgs), self.p)


def classify(behaviour, output, members, n_organisations, p) -> tuple[str, int]:
    last = len(behaviour) - 1
    if members[last] < p["dissolution_share"] * n_organisations:
        return "dissolution", -1
    start = max(1, last + 1 - int(p["regime_window"]))
    count = last + 1 - start
    if count <= 0:
        start, count = last, 1
    b = sum(behaviour[start:last + 1]) / count
    o = sum(output[start:last + 1]) / count
    if b < p["synergy_behaviour"] or o < p["synergy_output"]:
        return "inertia", -1
    first = last
    while first > 0 and behaviour[first - 1] >= p["synergy_behaviour"]:
        first -= 1
    return "synergy", first


def run(scenario: Scenario | str, seed: int, steps: int | None = None, *,
        stream: str = "xoshiro") -> dict:
    """One replicate: regime, time to synergy and final means (`stream`: see `STREAMS`)."""
    model = ReferenceModel(scenario, seed=seed, stream=stream)
    months = model.scenario.steps if steps is None else int(steps)
    for _ in range(months):
        model.step()
    regime, tts = model.regime()
    return {"seed": int(seed), "regime": regime, "time_to_synergy": tts,
            "final_mean_trust": model.mean_trust, "final_mean_faith": model.mean_faith,
            "final_mean_behaviour": model.mean_behaviour,
            "cumulative_output": model.cumulative_output}


def _run_task(args: tuple[str, int, str]) -> dict:
    return run(args[0], args[1], stream=args[2])


# --- agreement with the kernel ---------------------------------------------------
def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when both shares are 0 or 1)."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2.0))


def check(scenarios=CHECK_SCENARIOS, replicates: int = 200, seed: int = 0, jobs: int = 1,
          alpha: float = 0.01, stream: str = "xoshiro") -> tuple[bool, str]:
    """Regime shares of the reference (random stream `stream`) vs the kernel over the same seeds.

    Returns (agree, markdown report). `agree` is False when any regime's
    two-proportion test rejects equal shares at `alpha`.
    """
    from analysis.stats import wilson_interval
    from model.batch import run_arrays, summary_frame
    from model.rng import replicate_seeds

    make_stream(stream, seed)  # fail on a bad name before the kernel runs
    lines = [
        f"Reference (pure Python, {stream} stream) vs kernel, {replicates} replicates per "
        f"scenario, master seed "
        f"{seed}; two-sided two-proportion z-test per regime; 95% Wilson intervals.",
        "",
        "| scenario | regime | kernel share [95% CI] | reference share [95% CI] | p | "
        "same regime, same seed | max abs diff final trust |",
        "|---|---|---|---|---|---|---|",
    ]
    agree = True
    same_total = runs_total = 0
    for name in scenarios:
        scenario = load_scenario(name)
        seeds = replicate_seeds(seed, replicates)
        start = time.perf_counter()
        metrics, _, _ = run_arrays(scenario, seeds)
        kernel = summary_frame(scenario, metrics, seeds)
        kernel_s = time.perf_counter() - start
        start = time.perf_counter()
        tasks = [(name, int(s), stream) for s in seeds]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                ref = list(pool.map(_run_task, tasks, chunksize=4))
        else:
            ref = [_run_task(t) for t in tasks]
        ref_s = time.perf_counter() - start
        k_reg = list(kernel["regime"])
        r_reg = [r["regime"] for r in ref]
        same = sum(a == b for a, b in zip(k_reg, r_reg, strict=True))
        same_total += same
        runs_total += replicates
        diff = max(abs(a - r["final_mean_trust"])
                   for a, r in zip(kernel["final_mean_trust"], ref, strict=True))
        for regime in REGIMES:
            xk, xr = k_reg.count(regime), r_reg.count(regime)
            pval = two_proportion_p(xk, replicates, xr, replicates)
            if pval < alpha:
                agree = False
            lk, hk = wilson_interval(xk, replicates)
            lr, hr = wilson_interval(xr, replicates)
            lines.append(
                f"| {name} | {regime} | {xk / replicates:.3f} [{lk:.3f}, {hk:.3f}] | "
                f"{xr / replicates:.3f} [{lr:.3f}, {hr:.3f}] | {pval:.3g} | "
                f"{same}/{replicates} | {diff:.2e} |"
            )
        print(f"  {name}: kernel {kernel_s:.1f} s, reference {ref_s:.1f} s "
              f"({jobs} process{'es' if jobs > 1 else ''})", file=sys.stderr)
    if agree:
        verdict = f"Verdict: AGREE (no regime share differs at alpha = {alpha})"
    else:
        verdict = f"Verdict: DISAGREE (some regime share differs at alpha = {alpha})"
    if stream == "xoshiro":
        closing = ("The reference draws the kernel's random stream in the kernel's order, so "
                   "the stronger test is the run-by-run one: equal regimes and (near-)zero "
                   "differences in final mean trust mean the two implementations compute the "
                   "same trajectories.")
    else:
        closing = ("The reference draws Python's `random` stream, not the kernel's, so its runs "
                   "are not the kernel's runs: only the regime shares above are compared; the "
                   "same-seed counts and trust differences are not a test.")
    lines += ["", verdict, "",
              f"Same seed, same regime: {same_total}/{runs_total} runs. {closing}"]
    return agree, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reference_python",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default="ics_mandated")
    parser.add_argument("--seed", type=int, default=0, help="replicate seed (one run) or master "
                        "seed (--check)")
    parser.add_argument("--check", action="store_true",
                        help="compare regime shares with the kernel on five scenarios")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1, help="processes for the reference runs")
    parser.add_argument("--out", help="also write the --check report (markdown) to this file")
    parser.add_argument("--stream", choices=tuple(STREAMS), default="xoshiro",
                        help="random numbers: the kernel's xoshiro256** (run-for-run identical) "
                        "or Python's `random` (as a Mesa user writes it); default xoshiro")
    args = parser.parse_args(argv)
    if not args.check:
        start = time.perf_counter()
        result = run(args.scenario, args.seed, stream=args.stream)
        result["seconds"] = round(time.perf_counter() - start, 3)
        print(result)
        return 0
    agree, report = check(replicates=args.replicates, seed=args.seed, jobs=args.jobs,
                          stream=args.stream)
    print(report)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write("# Reference vs kernel: regime shares\n\n"
                     f"Command: `python -m benchmarks.reference_python --check --replicates "
                     f"{args.replicates} --seed {args.seed} --jobs {args.jobs}"
                     + (f" --stream {args.stream}" if args.stream != "xoshiro" else "")
                     + "`\n\n"
                     + report + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
