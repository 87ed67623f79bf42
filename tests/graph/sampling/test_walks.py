import numpy as np
import pytest

from gigalearn.graph.sampling.walks import RandomWalkSampler, random_walk_topk

from ..conftest import make_store


def csr_of(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, np.asarray(dst, np.int32)[order]  # the store's width


def star(leaves: int):
    """Undirected star: centre 0, leaves 1..leaves."""
    leaf = np.arange(1, leaves + 1)
    zero = np.zeros(leaves, np.int64)
    return csr_of(leaves + 1, np.concatenate([zero, leaf]), np.concatenate([leaf, zero]))


def ragged(result, i):
    offsets, nb, sc = result
    return nb[offsets[i] : offsets[i + 1]], sc[offsets[i] : offsets[i + 1]]


def test_star_visit_distribution():
    leaves, walks = 10, 2000
    csr = star(leaves)
    # from the centre with restart=1 every hop lands on a uniform leaf
    nb, sc = ragged(random_walk_topk([csr], np.array([0]), walks, 3, 1.0, k=20), 0)
    assert sorted(nb) == list(range(1, leaves + 1))
    assert sc.sum() == pytest.approx(1.0)
    sd = np.sqrt(0.1 * 0.9 / (walks * 3))
    assert np.abs(sc - 0.1).max() < 5 * sd
    # from a leaf without restart, walks alternate centre / leaf: the centre gets 2 visits of
    # every 2 + 2 * (leaves - 1) / leaves expected ones (returns to the seed are not counted)
    nb, sc = ragged(random_walk_topk([csr], np.array([3]), walks, 4, 0.0, k=3), 0)
    assert nb[0] == 0 and 3 not in nb
    assert sc[0] == pytest.approx(leaves / (2 * leaves - 1), abs=0.01)


def test_restart_one_visits_only_one_hop_neighbours():
    rng = np.random.default_rng(0)
    n, m = 400, 2000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    indptr, indices = csr_of(n, src, dst)
    seeds = np.arange(n)
    res = random_walk_topk([(indptr, indices)], seeds, 50, 3, 1.0, k=100)
    for s in seeds:
        nb, _ = ragged(res, s)
        out = set(indices[indptr[s] : indptr[s + 1]].tolist()) - {s}
        assert set(nb.tolist()) <= out
        if len(out) <= 3:
            assert set(nb.tolist()) == out  # 150 draws find every one of a few neighbours


def test_topk_ordering_and_determinism():
    rng = np.random.default_rng(1)
    n, m = 3000, 30000
    indptr, indices = csr_of(n, rng.integers(0, n, m), rng.integers(0, n, m))
    seeds = rng.integers(0, n, 300)
    args = ([(indptr, indices)], seeds, 40, 5, 0.3)
    base = random_walk_topk(*args, k=8, seed=7)
    assert np.diff(base[0]).max() <= 8
    for i, s in enumerate(seeds):
        b, c = ragged(base, i)
        assert s not in b and np.all(np.diff(c) <= 0) and c.sum() <= 1 + 1e-6
        ties = np.diff(c) == 0
        assert np.all(np.diff(b)[ties] > 0)  # equal counts: ascending ids
    for other in (
        random_walk_topk(*args, k=8, seed=7),
        random_walk_topk(*args, k=8, seed=7, parallel=False),
    ):
        for a, b in zip(base, other, strict=True):
            np.testing.assert_array_equal(a, b)
    # counter-based RNG: a node's neighbourhood ignores its batch; another seed changes it
    alone = random_walk_topk([(indptr, indices)], seeds[5:6], 40, 5, 0.3, k=8, seed=7)
    np.testing.assert_array_equal(alone[1], ragged(base, 5)[0])
    other = random_walk_topk(*args, k=8, seed=8)
    assert not np.array_equal(other[2], base[2])


def test_validation():
    csr = star(3)
    for kw, word in (
        ({"num_walks": 0}, "num_walks"),
        ({"walk_length": 0}, "walk_length"),
        ({"restart": 1.5}, "restart"),
        ({"k": 0}, "k must"),
    ):
        with pytest.raises(ValueError, match=word):
            random_walk_topk([csr], np.array([0]), **kw)
    with pytest.raises(ValueError, match="seed ids"):
        random_walk_topk([csr], np.array([4]))
    assert random_walk_topk([csr], np.array([], np.int64))[0].tolist() == [0]


@pytest.fixture(scope="module")
def bipartite(tmp_path_factory):
    rng = np.random.default_rng(3)
    users, movies, m = 40, 15, 200
    src, dst = rng.integers(0, users, m), rng.integers(0, movies, m)
    store = make_store(
        tmp_path_factory.mktemp("walks") / "g",
        {"user": users, "movie": movies},
        {("user", "rated", "movie"): {"src": src, "dst": dst}},
    )
    rated = np.zeros((users, movies), bool)
    rated[src, dst] = True
    return store, rated


def test_meta_path_neighbours_have_the_seed_type(bipartite):
    store, rated = bipartite
    et = ("user", "rated", "movie")
    co_users = (rated.astype(int) @ rated.T.astype(int)) > 0  # share a movie
    co_movies = (rated.T.astype(int) @ rated.astype(int)) > 0
    for path, seeds, co, t in (
        ([(et, "out"), (et, "in")], np.array([0, 3, 3, 39]), co_users, "user"),
        ([(et, "in"), (et, "out")], np.array([2, 14]), co_movies, "movie"),
    ):
        smp = RandomWalkSampler(store, path, num_walks=100, walk_length=2, restart=1.0, k=50)
        assert smp.node_type == t
        sub, scores = smp.sample(seeds)
        sub.validate()
        key = (t, "walk", t)
        assert list(sub.node_ids) == [t] and sub.seed_type == t
        ids, ei = sub.node_ids[t], sub.edge_index[key]
        assert (ids[: len(seeds)] == seeds).all() and ids.max() < len(co)
        assert len(scores) == ei.shape[1] and (sub.edge_ids[key] == -1).all()
        nbr, seed = ids[ei[0]], seeds[ei[1]]
        assert (nbr != seed).all() and co[nbr, seed].all()  # restart=1: exactly two steps away


def test_sampler_checks_the_meta_path(bipartite):
    store, _ = bipartite
    et = ("user", "rated", "movie")
    with pytest.raises(ValueError, match="lead back"):
        RandomWalkSampler(store, [(et, "out")])
    with pytest.raises(ValueError, match="direction"):
        RandomWalkSampler(store, [(et, "up"), (et, "in")])
    with pytest.raises(KeyError, match="unknown edge type"):
        RandomWalkSampler(store, [(("user", "x", "user"), "out")])
    with pytest.raises(ValueError, match="restart"):
        RandomWalkSampler(store, [(et, "out"), (et, "in")], restart=-0.1)
