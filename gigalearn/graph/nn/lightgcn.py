"""LightGCN propagation (He et al. 2020) on sampled neighbourhoods, through PyG's `LGConv`.

No weights and no non-linearity: each of K layers replaces a node's vector by the
degree-normalised sum of its neighbours', and the output is the mean of the input and the K
layer outputs (α = 1/(K+1)). Node types are laid side by side in one index, so a bipartite
user–item graph (with its reverse edges) and a homogeneous graph are the same case.

A sampled batch holds only some of a node's neighbours. With full-graph degrees d and the s_v
sampled in-edges of node v, each edge u→v gets the weight (d_v / s_v) / sqrt(d_u d_v): the sum
over the sampled neighbours is then an unbiased estimate of the full-graph LGConv sum, and with
all neighbours sampled (fanout -1) it is exactly LightGCN's propagation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import LGConv

from gigalearn.graph.store import EdgeType, GraphStore


def in_degrees(store: GraphStore) -> dict[str, np.ndarray]:
    """Per node type, the number of edges (of every type) pointing at each node."""
    deg = {t: np.zeros(store.num_nodes(t), dtype=np.int64) for t in store.node_types}
    for t in store.edge_types:
        deg[t[2]] += store.csr(t, "in").degrees()
    return deg


def edge_weights(edge_index: Tensor, degree: Tensor, num_nodes: int) -> Tensor:
    """LightGCN's symmetric weights 1/sqrt(d_u d_v) for edges u→v, scaled by d_v / s_v (s_v:
    v's sampled in-edges) so a sample's sum estimates the full-graph one; 0 where d_u is 0."""
    src, dst = edge_index
    sampled = torch.bincount(dst, minlength=num_nodes).to(degree.dtype)
    inv_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
    return degree[dst].sqrt() * inv_sqrt[src] / sampled[dst]


class LightGCN(nn.Module):
    """K parameter-free LGConv layers over a (sampled) graph of one or more node types; the
    mean of the layer outputs per node type."""

    def __init__(self, layers: int, degrees: dict[str, np.ndarray]) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"LightGCN needs at least one layer, got {layers}")
        self.convs = nn.ModuleList(LGConv(normalize=False) for _ in range(layers))
        for t, d in degrees.items():
            # full-graph degrees: derived from the store, so not part of the state dict
            self.register_buffer(f"deg_{t}", torch.from_numpy(d).float(), persistent=False)
        self.node_types = list(degrees)

    def forward(
        self,
        x: dict[str, Tensor],
        n_id: dict[str, Tensor],
        edge_index: dict[EdgeType, Tensor],
    ) -> dict[str, Tensor]:
        """x: [N_t, d] per node type; n_id: the nodes' ids in the store (for their degrees);
        edge_index: local ids per edge type. Returns [N_t, d] per node type."""
        types = list(x)
        offset = dict(zip(types, np.cumsum([0] + [len(x[t]) for t in types[:-1]]), strict=True))
        h = torch.cat([x[t] for t in types])
        degree = torch.cat([getattr(self, f"deg_{t}")[n_id[t]] for t in types])
        parts = [
            torch.stack([ei[0] + int(offset[s]), ei[1] + int(offset[d])])
            for (s, _, d), ei in edge_index.items()
            if s in offset and d in offset
        ]
        ei = torch.cat(parts, dim=1) if parts else torch.empty(2, 0, dtype=torch.long)
        weight = edge_weights(ei, degree, len(h))
        total = h
        for conv in self.convs:
            h = conv(h, ei, weight)
            total = total + h
        out = total / (len(self.convs) + 1)
        return {t: out[int(offset[t]) : int(offset[t]) + len(x[t])] for t in types}
