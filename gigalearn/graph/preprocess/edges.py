"""Edge assembly: endpoints → dense ids, dangling / self-loop / duplicate policies, both CSRs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigalearn.common.errors import DataError
from gigalearn.graph.config import EdgeConfig
from gigalearn.graph.preprocess.chunked import CHUNK_EDGES
from gigalearn.graph.preprocess.csr import (
    canonical_order,
    counting_sort,
    offsets_dtype,
    order_ties,
)
from gigalearn.graph.preprocess.ids import IdIndex
from gigalearn.graph.preprocess.spill import EdgeSpill
from gigalearn.graph.sources import Source


@dataclass
class EdgeColumns:
    """One edge set as read from the source: endpoints already mapped to dense ids (-1 unknown)."""

    src: np.ndarray
    dst: np.ndarray
    time: np.ndarray | None
    weight: np.ndarray | None
    features: pa.Table | None
    dangling_examples: list[tuple]


@dataclass
class EdgeArrays:
    """One edge type in canonical (dst, src) order: edge id = position in `src`/`dst`.

    The in-CSR's indices are `src` itself (edges are sorted by destination), so only its offsets
    are stored; the out-CSR lists, per source, the destination and the edge id.
    """

    src: np.ndarray
    dst: np.ndarray
    in_indptr: np.ndarray
    out_indptr: np.ndarray
    out_indices: np.ndarray
    out_eid: np.ndarray
    time: np.ndarray | None = None
    weight: np.ndarray | None = None
    report: dict[str, Any] = field(default_factory=dict)


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
    # a copy, not a view: a view would keep the whole Arrow batch from the engine alive
    return out.astype(np.int64 if out.dtype.kind in "iu" else np.float64, copy=True)


def _weight_column(col: pa.Array, where: str, offset: int) -> np.ndarray:
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"{where}: weight column is {col.type}; expected a number")
    w = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(
            f"{where}: {int(bad.sum())} weight(s) are NULL, NaN, infinite or negative "
            f"(first at row {offset + int(np.argmax(bad))}); weights must be finite and >= 0"
        )
    return w.astype(np.float32)


def _concat(chunks: list[np.ndarray]) -> np.ndarray:
    out = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    chunks.clear()  # release the pieces before the next column is joined
    return out


def read_edge_columns(
    source: Source,
    cfg: EdgeConfig,
    index: dict[str, IdIndex],
    where: str,
    spill_dir: Path | None = None,
    chunk_edges: int = CHUNK_EDGES,
) -> EdgeColumns | EdgeSpill:
    """Stream the edge set from the source, mapping endpoints batch by batch.

    Past `chunk_edges` rows, if `spill_dir` is given, the rows go to an EdgeSpill on disk
    instead of memory (features, when declared, stay in memory as Arrow columns).
    """
    feature_cols = [s.column or f for f, s in cfg.features.items()]
    cols = [cfg.src, cfg.dst, *(c for c in (cfg.time, cfg.weight) if c), *feature_cols]
    rel = source.relation(cfg.table, cfg.query)
    s_index, d_index = index[cfg.type[0]], index[cfg.type[2]]
    parts: dict[str, list] = {k: [] for k in ("src", "dst", "time", "weight", "features")}
    examples: list[tuple] = []
    spill: EdgeSpill | None = None
    offset = 0
    for batch in source.read_batches(where, rel, cols):
        src = s_index.lookup(batch.column(cfg.src), f"{where}, src column '{cfg.src}'")
        dst = d_index.lookup(batch.column(cfg.dst), f"{where}, dst column '{cfg.dst}'")
        if len(examples) < 5 and ((src < 0) | (dst < 0)).any():
            bad = np.flatnonzero((src < 0) | (dst < 0))[: 5 - len(examples)]
            examples += [
                (batch.column(cfg.src)[int(i)].as_py(), batch.column(cfg.dst)[int(i)].as_py())
                for i in bad
            ]
        parts["src"].append(src)
        parts["dst"].append(dst)
        if cfg.time:
            parts["time"].append(_time_column(batch.column(cfg.time), where))
        if cfg.weight:
            parts["weight"].append(_weight_column(batch.column(cfg.weight), where, offset))
        if feature_cols:
            parts["features"].append(pa.Table.from_batches([batch.select(feature_cols)]))
        offset += batch.num_rows
        if spill is None and spill_dir is not None and offset > chunk_edges:
            spill = EdgeSpill(spill_dir, cfg, len(d_index), keep_rows=bool(feature_cols))
        if spill is not None:  # hand the rows held so far to the spill, in order
            for i in range(len(parts["src"])):
                spill.add(
                    parts["src"][i],
                    parts["dst"][i],
                    parts["time"][i] if cfg.time else None,
                    parts["weight"][i] if cfg.weight else None,
                )
            for k in ("src", "dst", "time", "weight"):
                parts[k].clear()
    if offset == 0:
        raise DataError(f"{where}: has no rows; remove the edge type or fix its table/query")
    features = pa.concat_tables(parts["features"]) if feature_cols else None
    if spill is not None:
        spill.features = features
        spill.dangling_examples = examples
        return spill
    return EdgeColumns(
        src=_concat(parts["src"]),
        dst=_concat(parts["dst"]),
        time=_concat(parts["time"]) if cfg.time else None,
        weight=_concat(parts["weight"]) if cfg.weight else None,
        features=features,
        dangling_examples=examples,
    )


def _originals(index: IdIndex, dense: np.ndarray) -> list:
    return index.ids.take(pa.array(dense)).to_pylist()


def assemble_edges(
    cfg: EdgeConfig, cols: EdgeColumns, index: dict[str, IdIndex], where: str
) -> tuple[EdgeArrays, np.ndarray]:
    """Apply the policies and build both CSRs; also returns each kept edge's source row.

    Consumes `cols`' arrays (set to None) so the unordered originals are freed while the
    ordered copies are built: peak memory stays near the size of the final arrays.
    """
    s_index, d_index = index[cfg.type[0]], index[cfg.type[2]]
    src, dst, time, weight = cols.src, cols.dst, cols.time, cols.weight
    cols.src = cols.dst = cols.time = cols.weight = None
    report: dict[str, Any] = {"rows_read": len(src)}

    drop = (src < 0) | (dst < 0)
    report["dangling"] = int(drop.sum())
    if report["dangling"] and cfg.dangling == "error":
        raise DataError(
            f"{where}: {report['dangling']} edge(s) point to unknown nodes, e.g. (src, dst) = "
            f"{cols.dangling_examples}; add the nodes, or set `dangling: drop`"
        )
    if cfg.type[0] == cfg.type[2]:
        loops = (src == dst) & ~drop
        report["self_loops"] = int(loops.sum())
        if report["self_loops"] and cfg.self_loops == "error":
            ex = _originals(s_index, src[np.flatnonzero(loops)[:5]])
            raise DataError(
                f"{where}: {report['self_loops']} self-loop(s), e.g. at node(s) {ex}; set "
                "`self_loops: drop` or `keep`"
            )
        if cfg.self_loops == "drop":
            drop |= loops
    rows = None  # None = every row kept; spares an index array of E int64 in the common case
    if drop.any():
        rows = np.flatnonzero(~drop)
        if rows.size == 0:
            raise DataError(
                f"{where}: no edge is left after dropping dangling edges and self-loops"
            )
        src, dst = src[rows], dst[rows]
        time = None if time is None else time[rows]
        weight = None if weight is None else weight[rows]
    del drop

    eid_dtype = offsets_dtype(len(src))
    in_indptr, perm = canonical_order(dst, src, len(d_index), len(s_index), eid_dtype)
    src, dst = src[perm], dst[perm]

    dup = np.zeros(len(perm), dtype=bool)
    np.logical_and(src[1:] == src[:-1], dst[1:] == dst[:-1], out=dup[1:])
    report["duplicates"] = int(dup.sum())
    if report["duplicates"]:
        if cfg.duplicates == "error":
            at = np.flatnonzero(dup)[:5]
            pairs = list(
                zip(_originals(s_index, src[at]), _originals(d_index, dst[at]), strict=True)
            )
            raise DataError(
                f"{where}: {report['duplicates']} duplicate edge(s), e.g. {pairs}; set "
                "`duplicates: drop` (keep the earliest) or `keep`"
            )
        # parallel edges are ordered by their attributes, so the order (and the edge that
        # `drop` keeps) does not depend on the order the engine returned the rows in
        keys = [k for k in (time, weight) if k is not None]
        if keys:
            order_ties(perm, dup, keys)
        if cfg.duplicates == "drop":
            perm, src, dst = perm[~dup], src[~dup], dst[~dup]
            in_indptr, _ = counting_sort(dst, len(d_index), eid_dtype)
    del dup

    eid_dtype = offsets_dtype(len(perm))
    out_indptr, out_eid = counting_sort(src, len(s_index), eid_dtype)
    arrays = EdgeArrays(
        src=src,
        dst=dst,
        in_indptr=in_indptr.astype(eid_dtype, copy=False),
        out_indptr=out_indptr.astype(eid_dtype, copy=False),
        out_indices=dst[out_eid],
        out_eid=out_eid,
        time=None if time is None else time[perm],
        weight=None if weight is None else weight[perm],
        report={**report, "edges": len(perm)},
    )
    return arrays, (perm if rows is None else rows[perm])
