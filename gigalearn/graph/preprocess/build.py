"""The preprocess stage: read node and edge sets from the source and write a GraphStore."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gigalearn.common.atomic import atomic_dir
from gigalearn.graph.config import EdgeConfig, GraphConfig, NodeConfig
from gigalearn.graph.preprocess.chunked import CHUNK_EDGES, assemble_chunked
from gigalearn.graph.preprocess.compact import write_features
from gigalearn.graph.preprocess.edges import assemble_edges, read_edge_columns
from gigalearn.graph.preprocess.ids import IdIndex, enumerate_ids
from gigalearn.graph.preprocess.spill import EdgeSpill
from gigalearn.graph.preprocess.transforms import FittedFeature, fit_transform
from gigalearn.graph.sources import Source
from gigalearn.graph.store import FORMAT_VERSION, edge_dir_name

Step = Callable[[str], None]
ARRAYS = ("src", "dst", "in_indptr", "out_indptr", "out_indices", "out_eid", "time", "weight")


def _redact(uri: str | None) -> str | None:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri) if uri else uri


def _release() -> None:
    """Hand Arrow's freed buffers back to the OS: its allocator keeps them for reuse otherwise,
    and the next step (the edges' sort) needs the memory, not Arrow."""
    pa.default_memory_pool().release_unused()


def _storage(fitted: list[FittedFeature]) -> list[str]:
    """The storage dtype of every feature column, in matrix order."""
    return [f.spec.storage for f in fitted for _ in f.columns]


def _read(source: Source, rel_cfg: NodeConfig | EdgeConfig, where: str, columns: list[str]):
    rel = source.relation(rel_cfg.table, rel_cfg.query)
    return source.read(where, rel, columns)


def _nodes(source: Source, name: str, cfg: NodeConfig, out: Path) -> tuple[dict, pa.Array]:
    where = f"nodes.{name} ({cfg.relation_name})"
    cols = [cfg.id, *(s.column or f for f, s in cfg.features.items())]
    if cfg.label:
        cols.append(cfg.label)
    table = _read(source, cfg, where, cols)
    ids, order = enumerate_ids(table.column(cfg.id), where)
    table = table.take(pa.array(order))
    feats, fitted = fit_transform(cfg.features, table, ids, where)
    folder = out / "nodes" / name
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": ids}), folder / "ids.parquet")
    storage = write_features(folder, feats, _storage(fitted), where)
    meta: dict[str, Any] = {
        "count": len(ids),
        "id_type": str(ids.type),
        "feature_dim": int(feats.shape[1]),
        "features": [f.to_json() for f in fitted],
    }
    if storage:
        meta["feature_storage"] = storage
    if cfg.label:
        labels = table.column(cfg.label).combine_chunks()
        classes = sorted(set(labels.drop_null().to_pylist()), key=str)
        lookup = {c: i for i, c in enumerate(classes)}
        y = np.array([lookup.get(v, -1) for v in labels.to_pylist()], dtype=np.int64)
        np.save(folder / "labels.npy", y)
        meta["label"] = {"column": cfg.label, "classes": classes, "labelled": int((y >= 0).sum())}
    return meta, ids


def _edges(
    source: Source,
    i: int,
    cfg: EdgeConfig,
    index: dict[str, IdIndex],
    out: Path,
    chunk_edges: int,
    step: Step,
) -> list[dict]:
    where = f"edges[{i}] {list(cfg.type)} ({cfg.relation_name})"
    folder = out / "edges" / edge_dir_name(cfg.type)
    folder.mkdir(parents=True)
    spill_dir = out / f".spill-{i}"
    name = "/".join(cfg.type)
    step(f"edges {name}: reading")
    cols = read_edge_columns(source, cfg, index, where, spill_dir, chunk_edges)
    feature_table = cols.features
    _release()
    if isinstance(cols, EdgeSpill):  # more edges than one chunk: the out-of-core build
        built, kept_rows = assemble_chunked(
            cfg, cols, index, where, folder, chunk_edges, lambda m: step(f"edges {name}: {m}")
        )
        cols.remove()
        report, count = built["report"], built["count"]
        index_dtype, offset_dtype = built["index_dtype"], built["offset_dtype"]
    else:
        step(f"edges {name}: assembling in memory")
        arrays, kept_rows = assemble_edges(cfg, cols, index, where)
        for name in ARRAYS:
            value = getattr(arrays, name)
            if value is not None:
                np.save(folder / f"{name}.npy", value)
        report, count = arrays.report, len(arrays.src)
        index_dtype, offset_dtype = str(arrays.src.dtype), str(arrays.out_indptr.dtype)
        del arrays
    fitted, storage = [], None
    if cfg.features:
        kept = feature_table.take(pa.array(kept_rows))
        edge_ids = pa.array(np.arange(len(kept_rows)))
        feats, fitted = fit_transform(cfg.features, kept, edge_ids, where)
        storage = write_features(folder, feats, _storage(fitted), where)
    meta = {
        "type": list(cfg.type),
        "count": count,
        "time": cfg.time is not None,
        "weight": cfg.weight is not None,
        "feature_dim": sum(len(f.columns) for f in fitted),
        "features": [f.to_json() for f in fitted],
        "index_dtype": index_dtype,
        "offset_dtype": offset_dtype,
        "report": report,
        "policies": {
            "dangling": cfg.dangling,
            "self_loops": cfg.self_loops,
            "duplicates": cfg.duplicates,
        },
    }
    if storage:
        meta["feature_storage"] = storage
    rows = [meta]
    if cfg.reverse_type:
        rows.append(
            {
                **meta,
                "type": list(cfg.reverse_type),
                "reverse_of": list(cfg.type),
                "features": [],
                "report": {},
            }
        )
    return rows


def build_graph(
    cfg: GraphConfig,
    store_dir: str | Path,
    step: Step | None = None,
    chunk_edges: int = CHUNK_EDGES,
) -> dict:
    """Read every node and edge set of `cfg` and write the GraphStore atomically to `store_dir`.

    An edge set of more than `chunk_edges` rows is built out of core, `chunk_edges` at a time
    (same arrays). Nothing is left at `store_dir` if any step fails; an existing store is
    replaced on success.
    """
    step = step or (lambda _msg: None)
    start = time.perf_counter()
    with Source(cfg.source) as source, atomic_dir(Path(store_dir)) as out:
        nodes_meta, index = {}, {}
        for name, ncfg in cfg.nodes.items():
            step(f"nodes {name}")
            nodes_meta[name], sorted_ids = _nodes(source, name, ncfg, out)
            index[name] = IdIndex(sorted_ids)
            _release()
        edges_meta = []
        for i, ecfg in enumerate(cfg.edges):
            edges_meta += _edges(source, i, ecfg, index, out, chunk_edges, step)
        if not edges_meta:
            step("no edge types declared")
        metadata = {
            "format_version": FORMAT_VERSION,
            "name": cfg.name,
            "source": {"engine": cfg.source.engine, "uri": _redact(cfg.source.uri)},
            "nodes": nodes_meta,
            "edges": edges_meta,
            "build_seconds": round(time.perf_counter() - start, 3),
        }
        (out / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    return metadata
