"""Approximate personalised PageRank neighbourhoods by forward push (Andersen, Chung, Lang 2006).

For each seed s the push keeps an estimate p and a residual r (r = e_s at start) and, while some
node u holds r[u] > epsilon * deg(u), moves alpha * r[u] into p[u] and spreads the rest over u's
out-neighbours (in proportion to edge weights when given). Per seed the work is
O(1 / (alpha * epsilon)) whatever the graph size. On an undirected graph, 0 <= ppr(v) - p(v) <=
epsilon * deg(v); in general the error is at most the residual mass left behind. deg counts
edges even on weighted graphs, so epsilon means the same whatever the weights' scale.

Dangling nodes (no out-edges, or only zero-weight ones) keep their mass: they behave as if they
had a self-loop, so the walk waits there until it teleports home and all mass reaching them ends
in their score. Scores of one seed therefore sum to at most 1 and nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

from gigalearn.graph.sampling.subgraph import SampledSubgraph
from gigalearn.graph.store import EdgeType, GraphStore

Ragged = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(offsets int64 [S+1], neighbours int64, scores float32); seed i owns offsets[i]:offsets[i+1]."""

_NO_F32 = np.empty(0, np.float32)
_NO_F32.flags.writeable = False


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only contiguous view (no copy if already contiguous): numba compiles one
    specialisation for memory-mapped store arrays and in-memory ones alike."""
    v = np.ascontiguousarray(a).view()
    v.flags.writeable = False
    return v


# ---- shared numba helpers (also used by walks.py) -----------------------------------------
@numba.njit(cache=True, nogil=True)
def _grow(buf: np.ndarray) -> np.ndarray:
    out = np.empty(2 * buf.shape[0], buf.dtype)
    out[: buf.shape[0]] = buf
    return out


@numba.njit(cache=True, nogil=True)
def select_topk(touched, n_touched, score, exclude, k, out_nb, out_sc) -> int:
    """Write the k best touched nodes (score > 0, != exclude) by score, ties by node id."""
    cand = np.empty(n_touched, np.int64)
    m = 0
    for j in range(n_touched):
        u = touched[j]
        if u != exclude and score[u] > 0.0:
            cand[m] = u
            m += 1
    if m > 2 * k:  # O(m) cut to the >= k nodes scoring at least the k-th best (ties kept)
        vals = np.empty(m, np.float64)
        for j in range(m):
            vals[j] = -score[cand[j]]
        cut = np.partition(vals, k - 1)[k - 1]
        kept = 0
        for j in range(m):
            if vals[j] <= cut:
                cand[kept] = cand[j]
                kept += 1
        m = kept
    cand = np.sort(cand[:m])  # id order first, so the stable sort below breaks ties by id
    vals = np.empty(m, np.float64)
    for j in range(m):
        vals[j] = -score[cand[j]]
    order = np.argsort(vals, kind="mergesort")
    c = min(k, m)
    for j in range(c):
        out_nb[j] = cand[order[j]]
        out_sc[j] = -vals[order[j]]
    return c


def compact(counts: np.ndarray, nb: np.ndarray, sc: np.ndarray) -> Ragged:
    """Turn padded [S, k] per-seed results with `counts` valid entries into the ragged form."""
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    keep = np.arange(nb.shape[1]) < counts[:, None]
    return offsets, nb[keep], sc[keep].astype(np.float32)


def chunk_count(num_seeds: int, parallel: bool) -> int:
    """Chunks (each with its own O(n) scratch) to split the seeds into."""
    if not parallel:
        return 1  # and never touch numba's threading layer: forked workers stay safe
    return max(1, min(num_seeds, numba.get_num_threads()))


# ---- the push kernel --------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _ppr_chunk(c, nchunks, graph, seeds, alpha, eps, include_self, k, out):
    """Push every seed of chunk c; scratch is dense over nodes and reset via the touched list."""
    indptr, indices, weights, eid = graph
    out_nb, out_sc, out_cnt = out
    n = indptr.shape[0] - 1
    has_w = weights.shape[0] > 0
    has_eid = eid.shape[0] > 0
    p = np.zeros(n, np.float64)
    r = np.zeros(n, np.float64)
    flag = np.zeros(n, np.uint8)  # bit 0: queued, bit 1: touched (to reset)
    queue = np.empty(64, np.int64)  # append-only FIFO per seed, O(pushes) long
    touched = np.empty(64, np.int64)
    pushed = np.empty(64, np.int64)  # nodes with p > 0: the only top-k candidates
    lo = c * seeds.shape[0] // nchunks
    hi = (c + 1) * seeds.shape[0] // nchunks
    for i in range(lo, hi):
        s = seeds[i]
        r[s] = 1.0
        flag[s] = 3
        queue[0] = s
        touched[0] = s
        head, tail, nt, npushed = 0, 1, 1, 0
        while head < tail:
            u = queue[head]
            head += 1
            flag[u] &= 2
            ru = r[u]
            r[u] = 0.0
            if p[u] == 0.0:
                if npushed == pushed.shape[0]:
                    pushed = _grow(pushed)
                pushed[npushed] = u
                npushed += 1
            a, b = indptr[u], indptr[u + 1]
            total = float(b - a)
            if has_w:
                total = 0.0
                for j in range(a, b):
                    total += weights[eid[j] if has_eid else j]
            if total <= 0.0:  # dangling: the self-loop's geometric series, in closed form
                p[u] += ru
                continue
            p[u] += alpha * ru
            share = (1.0 - alpha) * ru / total
            for j in range(a, b):
                v = indices[j]
                w = weights[eid[j] if has_eid else j] if has_w else 1.0
                r[v] += share * w
                if flag[v] & 2 == 0:
                    if nt == touched.shape[0]:  # growing inline: a call per append costs
                        touched = _grow(touched)  # an NRT incref/decref pair
                    touched[nt] = v
                    nt += 1
                    flag[v] |= 2
                if flag[v] & 1 == 0 and r[v] > eps * (indptr[v + 1] - indptr[v]):
                    if tail == queue.shape[0]:
                        queue = _grow(queue)
                    queue[tail] = v
                    tail += 1
                    flag[v] |= 1
        exclude = -1 if include_self else s
        out_cnt[i] = select_topk(pushed, npushed, p, exclude, k, out_nb[i], out_sc[i])
        for j in range(npushed):
            p[pushed[j]] = 0.0
        for j in range(nt):
            r[touched[j]] = 0.0
            flag[touched[j]] = 0


# Two drivers over the same chunk body: prange in a non-parallel function would work too, but
# numba's cache index does not key on `parallel`, so one Python function must not back both.
# Both pass the chunk number as int64 so that they share one compiled chunk body.
@numba.njit(cache=True, nogil=True)
def _ppr_seq(graph, seeds, alpha, eps, include_self, k, out, nchunks):
    for c in range(nchunks):
        _ppr_chunk(np.int64(c), nchunks, graph, seeds, alpha, eps, include_self, k, out)


@numba.njit(cache=True, nogil=True, parallel=True)
def _ppr_par(graph, seeds, alpha, eps, include_self, k, out, nchunks):
    for c in numba.prange(nchunks):
        _ppr_chunk(np.int64(c), nchunks, graph, seeds, alpha, eps, include_self, k, out)


# ---- validation -------------------------------------------------------------------------
def check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k}")


def check_ppr_params(alpha: float, epsilon: float, k: int) -> None:
    """Raise ValueError unless 0 < alpha < 1, epsilon > 0 and k >= 1."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha (teleport probability) must be in (0, 1), got {alpha}")
    if not epsilon > 0.0:
        raise ValueError(f"epsilon (push tolerance) must be > 0, got {epsilon}")
    check_k(k)


def check_seeds(seeds: np.ndarray, n: int) -> np.ndarray:
    """Seeds as a contiguous int64 vector of ids in [0, n)."""
    seeds = np.asarray(seeds)
    if seeds.ndim != 1 or (seeds.size and seeds.dtype.kind not in "iu"):
        raise ValueError(f"seeds must be a 1-D integer array, got {seeds.dtype} {seeds.shape}")
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= n):
        raise ValueError(f"seed ids must lie in [0, {n}), got [{seeds.min()}, {seeds.max()}]")
    return seeds


def check_weights(weights: np.ndarray, num_edges: int) -> np.ndarray:
    """Edge weights as float32, one per edge, finite and non-negative."""
    w = np.asarray(weights)
    if w.shape != (num_edges,):
        raise ValueError(f"weights must have shape ({num_edges},), got {w.shape}")
    if w.dtype != np.float32:
        w = w.astype(np.float32)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    return w


# ---- public API -------------------------------------------------------------------------
def ppr_topk(
    indptr: np.ndarray,
    indices: np.ndarray,
    seeds: np.ndarray,
    alpha: float = 0.15,
    epsilon: float = 1e-4,
    k: int = 32,
    weights: np.ndarray | None = None,
    *,
    eid: np.ndarray | None = None,
    include_self: bool = False,
    parallel: bool = True,
) -> Ragged:
    """Top-k approximate PPR neighbours of each seed, scores descending (ties by node id).

    `weights` are by edge id and `eid` maps CSR positions to edge ids (None = identity), as in
    `GraphStore.csr`. Each thread allocates O(n) scratch (17 bytes a node) per call.
    `parallel=False` never starts numba's thread pool (fork-safe); results are identical.
    """
    check_ppr_params(alpha, epsilon, k)
    seeds = check_seeds(seeds, len(indptr) - 1)
    if weights is not None:
        weights = check_weights(weights, len(indices))
    return _run_ppr(indptr, indices, seeds, alpha, epsilon, k, weights, eid, include_self, parallel)


def _run_ppr(indptr, indices, seeds, alpha, epsilon, k, weights, eid, include_self, parallel):
    """ppr_topk without the O(E) checks: for callers that validated once (the sampler)."""
    s = len(seeds)
    nb, sc, cnt = np.zeros((s, k), np.int64), np.zeros((s, k), np.float64), np.zeros(s, np.int64)
    w = _NO_F32 if weights is None else readonly(weights)
    e = readonly(np.empty(0, indices.dtype) if eid is None or weights is None else eid)
    args = (
        (readonly(indptr), readonly(indices), w, e),
        seeds,
        float(alpha),
        float(epsilon),
        include_self,
        k,
    )
    if s:
        kernel = _ppr_par if parallel else _ppr_seq
        kernel(*args, (nb, sc, cnt), chunk_count(s, parallel))
    return compact(cnt, nb, sc)


def to_subgraph(
    seeds: np.ndarray, offsets: np.ndarray, neighbours: np.ndarray, node_type: str, rel: str
) -> SampledSubgraph:
    """Seeds first, then unseen neighbours by first appearance; edges neighbour -> seed."""
    uniq, first = np.unique(neighbours, return_index=True)
    fresh = ~np.isin(uniq, seeds)
    new = uniq[fresh][np.argsort(first[fresh], kind="stable")]
    node_ids = np.concatenate([seeds, new]).astype(np.int64)
    ids, pos = np.unique(node_ids, return_index=True)  # first position: duplicate seeds share
    src = pos[np.searchsorted(ids, neighbours)]
    dst = np.repeat(np.arange(len(seeds), dtype=np.int64), np.diff(offsets))
    key = (node_type, rel, node_type)
    return SampledSubgraph(
        node_ids={node_type: node_ids},
        edge_index={key: np.stack([src, dst]).astype(np.int64).reshape(2, -1)},
        edge_ids={key: np.full(len(neighbours), -1, np.int64)},
        seed_type=node_type,
        batch_size=len(seeds),
        num_sampled_nodes={node_type: [len(seeds), len(new)]},
        num_sampled_edges={key: [len(neighbours)]},
    )


@dataclass(frozen=True)
class PPRSampler:
    """Top-k PPR neighbourhoods over one homogeneous edge type of a GraphStore.

    `sample` returns (subgraph, scores): edges go neighbour -> seed under the synthetic edge
    type (t, "ppr", t) with edge ids -1 (no store edge), and `scores` (float32) align with
    its columns. Edge weights of the store are used when `weighted`.
    """

    store: GraphStore
    edge_type: EdgeType
    direction: Literal["out", "in"] = "out"
    alpha: float = 0.15
    epsilon: float = 1e-4
    k: int = 32
    weighted: bool = False
    include_self: bool = False
    parallel: bool = True

    def __post_init__(self) -> None:
        check_ppr_params(self.alpha, self.epsilon, self.k)
        if self.direction not in ("out", "in"):
            raise ValueError(f"direction must be 'out' or 'in', got {self.direction!r}")
        src, _, dst = self.store.edge_meta(self.edge_type)["type"]
        if src != dst:
            raise ValueError(
                f"PPRSampler needs a homogeneous edge type (source type == target type); "
                f"{list(self.edge_type)} links '{src}' to '{dst}'"
            )
        if self.weighted:
            w = self.store.edge_weight(self.edge_type)
            if w is None:
                raise ValueError(f"edge type {list(self.edge_type)} has no weights")
            check_weights(w, self.store.num_edges(self.edge_type))  # once, not per batch

    @property
    def node_type(self) -> str:
        return self.edge_type[0]

    def sample(self, seeds: np.ndarray) -> tuple[SampledSubgraph, np.ndarray]:
        """PPR top-k of each seed as a subgraph, plus the score of each edge."""
        csr = self.store.csr(self.edge_type, self.direction)
        seeds = check_seeds(seeds, len(csr.indptr) - 1)
        w = self.store.edge_weight(self.edge_type) if self.weighted else None
        o = self
        offsets, nb, sc = _run_ppr(
            csr.indptr, csr.indices, seeds, o.alpha, o.epsilon, o.k, w, csr.eid, o.include_self,
            o.parallel,
        )  # fmt: skip
        return to_subgraph(seeds, offsets, nb, self.node_type, "ppr"), sc
