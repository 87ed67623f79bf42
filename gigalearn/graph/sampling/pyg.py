"""Turn a SampledSubgraph into PyG `Data` / `HeteroData`, gathering features from the store."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data, HeteroData

from gigalearn.graph.sampling.subgraph import SampledSubgraph
from gigalearn.graph.store import GraphStore


def _gather(array: np.ndarray | None, idx: np.ndarray) -> torch.Tensor | None:
    if array is None or (array.ndim == 2 and array.shape[1] == 0):
        return None
    return torch.from_numpy(np.take(array, idx, axis=0))


def to_pyg(
    sub: SampledSubgraph, store: GraphStore, hetero: bool | None = None
) -> Data | HeteroData:
    """A PyG batch named as PyG names them: `n_id`, `e_id`, `batch_size`, `x`, `y`, `edge_attr`,
    `num_sampled_nodes`, `num_sampled_edges` (and `batch` for disjoint samples)."""
    hetero = sub.is_hetero if hetero is None else hetero
    return _hetero(sub, store) if hetero else _homo(sub, store)


def _homo(sub: SampledSubgraph, store: GraphStore) -> Data:
    ((n_type, n_id),) = sub.node_ids.items()
    ((e_type, edge_index),) = sub.edge_index.items()
    e_id = sub.edge_ids[e_type]
    data = Data(edge_index=torch.from_numpy(edge_index), num_nodes=len(n_id))
    data.n_id = torch.from_numpy(n_id)
    data.e_id = torch.from_numpy(e_id)
    data.batch_size = sub.batch_size
    data.num_sampled_nodes = sub.num_sampled_nodes[n_type]
    data.num_sampled_edges = sub.num_sampled_edges.get(e_type, [])
    for name, value in (
        ("x", _gather(store.node_features(n_type), n_id)),
        ("y", _gather(store.node_labels(n_type), n_id)),
        ("edge_attr", _gather(store.edge_features(e_type), e_id)),
    ):
        if value is not None:
            data[name] = value
    if sub.batch is not None:
        data.batch = torch.from_numpy(sub.batch[n_type])
    if sub.seed_time is not None:
        data.seed_time = torch.from_numpy(sub.seed_time)
    return data


def _hetero(sub: SampledSubgraph, store: GraphStore) -> HeteroData:
    data = HeteroData()
    for n, n_id in sub.node_ids.items():
        data[n].n_id = torch.from_numpy(n_id)
        data[n].num_nodes = len(n_id)
        data[n].num_sampled_nodes = sub.num_sampled_nodes.get(n, [])
        for name, arr in (("x", store.node_features(n)), ("y", store.node_labels(n))):
            value = _gather(arr, n_id)
            if value is not None:
                data[n][name] = value
        if sub.batch is not None:
            data[n].batch = torch.from_numpy(sub.batch[n])
    for n, count in sub.seeds_per_type.items():
        data[n].batch_size = count
    for t, ei in sub.edge_index.items():
        data[t].edge_index = torch.from_numpy(ei)
        data[t].e_id = torch.from_numpy(sub.edge_ids[t])
        data[t].num_sampled_edges = sub.num_sampled_edges.get(t, [])
        value = _gather(store.edge_features(t), sub.edge_ids[t])
        if value is not None:
            data[t].edge_attr = value
    if sub.seed_time is not None:
        data.seed_time = torch.from_numpy(sub.seed_time)
    return data
