"""Loaders that drive the samplers batch by batch, as `torch.utils.data.DataLoader`s.

The GraphStore is memory-mapped, so DataLoader worker processes share it through the page cache
without copies; in a worker the samplers run single-threaded (see `KHopOptions.parallel`).
Without worker processes, `threads` > 1 builds that many batches at once in a thread pool of
the loading process: the sampler's kernels and numpy's gathers release the GIL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from gigalearn.graph.sampling import kernels
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.sampling.pyg import to_pyg
from gigalearn.graph.sampling.subgraph import EdgeType
from gigalearn.graph.store import GraphStore


def _batch_seed(base: int, ids: np.ndarray) -> int:
    """A per-batch sampling seed: reproducible, and different for different batches."""
    return (base * 0x9E3779B1 + int(np.bitwise_xor.reduce(ids * 0x85EBCA6B)) + len(ids)) % 2**63


class _ThreadedLoader(DataLoader):
    """A DataLoader whose batches may be built by `threads` threads of this process (when it
    has no worker processes), yielded in order: the same batches as one thread builds."""

    threads: int = 1

    def _set_threads(self, threads: int, loader_kwargs: dict) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if threads > 1 and loader_kwargs.get("num_workers", 0) > 0:
            raise ValueError(
                f"threads={threads} with num_workers={loader_kwargs['num_workers']}: batches are "
                "built either by worker processes or by threads of this process; choose one"
            )
        if threads > 1 and loader_kwargs.get("pin_memory"):
            raise ValueError("threads > 1 does not pin memory: use num_workers for pin_memory")
        self.threads = threads

    def __iter__(self) -> Iterator:
        if self.threads <= 1 or self.num_workers > 0:
            return super().__iter__()
        return self._threaded_iter()

    def _threaded_iter(self) -> Iterator:
        # DataLoader's own single-process iterator hands out the batches' indices, so shuffling
        # draws from `generator` exactly as it does without threads
        indices = super().__iter__()
        ahead = 2 * self.threads  # batches in flight: enough to keep every thread busy
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="gigalearn-loader")
        try:
            pending: deque = deque()
            while True:
                try:
                    index = indices._next_index()
                except StopIteration:
                    break
                items = [self.dataset[i] for i in index]
                pending.append(pool.submit(self.collate_fn, items))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # a consumer that stops early (or a batch that failed) does not wait for the
            # batches still queued
            pool.shutdown(wait=True, cancel_futures=True)


class NodeLoader(_ThreadedLoader):
    """Batches of seed nodes of one type with their sampled neighbourhoods (and labels `y`).

    Yields PyG `Data` (homogeneous store) or `HeteroData`; the first `batch_size` nodes of the
    seed type are the seeds. `threads` > 1 builds batches in that many threads (see above).
    """

    def __init__(
        self,
        store: GraphStore,
        node_type: str,
        seeds: np.ndarray | None = None,
        options: KHopOptions | None = None,
        batch_size: int = 512,
        shuffle: bool = False,
        seed: int = 0,
        sampler: KHopSampler | None = None,
        threads: int = 1,
        **loader_kwargs,
    ) -> None:
        self._set_threads(threads, loader_kwargs)
        self.store, self.node_type, self.seed = store, node_type, seed
        # a given sampler (e.g. one that asks other hosts over rpc) replaces `options`
        self.graph_sampler = sampler or KHopSampler(store, options)
        self.seeds = np.arange(store.num_nodes(node_type)) if seeds is None else np.asarray(seeds)
        generator = torch.Generator().manual_seed(seed)
        super().__init__(
            range(len(self.seeds)),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self._collate,
            generator=generator,
            **loader_kwargs,
        )

    def _collate(self, index: list[int]):
        ids = self.seeds[np.asarray(index)]
        sub = self.graph_sampler.sample(self.node_type, ids, seed=_batch_seed(self.seed, ids))
        return to_pyg(
            sub, self.store, hetero=len(self.store.edge_types) > 1 or len(self.store.node_types) > 1
        )


@dataclass(frozen=True)
class LinkBatchOptions:
    """Negatives for anchor-based link prediction (GiGL's main task).

    `num_negatives` random destination nodes are drawn per batch and shared by its anchors;
    `mask_accidental_hits` marks (anchor, negative) pairs that are real edges so the loss can
    ignore them. Hard negatives come as pairs (anchor id, negative id) in dense ids.
    """

    num_negatives: int = 0
    mask_accidental_hits: bool = True


class LinkLoader(_ThreadedLoader):
    """Batches of (anchor, positive) edges of one edge type with negatives, sampled together.

    Each batch's PyG object carries, besides the sampled graph: `anchor_index` [B] (local ids of
    the anchors in the source type), `pos_index` [B] (local ids of the positives in the
    destination type), `neg_index` [R] (shared random negatives), `hard_neg_index` [2, H] (batch
    row, local destination id) and `neg_hit_mask` [B, R] (True where a random negative is in
    fact an edge of that anchor). `threads` as for `NodeLoader`.
    """

    def __init__(
        self,
        store: GraphStore,
        edge_type: EdgeType,
        edges: tuple[np.ndarray, np.ndarray] | None = None,
        options: KHopOptions | None = None,
        negatives: LinkBatchOptions | None = None,
        hard_negatives: tuple[np.ndarray, np.ndarray] | None = None,
        batch_size: int = 512,
        shuffle: bool = False,
        seed: int = 0,
        sampler: KHopSampler | None = None,
        threads: int = 1,
        **loader_kwargs,
    ) -> None:
        self._set_threads(threads, loader_kwargs)
        self.store, self.edge_type, self.seed = store, tuple(edge_type), seed
        self.negatives = negatives or LinkBatchOptions()
        src, dst = store.edge_index(self.edge_type) if edges is None else edges
        self.src, self.dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        self.graph_sampler = sampler or KHopSampler(store, options)
        self.out = store.csr(self.edge_type, "out")
        self.hard = None
        if hard_negatives is not None:
            h_src, h_dst = (np.asarray(a, dtype=np.int64) for a in hard_negatives)
            order = np.argsort(h_src, kind="stable")
            self.hard = (h_src[order], h_dst[order])
        generator = torch.Generator().manual_seed(seed)
        super().__init__(
            range(len(self.src)),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self._collate,
            generator=generator,
            **loader_kwargs,
        )

    def _collate(self, index: list[int]):
        s_type, _, d_type = self.edge_type
        idx = np.asarray(index)
        anchors, positives = self.src[idx], self.dst[idx]
        rng = np.random.default_rng(_batch_seed(self.seed, idx))
        negs = rng.integers(0, self.store.num_nodes(d_type), self.negatives.num_negatives)
        hard_rows, hard_dst = self._hard(anchors)
        if s_type == d_type:
            seeds = {s_type: np.unique(np.concatenate([anchors, positives, negs, hard_dst]))}
            a_seeds = d_seeds = seeds[s_type]
        else:
            a_seeds = np.unique(anchors)
            d_seeds = np.unique(np.concatenate([positives, negs, hard_dst]))
            seeds = {s_type: a_seeds, d_type: d_seeds}
        sub = self.graph_sampler.sample_multi(seeds, seed=_batch_seed(self.seed, idx))
        data = to_pyg(
            sub, self.store, hetero=len(self.store.edge_types) > 1 or len(self.store.node_types) > 1
        )
        local = lambda pool, ids: torch.from_numpy(np.searchsorted(pool, ids))  # noqa: E731
        data.anchor_index = local(a_seeds, anchors)
        data.pos_index = local(d_seeds, positives)
        data.neg_index = local(d_seeds, negs)
        data.hard_neg_index = torch.stack([torch.from_numpy(hard_rows), local(d_seeds, hard_dst)])
        if self.negatives.mask_accidental_hits and len(negs):
            data.neg_hit_mask = torch.from_numpy(self._is_edge(anchors[:, None], negs[None, :]))
        return data

    def _hard(self, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.hard is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        h_src, h_dst = self.hard
        lo, hi = np.searchsorted(h_src, anchors, "left"), np.searchsorted(h_src, anchors, "right")
        rows = np.repeat(np.arange(len(anchors)), hi - lo)
        picks = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)] or [[]])
        return rows, h_dst[picks.astype(np.int64)]

    def _is_edge(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether (u, v) is an edge of the target type, elementwise with broadcasting."""
        u, v = np.broadcast_arrays(u, v)
        flat = kernels.has_edges(
            self.out.indptr, self.out.indices, u.ravel().copy(), v.ravel().copy()
        )
        return flat.reshape(u.shape)
