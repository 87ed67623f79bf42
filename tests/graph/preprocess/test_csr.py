import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigalearn.graph.preprocess.csr import canonical_order, counting_sort, order_ties

# numba_min=0 forces the numba kernels, a huge value the numpy path: both must agree
PATHS = pytest.mark.parametrize("numba_min", [0, 10**12], ids=["numba", "numpy"])


@PATHS
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_canonical_order_equals_stable_lexsort(numba_min, n_src, n_dst, n_edges, seed):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_src, n_edges).astype(np.int32)
    dst = rng.integers(0, n_dst, n_edges).astype(np.int32)
    indptr, perm = canonical_order(src, dst, n_src, n_dst, np.dtype(np.int64), numba_min)
    np.testing.assert_array_equal(perm, np.lexsort((dst, src)))  # lexsort is stable
    counts = np.bincount(src, minlength=n_src)
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(counts)]))


@PATHS
def test_counting_sort_is_stable(numba_min):
    rows = np.array([2, 0, 2, 1, 0], dtype=np.int32)
    indptr, perm = counting_sort(rows, 4, np.dtype(np.int32), numba_min)
    np.testing.assert_array_equal(indptr, [0, 2, 3, 5, 5])
    np.testing.assert_array_equal(perm, [1, 4, 3, 0, 2])


@PATHS
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**32 - 1))
def test_order_ties_sorts_each_run_by_keys(numba_min, n, seed):
    rng = np.random.default_rng(seed)
    pairs = np.sort(rng.integers(0, 5, n))  # a sorted (src, dst) key with repeats
    t, w = rng.integers(0, 3, n), rng.integers(0, 3, n)
    perm = rng.permutation(n)
    key = pairs[np.argsort(perm)]  # key of original edge e is the pair at its position
    dup = np.zeros(n, dtype=bool)
    dup[1:] = pairs[1:] == pairs[:-1]
    order_ties(perm, dup, [t, w], numba_min)
    assert (key[perm] == pairs).all()  # runs stay in place
    expected = np.lexsort((w[perm], t[perm], pairs))
    np.testing.assert_array_equal(expected, np.arange(n))
