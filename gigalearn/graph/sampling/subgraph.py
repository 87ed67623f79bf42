"""The sampler output contract: one batch's sampled subgraph, in local and global ids.

Every sampler (k-hop, temporal, weighted, PPR, random walks, the engine's pre-sampled shards)
returns a `SampledSubgraph`; `to_pyg` turns it into a PyG `Data` / `HeteroData` with features
gathered from the store, named as PyG names them (`n_id`, `e_id`, `batch_size`, ...).

Conventions (PyG's): for an edge type (u_type, rel, v_type), `edge_index[0]` are local indices
into `node_ids[u_type]` and `edge_index[1]` into `node_ids[v_type]`. Sampling in-edges (the
default) expands v-type frontier nodes to their u-type sources, so messages flow from sampled
neighbours to the seeds. Seeds come first in `node_ids[seed_type]`.
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
    """Per edge type, int64 [2, E_t] local ids, in the edge type's orientation (row 0: source)."""
    edge_ids: dict[EdgeType, np.ndarray] | None
    """Per edge type, global edge ids into the store's arrays of that type (for features);
    None when the sampler was asked not to return them (`KHopOptions.edge_ids=False`)."""
    seed_type: str
    batch_size: int
    """Number of seeds: the first `batch_size` entries of node_ids[seed_type]."""
    num_sampled_nodes: dict[str, list[int]] = field(default_factory=dict)
    """Per node type, how many new nodes each hop added (hop 0 = seeds)."""
    num_sampled_edges: dict[EdgeType, list[int]] = field(default_factory=dict)
    """Per edge type, how many edges each hop added."""
    seed_time: np.ndarray | None = None
    """For temporal sampling: the time of each seed (edges at or after it were excluded)."""
    num_seeds: dict[str, int] = field(default_factory=dict)
    """Seeds per node type when a batch has seeds of several types (link prediction); each
    type's seeds come first in its node_ids. Empty means {seed_type: batch_size}."""
    batch: dict[str, np.ndarray] | None = None
    """Disjoint sampling only: per node type, the seed index each local node belongs to (PyG's
    `batch`); a global node reached from two seeds then appears twice."""

    @property
    def seeds_per_type(self) -> dict[str, int]:
        return self.num_seeds or {self.seed_type: self.batch_size}

    @property
    def is_hetero(self) -> bool:
        return len(self.node_ids) > 1 or len(self.edge_index) > 1

    def validate(self) -> None:
        """Check internal consistency (shapes, local ids in range); raises AssertionError."""
        for t, ei in self.edge_index.items():
            src_t, _, dst_t = t
            assert ei.ndim == 2 and ei.shape[0] == 2, f"{t}: edge_index must be [2, E]"
            if self.edge_ids is not None:
                assert ei.shape[1] == len(self.edge_ids[t]), f"{t}: edge_ids length mismatch"
            if ei.shape[1]:
                assert ei[0].max() < len(self.node_ids[src_t]), f"{t}: source id out of range"
                assert ei[1].max() < len(self.node_ids[dst_t]), f"{t}: target id out of range"
        assert self.batch_size <= len(self.node_ids[self.seed_type])
