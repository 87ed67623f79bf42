"""LightGCN propagation: exact on the full graph, an unbiased estimate on samples."""

import numpy as np
import pytest
import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

from gigalearn.graph.nn.encoders import GraphEncoder, batch_inputs
from gigalearn.graph.nn.lightgcn import LightGCN, edge_weights, in_degrees
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sampling.loaders import NodeLoader

from ..conftest import make_store

# a path 0-1-2 and a triangle 2-3-4, both directions
UNDIRECTED = [(0, 1), (1, 2), (2, 3), (3, 4), (2, 4)]


def _both_ways(pairs):
    src, dst = np.array(pairs).T
    return np.concatenate([src, dst]), np.concatenate([dst, src])


def test_propagation_matches_hand_computation():
    src, dst = _both_ways(UNDIRECTED)
    x = torch.randn(5, 3)
    deg = np.bincount(dst, minlength=5)
    out = LightGCN(2, {"n": deg})(
        {"n": x}, {"n": torch.arange(5)}, {("n", "e", "n"): torch.tensor(np.stack([src, dst]))}
    )["n"]
    a = np.zeros((5, 5))
    a[dst, src] = 1.0
    norm = a / np.sqrt(np.outer(deg, deg))  # D^-1/2 A D^-1/2
    x0 = x.numpy().astype(np.float64)
    expected = (x0 + norm @ x0 + norm @ norm @ x0) / 3  # α = 1/(K+1)
    assert np.allclose(out.detach().numpy(), expected, atol=1e-5)
    # and as PyG's own LightGCN computes it
    pyg = PygLightGCN(5, 3, 2)
    with torch.no_grad():
        pyg.embedding.weight.copy_(x)
        ref = pyg.get_embedding(torch.tensor(np.stack([src, dst])))
    assert torch.allclose(out, ref, atol=1e-5)


def test_sampled_weights_rescale_by_degree_over_sample():
    # node 0 has full degree 4 but only 2 sampled in-edges, from nodes of degree 1 and 9
    ei = torch.tensor([[1, 2], [0, 0]])
    w = edge_weights(ei, torch.tensor([4.0, 1.0, 9.0]), 3)
    assert torch.allclose(w, torch.tensor([4 / 2 / 2 / 1, 4 / 2 / 2 / 3]))


def test_encoder_on_full_neighbourhood_samples_is_full_graph_lightgcn(tmp_path):
    src, dst = _both_ways(UNDIRECTED)
    store = make_store(tmp_path / "g", {"n": 5}, {("n", "e", "n"): {"src": src, "dst": dst}})
    enc = GraphEncoder(
        "lightgcn",
        4,
        2,
        (store.node_types, store.edge_types),
        {"n": 0},
        {"n": 5},
        normalize=False,
        degrees=in_degrees(store),
    )
    loader = NodeLoader(store, "n", seeds=np.array([0, 3]), options=KHopOptions(fanout=[-1, -1]))
    batch = next(iter(loader))
    out = enc(*batch_inputs(batch, "n"))["n"][: batch.batch_size]
    pyg = PygLightGCN(5, 4, 2)
    with torch.no_grad():
        pyg.embedding.weight.copy_(enc.inputs["n"].emb.weight)
        s, d = store.edge_index(("n", "e", "n"))
        ref = pyg.get_embedding(torch.tensor(np.stack([s, d]), dtype=torch.long))
    assert torch.allclose(out, ref[[0, 3]], atol=1e-5)


def test_bipartite_graph_with_reverse_edges_is_one_lightgcn():
    # users 0..2, items 0..1: the same as one homogeneous graph with items offset by 3
    u, i = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 0, 1])
    deg = {"user": np.bincount(u, minlength=3), "item": np.bincount(i, minlength=2)}
    x = {"user": torch.randn(3, 2), "item": torch.randn(2, 2)}
    ei = {
        ("user", "r", "item"): torch.tensor(np.stack([u, i])),
        ("item", "rev_r", "user"): torch.tensor(np.stack([i, u])),
    }
    n_id = {"user": torch.arange(3), "item": torch.arange(2)}
    out = LightGCN(3, deg)(x, n_id, ei)
    hs, hd = _both_ways(list(zip(u, i + 3, strict=True)))
    pyg = PygLightGCN(5, 2, 3)
    with torch.no_grad():
        pyg.embedding.weight.copy_(torch.cat([x["user"], x["item"]]))
        ref = pyg.get_embedding(torch.tensor(np.stack([hs, hd])))
    assert torch.allclose(torch.cat([out["user"], out["item"]]), ref, atol=1e-5)


def test_at_least_one_layer():
    with pytest.raises(ValueError, match="at least one layer"):
        LightGCN(0, {"n": np.ones(3, dtype=np.int64)})
