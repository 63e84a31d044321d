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
* a trust pass in the one lane layout found to vectorise: each member's row as one
  flat loop of 29 x 8 (partner, lane) values, with the partner mask (j != i, both
  active) kept as an array of the same shape rather than worked out from the lane
  index (a kernel would update that mask only when a member exits);
* 812 draws of xoshiro256** (one month of conflict draws), per run and in lanes,
  with the state words in an array and in arrays local to the loop;
* the running sums over partners kept in order (as `derive_behaviour` and
  `spend_capacity` keep them), per run and in lanes of the flat layout.

Printed: microseconds per run for each way. The assembly of the first lane
loop shows why it is slow: LLVM unrolls the 8 lanes but does not vectorise
them (it cannot prove the arrays do not overlap), so the lanes run as scalar
code with worse addressing. Not a test, and not a verdict on
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
def trust_lanes_masked(trust, comm, tension, distance, leadership, mask, reps):
    """Flat (partner, lane) rows with the partner mask as an array: the loop vectorises."""
    for _ in range(reps):
        for i in range(N):
            t_row, c_row, x_row, d_row, k_row = trust[i], comm[i], tension[i], distance[i], mask[i]
            for m in range(N * LANES):
                t = t_row[m]
                new = _updated(t, c_row[m], d_row[m], x_row[m], leadership[m])
                t_row[m] = new if k_row[m] == 1.0 else t


@njit(cache=True)
def sums_per_run(trust, active, out, reps):
    """Each member's sum of trust over partners, in partner order (one run at a time);
    0 for a member who has left."""
    for _ in range(reps):
        for r in range(trust.shape[0]):
            for i in range(N):
                total = 0.0
                member = active[r, i] == 1.0
                for j in range(N):
                    total += trust[r, i, j] if (member and j != i and active[r, j] == 1.0) else 0.0
                out[r, i] = total


@njit(cache=True)
def sums_lanes(trust, mask, out, reps):
    """`sums_per_run` in lanes of the flat layout: the same order within every lane."""
    for _ in range(reps):
        for i in range(N):
            row, k_row, total = trust[i], mask[i], out[i]
            for lane in range(LANES):
                total[lane] = 0.0
            for j in range(N):
                for lane in range(LANES):
                    m = j * LANES + lane
                    total[lane] += row[m] if k_row[m] == 1.0 else 0.0


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


@njit(cache=True)
def draws_lanes_local(state, out, reps):
    """`draws_lanes` with the state words copied into arrays local to the loop."""
    s0, s1 = state[0].copy(), state[1].copy()
    s2, s3 = state[2].copy(), state[3].copy()
    for _ in range(reps):
        for k in range(DRAWS):
            for lane in range(LANES):
                out[k, lane], s0[lane], s1[lane], s2[lane], s3[lane] = \
                    uniform_words(s0[lane], s1[lane], s2[lane], s3[lane])
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


def per_run_us(fn, args, reps: int = 2000) -> float:
    """Microseconds per run: fastest of 9 timings of `reps` calls over LANES runs."""
    fn(*args, 1)
    best = min(_timed(fn, args, reps) for _ in range(9))
    return best / reps / LANES * 1e6


def _timed(fn, args, reps: int) -> float:
    start = time.perf_counter()
    fn(*args, reps)
    return time.perf_counter() - start


def partner_mask(active: np.ndarray) -> np.ndarray:
    """1.0 where (i, j) are partners (j != i, both active), as rows of (partner, lane)."""
    both = active.T[:, None, :] * active.T[None, :, :]  # (i, j, lane)
    both[np.arange(N), np.arange(N), :] = 0.0
    return np.ascontiguousarray(both).reshape(N, N * LANES)


def _report(what: str, a: float, b: float, equal: bool, way: str = f"{LANES} lanes") -> None:
    print(f"{what}: per run {a:.2f} us, {way} {b:.2f} us per run "
          f"(lanes / per run = {b / a:.2f}; results equal: {equal})")


def main() -> int:
    rng = np.random.default_rng(0)
    runs_first = [rng.random((LANES, N, N)) for _ in range(4)]
    lead, active = rng.random((LANES, N)), np.ones((LANES, N))
    active[3, 5] = 0.0
    lanes_last = [np.ascontiguousarray(a.transpose(1, 2, 0)) for a in runs_first]
    flat = [x.reshape(N, N * LANES).copy() for x in lanes_last]
    lead_lanes, active_lanes = np.ascontiguousarray(lead.T), np.ascontiguousarray(active.T)
    lead_flat, active_flat = lead_lanes.reshape(-1), active_lanes.reshape(-1)
    mask = partner_mask(active)

    # the trust pass, four ways; every way's result is compared with the per-run one
    one_run = [x.copy() for x in runs_first]
    trust_per_run(*one_run, lead, active, 1)
    expected = one_run[0]
    a = per_run_us(trust_per_run, (*[x.copy() for x in runs_first], lead, active))
    ways = [("", trust_lanes, lanes_last, (lead_lanes, active_lanes)),
            ("(partner, lane) loop flattened", trust_lanes_flat, flat, (lead_flat, active_flat)),
            ("flattened, partner mask as an array", trust_lanes_masked, flat, (lead_flat, mask))]
    for name, fn, arrays, rest in ways:
        one = [x.copy() for x in arrays]
        fn(*one, *rest, 1)
        equal = np.array_equal(expected, one[0].reshape(N, N, LANES).transpose(2, 0, 1))
        b = per_run_us(fn, (*[x.copy() for x in arrays], *rest))
        _report(f"trust pass, {N} organisations", a, b, equal,
                f"{LANES} lanes{', ' + name if name else ''}")

    state = rng.integers(1, 2**63, (4, LANES)).astype(np.uint64)
    out1 = np.zeros((DRAWS, LANES))
    draws_per_run(state.copy(), out1, 1)
    a = per_run_us(draws_per_run, (state.copy(), out1))
    for name, fn in (("", draws_lanes), ("state in local arrays", draws_lanes_local)):
        out2 = np.zeros((DRAWS, LANES))
        fn(state.copy(), out2, 1)
        b = per_run_us(fn, (state.copy(), out2))
        _report(f"{DRAWS} xoshiro draws", a, b, np.array_equal(out1, out2),
                f"{LANES} lanes{', ' + name if name else ''}")

    sums1, sums2 = np.zeros((LANES, N)), np.zeros((N, LANES))
    sums_per_run(runs_first[0], active, sums1, 1)
    sums_lanes(flat[0], mask, sums2, 1)
    a = per_run_us(sums_per_run, (runs_first[0], active, sums1), reps=20000)
    b = per_run_us(sums_lanes, (flat[0], mask, sums2), reps=20000)
    _report("sums over partners in order", a, b, np.array_equal(sums1, sums2.T),
            f"{LANES} lanes, flattened with the mask")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
