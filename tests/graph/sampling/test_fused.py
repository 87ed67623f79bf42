"""The prefetching uniform hop kernels and the one-call k-hop path against the general ones."""

import numba
import numpy as np
import pytest

from gigalearn.graph.sampling import khop
from gigalearn.graph.sampling.kernels import sample_neighbors_serial
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.sampling.uniform import prefetch, uniform_hop_parallel, uniform_hop_serial

from .test_khop import E, random_store  # noqa: F401  (fixture)

_NONE = np.empty(0, dtype=np.int64)
_W = np.empty(0, dtype=np.float32)


@numba.njit
def _sum_with_prefetch(a, pos):
    s = 0
    for i in range(pos.shape[0]):
        prefetch(a, pos[i] + 1_000_000)  # far out of bounds on purpose: a hint never faults
        s += a[pos[i]]
    return s


def test_prefetch_is_only_a_hint():
    a = np.arange(100, dtype=np.int32)
    pos = np.array([3, 50, 99], dtype=np.int64)
    assert _sum_with_prefetch(a, pos) == 152


@pytest.mark.parametrize("with_eid", [True, False])
def test_uniform_hop_draws_what_the_general_kernel_draws(random_store, with_eid):  # noqa: F811
    csr = random_store.csr(E, "in")
    eid = csr.eid if with_eid and csr.eid is not None else _NONE
    frontier = np.random.default_rng(0).choice(300, 200, replace=False).astype(np.int64)
    for fanout in (1, 3, 8, 64, -1):
        want = sample_neighbors_serial(
            csr.indptr, csr.indices, eid, frontier, _NONE, fanout, False, _W, _NONE, 5, 1
        )
        for kernel in (uniform_hop_serial, uniform_hop_parallel):
            got = kernel(csr.indptr, csr.indices, eid, frontier, fanout, np.uint64(5), 1)
            for a, b in zip(want, got, strict=True):
                np.testing.assert_array_equal(a, b)


def _same(a, b):
    for name in ("node_ids", "edge_index", "num_sampled_nodes", "num_sampled_edges"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.keys() == y.keys(), name
        for k in x:
            np.testing.assert_array_equal(np.asarray(x[k]), np.asarray(y[k]), err_msg=name)
    assert (a.edge_ids is None) == (b.edge_ids is None)
    if a.edge_ids is not None:
        for k in a.edge_ids:
            np.testing.assert_array_equal(a.edge_ids[k], b.edge_ids[k])
    assert (a.batch_size, a.seed_type, a.num_seeds) == (b.batch_size, b.seed_type, b.num_seeds)
    assert a.batch is None and b.batch is None and a.seed_time is None


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"edge_ids": False},
        {"direction": "out"},
        {"fanout": [4, -1]},
        {"fanout": [64, 2, 3]},
        {"parallel": False},
    ],
)
def test_one_call_path_equals_the_per_hop_path(random_store, opts):  # noqa: F811
    o = KHopOptions(**{"fanout": [6, 4], **opts})
    fused, general = KHopSampler(random_store, o), KHopSampler(random_store, o)
    general._fused = None  # force the per-hop path
    assert fused._fused is not None
    rng = np.random.default_rng(1)
    # batches of varied sizes through one sampler: the reused workspace grows and shrinks
    for i, size in enumerate((5, 120, 1, 300, 40)):
        seeds = rng.choice(300, size, replace=False)
        a, b = fused.sample("n", seeds, seed=i), general.sample("n", seeds, seed=i)
        a.validate()
        _same(a, b)
    assert (fused._scratch["n"] == -1).all()  # the scratch is left clean


def test_one_call_path_only_where_it_applies(random_store, monkeypatch):  # noqa: F811
    for opts in ({"weighted": True}, {"replace": True}, {"disjoint": True}, {"fanout": [65]}):
        assert KHopSampler(random_store, KHopOptions(**opts))._fused is None
    # with threads allowed, a batch whose frontier could outgrow FUSED_MAX_FRONTIER goes per hop
    monkeypatch.setattr(khop, "FUSED_MAX_FRONTIER", 10)
    smp = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=True))
    called = []
    monkeypatch.setattr(smp, "_sample_fused", lambda *a: called.append(1))
    smp.sample("n", np.arange(5))
    assert not called
    serial = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=False))
    monkeypatch.setattr(serial, "_sample_fused", lambda *a: called.append(1))
    serial.sample("n", np.arange(5))
    assert called


def test_one_call_path_rejects_repeated_seeds(random_store):  # noqa: F811
    smp = KHopSampler(random_store, KHopOptions(fanout=[3]))
    with pytest.raises(ValueError, match="distinct"):
        smp.sample("n", np.array([1, 2, 1]))
    assert (smp._scratch["n"] == -1).all()
    assert smp.sample("n", np.array([1, 2])).batch_size == 2  # and the sampler still works


def test_one_call_path_relabels_in_its_own_pass_on_a_wide_graph(tmp_path):
    """Node types past FUSE_RELABEL_MAX_NODES relabel after the gathers instead of during
    them; the sample is the same as the per-hop path's."""
    from gigalearn.graph.sampling.fused import FUSE_RELABEL_MAX_NODES

    from ..conftest import make_store

    n = FUSE_RELABEL_MAX_NODES + 5000
    rng = np.random.default_rng(2)
    hubs = rng.integers(0, 5, 100_000)  # rows longer than the Floyd bitmap holds, too
    src = np.concatenate([rng.integers(0, n, 300_000), rng.integers(0, n, 100_000)])
    dst = np.concatenate([rng.integers(0, n, 300_000), hubs])
    store = make_store(tmp_path / "wide", {"n": n}, {E: {"src": src, "dst": dst}})
    assert np.diff(store.csr(E, "in").indptr).max() > 4096
    o = KHopOptions(fanout=[8, 5], parallel=False)
    fused, general = KHopSampler(store, o), KHopSampler(store, o)
    general._fused = None
    for i in range(3):
        seeds = np.concatenate([np.arange(50), rng.choice(np.arange(50, n), 400, replace=False)])
        a, b = fused.sample("n", seeds, seed=i), general.sample("n", seeds, seed=i)
        a.validate()
        _same(a, b)
