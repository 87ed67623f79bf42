"""The training graph: the GraphStore without the held-out (validation and test) edges.

Sampling for training and for evaluation reads this graph, so no held-out edge can carry its
own answer through message passing. Node files are hard-linked (no copy); only the target edge
type (and, through it, its reverse) is rewritten, keeping the canonical order, so edge id i of
the training graph is edge `kept[i]` of the full graph.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from gigalearn.common.atomic import atomic_dir
from gigalearn.graph.preprocess.csr import counting_sort
from gigalearn.graph.store import EdgeType, GraphStore, edge_dir_name


def _link_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            try:
                os.link(path, target)
            except OSError:  # another file system: copy
                shutil.copy2(path, target)


def write_training_graph(
    store: GraphStore, edge_type: EdgeType, keep: np.ndarray, out: Path
) -> GraphStore:
    """Write a copy of `store` where `edge_type` keeps only edge ids `keep` (sorted)."""
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    meta = store.edge_meta(edge_type)
    base = tuple(meta.get("reverse_of") or meta["type"])
    with atomic_dir(Path(out)) as tmp:
        _link_tree(store.path / "nodes", tmp / "nodes")
        for t in store.edge_types:
            if store.edge_meta(t).get("reverse_of"):
                continue
            name = edge_dir_name(t)
            if t != base:
                _link_tree(store.path / "edges" / name, tmp / "edges" / name)
                continue
            folder = tmp / "edges" / name
            folder.mkdir(parents=True)
            src, dst = (np.asarray(a)[keep] for a in store.edge_index(base))
            dtype = np.asarray(store.csr(base, "out").indptr).dtype
            # kept edge ids are sorted, so the edges stay in (dst, src) order
            in_indptr, _ = counting_sort(dst, store.num_nodes(base[2]), dtype)
            out_indptr, out_eid = counting_sort(src, store.num_nodes(base[0]), dtype)
            arrays = {
                "src": src,
                "dst": dst,
                "in_indptr": in_indptr.astype(dtype),
                "out_indptr": out_indptr.astype(dtype),
                "out_indices": dst[out_eid],
                "out_eid": out_eid,
                "full_eid": keep,
            }
            for extra, getter in (
                ("time", store.edge_time),
                ("weight", store.edge_weight),
                ("features", store.edge_features),
            ):
                value = getter(base)
                if value is not None:
                    arrays[extra] = np.asarray(value)[keep]
            for key, value in arrays.items():
                np.save(folder / f"{key}.npy", value)
        metadata = json.loads(json.dumps(store.metadata))
        for e in metadata["edges"]:
            if tuple(e.get("reverse_of") or e["type"]) == base:
                e["count"] = len(keep)
                e["held_out"] = int(store.num_edges(base) - len(keep))
                e.pop("feature_storage", None)  # features were written back as float32
        (tmp / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return GraphStore(out)
