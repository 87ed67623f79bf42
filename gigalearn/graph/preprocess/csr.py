"""CSR construction kernels (numba): O(E) counting sorts instead of comparison sorts.

Rows are dense ids, so one pass counts, a prefix sum gives the offsets and a second pass
scatters. Sorting edges by (src, dst) is two stable counting sorts (LSD radix: by dst, then by
src), which stays O(E) however skewed the degrees are.
"""

from __future__ import annotations

import numba
import numpy as np

# Below this many edges numba's one-time start-up in a process (~0.3 s to load the compiled
# kernels) costs more than the kernels save, so numpy's stable sorts do the work instead.
NUMBA_MIN_EDGES = 1 << 21

# Largest count that int32 ids / offsets hold. A module attribute (not a literal at each use) so
# tests can lower it and exercise the int64 path without a 2-billion-edge graph.
INT32_LIMIT = 2**31 - 1


@numba.njit(cache=True)
def _offsets(rows: np.ndarray, n_rows: int) -> np.ndarray:
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for r in rows:
        indptr[r + 1] += 1
    for i in range(n_rows):
        indptr[i + 1] += indptr[i]
    return indptr


@numba.njit(cache=True)
def _scatter(rows: np.ndarray, indptr: np.ndarray, out: np.ndarray) -> None:
    cursor = indptr[:-1].copy()
    for e in range(rows.shape[0]):
        r = rows[e]
        out[cursor[r]] = e
        cursor[r] += 1


@numba.njit(cache=True)
def _scatter_in_order(
    rows: np.ndarray, order: np.ndarray, indptr: np.ndarray, out: np.ndarray
) -> None:
    cursor = indptr[:-1].copy()
    for i in range(order.shape[0]):
        e = order[i]
        r = rows[e]
        out[cursor[r]] = e
        cursor[r] += 1


@numba.njit(cache=True)
def _sort_runs(perm: np.ndarray, starts: np.ndarray, ends: np.ndarray, key: np.ndarray) -> None:
    for i in range(starts.shape[0]):
        a, b = starts[i], ends[i]
        seg = perm[a:b].copy()
        order = np.argsort(key[seg], kind="mergesort")
        for j in range(b - a):
            perm[a + j] = seg[order[j]]


def counting_sort(
    rows: np.ndarray, n_rows: int, perm_dtype: np.dtype, numba_min: int = NUMBA_MIN_EDGES
) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of positions by `rows`: (indptr [n_rows+1] int64, permutation [E])."""
    if rows.shape[0] < numba_min:
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        # numpy's stable sort is a radix sort for 16-bit keys, timsort for wider ones
        keys = rows.astype(np.uint16) if n_rows <= 1 << 16 else rows
        return indptr, np.argsort(keys, kind="stable").astype(perm_dtype, copy=False)
    indptr = _offsets(rows, n_rows)
    perm = np.empty(rows.shape[0], dtype=perm_dtype)
    _scatter(rows, indptr, perm)
    return indptr, perm


def canonical_order(
    src: np.ndarray,
    dst: np.ndarray,
    n_src: int,
    n_dst: int,
    perm_dtype: np.dtype,
    numba_min: int = NUMBA_MIN_EDGES,
) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of edges by (src, dst): (out indptr over src, permutation)."""
    _, by_dst = counting_sort(dst, n_dst, perm_dtype, numba_min)
    if src.shape[0] < numba_min:
        indptr, second = counting_sort(src[by_dst], n_src, perm_dtype, numba_min)
        return indptr, by_dst[second]
    indptr = _offsets(src, n_src)
    perm = np.empty(src.shape[0], dtype=perm_dtype)
    _scatter_in_order(src, by_dst, indptr, perm)
    return indptr, perm


def order_ties(
    perm: np.ndarray, dup: np.ndarray, keys: list[np.ndarray], numba_min: int = NUMBA_MIN_EDGES
) -> None:
    """Within each run of parallel edges (dup[i]: position i repeats i-1), sort `perm` in place
    by `keys` (first key most significant), so tie order does not depend on the input order."""
    edges = np.diff(np.concatenate([[False], dup, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1) - 1  # a run begins one before its first repeat
    ends = np.flatnonzero(edges == -1)
    if perm.shape[0] < numba_min:
        in_run = np.zeros(perm.shape[0] + 1, dtype=np.int64)
        np.add.at(in_run, starts, 1)
        np.add.at(in_run, ends, -1)
        pos = np.flatnonzero(np.cumsum(in_run[:-1]) > 0)
        run = np.searchsorted(starts, pos, side="right")
        seg = perm[pos]
        perm[pos] = seg[np.lexsort([k[seg] for k in reversed(keys)] + [run])]
        return
    for key in reversed(keys):  # least significant first: stable sorts compose (LSD)
        _sort_runs(perm, starts, ends, key)


def offsets_dtype(n_edges: int) -> np.dtype:
    """int32 offsets and edge ids where the edge count allows, int64 beyond."""
    return np.dtype(np.int32) if n_edges < INT32_LIMIT else np.dtype(np.int64)


@numba.njit(cache=True)
def _claim(rows: np.ndarray, cursor: np.ndarray, out: np.ndarray) -> None:
    for e in range(rows.shape[0]):
        r = rows[e]
        out[e] = cursor[r]
        cursor[r] += 1


@numba.njit(cache=True)
def _count(rows: np.ndarray, counts: np.ndarray) -> None:
    for r in rows:
        counts[r] += 1


def count_into(rows: np.ndarray, counts: np.ndarray) -> None:
    """counts[r] += occurrences of r in `rows`, without bincount's [n_rows] temporary per call."""
    _count(rows, counts)


def claim_positions(rows: np.ndarray, cursor: np.ndarray) -> np.ndarray:
    """Target positions of one chunk in a counting sort whose running per-row `cursor` (int64,
    advanced in place) starts at the offsets: chunks fed in order give a stable sort."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    _claim(rows, cursor, out)
    return out


def sort_runs_by(perm: np.ndarray, starts: np.ndarray, ends: np.ndarray, key: np.ndarray) -> None:
    """Stable sort of `perm[starts[i]:ends[i]]` by `key[perm]`, for every run i, in place."""
    long = (ends - starts) > 1  # runs of one edge are sorted already; skip their call overhead
    _sort_runs(perm, starts[long], ends[long], key)
