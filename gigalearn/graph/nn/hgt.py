"""Heterogeneous Graph Transformer (Hu et al. 2020) layers, through PyG's `HGTConv`."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import HGTConv

from gigalearn.common.errors import ConfigError
from gigalearn.graph.store import EdgeType


class HGT(nn.Module):
    """`layers` HGTConv layers (type-specific attention per edge type, `heads` heads)."""

    def __init__(
        self, hidden: int, layers: int, metadata: tuple[list[str], list[EdgeType]], heads: int
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ConfigError(f"model.hidden ({hidden}) must be divisible by model.heads ({heads})")
        self.edge_types = list(metadata[1])
        self.convs = nn.ModuleList(HGTConv(hidden, hidden, metadata, heads) for _ in range(layers))

    def forward(
        self, x: dict[str, Tensor], edge_index: dict[EdgeType, Tensor]
    ) -> dict[str, Tensor]:
        """[N_t, hidden] per node type in and out."""
        edges = {t: ei for t, ei in edge_index.items() if t in self.edge_types}
        for conv in self.convs:
            out = conv(x, edges)
            # HGTConv returns nothing for a type that receives no messages: it keeps its input
            x = {t: out[t] if out.get(t) is not None else v for t, v in x.items()}
        return x
