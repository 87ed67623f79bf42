"""Compact feature storage: float16, bfloat16 or int8 (per-column scale and offset) columns.

A feature matrix is stored as one file per storage dtype; `metadata.json` records each file's
columns (positions in the float32 matrix) and, for int8, their scale and offset. Loaders gather
rows from each file and dequantise them back to float32 (`gather`). Quantisation error bounds:
int8 |x - x'| <= scale / 2 with scale = (max - min) / 255 per column; float16 a relative 2^-11
(values beyond ±65504 are refused); bfloat16 a relative 2^-8.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gigalearn.common.errors import DataError

STORAGES = ("float32", "float16", "bfloat16", "int8")
_FILE = {s: "features.npy" if s == "float32" else f"features_{s}.npy" for s in STORAGES}
_FLOAT16_MAX = 65504.0


def _to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bits (uint16), rounding to nearest even, as torch does."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def _int8(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = x.min(axis=0) if len(x) else np.zeros(x.shape[1], np.float32)
    hi = x.max(axis=0) if len(x) else np.zeros(x.shape[1], np.float32)
    scale = ((hi - lo) / 255.0).astype(np.float32)
    scale[scale == 0] = 1.0  # constant column: any scale is exact
    q = np.clip(np.rint((x - lo) / scale), 0, 255) - 128
    return q.astype(np.int8), scale, lo.astype(np.float32)


def write_features(
    folder: Path, feats: np.ndarray, storage: Sequence[str], where: str
) -> list[dict[str, Any]] | None:
    """Save `feats` [n, d] float32 with column j stored as `storage[j]`.

    Returns the storage metadata, or None when every column is float32 (one features.npy, the
    layout of stores without compact features).
    """
    if all(s == "float32" for s in storage):
        np.save(folder / "features.npy", feats)
        return None
    groups = []
    for s in STORAGES:
        cols = [j for j, sj in enumerate(storage) if sj == s]
        if not cols:
            continue
        block = np.ascontiguousarray(feats[:, cols])
        group: dict[str, Any] = {"dtype": s, "file": _FILE[s], "columns": cols}
        if s == "float16":
            if (np.abs(block) > _FLOAT16_MAX).any():
                raise DataError(
                    f"{where}: a feature stored as float16 has values beyond ±65504; "
                    "use `storage: bfloat16` or `int8`, or standardize it"
                )
            block = block.astype(np.float16)
        elif s == "bfloat16":
            block = _to_bfloat16(block)
        elif s == "int8":
            block, scale, offset = _int8(block)
            group["scale"], group["offset"] = scale.tolist(), offset.tolist()
        np.save(folder / group["file"], block)
        groups.append(group)
    return groups


def dequantize(block: np.ndarray, group: dict[str, Any]) -> np.ndarray:
    """Stored rows of one group → float32."""
    s = group["dtype"]
    if s == "bfloat16":
        return (block.astype(np.uint32) << 16).view(np.float32)
    if s == "int8":
        scale = np.asarray(group["scale"], dtype=np.float32)
        offset = np.asarray(group["offset"], dtype=np.float32)
        return (block.astype(np.float32) + 128.0) * scale + offset
    return block.astype(np.float32, copy=False)


def gather(
    arrays: list[np.ndarray], groups: list[dict[str, Any]], dim: int, idx: np.ndarray | None
) -> np.ndarray:
    """Rows `idx` (None: all) of a compact feature matrix as float32 [len(idx), dim]."""
    n = arrays[0].shape[0] if idx is None else len(idx)
    out = np.empty((n, dim), dtype=np.float32)
    for arr, group in zip(arrays, groups, strict=True):
        rows = arr if idx is None else np.take(arr, idx, axis=0)
        out[:, group["columns"]] = dequantize(rows, group)
    return out
