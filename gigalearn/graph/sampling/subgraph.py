"""The sampler output contract: one batch's sampled subgraph, in local and global ids.

Every sampler (k-hop, temporal, weighted, PPR, random walks, the engine's pre-sampled shards)
returns a `SampledSubgraph`; `to_pyg` turns it into a PyG `Data` / `HeteroData` with features
gathered from the store, named as PyG names them (`n_id`, `e_id`, `batch_size`, ...).

Conventions (PyG's): messages flow from sampled neighbours to the nodes that sampled them, so
for an edge type (u_type, rel, v_type), `edge_index[0]` are local indices into
`node_ids[u_type]` (the sampled neighbours) and `edge_index[1]` local indices into
`node_ids[v_type]` (the frontier nodes). Seeds come first in `node_ids[seed_type]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EdgeType = tuple[str, str, str]


@dataclass
class SampledSubgraph:
    """A sampled batch. Homogeneous graphs use one node type and one edge type."""

    node_ids: dict[str, np.ndarray]
    """Per node type, global dense ids of the batch's nodes; local id = position. Seeds first."""
    edge_index: dict[EdgeType, np.ndarray]
    """Per edge type, int64 [2, E_t] local ids (row 0: source/neighbour, row 1: target)."""
    edge_ids: dict[EdgeType, np.ndarray]
    """Per edge type, global edge ids into the store's arrays of that type (for features)."""
    seed_type: str
    batch_size: int
    """Number of seeds: the first `batch_size` entries of node_ids[seed_type]."""
    num_sampled_nodes: dict[str, list[int]] = field(default_factory=dict)
    """Per node type, how many new nodes each hop added (hop 0 = seeds)."""
    num_sampled_edges: dict[EdgeType, list[int]] = field(default_factory=dict)
    """Per edge type, how many edges each hop added."""
    seed_time: np.ndarray | None = None
    """For temporal sampling: the time of each seed (edges at or after it were excluded)."""

    @property
    def is_hetero(self) -> bool:
        return len(self.node_ids) > 1 or len(self.edge_index) > 1

    def validate(self) -> None:
        """Check internal consistency (shapes, local ids in range); raises AssertionError."""
        for t, ei in self.edge_index.items():
            src_t, _, dst_t = t
            assert ei.ndim == 2 and ei.shape[0] == 2, f"{t}: edge_index must be [2, E]"
            assert ei.shape[1] == len(self.edge_ids[t]), f"{t}: edge_ids length mismatch"
            if ei.shape[1]:
                assert ei[0].max() < len(self.node_ids[src_t]), f"{t}: source id out of range"
                assert ei[1].max() < len(self.node_ids[dst_t]), f"{t}: target id out of range"
        assert self.batch_size <= len(self.node_ids[self.seed_type])
