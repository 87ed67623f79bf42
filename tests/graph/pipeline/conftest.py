"""A small planted-cluster user–item graph that a GNN learns in a few steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from ..conftest import write_duckdb


def planted_tables(n_users=300, n_items=120, clusters=6, per_user=12, seed=0):
    rng = np.random.default_rng(seed)
    u_cluster = rng.integers(0, clusters, n_users)
    i_cluster = np.arange(n_items) % clusters
    rows = []
    for u in range(n_users):
        pool = np.flatnonzero(i_cluster == u_cluster[u])
        for i in rng.choice(pool, per_user, replace=False):
            rows.append((u, i))
    src, dst = np.array(rows).T
    return {
        "users": pa.table(
            {
                "user_id": np.arange(n_users) + 1000,
                "f": rng.normal(size=n_users),
                "taste": [f"t{c}" for c in u_cluster],
            }
        ),
        "items": pa.table(
            {"item_id": [f"i{i}" for i in range(n_items)], "c": [f"c{c}" for c in i_cluster]}
        ),
        "likes": pa.table(
            {
                "user_id": src + 1000,
                "item_id": [f"i{i}" for i in dst],
                "ts": rng.integers(0, 10**6, len(src)),
            }
        ),
    }


def planted_config(db: str, **over) -> dict:
    cfg = {
        "name": "planted",
        "source": {"engine": "duckdb", "uri": db},
        "nodes": {
            "user": {"table": "users", "id": "user_id", "features": {"f": "standardize"}},
            "item": {"table": "items", "id": "item_id", "features": {"c": "categorical"}},
        },
        "edges": [
            {
                "type": ["user", "likes", "item"],
                "table": "likes",
                "src": "user_id",
                "dst": "item_id",
                "time": "ts",
                "reverse": True,
            }
        ],
        "task": {
            "kind": "link_prediction",
            "target": ["user", "likes", "item"],
            "split": {"strategy": "random", "val": 0.1, "test": 0.1},
        },
        "sampling": {"fanout": [5, 5], "negatives": {"in_batch": True, "random": 20}},
        "model": {"encoder": "sage", "hidden": 16, "layers": 2, "id_embeddings": True},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
        "infer": {"write_back": "emb"},
        "evaluate": {"metrics": ["recall@10", "ndcg@10", "mrr", "hit@5"]},
    }
    for key, value in over.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    return cfg


@pytest.fixture
def planted(tmp_path: Path):
    """(workdir, write_config(**overrides) -> path of a YAML config)."""
    db = write_duckdb(tmp_path / "planted.duckdb", planted_tables())

    def write(filename: str = "task.yaml", edit=None, **over) -> Path:
        """Write the config with `over` merged per section; `edit(cfg)` may change the rest."""
        cfg = planted_config(db, **over)
        if edit is not None:
            edit(cfg)
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(cfg))
        return path

    return tmp_path, write
