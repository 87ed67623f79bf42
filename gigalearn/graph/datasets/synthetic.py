"""Seeded synthetic graphs with power-law degrees (Chung–Lu), written as relational tables.

Chung–Lu draws each edge's endpoints independently with probability proportional to a weight
w_i ∝ (i + 1)^(-1 / (exponent - 1)), which gives an expected degree sequence with a power-law
tail of the given exponent. Ids are scrambled (not 0..n-1, not sorted) so that enumeration has
real work to do, as it would on production tables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class PowerLawSpec:
    """Parameters of a synthetic graph; printed beside every benchmark figure."""

    num_nodes: int
    num_edges: int
    exponent: float = 2.1
    """Degree power-law exponent (> 2 for a finite mean; 2.1 is typical of social graphs)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_nodes < 1 or self.num_edges < 1:
            raise ValueError("num_nodes and num_edges must be positive")
        if self.exponent <= 1:
            raise ValueError("exponent must be > 1")

    def __str__(self) -> str:
        return (
            f"Chung-Lu power law: {self.num_nodes:,} nodes, {self.num_edges:,} edges, "
            f"exponent {self.exponent}, seed {self.seed}"
        )


def power_law_edges(spec: PowerLawSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node ids, src ids, dst ids) as int64 arrays; ids are a seeded scramble of 0..n-1."""
    rng = np.random.default_rng(spec.seed)
    w = (np.arange(spec.num_nodes) + 1.0) ** (-1.0 / (spec.exponent - 1.0))
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    ids = rng.permutation(spec.num_nodes).astype(np.int64) * 7 + 3
    ends = []
    for _ in range(2):
        pos = np.searchsorted(cdf, rng.random(spec.num_edges))
        np.minimum(pos, spec.num_nodes - 1, out=pos)
        ends.append(ids[pos])
    return ids, ends[0], ends[1]


def write_power_law_duckdb(spec: PowerLawSpec, path: str | Path) -> Path:
    """Write tables `nodes(node_id)` and `edges(src, dst, ts)` to a DuckDB file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ids, src, dst = power_law_edges(spec)
    ts = np.random.default_rng(spec.seed + 1).integers(0, 10**9, spec.num_edges)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    con = duckdb.connect(str(tmp))
    try:
        con.register("_nodes", pa.table({"node_id": ids}))
        con.register("_edges", pa.table({"src": src, "dst": dst, "ts": ts}))
        con.execute("CREATE TABLE nodes AS SELECT * FROM _nodes")
        con.execute("CREATE TABLE edges AS SELECT * FROM _edges")
        con.close()
        os.replace(tmp, path)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    return path
