import subprocess
import sys
import textwrap

import networkx as nx
import numpy as np
import pytest

from gigalearn.graph.sampling.ppr import PPRSampler, ppr_topk

from ..conftest import make_store


def csr_of(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None):
    """Out-CSR (indptr, indices, weights by position) of the edges src -> dst."""
    order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    ww = None if w is None else np.asarray(w, np.float32)[order]
    return indptr, np.asarray(dst, np.int32)[order], ww  # int32: the store's widths


def exact_ppr(n, src, dst, w=None, alpha=0.15, iters=400) -> np.ndarray:
    """Dense power iteration, row s = PPR of seed s; dangling rows get a self-loop."""
    P = np.zeros((n, n))
    np.add.at(P, (src, dst), 1.0 if w is None else w)
    rows = P.sum(1)
    P[rows == 0, rows == 0] = 1.0  # the self-loop of a dangling node
    P /= P.sum(1, keepdims=True)
    pi = np.eye(n)
    for _ in range(iters):
        pi = alpha * np.eye(n) + (1 - alpha) * pi @ P
    return pi


def dense(n, offsets, nb, sc) -> np.ndarray:
    out = np.zeros((len(offsets) - 1, n))
    for i in range(len(offsets) - 1):
        out[i, nb[offsets[i] : offsets[i + 1]]] = sc[offsets[i] : offsets[i + 1]]
    return out


@pytest.fixture(scope="module")
def karate():
    g = nx.karate_club_graph()
    e = np.array(g.edges())
    src, dst = np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])
    return g.number_of_nodes(), src, dst


def directed_random(n=60, p=0.08, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((n, n)) < p
    np.fill_diagonal(a, False)
    a[:5] = False  # a few dangling nodes
    src, dst = np.nonzero(a)
    return n, src, dst, rng.random(len(src)) + 0.05


def test_karate_matches_exact_within_degree_bound(karate):
    n, src, dst = karate
    eps = 1e-4
    indptr, indices, _ = csr_of(n, src, dst)
    approx = dense(n, *ppr_topk(indptr, indices, np.arange(n), epsilon=eps, k=n, include_self=True))
    exact = exact_ppr(n, src, dst)
    deg = np.diff(indptr)
    err = exact - approx
    assert err.min() >= -1e-6  # push only ever underestimates
    assert (err <= eps * deg[None, :] + 1e-6).all()  # ACL bound on undirected graphs


@pytest.mark.parametrize("k", [1, 5, 10])
def test_karate_topk_agrees_up_to_error(karate, k):
    n, src, dst = karate
    eps = 1e-4
    indptr, indices, _ = csr_of(n, src, dst)
    offsets, nb, sc = ppr_topk(indptr, indices, np.arange(n), epsilon=eps, k=k)
    exact = exact_ppr(n, src, dst)
    slack = eps * np.diff(indptr).max() + 1e-6
    for s in range(n):
        got = nb[offsets[s] : offsets[s + 1]]
        assert len(got) == k and s not in got
        ex = np.delete(exact[s], s)
        kth = np.sort(ex)[::-1][k - 1]
        # anything picked over a true top-k node can only lose by the error bound
        assert exact[s, got].min() >= kth - slack
        assert np.all(np.diff(sc[offsets[s] : offsets[s + 1]]) <= 0)


@pytest.mark.parametrize("weighted", [False, True])
def test_directed_random_graph_matches_exact(weighted):
    n, src, dst, w = directed_random()
    w = w if weighted else None
    eps = 1e-6
    indptr, indices, ww = csr_of(n, src, dst, w)
    got = ppr_topk(indptr, indices, np.arange(n), epsilon=eps, k=n, weights=ww, include_self=True)
    approx = dense(n, *got)
    exact = exact_ppr(n, src, dst, w)
    err = exact - approx
    # in general the error is at most the residual left, itself below eps * (edges touched)
    assert err.min() >= -1e-6 and err.max() <= eps * len(src)
    assert np.allclose(approx.sum(1), 1.0, atol=eps * len(src))  # dangling mass is kept
    top = dense(n, *ppr_topk(indptr, indices, np.arange(n), epsilon=eps, k=3, weights=ww))
    for s in range(n):
        ex = np.delete(exact[s], s)
        if (ex > 0).sum() >= 3:
            assert exact[s, top[s] > 0].min() >= np.sort(ex)[-3] - eps * len(src)


def test_dangling_nodes_keep_their_mass():
    indptr, indices, _ = csr_of(4, np.array([0, 1, 3]), np.array([1, 2, 2]))  # 2 is a sink
    offsets, nb, sc = ppr_topk(
        indptr, indices, np.array([0, 2]), epsilon=1e-12, k=4, include_self=True
    )
    assert list(nb[: offsets[1]]) == [2, 0, 1]
    np.testing.assert_allclose(sc[: offsets[1]], [0.85**2, 0.15, 0.85 * 0.15], rtol=1e-6)
    assert list(nb[offsets[1] :]) == [2] and sc[-1] == pytest.approx(1.0)  # a sink seed keeps all
    assert ppr_topk(indptr, indices, np.array([2]), k=4)[0].tolist() == [0, 0]


def test_weights_follow_eid_and_ties_break_by_id():
    # star 0 -> 1..4; edge ids reversed through eid; weights make 4 the heaviest
    indptr, indices = np.array([0, 4, 4, 4, 4, 4], np.int32), np.array([1, 2, 3, 4], np.int32)
    _, nb, _ = ppr_topk(indptr, indices, np.array([0]), k=4)
    assert nb.tolist() == [1, 2, 3, 4]  # equal scores: ascending ids
    w = np.array([8.0, 1.0, 1.0, 1.0], np.float32)  # by edge id; position j has id 3 - j
    _, nb, sc = ppr_topk(
        indptr, indices, np.array([0]), k=4, weights=w, eid=np.arange(3, -1, -1, dtype=np.int32)
    )
    assert nb.tolist() == [4, 1, 2, 3] and sc[0] == pytest.approx(8 * sc[1])


def test_deterministic_and_parallel_equals_sequential():
    rng = np.random.default_rng(1)
    n, m = 3000, 30000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    indptr, indices, w = csr_of(n, src, dst, rng.random(m))
    seeds = rng.integers(0, n, 400)
    for weights in (None, w):
        runs = [
            ppr_topk(indptr, indices, seeds, weights=weights, parallel=p)
            for p in (True, True, False)
        ]
        for other in runs[1:]:
            for a, b in zip(runs[0], other, strict=True):
                np.testing.assert_array_equal(a, b)
    # a seed's answer does not depend on its batch
    single = ppr_topk(indptr, indices, seeds[7:8], weights=w)
    off = runs[0][0]
    np.testing.assert_array_equal(single[1], runs[0][1][off[7] : off[8]])


def test_validation():
    indptr, indices = np.array([0, 1, 1], np.int32), np.array([1], np.int32)
    seeds = np.array([0])
    for kw in ({"alpha": 0.0}, {"alpha": 1.0}, {"epsilon": 0.0}, {"k": 0}, {"k": 1.5}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            ppr_topk(indptr, indices, seeds, **kw)
    with pytest.raises(ValueError, match="seed ids"):
        ppr_topk(indptr, indices, np.array([2]))
    with pytest.raises(ValueError, match="1-D integer"):
        ppr_topk(indptr, indices, np.array([0.5]))
    with pytest.raises(ValueError, match="non-negative"):
        ppr_topk(indptr, indices, seeds, weights=np.array([-1.0]))
    assert [len(a) for a in ppr_topk(indptr, indices, np.array([], np.int64))] == [1, 0, 0]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(2)
    n, m = 200, 1500
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    return make_store(
        tmp_path_factory.mktemp("ppr") / "g",
        {"n": n, "u": 10},
        {
            ("n", "e", "n"): {"src": src, "dst": dst, "weight": rng.random(m) + 0.1},
            ("u", "f", "n"): {"src": np.arange(10), "dst": np.arange(10)},
            ("u", "g", "u"): {"src": np.arange(9), "dst": np.arange(1, 10)},
        },
    )


@pytest.mark.parametrize("direction", ["out", "in"])
def test_sampler_subgraph(store, direction):
    et = ("n", "e", "n")
    smp = PPRSampler(store, et, direction, k=8, weighted=True)
    seeds = np.array([5, 17, 5, 99])
    sub, scores = smp.sample(seeds)
    sub.validate()
    key = ("n", "ppr", "n")
    ids, ei = sub.node_ids["n"], sub.edge_index[key]
    assert (ids[:4] == seeds).all() and len(np.unique(ids[4:])) == len(ids) - 4
    assert not np.isin(ids[4:], seeds).any() and sub.batch_size == 4
    assert (sub.edge_ids[key] == -1).all() and len(scores) == ei.shape[1]
    csr = store.csr(et, direction)
    w = store.edge_weight(et)
    off, nb, sc = ppr_topk(csr.indptr, csr.indices, seeds, k=8, weights=w, eid=csr.eid)
    np.testing.assert_array_equal(ids[ei[0]], nb)  # neighbour -> seed, per seed in order
    np.testing.assert_array_equal(ei[1], np.repeat(np.arange(4), np.diff(off)))
    np.testing.assert_allclose(scores, sc)


def test_sampler_rejects_bad_setup(store):
    with pytest.raises(ValueError, match="homogeneous"):
        PPRSampler(store, ("u", "f", "n"))
    with pytest.raises(ValueError, match="alpha"):
        PPRSampler(store, ("n", "e", "n"), alpha=1.5)
    with pytest.raises(ValueError, match="no weights"):
        PPRSampler(store, ("u", "g", "u"), weighted=True)


def test_sequential_mode_never_starts_numba_threads():
    """Forked DataLoader workers die if the parent ran a parallel region; parallel=False is safe."""
    code = textwrap.dedent(
        """
        import numpy as np
        from numba.np.ufunc import parallel
        from gigalearn.graph.sampling.ppr import ppr_topk
        from gigalearn.graph.sampling.walks import random_walk_topk
        indptr, indices = np.array([0, 1, 2, 2], np.int32), np.array([1, 2], np.int32)
        ppr_topk(indptr, indices, np.arange(3), parallel=False)
        random_walk_topk([(indptr, indices)], np.arange(3), parallel=False)
        print(parallel._is_initialized)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
