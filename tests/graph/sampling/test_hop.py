"""The hop kernels: the uniform fast path and the relabelling pass against plain references."""

import numpy as np
import pytest

from gigalearn.graph.sampling import khop
from gigalearn.graph.sampling.hop import relabel_hop
from gigalearn.graph.sampling.kernels import NO_TIME, sample_neighbors_serial
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

from .test_khop import E, random_store  # noqa: F401  (fixture)

_NONE = np.empty(0, dtype=np.int64)


def test_uniform_fast_path_draws_what_the_general_path_draws(random_store):  # noqa: F811
    """Rows without weights or times take a specialised path; giving every edge a time that
    passes forces the general one, which must pick the very same edges."""
    csr = random_store.csr(E, "in")
    eid = _NONE if csr.eid is None else csr.eid
    frontier = np.arange(300, dtype=np.int64)
    all_pass = np.zeros(random_store.num_edges(E), dtype=np.int64)
    w = np.empty(0, dtype=np.float32)
    for fanout in (1, 3, 8, -1):
        fast = sample_neighbors_serial(
            csr.indptr, csr.indices, eid, frontier, _NONE, fanout, False, w, _NONE, 7, 1
        )
        general = sample_neighbors_serial(
            csr.indptr, csr.indices, eid, frontier, np.full(300, NO_TIME - 1), fanout, False,
            w, all_pass, 7, 1,
        )  # fmt: skip
        for a, b in zip(fast, general, strict=True):
            np.testing.assert_array_equal(a, b)


def _reference_relabel(nbrs, offsets, owners, seen, incoming):
    local, out, added = dict(seen), [], []
    for i, owner in enumerate(owners):
        for v in nbrs[offsets[i] : offsets[i + 1]]:
            if v not in local:
                local[v] = len(local)
                added.append(v)
            out.append((local[v], owner) if incoming else (owner, local[v]))
    return np.array(out, dtype=np.int64).T.reshape(2, -1), np.array(added, dtype=np.int64)


@pytest.mark.parametrize("incoming", [True, False])
def test_relabel_hop_matches_a_dictionary(incoming):
    rng = np.random.default_rng(1)
    n = 50
    seen = {int(v): i for i, v in enumerate(rng.choice(n, 10, replace=False))}
    per = rng.integers(0, 6, 12)
    offsets = np.concatenate([[0], np.cumsum(per)])
    nbrs = rng.integers(0, n, offsets[-1])  # repeats and already-seen nodes on purpose
    owners = rng.integers(0, 10, 12)
    local = np.full(n, -1, dtype=np.int32)
    for v, i in seen.items():
        local[v] = i
    ei, added, count = relabel_hop(nbrs, offsets, owners, local, len(seen), incoming)
    want_ei, want_added = _reference_relabel(nbrs, offsets, owners, seen, incoming)
    np.testing.assert_array_equal(ei, want_ei)
    np.testing.assert_array_equal(added, want_added)
    assert count == len(seen) + len(want_added)
    assert (local[want_added] == np.arange(len(seen), count)).all()


def test_threaded_hops_equal_serial_ones(random_store, monkeypatch):  # noqa: F811
    monkeypatch.setattr(khop, "_PARALLEL_MIN", 0)  # thread even these small frontiers
    seeds = np.arange(0, 300, 3)
    for opts in ({}, {"direction": "out"}, {"weighted": True}, {"replace": True}):
        a = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=True, **opts))
        b = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=False, **opts))
        sa, sb = a.sample("n", seeds, 9), b.sample("n", seeds, 9)
        np.testing.assert_array_equal(sa.edge_index[E], sb.edge_index[E])
        np.testing.assert_array_equal(sa.edge_ids[E], sb.edge_ids[E])
        np.testing.assert_array_equal(sa.node_ids["n"], sb.node_ids["n"])


def test_without_edge_ids_the_same_subgraph_comes_back(random_store):  # noqa: F811
    seeds = np.arange(0, 300, 5)
    for opts in ({}, {"weighted": True}):
        full = KHopSampler(random_store, KHopOptions(fanout=[5, 3], **opts)).sample("n", seeds, 4)
        bare = KHopSampler(random_store, KHopOptions(fanout=[5, 3], edge_ids=False, **opts))
        sub = bare.sample("n", seeds, 4)
        assert sub.edge_ids is None
        sub.validate()
        np.testing.assert_array_equal(sub.edge_index[E], full.edge_index[E])
        np.testing.assert_array_equal(sub.node_ids["n"], full.node_ids["n"])


def test_batches_without_edge_ids_reach_pyg(random_store):  # noqa: F811
    from gigalearn.graph.sampling.pyg import to_pyg

    opts = KHopOptions(fanout=[3], edge_ids=False)
    data = to_pyg(KHopSampler(random_store, opts).sample("n", np.arange(10)), random_store)
    assert "e_id" not in data and data.edge_index.shape[1] > 0
