"""Would running several replicates in the lanes of one vector speed the kernel up?

    python -m benchmarks.lanes_probe

A first test of the design the README names as the way past the throughput
targets of issue 3: instead of one run per loop nest (today's kernel), put 8
runs side by side as the innermost array axis and let LLVM vectorise across
them. Two passes are timed, side by side in one process, each written both
ways with the same arithmetic (so the results must be equal, and are checked):

* a trust-update pass shaped like `model.kernel.build_trust` (29 organisations),
  per run, with 8 lanes innermost, and with the (partner, lane) loop flattened
  into one loop of 29 x 8 (so LLVM's per-loop alias checks are amortised);
* 812 draws of xoshiro256** (one month of conflict draws), per run and in lanes.

Printed: microseconds per run for each way. Not a test, and not a verdict on
the design: a lane layout written differently (state words in registers,
lanes padded to the vector width) may behave otherwise.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from model.rng import uniform_words

N, LANES, DRAWS = 29, 8, 812


@njit(cache=True, inline="always")
def _updated(t, c, distance, tension, leadership):
    """One directed pair's new trust (the arithmetic of every variant below)."""
    compatible = max(0.0, 1.0 - distance / 0.6)
    gain = 0.1 * c * compatible * (1.0 - tension) + 0.2 * c * leadership + 0.01
    loss = 0.1 * c * tension + 0.01
    return min(1.0, max(0.0, t + gain * (1.0 - t) - loss * t))


@njit(cache=True)
def trust_per_run(trust, comm, tension, distance, leadership, active, reps):
    for _ in range(reps):
        for r in range(trust.shape[0]):
            for i in range(N):
                if active[r, i] == 0.0:
                    continue
                for j in range(N):
                    t = trust[r, i, j]
                    new = _updated(t, comm[r, i, j], distance[r, i, j], tension[r, i, j],
                                   leadership[r, j])
                    trust[r, i, j] = new if (j != i and active[r, j] == 1.0) else t


@njit(cache=True)
def trust_lanes(trust, comm, tension, distance, leadership, active, reps):
    for _ in range(reps):
        for i in range(N):
            for j in range(N):
                for lane in range(LANES):
                    t = trust[i, j, lane]
                    new = _updated(t, comm[i, j, lane], distance[i, j, lane],
                                   tension[i, j, lane], leadership[j, lane])
                    keep = j == i or active[i, lane] == 0.0 or active[j, lane] == 0.0
                    trust[i, j, lane] = t if keep else new


@njit(cache=True)
def trust_lanes_flat(trust, comm, tension, distance, leadership, active, reps):
    """`trust_lanes` with the innermost loop over (partner, lane) flattened: N * LANES long."""
    for _ in range(reps):
        for i in range(N):
            t_row, c_row, x_row, d_row = trust[i], comm[i], tension[i], distance[i]
            for m in range(N * LANES):
                j, lane = m // LANES, m % LANES
                t = t_row[m]
                new = _updated(t, c_row[m], d_row[m], x_row[m], leadership[m])
                keep = j == i or active[i * LANES + lane] == 0.0 or active[m] == 0.0
                t_row[m] = t if keep else new


@njit(cache=True)
def draws_per_run(state, out, reps):
    for _ in range(reps):
        for lane in range(LANES):
            s0, s1, s2, s3 = state[0, lane], state[1, lane], state[2, lane], state[3, lane]
            for k in range(DRAWS):
                out[k, lane], s0, s1, s2, s3 = uniform_words(s0, s1, s2, s3)
            state[0, lane], state[1, lane], state[2, lane], state[3, lane] = s0, s1, s2, s3


@njit(cache=True)
def draws_lanes(state, out, reps):
    for _ in range(reps):
        for k in range(DRAWS):
            for lane in range(LANES):
                out[k, lane], state[0, lane], state[1, lane], state[2, lane], state[3, lane] = \
                    uniform_words(state[0, lane], state[1, lane], state[2, lane], state[3, lane])


def per_run_us(fn, args, reps: int = 2000) -> float:
    """Microseconds per run: fastest of 9 timings of `reps` calls over LANES runs."""
    fn(*args, 1)
    best = min(_timed(fn, args, reps) for _ in range(9))
    return best / reps / LANES * 1e6


def _timed(fn, args, reps: int) -> float:
    start = time.perf_counter()
    fn(*args, reps)
    return time.perf_counter() - start


def main() -> int:
    rng = np.random.default_rng(0)
    runs_first = [rng.random((LANES, N, N)) for _ in range(4)]
    lead, active = rng.random((LANES, N)), np.ones((LANES, N))
    active[3, 5] = 0.0
    lanes_last = [np.ascontiguousarray(a.transpose(1, 2, 0)) for a in runs_first]
    a = per_run_us(trust_per_run, (*[x.copy() for x in runs_first], lead, active))
    b = per_run_us(trust_lanes, (*[x.copy() for x in lanes_last],
                                 np.ascontiguousarray(lead.T), np.ascontiguousarray(active.T)))
    flat = [x.reshape(N, N * LANES).copy() for x in lanes_last]
    c = per_run_us(trust_lanes_flat, (*[x.copy() for x in flat],
                                      np.ascontiguousarray(lead.T).reshape(-1),
                                      np.ascontiguousarray(active.T).reshape(-1)))
    one_flat = [x.copy() for x in flat]
    trust_lanes_flat(*one_flat, np.ascontiguousarray(lead.T).reshape(-1),
                     np.ascontiguousarray(active.T).reshape(-1), 1)
    one_run, one_lane = [x.copy() for x in runs_first], [x.copy() for x in lanes_last]
    trust_per_run(*one_run, lead, active, 1)
    trust_lanes(*one_lane, np.ascontiguousarray(lead.T), np.ascontiguousarray(active.T), 1)
    same = np.array_equal(one_run[0], one_lane[0].transpose(2, 0, 1))
    print(f"trust pass, {N} organisations: per run {a:.2f} us, {LANES} lanes {b:.2f} us "
          f"per run (lanes / per run = {b / a:.2f}; results equal: {same}); lanes with the "
          f"(partner, lane) loop flattened {c:.2f} us per run ({c / a:.2f}; results equal: "
          f"{np.array_equal(one_flat[0].reshape(N, N, LANES), one_lane[0])})")
    state = rng.integers(1, 2**63, (4, LANES)).astype(np.uint64)
    out1, out2 = np.zeros((DRAWS, LANES)), np.zeros((DRAWS, LANES))
    draws_per_run(state.copy(), out1, 1)
    draws_lanes(state.copy(), out2, 1)
    a = per_run_us(draws_per_run, (state.copy(), out1))
    b = per_run_us(draws_lanes, (state.copy(), out2))
    print(f"{DRAWS} xoshiro draws: per run {a:.2f} us, {LANES} lanes {b:.2f} us per run "
          f"(lanes / per run = {b / a:.2f}; draws equal: {np.array_equal(out1, out2)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
