"""The common hop, specialised: uniform sampling without replacement, no weights, no edge times.

It draws exactly what `kernels.sample_neighbors_serial` draws (same counter-based generator,
same Floyd positions), but is organised around the memory system rather than the arithmetic:

- a first pass over the frontier reads each row's extent (`indptr`), prefetching rows ahead;
- a second, software-pipelined pass draws row i's positions, *prefetches* the `indices` (and
  edge-id) entries they point at, and gathers row i - LAG, whose lines have arrived meanwhile.

So the misses of many rows are in flight at once, which the plain loops did not achieve: a row
is a few dependent steps (extent, draw, gather) and the CPU's own look-ahead covers barely one.
`hop.relabel_hop` prefetches the relabelling scratch the same way.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from gigalearn.graph.sampling.draws import floyd_offsets, new_bitmap, node_state

_INDPTR_AHEAD = 16  # rows: prefetch distance of the extent pass
_LAG = 4  # rows: how far the gather trails the draws (and their prefetches)
_CHUNK = 512  # rows per task of the threaded kernel
RELABEL_AHEAD = 64  # edges: prefetch distance of the relabelling scratch (hop.relabel_hop);
# 16 left ~1.5 ns per edge of the scratch's L3 latency exposed on a 1 M-node graph


@intrinsic
def prefetch(typingctx, arr, idx):
    """`prefetch(a, i)`: hint the CPU to fetch the cache line of `a[i]` (llvm.prefetch: read,
    high locality). No bounds check and never a fault: any index is allowed."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = builder.bitcast(builder.gep(ary.data, [i]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


@numba.njit(inline="always")
def _extent_pass(indptr, frontier, fanout, start, stop, offsets):
    """offsets[i + 1] = number of edges row i yields (not yet summed), rows [start, stop)."""
    for i in range(start, stop):
        if i + _INDPTR_AHEAD < stop:
            prefetch(indptr, frontier[i + _INDPTR_AHEAD])
            prefetch(indptr, frontier[i + _INDPTR_AHEAD] + 1)
        u = frontier[i]
        d = np.int64(indptr[u + 1]) - np.int64(indptr[u])
        offsets[i + 1] = d if fanout < 0 else min(d, fanout)


@numba.njit(inline="always")
def _draw_row(i, indptr, indices, eid, frontier, seed, hop, offsets, pos, bits):
    """Row i's CSR positions into pos[offsets[i]:offsets[i + 1]], and a prefetch of each
    (`bits`: the thread's Floyd bitmap)."""
    u = frontier[i]
    lo = np.int64(indptr[u])
    deg = np.int64(indptr[u + 1]) - lo
    base = offsets[i]
    k = offsets[i + 1] - base
    if k == deg:  # the whole row: no generator; prefetch its (at most few) lines
        for q in range(k):
            pos[base + q] = lo + q
        for q in range(0, k, 8):
            prefetch(indices, lo + q)
            if eid.shape[0] > 0:
                prefetch(eid, lo + q)
        return
    state = node_state(seed, hop, np.int64(u))
    floyd_offsets(state, lo, deg, k, pos, base, bits)
    for q in range(base, base + k):
        prefetch(indices, pos[q])
        if eid.shape[0] > 0:
            prefetch(eid, pos[q])


@numba.njit(inline="always")
def _gather_row(i, indices, eid, offsets, pos, nbrs):
    """Neighbours of row i's positions; positions become edge ids (kept when there are none)."""
    for q in range(offsets[i], offsets[i + 1]):
        p = pos[q]
        nbrs[q] = indices[p]
        if eid.shape[0] > 0:
            pos[q] = eid[p]


@numba.njit(inline="always")
def _rows(indptr, indices, eid, frontier, seed, hop, offsets, pos, nbrs, start, stop, bits):
    """Draw and gather rows [start, stop), the gather trailing the draws by _LAG rows."""
    for i in range(start, stop + _LAG):
        if i < stop:
            _draw_row(i, indptr, indices, eid, frontier, seed, hop, offsets, pos, bits)
        if i - _LAG >= start:
            _gather_row(i - _LAG, indices, eid, offsets, pos, nbrs)


@numba.njit(cache=True, nogil=True)
def uniform_hop_serial(indptr, indices, eid, frontier, fanout, seed, hop):
    """One uniform hop without replacement (fan-out <= 64, or -1 for all):
    (offsets, neighbours, edge ids); what `kernels.sample_neighbors_serial` returns."""
    n = frontier.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    _extent_pass(indptr, frontier, fanout, 0, n, offsets)
    for i in range(n):
        offsets[i + 1] += offsets[i]
    pos = np.empty(offsets[n], dtype=np.int64)
    nbrs = np.empty(offsets[n], dtype=np.int64)
    s, h = np.uint64(seed), np.int64(hop)
    _rows(indptr, indices, eid, frontier, s, h, offsets, pos, nbrs, 0, n, new_bitmap())
    return offsets, nbrs, pos


@numba.njit(parallel=True, cache=True)
def uniform_hop_parallel(indptr, indices, eid, frontier, fanout, seed, hop):
    """`uniform_hop_serial` with threads over chunks of rows (identical results)."""
    n = frontier.shape[0]
    chunks = (n + _CHUNK - 1) // _CHUNK
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for c in numba.prange(chunks):
        _extent_pass(indptr, frontier, fanout, c * _CHUNK, min(n, (c + 1) * _CHUNK), offsets)
    for i in range(n):
        offsets[i + 1] += offsets[i]
    pos = np.empty(offsets[n], dtype=np.int64)
    nbrs = np.empty(offsets[n], dtype=np.int64)
    s, h = np.uint64(seed), np.int64(hop)
    for c in numba.prange(chunks):
        start, stop = c * _CHUNK, min(n, (c + 1) * _CHUNK)
        # a bitmap per task: tasks run concurrently
        _rows(indptr, indices, eid, frontier, s, h, offsets, pos, nbrs, start, stop, new_bitmap())
    return offsets, nbrs, pos
