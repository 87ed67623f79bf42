"""Every hop of a homogeneous, uniform k-hop sample in one compiled call.

`KHopSampler` takes this path when there is one edge type between nodes of one type, and the
sampling is uniform, without replacement and not disjoint (PyG's NeighborLoader default). It
returns exactly what the general path returns, hop by hop the same kernels' draws, but without
the Python between hops (per-hop arrays, frontier bookkeeping, concatenations), which on a
batch of 1,024 seeds cost as much as a whole hop of sampling.

The frontier of hop h + 1 is the nodes hop h added, so its local ids are a range and the node
list itself is the frontier: nothing is copied between hops.

It runs on one thread: calling numba's threaded kernel from inside a compiled function crashed
(a null call in the cached build), and on the 2-core machine the threaded hop was slower than
the serial one for frontiers of ~5 k nodes anyway. `KHopSampler` keeps the threaded per-hop
path for batches whose frontier can grow past `FUSED_MAX_FRONTIER` nodes.
"""

from __future__ import annotations

import numba
import numpy as np

from gigalearn.graph.sampling.uniform import RELABEL_AHEAD, _extent_pass, _rows, prefetch

MAX_FANOUT = 64  # the uniform kernels' Floyd path; larger fan-outs take the general path
FUSED_MAX_FRONTIER = 16384  # nodes: with threads on, larger possible frontiers go per hop


@numba.njit(inline="always")
def _grow(a: np.ndarray, need: np.int64) -> np.ndarray:
    """`a`, or a copy at least twice as long when `need` entries do not fit."""
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@numba.njit(inline="always")
def _relabel_into(nbrs, offsets, f_start, local, count, nodes, src, dst, e0):
    """Local ids of a hop's neighbours into src[e0:] and their owners (frontier local ids
    f_start, f_start + 1, ...) into dst[e0:]; unseen nodes are appended to `nodes`."""
    total = nbrs.shape[0]
    for i in range(offsets.shape[0] - 1):
        owner = f_start + i
        for j in range(offsets[i], offsets[i + 1]):
            if j + RELABEL_AHEAD < total:
                prefetch(local, nbrs[j + RELABEL_AHEAD])
            v = nbrs[j]
            lv = np.int64(local[v])
            new = lv < 0  # branch-free, as in hop.relabel_hop
            lv = count if new else lv
            local[v] = lv
            nodes[count] = v
            count += new
            src[e0 + j] = lv
            dst[e0 + j] = owner
    return count


@numba.njit(inline="always")
def _khop(indptr, indices, eid, seeds, fanouts, seed, local, ws):
    nodes, src, dst, ids, offsets, nbrs = ws
    n_seeds = seeds.shape[0]
    hops = fanouts.shape[0]
    hop_nodes = np.zeros(hops + 1, dtype=np.int64)
    hop_edges = np.zeros(hops, dtype=np.int64)
    nodes = _grow(nodes, n_seeds)
    count = 0
    for s in seeds:
        if local[s] < 0:
            local[s] = count
            nodes[count] = s
            count += 1
    hop_nodes[0] = count
    f_start, e_total = 0, 0
    if count == n_seeds:  # else duplicate seeds: the caller raises
        for h in range(hops):
            n = count - f_start
            offsets = _grow(offsets, n + 1)
            offsets[0] = 0
            frontier = nodes[f_start:count]
            _extent_pass(indptr, frontier, fanouts[h], 0, n, offsets)
            for i in range(n):
                offsets[i + 1] += offsets[i]
            e = offsets[n]
            end = e_total + e
            nodes, nbrs = _grow(nodes, count + e), _grow(nbrs, e)
            src, dst, ids = _grow(src, end), _grow(dst, end), _grow(ids, end)
            frontier = nodes[f_start:count]  # nodes may have moved
            # draw into ids (CSR positions, then edge ids) and nbrs, as uniform_hop_serial does
            pos = ids[e_total:end]
            _rows(indptr, indices, eid, frontier, seed, h, offsets, pos, nbrs, 0, n)
            before = count
            count = _relabel_into(
                nbrs[:e], offsets[: n + 1], f_start, local, count, nodes, src, dst, e_total
            )
            hop_edges[h] = e
            hop_nodes[h + 1] = count - before
            e_total = end
            f_start = before
            if count == before:
                break
    for v in nodes[:count]:
        local[v] = -1  # leave the scratch as it was found
    return count, e_total, hop_nodes, hop_edges, (nodes, src, dst, ids, offsets, nbrs)


@numba.njit(cache=True)
def sample_uniform_khop(indptr, indices, eid, seeds, fanouts, seed, local, incoming, with_ids, ws):
    """The whole k-hop sample of `seeds` (distinct global ids) with per-hop `fanouts` (each in
    1..MAX_FANOUT, or -1 for all): the draws of `uniform.uniform_hop_serial`, hop after hop.

    `local` is the node type's relabelling scratch (all -1; left so). `ws` is a workspace of
    six int64 arrays (any sizes; see `new_workspace`) that is grown as needed and returned for
    the next call: reusing it spares the page faults of fresh buffers, which cost as much as
    the hops' random reads. Returns (node ids in local-id order, edge_index [2, E], edge ids —
    CSR positions when `eid` is empty —, new nodes per hop (hop 0: seeds), edges per hop,
    workspace); the edge ids are empty unless `with_ids`. Fewer node ids than seeds means the
    seeds were not distinct.
    """
    count, e, hop_nodes, hop_edges, ws = _khop(
        indptr, indices, eid, seeds, fanouts, np.uint64(seed), local, ws
    )
    nodes, src, dst, ids, _, _ = ws
    edge_index = np.empty((2, e), dtype=np.int64)
    a, b = (0, 1) if incoming else (1, 0)  # in-sampling: messages flow to the frontier
    edge_index[a] = src[:e]
    edge_index[b] = dst[:e]
    out_ids = ids[:e].copy() if with_ids else ids[:0].copy()
    return nodes[:count].copy(), edge_index, out_ids, hop_nodes, hop_edges, ws


def new_workspace() -> tuple[np.ndarray, ...]:
    """An empty workspace for `sample_uniform_khop` (it grows to the batches it serves)."""
    return tuple(np.empty(64, dtype=np.int64) for _ in range(6))
