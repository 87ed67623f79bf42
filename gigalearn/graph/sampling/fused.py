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

from gigalearn.graph.sampling.draws import new_bitmap
from gigalearn.graph.sampling.uniform import (
    _LAG,
    RELABEL_AHEAD,
    _draw_row,
    _extent_pass,
    _rows,
    prefetch,
)

MAX_FANOUT = 64  # the uniform kernels' Floyd path; larger fan-outs take the general path
FUSED_MAX_FRONTIER = 16384  # nodes: with threads on, larger possible frontiers go per hop
# Node types of up to this many nodes (a 512 KB int32 scratch, which stays in L2) relabel each
# row as it is gathered: one pass less. Larger scratches are relabelled in a pass of their own,
# prefetched ahead, since a fused loop would wait on each slot's miss (measured: 1.4x slower on
# a 1 M-node graph, 8% faster on MovieLens-1M's 9,923 nodes).
FUSE_RELABEL_MAX_NODES = 1 << 17


@numba.njit(inline="always")
def _grow(a: np.ndarray, need: np.int64, used: np.int64 = -1) -> np.ndarray:
    """`a`, or a copy at least twice as long when `need` entries do not fit (of `a`, only the
    first `used` entries are copied when given: the rest was never written)."""
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    keep = a.shape[0] if used < 0 else used
    b[:keep] = a[:keep]
    return b


@numba.njit(inline="always")
def _local_id(v, local, nodes, count):
    """(v's batch-local id, new count): an unseen v gets the next id and is appended to
    `nodes`. Branch-free, as in hop.relabel_hop: whether v is new is hard to predict."""
    lv = np.int64(local[v])
    new = lv < 0
    lv = count if new else lv
    local[v] = lv
    nodes[count] = v
    return lv, count + new


@numba.njit(inline="always")
def _relabel_hop(nbrs, local, count, nodes, src, e0):
    """Local ids of a hop's neighbours into src[e0:]; unseen nodes are appended to `nodes`."""
    total = nbrs.shape[0]
    for j in range(total):
        if j + RELABEL_AHEAD < total:
            prefetch(local, nbrs[j + RELABEL_AHEAD])
        src[e0 + j], count = _local_id(nbrs[j], local, nodes, count)
    return count


@numba.njit(inline="always")
def _gather_relabel_row(i, indices, eid, offsets, pos, local, count, nodes, src, e0):
    """`_gather_row` and `_relabel_hop` for row i at once (a scratch that stays in cache)."""
    for q in range(offsets[i], offsets[i + 1]):
        p = pos[q]
        v = indices[p]
        if eid.shape[0] > 0:
            pos[q] = eid[p]
        src[e0 + q], count = _local_id(v, local, nodes, count)
    return count


@numba.njit(inline="always")
def _hop(indptr, indices, eid, frontier, seed, h, offsets, pos, nbrs, local, count, nodes, src,
         e0, bits):  # fmt: skip
    """Draw, gather and relabel one hop whose row offsets are filled in; returns the count."""
    n = frontier.shape[0]
    if local.shape[0] > FUSE_RELABEL_MAX_NODES:
        _rows(indptr, indices, eid, frontier, seed, h, offsets, pos, nbrs, 0, n, bits)
        return _relabel_hop(nbrs[: offsets[n]], local, count, nodes, src, e0)
    for i in range(n + _LAG):
        if i < n:
            _draw_row(i, indptr, indices, eid, frontier, seed, h, offsets, pos, bits)
        if i >= _LAG:
            count = _gather_relabel_row(
                i - _LAG, indices, eid, offsets, pos, local, count, nodes, src, e0
            )
    return count


@numba.njit(inline="always")
def _khop(indptr, indices, eid, seeds, fanouts, seed, local, nodes, buf, ids, offsets, nbrs):
    """Every hop: node ids into `nodes`, neighbours' local ids into buf[:E], CSR positions
    (then edge ids) into ids[:E]; each array grown as needed, and returned."""
    n_seeds = seeds.shape[0]
    hops = fanouts.shape[0]
    hop_nodes = np.zeros(hops + 1, dtype=np.int64)
    hop_edges = np.zeros(hops, dtype=np.int64)
    bits = new_bitmap()
    nodes = _grow(nodes, n_seeds)
    count = 0
    for s in seeds:
        if local[s] < 0:
            local[s] = count
            nodes[count] = s
            count += 1
    hop_nodes[0] = count
    f_start, e_total, o_base = 0, 0, 0
    if count == n_seeds:  # else duplicate seeds: the caller raises
        for h in range(hops):
            n = count - f_start
            # every hop's row offsets are kept: the edges' owners are written from them
            offsets = _grow(offsets, o_base + n + 1)
            hop_offsets = offsets[o_base : o_base + n + 1]
            hop_offsets[0] = 0
            frontier = nodes[f_start:count]
            _extent_pass(indptr, frontier, fanouts[h], 0, n, hop_offsets)
            for i in range(n):
                hop_offsets[i + 1] += hop_offsets[i]
            e = hop_offsets[n]
            end = e_total + e
            nodes, nbrs = _grow(nodes, count + e), _grow(nbrs, e)
            # buf: room for the owners too
            buf, ids = _grow(buf, 2 * end, e_total), _grow(ids, end, e_total)
            frontier = nodes[f_start:count]  # nodes may have moved
            # draw into ids (CSR positions, then edge ids), as uniform_hop_serial does
            before = count
            count = _hop(indptr, indices, eid, frontier, seed, h, hop_offsets, ids[e_total:end],
                         nbrs, local, count, nodes, buf, e_total, bits)  # fmt: skip
            hop_edges[h] = e
            hop_nodes[h + 1] = count - before
            e_total = end
            f_start = before
            o_base += n + 1
            if count == before:
                break
    for v in nodes[:count]:
        local[v] = -1  # leave the scratch as it was found
    return count, e_total, hop_nodes, hop_edges, nodes, buf, ids, offsets, nbrs


@numba.njit(inline="always")
def _write_owners(out, hop_nodes, hop_edges, offsets):
    """Each edge's frontier node (local id) into `out`, from the hops' row offsets."""
    f_start, e0, o_base = 0, 0, 0
    for h in range(hop_edges.shape[0]):
        n = hop_nodes[h]
        for i in range(n):
            for j in range(offsets[o_base + i], offsets[o_base + i + 1]):
                out[e0 + j] = f_start + i
        f_start += n
        e0 += hop_edges[h]
        o_base += n + 1


@numba.njit(inline="always")
def _fit(a: np.ndarray, n: np.int64) -> np.ndarray:
    """a[:n], copied into an array of its own when that would leave much of `a` unused."""
    return a[:n] if 4 * n >= 3 * a.shape[0] else a[:n].copy()


@numba.njit(inline="always")
def _edge_capacity(n_seeds, fanouts, last):
    """Room for a batch's edges: a quarter more than the last batch had (the arrays grow if a
    batch needs more), never more than the fan-outs allow."""
    bound, width = 0, n_seeds
    for f in fanouts:
        if f < 0:
            bound = 2**62  # a whole row per node: no bound
            break
        width *= f
        bound += width
    return max(min(bound, last + last // 4 + 1024), 1)


@numba.njit(cache=True, nogil=True)
def sample_uniform_khop(indptr, indices, eid, seeds, fanouts, seed, local, incoming, with_ids, ws):
    """The whole k-hop sample of `seeds` (distinct global ids) with per-hop `fanouts` (each in
    1..MAX_FANOUT, or -1 for all): the draws of `uniform.uniform_hop_serial`, hop after hop.

    `local` is the node type's relabelling scratch (all -1; left so). `ws` is a workspace of
    int64 arrays (see `new_workspace`) that is grown as needed and returned for the next call:
    reusing it spares the page faults of fresh buffers, which cost as much as the hops' random
    reads. The edge index and edge ids are written straight into the arrays returned (copying
    them out of the workspace cost 2 ns per edge). Returns (node ids in local-id order,
    edge_index [2, E], edge ids — CSR positions when `eid` is empty —, new nodes per hop
    (hop 0: seeds), edges per hop, workspace); the edge ids are empty unless `with_ids`. Fewer
    node ids than seeds means the seeds were not distinct.
    """
    nodes, pos, offsets, nbrs, sizes = ws
    cap = _edge_capacity(seeds.shape[0], fanouts, sizes[0])
    buf = np.empty(2 * cap, dtype=np.int64)  # the edge_index: neighbours, then owners
    ids = np.empty(cap, dtype=np.int64) if with_ids else pos
    count, e, hop_nodes, hop_edges, nodes, buf, ids, offsets, nbrs = _khop(
        indptr, indices, eid, seeds, fanouts, np.uint64(seed), local, nodes, buf, ids, offsets,
        nbrs,
    )  # fmt: skip
    sizes[0] = e
    if not with_ids:
        pos = ids  # (grown)
    if e > 0:
        if incoming:  # in-sampling: messages flow from the neighbours to the frontier
            _write_owners(buf[e : 2 * e], hop_nodes, hop_edges, offsets)
        else:
            buf[e : 2 * e] = buf[:e]
            _write_owners(buf[:e], hop_nodes, hop_edges, offsets)
    # the arrays returned keep their buffers alive: no more than a quarter of them unused
    edge_index = _fit(buf, 2 * e).reshape((2, e))
    out_ids = _fit(ids, e) if with_ids else ids[:0].copy()
    return nodes[:count].copy(), edge_index, out_ids, hop_nodes, hop_edges, (
        nodes, pos, offsets, nbrs, sizes,
    )  # fmt: skip


def new_workspace() -> tuple[np.ndarray, ...]:
    """An empty workspace for `sample_uniform_khop` (it grows to the batches it serves)."""
    return (*(np.empty(64, dtype=np.int64) for _ in range(4)), np.zeros(1, dtype=np.int64))
