"""Seeded synthetic graphs written as relational tables, chunk by chunk, for tests and benchmarks.

Two generators: Chung–Lu power law (each edge's endpoints drawn independently with probability
proportional to w_i ∝ (i + 1)^(-1 / (exponent - 1)), an expected degree sequence with a
power-law tail) and R-MAT (datasets/rmat.py). Ids are scrambled (not 0..n-1, not sorted) so that
enumeration has real work to do, as it would on production tables. Edges are generated and
inserted a chunk at a time, so a 100 M-edge graph never sits in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from gigalearn.graph.datasets.rmat import CHUNK, RmatSpec, rmat_positions


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


def _scrambled_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n).astype(np.int64) * 7 + 3


def power_law_chunks(spec: PowerLawSpec) -> tuple[np.ndarray, Iterator[pa.Table]]:
    """(node ids, chunks of edges(src, dst, ts)); the same edges whatever the chunking."""
    rng = np.random.default_rng(spec.seed)
    w = (np.arange(spec.num_nodes) + 1.0) ** (-1.0 / (spec.exponent - 1.0))
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    ids = _scrambled_ids(spec.num_nodes, rng)
    # one stream for sources, then the destinations after all num_edges source draws (as an
    # unchunked generator draws them); advancing a copy gives both streams a chunk at a time
    src_rng = rng
    dst_bits = type(rng.bit_generator)()
    dst_bits.state = rng.bit_generator.state
    dst_rng = np.random.Generator(dst_bits.advance(spec.num_edges))
    ts_rng = np.random.default_rng(spec.seed + 1)

    def chunks() -> Iterator[pa.Table]:
        for start in range(0, spec.num_edges, CHUNK):
            count = min(CHUNK, spec.num_edges - start)
            ends = []
            for r in (src_rng, dst_rng):
                pos = np.searchsorted(cdf, r.random(count))
                np.minimum(pos, spec.num_nodes - 1, out=pos)
                ends.append(ids[pos])
            ts = ts_rng.integers(0, 10**9, count)
            yield pa.table({"src": ends[0], "dst": ends[1], "ts": ts})

    return ids, chunks()


def power_law_edges(spec: PowerLawSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node ids, src ids, dst ids) as int64 arrays, all in memory (small graphs)."""
    ids, chunks = power_law_chunks(spec)
    table = pa.concat_tables(list(chunks))
    return ids, table.column("src").to_numpy(), table.column("dst").to_numpy()


def _node_table(name: str, ids: np.ndarray, features: int, seed: int) -> pa.Table:
    cols: dict[str, np.ndarray] = {name: ids}
    rng = np.random.default_rng([seed, 7])
    for j in range(features):
        cols[f"f{j}"] = rng.standard_normal(len(ids), dtype=np.float32)
    return pa.table(cols)


def _rmat_chunks(spec: RmatSpec, src_ids, dst_ids, cols: tuple[str, str]) -> Iterator[pa.Table]:
    for i, (src, dst) in enumerate(rmat_positions(spec)):
        ts = np.random.default_rng([spec.seed, i, 1]).integers(0, 10**9, len(src))
        yield pa.table({cols[0]: src_ids[src], cols[1]: dst_ids[dst], "ts": ts})


@dataclass(frozen=True)
class SyntheticTables:
    """Node tables (id column first) and edge tables as chunk iterators, ready to be written."""

    nodes: dict[str, pa.Table]
    edges: dict[str, Iterator[pa.Table]]


def rmat_tables(spec: RmatSpec, features: int = 0, hetero: bool = False) -> SyntheticTables:
    """Homogeneous: nodes(node_id, f0..), edges(src, dst, ts). Heterogeneous: users(user_id, f..)
    and items(item_id, f..) (3:1), clicks(user_id, item_id, ts) (R-MAT, bipartite, 90% of the
    edges) and follows(src, dst, ts) between users (R-MAT, 10%)."""
    rng = np.random.default_rng([spec.seed, 3])
    if not hetero:
        ids = _scrambled_ids(spec.num_nodes, rng)
        return SyntheticTables(
            {"nodes": _node_table("node_id", ids, features, spec.seed)},
            {"edges": _rmat_chunks(spec, ids, ids, ("src", "dst"))},
        )
    n_items = max(1, spec.num_nodes // 4)
    n_users = max(1, spec.num_nodes - n_items)
    follows = spec.num_edges // 10
    users, items = _scrambled_ids(n_users, rng), _scrambled_ids(n_items, rng)
    clicks = RmatSpec(n_users, spec.num_edges - follows, spec.a, spec.b, spec.c, spec.seed, n_items)
    edges = {"clicks": _rmat_chunks(clicks, users, items, ("user_id", "item_id"))}
    if follows:
        f_spec = RmatSpec(n_users, follows, spec.a, spec.b, spec.c, spec.seed + 1)
        edges["follows"] = _rmat_chunks(f_spec, users, users, ("src", "dst"))
    return SyntheticTables(
        {
            "users": _node_table("user_id", users, features, spec.seed),
            "items": _node_table("item_id", items, features, spec.seed + 1),
        },
        edges,
    )


def write_tables_duckdb(tables: SyntheticTables, path: str | Path) -> Path:
    """Write the tables to a DuckDB file atomically, inserting edges a chunk at a time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for name, table in {**tables.nodes}.items():
            con.register("_chunk", table)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _chunk')
            con.unregister("_chunk")
        for name, chunks in tables.edges.items():
            for i, chunk in enumerate(chunks):
                con.register("_chunk", chunk)
                verb = f'CREATE TABLE "{name}" AS' if i == 0 else f'INSERT INTO "{name}"'
                con.execute(f"{verb} SELECT * FROM _chunk")
                con.unregister("_chunk")
        con.close()
        os.replace(tmp, path)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_power_law_duckdb(spec: PowerLawSpec, path: str | Path, features: int = 0) -> Path:
    """Write tables `nodes(node_id, f0..)` and `edges(src, dst, ts)` to a DuckDB file."""
    ids, chunks = power_law_chunks(spec)
    nodes = pa.table({"node_id": ids})
    if features:
        nodes = _node_table("node_id", ids, features, spec.seed)
    return write_tables_duckdb(SyntheticTables({"nodes": nodes}, {"edges": chunks}), path)


def write_rmat_duckdb(
    spec: RmatSpec, path: str | Path, features: int = 0, hetero: bool = False
) -> Path:
    """Write an R-MAT graph's tables (see `rmat_tables`) to a DuckDB file."""
    return write_tables_duckdb(rmat_tables(spec, features, hetero), path)
