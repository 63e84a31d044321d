"""How much faster is the kernel's monthly step in float32? A measuring stick, not a model.

    python -m benchmarks.float32_probe                    # 400 timed runs, 7 rounds, 200 seeds
    python -m benchmarks.float32_probe --runs 800 --rounds 9 --seeds 400
    python -m benchmarks.float32_probe --sections         # and µs per section, side by side

The throughput targets of issue 3 (kernel on one core >= 500x the pure-Python
reference and >= 50x `mesa.batch_run`) are out of reach of the float64 design
(benchmarks/README.md, "What limits the kernel"). This probe measures one way
past it that would change the model's arithmetic: the same step in float32.

What is here:

* a float32 twin of `model.kernel.init_state`, `step` and the summary-mode
  `measure`, one function per section as in the kernel, with ALL arithmetic
  in float32: state, parameters and scenario arrays are float32, every
  constant is an `np.float32` bound to a module name (numba promotes
  float32 op float64-literal to float64, so a bare `1.0` would undo the
  point), uniforms take 24 bits of the same xoshiro256** stream, and
  `np.exp`/`np.log`/`np.sqrt`/`np.cos`/`**` of float32 values call the float
  versions of libm (`expf`, `logf`, ...). The LLVM IR of the twin is grepped
  for `double`, and the count printed: the twin's sections must not
  contain a single one.
* `runs32`, the twin of `model.batch.simulate_runs` in summary mode (series
  kept for the regime, means over pairs only at month 0 and the last), and
  the real float64 kernel through `model.batch.simulate_runs` itself, both
  single-threaded (no prange, `numba.set_num_threads(1)`), timed in
  interleaved rounds (A B A B ...), fastest round of each.
* the science check: regimes (`model.regimes.summarise`, i.e. `classify`)
  and final mean trust, faith and behaviour of the same seeds in both, with
  a two-proportion test per regime.

Limits (read before quoting the number):

* It is a twin written by hand for this probe, like
  `benchmarks/reference_python.py`: it is not kept in step with
  `model/kernel.py`, and no sweep or CLI path can call it.
* Its bits differ from the float64 kernel from the first uniform on (24-bit
  uniforms, float libm, float rounding): a seed's run only tracks the float64
  run up to rounding, so regimes and means are compared, not bits.
* The regime summary of a run is worked out in float64 from the float32
  series, once per run (as cheap as in the kernel); the parameters' float32
  values are the float64 ones rounded.
* Only the batch kernel is measured. The `mesa.batch_run` path would change
  too (`ICSModel` calls the same kernel, then Mesa's DataCollector in
  Python, which float32 does not speed up), so the implied "kernel / mesa"
  ratio below assumes the Mesa row stays as it is today.
* The twin keeps the kernel's loop shapes, tuned for float64. Twice the lanes per
  vector change which loops LLVM vectorises for 29 members (`--sections` shows
  `build_trust` slower in float32); a float32 kernel would be retuned, so the
  speed-up here is what the same code gives, not the most float32 could give.
* The implied ratios scale the per-core ratios of benchmarks/RESULTS.md
  (219x reference, 36.3x mesa) by the speed-up measured here: the same
  machine but not the same process or seeds as the benchmark.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.extending import intrinsic

from agents.kinds import (
    CULTURE_DIMS,
    KT_CAPACITY_OFFSET,
    KT_SECTOR,
    KT_SIZE_MEDIAN,
    KT_SIZE_SIGMA,
    SECTOR_CULTURE,
    kind_table,
)
from benchmarks.reference_python import two_proportion_p
from model import params as P
from model import state as S
from model.batch import simulate_runs
from model.regimes import REGIMES, summarise
from model.rng import _xoshiro, replicate_seeds, stream_state
from model.scenario import load_scenario

F32 = np.float32
# Every constant of the twin, as a float32 global (numba types it float32 and freezes it).
ZERO, ONE, TWO, FOUR, HALF = F32(0.0), F32(1.0), F32(2.0), F32(4.0), F32(0.5)
TWO_PI = F32(2.0 * np.pi)
LOG_100 = F32(np.log(100.0))
TWO_POW_MINUS_24 = F32(2.0 ** -24)
DIMS = F32(CULTURE_DIMS)

TODAY_VS_REFERENCE, TODAY_VS_MESA = 219.0, 36.3  # per-core ratios, benchmarks/RESULTS.md
TARGET_VS_REFERENCE, TARGET_VS_MESA = 500.0, 50.0


# ---- random draws: the kernel's xoshiro256** stream, 24 bits per uniform ----

@njit(cache=True, inline="always")
def _unit32(bits):
    """The top 24 bits as a float32 on [0, 1) (exact: 24 bits fit the significand)."""
    return F32(bits >> uint64(40)) * TWO_POW_MINUS_24


@njit(cache=True, inline="always")
def uniform32(s):
    bits, s[0], s[1], s[2], s[3] = _xoshiro(s[0], s[1], s[2], s[3])
    return _unit32(bits)


@njit(cache=True, inline="always")
def uniform_words32(s0, s1, s2, s3):
    bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    return _unit32(bits), s0, s1, s2, s3


@njit(cache=True, inline="always")
def normal_uniforms32(s):
    u1 = ONE - uniform32(s)
    u2 = uniform32(s)
    return u1, u2


@njit(cache=True, inline="always")
def box_muller32(u1, u2):
    return np.sqrt(-TWO * np.log(u1)) * np.cos(TWO_PI * u2)


@njit(cache=True, inline="always")
def normal32(s):
    u1, u2 = normal_uniforms32(s)
    return box_muller32(u1, u2)


# ---- small helpers ----

@njit(cache=True, inline="always")
def _clip01(x):
    return min(ONE, max(ZERO, x))


@intrinsic
def _sqrtf(typingctx, x):
    """`llvm.sqrt.f32`: the kernel's `_sqrt` for float32 (loops over it vectorise)."""
    def codegen(context, builder, signature, args):
        return builder.call(builder.module.declare_intrinsic("llvm.sqrt", [ir.FloatType()]),
                            args)
    return types.float32(types.float32), codegen


@njit(cache=True, inline="always")
def _sigmoid(x):
    return ONE / (ONE + np.exp(-x))


@njit(cache=True, inline="always")
def _count_partners(active):
    count = -ONE
    for j in range(active.shape[0]):
        count += active[j]
    return count


@njit(cache=True)
def funded_level(p, capacity_offset):
    return _clip01(p[P.CAPACITY_BASE] + p[P.CAPACITY_FUNDING] * p[P.FUNDING]
                   - p[P.CAPACITY_PRESSURE] * p[P.ECONOMIC_PRESSURE] + capacity_offset)


@njit(cache=True)
def faith_anchor(p, world, org, i):
    return _clip01(
        p[P.FAITH_BASE]
        + p[P.FAITH_LEGITIMACY] * (world[S.LEGITIMACY] - HALF)
        - p[P.FAITH_COMPLEXITY] * world[S.COMPLEXITY]
        + p[P.FAITH_CAPACITY] * (org[S.CAPACITY, i] - HALF)
        + p[P.FAITH_VISION] * (p[P.SHARED_VISION] - HALF)
        + p[P.FAITH_LEADERSHIP] * (org[S.LEADERSHIP, i] - HALF)
        - p[P.FAITH_REGULATOR_MISTRUST] * p[P.REGULATOR_MISTRUST]
        + p[P.FAITH_AMBITION] * FOUR * p[P.AMBITION] * (ONE - p[P.AMBITION])
        + p[P.FAITH_CHAMPION] * org[S.CHAMPION, i]
    )


@njit(cache=True)
def expected_progress(p, month):
    ramp = min(ONE, month / p[P.PATIENCE_MONTHS])
    return _clip01(p[P.EXPECTED_PROGRESS] * ramp * (HALF + p[P.AMBITION]))


@njit(cache=True)
def update_context(world, p, n):
    world[S.COMPLEXITY] = _clip01(
        p[P.COMPLEXITY_PARTNERS] * np.log(F32(n)) / LOG_100
        + p[P.COMPLEXITY_SIZE] * world[S.MEAN_LOG_SIZE] / FOUR
        + p[P.COMPLEXITY_CROSS_SECTOR] * world[S.CROSS_SECTOR]
        + p[P.COMPLEXITY_REGULATION] * (ONE - p[P.REGULATORY_FAVOURABILITY])
        + p[P.COMPLEXITY_DEPRIVATION] * p[P.DEPRIVATION]
        + p[P.COMPLEXITY_AMBITION] * p[P.AMBITION]
        - p[P.COMPLEXITY_IT] * p[P.IT_INTEROPERABILITY]
    )
    world[S.LEGITIMACY] = _clip01(
        p[P.LEGITIMACY_BASE] - p[P.LEGITIMACY_MANDATE] * p[P.MANDATED]
        + p[P.LEGITIMACY_STAKEHOLDERS] * p[P.STAKEHOLDER_INVOLVEMENT] + p[P.FORM_REPUTATION]
    )


# ---- the sections of the step, in float32 (the kernel's code, constants swapped) ----

@njit(cache=True)
def derive_behaviour(org, pair, world, p):
    n = org.shape[1]
    trust = pair[S.TRUST]
    scale = p[P.FORMALISATION] * (p[P.CONFIDENCE_BASE] + p[P.CONFIDENCE_MANDATE] * p[P.MANDATED]
                                  + p[P.CONFIDENCE_INTEGRATION] * p[P.INTEGRATION])
    floor = p[P.CONFIDENCE_ACCOUNTABILITY_FLOOR]
    withheld = _clip01(p[P.STRAIN_BEHAVIOUR] * world[S.STRAIN])
    active = org[S.ACTIVE]
    confidence_in = np.empty(n, np.float32)
    for j in range(n):
        confidence_in[j] = _clip01(scale * (floor + (ONE - floor) * org[S.ACCOUNTABILITY, j]))
    partners = _count_partners(active)
    for i in range(n):
        if active[i] == ZERO or partners < ONE:
            org[S.CONFIDENCE, i] = ZERO
            org[S.RISK_TOLERANCE, i] = ZERO
            org[S.BEHAVIOUR, i] = ZERO
            continue
        sum_c = ZERO
        sum_r = ZERO
        for j in range(n):
            c = confidence_in[j]
            partner = j != i and active[j] == ONE
            sum_c += c if partner else ZERO
            sum_r += ONE - (ONE - trust[i, j]) * (ONE - c) if partner else ZERO
        org[S.CONFIDENCE, i] = sum_c / partners
        r = sum_r / partners
        org[S.RISK_TOLERANCE, i] = r
        driver = np.sqrt(r * org[S.FAITH, i])
        able = min(ONE, org[S.CAPACITY, i] / p[P.CAPACITY_REFERENCE]) ** p[P.CAPACITY_EXPONENT]
        willing = _sigmoid(p[P.BEHAVIOUR_SLOPE] * (driver - p[P.BEHAVIOUR_THRESHOLD]))
        org[S.BEHAVIOUR, i] = able * willing * (ONE - withheld)


@njit(cache=True)
def init_state32(org, pair, culture, kind, sector, world, p, rng,
                 size_given, x_given, y_given, kind_table, sector_culture):
    n = kind.shape[0]
    d = culture.shape[1]
    footprint = p[P.FOOTPRINT_KM]
    max_weight = ZERO
    for i in range(n):
        k = kind[i]
        sector[i] = int(kind_table[k, KT_SECTOR])
        z = normal32(rng)
        if np.isnan(size_given[i]):
            median, sigma = kind_table[k, KT_SIZE_MEDIAN], kind_table[k, KT_SIZE_SIGMA]
            org[S.SIZE, i] = median * np.exp(sigma * z)
        else:
            org[S.SIZE, i] = size_given[i]
        ux = uniform32(rng)
        uy = uniform32(rng)
        org[S.X_KM, i] = ux * footprint if np.isnan(x_given[i]) else x_given[i]
        org[S.Y_KM, i] = uy * footprint if np.isnan(y_given[i]) else y_given[i]
        org[S.LEADERSHIP, i] = _clip01(p[P.LEADERSHIP] + p[P.LEADERSHIP_NOISE] * normal32(rng))
        org[S.ACCOUNTABILITY, i] = _clip01(
            p[P.ACCOUNTABILITY] + p[P.ACCOUNTABILITY_NOISE] * normal32(rng))
        org[S.CHAMPION, i] = ONE if uniform32(rng) < p[P.CHAMPIONS] else ZERO
        for c in range(d):
            culture[i, c] = _clip01(sector_culture[sector[i], c]
                                    + p[P.CULTURE_NOISE] * normal32(rng))
        org[S.CAPACITY_OFFSET, i] = (kind_table[k, KT_CAPACITY_OFFSET]
                                     + p[P.CAPACITY_NOISE] * normal32(rng))
        org[S.FUNDED, i] = funded_level(p, org[S.CAPACITY_OFFSET, i])
        org[S.CAPACITY, i] = org[S.FUNDED, i]
        org[S.ACTIVE, i] = ONE
        weight = org[S.SIZE, i] ** p[P.POWER_EXPONENT]
        org[S.POWER, i] = weight
        max_weight = max(max_weight, weight)
    for i in range(n):
        org[S.POWER, i] /= max_weight

    cross = ZERO
    log_size = ZERO
    for i in range(n):
        log_size += np.log10(org[S.SIZE, i])
        for j in range(n):
            if sector[i] != sector[j]:
                cross += ONE
    nf = F32(n)
    world[S.CROSS_SECTOR] = cross / max(ONE, nf * (nf - ONE))
    world[S.MEAN_LOG_SIZE] = log_size / nf
    update_context(world, p, n)

    base_trust = (p[P.TRUST_BASE] - p[P.TRUST_HISTORY] * p[P.HISTORY_OF_COMPETITION]
                  + p[P.TRUST_PRIOR_SUCCESS] * p[P.PRIOR_SUCCESS]
                  - p[P.TRUST_MANDATE] * p[P.MANDATED]
                  - p[P.TRUST_REGULATOR_MISTRUST] * p[P.REGULATOR_MISTRUST])
    for i in range(n):
        for j in range(n):
            u1, u2 = normal_uniforms32(rng)
            if j >= i:
                dx = org[S.X_KM, i] - org[S.X_KM, j]
                dy = org[S.Y_KM, i] - org[S.Y_KM, j]
                proximity = np.exp(-np.sqrt(dx * dx + dy * dy) / p[P.PROXIMITY_SCALE_KM])
                pair[S.PROXIMITY, i, j] = pair[S.PROXIMITY, j, i] = proximity
                d2 = ZERO
                for k in range(d):
                    diff = culture[i, k] - culture[j, k]
                    d2 += diff * diff
                distance = np.sqrt(d2 / DIMS)
                pair[S.CULTURE_DISTANCE, i, j] = pair[S.CULTURE_DISTANCE, j, i] = distance
            gap = max(ZERO, org[S.POWER, j] - org[S.POWER, i])
            pair[S.POWER_GAP, i, j] = gap
            if i == j:
                pair[S.TRUST, i, j] = ONE
            else:
                pair[S.TRUST, i, j] = _clip01(base_trust - p[P.TRUST_POWER_GAP] * gap
                                              + p[P.TRUST_NOISE] * box_muller32(u1, u2))
            pair[S.TRUST_INITIAL, i, j] = pair[S.TRUST, i, j]

    for i in range(n):
        org[S.FAITH, i] = _clip01(faith_anchor(p, world, org, i)
                                  + p[P.FAITH_NOISE] * normal32(rng))
    world[S.EXPECTED_PROGRESS] = expected_progress(p, ZERO)
    derive_behaviour(org, pair, world, p)


@njit(cache=True)
def apply_timeline(p, timeline, month):
    for e in range(timeline.shape[0]):
        if timeline[e, 0] == month:
            p[int(timeline[e, 1])] = timeline[e, 2]


@njit(cache=True, inline="always")
def shocks_and_cuts(org, pair, world, p, rng):
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    cut = np.zeros(n, np.float32)
    for i in range(n):
        level = funded_level(p, org[S.CAPACITY_OFFSET, i])
        if active[i] == ONE:
            cut[i] = max(ZERO, org[S.FUNDED, i] - level)
        org[S.FUNDED, i] = level
    shock = uniform32(rng) < p[P.TURBULENCE_RATE]
    world[S.SHOCKS] = ONE if shock else ZERO
    if shock:
        world[S.STRAIN] = _clip01(world[S.STRAIN] + p[P.TURBULENCE_SIZE])
    for i in range(n):
        intensity = HALF + uniform32(rng)
        if shock and active[i] == ONE:
            loss = min(org[S.CAPACITY, i], p[P.TURBULENCE_SIZE] * intensity * org[S.CAPACITY, i])
            org[S.CAPACITY, i] -= loss
            cut[i] += loss
    for i in range(n):
        if cut[i] > ZERO:
            org[S.FAITH, i] = _clip01(org[S.FAITH, i] - p[P.FUNDING_CUT_FAITH] * cut[i])
            keep = _clip01(ONE - p[P.FUNDING_CUT_TRUST] * cut[i])
            for j in range(n):
                if j != i:
                    trust[i, j] *= keep


@njit(cache=True, inline="always")
def communicate(org, pair, world, p):
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    reach = ONE - p[P.COMMUNICATION_COMPLEXITY] * world[S.COMPLEXITY]
    roles = p[P.COMMUNICATION_SHARED_ROLES] * p[P.SHARED_ROLES]
    base = p[P.COMMUNICATION_BASE]
    behaviour = org[S.BEHAVIOUR]
    proximity = pair[S.PROXIMITY]
    for i in range(n):
        for j in range(n):
            engaged = base + (ONE - base) * _sqrtf(behaviour[i] * behaviour[j])
            c = _clip01((proximity[i, j] + roles) * reach * engaged)
            comm[i, j] = c if active[i] == ONE and active[j] == ONE and i != j else ZERO


@njit(cache=True, inline="always")
def build_trust(org, pair, world, p):
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
    overformal = (ONE - mandated) * (ONE - p[P.INTEGRATION]) * max(
        ZERO, p[P.FORMALISATION] - p[P.OVERFORMALISATION_THRESHOLD])
    domination_scale = (ONE + p[P.POWER_MANDATE_AMPLIFIER] * mandated) * (
        ONE - p[P.AUTONOMY_PROTECTION] * p[P.AUTONOMY])
    from_success = p[P.TRUST_FROM_SUCCESS] * world[S.REAL_PROGRESS]
    from_overformal = p[P.TRUST_LOSS_OVERFORMALISATION] * overformal
    w_communication = p[P.TRUST_FROM_COMMUNICATION]
    w_leadership = p[P.TRUST_FROM_LEADERSHIP]
    w_tension = p[P.TRUST_LOSS_TENSION]
    w_power = p[P.TRUST_LOSS_POWER]
    for i in range(n):
        if active[i] == ZERO:
            continue
        for j in range(n):
            t = trust[i, j]
            c = comm[i, j]
            compatible = max(ZERO, ONE - distance[i, j] / tolerance)
            gain = (w_communication * c * compatible * (ONE - tension[i, j])
                    + w_leadership * c * leadership[j] + from_success)
            loss = (w_tension * c * tension[i, j] + w_power * gap[i, j] * domination_scale
                    + from_overformal)
            updated = _clip01(t + gain * (ONE - t) - loss * t)
            trust[i, j] = updated if (j != i and active[j] == ONE) else t


@njit(cache=True, inline="always")
def raise_conflicts(org, pair, world, p, rng, expected):
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
    from_vision = p[P.CONFLICT_VISION] * (ONE - p[P.SHARED_VISION])
    from_mandate = p[P.CONFLICT_MANDATE] * mandated
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    raised = ZERO
    resolved = ZERO
    for i in range(n):
        active_i = active[i] == ONE
        progress_i = progress[i]
        power_i = power[i]
        for j in range(i + 1, n):
            u_raise, s0, s1, s2, s3 = uniform_words32(s0, s1, s2, s3)
            u_resolve, s0, s1, s2, s3 = uniform_words32(s0, s1, s2, s3)
            tension[i, j] *= decay
            tension[j, i] = tension[i, j]
            if not active_i or active[j] == ZERO:
                continue
            stall = max(ZERO, expected - HALF * (progress_i + progress[j]))
            drive = (w_culture * distance[i, j] + w_power * abs(power_i - power[j])
                     + from_vision + w_stall * stall + from_mandate)
            if u_raise < rate * comm[i, j] * drive:
                raised += ONE
                accountable = HALF * (org[S.ACCOUNTABILITY, i] + org[S.ACCOUNTABILITY, j])
                floor = p[P.RESOLUTION_ACCOUNTABILITY_FLOOR]
                if u_resolve < p[P.CONFLICT_RESOLUTION] * (floor + (ONE - floor) * accountable):
                    resolved += ONE
                else:
                    keep = ONE - p[P.CONFLICT_TRUST_LOSS]
                    trust[i, j] *= keep
                    trust[j, i] *= keep
                    org[S.FAITH, i] = _clip01(org[S.FAITH, i] - p[P.CONFLICT_FAITH_LOSS])
                    org[S.FAITH, j] = _clip01(org[S.FAITH, j] - p[P.CONFLICT_FAITH_LOSS])
                    org[S.GRIEVANCE, i] += ONE
                    org[S.GRIEVANCE, j] += ONE
                    tension[i, j] = ONE
                    tension[j, i] = ONE
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    world[S.CONFLICTS] = raised
    world[S.CONFLICTS_RESOLVED] = resolved


@njit(cache=True, inline="always")
def drift_cultures(org, pair, culture, p):
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    dims = CULTURE_DIMS
    drift = p[P.CULTURE_DRIFT] * (ONE + p[P.CULTURE_DUE_DILIGENCE] * p[P.DUE_DILIGENCE])
    others = max(ONE, F32(n) - ONE)
    rate = np.empty(n, np.float32)
    for i in range(n):
        rate[i] = drift * org[S.LEADERSHIP, i] / others if active[i] == ONE else ZERO
    padded = (n + 15) // 16 * 16
    by_dim = np.zeros((dims, padded), np.float32)
    for k in range(dims):
        for i in range(n):
            by_dim[k, i] = culture[i, k]
    pull = np.zeros((dims, padded), np.float32)
    weight = np.zeros(padded, np.float32)
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
    for i in range(n):
        for j in range(n):
            d2 = ZERO
            for k in range(dims):
                diff = by_dim[k, i] - by_dim[k, j]
                d2 += diff * diff
            distance[i, j] = _sqrtf(d2 / DIMS)


@njit(cache=True, inline="always")
def produce(org, pair, sector, world, p):
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    behaviour = org[S.BEHAVIOUR]
    value = ZERO
    pairs = ZERO
    comp = p[P.COMPLEMENTARITY]
    for i in range(n):
        if active[i] == ZERO:
            continue
        for j in range(i + 1, n):
            if active[j] == ZERO:
                continue
            pairs += ONE
            mutual = HALF * (trust[i, j] + trust[j, i])
            complement = (ONE + comp) if sector[i] != sector[j] else ONE
            value += (behaviour[i] * behaviour[j] * (HALF + HALF * mutual) * complement
                      / (ONE + comp))
    output = value / pairs if pairs > ZERO else ZERO
    world[S.OUTPUT] = output
    world[S.CUMULATIVE_OUTPUT] += output
    world[S.PIPELINE] += (output - world[S.PIPELINE]) / p[P.RETURN_LAG]


@njit(cache=True, inline="always")
def spend_capacity(org, pair, world, p):
    n = org.shape[1]
    active = org[S.ACTIVE]
    behaviour = org[S.BEHAVIOUR]
    trust = pair[S.TRUST]
    partners = _count_partners(active)
    for i in range(n):
        if active[i] == ZERO:
            continue
        total = ZERO
        for j in range(n):
            total += trust[i, j] if (j != i and active[j] == ONE) else ZERO
        trust_in_others = total / partners if partners > ZERO else ZERO
        spend = behaviour[i] * (p[P.BEHAVIOUR_COST]
                                + p[P.TRANSACTION_COST] * (ONE - trust_in_others))
        org[S.CAPACITY, i] = _clip01(
            org[S.CAPACITY, i] + p[P.CAPACITY_RELAXATION] * (org[S.FUNDED, i] - org[S.CAPACITY, i])
            - spend + p[P.RETURN_SHARE] * world[S.PIPELINE])


@njit(cache=True, inline="always")
def perceive_progress(org, world, p, rng, month):
    n = org.shape[1]
    active = org[S.ACTIVE]
    quick = p[P.QUICK_WINS] if month <= p[P.QUICK_WIN_MONTHS] else ZERO
    real = _clip01(np.sqrt(world[S.OUTPUT]) + p[P.QUICK_WIN_SIZE] * quick)
    world[S.REAL_PROGRESS] = real
    noise_sd = (ONE - p[P.EVALUATION]) * p[P.PERCEPTION_NOISE]
    rate = min(ONE, p[P.PROGRESS_RATE] * (ONE + p[P.EVALUATION_SPEEDUP] * p[P.EVALUATION]))
    for i in range(n):
        z = normal32(rng)
        if active[i] == ZERO:
            continue
        signal = real + noise_sd * z
        org[S.PERCEIVED_PROGRESS, i] = _clip01(
            org[S.PERCEIVED_PROGRESS, i] + rate * (signal - org[S.PERCEIVED_PROGRESS, i]))


@njit(cache=True, inline="always")
def update_faith(org, pair, world, p, expected):
    n = org.shape[1]
    active = org[S.ACTIVE]
    comm = pair[S.COMMUNICATION]
    mean_progress = ZERO
    members = ZERO
    for i in range(n):
        if active[i] == ONE:
            mean_progress += org[S.PERCEIVED_PROGRESS, i]
            members += ONE
    gain = p[P.FAITH_FROM_PROGRESS] * (ONE + p[P.PEER_AMPLIFIER] * p[P.PEER_COMPARISON])
    faith_now = org[S.FAITH].copy()
    spread = np.zeros(n, np.float32)
    for j in range(n):
        if active[j] == ZERO:
            continue
        influence = ONE + p[P.CHAMPION_INFLUENCE] * org[S.CHAMPION, j]
        faith_j = faith_now[j]
        for i in range(n):
            weight = comm[j, i] * influence
            spread[i] += weight * (faith_j - faith_now[i]) if i != j else ZERO
    for i in range(n):
        if active[i] == ZERO:
            continue
        org[S.FAITH, i] = _clip01(
            faith_now[i] + gain * (org[S.PERCEIVED_PROGRESS, i] - expected)
            + p[P.FAITH_ANCHOR_RATE] * (faith_anchor(p, world, org, i) - faith_now[i])
            + p[P.FAITH_DIFFUSION] * (spread[i] / max(ONE, members - ONE)))


@njit(cache=True, inline="always")
def turn_over_leaders(org, pair, p, rng):
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    for i in range(n):
        u = uniform32(rng)
        u1, u2 = normal_uniforms32(rng)
        if active[i] == ZERO or u >= p[P.LEADERSHIP_TURNOVER]:
            continue
        org[S.FAITH, i] *= ONE - p[P.TURNOVER_FAITH_LOSS]
        z = box_muller32(u1, u2)
        org[S.LEADERSHIP, i] = _clip01(p[P.LEADERSHIP] + p[P.LEADERSHIP_NOISE] * z)
        reset = p[P.TURNOVER_TRUST_RESET]
        for j in range(n):
            if j != i:
                trust[i, j] -= reset * max(ZERO, trust[i, j] - pair[S.TRUST_INITIAL, i, j])
                trust[j, i] -= reset * max(ZERO, trust[j, i] - pair[S.TRUST_INITIAL, j, i])


@njit(cache=True, inline="always")
def exit_members(org, world, p):
    n = org.shape[1]
    active = org[S.ACTIVE]
    mandated = p[P.MANDATED]
    exits = ZERO
    for i in range(n):
        org[S.GRIEVANCE, i] *= p[P.GRIEVANCE_DECAY]
        if active[i] == ZERO:
            continue
        if org[S.FAITH, i] < p[P.EXIT_FAITH]:
            org[S.LOW_FAITH_MONTHS, i] += ONE
        else:
            org[S.LOW_FAITH_MONTHS, i] = ZERO
        if mandated == ONE:
            continue
        if (org[S.LOW_FAITH_MONTHS, i] >= p[P.EXIT_PATIENCE]
                or org[S.GRIEVANCE, i] >= p[P.EXIT_GRIEVANCE]):
            active[i] = ZERO
            org[S.BEHAVIOUR, i] = ZERO
            exits += ONE
    world[S.EXITS] = exits


@njit(cache=True)
def step32(org, pair, culture, kind, sector, world, p, rng, timeline):
    """`model.kernel.step` in float32: the same calls in the same order."""
    n = kind.shape[0]
    month = world[S.MONTH] + ONE
    world[S.MONTH] = month
    apply_timeline(p, timeline, month)
    update_context(world, p, n)
    shocks_and_cuts(org, pair, world, p, rng)
    communicate(org, pair, world, p)
    build_trust(org, pair, world, p)
    expected = expected_progress(p, month)
    world[S.EXPECTED_PROGRESS] = expected
    raise_conflicts(org, pair, world, p, rng, expected)
    drift_cultures(org, pair, culture, p)
    derive_behaviour(org, pair, world, p)
    produce(org, pair, sector, world, p)
    spend_capacity(org, pair, world, p)
    perceive_progress(org, world, p, rng, month)
    update_faith(org, pair, world, p, expected)
    turn_over_leaders(org, pair, p, rng)
    exit_members(org, world, p)
    world[S.STRAIN] *= p[P.STRAIN_DECAY]


@njit(cache=True)
def measure32(org, pair, world, out, pair_means):
    """`model.kernel.measure` in float32 (the means over pairs only when asked)."""
    n = org.shape[1]
    active = org[S.ACTIVE]
    trust = pair[S.TRUST]
    members = ZERO
    for k in range(out.shape[0]):
        out[k] = ZERO
    for i in range(n):
        if active[i] == ZERO:
            continue
        members += ONE
        out[S.M_MEAN_FAITH] += org[S.FAITH, i]
        out[S.M_MEAN_CAPACITY] += org[S.CAPACITY, i]
        out[S.M_MEAN_BEHAVIOUR] += org[S.BEHAVIOUR, i]
        out[S.M_MEAN_CONFIDENCE] += org[S.CONFIDENCE, i]
        out[S.M_MEAN_RISK_TOLERANCE] += org[S.RISK_TOLERANCE, i]
        out[S.M_MEAN_PERCEIVED_PROGRESS] += org[S.PERCEIVED_PROGRESS, i]
    pairs = ZERO
    for i in range(n if pair_means else 0):
        if active[i] == ZERO:
            continue
        for j in range(n):
            if j != i and active[j] == ONE:
                out[S.M_MEAN_TRUST] += trust[i, j]
                out[S.M_COMMUNICATION] += pair[S.COMMUNICATION, i, j]
                out[S.M_MEAN_CULTURE_DISTANCE] += pair[S.CULTURE_DISTANCE, i, j]
                pairs += ONE
    if members > ZERO:
        out[S.M_MEAN_FAITH] /= members
        out[S.M_MEAN_CAPACITY] /= members
        out[S.M_MEAN_BEHAVIOUR] /= members
        out[S.M_MEAN_CONFIDENCE] /= members
        out[S.M_MEAN_RISK_TOLERANCE] /= members
        out[S.M_MEAN_PERCEIVED_PROGRESS] /= members
    if pairs > ZERO:
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
def runs32(kind, size_given, x_given, y_given, kinds, sector_culture, params, params64,
           timeline, rngs, steps, summaries):
    """`model.batch.simulate_runs` in summary mode, on the float32 twin, one run after another.

    `params` is float32 `[R, N_PARAMS]`; `params64` the float64 rows the regime
    classification reads (its thresholds), once per run.
    """
    n = kind.shape[0]
    for r in range(rngs.shape[0]):
        p = params[r].copy()
        rng = rngs[r].copy()
        series = np.zeros((steps + 1, S.N_METRICS), np.float32)
        org = np.zeros((S.N_ORG, n), np.float32)
        pair = np.zeros((S.N_PAIR, n, n), np.float32)
        culture = np.zeros((n, sector_culture.shape[1]), np.float32)
        sector = np.zeros(n, np.int64)
        world = np.zeros(S.N_WORLD, np.float32)
        init_state32(org, pair, culture, kind, sector, world, p, rng,
                     size_given, x_given, y_given, kinds, sector_culture)
        for t in range(steps + 1):
            if t > 0:
                step32(org, pair, culture, kind, sector, world, p, rng, timeline)
            measure32(org, pair, world, series[t], t == 0 or t == steps)
        summarise(series.astype(np.float64), float(n), params64[r], summaries[r])


# ---- the two sides, set up alike ----

class Side:
    """One way of running R replicates of a scenario, single-threaded, summary only."""

    def __init__(self, scenario, float32: bool):
        roster = scenario.roster
        self.float32 = float32
        self.steps = scenario.steps
        self.p64 = scenario.packed()
        self.kind = np.asarray(roster.kinds, np.int64)
        self.n = len(self.kind)
        self.timeline = scenario.timeline_array()
        self.given = [np.asarray(a, np.float64) for a in (roster.size, roster.x_km, roster.y_km)]

    def run(self, seeds) -> np.ndarray:
        """Summary rows `[R, N_SUMMARY]` of `seeds` (streams set up inside, as in a sweep)."""
        r = len(seeds)
        rngs = np.stack([stream_state(s) for s in seeds])
        params64 = np.tile(self.p64, (r, 1))
        summaries = np.zeros((r, S.N_SUMMARY))
        if self.float32:
            f = np.float32
            runs32(self.kind, *[a.astype(f) for a in self.given], kind_table().astype(f),
                   SECTOR_CULTURE.astype(f), params64.astype(f), params64,
                   self.timeline.astype(f), rngs, self.steps, summaries)
        else:
            simulate_runs(self.kind, *self.given, kind_table(), SECTOR_CULTURE, params64,
                          self.timeline, rngs, self.steps, 0, r,
                          np.zeros((0, self.steps + 1, S.N_METRICS)),
                          np.zeros((r, 0, self.n, S.N_ORG_RECORD)), np.zeros((r, self.n)),
                          0, summaries, np.zeros((r, 0, S.N_METRICS)))
        return summaries


# ---- checks ----

def double_ops(fn) -> tuple[int, dict[str, int]]:
    """Instructions of `fn`'s compiled IR (its own functions, callees included) that
    produce or take a `double`, and which opcodes they are."""
    ops: dict[str, int] = {}
    for signature in fn.signatures:
        llvm = fn.inspect_llvm(signature)
        inside = False
        for line in llvm.splitlines():
            if line.startswith("define "):
                inside = "float32_probe" in line  # the twin's own functions, not numba's glue
            elif line.startswith("}"):
                inside = False
            elif inside and re.search(r"\bdouble\b", line):
                m = re.match(r"\s*(?:%\S+\s*=\s*)?(\w+)", line)
                op = m.group(1) if m else "?"
                ops[op] = ops.get(op, 0) + 1
    return sum(ops.values()), ops


def ir_double_counts() -> dict:
    """`double_ops` of the twin, compiled afresh in this process (call with an empty cache:
    numba cannot inspect code it loaded from its cache)."""
    scenario = load_scenario("ics_mandated")
    Side(scenario, True).run(replicate_seeds(0, 1))  # compiles every function of the twin
    return {fn.py_func.__name__: double_ops(fn) for fn in (step32, init_state32, measure32, runs32)}


def ir_double_counts_fresh() -> dict:
    """`ir_double_counts` in a child process with its own empty numba cache folder."""
    with tempfile.TemporaryDirectory(prefix="icsabm-f32-ir-") as folder:
        env = dict(os.environ, NUMBA_CACHE_DIR=folder)
        code = ("import json; from benchmarks.float32_probe import ir_double_counts; "
                "print(json.dumps(ir_double_counts()))")  # imported, so the IR names the module
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


RUN32_SOURCE = '''
def timed_runs(kind, size_given, x_given, y_given, kinds, sector_culture, params, timeline,
               rngs, steps, acc):
    n = kind.shape[0]
    for r in range(rngs.shape[0]):
        p = params.copy()
        rng = rngs[r].copy()
        org = np.zeros((S.N_ORG, n), np.float32)
        pair = np.zeros((S.N_PAIR, n, n), np.float32)
        culture = np.zeros((n, sector_culture.shape[1]), np.float32)
        sector = np.zeros(n, np.int64)
        world = np.zeros(S.N_WORLD, np.float32)
        out = np.zeros(S.N_METRICS, np.float32)
        t = cycles()
        init_state32(org, pair, culture, kind, sector, world, p, rng, size_given, x_given,
                     y_given, kinds, sector_culture)
        acc[INIT] += cycles() - t
        for month in range(1, steps + 1):
            timed_step(org, pair, culture, kind, sector, world, p, rng, timeline, acc)
            t = cycles()
            measure32(org, pair, world, out, month == steps)
            acc[MEASURE] += cycles() - t
'''


def section_table(scenario, runs: int, rounds: int) -> str:
    """µs per month by section of the step, float64 kernel beside the twin, interleaved
    rounds, with `benchmarks/sections.py`'s cycle-counter instrumentation (same seeds)."""
    from benchmarks import sections
    from model import kernel
    timed64, names = sections.build(kernel)
    step_source, names32 = sections.timed_step_source(step32)
    names32 = names32 + ["measure (month row)", "init_state (per month)"]
    assert names32 == names, (names32, names)
    namespace = dict(globals())
    namespace.update(cycles=sections.cycles, INIT=len(names) - 1, MEASURE=len(names) - 2)
    exec(compile(step_source, "<timed float32 step>", "exec"), namespace)
    namespace["timed_step"] = njit(namespace["timed_step"])
    exec(compile(RUN32_SOURCE, "<timed float32 runs>", "exec"), namespace)
    timed32 = njit(namespace["timed_runs"])

    roster, f = scenario.roster, np.float32
    rngs = np.stack([stream_state(int(s)) for s in replicate_seeds(5, runs)])
    args64 = (np.asarray(roster.kinds, np.int64), roster.size, roster.x_km, roster.y_km,
              kind_table(), SECTOR_CULTURE, scenario.packed(), scenario.timeline_array())
    args32 = args64[:1] + tuple(np.asarray(a, np.float64).astype(f) for a in args64[1:])
    n = len(roster.kinds)
    final = np.zeros((runs, S.N_ORG * n + n * n))
    best = [np.full(len(names), np.iinfo(np.int64).max) for _ in range(2)]
    for _ in range(rounds + 1):  # the first round compiles, and is not counted
        acc = [np.zeros(len(names), np.int64), np.zeros(len(names), np.int64)]
        timed64(*args64, rngs, scenario.steps, acc[0], final)
        timed32(*args32, rngs, scenario.steps, acc[1])
        if _ > 0:
            best = [np.minimum(b, a) for b, a in zip(best, acc, strict=True)]
    per_month = 1e6 / sections.cycles_per_second() / runs / scenario.steps
    lines = [f"µs per month by section ({runs} runs, fastest of {rounds} interleaved rounds, "
             f"benchmarks/sections.py's counters):", "",
             "| section | float64 | float32 | ratio |", "|---|---:|---:|---:|"]
    for k, name in enumerate(names):
        a, b = best[0][k] * per_month, best[1][k] * per_month
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.2f}× |")
    a, b = best[0][:-1].sum() * per_month, best[1][:-1].sum() * per_month
    lines.append(f"| **step + measure** | **{a:.2f}** | **{b:.2f}** | **{a / b:.2f}×** |")
    return "\n".join(lines)


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="ics_mandated")
    parser.add_argument("--runs", type=int, default=400, help="runs per timed repetition")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 5)")
    parser.add_argument("--seeds", type=int, default=200, help="seeds of the science check")
    parser.add_argument("--sections", action="store_true",
                        help="also time every section of the step in both (about 1 min more)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.runs < 1 or args.seeds < 2:
        parser.error("--runs and --rounds must be at least 1, --seeds at least 2")
    numba.set_num_threads(1)
    scenario = load_scenario(args.scenario)
    sides = {"float64": Side(scenario, False), "float32": Side(scenario, True)}

    # science: the same seeds in both (not the timed seeds' master seed, so both are honest)
    seeds = replicate_seeds(0, args.seeds)
    rows = {name: side.run(seeds) for name, side in sides.items()}  # also the warm-up

    # timing: A B A B ..., each repetition with its own seeds, fastest round of each
    best = {name: math.inf for name in sides}
    for k in range(args.rounds):
        timed_seeds = replicate_seeds(1000 + k, args.runs)
        for name, side in sides.items():
            start = time.perf_counter()
            side.run(timed_seeds)
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {name: args.runs / best[name] for name in sides}
    speedup = rate["float32"] / rate["float64"]

    hot = ir_double_counts_fresh()
    total, ops = hot["runs32"]
    listed = ", ".join(f"{op} {count}" for op, count in sorted(ops.items()))

    print(f"# float32 probe: {args.scenario}, {scenario.n_organisations} organisations, "
          f"{scenario.steps} months, 1 thread\n")
    print(f"Timing: {args.runs} runs per repetition, fastest of {args.rounds} interleaved "
          f"rounds (stream set-up and summary included, as in a sweep).\n")
    print("| | float64 (model.kernel) | float32 twin |")
    print("|---|---:|---:|")
    print(f"| runs/s | {rate['float64']:,.0f} | {rate['float32']:,.0f} |")
    month = {name: 1e6 / rate[name] / scenario.steps for name in sides}
    print(f"| µs per month (run / {scenario.steps}) | {month['float64']:.2f} | "
          f"{month['float32']:.2f} |")
    print(f"| speed-up | 1.00 | **{speedup:.2f}×** |")
    print(f"| kernel / reference per core (today {TODAY_VS_REFERENCE:.0f}×, target "
          f"{TARGET_VS_REFERENCE:.0f}×) | {TODAY_VS_REFERENCE:.0f}× | "
          f"{TODAY_VS_REFERENCE * speedup:.0f}× (implied) |")
    print(f"| kernel / mesa.batch_run per core (today {TODAY_VS_MESA}×, target "
          f"{TARGET_VS_MESA:.0f}×) | {TODAY_VS_MESA}× | {TODAY_VS_MESA * speedup:.1f}× "
          "(implied) |")
    for code, regime in enumerate(REGIMES):
        k64 = int((rows["float64"][:, S.Y_REGIME] == code).sum())
        k32 = int((rows["float32"][:, S.Y_REGIME] == code).sum())
        p = two_proportion_p(k64, args.seeds, k32, args.seeds)
        print(f"| {regime} share, {args.seeds} seeds | {k64 / args.seeds:.3f} | "
              f"{k32 / args.seeds:.3f} (two-proportion p = {p:.2f}) |")
    same = int((rows["float64"][:, S.Y_REGIME] == rows["float32"][:, S.Y_REGIME]).sum())
    print(f"| same regime, seed by seed | | {same} of {args.seeds} |")
    for label, col in (("trust", S.Y_FINAL_MEAN_TRUST), ("faith", S.Y_FINAL_MEAN_FAITH),
                       ("behaviour", S.Y_FINAL_MEAN_BEHAVIOUR)):
        a, b = rows["float64"][:, col], rows["float32"][:, col]
        print(f"| final mean {label} (mean ± s.e.; largest gap, seed by seed) | "
              f"{a.mean():.4f} ± {_se(a):.4f} | {b.mean():.4f} ± {_se(b):.4f} "
              f"({np.abs(a - b).max():.1e}) |")
    print("| `double` ops in the twin's step / init / measure | | "
          + " / ".join(str(hot[name][0]) for name in ("step32", "init_state32", "measure32"))
          + " |")
    print(f"\n`double` instructions in the whole compiled run loop (`runs32`: the hand-over of "
          f"the float32 series to the float64 regime summary; the summary itself not counted): "
          f"{total} ({listed})")
    if args.sections:
        print()
        print(section_table(scenario, 200, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
