import threading

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv, to_hetero

from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.sampling.loaders import LinkBatchOptions, LinkLoader, NodeLoader
from gigalearn.graph.store import GraphStore

from ..conftest import make_store

RATED, REV = ("user", "rated", "movie"), ("movie", "rev_rated", "user")
E = ("n", "e", "n")


@pytest.fixture
def tiny_store(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    return GraphStore(tmp_path / "g")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv((-1, -1), 16), SAGEConv((-1, -1), 8)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def test_node_loader_hetero_batches_run_a_to_hetero_model(tiny_store):
    loader = NodeLoader(tiny_store, "user", options=KHopOptions(fanout=[2, 2]), batch_size=2)
    batches = list(loader)
    assert len(batches) == 2
    data = batches[0]
    assert isinstance(data, HeteroData)
    assert data["user"].batch_size == 2
    assert (data["user"].n_id[:2] == torch.tensor([0, 1])).all()
    assert data["user"].x.shape[1] == tiny_store.node_features("user").shape[1]
    model = to_hetero(Net(), data.metadata(), aggr="sum")
    out = model(data.x_dict, data.edge_index_dict)
    assert out["user"].shape == (data["user"].num_nodes, 8)
    out["user"][: data["user"].batch_size].sum().backward()


def test_node_loader_features_follow_n_id(tiny_store):
    data = next(
        iter(NodeLoader(tiny_store, "movie", options=KHopOptions(fanout=[3]), batch_size=3))
    )
    feats = torch.from_numpy(np.array(tiny_store.node_features("user")))
    assert torch.equal(data["user"].x, feats[data["user"].n_id])


@pytest.fixture(scope="module")
def homo(tmp_path_factory):
    rng = np.random.default_rng(0)
    n, m = 200, 2000
    return make_store(
        tmp_path_factory.mktemp("h") / "g",
        {"n": n},
        {E: {"src": rng.integers(0, n, m), "dst": rng.integers(0, n, m)}},
    )


def test_link_loader_indices_and_accidental_hits(homo):
    src, dst = homo.edge_index(E)
    hard = (np.array([src[0], src[0]]), np.array([3, 4]))
    loader = LinkLoader(
        homo,
        E,
        negatives=LinkBatchOptions(num_negatives=50),
        hard_negatives=hard,
        batch_size=64,
        options=KHopOptions(fanout=[3, 2]),
    )
    data = next(iter(loader))
    n_id = data.n_id.numpy()
    np.testing.assert_array_equal(n_id[data.anchor_index], src[:64])
    np.testing.assert_array_equal(n_id[data.pos_index], dst[:64])
    assert data.neg_index.shape == (50,)
    negs = n_id[data.neg_index]
    pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
    expect = np.array([[(int(a), int(b)) in pairs for b in negs] for a in src[:64]])
    np.testing.assert_array_equal(data.neg_hit_mask.numpy(), expect)
    rows, cols = data.hard_neg_index
    assert (src[:64][rows] == src[0]).all() and set(n_id[cols]) == {3, 4}
    assert data.batch_size == len(np.unique(np.concatenate([src[:64], dst[:64], negs, [3, 4]])))


def test_link_loader_hetero_samples_both_ends(tiny_store):
    loader = LinkLoader(
        tiny_store,
        RATED,
        options=KHopOptions(fanout=[2]),
        negatives=LinkBatchOptions(num_negatives=2),
        batch_size=4,
    )
    data = next(iter(loader))
    src, dst = tiny_store.edge_index(RATED)
    np.testing.assert_array_equal(data["user"].n_id[data.anchor_index].numpy(), src[:4])
    np.testing.assert_array_equal(data["movie"].n_id[data.pos_index].numpy(), dst[:4])
    assert data["user"].batch_size >= 1 and data["movie"].batch_size >= 1
    assert data[REV].edge_index.shape[1] > 0 and data[RATED].edge_index.shape[1] > 0


def test_workers_give_the_same_batches_after_parallel_sampling(homo):
    # a parallel region in the parent first: the fork trap that kills workers if not handled
    KHopSampler(homo, KHopOptions(fanout=[10, 10])).sample("n", np.arange(200))
    opts = KHopOptions(fanout=[4, 3])
    serial = [b.n_id for b in NodeLoader(homo, "n", options=opts, batch_size=50)]
    forked = [b.n_id for b in NodeLoader(homo, "n", options=opts, batch_size=50, num_workers=2)]
    assert len(serial) == len(forked) == 4
    for a, b in zip(serial, forked, strict=True):
        assert torch.equal(a, b)


def test_shuffle_is_reproducible(homo):
    def first(seed):
        loader = NodeLoader(
            homo, "n", batch_size=16, shuffle=True, seed=seed, options=KHopOptions(fanout=[2])
        )
        return next(iter(loader)).n_id[:16]

    assert torch.equal(first(1), first(1)) and not torch.equal(first(1), first(2))


def _same_batches(a, b):
    assert len(a) == len(b) > 1
    for x, y in zip(a, b, strict=True):
        assert set(x.keys()) == set(y.keys())
        for key in x.keys():  # noqa: SIM118  (a PyG batch's attribute names)
            if isinstance(x[key], torch.Tensor):
                assert torch.equal(x[key], y[key]), key


def _collated_in(loader) -> list[str]:
    """Make `loader` note the name of each thread that builds one of its batches."""
    names, collate = [], loader.collate_fn

    def noting(items):
        names.append(threading.current_thread().name)
        return collate(items)

    loader.collate_fn = noting
    return names


def test_threads_give_the_batches_one_thread_gives(homo, tiny_store):
    opts = KHopOptions(fanout=[4, 3])
    kw = {"options": opts, "batch_size": 30, "shuffle": True, "seed": 3}
    one = list(NodeLoader(homo, "n", **kw))
    threaded = NodeLoader(homo, "n", threads=3, **kw)
    names = _collated_in(threaded)
    _same_batches(one, list(threaded))
    assert len(names) == len(one) and all(n.startswith("gigalearn-loader") for n in names)
    link_kw = {**kw, "negatives": LinkBatchOptions(num_negatives=5)}
    one = list(LinkLoader(homo, E, **link_kw))
    _same_batches(one, list(LinkLoader(homo, E, threads=2, **link_kw)))
    hetero = {"options": KHopOptions(fanout=[2, 2]), "batch_size": 2}
    _same_batches(
        list(NodeLoader(tiny_store, "user", **hetero)),
        list(NodeLoader(tiny_store, "user", threads=2, **hetero)),
    )


def test_threads_must_be_positive_and_alone(homo):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        NodeLoader(homo, "n", threads=0)
    with pytest.raises(ValueError, match="choose one"):
        NodeLoader(homo, "n", threads=2, num_workers=2)
    with pytest.raises(ValueError, match="pin_memory"):
        LinkLoader(homo, E, threads=2, pin_memory=True)


def test_a_consumer_that_stops_early_leaves_the_rest_unbuilt(homo):
    loader = NodeLoader(homo, "n", options=KHopOptions(fanout=[3]), batch_size=5, threads=2)
    names = _collated_in(loader)
    for _ in loader:
        break
    assert len(loader) == 40 and len(names) <= 4 + 2  # the batches queued then, at most
