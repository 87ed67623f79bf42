"""Tiny relational fixtures for the graph tests, loadable into every supported engine."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gigalearn.graph.config import config_from_dict
from gigalearn.graph.store import GraphStore


def tiny_tables() -> dict[str, pa.Table]:
    """Users (int ids, one missing age), movies (string ids), timestamped weighted ratings."""
    return {
        "users": pa.table(
            {
                "user_id": pa.array([30, 10, 20, 40], pa.int64()),
                "age": pa.array([31.0, 18.0, None, 55.0]),
                "gender": ["F", "M", "F", "M"],
            }
        ),
        "movies": pa.table(
            {
                "movie_id": ["m3", "m1", "m2"],
                "genres": ["Drama", "Action|Comedy", "Comedy"],
                "year": pa.array([1999, 1977, 2004], pa.int64()),
            }
        ),
        "ratings": pa.table(
            {
                "user_id": pa.array([10, 10, 20, 30, 30, 40, 20], pa.int64()),
                "movie_id": ["m1", "m2", "m1", "m3", "m1", "m2", "m3"],
                "rating": pa.array([5.0, 3.0, 4.0, 2.0, 1.0, 4.0, 5.0]),
                "ts": pa.array([100, 200, 150, 120, 300, 50, 90], pa.int64()),
            }
        ),
    }


def tiny_config(source: dict, **edge_overrides) -> dict:
    return {
        "name": "tiny",
        "source": source,
        "nodes": {
            "user": {
                "table": "users",
                "id": "user_id",
                "features": {
                    "age": {"standardize": {"missing": "indicator"}},
                    "gender": "categorical",
                },
            },
            "movie": {
                "table": "movies",
                "id": "movie_id",
                "features": {"genres": {"multi_hot": {"sep": "|"}}, "year": "min_max"},
            },
        },
        "edges": [
            {
                "type": ["user", "rated", "movie"],
                "table": "ratings",
                "src": "user_id",
                "dst": "movie_id",
                "time": "ts",
                "weight": "rating",
                "reverse": True,
                **edge_overrides,
            }
        ],
    }


def write_duckdb(path: Path, tables: dict[str, pa.Table]) -> str:
    con = duckdb.connect(str(path))
    for name, table in tables.items():
        con.register("_t", table)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _t')
        con.unregister("_t")
    con.close()
    return str(path)


def write_sqlite(path: Path, tables: dict[str, pa.Table]) -> str:
    con = sqlite3.connect(path)
    for name, table in tables.items():
        cols = table.column_names
        con.execute(f'CREATE TABLE "{name}" ({", ".join(cols)})')
        rows = list(zip(*(table.column(c).to_pylist() for c in cols), strict=True))
        con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(cols))})', rows)
    con.commit()
    con.close()
    return str(path)


def write_postgres(url: str, tables: dict[str, pa.Table]) -> str:
    import ibis

    con = ibis.connect(url)
    for name, table in tables.items():
        con.create_table(name, table, overwrite=True)
    con.disconnect()
    return url


def write_files(folder: Path, tables: dict[str, pa.Table]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    return str(folder)


def store_snapshot(path: Path) -> dict:
    """Everything in a GraphStore that must not depend on the engine it was built from."""
    meta = json.loads((path / "metadata.json").read_text())
    meta.pop("build_seconds")
    meta.pop("source")
    out = {"metadata": meta}
    for f in sorted(path.rglob("*.npy")):
        out[str(f.relative_to(path))] = np.load(f)
    for f in sorted(path.rglob("ids.parquet")):
        out[str(f.relative_to(path))] = pq.read_table(f).column("id").to_pylist()
    return out


def assert_same_store(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert a["metadata"] == b["metadata"]
    for k in a:
        if k.endswith(".npy"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        elif k != "metadata":
            assert a[k] == b[k], k


@pytest.fixture
def tiny_duckdb(tmp_path: Path) -> str:
    return write_duckdb(tmp_path / "tiny.duckdb", tiny_tables())


@pytest.fixture
def tiny_cfg(tiny_duckdb: str):
    """A factory: tiny_cfg(**edge_overrides) → validated GraphConfig on the DuckDB fixture."""
    return lambda **kw: config_from_dict(
        tiny_config({"engine": "duckdb", "uri": tiny_duckdb}, **kw)
    )


def make_store(path: Path, nodes: dict[str, int], edges: dict[tuple, dict]) -> GraphStore:
    """Build a GraphStore from arrays: nodes {type: count}, edges {edge type: {"src": ...,
    "dst": ..., optional "time"/"weight"}} in dense ids 0..n-1 (ids are kept as they are)."""
    from gigalearn.graph.preprocess.build import build_graph

    tables = {f"n_{t}": pa.table({"id": np.arange(n, dtype=np.int64)}) for t, n in nodes.items()}
    cfg_edges = []
    for i, (etype, cols) in enumerate(edges.items()):
        tables[f"e_{i}"] = pa.table({k: np.asarray(v) for k, v in cols.items()})
        cfg_edges.append(
            {
                "type": list(etype),
                "table": f"e_{i}",
                "src": "src",
                "dst": "dst",
                **{k: k for k in ("time", "weight") if k in cols},
            }
        )
    uri = write_duckdb(path.with_suffix(".duckdb"), tables)
    cfg = config_from_dict(
        {
            "name": "t",
            "source": {"engine": "duckdb", "uri": uri},
            "nodes": {t: {"table": f"n_{t}", "id": "id"} for t in nodes},
            "edges": cfg_edges,
        }
    )
    build_graph(cfg, path)
    return GraphStore(path)
