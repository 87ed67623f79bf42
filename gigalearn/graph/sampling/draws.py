"""The samplers' random draws: a counter-based generator and Floyd's k-subset of a row.

Randomness is counter-based: each frontier node draws from a generator seeded by a hash of
(batch seed, hop, node id), so the sample does not depend on the order nodes are processed in:
the thread-parallel kernels return exactly what the sequential ones do.

Floyd's algorithm draws k distinct positions of a row with k draws, whatever the row's degree.
Its i-th draw is uniform in [0, deg - k + i]; the drawn value is kept unless it was drawn
before, in which case the top of the range is kept instead. Two things make it cheap:

- a pair of draws shares one 64-bit hash, each turned into a bounded integer by Lemire's
  multiply-shift on a 32-bit half, with his rejection step, so every value is exactly uniform;
- the "drawn before?" test reads a bitmap of the row's offsets (rows of up to `BITMAP_ROW`
  neighbours) instead of comparing with every earlier pick: measured on MovieLens-1M, the
  compare loop was a third of a whole k-hop sample.

Rows of more than 2**32 neighbours draw from a 53-bit float instead (bias below deg / 2**53).

These functions are inlined into the cached kernels of `kernels`, `uniform` and `fused`, and
numba's on-disk cache does not notice a change in another file: after editing this one, clear
the caches (`make clean`) or every path may not draw the same picks any more.
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TOP53 = np.uint64(11)
_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
_ONE = np.uint64(1)
_REJECT = np.uint64(0xD1B54A32D192ED03)  # separates the rejection stream from the main one
BITMAP_WORDS = 64  # uint64 words of a membership bitmap
BITMAP_ROW = BITMAP_WORDS * 64  # rows up to this degree test membership in the bitmap


@numba.njit(inline="always")
def _mix(z: np.uint64) -> np.uint64:
    """splitmix64 finaliser: a well-mixed 64-bit hash."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def _next(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    state = state + _GOLDEN
    return state, _mix(state)


@numba.njit(inline="always")
def _uniform(state: np.uint64) -> tuple[np.uint64, float]:
    state, r = _next(state)
    return state, (r >> _TOP53) * (1.0 / 9007199254740992.0)


@numba.njit(inline="always")
def _below(state: np.uint64, n: np.int64) -> tuple[np.uint64, np.int64]:
    state, u = _uniform(state)
    j = np.int64(u * n)
    return state, min(j, n - 1)


@numba.njit(inline="always")
def node_state(seed: np.uint64, hop: np.int64, node: np.int64) -> np.uint64:
    """The generator state of one frontier node in one hop of one batch."""
    return _mix(_mix(seed ^ _mix(np.uint64(hop) + _GOLDEN)) ^ np.uint64(node))


@numba.njit(inline="always")
def bounded32(x: np.uint64, n: np.uint64, state: np.uint64, i: np.int64) -> np.int64:
    """x (32 random bits) mapped to [0, n), n <= 2**32, exactly uniform (Lemire 2019): the
    rare x that would bias the multiply-shift are replaced by fresh 32-bit values, hashed
    from (state, i, attempt)."""
    m = x * n
    low = m & _LOW32
    if low < n:  # taken with probability < n / 2**32
        threshold = ((_LOW32 + _ONE) - n) % n
        attempt = np.uint64(0)
        while low < threshold:
            attempt += _ONE
            x = _mix((state ^ _REJECT) + (np.uint64(i) << _32) + attempt) & _LOW32
            m = x * n
            low = m & _LOW32
    return np.int64(m >> _32)


@numba.njit(inline="always")
def _bits32(state: np.uint64, i: np.int64, r: np.uint64):
    """32 random bits for a row's i-th draw, and the hash they came from: draws 2p and 2p + 1
    share the hash of counter p + 1 (pass back the `r` returned for the previous draw)."""
    if i & 1 == 0:
        r = _mix(state + np.uint64((i >> 1) + 1) * _GOLDEN)
        return r & _LOW32, r
    return r >> _32, r


@numba.njit(inline="always")
def floyd_draw(state: np.uint64, i: np.int64, n: np.int64, r: np.uint64):
    """Floyd's i-th draw of a row, uniform in [0, n): (value, hash) (see `_bits32`)."""
    if n > np.int64(_LOW32):  # a row of more than 4e9 neighbours: a 53-bit float draw
        _, t = _below(state + np.uint64(i + 1) * _GOLDEN, n)
        return t, r
    x, r = _bits32(state, i, r)
    return bounded32(x, np.uint64(n), state, i), r


@numba.njit(inline="always")
def floyd_compare(state, lo, deg, k, out, base):
    """lo + k distinct offsets in [0, deg) into out[base:base + k] (k < deg), Floyd's
    algorithm, each draw compared with the earlier picks."""
    r = np.uint64(0)
    for i in range(k):
        t, r = floyd_draw(state, i, deg - k + i + 1, r)
        # branch-free: whether t was drawn before is hard to predict, and a fixed compare-all
        # loop vectorises
        hit = False
        for q in range(i):
            hit |= out[base + q] == lo + t
        out[base + i] = lo + (deg - k + i if hit else t)


@numba.njit(inline="always")
def floyd_offsets(state, lo, deg, k, out, base, bits):
    """`floyd_compare`'s picks, the "drawn before?" test read from `bits`, a zeroed bitmap
    (`new_bitmap`; left zeroed), for rows it can hold.

    Its draws skip Lemire's rejection step and only note whether a draw fell where that step
    might apply (probability < k * deg / 2**32): such a rare row is drawn again by
    `floyd_compare`, so the picks are always the exact ones. Per draw, the skipped branch cost
    more than a tenth of a whole k-hop sample on MovieLens-1M."""
    if deg > bits.shape[0] * 64:
        floyd_compare(state, lo, deg, k, out, base)
        return
    r = np.uint64(0)
    suspect = False
    for i in range(k):
        n = np.uint64(deg - k + i + 1)
        x, r = _bits32(state, i, r)
        m = x * n  # bounded32 without its rejection step
        suspect |= (m & _LOW32) < n
        t = np.int64(m >> _32)
        seen = (bits[t >> 6] >> np.uint64(t & 63)) & _ONE
        v = deg - k + i if seen else t
        bits[v >> 6] |= _ONE << np.uint64(v & 63)
        out[base + i] = lo + v
    for i in range(k):
        bits[(out[base + i] - lo) >> 6] = 0
    if suspect:
        floyd_compare(state, lo, deg, k, out, base)


@numba.njit(cache=True)
def new_bitmap() -> np.ndarray:
    """A zeroed membership bitmap for `floyd_offsets` (one per thread)."""
    return np.zeros(BITMAP_WORDS, dtype=np.uint64)
