"""Per-replicate random streams (CONVENTIONS: Randomness).

Every replicate owns a xoshiro256** generator whose 4-word state is a uint64
array. The jitted draws below advance that array in place, so a replicate's
stream never touches numba's global generator and does not depend on which
thread runs it, or on what other replicates run beside it.

A replicate's integer seed comes from (master seed, replicate index) through
`numpy.random.SeedSequence`; the generator state comes from that integer the
same way, so `ICSModel(scenario, seed=s)` and `run_replicates` agree. Both use
numpy's algorithm in jitted code (`_seed_sequence`), the same bits a hundred
times faster: a sweep of a million runs derives its seeds in 0.1 s, not 8.5 s.
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


# numpy's SeedSequence (pool of 4 words), in jitted code: 8.5 µs a seed there, 0.07 µs here.
_INIT_A, _MULT_A = uint64(0x43B0D7E5), uint64(0x931E8875)
_INIT_B, _MULT_B = uint64(0x8B51F9DD), uint64(0x58F38DED)
_MIX_L, _MIX_R = uint64(0xCA01F9DD), uint64(0x4973F715)
_M32 = uint64(0xFFFFFFFF)
_POOL = 4


@njit(cache=True, inline="always")
def _hashmix(value, hash_const):
    """SeedSequence's hashmix: (hashed value, next hash constant), 32-bit words in uint64."""
    value = ((value ^ hash_const) & _M32) * ((hash_const * _MULT_A) & _M32) & _M32
    return value ^ (value >> uint64(16)), (hash_const * _MULT_A) & _M32


@njit(cache=True, inline="always")
def _mix(x, y):
    result = (_MIX_L * x - _MIX_R * y) & _M32
    return result ^ (result >> uint64(16))


@njit(cache=True, inline="always")
def _append_words(n, words, k):
    """`n` (< 2^64) as numpy splits an int into 32-bit words (little end first; 0 is one
    word), written at words[k:]; returns the next k."""
    if n == uint64(0):
        words[k] = uint64(0)
        return k + 1
    while n > uint64(0):
        words[k] = n & _M32
        n >>= uint64(32)
        k += 1
    return k


@njit(cache=True)
def _seed_sequence(entropy, n_entropy, out):
    """`numpy.random.SeedSequence(entropy[:n_entropy] words).generate_state(len(out),
    np.uint32)`, bit for bit (tests/test_determinism.py checks it against numpy)."""
    pool = np.zeros(_POOL, np.uint64)
    h = _INIT_A
    for i in range(_POOL):
        pool[i], h = _hashmix(entropy[i] if i < n_entropy else uint64(0), h)
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                hashed, h = _hashmix(pool[src], h)
                pool[dst] = _mix(pool[dst], hashed)
    for src in range(_POOL, n_entropy):
        for dst in range(_POOL):
            hashed, h = _hashmix(entropy[src], h)
            pool[dst] = _mix(pool[dst], hashed)
    h = _INIT_B
    for i in range(out.shape[0]):
        value = ((pool[i % _POOL] ^ h) & _M32) * ((h * _MULT_B) & _M32) & _M32
        h = (h * _MULT_B) & _M32
        out[i] = value ^ (value >> uint64(16))


@njit(cache=True)
def _stream_state(seed):
    entropy = np.zeros(2, np.uint64)
    words = np.zeros(8, np.uint64)
    _seed_sequence(entropy, _append_words(seed, entropy, 0), words)
    state = np.empty(4, np.uint64)
    for i in range(4):  # uint64 words from uint32 pairs, little end first (numpy's view)
        state[i] = words[2 * i] | (words[2 * i + 1] << uint64(32))
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = uint64(1)  # xoshiro's one forbidden state; astronomically unlikely
    return state


def stream_state(seed: int) -> np.ndarray:
    """The generator state (uint64[4]) of the replicate with integer `seed`: that of
    `numpy.random.SeedSequence(seed).generate_state(4, np.uint64)`."""
    return _stream_state(uint64(int(seed)))


@njit(cache=True)
def _stream_states(seeds):
    states = np.empty((seeds.shape[0], 4), np.uint64)
    for r in range(seeds.shape[0]):
        states[r] = _stream_state(uint64(seeds[r]))
    return states


def stream_states(seeds: np.ndarray) -> np.ndarray:
    """`stream_state` of every seed (non-negative int64), as rows of a uint64[R, 4]."""
    return _stream_states(np.asarray(seeds, dtype=np.int64))


@njit(cache=True)
def _replicate_seeds(master_seed, replicates, point):
    seeds = np.empty(replicates, np.int64)
    entropy = np.zeros(8, np.uint64)
    words = np.zeros(2, np.uint64)
    for r in range(replicates):
        k = _append_words(master_seed, entropy, 0)
        while k < _POOL:  # a spawn key pads the seed's words to the pool's size
            entropy[k] = uint64(0)
            k += 1
        k = _append_words(point, entropy, k)
        k = _append_words(uint64(r), entropy, k)
        _seed_sequence(entropy, k, words)
        seeds[r] = np.int64((words[0] << uint64(31)) ^ words[1])
    return seeds


def replicate_seeds(master_seed: int, replicates: int, point: int = 0) -> np.ndarray:
    """Integer seeds (int64, non-negative) of `replicates` replicates.

    Seed r derives from (master seed, point index, r) alone, so adding
    replicates or points never changes the seeds of existing ones: from the words
    `w = numpy.random.SeedSequence(master_seed, spawn_key=(point, r))
    .generate_state(2, np.uint32)`, seed r is `(w[0] << 31) ^ w[1]` (jitted).
    """
    return _replicate_seeds(uint64(int(master_seed)), int(replicates), uint64(int(point)))
