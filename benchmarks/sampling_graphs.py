"""Graphs of the sampling benchmark (benchmarks/bench_sampling.py): GraphStores built once with
`gigalearn graph synthetic` / `gigalearn graph preprocess` and cached under
`<cache_root>/bench/sampling`, each with 16 engine-computed pseudo-random node features.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gigalearn.graph.datasets.movielens import fetch_movielens
from gigalearn.graph.datasets.synthetic import PowerLawSpec
from gigalearn.graph.store import FORMAT_VERSION

N_FEATURES = 16


def _hash_features(id_col: str) -> str:
    """16 deterministic pseudo-random features in [0, 1) per node, computed by the engine."""
    return ", ".join(
        f"(hash({id_col}, {i}) % 1000003) / 1000003.0 AS f{i}" for i in range(N_FEATURES)
    )


def _build_store(name: str, config: dict, root: Path) -> Path:
    store = root / "runs" / name / "graph"
    meta = store / "metadata.json"
    if meta.exists():
        if json.loads(meta.read_text()).get("format_version") == FORMAT_VERSION:
            return store
        print(f"  {name}: cached store has an older format; rebuilding", flush=True)
        shutil.rmtree(store)
    cfg_path = root / f"{name}.yaml"
    cfg_path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    print(f"  building GraphStore {name} (cached for later runs) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("gigalearn")), "graph", "preprocess", str(cfg_path),
         "--runs-dir", str(root / "runs")],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    return store


def synthetic_store(spec: PowerLawSpec, root: Path) -> Path:
    tag = f"{spec.num_nodes}-{spec.num_edges}-{spec.exponent}-{spec.seed}"
    db = root.parent / f"powerlaw-{tag}.duckdb"  # shared with bench_preprocess.py
    if not db.exists():
        print(f"  writing {db.name} ...", flush=True)
        subprocess.run(
            [str(Path(sys.executable).with_name("gigalearn")), "graph", "synthetic",
             "--out", str(db), "--nodes", str(spec.num_nodes), "--edges", str(spec.num_edges),
             "--exponent", str(spec.exponent), "--seed", str(spec.seed)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    features = {f"f{i}": "passthrough" for i in range(N_FEATURES)}
    config = {
        "name": f"sampling-powerlaw-{tag}".replace(".", "_"),  # names: letters, digits, _ -
        "source": {"engine": "duckdb", "uri": str(db)},
        "nodes": {
            "node": {
                "query": f"SELECT node_id, {_hash_features('node_id')} FROM nodes",
                "id": "node_id",
                "features": features,
            }
        },
        "edges": [
            {"type": ["node", "links", "node"], "table": "edges", "src": "src", "dst": "dst"}
        ],
    }
    return _build_store(config["name"], config, root)


def movielens_store(root: Path) -> Path:
    db = fetch_movielens("1m", root.parent / "ml-1m.duckdb")  # shared with bench_preprocess.py
    u = "'u' || CAST(user_id AS VARCHAR)"
    m = "'m' || CAST(movie_id AS VARCHAR)"
    features = {f"f{i}": "passthrough" for i in range(N_FEATURES)}
    config = {
        "name": "sampling-ml-1m-homogeneous",
        "source": {"engine": "duckdb", "uri": str(db)},
        "nodes": {
            "node": {
                "query": f"SELECT id, {_hash_features('id')} FROM "
                f"(SELECT {u} AS id FROM users UNION SELECT {m} AS id FROM movies)",
                "id": "id",
                "features": features,
            }
        },
        "edges": [
            {
                "type": ["node", "rated", "node"],
                "query": f"SELECT {u} AS src, {m} AS dst FROM ratings "
                f"UNION ALL SELECT {m} AS src, {u} AS dst FROM ratings",
                "src": "src",
                "dst": "dst",
            }
        ],
    }
    return _build_store(config["name"], config, root)


def describe(store_path: Path) -> dict:
    from gigalearn.graph.store import GraphStore

    g = GraphStore(store_path)
    ((n_type,), (e_type,)) = g.node_types, g.edge_types
    csr = g.csr(e_type, "in")
    deg = csr.degrees()
    return {
        "nodes": g.num_nodes(n_type),
        "edges": g.num_edges(e_type),
        "features": int(g.node_features(n_type).shape[1]),
        "indices_dtype": str(csr.indices.dtype),
        "indices_mb": csr.indices.nbytes / 2**20,
        "max_in_degree": int(deg.max()),
        "mean_in_degree": float(deg.mean()),
        "zero_in_degree": int((deg == 0).sum()),
    }
