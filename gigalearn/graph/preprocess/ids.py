"""Id enumeration: original ids of any type → dense 0..n-1 per node type, in sorted-id order.

Sorting (rather than keeping read order) makes the enumeration independent of the engine: the
same rows from DuckDB, SQLite or PostgreSQL give the same dense ids.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigalearn.common.errors import DataError
from gigalearn.graph.preprocess import csr


def enumerate_ids(ids: pa.ChunkedArray | pa.Array, where: str) -> tuple[pa.Array, np.ndarray]:
    """Return (sorted unique ids, row order) so that row `order[i]` gets dense id i.

    Raises DataError for empty inputs, NULL ids and duplicates, naming a few offenders.
    """
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if len(ids) == 0:
        raise DataError(f"{where}: has no rows; a node type needs at least one node")
    if ids.null_count:
        raise DataError(
            f"{where}: {ids.null_count} row(s) have a NULL id; filter them out with a 'query'"
        )
    if pa.types.is_floating(ids.type):
        raise DataError(f"{where}: id column is {ids.type}; ids must be integers or strings")
    order = pc.sort_indices(ids).to_numpy()
    sorted_ids = ids.take(pa.array(order))
    if len(sorted_ids) > 1:
        same = pc.equal(sorted_ids[1:], sorted_ids[:-1]).to_numpy(zero_copy_only=False)
        if same.any():
            dup = pc.unique(sorted_ids[1:].filter(pa.array(same)))
            raise DataError(
                f"{where}: {int(same.sum())} duplicate id(s), e.g. {dup[:5].to_pylist()}; "
                "each node must appear once (deduplicate with SELECT DISTINCT in a 'query')"
            )
    return sorted_ids, order


def index_dtype(n: int) -> np.dtype:
    """int32 where the count allows, int64 beyond."""
    return np.dtype(np.int32) if n < csr.INT32_LIMIT else np.dtype(np.int64)


class IdIndex:
    """Original ids of one node type (sorted) → dense ids, for mapping edge endpoints."""

    def __init__(self, sorted_ids: pa.Array) -> None:
        self.ids = sorted_ids
        self.dtype = index_dtype(len(sorted_ids))
        self._lut: tuple[int, np.ndarray] | None = None
        if pa.types.is_integer(sorted_ids.type) and len(sorted_ids):
            ids = sorted_ids.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            lo, span = int(ids[0]), int(ids[-1]) - int(ids[0]) + 1
            # ids in a compact integer range: one gather in a lookup table beats hashing
            if span <= 8 * len(ids) + 1024:
                lut = np.full(span, -1, dtype=self.dtype)
                lut[ids - lo] = np.arange(len(ids), dtype=self.dtype)
                self._lut = (lo, lut)

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, values: pa.ChunkedArray | pa.Array, where: str) -> np.ndarray:
        """Dense ids of `values`; -1 where a value is NULL or not a node."""
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if values.type != self.ids.type:
            try:
                values = values.cast(self.ids.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{where}: column type {values.type} does not match the node ids' type "
                    f"{self.ids.type}; cast it in a 'query' (e.g. CAST(col AS ...))"
                ) from exc
        if self._lut is not None and values.null_count == 0:
            lo, lut = self._lut
            v = values.to_numpy(zero_copy_only=False) - lo
            inside = (v >= 0) & (v < len(lut))
            out = np.full(len(v), -1, dtype=self.dtype)
            out[inside] = lut[v[inside]]
            return out
        idx = pc.index_in(values, value_set=self.ids)
        return idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(self.dtype, copy=False)
