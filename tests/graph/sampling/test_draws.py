"""The samplers' draws: exact bounded integers and Floyd's k-subsets with the bitmap test."""

import numba
import numpy as np
import pytest
from scipy import stats

from gigalearn.graph.sampling.draws import (
    BITMAP_ROW,
    _mix,
    bounded32,
    floyd_compare,
    floyd_offsets,
    new_bitmap,
)


@numba.njit
def _bounded_many(xs, n):
    out = np.empty(xs.shape[0], dtype=np.int64)
    for i in range(xs.shape[0]):
        out[i] = bounded32(np.uint64(xs[i]), np.uint64(n), np.uint64(12345), i)
    return out


@numba.njit
def _floyd_both(states, deg, k, bits):
    a = np.empty((states.shape[0], k), dtype=np.int64)
    b = np.empty((states.shape[0], k), dtype=np.int64)
    for r in range(states.shape[0]):
        floyd_offsets(np.uint64(states[r]), 0, deg, k, a[r], 0, bits)
        floyd_compare(np.uint64(states[r]), 0, deg, k, b[r], 0)
    return a, b


def test_bounded_draws_are_exactly_uniform_where_multiply_shift_is_not():
    # n = 3 * 2**30: a plain (x * n) >> 32 gives j % 3 == 0 twice as often as 1 or 2
    n = 3 * 2**30
    xs = np.random.default_rng(0).integers(0, 2**32, 60_000, dtype=np.uint64)
    naive = (xs.astype(object) * n) >> 32
    naive_counts = np.bincount(np.array(naive % 3, dtype=np.int64), minlength=3)
    assert stats.chisquare(naive_counts).pvalue < 1e-12  # the bias the rejection removes
    got = _bounded_many(xs, n)
    assert ((got >= 0) & (got < n)).all()
    assert stats.chisquare(np.bincount(got % 3, minlength=3)).pvalue > 1e-3


def test_bounded_draws_keep_unbiased_values_and_redraw_the_others():
    n = 2**31 + 1  # about half of all x fall in the rejected zone
    xs = np.random.default_rng(1).integers(0, 2**32, 2_000, dtype=np.uint64)
    got = _bounded_many(xs, n)
    product = xs.astype(object) * n
    threshold = (2**32 - n) % n
    kept = np.array([p % 2**32 >= threshold for p in product])
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_array_equal(got[kept], np.array([p >> 32 for p in product[kept]]))
    assert ((got >= 0) & (got < n)).all()
    small = _bounded_many(xs, 7)  # small n: no x is rejected, the plain multiply-shift
    np.testing.assert_array_equal(small, np.array([int(x) * 7 >> 32 for x in xs]))


@pytest.mark.parametrize(
    ("deg", "k"), [(2, 1), (11, 10), (200, 10), (200, 15), (BITMAP_ROW, 64), (BITMAP_ROW + 1, 5)]
)
def test_bitmap_floyd_picks_what_the_compare_loop_picks(deg, k):
    bits = new_bitmap()
    states = np.random.default_rng(deg).integers(0, 2**63, 300, dtype=np.uint64)
    a, b = _floyd_both(states, deg, k, bits)
    np.testing.assert_array_equal(a, b)
    assert (bits == 0).all()  # left as found, for the next row
    assert ((a >= 0) & (a < deg)).all()
    assert all(len(set(row)) == k for row in a.tolist())


def test_floyd_subsets_are_uniform():
    """Every 2-subset of 6 offsets equally likely (15 of them), including pairs that need the
    top-of-range replacement."""
    states = np.arange(30_000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    a, _ = _floyd_both(states, 6, 2, new_bitmap())
    pair = np.sort(a, axis=1) @ np.array([6, 1])
    counts = np.bincount(pair, minlength=36)
    counts = counts[[i * 6 + j for i in range(6) for j in range(i + 1, 6)]]
    assert counts.sum() == len(states)
    assert stats.chisquare(counts).pvalue > 1e-3


@numba.njit
def _naive_floyd(states, deg, k):
    """Floyd with a plain multiply-shift (no rejection step): slightly biased picks."""
    out = np.empty((states.shape[0], k), dtype=np.int64)
    for row in range(states.shape[0]):
        state = np.uint64(states[row])
        r = np.uint64(0)
        for i in range(k):
            n = np.uint64(deg - k + i + 1)
            if i % 2 == 0:
                r = _mix(state + np.uint64(i // 2 + 1) * np.uint64(0x9E3779B97F4A7C15))
                x = r & np.uint64(0xFFFFFFFF)
            else:
                x = r >> np.uint64(32)
            t = np.int64((x * n) >> np.uint64(32))
            hit = False
            for q in range(i):
                hit |= out[row, q] == t
            out[row, i] = deg - k + i if hit else t
    return out


def test_rows_that_need_a_rejection_are_drawn_again_exactly():
    """The bitmap path skips Lemire's rejection and redraws the rare rows where it could apply;
    among 400 k rows some do, and there too it picks what the exact compare loop picks."""
    deg, k = BITMAP_ROW - 1, 64
    states = np.random.default_rng(7).integers(0, 2**63, 400_000, dtype=np.uint64)
    a, b = _floyd_both(states, deg, k, new_bitmap())
    np.testing.assert_array_equal(a, b)
    naive = _naive_floyd(states, deg, k)
    redrawn = (naive != b).any(axis=1).sum()
    assert 0 < redrawn < 100  # rejections happen, rarely (about 12 expected)
