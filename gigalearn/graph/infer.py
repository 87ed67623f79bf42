"""Embeddings for every node of the requested types, batched over sampled neighbourhoods."""

from __future__ import annotations

import numpy as np
import torch

from gigalearn.graph.nn.encoders import batch_inputs, is_hetero_batch
from gigalearn.graph.ranks import Ranks
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
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
    sampler: KHopSampler | None = None,
) -> torch.Tensor:
    """Embeddings of `nodes` (default: all) of `node_type`, in that order, [n, hidden];
    `sampler` replaces `options` (e.g. one that samples across hosts)."""
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
        sampler=sampler,
    )
    parts = []
    for batch in loader:
        out = model(*batch_inputs(batch, node_type))[node_type]
        size = batch[node_type].batch_size if is_hetero_batch(batch) else batch.batch_size
        parts.append(out[:size])
    model.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0)


def rank_batches(n: int, batch_size: int, world: int) -> np.ndarray:
    """The rank of each of n positions when ranks take whole batches in turn: each rank then
    samples exactly the batches a single process samples, so the embeddings are the same."""
    return (np.arange(n) // batch_size) % world


@torch.no_grad()
def compute_embeddings_ranked(
    model: torch.nn.Module,
    store: GraphStore,
    node_type: str,
    options: KHopOptions,
    ranks: Ranks,
    batch_size: int = 1024,
    owner: np.ndarray | None = None,
    sampler: KHopSampler | None = None,
) -> torch.Tensor:
    """Embeddings of every node of `node_type`, [n, hidden], on every rank; each rank embeds its
    share: whole batches in turn, or (with `owner`, the rank of each node) its own nodes."""
    n = store.num_nodes(node_type)
    if ranks.world == 1:
        return compute_embeddings(model, store, node_type, options, batch_size, sampler=sampler)
    owner = rank_batches(n, batch_size, ranks.world) if owner is None else owner
    mine = np.flatnonzero(owner == ranks.rank)
    emb = compute_embeddings(
        model, store, node_type, options, batch_size, nodes=mine, sampler=sampler
    )
    shares = ranks.gather((mine, emb.numpy()))
    dim = max(e.shape[1] if e.ndim == 2 else 0 for _, e in shares)
    out = np.zeros((n, dim), dtype=np.float32)
    for nodes, e in shares:
        if len(nodes):
            out[nodes] = e
    return torch.from_numpy(out)
