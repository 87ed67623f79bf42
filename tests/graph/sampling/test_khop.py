import numpy as np
import pytest
from scipy import stats

from gigalearn.graph.sampling import khop
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

from ..conftest import make_store

E = ("n", "e", "n")


@pytest.fixture(scope="module")
def random_store(tmp_path_factory):
    rng = np.random.default_rng(0)
    n, m = 300, 3000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    return make_store(
        tmp_path_factory.mktemp("g") / "g",
        {"n": n},
        {
            E: {
                "src": src,
                "dst": dst,
                "time": rng.integers(0, 1000, m),
                "weight": rng.random(m) + 0.1,
            }
        },
    )


def _edges(store):
    src, dst = store.edge_index(E)
    return src, dst


def test_fanout_respected_and_edges_exist(random_store):
    smp = KHopSampler(random_store, KHopOptions(fanout=[5, 3]))
    seeds = np.arange(0, 300, 7)
    sub = smp.sample("n", seeds, seed=3)
    sub.validate()
    src, dst = _edges(random_store)
    ei, eid, n_id = sub.edge_index[E], sub.edge_ids[E], sub.node_ids["n"]
    # each sampled edge is the store edge it claims to be (in-sampling: neighbour -> frontier)
    np.testing.assert_array_equal(src[eid], n_id[ei[0]])
    np.testing.assert_array_equal(dst[eid], n_id[ei[1]])
    assert len(np.unique(eid)) == len(eid)  # without replacement
    hop1 = sub.num_sampled_edges[E][0]
    targets, per_target = np.unique(ei[1, :hop1], return_counts=True)
    assert per_target.max() <= 5 and set(targets) <= set(range(len(seeds)))
    indeg = np.bincount(dst, minlength=300)
    expected = np.minimum(indeg[seeds], 5)
    assert hop1 == expected.sum()
    hop2 = ei[:, hop1:]
    assert np.unique(hop2[1], return_counts=True)[1].max() <= 3
    assert (n_id[: len(seeds)] == seeds).all()
    assert sum(sub.num_sampled_nodes["n"]) == len(n_id) == len(np.unique(n_id))


def test_out_direction(random_store):
    sub = KHopSampler(random_store, KHopOptions(fanout=[4], direction="out")).sample(
        "n", np.array([1, 2]), seed=0
    )
    src, _ = _edges(random_store)
    ei, eid, n_id = sub.edge_index[E], sub.edge_ids[E], sub.node_ids["n"]
    np.testing.assert_array_equal(src[eid], n_id[ei[0]])  # frontier is the source end
    assert set(ei[0]) <= {0, 1}


def test_deterministic_and_parallel_equals_serial(random_store):
    seeds = np.arange(0, 300, 3)
    a = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=True)).sample("n", seeds, 9)
    b = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=False)).sample("n", seeds, 9)
    c = KHopSampler(random_store, KHopOptions(fanout=[6, 4])).sample("n", seeds, 10)
    np.testing.assert_array_equal(a.edge_ids[E], b.edge_ids[E])
    np.testing.assert_array_equal(a.node_ids["n"], b.node_ids["n"])
    assert not np.array_equal(a.edge_ids[E], c.edge_ids[E])


def test_minus_one_takes_all_and_replacement(random_store):
    dst = _edges(random_store)[1]
    sub = KHopSampler(random_store, KHopOptions(fanout=[-1])).sample("n", np.array([5]))
    assert sub.num_sampled_edges[E][0] == (dst == 5).sum()
    sub = KHopSampler(random_store, KHopOptions(fanout=[50], replace=True)).sample("n", [5])
    assert sub.num_sampled_edges[E][0] == 50  # draws with replacement: exactly the fanout


@pytest.fixture(scope="module")
def star(tmp_path_factory):
    k = 20  # leaves 1..20 all point at the centre 0, with weights 1..20
    return make_store(
        tmp_path_factory.mktemp("star") / "g",
        {"n": k + 1},
        {
            E: {
                "src": np.arange(1, k + 1),
                "dst": np.zeros(k, dtype=np.int64),
                "weight": np.arange(1, k + 1, dtype=np.float64),
            }
        },
    )


def _leaf_counts(store, options, draws=4000):
    smp = KHopSampler(store, options)
    counts = np.zeros(21)
    for s in range(draws):
        sub = smp.sample("n", np.array([0]), seed=s)
        np.add.at(counts, sub.node_ids["n"][sub.edge_index[E][0]], 1)
    return counts[1:]


def test_uniform_on_a_star_chi_square(star):
    counts = _leaf_counts(star, KHopOptions(fanout=[3]))
    assert counts.sum() == 3 * 4000
    assert stats.chisquare(counts).pvalue > 0.001


def test_weighted_proportional_to_weights(star):
    counts = _leaf_counts(star, KHopOptions(fanout=[1], weighted=True))
    w = np.arange(1, 21)
    assert stats.chisquare(counts, counts.sum() * w / w.sum()).pvalue > 0.001
    uniform = _leaf_counts(star, KHopOptions(fanout=[1]))
    assert stats.chisquare(uniform, uniform.sum() * w / w.sum()).pvalue < 1e-6


def test_temporal_never_returns_a_later_edge(random_store):
    rng = np.random.default_rng(1)
    seeds = rng.choice(300, 40, replace=False)
    seed_time = rng.integers(0, 1000, 40)
    smp = KHopSampler(random_store, KHopOptions(fanout=[5, 5], temporal=True))
    sub = smp.sample("n", seeds, seed=2, seed_time=seed_time)
    times = random_store.edge_time(E)[sub.edge_ids[E]]
    root_of_edge = sub.batch["n"][sub.edge_index[E][1]]
    assert (times < seed_time[root_of_edge]).all()
    assert len(times) > 50  # the check is not vacuous
    # without the time limit, later edges do appear
    free = KHopSampler(random_store, KHopOptions(fanout=[5, 5], disjoint=True)).sample(
        "n", seeds, seed=2
    )
    later = (
        random_store.edge_time(E)[free.edge_ids[E]]
        >= seed_time[free.batch["n"][free.edge_index[E][1]]]
    )
    assert later.any()


def test_bad_options_are_clear(random_store):
    with pytest.raises(ValueError, match="fanout"):
        KHopOptions(fanout=[3, 0])
    with pytest.raises(ValueError, match="distinct"):
        KHopSampler(random_store).sample("n", np.array([1, 1]))
    with pytest.raises(ValueError, match="seed_time"):
        KHopSampler(random_store, KHopOptions(temporal=True)).sample("n", np.array([1]))


def test_threads_sample_at_once_as_one_thread_does(random_store):
    """Each thread samples into buffers of its own: batches sampled concurrently equal the
    same batches sampled one after another (one-call and per-hop paths alike)."""
    import pickle
    import threading
    from concurrent.futures import ThreadPoolExecutor

    seeds = [np.random.default_rng(i).choice(300, 40, replace=False) for i in range(24)]
    for opts in ({}, {"weighted": True}, {"disjoint": True}):
        smp = KHopSampler(random_store, KHopOptions(fanout=[6, 4], **opts))
        want = [smp.sample("n", s, seed=i) for i, s in enumerate(seeds)]
        barrier = threading.Barrier(4)

        def run(i, smp=smp, barrier=barrier):
            if i < 4:
                barrier.wait()  # the first four start together
            return smp.sample("n", seeds[i], seed=i)

        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(run, range(len(seeds))))
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a.edge_index[E], b.edge_index[E])
            np.testing.assert_array_equal(a.node_ids["n"], b.node_ids["n"])
        copy = pickle.loads(pickle.dumps(smp))  # e.g. into a spawned DataLoader worker
        again = copy.sample("n", seeds[0], seed=0)
        np.testing.assert_array_equal(again.edge_index[E], want[0].edge_index[E])


def test_numba_threads_only_in_the_main_thread(random_store, monkeypatch):
    """numba's workqueue layer cannot run two parallel regions at once: a sampler used from
    other threads (a loader's `threads`) draws serially there, threaded in the main thread."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from gigalearn.graph.sampling import hop

    monkeypatch.setattr(khop, "_PARALLEL_MIN", 0)
    calls = []
    real = hop.uniform_hop_parallel

    def spy(*args):
        calls.append(threading.current_thread() is threading.main_thread())
        return real(*args)

    monkeypatch.setattr(hop, "uniform_hop_parallel", spy)
    smp = KHopSampler(random_store, KHopOptions(fanout=[6, 4], parallel=True))
    smp._fused = None  # the per-hop path, whose hops may be threaded
    want = smp.sample("n", np.arange(40), seed=1)
    assert calls and all(calls)  # the main thread threads its hops
    calls.clear()
    with ThreadPoolExecutor(2) as pool:
        got = pool.submit(smp.sample, "n", np.arange(40), 1).result()
    assert not calls  # a pool thread does not
    np.testing.assert_array_equal(got.edge_index[E], want.edge_index[E])
