"""Per-replicate random streams (CONVENTIONS: Randomness).

Every replicate owns a xoshiro256** generator whose 4-word state is a uint64
array. The jitted draws below advance that array in place, so a replicate's
stream never touches numba's global generator and does not depend on which
thread runs it, or on what other replicates run beside it.

A replicate's integer seed comes from (master seed, replicate index) through
`numpy.random.SeedSequence`; the generator state comes from that integer the
same way, so `ICSModel(scenario, seed=s)` and `run_replicates` agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_TWO_POW_53 = 9007199254740992.0


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def _xoshiro(s0, s1, s2, s3):
    """One xoshiro256** step: (64 random bits, the next four state words)."""
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline="always")
def _to_unit(bits):
    """The top 53 bits as a float64 on [0, 1)."""
    return float(bits >> uint64(11)) / _TWO_POW_53


@njit(cache=True)
def next_u64(s):
    """Advance the xoshiro256** state `s` (uint64[4]) and return 64 random bits."""
    result, s[0], s[1], s[2], s[3] = _xoshiro(s[0], s[1], s[2], s[3])
    return result


@njit(cache=True)
def uniform(s):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return _to_unit(next_u64(s))


@njit(cache=True, inline="always")
def uniform_words(s0, s1, s2, s3):
    """`uniform` on a state held in four local words: (draw, the next four words).

    For hot loops: load the words from the state array, draw, and store them
    back when done; the draws are the same as `uniform`'s.
    """
    bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    return _to_unit(bits), s0, s1, s2, s3


@njit(cache=True)
def normal(s):
    """A standard normal draw (Box-Muller, one of the pair; two uniforms per call)."""
    u1, u2 = normal_uniforms(s)
    return box_muller(u1, u2)


@njit(cache=True, inline="always")
def normal_uniforms(s):
    """The two uniforms a `normal` draw consumes, (u1 in (0, 1], u2 in [0, 1)).

    A caller that needs the normal only sometimes draws these every time (the
    stream advances the same) and pays for `box_muller` only when it is used.
    """
    u1 = 1.0 - uniform(s)
    u2 = uniform(s)
    return u1, u2


@njit(cache=True, inline="always")
def box_muller(u1, u2):
    """The standard normal of `normal_uniforms`' pair."""
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def stream_state(seed: int) -> np.ndarray:
    """The generator state (uint64[4]) of the replicate with integer `seed`."""
    state = np.random.SeedSequence(int(seed)).generate_state(4, dtype=np.uint64)
    if not state.any():  # xoshiro's one forbidden state; astronomically unlikely
        state[0] = np.uint64(1)
    return state


def replicate_seeds(master_seed: int, replicates: int, point: int = 0) -> np.ndarray:
    """Integer seeds (int64, non-negative) of `replicates` replicates.

    Seed r derives from (master seed, point index, r) alone, so adding
    replicates or points never changes the seeds of existing ones.
    """
    seeds = np.empty(replicates, dtype=np.int64)
    for r in range(replicates):
        words = np.random.SeedSequence(int(master_seed), spawn_key=(point, r)).generate_state(
            2, dtype=np.uint32
        )
        seeds[r] = (int(words[0]) << 31) ^ int(words[1])
    return seeds
