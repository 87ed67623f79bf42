"""Id enumeration: original ids of any type → dense 0..n-1 per node type, in sorted-id order.

Sorting (rather than keeping read order) makes the enumeration independent of the engine: the
same rows from DuckDB, SQLite or PostgreSQL give the same dense ids.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigalearn.common.errors import DataError


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
    return np.dtype(np.int32) if n < 2**31 - 1 else np.dtype(np.int64)


def map_ids(values: pa.ChunkedArray | pa.Array, sorted_ids: pa.Array, where: str) -> np.ndarray:
    """Dense ids of `values` (e.g. an edge endpoint column); -1 where a value is not a node."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if values.type != sorted_ids.type:
        try:
            values = values.cast(sorted_ids.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"{where}: column type {values.type} does not match the node ids' type "
                f"{sorted_ids.type}; cast it in a 'query' (e.g. CAST(col AS ...))"
            ) from exc
    idx = pc.index_in(values, value_set=sorted_ids)
    out = idx.fill_null(-1).to_numpy(zero_copy_only=False)
    return out.astype(index_dtype(len(sorted_ids)), copy=False)
