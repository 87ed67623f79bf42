import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.graph.nn.encoders import GraphEncoder, batch_inputs, load_model_class
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sampling.loaders import NodeLoader
from gigalearn.graph.store import GraphStore

from ..conftest import make_store


def _encoder(store, name, **kw):
    meta = (store.node_types, store.edge_types)
    dims = {t: store.node_meta(t)["feature_dim"] for t in store.node_types}
    counts = {t: store.num_nodes(t) for t in store.node_types}
    return GraphEncoder(name, 8, 2, meta, dims, counts, **kw)


@pytest.fixture
def hetero(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    return GraphStore(tmp_path / "g")


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_hetero_encoder_outputs_normalised_embeddings(hetero, name):
    batch = next(iter(NodeLoader(hetero, "user", options=KHopOptions(fanout=[2, 2]), batch_size=4)))
    enc = _encoder(hetero, name)
    out = enc(*batch_inputs(batch, "user"))
    assert out["user"].shape == (batch["user"].num_nodes, 8)
    assert torch.allclose(out["user"].norm(dim=-1), torch.ones(batch["user"].num_nodes))
    out["user"].sum().backward()


@pytest.mark.parametrize("name", ["sage", "gin", "gcn", "gat", "hgt"])
def test_homogeneous_encoders_with_id_embeddings(tmp_path, name):
    rng = np.random.default_rng(0)
    store = make_store(
        tmp_path / "g",
        {"n": 30},
        {("n", "e", "n"): {"src": rng.integers(0, 30, 90), "dst": rng.integers(0, 30, 90)}},
    )
    batch = next(iter(NodeLoader(store, "n", options=KHopOptions(fanout=[3]), batch_size=8)))
    enc = _encoder(store, name, normalize=False)
    assert enc.inputs["n"].emb is not None  # no features: learnable id embeddings
    out = enc(*batch_inputs(batch, "n"))["n"]
    assert out.shape == (batch.num_nodes, 8)


def test_gcn_rejected_on_heterogeneous_graphs(hetero):
    with pytest.raises(ConfigError, match="cannot run on a heterogeneous graph"):
        _encoder(hetero, "gcn")


def test_user_model_by_import_path(hetero, tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "from torch_geometric.nn import SAGEConv\n"
        "class TwoSage(torch.nn.Module):\n"
        "    def __init__(self, hidden, layers):\n"
        "        super().__init__()\n"
        "        convs = [SAGEConv(hidden, hidden) for _ in range(layers)]\n"
        "        self.convs = torch.nn.ModuleList(convs)\n"
        "    def forward(self, x, edge_index):\n"
        "        for conv in self.convs:\n"
        "            x = conv(x, edge_index)\n"
        "        return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    enc = _encoder(hetero, "my_models:TwoSage")
    batch = next(iter(NodeLoader(hetero, "user", options=KHopOptions(fanout=[2]), batch_size=4)))
    assert enc(*batch_inputs(batch, "user"))["movie"].shape[1] == 8
    with pytest.raises(ConfigError, match="does not import"):
        load_model_class("my_models:Nope")
    with pytest.raises(ConfigError, match=r"package\.module:Class"):
        load_model_class("sagee")


def test_hgt_on_a_heterogeneous_batch(hetero):
    batch = next(iter(NodeLoader(hetero, "user", options=KHopOptions(fanout=[2, 2]), batch_size=4)))
    enc = _encoder(hetero, "hgt", heads=2)
    out = enc(*batch_inputs(batch, "user"))
    assert set(out) == set(hetero.node_types)
    assert out["user"].shape == (batch["user"].num_nodes, 8)
    assert torch.isfinite(out["movie"]).all()
    out["user"].sum().backward()
    assert enc.gnn.convs[0].kqv_lin.lins["user"].weight.grad is not None


def test_hgt_heads_must_divide_hidden(hetero):
    with pytest.raises(ConfigError, match="divisible"):
        _encoder(hetero, "hgt", heads=3)


def test_hgt_on_featureless_types(tmp_path):
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 10, 40), rng.integers(0, 6, 40)
    store = make_store(
        tmp_path / "g",
        {"u": 10, "i": 6},
        {("u", "r", "i"): {"src": u, "dst": i}, ("i", "rev_r", "u"): {"src": i, "dst": u}},
    )
    enc = _encoder(store, "hgt", heads=2)
    assert enc.inputs["u"].emb is not None and enc.inputs["u"].proj is None
    batch = next(iter(NodeLoader(store, "u", options=KHopOptions(fanout=[3, 3]), batch_size=4)))
    out = enc(*batch_inputs(batch, "u"))
    assert out["u"].shape == (batch["u"].num_nodes, 8) and torch.isfinite(out["i"]).all()
