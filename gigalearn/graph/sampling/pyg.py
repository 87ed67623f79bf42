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


def _features(rows: np.ndarray | None) -> torch.Tensor | None:
    # the store dequantises compact (float16 / bfloat16 / int8) features to float32 rows
    if rows is None or rows.shape[1] == 0:
        return None
    return torch.from_numpy(rows)


def _edge_ids(sub: SampledSubgraph, store: GraphStore, t) -> np.ndarray | None:
    """The batch's edge ids of type t; None when not sampled, unless features need them."""
    if sub.edge_ids is not None:
        return sub.edge_ids[t]
    if _features(store.gather_edge_features(t, np.empty(0, dtype=np.int64))) is not None:
        raise ValueError(
            f"edge type {list(t)} has edge features, which need edge ids: sample with "
            "KHopOptions(edge_ids=True)"
        )
    return None


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
    e_id = _edge_ids(sub, store, e_type)
    data = Data(edge_index=torch.from_numpy(edge_index), num_nodes=len(n_id))
    data.n_id = torch.from_numpy(n_id)
    if e_id is not None:
        data.e_id = torch.from_numpy(e_id)
    data.batch_size = sub.batch_size
    data.num_sampled_nodes = sub.num_sampled_nodes[n_type]
    data.num_sampled_edges = sub.num_sampled_edges.get(e_type, [])
    for name, value in (
        ("x", _features(store.gather_node_features(n_type, n_id))),
        ("y", _gather(store.node_labels(n_type), n_id)),
        (
            "edge_attr",
            None if e_id is None else _features(store.gather_edge_features(e_type, e_id)),
        ),
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
        x = _features(store.gather_node_features(n, n_id))
        if x is not None:
            data[n].x = x
        y = _gather(store.node_labels(n), n_id)
        if y is not None:
            data[n].y = y
        if sub.batch is not None:
            data[n].batch = torch.from_numpy(sub.batch[n])
    for n, count in sub.seeds_per_type.items():
        data[n].batch_size = count
    for t, ei in sub.edge_index.items():
        data[t].edge_index = torch.from_numpy(ei)
        data[t].num_sampled_edges = sub.num_sampled_edges.get(t, [])
        e_id = _edge_ids(sub, store, t)
        if e_id is None:
            continue
        data[t].e_id = torch.from_numpy(e_id)
        value = _features(store.gather_edge_features(t, e_id))
        if value is not None:
            data[t].edge_attr = value
    if sub.seed_time is not None:
        data.seed_time = torch.from_numpy(sub.seed_time)
    return data
