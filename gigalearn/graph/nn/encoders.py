"""Node encoders: per-type input projections (features and/or learnable id embeddings), a PyG
GNN (GraphSAGE, GAT, GIN, GCN; heterogeneous through `to_hetero`), LightGCN propagation
(nn/lightgcn.py), HGT (nn/hgt.py) or a user's model by import path, and optional L2
normalisation of the output.

A user model plugs in as `encoder: "my_pkg.models:MyGNN"`: a `torch.nn.Module` class whose
constructor takes `(hidden: int, layers: int)` and whose `forward(x, edge_index)` maps
`[N, hidden]` inputs to `[N, hidden]` outputs on a homogeneous graph; heterogeneous graphs wrap
it with `to_hetero`, so its layers must accept bipartite inputs (as SAGEConv does).
"""

from __future__ import annotations

import importlib

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import to_hetero
from torch_geometric.nn.models import GAT, GCN, GIN, GraphSAGE

from gigalearn.common.errors import ConfigError
from gigalearn.graph.nn.hgt import HGT
from gigalearn.graph.nn.lightgcn import LightGCN

_BUILTIN = {"sage": GraphSAGE, "gat": GAT, "gin": GIN, "gcn": GCN}
_BIPARTITE = {"sage", "gat"}  # layers that accept (source, target) inputs, as to_hetero needs
# typed encoders: they take per-type dicts on any graph (no to_hetero)
TYPED = {"lightgcn", "hgt"}
ENCODERS = (*_BUILTIN, *sorted(TYPED))


def load_model_class(path: str) -> type[nn.Module]:
    """Import `package.module:ClassName`, with an error that says what failed."""
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ConfigError(f"model.encoder '{path}': write a user model as 'package.module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"model.encoder '{path}' does not import: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ConfigError(f"model.encoder '{path}' is not a torch.nn.Module class")
    return cls


class InputEncoder(nn.Module):
    """Maps a node type's features (if any) and/or its ids to `hidden` dimensions."""

    def __init__(self, feature_dim: int, num_nodes: int, hidden: int, id_embedding: bool) -> None:
        super().__init__()
        if feature_dim == 0 and not id_embedding:
            id_embedding = True  # a type without features needs something to start from
        self.proj = nn.Linear(feature_dim, hidden) if feature_dim else None
        self.emb = nn.Embedding(num_nodes, hidden) if id_embedding else None
        if self.emb is not None:
            nn.init.normal_(self.emb.weight, std=0.1)

    def forward(self, x: Tensor | None, n_id: Tensor) -> Tensor:
        out = self.proj(x) if self.proj is not None else 0
        return out + self.emb(n_id) if self.emb is not None else out


class GraphEncoder(nn.Module):
    """Input encoders per node type → GNN → (optionally) L2-normalised embeddings per type."""

    def __init__(
        self,
        encoder: str,
        hidden: int,
        layers: int,
        metadata: tuple[list[str], list[tuple[str, str, str]]],
        feature_dims: dict[str, int],
        num_nodes: dict[str, int],
        id_embeddings: bool = False,
        normalize: bool = True,
        degrees: dict[str, np.ndarray] | None = None,
        heads: int = 1,
    ) -> None:
        """`degrees` (full-graph in-degrees per type) is needed by lightgcn, `heads` by hgt."""
        super().__init__()
        node_types, edge_types = metadata
        self.hetero = len(node_types) > 1 or len(edge_types) > 1
        self.kind, self.edge_types = encoder, list(edge_types)
        # LightGCN learns an embedding per node: its propagation has no weights to learn with
        id_embeddings = id_embeddings or encoder == "lightgcn"
        self.inputs = nn.ModuleDict(
            {
                t: InputEncoder(feature_dims[t], num_nodes[t], hidden, id_embeddings)
                for t in node_types
            }
        )
        self.normalize = normalize
        if encoder == "lightgcn":
            if degrees is None:
                raise ValueError("the lightgcn encoder needs the graph's node degrees")
            self.gnn = LightGCN(layers, degrees)
            return
        if encoder == "hgt":
            self.gnn = HGT(hidden, layers, metadata, heads)
            return
        if encoder in _BUILTIN:
            if self.hetero and encoder not in _BIPARTITE:
                raise ConfigError(
                    f"model.encoder '{encoder}' cannot run on a heterogeneous "
                    f"graph (its layers are not bipartite); use sage or gat"
                )
            kwargs = {"add_self_loops": False} if encoder == "gat" and self.hetero else {}
            gnn = _BUILTIN[encoder](hidden, hidden, layers, **kwargs)
        else:
            gnn = load_model_class(encoder)(hidden, layers)
        self.gnn = to_hetero(gnn, metadata, aggr="sum") if self.hetero else gnn

    def forward(
        self,
        x: dict[str, Tensor | None],
        n_id: dict[str, Tensor],
        edge_index: dict[tuple[str, str, str], Tensor],
    ) -> dict[str, Tensor]:
        """Embeddings per node type for every node of the batch, [N_t, hidden]."""
        h = {t: enc(x.get(t), n_id[t]) for t, enc in self.inputs.items()}
        if self.kind in TYPED:
            if not self.hetero:  # a homogeneous batch's edges come keyed by None
                edge_index = {self.edge_types[0]: next(iter(edge_index.values()))}
            out = (
                self.gnn(h, n_id, edge_index)
                if self.kind == "lightgcn"
                else self.gnn(h, edge_index)
            )
        elif self.hetero:
            out = self.gnn(h, edge_index)
        else:
            (t,), (ei,) = h.keys(), edge_index.values()
            out = {t: self.gnn(h[t], ei)}
        return {t: F.normalize(v, dim=-1) for t, v in out.items()} if self.normalize else out


def is_hetero_batch(data) -> bool:
    """Whether a PyG batch is a HeteroData (else a homogeneous Data)."""
    # not hasattr(data, "x_dict"): a HeteroData with no features at all raises KeyError there
    return isinstance(data, HeteroData)


def batch_inputs(data, node_type: str) -> tuple[dict, dict, dict]:
    """(x, n_id, edge_index) per type of a PyG batch; `node_type` names a homogeneous batch's
    single node type (ignored for HeteroData)."""
    if is_hetero_batch(data):
        x = {t: data[t].get("x") for t in data.node_types}
        return x, {t: data[t].n_id for t in data.node_types}, dict(data.edge_index_dict)
    return {node_type: data.get("x")}, {node_type: data.n_id}, {None: data.edge_index}
