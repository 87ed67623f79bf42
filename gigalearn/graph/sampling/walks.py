"""PinSage-style importance neighbourhoods: the nodes random walks with restart visit most.

From each seed, `num_walks` walks of `walk_length` hops each. A hop follows the whole meta-path
(one edge per step, e.g. user -> movie -> user) and lands on a node of the seed's type; after
each hop the walk jumps back to the seed with probability `restart`, and a hop that hits a node
without neighbours also jumps back. Visits to nodes other than the seed are counted, and a node's
importance is its share of those visits (so it does not depend on k).

Randomness is counter-based (splitmix64 of (seed argument, seed node, walk, draw)), so a node's
neighbourhood depends only on `seed` and the node itself: not on the batch, the thread count,
or whether the kernel ran in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numba
import numpy as np

from gigalearn.graph.sampling.ppr import (
    Ragged,
    check_k,
    check_seeds,
    chunk_count,
    compact,
    readonly,
    select_topk,
    to_subgraph,
)
from gigalearn.graph.sampling.subgraph import SampledSubgraph
from gigalearn.graph.store import EdgeType, GraphStore

Step = tuple[EdgeType, Literal["out", "in"]]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)


@numba.njit(cache=True, nogil=True)
def _mix(z):
    """splitmix64's finaliser: a bijection of uint64 with good avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, nogil=True)
def _uniform(key, i):
    """The i-th draw of stream `key`, uniform in [0, 1) with 53 random bits."""
    return float(_mix(key + np.uint64(i) * _GOLDEN) >> _S11) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _walk_chunk(c, nchunks, graph, seeds, num_walks, walk_length, restart, rng, k, out):
    """Walk from every seed of chunk c; visits are dense over the seed type, reset sparsely."""
    indptrs, indices, n = graph
    out_nb, out_sc, out_cnt = out
    visits = np.zeros(n, np.float64)
    touched = np.empty(max(1, min(n, num_walks * walk_length)), np.int64)
    lo = c * seeds.shape[0] // nchunks
    hi = (c + 1) * seeds.shape[0] // nchunks
    steps = len(indptrs)
    for i in range(lo, hi):
        s = seeds[i]
        nt = 0
        total = 0.0
        node_key = _mix(rng ^ _mix(np.uint64(s) + _GOLDEN))
        for w in range(num_walks):
            key = _mix(node_key + np.uint64(w))
            draw = 0
            cur = s
            for _ in range(walk_length):
                for m in range(steps):  # tuple of arrays with one type: indexable at run time
                    a, b = indptrs[m][cur], indptrs[m][cur + 1]
                    if a == b:
                        cur = -1
                        break
                    cur = indices[m][a + int(_uniform(key, draw) * (b - a))]
                    draw += 1
                if cur < 0:  # dead end: back to the seed
                    cur = s
                    continue
                if cur != s:
                    if visits[cur] == 0.0:
                        touched[nt] = cur  # distinct visits <= min(n, hops): never overflows
                        nt += 1
                    visits[cur] += 1.0
                    total += 1.0
                if _uniform(key, draw) < restart:
                    cur = s
                draw += 1
        c_i = select_topk(touched, nt, visits, s, k, out_nb[i], out_sc[i])
        for j in range(c_i):
            out_sc[i, j] /= total
        out_cnt[i] = c_i
        for j in range(nt):
            visits[touched[j]] = 0.0


@numba.njit(cache=True, nogil=True)
def _walk_seq(graph, seeds, num_walks, walk_length, restart, rng, k, out, nchunks):
    for c in range(nchunks):  # see ppr.py for why there are two drivers
        _walk_chunk(
            np.int64(c), nchunks, graph, seeds, num_walks, walk_length, restart, rng, k, out
        )


@numba.njit(cache=True, nogil=True, parallel=True)
def _walk_par(graph, seeds, num_walks, walk_length, restart, rng, k, out, nchunks):
    indptrs, indices, n = graph  # parfors cannot capture a nested tuple of arrays: flatten it
    for c in numba.prange(nchunks):
        g = (indptrs, indices, n)
        _walk_chunk(np.int64(c), nchunks, g, seeds, num_walks, walk_length, restart, rng, k, out)


def _uniform_tuple(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Read-only views of one dtype, so numba sees a homogeneous (run-time indexable) tuple."""
    dtype = np.result_type(*arrays)
    out = []
    for a in arrays:
        out.append(readonly(np.asarray(a).astype(dtype, copy=False)))  # copy on mixed widths
    return tuple(out)


def random_walk_topk(
    csrs: Sequence[tuple[np.ndarray, np.ndarray]],
    seeds: np.ndarray,
    num_walks: int = 200,
    walk_length: int = 4,
    restart: float = 0.5,
    k: int = 32,
    *,
    seed: int = 0,
    parallel: bool = True,
) -> Ragged:
    """Top-k most visited nodes (excluding the seed) per seed, scores = share of visits.

    `csrs` is the meta-path as (indptr, indices) per step, cycled once per hop; the last step
    must lead back to the seeds' node type (one CSR for a homogeneous graph). Neighbour ids are
    trusted, not range-checked (that would cost O(E) per call).
    """
    check_walk_params(num_walks, walk_length, restart, k)
    if not csrs:
        raise ValueError("csrs: the meta-path needs at least one step")
    n = len(csrs[0][0]) - 1
    seeds = check_seeds(seeds, n)
    s = len(seeds)
    nb, sc, cnt = np.zeros((s, k), np.int64), np.zeros((s, k), np.float64), np.zeros(s, np.int64)
    graph = (_uniform_tuple([c[0] for c in csrs]), _uniform_tuple([c[1] for c in csrs]), n)
    args = (graph, seeds, int(num_walks), int(walk_length), float(restart), np.uint64(seed % 2**64))
    if s:
        kernel = _walk_par if parallel else _walk_seq
        kernel(*args, k, (nb, sc, cnt), chunk_count(s, parallel))
    return compact(cnt, nb, sc)


def check_walk_params(num_walks: int, walk_length: int, restart: float, k: int) -> None:
    """Raise ValueError unless num_walks, walk_length, k >= 1 and 0 <= restart <= 1."""
    if int(num_walks) != num_walks or num_walks < 1:
        raise ValueError(f"num_walks must be an integer >= 1, got {num_walks}")
    if int(walk_length) != walk_length or walk_length < 1:
        raise ValueError(f"walk_length must be an integer >= 1, got {walk_length}")
    if not 0.0 <= restart <= 1.0:
        raise ValueError(f"restart must be a probability in [0, 1], got {restart}")
    check_k(k)


def _ends(step: Step) -> tuple[str, str]:
    (src, _, dst), direction = step
    if direction not in ("out", "in"):
        raise ValueError(f"direction must be 'out' or 'in', got {direction!r}")
    return (src, dst) if direction == "out" else (dst, src)


@dataclass(frozen=True)
class RandomWalkSampler:
    """PinSage-style neighbourhoods along a meta-path of (edge type, direction) steps.

    `sample` returns (subgraph, scores) as `PPRSampler` does, under the synthetic edge type
    (t, "walk", t) where t is the seeds' node type, with edge ids -1.
    """

    store: GraphStore
    meta_path: Sequence[Step]
    num_walks: int = 200
    walk_length: int = 4
    restart: float = 0.5
    k: int = 32
    seed: int = 0
    parallel: bool = True
    node_type: str = field(init=False)

    def __post_init__(self) -> None:
        check_walk_params(self.num_walks, self.walk_length, self.restart, self.k)
        steps = [(tuple(et), d) for et, d in self.meta_path]
        if not steps:
            raise ValueError("meta_path needs at least one (edge_type, direction) step")
        for et, _ in steps:
            self.store.edge_meta(et)  # KeyError naming the known types
        ends = [_ends(st) for st in steps]
        for i, (_, dst) in enumerate(ends):
            nxt = ends[(i + 1) % len(ends)][0]
            if dst != nxt:
                raise ValueError(
                    f"meta_path step {i} ends at '{dst}' but the next step starts at '{nxt}'; "
                    "the path must chain and lead back to its start type"
                )
        object.__setattr__(self, "meta_path", tuple(steps))
        object.__setattr__(self, "node_type", ends[0][0])

    @classmethod
    def homogeneous(cls, store: GraphStore, edge_type: EdgeType, direction: str = "out", **kw):
        """Walks along one edge type whose ends have the same node type."""
        return cls(store, [(edge_type, direction)], **kw)

    def sample(self, seeds: np.ndarray) -> tuple[SampledSubgraph, np.ndarray]:
        """Top-k visited nodes of each seed as a subgraph, plus the importance of each edge."""
        csrs = [self.store.csr(et, d) for et, d in self.meta_path]
        o = self
        offsets, nb, sc = random_walk_topk(
            [(c.indptr, c.indices) for c in csrs], seeds, o.num_walks, o.walk_length, o.restart,
            o.k, seed=o.seed, parallel=o.parallel,
        )  # fmt: skip
        seeds = check_seeds(seeds, len(csrs[0].indptr) - 1)
        return to_subgraph(seeds, offsets, nb, self.node_type, "walk"), sc
