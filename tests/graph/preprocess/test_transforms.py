import numpy as np
import pyarrow as pa
import pytest

from gigalearn.common.errors import DataError
from gigalearn.graph.config import (
    Bucketize,
    Categorical,
    Hashing,
    Log1p,
    MinMax,
    MultiHot,
    Passthrough,
    Standardize,
)
from gigalearn.graph.preprocess.transforms import apply_feature, fit_feature


def _fit_apply(spec, values, new=None):
    arr = pa.array(values)
    ids = pa.array(range(len(arr)))
    f = fit_feature("x", spec, arr, ids, "w")
    target = arr if new is None else pa.array(new)
    return f, apply_feature(f, target, pa.array(range(len(target))), "w")


def test_standardize_min_max_log1p():
    _, out = _fit_apply(Standardize(kind="standardize"), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(out[:, 0], (np.array([1, 2, 3]) - 2) / np.std([1, 2, 3]), 1e-6)
    _, out = _fit_apply(MinMax(kind="min_max"), [2, 4, 6])
    np.testing.assert_allclose(out[:, 0], [0, 0.5, 1])
    _, out = _fit_apply(Log1p(kind="log1p"), [0.0, np.e - 1])
    np.testing.assert_allclose(out[:, 0], [0, 1], 1e-6)


def test_fitted_statistics_are_reused_on_new_data():
    f, out = _fit_apply(Standardize(kind="standardize"), [0.0, 10.0], new=[5.0, 20.0])
    assert f.stats == {"mean": [5.0], "std": 5.0}
    np.testing.assert_allclose(out[:, 0], [0.0, 3.0])


def test_passthrough_fixed_length_list():
    _, out = _fit_apply(Passthrough(kind="passthrough", length=2), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(out, [[1, 2], [3, 4]])
    with pytest.raises(DataError, match="row 1 has 3"):
        _fit_apply(Passthrough(kind="passthrough", length=2), [[1, 2], [3, 4, 5]])


def test_bucketize_given_and_quantile():
    _, out = _fit_apply(Bucketize(kind="bucketize", boundaries=[10, 20]), [5, 10, 25])
    np.testing.assert_array_equal(out.argmax(1), [0, 1, 2])
    f, out = _fit_apply(Bucketize(kind="bucketize", num_buckets=4), list(range(100)))
    assert len(f.stats["boundaries"]) == 3
    assert np.bincount(out.argmax(1)).tolist() == [25, 25, 25, 25]


def test_categorical_vocab_and_oov():
    f, out = _fit_apply(
        Categorical(kind="categorical", min_count=2),
        ["a", "b", "a", "c", "b", "a"],
        new=["a", "zzz"],
    )
    assert f.stats["vocab"] == ["a", "b"]
    assert f.columns == ["x=a", "x=b", "x=<oov>"]
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1]])


def test_multi_hot():
    f, out = _fit_apply(MultiHot(kind="multi_hot", sep="|"), ["A|B", "B", ""])
    assert f.stats["vocab"] == ["B", "A"]
    np.testing.assert_array_equal(out, [[1, 1, 0], [1, 0, 0], [0, 0, 0]])


def test_hashing_is_stable_and_one_hot():
    _, a = _fit_apply(Hashing(kind="hashing", buckets=8), ["x", "y", "x"])
    _, b = _fit_apply(Hashing(kind="hashing", buckets=8), ["x"])
    assert (a.sum(1) == 1).all() and (a[0] == a[2]).all() and (a[0] == b[0]).all()


def test_missing_policies():
    with pytest.raises(DataError, match=r"1 missing value\(s\).*id\(s\) \[1\]"):
        _fit_apply(Standardize(kind="standardize"), [1.0, None, 3.0])
    with pytest.raises(DataError, match="missing"):
        _fit_apply(Standardize(kind="standardize"), [1.0, float("nan")])
    _, out = _fit_apply(Standardize(kind="standardize", missing="fill"), [1.0, None, 3.0])
    assert out[1, 0] == 0.0  # filled with the fitted mean, which standardises to 0
    f, out = _fit_apply(MinMax(kind="min_max", missing="indicator", fill_value=0), [2.0, None, 4])
    assert f.columns == ["x", "x__missing"]
    np.testing.assert_array_equal(out, [[0, 0], [-1, 1], [1, 0]])  # fill 0 lies below the min
    _, out = _fit_apply(Categorical(kind="categorical", missing="fill"), ["a", None])
    np.testing.assert_array_equal(out, [[1, 0], [0, 0]])


def test_infinite_and_wrong_type_rejected():
    with pytest.raises(DataError, match="infinite value at row 1"):
        _fit_apply(Standardize(kind="standardize"), [1.0, float("inf")])
    with pytest.raises(DataError, match="needs a numeric column, got string"):
        _fit_apply(Standardize(kind="standardize"), ["1", "2"])
    with pytest.raises(DataError, match="log1p needs values > -1"):
        _fit_apply(Log1p(kind="log1p"), [-2.0, 1.0])


def test_decimal_columns_are_numeric():
    from decimal import Decimal

    _, out = _fit_apply(MinMax(kind="min_max"), pa.array([Decimal("1.5"), Decimal("2.5")]))
    np.testing.assert_allclose(out[:, 0], [0, 1])
