"""Per-replicate random streams (CONVENTIONS: Randomness).

Every replicate owns a xoshiro256** generator whose 4-word state is a uint64
array. The jitted draws below advance that array in place, so a replicate's
stream never touches numba's global generator and does not depend on which
thread runs it, or on what other replicates run beside it.

A replicate's integer seed comes from (master seed, replicate index) through
`numpy.random.SeedSequence`; the generator state comes from that integer the
same way, so `ICSModel(scenario, seed=s)` and `run_replicates` agree. Both run
numpy's algorithm on arrays of many seeds at once (`_seed_sequence`): the same
bits, and a million runs' seeds in a fraction of a second instead of 8.5 s.
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


# numpy's SeedSequence (a pool of 4 32-bit words), on arrays of many seeds at once
_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_POOL = 4


def _seed_sequence(entropy: list[np.ndarray], n_words: int) -> list[np.ndarray]:
    """`numpy.random.SeedSequence(words).generate_state(n_words, np.uint32)` for many
    runs at once, bit for bit: `entropy[i]` holds word i of every run (uint64 arrays of
    32-bit values, one length). Its hash constants never depend on the words, so the
    whole algorithm is a few dozen array operations (no Python loop over runs)."""
    hash_const = 0x43B0D7E5

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = (value ^ _U(hash_const)) & _M32
        hash_const = (hash_const * 0x931E8875) & 0xFFFFFFFF
        value = (value * _U(hash_const)) & _M32
        return value ^ (value >> _U(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = (_U(0xCA01F9DD) * x - _U(0x4973F715) * y) & _M32
        return result ^ (result >> _U(16))

    zero = np.zeros_like(entropy[0])
    pool = [hashmix(entropy[i] if i < len(entropy) else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(entropy)):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    hash_const, words = 0x8B51F9DD, []
    for i in range(n_words):
        value = (pool[i % _POOL] ^ _U(hash_const)) & _M32
        hash_const = (hash_const * 0x58F38DED) & 0xFFFFFFFF
        value = (value * _U(hash_const)) & _M32
        words.append(value ^ (value >> _U(16)))
    return words


def stream_states(seeds: np.ndarray) -> np.ndarray:
    """The generator states (uint64[R, 4]) of replicates with integer `seeds` (each in
    [0, 2^63 - 1]): `numpy.random.SeedSequence(seed).generate_state(4, np.uint64)`."""
    seeds = np.asarray(seeds, dtype=np.int64).astype(np.uint64)
    # a seed below 2^32 is one word to numpy; its missing second word mixes in as 0
    words = _seed_sequence([seeds & _M32, seeds >> _U(32)], 8)
    state = np.stack([words[2 * i] | (words[2 * i + 1] << _U(32)) for i in range(4)], axis=1)
    state[~state.any(axis=1), 0] = 1  # xoshiro's one forbidden state; astronomically unlikely
    return state


def stream_state(seed: int) -> np.ndarray:
    """The generator state (uint64[4]) of the replicate with integer `seed`."""
    return stream_states(np.array([int(seed)]))[0]


def run_seeds(master_seed: int, points: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """Integer seeds (int64, non-negative) of the runs (points[i], replicates[i]): from
    the words `w = numpy.random.SeedSequence(master_seed, spawn_key=(point, replicate))
    .generate_state(2, np.uint32)`, the seed is `(w[0] << 31) ^ w[1]`, computed for all
    runs at once (numpy's object takes 8.5 µs a run: 8.5 s per million)."""
    points = np.asarray(points, dtype=np.uint64)
    replicates = np.asarray(replicates, dtype=np.uint64)
    if (points >> _U(32)).any() or (replicates >> _U(32)).any():  # two words: numpy's way
        return np.array([_one_seed(master_seed, int(p), int(r))
                         for p, r in zip(points, replicates, strict=True)], dtype=np.int64)
    master = int(master_seed)

    def word(value: int) -> np.ndarray:
        return np.full(len(points), value, dtype=np.uint64)

    # a spawn key pads the master seed's words to the pool's 4; then point, replicate
    first, second = _seed_sequence([word(master & 0xFFFFFFFF), word(master >> 32), word(0),
                                    word(0), points, replicates], 2)
    return ((first << _U(31)) ^ second).astype(np.int64)


def _one_seed(master_seed: int, point: int, replicate: int) -> int:
    words = np.random.SeedSequence(int(master_seed), spawn_key=(point, replicate)
                                   ).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def replicate_seeds(master_seed: int, replicates: int, point: int = 0) -> np.ndarray:
    """Integer seeds (int64, non-negative) of `replicates` replicates.

    Seed r derives from (master seed, point index, r) alone (`run_seeds`), so adding
    replicates or points never changes the seeds of existing ones.
    """
    return run_seeds(master_seed, np.full(replicates, point, dtype=np.uint64),
                     np.arange(replicates, dtype=np.uint64))
