"""The one implementation of the model's rules: numba kernels over the state arrays.

`init_state` sets month 0 from the context (THEORY §5 step 1, C01-C08);
`step` advances one month through the schedule of THEORY §5 (steps 2-13);
`measure` writes the time-series row. `ICSModel.step` and the batch runner
both call these same functions, so the Mesa path and the batch path are the
same arithmetic. Every term cites its CMOC id; docs/ODD.md has the equations.

Randomness: every draw comes from the replicate's own stream `rng`, and the
number of draws per month does not depend on the state (a fixed budget per
organisation and per pair), so two contexts run with the same seed share
their random numbers (common random numbers) as far as the schedule allows.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from agents.kinds import CULTURE_DIMS, KT_CAPACITY_OFFSET, KT_SECTOR, KT_SIZE_MEDIAN, KT_SIZE_SIGMA
from model import params as P
from model import state as S
from model.rng import box_muller, normal, normal_uniforms, uniform, uniform_words


@njit(cache=True, inline="always")
def _clip01(x):
    return min(1.0, max(0.0, x))


@intrinsic
def _sqrt(typingctx, x):
    """IEEE square root as LLVM's intrinsic: the same bits as `np.sqrt`, but loops
    over it vectorise (numba calls libm's `sqrt`, which may set errno)."""
    def codegen(context, builder, signature, args):
        return builder.call(builder.module.declare_intrinsic("llvm.sqrt", [ir.DoubleType()]),
                            args)
    return types.float64(types.float64), codegen


@njit(cache=True, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, inline="always")
def _count_partners(active):
    """Partners of an active member: the other active members."""
    count = -1.0
    for j in range(active.shape[0]):
        count += active[j]
    return count


@njit(cache=True)
def funded_level(p, capacity_offset):
    """Funded capacity level of one organisation (C08 funding, C51 economic pressure)."""
    return _clip01(
        p[P.CAPACITY_BASE]
        + p[P.CAPACITY_FUNDING] * p[P.FUNDING]
        - p[P.CAPACITY_PRESSURE] * p[P.ECONOMIC_PRESSURE]
        + capacity_offset
    )


@njit(cache=True)
def faith_anchor(p, world, org, i):
    """The level faith relaxes toward, set by the context.

    Legitimacy (C02 mandate, C03 stakeholders), complexity (C07), capacity
    (C08), clear shared vision (C16), leadership (C18), mistrust of regulators
    (C06), ambition (C22: aims inspire most when neither timid nor
    over-ambitious, an inverted U peaking at 0.5) and champions (C25).
    """
    return _clip01(
        p[P.FAITH_BASE]
        + p[P.FAITH_LEGITIMACY] * (world[S.LEGITIMACY] - 0.5)
        - p[P.FAITH_COMPLEXITY] * world[S.COMPLEXITY]
        + p[P.FAITH_CAPACITY] * (org[S.CAPACITY, i] - 0.5)
        + p[P.FAITH_VISION] * (p[P.SHARED_VISION] - 0.5)
        + p[P.FAITH_LEADERSHIP] * (org[S.LEADERSHIP, i] - 0.5)
        - p[P.FAITH_REGULATOR_MISTRUST] * p[P.REGULATOR_MISTRUST]
        + p[P.FAITH_AMBITION] * 4.0 * p[P.AMBITION] * (1.0 - p[P.AMBITION])
        + p[P.FAITH_CHAMPION] * org[S.CHAMPION, i]
    )


@njit(cache=True, inline="always")
def cultural_distance(culture, i, j):
    """Euclidean distance between two cultures, scaled to [0, 1] (C30, C34)."""
    d2 = 0.0
    for k in range(culture.shape[1]):
        diff = culture[i, k] - culture[j, k]
        d2 += diff * diff
    return np.sqrt(d2 / culture.shape[1])


@njit(cache=True)
def expected_progress(p, month):
    """The bar perceived progress is judged against.

    It ramps up over `patience_months` because partners know collaboration
    costs before it pays back (C28, THEORY §5.1), and rises with ambition
    (C22: over-ambition makes real progress look small).
    """
    ramp = min(1.0, month / p[P.PATIENCE_MONTHS])
    return _clip01(p[P.EXPECTED_PROGRESS] * ramp * (0.5 + p[P.AMBITION]))


@njit(cache=True)
def derive_behaviour(org, pair, world, p):
    """Confidence, risk tolerance and collaborative behaviour of every member.

    Confidence C_ij (C11) grows with formalisation, more under a mandate and in
    integrative forms, and with the partner's accountability. Risk tolerance
    R_i = mean_j 1 - (1 - T_ij)(1 - C_ij): trust and confidence substitute
    (C10, C11). Behaviour B_i = min(1, capacity / reference)^omega *
    sigmoid(s (sqrt(R_i F_i) - theta)) * (1 - clip(strain_behaviour * strain)):
    trust-or-confidence and faith are both needed (C40), capacity limits it
    (C43, C51) and turbulence pulls organisations inward (C50).
    """
    n = org.shape[1]
    trust = pair[S.TRUST]
    scale = p[P.FORMALISATION] * (
        p[P.CONFIDENCE_BASE]
        + p[P.CONFIDENCE_MANDATE] * p[P.MANDATED]
        + p[P.CONFIDENCE_INTEGRATION] * p[P.INTEGRATION]
    )
    floor = p[P.CONFIDENCE_ACCOUNTABILITY_FLOOR]
    withheld = _clip01(p[P.STRAIN_BEHAVIOUR] * world[S.STRAIN])
    active = org[S.ACTIVE]
    confidence_in = np.empty(n)  # C_ij depends on the partner j only
    for j in range(n):
        confidence_in[j] = _clip01(scale * (floor + (1.0 - floor) * org[S.ACCOUNTABILITY, j]))
    partners = _count_partners(active)
    for i in range(n):
        if active[i] == 0.0 or partners < 1.0:
            org[S.CONFIDENCE, i] = 0.0
            org[S.RISK_TOLERANCE, i] = 0.0
            org[S.BEHAVIOUR, i] = 0.0
            continue
        sum_c = 0.0
        sum_r = 0.0
        for j in range(n):  # over partners, in order; a non-partner adds exactly 0
            c = confidence_in[j]
            partner = j != i and active[j] == 1.0
            sum_c += c if partner else 0.0
            sum_r += 1.0 - (1.0 - trust[i, j]) * (1.0 - c) if partner else 0.0
        org[S.CONFIDENCE, i] = sum_c / partners
        r = sum_r / partners
        org[S.RISK_TOLERANCE, i] = r
        driver = np.sqrt(r * org[S.FAITH, i])
        able = min(1.0, org[S.CAPACITY, i] / p[P.CAPACITY_REFERENCE]) ** p[P.CAPACITY_EXPONENT]
        willing = _sigmoid(p[P.BEHAVIOUR_SLOPE] * (driver - p[P.BEHAVIOUR_THRESHOLD]))
        org[S.BEHAVIOUR, i] = able * willing * (1.0 - withheld)


@njit(cache=True)
def update_context(world, p, n):
    """Task complexity (C07) and legitimacy (C02, C03) from the current context.

    Recomputed every month, so a timeline that changes regulation,
    deprivation, IT, ambition or stakeholder involvement takes effect.
    """
    world[S.COMPLEXITY] = _clip01(
        p[P.COMPLEXITY_PARTNERS] * np.log(n) / np.log(100.0)
        + p[P.COMPLEXITY_SIZE] * world[S.MEAN_LOG_SIZE] / 4.0
        + p[P.COMPLEXITY_CROSS_SECTOR] * world[S.CROSS_SECTOR]
        + p[P.COMPLEXITY_REGULATION] * (1.0 - p[P.REGULATORY_FAVOURABILITY])
        + p[P.COMPLEXITY_DEPRIVATION] * p[P.DEPRIVATION]
        + p[P.COMPLEXITY_AMBITION] * p[P.AMBITION]
        - p[P.COMPLEXITY_IT] * p[P.IT_INTEROPERABILITY]
    )
    world[S.LEGITIMACY] = _clip01(
        p[P.LEGITIMACY_BASE]
        - p[P.LEGITIMACY_MANDATE] * p[P.MANDATED]
        + p[P.LEGITIMACY_STAKEHOLDERS] * p[P.STAKEHOLDER_INVOLVEMENT]
        + p[P.FORM_REPUTATION]
    )


@njit(cache=True)
def init_state(org, pair, culture, kind, sector, world, p, rng,
               size_given, x_given, y_given, kind_table, sector_culture):
    """Month 0 from the context (THEORY §5 step 1; C01-C08, C17, C34).

    `size_given`, `x_given`, `y_given` hold a roster's values, or NaN where the
    value is to be drawn (log-normal size per kind, uniform position in the
    footprint).
    """
    n = kind.shape[0]
    d = culture.shape[1]
    footprint = p[P.FOOTPRINT_KM]
    max_weight = 0.0
    for i in range(n):
        k = kind[i]
        sector[i] = int(kind_table[k, KT_SECTOR])
        z = normal(rng)
        if np.isnan(size_given[i]):
            median, sigma = kind_table[k, KT_SIZE_MEDIAN], kind_table[k, KT_SIZE_SIGMA]
            org[S.SIZE, i] = median * np.exp(sigma * z)
        else:
            org[S.SIZE, i] = size_given[i]
        ux = uniform(rng)
        uy = uniform(rng)
        org[S.X_KM, i] = ux * footprint if np.isnan(x_given[i]) else x_given[i]
        org[S.Y_KM, i] = uy * footprint if np.isnan(y_given[i]) else y_given[i]
        org[S.LEADERSHIP, i] = _clip01(p[P.LEADERSHIP] + p[P.LEADERSHIP_NOISE] * normal(rng))
        org[S.ACCOUNTABILITY, i] = _clip01(  # C32 (and C11: confidence in a partner)
            p[P.ACCOUNTABILITY] + p[P.ACCOUNTABILITY_NOISE] * normal(rng)
        )
        org[S.CHAMPION, i] = 1.0 if uniform(rng) < p[P.CHAMPIONS] else 0.0  # C25
        for c in range(d):  # C34: cultures scatter around their sector's centre
            culture[i, c] = _clip01(sector_culture[sector[i], c] + p[P.CULTURE_NOISE] * normal(rng))
        org[S.CAPACITY_OFFSET, i] = (
            kind_table[k, KT_CAPACITY_OFFSET] + p[P.CAPACITY_NOISE] * normal(rng)
        )
        org[S.FUNDED, i] = funded_level(p, org[S.CAPACITY_OFFSET, i])
        org[S.CAPACITY, i] = org[S.FUNDED, i]  # C08
        org[S.ACTIVE, i] = 1.0
        weight = org[S.SIZE, i] ** p[P.POWER_EXPONENT]
        org[S.POWER, i] = weight
        max_weight = max(max_weight, weight)
    for i in range(n):
        org[S.POWER, i] /= max_weight  # C17: power from size, largest partner = 1

    # C07, C34: the static ingredients of complexity (sector mix, mean size).
    cross = 0.0
    log_size = 0.0
    for i in range(n):
        log_size += np.log10(org[S.SIZE, i])
        for j in range(n):
            if sector[i] != sector[j]:
                cross += 1.0
    world[S.CROSS_SECTOR] = cross / max(1.0, n * (n - 1.0))
    world[S.MEAN_LOG_SIZE] = log_size / n
    update_context(world, p, n)

    base_trust = (
        p[P.TRUST_BASE]
        - p[P.TRUST_HISTORY] * p[P.HISTORY_OF_COMPETITION]  # C04
        + p[P.TRUST_PRIOR_SUCCESS] * p[P.PRIOR_SUCCESS]  # C05
        - p[P.TRUST_MANDATE] * p[P.MANDATED]  # C01
        - p[P.TRUST_REGULATOR_MISTRUST] * p[P.REGULATOR_MISTRUST]  # C06
    )
    for i in range(n):
        for j in range(n):
            u1, u2 = normal_uniforms(rng)  # a normal for every (i, j), used off the diagonal
            if j >= i:  # proximity and cultural distance are symmetric (the same bits
                dx = org[S.X_KM, i] - org[S.X_KM, j]  # both ways): worked out once per pair
                dy = org[S.Y_KM, i] - org[S.Y_KM, j]
                proximity = np.exp(-np.sqrt(dx * dx + dy * dy) / p[P.PROXIMITY_SCALE_KM])  # C14
                pair[S.PROXIMITY, i, j] = pair[S.PROXIMITY, j, i] = proximity
                distance = cultural_distance(culture, i, j)
                pair[S.CULTURE_DISTANCE, i, j] = pair[S.CULTURE_DISTANCE, j, i] = distance
            gap = max(0.0, org[S.POWER, j] - org[S.POWER, i])
            pair[S.POWER_GAP, i, j] = gap  # C17
            if i == j:
                pair[S.TRUST, i, j] = 1.0
            else:
                pair[S.TRUST, i, j] = _clip01(
                    base_trust - p[P.TRUST_POWER_GAP] * gap + p[P.TRUST_NOISE] * box_muller(u1, u2)
                )
            pair[S.TRUST_INITIAL, i, j] = pair[S.TRUST, i, j]

    for i in range(n):
        org[S.FAITH, i] = _clip01(faith_anchor(p, world, org, i) + p[P.FAITH_NOISE] * normal(rng))
    world[S.EXPECTED_PROGRESS] = expected_progress(p, 0.0)
    derive_behaviour(org, pair, world, p)


@njit(cache=True)
def apply_timeline(p, timeline, month):
    """Scenario timeline: set context parameters at a given month (THEORY §5 step 2)."""
    for e in range(timeline.shape[0]):
        if timeline[e, 0] == month:
            p[int(timeline[e, 1])] = timeline[e, 2]


@njit(cache=True, inline="always")
def shocks_and_cuts(org, pair, world, p, rng):
    """THEORY §5 step 2: funding cuts (C27) and system-wide shocks (C50)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    cut = np.zeros(n)
    for i in range(n):  # C27: funding withdrawn is a capacity cut
        level = funded_level(p, org[S.CAPACITY_OFFSET, i])
        if active[i] == 1.0:
            cut[i] = max(0.0, org[S.FUNDED, i] - level)
        org[S.FUNDED, i] = level
    shock = uniform(rng) < p[P.TURBULENCE_RATE]
    world[S.SHOCKS] = 1.0 if shock else 0.0
    if shock:  # C50: a system-wide shock strains everyone
        world[S.STRAIN] = _clip01(world[S.STRAIN] + p[P.TURBULENCE_SIZE])
    for i in range(n):
        intensity = 0.5 + uniform(rng)
        if shock and active[i] == 1.0:  # C50: shocks cut capacity
            loss = min(org[S.CAPACITY, i], p[P.TURBULENCE_SIZE] * intensity * org[S.CAPACITY, i])
            org[S.CAPACITY, i] -= loss
            cut[i] += loss
    for i in range(n):  # C27: cuts hit faith and trust critically
        if cut[i] > 0.0:
            org[S.FAITH, i] = _clip01(org[S.FAITH, i] - p[P.FUNDING_CUT_FAITH] * cut[i])
            keep = _clip01(1.0 - p[P.FUNDING_CUT_TRUST] * cut[i])
            for j in range(n):
                if j != i:
                    trust[i, j] *= keep


@njit(cache=True, inline="always")
def communicate(org, pair, world, p):
    """THEORY §5 step 3: communication between active members (C13-C15, C51)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    complexity = world[S.COMPLEXITY]
    reach = 1.0 - p[P.COMMUNICATION_COMPLEXITY] * complexity  # C15
    roles = p[P.COMMUNICATION_SHARED_ROLES] * p[P.SHARED_ROLES]  # C51
    base = p[P.COMMUNICATION_BASE]
    behaviour = org[S.BEHAVIOUR]
    proximity = pair[S.PROXIMITY]
    for i in range(n):  # both triangles (the same bits: products commute, proximity is
        for j in range(n):  # symmetric); kept where both are active, i != j
            engaged = base + (1.0 - base) * _sqrt(behaviour[i] * behaviour[j])
            c = _clip01((proximity[i, j] + roles) * reach * engaged)  # C14
            comm[i, j] = c if active[i] == 1.0 and active[j] == 1.0 and i != j else 0.0


@njit(cache=True, inline="always")
def build_trust(org, pair, world, p):
    """THEORY §5 step 4: trust from communication, leadership and success; lost to
    tension, domination and over-formalisation (C12, C13, C17, C18, C19, C21, C41;
    the tension an unresolved conflict leaves: C31)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    leadership = org[S.LEADERSHIP]
    trust = pair[S.TRUST]
    comm = pair[S.COMMUNICATION]
    tension = pair[S.TENSION]
    distance = pair[S.CULTURE_DISTANCE]
    gap = pair[S.POWER_GAP]
    mandated = p[P.MANDATED]
    tolerance = p[P.CULTURE_TOLERANCE]
    overformal = (1.0 - mandated) * (1.0 - p[P.INTEGRATION]) * max(
        0.0, p[P.FORMALISATION] - p[P.OVERFORMALISATION_THRESHOLD]
    )  # C12: obligation read into formality in voluntary, loose forms
    domination_scale = (1.0 + p[P.POWER_MANDATE_AMPLIFIER] * mandated) * (
        1.0 - p[P.AUTONOMY_PROTECTION] * p[P.AUTONOMY]
    )  # C17 amplified by mandate, C19 protected by autonomy
    from_success = p[P.TRUST_FROM_SUCCESS] * world[S.REAL_PROGRESS]  # C41: last month's
    # joint progress (quick wins count, C21)
    from_overformal = p[P.TRUST_LOSS_OVERFORMALISATION] * overformal  # C12
    # the weights are read once, outside the loop, so that it vectorises
    w_communication = p[P.TRUST_FROM_COMMUNICATION]
    w_leadership = p[P.TRUST_FROM_LEADERSHIP]
    w_tension = p[P.TRUST_LOSS_TENSION]
    w_power = p[P.TRUST_LOSS_POWER]
    for i in range(n):
        if active[i] == 0.0:
            continue
        for j in range(n):  # every j, then kept only for partners: the loop vectorises
            t = trust[i, j]
            c = comm[i, j]
            compatible = max(0.0, 1.0 - distance[i, j] / tolerance)
            gain = (
                w_communication * c * compatible * (1.0 - tension[i, j])  # C13
                + w_leadership * c * leadership[j]  # C18
                + from_success
            )
            loss = (
                w_tension * c * tension[i, j]  # C13: talking amid conflict
                + w_power * gap[i, j] * domination_scale  # C17, C19
                + from_overformal
            )
            updated = _clip01(t + gain * (1.0 - t) - loss * t)
            trust[i, j] = updated if (j != i and active[j] == 1.0) else t


@njit(cache=True, inline="always")
def raise_conflicts(org, pair, world, p, rng, expected):
    """THEORY §5 step 5: conflicts raised and resolved (C16, C17, C30-C33, C36)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    progress = org[S.PERCEIVED_PROGRESS]
    power = org[S.POWER]
    trust = pair[S.TRUST]
    comm = pair[S.COMMUNICATION]
    tension = pair[S.TENSION]
    distance = pair[S.CULTURE_DISTANCE]
    mandated = p[P.MANDATED]
    decay = p[P.TENSION_DECAY]
    rate = p[P.CONFLICT_RATE]
    w_culture = p[P.CONFLICT_CULTURE]
    w_power = p[P.CONFLICT_POWER]
    w_stall = p[P.CONFLICT_STALL]
    from_vision = p[P.CONFLICT_VISION] * (1.0 - p[P.SHARED_VISION])  # C16
    from_mandate = p[P.CONFLICT_MANDATE] * mandated  # THEORY §5 step 5; C01's 'them and us'
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]  # the stream, held in registers
    raised = 0.0
    resolved = 0.0
    for i in range(n):
        active_i = active[i] == 1.0  # i's values, read once (the loop changes none of them)
        progress_i = progress[i]
        power_i = power[i]
        for j in range(i + 1, n):
            u_raise, s0, s1, s2, s3 = uniform_words(s0, s1, s2, s3)
            u_resolve, s0, s1, s2, s3 = uniform_words(s0, s1, s2, s3)
            tension[i, j] *= decay
            tension[j, i] = tension[i, j]
            if not active_i or active[j] == 0.0:
                continue
            stall = max(0.0, expected - 0.5 * (progress_i + progress[j]))
            drive = (
                w_culture * distance[i, j]  # C30, C34
                + w_power * abs(power_i - power[j])  # C17
                + from_vision
                + w_stall * stall  # C33
                + from_mandate
            )
            if u_raise < rate * comm[i, j] * drive:  # C30: needs contact
                raised += 1.0
                accountable = 0.5 * (org[S.ACCOUNTABILITY, i] + org[S.ACCOUNTABILITY, j])
                floor = p[P.RESOLUTION_ACCOUNTABILITY_FLOOR]
                if u_resolve < p[P.CONFLICT_RESOLUTION] * (floor + (1.0 - floor) * accountable):
                    resolved += 1.0  # C32: resolved constructively, no damage
                else:  # C31: unresolved conflict cuts trust and faith on both sides
                    keep = 1.0 - p[P.CONFLICT_TRUST_LOSS]
                    trust[i, j] *= keep
                    trust[j, i] *= keep
                    org[S.FAITH, i] = _clip01(org[S.FAITH, i] - p[P.CONFLICT_FAITH_LOSS])
                    org[S.FAITH, j] = _clip01(org[S.FAITH, j] - p[P.CONFLICT_FAITH_LOSS])
                    org[S.GRIEVANCE, i] += 1.0  # C36
                    org[S.GRIEVANCE, j] += 1.0
                    tension[i, j] = 1.0  # a running conflict: talk now erodes trust (C13)
                    tension[j, i] = 1.0
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    world[S.CONFLICTS] = raised
    world[S.CONFLICTS_RESOLVED] = resolved


@njit(cache=True, inline="always")
def drift_cultures(org, pair, culture, p):
    """THEORY §5 step 6: cultures drift toward those one talks with (C35)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    dims = CULTURE_DIMS  # a constant, so the loops over dimensions unroll
    drift = p[P.CULTURE_DRIFT] * (1.0 + p[P.CULTURE_DUE_DILIGENCE] * p[P.DUE_DILIGENCE])
    rate = np.empty(n)
    for i in range(n):  # inclusive leadership; nobody pulls an inactive member
        rate[i] = drift * org[S.LEADERSHIP, i] / max(1.0, n - 1.0) if active[i] == 1.0 else 0.0
    # Members padded to a multiple of 16, the stride of the vectorised loop, so that the
    # pull runs in whole vectors rather than a long scalar tail (29 members: 32); the
    # extra columns stay 0 and are never read back.
    padded = (n + 15) // 16 * 16
    by_dim = np.zeros((dims, padded))
    for k in range(dims):
        for i in range(n):
            by_dim[k, i] = culture[i, k]
    # pull[k, i] = sum over partners j, in order, of rate_i comm_ij (culture_jk - culture_ik).
    # Communication is symmetric, so comm[j, i] is comm_ij and the inner loops run
    # along rows, for every member i at once; silent pairs add exactly zero.
    pull = np.zeros((dims, padded))
    weight = np.zeros(padded)  # rate_i comm_ij, the same product for every dimension
    for j in range(n):
        for i in range(n):
            weight[i] = rate[i] * comm[j, i]
        for k in range(dims):
            mine = culture[j, k]
            for i in range(padded):
                pull[k, i] += weight[i] * (mine - by_dim[k, i])
    for k in range(dims):
        for i in range(n):
            by_dim[k, i] = _clip01(by_dim[k, i] + pull[k, i])
            culture[i, k] = by_dim[k, i]
    distance = pair[S.CULTURE_DISTANCE]
    for i in range(n):  # cultural_distance(culture, i, j), both triangles: the same bits
        for j in range(n):  # ((a - b) squared is (b - a) squared) and the loop vectorises
            d2 = 0.0
            for k in range(dims):
                diff = by_dim[k, i] - by_dim[k, j]
                d2 += diff * diff
            distance[i, j] = _sqrt(d2 / dims)


@njit(cache=True, inline="always")
def produce(org, pair, sector, world, p):
    """THEORY §5 step 9: joint output of the active pairs (C42, C43, C28)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    behaviour = org[S.BEHAVIOUR]
    value = 0.0
    pairs = 0.0
    comp = p[P.COMPLEMENTARITY]
    for i in range(n):
        if active[i] == 0.0:
            continue
        for j in range(i + 1, n):
            if active[j] == 0.0:
                continue
            pairs += 1.0
            mutual = 0.5 * (trust[i, j] + trust[j, i])
            complement = (1.0 + comp) if sector[i] != sector[j] else 1.0
            value += (
                behaviour[i] * behaviour[j] * (0.5 + 0.5 * mutual) * complement / (1.0 + comp)
            )  # C42: both must act; trust and complementarity add value
    output = value / pairs if pairs > 0.0 else 0.0
    world[S.OUTPUT] = output
    world[S.CUMULATIVE_OUTPUT] += output
    world[S.PIPELINE] += (output - world[S.PIPELINE]) / p[P.RETURN_LAG]  # C28: returns lag


@njit(cache=True, inline="always")
def spend_capacity(org, pair, world, p):
    """THEORY §5 step 10: capacity spent on collaboration and relaxed to funding
    (C08, C28, C43)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    behaviour = org[S.BEHAVIOUR]
    trust = pair[S.TRUST]
    partners = _count_partners(active)
    for i in range(n):
        if active[i] == 0.0:
            continue
        total = 0.0  # i's mean trust in the other active members: mean_trust(org, pair, i)[0]
        for j in range(n):
            total += trust[i, j] if (j != i and active[j] == 1.0) else 0.0
        trust_in_others = total / partners if partners > 0.0 else 0.0
        spend = behaviour[i] * (
            p[P.BEHAVIOUR_COST]  # C28: collaboration costs capacity first
            + p[P.TRANSACTION_COST] * (1.0 - trust_in_others)  # C43: falls as trust rises
        )
        org[S.CAPACITY, i] = _clip01(
            org[S.CAPACITY, i]
            + p[P.CAPACITY_RELAXATION] * (org[S.FUNDED, i] - org[S.CAPACITY, i])  # C08
            - spend
            + p[P.RETURN_SHARE] * world[S.PIPELINE]  # C28: pays back later
        )


@njit(cache=True, inline="always")
def perceive_progress(org, world, p, rng, month):
    """THEORY §5 step 11: real and perceived progress (C20, C21, C23)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    quick = p[P.QUICK_WINS] if month <= p[P.QUICK_WIN_MONTHS] else 0.0  # C21
    # roughly linear in behaviour (THEORY §5.1); quick wins are real, visible early
    # results that add to it while they last (C21)
    real = _clip01(np.sqrt(world[S.OUTPUT]) + p[P.QUICK_WIN_SIZE] * quick)
    world[S.REAL_PROGRESS] = real
    noise_sd = (1.0 - p[P.EVALUATION]) * p[P.PERCEPTION_NOISE]  # C23
    rate = min(1.0, p[P.PROGRESS_RATE] * (1.0 + p[P.EVALUATION_SPEEDUP] * p[P.EVALUATION]))
    for i in range(n):
        z = normal(rng)
        if active[i] == 0.0:
            continue
        signal = real + noise_sd * z
        org[S.PERCEIVED_PROGRESS, i] = _clip01(
            org[S.PERCEIVED_PROGRESS, i] + rate * (signal - org[S.PERCEIVED_PROGRESS, i])
        )


@njit(cache=True, inline="always")
def update_faith(org, pair, world, p, expected):
    """THEORY §5 step 12: faith from progress, its anchor and its spread
    (C20, C25, C26; the anchor: C02, C03, C06-C08, C16, C18, C22, C25)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    mean_progress = 0.0
    members = 0.0
    for i in range(n):
        if active[i] == 1.0:
            mean_progress += org[S.PERCEIVED_PROGRESS, i]
            members += 1.0
    gain = p[P.FAITH_FROM_PROGRESS] * (1.0 + p[P.PEER_AMPLIFIER] * p[P.PEER_COMPARISON])  # C26
    faith_now = org[S.FAITH].copy()
    # C25: faith spreads along communication, most from champions. The sum over
    # partners j runs in order for every member i at once (comm is symmetric, so
    # comm[j, i] is comm_ij); a non-partner adds exactly 0.
    spread = np.zeros(n)
    for j in range(n):
        if active[j] == 0.0:
            continue
        influence = 1.0 + p[P.CHAMPION_INFLUENCE] * org[S.CHAMPION, j]
        faith_j = faith_now[j]
        for i in range(n):
            weight = comm[j, i] * influence
            spread[i] += weight * (faith_j - faith_now[i]) if i != j else 0.0
    for i in range(n):
        if active[i] == 0.0:
            continue
        org[S.FAITH, i] = _clip01(
            faith_now[i]
            + gain * (org[S.PERCEIVED_PROGRESS, i] - expected)  # C20
            + p[P.FAITH_ANCHOR_RATE] * (faith_anchor(p, world, org, i) - faith_now[i])
            + p[P.FAITH_DIFFUSION] * (spread[i] / max(1.0, members - 1.0))
        )


@njit(cache=True, inline="always")
def turn_over_leaders(org, pair, p, rng):
    """THEORY §5 step 13a: leadership turnover (C24)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    for i in range(n):
        u = uniform(rng)
        u1, u2 = normal_uniforms(rng)  # drawn every month; turned into a normal if used
        if active[i] == 0.0 or u >= p[P.LEADERSHIP_TURNOVER]:
            continue
        org[S.FAITH, i] *= 1.0 - p[P.TURNOVER_FAITH_LOSS]  # vision must be re-learned
        z = box_muller(u1, u2)
        org[S.LEADERSHIP, i] = _clip01(p[P.LEADERSHIP] + p[P.LEADERSHIP_NOISE] * z)
        reset = p[P.TURNOVER_TRUST_RESET]
        for j in range(n):  # trust-building restarts, both ways
            if j != i:
                trust[i, j] -= reset * max(0.0, trust[i, j] - pair[S.TRUST_INITIAL, i, j])
                trust[j, i] -= reset * max(0.0, trust[j, i] - pair[S.TRUST_INITIAL, j, i])


@njit(cache=True, inline="always")
def exit_members(org, world, p):
    """THEORY §5 step 13b: members leave a voluntary collaboration (C20, C36)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    mandated = p[P.MANDATED]
    exits = 0.0
    for i in range(n):
        org[S.GRIEVANCE, i] *= p[P.GRIEVANCE_DECAY]
        if active[i] == 0.0:
            continue
        if org[S.FAITH, i] < p[P.EXIT_FAITH]:
            org[S.LOW_FAITH_MONTHS, i] += 1.0
        else:
            org[S.LOW_FAITH_MONTHS, i] = 0.0
        if mandated == 1.0:
            continue  # under a mandate nobody leaves; behaviour can still fall to nothing
        if (org[S.LOW_FAITH_MONTHS, i] >= p[P.EXIT_PATIENCE]  # C20
                or org[S.GRIEVANCE, i] >= p[P.EXIT_GRIEVANCE]):  # C36
            active[i] = 0.0
            org[S.BEHAVIOUR, i] = 0.0
            exits += 1.0
    world[S.EXITS] = exits


@njit(cache=True)
def step(org, pair, culture, kind, sector, world, p, rng, timeline):
    """Advance one month through the schedule of THEORY §5, steps 2-13."""
    n = kind.shape[0]
    month = world[S.MONTH] + 1.0
    world[S.MONTH] = month
    apply_timeline(p, timeline, month)  # 2
    update_context(world, p, n)
    shocks_and_cuts(org, pair, world, p, rng)
    communicate(org, pair, world, p)  # 3
    build_trust(org, pair, world, p)  # 4
    expected = expected_progress(p, month)  # 5
    world[S.EXPECTED_PROGRESS] = expected
    raise_conflicts(org, pair, world, p, rng, expected)
    drift_cultures(org, pair, culture, p)  # 6
    derive_behaviour(org, pair, world, p)  # 7-8 (C10, C11, C40, C50)
    produce(org, pair, sector, world, p)  # 9
    spend_capacity(org, pair, world, p)  # 10
    perceive_progress(org, world, p, rng, month)  # 11
    update_faith(org, pair, world, p, expected)  # 12
    turn_over_leaders(org, pair, p, rng)  # 13a
    exit_members(org, world, p)  # 13b
    world[S.STRAIN] *= p[P.STRAIN_DECAY]  # C50: strain eases


@njit(cache=True)
def measure(org, pair, world, out, pair_means):
    """Write the time-series row of the current month into `out` (state.METRICS).

    With `pair_means` (a bool) False the three means over pairs (trust, communication,
    cultural distance) are left at 0: a summary-only run needs them for its
    last month alone, and they cost as much as the rest of the row.
    """
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    members = 0.0
    for name_index in range(out.shape[0]):
        out[name_index] = 0.0
    for i in range(n):
        if active[i] == 0.0:
            continue
        members += 1.0
        out[S.M_MEAN_FAITH] += org[S.FAITH, i]
        out[S.M_MEAN_CAPACITY] += org[S.CAPACITY, i]
        out[S.M_MEAN_BEHAVIOUR] += org[S.BEHAVIOUR, i]
        out[S.M_MEAN_CONFIDENCE] += org[S.CONFIDENCE, i]
        out[S.M_MEAN_RISK_TOLERANCE] += org[S.RISK_TOLERANCE, i]
        out[S.M_MEAN_PERCEIVED_PROGRESS] += org[S.PERCEIVED_PROGRESS, i]
    pairs = 0.0
    for i in range(n if pair_means else 0):
        if active[i] == 0.0:
            continue
        for j in range(n):
            if j != i and active[j] == 1.0:
                out[S.M_MEAN_TRUST] += trust[i, j]
                out[S.M_COMMUNICATION] += pair[S.COMMUNICATION, i, j]
                out[S.M_MEAN_CULTURE_DISTANCE] += pair[S.CULTURE_DISTANCE, i, j]
                pairs += 1.0
    if members > 0.0:
        out[S.M_MEAN_FAITH] /= members
        out[S.M_MEAN_CAPACITY] /= members
        out[S.M_MEAN_BEHAVIOUR] /= members
        out[S.M_MEAN_CONFIDENCE] /= members
        out[S.M_MEAN_RISK_TOLERANCE] /= members
        out[S.M_MEAN_PERCEIVED_PROGRESS] /= members
    if pairs > 0.0:
        out[S.M_MEAN_TRUST] /= pairs
        out[S.M_COMMUNICATION] /= pairs
        out[S.M_MEAN_CULTURE_DISTANCE] /= pairs
    out[S.M_CONFLICTS] = world[S.CONFLICTS]
    out[S.M_CONFLICTS_RESOLVED] = world[S.CONFLICTS_RESOLVED]
    out[S.M_OUTPUT] = world[S.OUTPUT]
    out[S.M_CUMULATIVE_OUTPUT] = world[S.CUMULATIVE_OUTPUT]
    out[S.M_REAL_PROGRESS] = world[S.REAL_PROGRESS]
    out[S.M_STRAIN] = world[S.STRAIN]
    out[S.M_SHOCKS] = world[S.SHOCKS]
    out[S.M_EXITS] = world[S.EXITS]
    out[S.M_ACTIVE_MEMBERS] = members


@njit(cache=True)
def mean_trust(org, pair, i):
    """(i's mean trust in the other active members, their mean trust in i)."""
    n = org.shape[1]
    out_sum = 0.0
    in_sum = 0.0
    count = 0
    for j in range(n):
        if j != i and org[S.ACTIVE, j] == 1.0:
            out_sum += pair[S.TRUST, i, j]
            in_sum += pair[S.TRUST, j, i]
            count += 1
    if count == 0:
        return 0.0, 0.0
    return out_sum / count, in_sum / count


@njit(cache=True)
def record_organisations(org, pair, out):
    """Write the per-organisation row of `organisations.parquet` (state.ORG_RECORD)."""
    for i in range(org.shape[1]):
        out[i, S.R_TRUST_IN_OTHERS], out[i, S.R_TRUSTED_BY_OTHERS] = mean_trust(org, pair, i)
        out[i, S.R_FAITH] = org[S.FAITH, i]
        out[i, S.R_CAPACITY] = org[S.CAPACITY, i]
        out[i, S.R_BEHAVIOUR] = org[S.BEHAVIOUR, i]
        out[i, S.R_ACTIVE] = org[S.ACTIVE, i]
        out[i, S.R_CHAMPION] = org[S.CHAMPION, i]  # C25
