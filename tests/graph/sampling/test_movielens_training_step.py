"""Integration: loaders drive a PyG model through a training step on MovieLens-1M."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import SAGEConv, to_hetero

from gigalearn.graph.config import config_from_dict, load_config
from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sampling.loaders import LinkBatchOptions, LinkLoader, NodeLoader
from gigalearn.graph.store import GraphStore

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
RATED = ("user", "rated", "movie")


class Encoder(torch.nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv((-1, -1), hidden), SAGEConv((-1, -1), hidden)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


@pytest.fixture(scope="module")
def ml1m_db() -> str:
    return str(fetch_movielens("1m", cache_root() / "test" / "ml-1m.duckdb"))


def _step(model, params_before, loss):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    after = [p.detach().clone() for p in model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(params_before, after, strict=True))


def test_heterogeneous_link_prediction_step(ml1m_db, tmp_path):
    data = load_config(EXAMPLES / "movielens-1m.yaml").model_dump(mode="json")
    data["source"] = {"engine": "duckdb", "uri": ml1m_db}
    build_graph(config_from_dict(data), tmp_path / "g")
    store = GraphStore(tmp_path / "g")
    loader = LinkLoader(
        store,
        RATED,
        options=KHopOptions(fanout=[10, 5]),
        batch_size=256,
        negatives=LinkBatchOptions(num_negatives=64),
        shuffle=True,
    )
    batch = next(iter(loader))
    model = to_hetero(Encoder(), batch.metadata(), aggr="sum")
    out = model(batch.x_dict, batch.edge_index_dict)  # initialises the lazy layers
    before = [p.detach().clone() for p in model.parameters()]
    out = model(batch.x_dict, batch.edge_index_dict)
    users = out["user"][batch.anchor_index]
    cands = out["movie"][torch.cat([batch.pos_index, batch.neg_index])]
    logits = users @ cands.T  # in-batch positives of other rows and shared random negatives
    logits[:, len(batch.pos_index) :][batch.neg_hit_mask] = float("-inf")
    _step(model, before, F.cross_entropy(logits, torch.arange(len(users))))


def test_homogeneous_node_step(ml1m_db, tmp_path):
    # one node type from a UNION query: users and movies in one id space, edges both ways
    cfg = config_from_dict(
        {
            "name": "ml1m-homo",
            "source": {"engine": "duckdb", "uri": ml1m_db},
            "nodes": {
                "node": {
                    "query": "SELECT 'u' || user_id AS id, 1.0 AS is_user FROM users "
                    "UNION ALL SELECT 'm' || movie_id, 0.0 FROM movies",
                    "id": "id",
                    "features": {"is_user": "passthrough"},
                }
            },
            "edges": [
                {
                    "type": ["node", "rated", "node"],
                    "src": "a",
                    "dst": "b",
                    "query": "SELECT 'u' || user_id AS a, 'm' || movie_id AS b FROM ratings "
                    "UNION ALL SELECT 'm' || movie_id, 'u' || user_id FROM ratings",
                }
            ],
        }
    )
    build_graph(cfg, tmp_path / "h")
    store = GraphStore(tmp_path / "h")
    assert store.num_edges(("node", "rated", "node")) == 2 * 1_000_209
    seeds = np.flatnonzero(np.asarray(store.node_features("node"))[:, 0] == 1.0)  # users
    batch = next(
        iter(
            NodeLoader(
                store, "node", seeds=seeds, batch_size=128, options=KHopOptions(fanout=[10, 5])
            )
        )
    )
    assert batch.batch_size == 128 and batch.x.shape == (batch.num_nodes, 1)
    model = Encoder()
    model(batch.x, batch.edge_index)
    before = [p.detach().clone() for p in model.parameters()]
    out = model(batch.x, batch.edge_index)[: batch.batch_size]
    _step(model, before, out.pow(2).mean())
