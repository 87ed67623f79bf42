"""Feature transforms fitted on the data; their statistics are stored so inference reuses them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigalearn.common.errors import DataError
from gigalearn.graph.config import (
    Bucketize,
    Categorical,
    FeatureSpec,
    Hashing,
    Log1p,
    MinMax,
    MultiHot,
    Passthrough,
    Standardize,
)

_NUMERIC = (Passthrough, Standardize, MinMax, Log1p, Bucketize)


@dataclass(frozen=True)
class FittedFeature:
    """One feature's transform with the statistics fitted on the data (JSON-serialisable)."""

    name: str
    spec: FeatureSpec
    stats: dict[str, Any]
    columns: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec.model_dump(),
            "stats": self.stats,
            "columns": self.columns,
        }


def _column(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _missing_mask(values: pa.Array) -> np.ndarray:
    mask = values.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(values.type):
        mask |= pc.is_nan(values).fill_null(False).to_numpy(zero_copy_only=False)
    return mask


def _check_missing(spec: FeatureSpec, mask: np.ndarray, ids: pa.Array, where: str) -> None:
    if spec.missing == "error" and mask.any():
        rows = ids.filter(pa.array(mask))[:5].to_pylist()
        raise DataError(
            f"{where}: {int(mask.sum())} missing value(s) (NULL/NaN), e.g. at id(s) {rows}; "
            "set `missing: fill` (with optional fill_value) or `missing: indicator`, or clean "
            "the data"
        )


def _numeric(values: pa.Array, spec: FeatureSpec, where: str) -> np.ndarray:
    is_list = pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type)
    inner = values.type.value_type if is_list else values.type
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    if not any(check(inner) for check in numeric):  # SQL NUMERIC / DECIMAL columns count too
        raise DataError(
            f"{where}: {spec.kind} needs a numeric column, got {values.type}; use categorical, "
            "multi_hot or hashing for text, or CAST it in a 'query'"
        )
    if is_list:
        if not isinstance(spec, Passthrough) or spec.length is None:
            raise DataError(f"{where}: a list column needs `passthrough` with a fixed `length`")
        lengths = pc.list_value_length(values).fill_null(spec.length).to_numpy()
        if (lengths != spec.length).any():
            bad = int(np.argmax(lengths != spec.length))
            raise DataError(
                f"{where}: list lengths must all be {spec.length}; row {bad} has {lengths[bad]}"
            )
        flat = pc.list_flatten(values.fill_null([0.0] * spec.length)).cast(pa.float64())
        arr = flat.to_numpy(zero_copy_only=False).reshape(len(values), spec.length).copy()
    else:
        arr = values.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        arr = arr.reshape(-1, 1)
    if np.isinf(arr).any():
        row = int(np.argwhere(np.isinf(arr))[0, 0])
        raise DataError(f"{where}: infinite value at row {row}; numeric features must be finite")
    return arr


def _to_strings(values: pa.Array) -> np.ndarray:
    return values.cast(pa.string()).to_numpy(zero_copy_only=False)


def _vocab(counts: Counter, min_count: int, max_vocab: int | None) -> list[str]:
    items = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: (-counts[k], k))
    return items[:max_vocab] if max_vocab else items


def _tokens(text: str | None, sep: str) -> list[str]:
    return [t.strip() for t in text.split(sep) if t.strip()] if text else []


def fit_feature(
    name: str, spec: FeatureSpec, values: pa.ChunkedArray, ids: pa.Array, where: str
) -> FittedFeature:
    """Fit `spec` on `values`; `ids` and `where` name offending rows in errors."""
    values = _column(values)
    mask = _missing_mask(values)
    _check_missing(spec, mask, ids, where)
    stats: dict[str, Any] = {}
    if isinstance(spec, _NUMERIC):
        arr = _numeric(values, spec, where)[~mask]
        if arr.size == 0:
            raise DataError(f"{where}: no non-missing value to fit {spec.kind} on")
        stats["mean"] = arr.mean(axis=0).tolist()
        if isinstance(spec, Standardize):
            stats["std"] = float(arr.std()) or 1.0
        elif isinstance(spec, MinMax):
            stats["min"], stats["max"] = float(arr.min()), float(arr.max())
        elif isinstance(spec, Log1p) and (arr <= -1).any():
            raise DataError(f"{where}: log1p needs values > -1; found {float(arr.min())}")
        elif isinstance(spec, Bucketize):
            stats["boundaries"] = (
                spec.boundaries
                or np.unique(
                    np.quantile(arr, np.linspace(0, 1, spec.num_buckets + 1)[1:-1])
                ).tolist()
            )
        n_cols = arr.shape[1] if not isinstance(spec, Bucketize) else len(stats["boundaries"]) + 1
        columns = [name] if n_cols == 1 else [f"{name}[{i}]" for i in range(n_cols)]
    elif isinstance(spec, Hashing):
        columns = [f"{name}#{i}" for i in range(spec.buckets)]
    else:
        strings = _to_strings(values.filter(pa.array(~mask)))
        if isinstance(spec, MultiHot):
            counts = Counter(t for s in strings for t in _tokens(s, spec.sep))
        else:
            counts = Counter(strings.tolist())
        stats["vocab"] = _vocab(counts, spec.min_count, spec.max_vocab)
        columns = [f"{name}={v}" for v in stats["vocab"]] + [f"{name}=<oov>"]
    if spec.missing == "indicator":
        columns = [*columns, f"{name}__missing"]
    return FittedFeature(name, spec, stats, columns)


def apply_feature(
    f: FittedFeature, values: pa.ChunkedArray, ids: pa.Array, where: str
) -> np.ndarray:
    """Transform `values` with fitted statistics into a float32 block `[n, len(f.columns)]`."""
    spec, st = f.spec, f.stats
    values = _column(values)
    mask = _missing_mask(values)
    _check_missing(spec, mask, ids, where)
    n = len(values)
    if isinstance(spec, _NUMERIC):
        arr = _numeric(values, spec, where)
        fill = spec.fill_value if isinstance(spec.fill_value, (int, float)) else None
        arr[mask] = np.asarray(st["mean"]) if fill is None else fill
        if isinstance(spec, Standardize):
            out = (arr - np.asarray(st["mean"])) / st["std"]
        elif isinstance(spec, MinMax):
            out = (arr - st["min"]) / ((st["max"] - st["min"]) or 1.0)
        elif isinstance(spec, Log1p):
            out = np.log1p(np.maximum(arr, -1 + 1e-12))
        elif isinstance(spec, Bucketize):
            bucket = np.searchsorted(np.asarray(st["boundaries"]), arr[:, 0], side="right")
            out = np.zeros((n, len(st["boundaries"]) + 1))
            out[np.arange(n), bucket] = 1.0
        else:
            out = arr
    elif isinstance(spec, Hashing):
        strings = _to_strings(values)
        strings[mask] = "" if spec.fill_value is None else str(spec.fill_value)
        # pandas' hash is seeded with a fixed key: stable across processes and machines
        buckets = pd.util.hash_array(strings.astype(object)) % np.uint64(spec.buckets)
        out = np.zeros((n, spec.buckets))
        out[np.arange(n), buckets.astype(np.int64)] = 1.0
    else:
        strings = _to_strings(values)
        if spec.fill_value is not None:
            strings[mask] = str(spec.fill_value)
        oov = len(st["vocab"])
        out = np.zeros((n, oov + 1))
        skip = mask if spec.fill_value is None else np.zeros(n, dtype=bool)
        if isinstance(spec, Categorical):
            codes = pd.Index(st["vocab"]).get_indexer(strings.astype(object)).astype(np.int64)
            codes[codes < 0] = oov
            rows = np.flatnonzero(~skip)
            out[rows, codes[rows]] = 1.0
        else:
            index = {v: i for i, v in enumerate(st["vocab"])}
            for row in np.flatnonzero(~skip):
                for t in _tokens(strings[row], spec.sep):
                    out[row, index.get(t, oov)] = 1.0
    if spec.missing == "indicator":
        out = np.concatenate([out, mask.reshape(-1, 1).astype(np.float64)], axis=1)
    return out.astype(np.float32, copy=False)


def fit_transform(
    specs: dict[str, FeatureSpec], table: pa.Table, ids: pa.Array, where: str
) -> tuple[np.ndarray, list[FittedFeature]]:
    """Fit every feature of a node or edge set and return the stacked `[n, d]` float32 matrix."""
    blocks, fitted = [], []
    for name, spec in specs.items():
        col = table.column(spec.column or name)
        here = f"{where}, feature '{name}' (column '{spec.column or name}')"
        f = fit_feature(name, spec, col, ids, here)
        blocks.append(apply_feature(f, col, ids, here))
        fitted.append(f)
    if not blocks:
        return np.zeros((len(ids), 0), dtype=np.float32), []
    return np.concatenate(blocks, axis=1), fitted
