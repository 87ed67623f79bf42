"""The stages after preprocessing: split, train (in train.py), infer, evaluate — each reads
only earlier stages' artifacts in the run directory, so any of them re-runs alone."""

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
from gigalearn.graph.infer import compute_embeddings_ranked
from gigalearn.graph.nn.decoders import Decoder, build_decoder
from gigalearn.graph.partition import seed_owners
from gigalearn.graph.ranks import Ranks
from gigalearn.graph.rpc_sampling import rank_samplers
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sources import Source
from gigalearn.graph.split import split_edges, split_nodes
from gigalearn.graph.store import GraphStore
from gigalearn.graph.tasks import LinkTask, NodeTask, make_task, sampler


def _task_kind(cfg: GraphConfig) -> str:
    if cfg.task is None:
        raise ConfigError(
            "this stage needs a `task` section (link_prediction or node_classification)"
        )
    return cfg.task.kind


def split_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Split the target edges (and write the training graph without the held-out ones) or the
    labelled target nodes."""
    store = GraphStore(run.graph)
    if _task_kind(cfg) == "node_classification":
        split = split_nodes(store, cfg.task.target, cfg.task.split)
        split.save(run.splits / "nodes")
    else:
        target = tuple(cfg.task.target)
        split = split_edges(store, target, cfg.task.split)
        split.save(run.splits / "edges")
        write_training_graph(store, target, split.train, run.train_graph)
    return {"train": len(split.train), "val": len(split.val), "test": len(split.test)}


def _trained(cfg: GraphConfig, run: RunDir) -> tuple[LinkTask | NodeTask, torch.nn.Module]:
    task = make_task(cfg, run)
    model = task.build_model()
    path = run.model / "model.pt"
    if not path.exists():
        raise DataError(f"{path} is missing: run the train stage first")
    model.load_state_dict(torch.load(path, weights_only=False)["model"])
    return task, model


def _fixed_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(
        pa.array(matrix.astype(np.float32).ravel()), matrix.shape[1]
    )


def _infer_tables(
    cfg: GraphConfig, run: RunDir, task: LinkTask | NodeTask, model: torch.nn.Module, ranks: Ranks
) -> dict[str, pa.Table]:
    """Per node type, the embeddings (link prediction) or class predictions of every node."""
    store = task.store
    if isinstance(task, NodeTask):
        prob = task.predict(model, np.arange(store.num_nodes(task.node_type)))
        classes = store.node_meta(task.node_type)["label"]["classes"]
        return {
            task.node_type: pa.table(
                {
                    "id": store.node_ids(task.node_type),
                    "prediction": pa.array([str(classes[i]) for i in prob.argmax(1)]),
                    "probability": pa.array(prob.max(1).astype(np.float32)),
                }
            )
        }
    options = KHopOptions.from_config(cfg.sampling)
    tables = {}
    for node_type in dict.fromkeys((task.target[0], task.target[2])):
        # under torchrun each rank embeds its share (gigalearn.graph.infer)
        nodes = np.arange(store.num_nodes(node_type))
        owner = seed_owners(cfg, run.root, node_type, nodes, ranks.world)
        emb = compute_embeddings_ranked(
            model, store, node_type, options, ranks, owner=owner, sampler=sampler(task)
        ).numpy()
        tables[node_type] = pa.table(
            {
                "id": store.node_ids(node_type),
                "node_type": pa.array([node_type] * len(emb)),
                "embedding": _fixed_list(emb),
            }
        )
    return tables


def infer_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Embeddings of every node of the task's types (link prediction; sampled on the training
    graph) or class predictions (node classification), as Parquet with the original ids, and
    written back to the source database when `infer.write_back` names a table prefix."""
    task, model = _trained(cfg, run)
    ranks = Ranks.from_env()
    with rank_samplers(cfg, run.root, task.store, ranks) as task.make_sampler:
        tables = _infer_tables(cfg, run, task, model, ranks)
    if ranks.rank != 0:  # rank 0 writes for all
        return {"node_types": list(tables), "rows": {t: len(v) for t, v in tables.items()}}
    with atomic_dir(run.embeddings) as tmp:
        for node_type, table in tables.items():
            pq.write_table(table, tmp / f"{node_type}.parquet")
    written = []
    if cfg.infer.write_back:
        with Source(cfg.source) as source:
            for node_type, table in tables.items():
                name = f"{cfg.infer.write_back}_{node_type}"
                if "embedding" in table.column_names:  # a plain list: arrays in every engine
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
    return torch.from_numpy(col.flatten().to_numpy().reshape(-1, col.type.list_size).copy())


def _decoder(cfg: GraphConfig, run: RunDir) -> Decoder:
    """The link decoder; a learned one (hadamard_mlp) with its trained weights from model.pt."""
    if cfg.model.decoder == "hadamard_mlp":
        return _trained(cfg, run)[1].decoder
    return build_decoder(cfg.model.decoder, cfg.model.hidden)


def evaluate_stage(cfg: GraphConfig, run: RunDir) -> dict:
    """Test-split metrics, written to metrics.json. Link prediction: each source's test
    destinations among all destinations, its training and validation ones filtered out, from
    the stored embeddings scored by the model's decoder. Node classification: accuracy and
    macro-F1 of the test nodes."""
    if _task_kind(cfg) == "node_classification":
        task, model = _trained(cfg, run)
        summary = {"split": "test", "nodes": len(task.split.test), **task.validate(model, "test")}
    else:
        task = make_task(cfg, run)
        s_type, _, d_type = task.target
        src, dst = task.full.edge_index(task.target)
        items = _embeddings(run, d_type)
        metrics = [Metric.parse(m) for m in cfg.evaluate.metrics]
        result = held_out_metrics(
            _embeddings(run, s_type),
            items,
            src,
            dst,
            task.split.test,
            np.concatenate([task.split.train, task.split.val]),
            metrics,
            method=cfg.evaluate.search,
            decoder=_decoder(cfg, run),
        )
        summary = {"split": "test", "candidates": len(items), **result}
    atomic_write_text(run.metrics, json.dumps(summary, indent=2))
    return summary
