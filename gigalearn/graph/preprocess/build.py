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
from gigalearn.graph.preprocess.edges import assemble_edges, read_edge_columns
from gigalearn.graph.preprocess.ids import IdIndex, enumerate_ids
from gigalearn.graph.preprocess.transforms import fit_transform
from gigalearn.graph.sources import Source
from gigalearn.graph.store import FORMAT_VERSION, edge_dir_name

Step = Callable[[str], None]


def _redact(uri: str | None) -> str | None:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri) if uri else uri


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
    np.save(folder / "features.npy", feats)
    meta: dict[str, Any] = {
        "count": len(ids),
        "id_type": str(ids.type),
        "feature_dim": int(feats.shape[1]),
        "features": [f.to_json() for f in fitted],
    }
    if cfg.label:
        labels = table.column(cfg.label).combine_chunks()
        classes = sorted(set(labels.drop_null().to_pylist()), key=str)
        lookup = {c: i for i, c in enumerate(classes)}
        y = np.array([lookup.get(v, -1) for v in labels.to_pylist()], dtype=np.int64)
        np.save(folder / "labels.npy", y)
        meta["label"] = {"column": cfg.label, "classes": classes, "labelled": int((y >= 0).sum())}
    return meta, ids


def _edges(
    source: Source, i: int, cfg: EdgeConfig, index: dict[str, IdIndex], out: Path
) -> list[dict]:
    where = f"edges[{i}] {list(cfg.type)} ({cfg.relation_name})"
    cols = read_edge_columns(source, cfg, index, where)
    arrays, kept_rows = assemble_edges(cfg, cols, index, where)
    feature_table = cols.features
    folder = out / "edges" / edge_dir_name(cfg.type)
    folder.mkdir(parents=True)
    for name in ("src", "dst", "out_indptr", "in_indptr", "in_indices", "in_eid", "time", "weight"):
        value = getattr(arrays, name)
        if value is not None:
            np.save(folder / f"{name}.npy", value)
    fitted = []
    if cfg.features:
        kept = feature_table.take(pa.array(kept_rows))
        edge_ids = pa.array(np.arange(len(kept_rows)))
        feats, fitted = fit_transform(cfg.features, kept, edge_ids, where)
        np.save(folder / "features.npy", feats)
    meta = {
        "type": list(cfg.type),
        "count": len(arrays.src),
        "time": cfg.time is not None,
        "weight": cfg.weight is not None,
        "feature_dim": sum(len(f.columns) for f in fitted),
        "features": [f.to_json() for f in fitted],
        "index_dtype": str(arrays.src.dtype),
        "offset_dtype": str(arrays.out_indptr.dtype),
        "report": arrays.report,
        "policies": {
            "dangling": cfg.dangling,
            "self_loops": cfg.self_loops,
            "duplicates": cfg.duplicates,
        },
    }
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


def build_graph(cfg: GraphConfig, store_dir: str | Path, step: Step | None = None) -> dict:
    """Read every node and edge set of `cfg` and write the GraphStore atomically to `store_dir`.

    Nothing is left at `store_dir` if any step fails; an existing store is replaced on success.
    """
    step = step or (lambda _msg: None)
    start = time.perf_counter()
    with Source(cfg.source) as source, atomic_dir(Path(store_dir)) as out:
        nodes_meta, index = {}, {}
        for name, ncfg in cfg.nodes.items():
            step(f"nodes {name}")
            nodes_meta[name], sorted_ids = _nodes(source, name, ncfg, out)
            index[name] = IdIndex(sorted_ids)
        edges_meta = []
        for i, ecfg in enumerate(cfg.edges):
            step(f"edges {'/'.join(ecfg.type)}")
            edges_meta += _edges(source, i, ecfg, index, out)
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
