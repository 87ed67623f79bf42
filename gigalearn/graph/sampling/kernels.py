"""Numba kernels for one hop of neighbour sampling over a CSR, and batch-local relabelling.

The draws (see `draws`) are counter-based, so the thread-parallel kernel returns exactly what
the sequential one does.
"""

from __future__ import annotations

import numba
import numpy as np

from gigalearn.graph.sampling.draws import (
    _below,
    _uniform,
    floyd_compare,
    node_state,
)

NO_TIME = np.iinfo(np.int64).max


@numba.njit(inline="always")
def _valid_count(lo, hi, eid, edge_time, limit) -> np.int64:
    if edge_time.shape[0] == 0:
        return hi - lo
    c = 0
    for p in range(lo, hi):
        e = p if eid.shape[0] == 0 else eid[p]
        if edge_time[e] < limit:
            c += 1
    return c


@numba.njit(inline="always")
def _position(lo, hi, eid, edge_time, limit, j) -> np.int64:
    """CSR position of the j-th valid edge of a row (all edges valid without edge times)."""
    if edge_time.shape[0] == 0:
        return lo + j
    for p in range(lo, hi):
        e = p if eid.shape[0] == 0 else eid[p]
        if edge_time[e] < limit:
            if j == 0:
                return p
            j -= 1
    return -1


@numba.njit(inline="always")
def _sample_row(state, lo, hi, valid, k, replace, eid, edge_time, limit, weight, out, base):
    """Fill out[base:base+k] with CSR positions sampled from one row."""
    if weight.shape[0] > 0:
        # Efraimidis–Spirakis: the k largest keys u^(1/w) are a weighted sample w/o replacement
        # (with replacement: k independent draws by inverse CDF)
        if replace:
            total = 0.0
            for p in range(lo, hi):
                e = p if eid.shape[0] == 0 else eid[p]
                if edge_time.shape[0] == 0 or edge_time[e] < limit:
                    total += weight[e]
            for i in range(k):
                state, u = _uniform(state)
                target, acc, chosen = u * total, 0.0, -1
                for p in range(lo, hi):
                    e = p if eid.shape[0] == 0 else eid[p]
                    if edge_time.shape[0] == 0 or edge_time[e] < limit:
                        acc += weight[e]
                        chosen = p
                        if acc > target:
                            break
                out[base + i] = chosen
            return state
        keys = np.full(k, -1.0)
        filled = 0
        for p in range(lo, hi):
            e = p if eid.shape[0] == 0 else eid[p]
            if edge_time.shape[0] > 0 and edge_time[e] >= limit:
                continue
            state, u = _uniform(state)
            w = weight[e]
            key = u ** (1.0 / w) if w > 0 else -0.5  # zero weight: only when nothing else left
            if filled < k:
                out[base + filled] = p
                keys[filled] = key
                filled += 1
            else:
                m = 0
                for i in range(1, k):
                    if keys[i] < keys[m]:
                        m = i
                if key > keys[m]:
                    keys[m] = key
                    out[base + m] = p
        return state
    if replace:
        for i in range(k):
            state, j = _below(state, valid)
            out[base + i] = _position(lo, hi, eid, edge_time, limit, j)
        return state
    if k == valid:
        for i in range(k):
            out[base + i] = _position(lo, hi, eid, edge_time, limit, i)
        return state
    if k <= 64:
        # Floyd's algorithm: k draws whatever the degree (one pass over a hub's row would cost
        # a random draw per neighbour); the same picks as the uniform kernels' bitmap test
        floyd_compare(state, 0, valid, k, out, base)
    else:
        # large fan-outs: selection sampling (Knuth's algorithm S), one pass over the row
        chosen = 0
        for j in range(valid):
            state, u = _uniform(state)
            if (valid - j) * u < k - chosen:
                out[base + chosen] = j
                chosen += 1
                if chosen == k:
                    break
    for i in range(k):
        out[base + i] = _position(lo, hi, eid, edge_time, limit, out[base + i])
    return state


@numba.njit(inline="always")
def _count(i, indptr, eid, frontier, frontier_time, fanout, replace, edge_time, counts):
    u = frontier[i]
    limit = NO_TIME if frontier_time.shape[0] == 0 else frontier_time[i]
    valid = _valid_count(indptr[u], indptr[u + 1], eid, edge_time, limit)
    if valid > 0:
        counts[i] = valid if fanout < 0 else (fanout if replace else min(fanout, valid))


@numba.njit(inline="always")
def _draw(
    i,
    indptr,
    eid,
    frontier,
    frontier_time,
    fanout,
    replace,
    weight,
    edge_time,
    seed,
    hop,
    counts,
    offsets,
    pos,
):
    u = frontier[i]
    lo, hi = indptr[u], indptr[u + 1]
    k = counts[i]
    if weight.shape[0] == 0 and edge_time.shape[0] == 0 and not replace and k <= 64:
        # the common case, specialised: no per-edge checks, and no generator at all for the
        # many rows that are taken whole (same draws as the general path)
        base = offsets[i]
        if hi - lo > k:
            state = node_state(np.uint64(seed), np.int64(hop), np.int64(u))
            floyd_compare(state, np.int64(lo), hi - lo, k, pos, base)
        else:
            for q in range(k):
                pos[base + q] = lo + q
        return
    limit = NO_TIME if frontier_time.shape[0] == 0 else frontier_time[i]
    valid = _valid_count(lo, hi, eid, edge_time, limit)
    state = node_state(np.uint64(seed), np.int64(hop), np.int64(u))
    _sample_row(
        state,
        lo,
        hi,
        valid,
        counts[i],
        replace and fanout >= 0,
        eid,
        edge_time,
        limit,
        weight,
        pos,
        offsets[i],
    )


@numba.njit(inline="always")
def _gather(j, indices, eid, pos, nbrs, eids):
    p = pos[j]
    nbrs[j] = indices[p]
    eids[j] = p if eid.shape[0] == 0 else eid[p]


@numba.njit(inline="always")
def _offsets_of(counts):
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    for i in range(counts.shape[0]):
        offsets[i + 1] = offsets[i] + counts[i]
    return offsets


# Two separate functions, not one compiled twice: numba's on-disk cache does not key on the
# `parallel` flag, so a shared body could load the threaded build where the serial one was meant
# (and a threaded build in a forked worker is the trap KHopOptions.parallel avoids).
@numba.njit(parallel=True, cache=True)
def sample_neighbors_parallel(
    indptr, indices, eid, frontier, frontier_time, fanout, replace, weight, edge_time, seed, hop
):
    """One hop for every frontier node, threads across nodes: (offsets, neighbours, edge ids)."""
    n = frontier.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for i in numba.prange(n):
        _count(i, indptr, eid, frontier, frontier_time, fanout, replace, edge_time, counts)
    offsets = _offsets_of(counts)
    pos = np.empty(offsets[n], dtype=np.int64)
    for i in numba.prange(n):
        if counts[i] > 0:
            _draw(
                i,
                indptr,
                eid,
                frontier,
                frontier_time,
                fanout,
                replace,
                weight,
                edge_time,
                seed,
                hop,
                counts,
                offsets,
                pos,
            )
    nbrs = np.empty(pos.shape[0], dtype=np.int64)
    eids = np.empty(pos.shape[0], dtype=np.int64)
    for j in numba.prange(pos.shape[0]):
        _gather(j, indices, eid, pos, nbrs, eids)
    return offsets, nbrs, eids


@numba.njit(cache=True, nogil=True)
def sample_neighbors_serial(
    indptr, indices, eid, frontier, frontier_time, fanout, replace, weight, edge_time, seed, hop
):
    """The same as `sample_neighbors_parallel`, on one thread (identical results)."""
    n = frontier.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for i in range(n):
        _count(i, indptr, eid, frontier, frontier_time, fanout, replace, edge_time, counts)
    offsets = _offsets_of(counts)
    pos = np.empty(offsets[n], dtype=np.int64)
    for i in range(n):
        if counts[i] > 0:
            _draw(
                i,
                indptr,
                eid,
                frontier,
                frontier_time,
                fanout,
                replace,
                weight,
                edge_time,
                seed,
                hop,
                counts,
                offsets,
                pos,
            )
    nbrs = np.empty(pos.shape[0], dtype=np.int64)
    eids = np.empty(pos.shape[0], dtype=np.int64)
    for j in range(pos.shape[0]):
        _gather(j, indices, eid, pos, nbrs, eids)
    return offsets, nbrs, eids


@numba.njit(cache=True, nogil=True)
def relabel(nodes: np.ndarray, local: np.ndarray, count: np.int64, added: np.ndarray):
    """Map global ids to batch-local ids, giving unseen nodes the next ids.

    `local` is a per-node-type scratch (-1 = unseen) that the caller resets after the batch;
    `added` receives the newly seen global ids. Returns (local ids, new count, number added).
    """
    out = np.empty(nodes.shape[0], dtype=np.int64)
    n_added = 0
    for i in range(nodes.shape[0]):
        v = nodes[i]
        if local[v] < 0:
            local[v] = count
            added[n_added] = v
            n_added += 1
            count += 1
        out[i] = local[v]
    return out, count, n_added


@numba.njit(cache=True)
def relabel_disjoint(nodes, roots, n_nodes, table, count, added, added_roots):
    """Like `relabel`, keyed by (root seed, node): each seed gets its own copy of a node, so
    per-seed constraints (a seed's time) never leak through a node shared with another seed."""
    out = np.empty(nodes.shape[0], dtype=np.int64)
    n_added = 0
    for i in range(nodes.shape[0]):
        key = roots[i] * n_nodes + nodes[i]
        if key in table:
            out[i] = table[key]
        else:
            table[key] = count
            added[n_added] = nodes[i]
            added_roots[n_added] = roots[i]
            out[i] = count
            n_added += 1
            count += 1
    return out, count, n_added


@numba.njit(cache=True, nogil=True)
def has_edges(indptr, indices, u, v):
    """Whether each (u[i], v[i]) is an edge, by binary search in u's row (rows sorted by id)."""
    out = np.zeros(u.shape[0], dtype=np.bool_)
    for i in range(u.shape[0]):
        lo, hi = indptr[u[i]], indptr[u[i] + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if indices[mid] < v[i]:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo < indptr[u[i] + 1] and indices[lo] == v[i]
    return out
