"""Edges streamed to raw files on disk: the input of the out-of-core CSR build (chunked.py).

Each record batch from the engine is filtered by the dangling / self-loop policies and appended
to one file per column, and the out-degree of every source node is counted on the way, so the
rows are never whole in memory and the later counting sort by source knows its offsets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from gigalearn.graph.config import EdgeConfig
from gigalearn.graph.preprocess.csr import count_into


class EdgeSpill:
    """Append-only column files of the kept edges, in the order the engine returned them."""

    def __init__(self, folder: Path, cfg: EdgeConfig, n_dst: int, keep_rows: bool) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self.keep_rows = keep_rows
        """Also store each edge's row number in the stream (to take its features later)."""
        self.in_degree = np.zeros(n_dst, dtype=np.int64)
        self.rows_read = 0
        self.count = 0
        self.dangling = 0
        self.self_loops = 0
        self.loop_examples: list[int] = []
        self.dtypes: dict[str, np.dtype] = {}
        self.features: pa.Table | None = None
        """The declared edge features, in stream order (held in memory)."""
        self.dangling_examples: list[tuple] = []

    def add(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        time: np.ndarray | None,
        weight: np.ndarray | None,
    ) -> None:
        """Filter one batch (the same rules as the in-memory build) and append it."""
        first_row = self.rows_read
        self.rows_read += len(src)
        drop = (src < 0) | (dst < 0)
        self.dangling += int(drop.sum())
        if self.cfg.type[0] == self.cfg.type[2]:
            loops = (src == dst) & ~drop
            n_loops = int(loops.sum())
            self.self_loops += n_loops
            if n_loops and len(self.loop_examples) < 5:
                self.loop_examples += src[np.flatnonzero(loops)[:5]].tolist()
            if self.cfg.self_loops == "drop":
                drop |= loops
        cols = {"src": src, "dst": dst, "time": time, "weight": weight}
        if self.keep_rows:
            cols["row"] = np.arange(first_row, first_row + len(src), dtype=np.int64)
        if drop.any():
            keep = ~drop
            cols = {k: None if v is None else v[keep] for k, v in cols.items()}
        count_into(cols["dst"], self.in_degree)
        for name, values in cols.items():
            if values is None:
                continue
            dtype = self.dtypes.setdefault(name, values.dtype)
            with open(self.folder / f"{name}.bin", "ab") as fh:
                fh.write(values.astype(dtype, copy=False).tobytes())
        self.count += len(cols["src"])

    def has(self, name: str) -> bool:
        return name in self.dtypes

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of one column."""
        dtype = self.dtypes[name]
        return np.fromfile(
            self.folder / f"{name}.bin",
            dtype=dtype,
            count=stop - start,
            offset=start * dtype.itemsize,
        )

    def remove(self) -> None:
        for f in self.folder.glob("*.bin"):
            f.unlink()
        self.folder.rmdir()
