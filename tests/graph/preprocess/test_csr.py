import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gigalearn.graph.preprocess.csr import canonical_order, counting_sort


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_canonical_order_equals_stable_lexsort(n_src, n_dst, n_edges, seed):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_src, n_edges).astype(np.int32)
    dst = rng.integers(0, n_dst, n_edges).astype(np.int32)
    indptr, perm = canonical_order(src, dst, n_src, np.dtype(np.int64))
    np.testing.assert_array_equal(perm, np.lexsort((dst, src)))  # lexsort is stable
    np.testing.assert_array_equal(
        indptr, np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_src))])
    )


def test_counting_sort_is_stable():
    rows = np.array([2, 0, 2, 1, 0], dtype=np.int32)
    indptr, perm = counting_sort(rows, 4, np.dtype(np.int32))
    np.testing.assert_array_equal(indptr, [0, 2, 3, 5, 5])
    np.testing.assert_array_equal(perm, [1, 4, 3, 0, 2])
