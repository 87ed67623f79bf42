import numpy as np
import pytest

from gigalearn.common.errors import DataError
from gigalearn.graph.config import SplitConfig
from gigalearn.graph.split import Split, split_edges, split_nodes, unit_hash

from .conftest import make_store

E = ("n", "e", "n")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    n, m = 500, 20000
    return make_store(
        tmp_path_factory.mktemp("s") / "g",
        {"n": n},
        {
            E: {
                "src": rng.integers(0, n, m),
                "dst": rng.integers(0, n, m),
                "time": rng.integers(0, 10**6, m),
            }
        },
    )


def _check_partition(s: Split, n: int) -> None:
    ids = np.concatenate([s.train, s.val, s.test])
    assert len(ids) == n and len(np.unique(ids)) == n


def test_unit_hash_is_uniform_and_seeded():
    u = unit_hash(np.arange(100_000), 0)
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert not np.array_equal(u, unit_hash(np.arange(100_000), 1))


def test_random_split_fractions_and_determinism(store):
    cfg = SplitConfig(strategy="random", val=0.1, test=0.2, seed=3)
    s = split_edges(store, E, cfg)
    _check_partition(s, 20000)
    assert abs(len(s.test) / 20000 - 0.2) < 0.02 and abs(len(s.val) / 20000 - 0.1) < 0.02
    again = split_edges(store, E, cfg)
    assert np.array_equal(s.test, again.test)


def test_temporal_split_orders_by_time(store):
    s = split_edges(store, E, SplitConfig(strategy="temporal", val=0.1, test=0.1))
    _check_partition(s, 20000)
    t = store.edge_time(E)
    assert t[s.train].max() <= t[s.val].min() and t[s.val].max() <= t[s.test].min()
    assert len(s.test) == 2000 and len(s.val) == 2000


def test_inductive_split_keeps_each_source_in_one_split(store):
    s = split_edges(store, E, SplitConfig(strategy="inductive", val=0.1, test=0.1))
    src, _ = store.edge_index(E)
    train, test = set(src[s.train]), set(src[s.test])
    assert not train & test and len(test) > 10


def test_node_split_needs_labels(store):
    with pytest.raises(DataError, match="no label"):
        split_nodes(store, "n", SplitConfig())


def test_save_and_load_roundtrip(store, tmp_path):
    s = split_edges(store, E, SplitConfig())
    s.save(tmp_path / "splits")
    t = Split.load(tmp_path / "splits")
    assert all(np.array_equal(getattr(s, k), getattr(t, k)) for k in ("train", "val", "test"))
