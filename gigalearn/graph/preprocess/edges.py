"""Edge assembly: endpoints → dense ids, dangling / self-loop / duplicate policies, both CSRs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigalearn.common.errors import DataError
from gigalearn.graph.config import EdgeConfig
from gigalearn.graph.preprocess.csr import canonical_order, counting_sort, offsets_dtype
from gigalearn.graph.preprocess.ids import map_ids


@dataclass
class EdgeArrays:
    """One edge type in canonical (src, dst) order: edge id = position in `src`/`dst`.

    The out-CSR's indices are `dst` itself (edges are sorted by source), so only its offsets are
    stored; the in-CSR lists, per destination, the source and the edge id.
    """

    src: np.ndarray
    dst: np.ndarray
    out_indptr: np.ndarray
    in_indptr: np.ndarray
    in_indices: np.ndarray
    in_eid: np.ndarray
    time: np.ndarray | None = None
    weight: np.ndarray | None = None
    report: dict[str, Any] = field(default_factory=dict)


def _examples(mask: np.ndarray, *cols: pa.Array, k: int = 5) -> list:
    rows = np.flatnonzero(mask)[:k]
    return [tuple(c[int(r)].as_py() for c in cols) for r in rows]


def _time_column(col: pa.Array, where: str) -> np.ndarray:
    if col.null_count:
        raise DataError(f"{where}: {col.null_count} edge(s) have a NULL timestamp")
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        col = pc.cast(col.cast(pa.timestamp("s")), pa.int64())
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"{where}: timestamp column is {col.type}; expected a number or timestamp")
    out = col.to_numpy(zero_copy_only=False)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        raise DataError(f"{where}: timestamp column has NaN or infinite values")
    return out.astype(np.int64) if out.dtype.kind in "iu" else out.astype(np.float64)


def _weight_column(col: pa.Array, where: str) -> np.ndarray:
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"{where}: weight column is {col.type}; expected a number")
    w = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(
            f"{where}: {int(bad.sum())} weight(s) are NULL, NaN, infinite or negative "
            f"(first at row {int(np.argmax(bad))}); weights must be finite and >= 0"
        )
    return w.astype(np.float32)


def assemble_edges(
    cfg: EdgeConfig,
    table: pa.Table,
    node_ids: dict[str, pa.Array],
    where: str,
) -> tuple[EdgeArrays, np.ndarray]:
    """Build one edge type; returns the arrays and the source-row index of each kept edge."""
    s_type, _, d_type = cfg.type
    if table.num_rows == 0:
        raise DataError(f"{where}: has no rows; remove the edge type or fix its table/query")
    src_col, dst_col = (
        table.column(cfg.src).combine_chunks(),
        table.column(cfg.dst).combine_chunks(),
    )
    src = map_ids(src_col, node_ids[s_type], f"{where}, src column '{cfg.src}'")
    dst = map_ids(dst_col, node_ids[d_type], f"{where}, dst column '{cfg.dst}'")
    keep = np.ones(len(src), dtype=bool)
    report: dict[str, Any] = {"rows_read": len(src)}

    dangling = (src < 0) | (dst < 0)
    report["dangling"] = int(dangling.sum())
    if dangling.any() and cfg.dangling == "error":
        raise DataError(
            f"{where}: {int(dangling.sum())} edge(s) point to unknown nodes, e.g. (src, dst) = "
            f"{_examples(dangling, src_col, dst_col)}; add the nodes, or set `dangling: drop`"
        )
    keep &= ~dangling

    if s_type == d_type:
        loops = keep & (src == dst)
        report["self_loops"] = int(loops.sum())
        if loops.any() and cfg.self_loops == "error":
            raise DataError(
                f"{where}: {int(loops.sum())} self-loop(s), e.g. {_examples(loops, src_col)}; "
                "set `self_loops: drop` or `keep`"
            )
        if cfg.self_loops == "drop":
            keep &= ~loops

    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise DataError(f"{where}: no edge is left after dropping dangling edges and self-loops")
    time = _time_column(table.column(cfg.time).combine_chunks(), where) if cfg.time else None
    weight = (
        _weight_column(table.column(cfg.weight).combine_chunks(), where) if cfg.weight else None
    )
    eid_dtype = offsets_dtype(len(rows))
    src, dst = src[rows], dst[rows]
    n_src, n_dst = len(node_ids[s_type]), len(node_ids[d_type])
    out_indptr, perm = canonical_order(src, dst, n_src, eid_dtype)

    s_sorted, d_sorted = src[perm], dst[perm]
    dup = np.zeros(len(perm), dtype=bool)
    dup[1:] = (s_sorted[1:] == s_sorted[:-1]) & (d_sorted[1:] == d_sorted[:-1])
    report["duplicates"] = int(dup.sum())
    if dup.any():
        if cfg.duplicates == "error":
            first = np.flatnonzero(dup)[:5]
            pairs = [
                (src_col[int(rows[perm[i]])].as_py(), dst_col[int(rows[perm[i]])].as_py())
                for i in first
            ]
            raise DataError(
                f"{where}: {int(dup.sum())} duplicate edge(s), e.g. {pairs}; set `duplicates: "
                "drop` (keep the earliest) or `keep`"
            )
        # ties between parallel edges are broken by their attributes, so the order (and the
        # edge kept by `drop`) does not depend on the order the engine returned the rows in
        keys = [k for k in (weight, time) if k is not None]
        if keys:
            perm = np.lexsort([k[rows] for k in keys] + [dst, src]).astype(eid_dtype)
            s_sorted, d_sorted = src[perm], dst[perm]
        if cfg.duplicates == "drop":
            perm, s_sorted, d_sorted = perm[~dup], s_sorted[~dup], d_sorted[~dup]
            out_indptr, _ = counting_sort(s_sorted, n_src, eid_dtype)

    kept_rows = rows[perm]
    eid_dtype = offsets_dtype(len(kept_rows))
    in_indptr, in_eid = counting_sort(d_sorted, n_dst, eid_dtype)
    arrays = EdgeArrays(
        src=s_sorted,
        dst=d_sorted,
        out_indptr=out_indptr.astype(eid_dtype, copy=False),
        in_indptr=in_indptr.astype(eid_dtype, copy=False),
        in_indices=s_sorted[in_eid],
        in_eid=in_eid,
        time=None if time is None else time[kept_rows],
        weight=None if weight is None else weight[kept_rows],
        report={**report, "edges": len(kept_rows)},
    )
    return arrays, kept_rows
