"""Embeddings for every node of the requested types, batched over sampled neighbourhoods."""

from __future__ import annotations

import numpy as np
import torch

from gigalearn.graph.nn.encoders import batch_inputs, is_hetero_batch
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sampling.loaders import NodeLoader
from gigalearn.graph.store import GraphStore


@torch.no_grad()
def compute_embeddings(
    model: torch.nn.Module,
    store: GraphStore,
    node_type: str,
    options: KHopOptions,
    batch_size: int = 1024,
    nodes: np.ndarray | None = None,
    num_workers: int = 0,
) -> torch.Tensor:
    """Embeddings of `nodes` (default: all) of `node_type`, in that order, [n, hidden]."""
    was_training = model.training
    model.eval()
    loader = NodeLoader(
        store,
        node_type,
        seeds=nodes,
        options=options,
        batch_size=batch_size,
        num_workers=num_workers,
        seed=0,
    )
    parts = []
    for batch in loader:
        out = model(*batch_inputs(batch, node_type))[node_type]
        size = batch[node_type].batch_size if is_hetero_batch(batch) else batch.batch_size
        parts.append(out[:size])
    model.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0)
