"""CSR construction kernels (numba): counting sort by row, then neighbours sorted within a row.

O(E) counting sort instead of a comparison sort of all edges: the rows are dense ids, so one
pass counts, a prefix sum gives the offsets and a second pass scatters.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _offsets(rows: np.ndarray, n_rows: int) -> np.ndarray:
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for r in rows:
        indptr[r + 1] += 1
    for i in range(n_rows):
        indptr[i + 1] += indptr[i]
    return indptr


@numba.njit(cache=True)
def _scatter(rows: np.ndarray, indptr: np.ndarray, perm: np.ndarray) -> None:
    cursor = indptr[:-1].copy()
    for e in range(rows.shape[0]):
        r = rows[e]
        perm[cursor[r]] = e
        cursor[r] += 1


@numba.njit(parallel=True, cache=True)
def _sort_within_rows(indptr: np.ndarray, perm: np.ndarray, cols: np.ndarray) -> None:
    for r in numba.prange(indptr.shape[0] - 1):
        a, b = indptr[r], indptr[r + 1]
        if b - a > 1:
            seg = perm[a:b].copy()
            order = np.argsort(cols[seg], kind="mergesort")
            for i in range(b - a):
                perm[a + i] = seg[order[i]]


def counting_sort(
    rows: np.ndarray, n_rows: int, perm_dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of positions by `rows`: (indptr [n_rows+1] int64, permutation [E])."""
    indptr = _offsets(rows, n_rows)
    perm = np.empty(rows.shape[0], dtype=perm_dtype)
    _scatter(rows, indptr, perm)
    return indptr, perm


def canonical_order(
    src: np.ndarray, dst: np.ndarray, n_src: int, perm_dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Order edges by (src, dst), stable for ties: (out indptr, permutation)."""
    indptr, perm = counting_sort(src, n_src, perm_dtype)
    _sort_within_rows(indptr, perm, dst)
    return indptr, perm


def offsets_dtype(n_edges: int) -> np.dtype:
    """int32 offsets and edge ids where the edge count allows, int64 beyond."""
    return np.dtype(np.int32) if n_edges < 2**31 - 1 else np.dtype(np.int64)
