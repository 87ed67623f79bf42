"""The stages after preprocessing: split, train, infer, evaluate — each reads only earlier
stages' artifacts in the run directory, so any of them re-runs alone."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from gigalearn.common.atomic import atomic_dir, atomic_write_text
from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.evaluate import Metric, held_out_metrics
from gigalearn.graph.holdout import write_training_graph
from gigalearn.graph.infer import compute_embeddings
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sources import Source
from gigalearn.graph.split import Split, split_edges
from gigalearn.graph.store import GraphStore
from gigalearn.graph.train import build_model


def _link_task(cfg: GraphConfig) -> tuple[str, str, str]:
    if cfg.task is None or cfg.task.kind != "link_prediction":
        raise ConfigError(
            "these stages need `task: {kind: link_prediction, target: [...]}` "
            "(node classification training is not implemented yet)"
        )
    return tuple(cfg.task.target)


def split_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Split the target edges and write the training graph without the held-out ones."""
    target = _link_task(cfg)
    store = GraphStore(run.graph)
    split = split_edges(store, target, cfg.task.split)
    split.save(run.splits / "edges")
    write_training_graph(store, target, split.train, run.train_graph)
    return {"train": len(split.train), "val": len(split.val), "test": len(split.test)}


def load_split(run: RunDir) -> Split:
    return Split.load(run.splits / "edges")


def infer_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Embeddings of every node of the task's types (on the training graph), as Parquet with
    the original ids, and written back to the source database when `infer.write_back` says."""
    target = _link_task(cfg)
    store = GraphStore(run.train_graph)
    model = build_model(cfg, store)
    state = torch.load(run.model / "model.pt", weights_only=False)
    model.load_state_dict(state["model"])
    options = KHopOptions.from_config(cfg.sampling)
    tables = {}
    with atomic_dir(run.embeddings) as tmp:
        for node_type in dict.fromkeys((target[0], target[2])):
            emb = compute_embeddings(model, store, node_type, options).numpy()
            table = pa.table(
                {
                    "id": store.node_ids(node_type),
                    "node_type": pa.array([node_type] * len(emb)),
                    "embedding": pa.FixedSizeListArray.from_arrays(
                        pa.array(emb.astype(np.float32).ravel()), emb.shape[1]
                    ),
                }
            )
            pq.write_table(table, tmp / f"{node_type}.parquet")
            tables[node_type] = table
    written = []
    if cfg.infer.write_back:
        with Source(cfg.source) as source:
            for node_type, table in tables.items():
                name = f"{cfg.infer.write_back}_{node_type}"
                # a plain list column: every engine (DuckDB, SQLite via JSON, PostgreSQL arrays)
                table = table.set_column(
                    2, "embedding", table.column("embedding").cast(pa.list_(pa.float32()))
                )
                source.write_table(name, table)
                written.append(name)
    return {
        "node_types": list(tables),
        "rows": {t: len(v) for t, v in tables.items()},
        "written_back": written,
    }


def _embeddings(run: RunDir, node_type: str) -> torch.Tensor:
    path = run.embeddings / f"{node_type}.parquet"
    if not path.exists():
        raise DataError(f"{path} is missing: run the infer stage first")
    col = pq.read_table(path).column("embedding").combine_chunks()
    dim = col.type.list_size
    return torch.from_numpy(col.flatten().to_numpy().reshape(-1, dim).copy())


def evaluate_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Test-split retrieval metrics: each source's test destinations among all destinations,
    its training and validation destinations filtered out; written to metrics.json."""
    s_type, rel, d_type = _link_task(cfg)
    full = GraphStore(run.graph)
    split = load_split(run)
    src, dst = full.edge_index((s_type, rel, d_type))
    q, items = _embeddings(run, s_type), _embeddings(run, d_type)
    metrics = [Metric.parse(m) for m in cfg.evaluate.metrics]
    result = held_out_metrics(
        q, items, src, dst, split.test, np.concatenate([split.train, split.val]), metrics
    )
    summary = {"split": "test", "candidates": len(items), **result}
    atomic_write_text(run.metrics, json.dumps(summary, indent=2))
    return summary
