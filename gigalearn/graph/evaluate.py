"""Retrieval and classification metrics: recall@K, NDCG@K, hit@K, precision@K, MRR, accuracy,
macro-F1. Items are ranked against every candidate with the query's training interactions
filtered out, by exact (chunked) search or by faiss for large candidate sets; scores are inner
products or come from a link decoder (nn/decoders.py), which exact search applies to every pair."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.graph.nn.decoders import Decoder

_PATTERN = re.compile(r"^(recall|ndcg|hit|precision)@([1-9][0-9]*)$|^(mrr|accuracy|macro_f1)$")


@dataclass(frozen=True)
class Metric:
    """One metric by name, e.g. `recall@20`; `k` is None for rank-free metrics."""

    kind: str
    k: int | None = None

    @classmethod
    def parse(cls, name: str) -> Metric:
        m = _PATTERN.match(name)
        if not m:
            raise ConfigError(
                f"unknown metric '{name}'; use recall@K, ndcg@K, hit@K, "
                "precision@K, mrr, accuracy or macro_f1"
            )
        return cls(m.group(1), int(m.group(2))) if m.group(1) else cls(m.group(3))

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.k}" if self.k else self.kind


@dataclass(frozen=True)
class Interactions:
    """Items per query as CSR: query q's items are indices[indptr[q]:indptr[q+1]]."""

    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def from_pairs(cls, queries: np.ndarray, items: np.ndarray, num_queries: int) -> Interactions:
        order = np.lexsort((items, queries))
        indptr = np.zeros(num_queries + 1, dtype=np.int64)
        np.cumsum(np.bincount(queries, minlength=num_queries), out=indptr[1:])
        return cls(indptr, np.asarray(items)[order].astype(np.int64))

    def of(self, q: int) -> np.ndarray:
        return self.indices[self.indptr[q] : self.indptr[q + 1]]

    def select(self, rows: np.ndarray) -> Interactions:
        """The interactions of queries `rows`, renumbered 0..len(rows)-1."""
        counts = np.diff(self.indptr)[rows]
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        parts = [self.of(r) for r in rows]
        return Interactions(indptr, np.concatenate(parts) if parts else np.empty(0, np.int64))


def rank(
    query_emb: torch.Tensor,
    item_emb: torch.Tensor,
    k: int,
    exclude: Interactions | None = None,
    relevant: Interactions | None = None,
    method: Literal["exact", "faiss"] = "exact",
    chunk: int = 1024,
    decoder: Decoder | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Top-k items per query by inner product (or by `decoder`'s score), excluded items removed.

    Returns (top-k item ids [Q, k], and for exact search the full rank of each query's first
    relevant item [Q], for MRR; None with faiss, where MRR is computed within the top k).
    """
    if method == "faiss":
        if decoder is not None and not decoder.inner_product:
            raise ConfigError(
                f"faiss ranks by inner product; the {type(decoder).__name__} decoder needs "
                "exact search (evaluate.search: exact)"
            )
        return _rank_faiss(query_emb, item_emb, k, exclude), None
    n_q = query_emb.shape[0]
    top = np.empty((n_q, k), dtype=np.int64)
    first = np.full(n_q, np.iinfo(np.int64).max) if relevant is not None else None
    with torch.no_grad():
        for lo in range(0, n_q, chunk):
            hi = min(lo + chunk, n_q)
            scores = (
                query_emb[lo:hi] @ item_emb.T
                if decoder is None
                else decoder.matrix(query_emb[lo:hi], item_emb)
            )
            if exclude is not None:
                rows, cols = _pairs(exclude, lo, hi)
                scores[rows, cols] = float("-inf")
            top[lo:hi] = torch.topk(scores, k, dim=1).indices.numpy()
            if relevant is not None:
                rows, cols = _pairs(relevant, lo, hi)
                # rank = 1 + number of candidates scoring strictly higher; in slices of pairs,
                # since each pair compares a whole row of scores (memory: slice × items)
                for a in range(0, len(rows), chunk):
                    r, c = rows[a : a + chunk], cols[a : a + chunk]
                    ranks = 1 + (scores[r] > scores[r, c][:, None]).sum(1).numpy()
                    np.minimum.at(first, lo + r.numpy(), ranks)
    return top, first


def _pairs(inter: Interactions, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    counts = np.diff(inter.indptr[lo : hi + 1])
    rows = np.repeat(np.arange(hi - lo), counts)
    cols = inter.indices[inter.indptr[lo] : inter.indptr[hi]]
    return torch.from_numpy(rows), torch.from_numpy(cols)


def _rank_faiss(query_emb, item_emb, k, exclude):
    import faiss

    items = np.ascontiguousarray(item_emb.detach().numpy(), dtype=np.float32)
    index = faiss.IndexHNSWFlat(items.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = max(64, 2 * k)
    index.add(items)
    extra = int(np.diff(exclude.indptr).max()) if exclude is not None else 0
    _, cand = index.search(
        np.ascontiguousarray(query_emb.detach().numpy(), dtype=np.float32), k + extra
    )
    top = np.full((len(cand), k), -1, dtype=np.int64)
    for q, row in enumerate(cand):
        if exclude is not None:
            row = row[~np.isin(row, exclude.of(q))]
        row = row[row >= 0][:k]
        top[q, : len(row)] = row
    return top


def retrieval_metrics(
    top: np.ndarray,
    relevant: Interactions,
    metrics: list[Metric],
    first_rank: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean of each metric over queries that have at least one relevant item."""
    queries = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if len(queries) == 0:
        raise ValueError("no query has a relevant item to evaluate against")
    hits = np.zeros(top.shape, dtype=bool)
    n_rel = np.diff(relevant.indptr)
    for q in queries:
        hits[q] = np.isin(top[q], relevant.of(q))
    hits, n_rel = hits[queries], n_rel[queries]
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    out = {}
    for m in metrics:
        k = m.k
        if m.kind == "recall":
            v = hits[:, :k].sum(1) / np.minimum(n_rel, k)
        elif m.kind == "precision":
            v = hits[:, :k].sum(1) / k
        elif m.kind == "hit":
            v = hits[:, :k].any(1).astype(float)
        elif m.kind == "ndcg":
            dcg = (hits[:, :k] * discounts[:k]).sum(1)
            ideal = np.cumsum(discounts[:k])[np.minimum(n_rel, k) - 1]
            v = dcg / ideal
        elif m.kind == "mrr":
            if first_rank is not None:
                v = 1.0 / first_rank[queries]
            else:  # within the top k only (approximate search returns no full ranking)
                pos = np.where(hits.any(1), hits.argmax(1) + 1, np.inf)
                v = 1.0 / pos
        else:
            raise ValueError(f"{m.name} is not a retrieval metric")
        out[m.name] = float(np.mean(v))
    return out


def classification_metrics(
    pred: np.ndarray, y: np.ndarray, metrics: list[Metric]
) -> dict[str, float]:
    """Accuracy and macro-F1 (over the classes present in `y` or `pred`)."""
    out = {}
    for m in metrics:
        if m.kind == "accuracy":
            out[m.name] = float((pred == y).mean())
        elif m.kind == "macro_f1":
            f1 = []
            for c in np.union1d(pred, y):
                tp = np.sum((pred == c) & (y == c))
                denom = np.sum(pred == c) + np.sum(y == c)
                f1.append(2 * tp / denom if denom else 0.0)
            out[m.name] = float(np.mean(f1))
        else:
            raise ValueError(f"{m.name} is not a classification metric")
    return out


def held_out_metrics(
    query_emb: torch.Tensor,
    item_emb: torch.Tensor,
    src: np.ndarray,
    dst: np.ndarray,
    held: np.ndarray,
    seen: np.ndarray,
    metrics: list[Metric],
    method: Literal["exact", "faiss"] = "exact",
    decoder: Decoder | None = None,
) -> dict[str, float]:
    """Metrics of held-out edges `held` (edge ids into src/dst): for each source with one, all
    destinations are ranked (by `decoder`'s score; default inner product), its `seen` (training)
    destinations filtered out."""
    n_q = query_emb.shape[0]
    relevant = Interactions.from_pairs(src[held], dst[held], n_q)
    exclude = Interactions.from_pairs(src[seen], dst[seen], n_q)
    has = np.flatnonzero(np.diff(relevant.indptr) > 0)
    k = max(m.k or 1 for m in metrics)
    relevant = relevant.select(has)
    top, first = rank(
        query_emb[has],
        item_emb,
        k,
        exclude=exclude.select(has),
        relevant=relevant,
        method=method,
        decoder=decoder,
    )
    return {"queries": len(has), **retrieval_metrics(top, relevant, metrics, first)}
