import numpy as np
import pyarrow as pa
import pytest

from gigalearn.common.errors import DataError
from gigalearn.graph.preprocess.ids import IdIndex, enumerate_ids


@pytest.mark.parametrize("values", [[30, 10, 20], ["c", "a", "b"]])
def test_enumeration_is_sorted_and_reversible(values):
    ids, order = enumerate_ids(pa.array(values), "w")
    assert ids.to_pylist() == sorted(values)
    assert [values[i] for i in order] == sorted(values)


def test_duplicates_are_named():
    with pytest.raises(DataError, match=r"w: 2 duplicate id\(s\), e.g. \[1, 5\]"):
        enumerate_ids(pa.array([5, 1, 5, 1, 3]), "w")


def test_empty_null_and_float_ids_rejected():
    with pytest.raises(DataError, match="no rows"):
        enumerate_ids(pa.array([], pa.int64()), "w")
    with pytest.raises(DataError, match="NULL id"):
        enumerate_ids(pa.array([1, None]), "w")
    with pytest.raises(DataError, match="integers or strings"):
        enumerate_ids(pa.array([1.5, 2.5]), "w")


def test_map_ids_marks_unknown_and_casts_integer_widths():
    ids, _ = enumerate_ids(pa.array([10, 20, 30], pa.int64()), "w")
    out = IdIndex(ids).lookup(pa.array([30, 99, 10], pa.int32()), "w")
    np.testing.assert_array_equal(out, [2, -1, 0])
    assert out.dtype == np.int32


def test_map_ids_type_mismatch_is_clear():
    ids, _ = enumerate_ids(pa.array([1, 2]), "w")
    with pytest.raises(DataError, match="does not match the node ids' type"):
        IdIndex(ids).lookup(pa.array(["x", "y"]), "edges[0]")
