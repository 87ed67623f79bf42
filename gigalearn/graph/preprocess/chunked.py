"""Out-of-core edge assembly: both CSRs built chunk by chunk from an EdgeSpill into .npy files.

The result is the same, array for array, as the in-memory `assemble_edges`; only the peak
memory differs. The steps, each a pass over chunks of `chunk_edges` edges:

1. counting sort by destination: the spill's in-degrees give the offsets, each chunk claims
   its positions with a running cursor (stable) and scatters src / time / weight there, one
   column per pass;
2. per segment of whole destination rows: sort each row's edges by source (stable), order
   parallel edges by (time, weight), apply the duplicate policy and compact in place;
3. dst from the final offsets; the out-CSR by a second counting sort over src.

Only the array a scatter pass writes is memory-mapped (its pages stay resident while it is
written); every other read and write is positional file I/O of one chunk, whose pages stay in
the page cache rather than in the process. So the process holds at most one output array plus
one chunk's temporaries, never a copy of the whole edge table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gigalearn.common.errors import DataError
from gigalearn.graph.config import EdgeConfig
from gigalearn.graph.preprocess.csr import (
    claim_positions,
    count_into,
    offsets_dtype,
    order_ties,
    sort_runs_by,
)
from gigalearn.graph.preprocess.ids import IdIndex
from gigalearn.graph.preprocess.spill import EdgeSpill

# Edges per chunk: ~40 bytes of temporaries each, so 4 M edges keep a chunk near 160 MB.
CHUNK_EDGES = 1 << 22


def _open(path: Path, dtype: np.dtype, n: int) -> np.memmap:
    # the same header np.save writes, so the files are byte-identical to the in-memory build's
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n,))


def _shrink(path: Path, n: int) -> None:
    """Cut a 1-D .npy file to its first `n` elements (after dropping duplicates) in place."""
    fmt = np.lib.format
    with open(path, "r+b") as fh:
        version = fmt.read_magic(fh)
        read, write = (
            (fmt.read_array_header_1_0, fmt.write_array_header_1_0)
            if version == (1, 0)
            else (fmt.read_array_header_2_0, fmt.write_array_header_2_0)
        )
        _, fortran, dtype = read(fh)
        data_start = fh.tell()
        fh.seek(0)
        # numpy pads 1-D headers for the shape to grow to 21 digits, so the header length
        # does not change and the data stays where it is
        header = {"descr": fmt.dtype_to_descr(dtype), "fortran_order": fortran, "shape": (n,)}
        write(fh, header)
        if fh.tell() != data_start:
            raise RuntimeError(f"{path}: .npy header changed length when shrinking")
        fh.truncate(data_start + n * dtype.itemsize)


def _segments(indptr: np.ndarray, chunk: int) -> list[tuple[int, int]]:
    """Source-row ranges [u0, u1) holding about `chunk` edges each (a heavier row stands alone)."""
    out, u, n = [], 0, len(indptr) - 1
    while u < n:
        v = int(np.searchsorted(indptr, indptr[u] + chunk, side="right")) - 1
        v = min(max(v, u + 1), n)
        out.append((u, v))
        u = v
    return out


def _originals(index: IdIndex, dense: np.ndarray) -> list:
    import pyarrow as pa

    return index.ids.take(pa.array(dense)).to_pylist()


def _check_filters(
    cfg: EdgeConfig, spill: EdgeSpill, index: dict[str, IdIndex], where: str
) -> dict[str, Any]:
    report: dict[str, Any] = {"rows_read": spill.rows_read, "dangling": spill.dangling}
    if spill.dangling and cfg.dangling == "error":
        raise DataError(
            f"{where}: {spill.dangling} edge(s) point to unknown nodes, e.g. (src, dst) = "
            f"{spill.dangling_examples}; add the nodes, or set `dangling: drop`"
        )
    if cfg.type[0] == cfg.type[2]:
        report["self_loops"] = spill.self_loops
        if spill.self_loops and cfg.self_loops == "error":
            ex = _originals(index[cfg.type[0]], np.asarray(spill.loop_examples[:5]))
            raise DataError(
                f"{where}: {spill.self_loops} self-loop(s), e.g. at node(s) {ex}; set "
                "`self_loops: drop` or `keep`"
            )
    if spill.count == 0:
        raise DataError(f"{where}: no edge is left after dropping dangling edges and self-loops")
    return report


class _NpyColumn:
    """A 1-D .npy file read and written by position (pread / pwrite), not memory-mapped: the
    pages it passes through stay in the page cache, not in the process's resident set."""

    def __init__(self, path: Path, dtype: np.dtype | None = None, n: int = 0) -> None:
        if dtype is not None:  # create it (sparse) with the header np.save would write
            _open(path, dtype, n).flush()
        self.path = path
        arr = np.load(path, mmap_mode="r")
        self.dtype, self.start = arr.dtype, arr.offset
        del arr

    def read(self, a: int, b: int) -> np.ndarray:
        return np.fromfile(
            self.path, dtype=self.dtype, count=b - a, offset=self.start + a * self.dtype.itemsize
        )

    def write(self, a: int, values: np.ndarray) -> None:
        with open(self.path, "r+b") as fh:
            fh.seek(self.start + a * self.dtype.itemsize)
            fh.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())


def _scatter(
    path: Path,
    dtype: np.dtype,
    n: int,
    chunk: int,
    offsets: np.ndarray,
    keys: Callable[[int, int], np.ndarray],
    values: Callable[[int, int], np.ndarray],
) -> None:
    """One counting-sort pass: element i (read a chunk at a time) goes to the next free slot of
    row keys[i]. One output array is mapped at a time, so at most its pages are resident."""
    out = _open(path, dtype, n)
    cursor = offsets[:-1].copy()
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        out[claim_positions(keys(a, b), cursor)] = values(a, b)
    out.flush()
    del out


def _order_rows(
    cfg: EdgeConfig,
    cols: dict[str, _NpyColumn],
    indptr: np.ndarray,
    index: dict[str, IdIndex],
    where: str,
    chunk: int,
) -> tuple[int, int, np.ndarray | None]:
    """Sort each destination row by (src, time, weight) and apply the duplicate policy, a
    segment of whole rows at a time, compacting in place. Returns (edges kept, duplicates, kept
    degrees if some were dropped)."""
    drop = cfg.duplicates == "drop"
    kept_degree = np.diff(indptr) if drop else None
    duplicates, write = 0, 0
    for u0, u1 in _segments(indptr, chunk):
        a, b = int(indptr[u0]), int(indptr[u1])
        local = {k: c.read(a, b) for k, c in cols.items()}
        starts = indptr[u0:u1] - a
        ends = indptr[u0 + 1 : u1 + 1] - a
        perm = np.arange(b - a, dtype=np.int64)
        sort_runs_by(perm, starts, ends, local["src"])
        sv = local["src"][perm]
        dup = np.zeros(b - a, dtype=bool)
        np.equal(sv[1:], sv[:-1], out=dup[1:])
        dup[starts[starts < b - a]] = False  # a row's first edge never repeats the previous row
        n_dup = int(dup.sum())
        duplicates += n_dup
        if n_dup:
            rows = np.repeat(np.arange(u0, u1), ends - starts)
            if cfg.duplicates == "error":
                at = np.flatnonzero(dup)[:5]
                s_index, d_index = index[cfg.type[0]], index[cfg.type[2]]
                pairs = list(
                    zip(_originals(s_index, sv[at]), _originals(d_index, rows[at]), strict=True)
                )
                raise DataError(
                    f"{where}: {n_dup}+ duplicate edge(s), e.g. {pairs}; set "
                    "`duplicates: drop` (keep the earliest) or `keep`"
                )
            keys = [local[k] for k in ("time", "weight") if k in local]
            if keys:
                order_ties(perm, dup, keys)
            if drop:
                perm = perm[~dup]
                kept_degree[u0:u1] = 0
                count_into(rows[~dup], kept_degree)
        for k, c in cols.items():
            c.write(write, local[k][perm])
        write += len(perm)
    return write, duplicates, (kept_degree if drop and duplicates else None)


def assemble_chunked(
    cfg: EdgeConfig,
    spill: EdgeSpill,
    index: dict[str, IdIndex],
    where: str,
    folder: Path,
    chunk: int = CHUNK_EDGES,
    step: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Write src, dst, both CSRs (and time / weight) of the spilled edges into `folder`.

    Returns (report with dtypes and counts, each kept edge's stream row if the spill kept them).
    """
    step = step or (lambda _msg: None)
    report = _check_filters(cfg, spill, index, where)
    s_index, d_index = index[cfg.type[0]], index[cfg.type[2]]
    n, n_src = spill.count, len(s_index)
    indptr = np.zeros(len(d_index) + 1, dtype=np.int64)
    np.cumsum(spill.in_degree, out=indptr[1:])

    # 1. counting sort by destination: one scatter pass per column
    step("out-of-core: counting sort by destination")
    names = ["src"] + [a for a in ("time", "weight", "row") if spill.has(a)]
    paths = {k: (spill.folder / "row.npy" if k == "row" else folder / f"{k}.npy") for k in names}
    for k in names:
        dst_keys = lambda a, b: spill.read("dst", a, b)  # noqa: E731
        _scatter(
            paths[k],
            spill.dtypes[k],
            n,
            chunk,
            indptr,
            dst_keys,
            lambda a, b, k=k: spill.read(k, a, b),
        )

    # 2. order each row by (src, time, weight); duplicates
    step("out-of-core: ordering rows")
    cols = {k: _NpyColumn(p) for k, p in paths.items()}
    kept, report["duplicates"], kept_degree = _order_rows(cfg, cols, indptr, index, where, chunk)
    if kept < n:
        for p in paths.values():
            _shrink(p, kept)
        np.cumsum(kept_degree, out=indptr[1:])
        n = kept
    eid_dtype = offsets_dtype(n)

    # 3. dst from the offsets; the out-CSR by a counting sort over src
    step("out-of-core: out-CSR")
    dst = _NpyColumn(folder / "dst.npy", d_index.dtype, n)
    for v0, v1 in _segments(indptr, chunk):
        dst.write(int(indptr[v0]), np.repeat(np.arange(v0, v1), np.diff(indptr[v0 : v1 + 1])))
    src = _NpyColumn(paths["src"])
    out_indptr = np.zeros(n_src + 1, dtype=np.int64)
    for a in range(0, n, chunk):
        count_into(src.read(a, min(a + chunk, n)), out_indptr[1:])
    np.cumsum(out_indptr, out=out_indptr)
    _scatter(
        folder / "out_eid.npy",
        eid_dtype,
        n,
        chunk,
        out_indptr,
        src.read,
        lambda a, b: np.arange(a, b, dtype=eid_dtype),
    )
    _scatter(folder / "out_indices.npy", d_index.dtype, n, chunk, out_indptr, src.read, dst.read)
    np.save(folder / "in_indptr.npy", indptr.astype(eid_dtype, copy=False))
    np.save(folder / "out_indptr.npy", out_indptr.astype(eid_dtype, copy=False))
    kept_rows = None
    if "row" in paths:
        kept_rows = np.load(paths["row"])
        paths["row"].unlink()
    report["edges"] = n
    return {
        "report": report,
        "count": n,
        "index_dtype": str(s_index.dtype),
        "offset_dtype": str(eid_dtype),
    }, kept_rows
