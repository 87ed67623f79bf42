"""GraphStore: the on-disk graph every later stage reads (DESIGN.md, "GraphStore").

Layout under the store folder:
  metadata.json                          counts, schema, fitted transforms, build report
  nodes/<type>/ids.parquet               original ids; row i has dense id i
  nodes/<type>/features.npy              float32 [n, d] (compact features: one file per storage
                                         dtype, features_{float16,bfloat16,int8}.npy)
  nodes/<type>/labels.npy                int64 [n] (-1 = unlabelled), when a label is declared
  edges/<src>__<rel>__<dst>/             per declared edge type, in canonical (dst, src) order:
      src.npy dst.npy                    endpoints by edge id (src doubles as the in-CSR indices)
      in_indptr.npy                      in-CSR offsets over dst: the edge ids of v's in-edges
                                         are in_indptr[v]..in_indptr[v+1]-1 (no edge-id array)
      out_indptr.npy out_indices.npy out_eid.npy   out-CSR: per src, its targets and edge ids
      time.npy weight.npy features.npy   optional, indexed by edge id
A reverse edge type is an alias: its out-CSR is the forward type's in-CSR, so nothing is copied.
Edges are ordered by destination because in-edge sampling (messages flow to the sampled node,
PyG's default) is the hot path: an in-CSR position is the edge id, so sampling with edge ids
reads no second random array.
Arrays open memory-mapped, so several processes share one copy through the page cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gigalearn.common.errors import DataError
from gigalearn.graph.preprocess.compact import gather

EdgeType = tuple[str, str, str]
FORMAT_VERSION = 2


def edge_dir_name(t: EdgeType) -> str:
    return "__".join(t)


@dataclass(frozen=True)
class CSR:
    """Compressed rows: neighbours of row r are indices[indptr[r]:indptr[r+1]], edge ids in eid."""

    indptr: np.ndarray
    indices: np.ndarray
    eid: np.ndarray | None
    """None means the identity (edge id = position), true of every out-CSR here."""

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)


class GraphStore:
    """Read-only view of a GraphStore folder; arrays are memory-mapped on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta = self.path / "metadata.json"
        if not meta.exists():
            raise DataError(
                f"{self.path}: not a GraphStore (no metadata.json); run "
                "`gigalearn graph preprocess CONFIG` first"
            )
        self.metadata: dict[str, Any] = json.loads(meta.read_text())
        self._arrays: dict[str, np.ndarray | None] = {}
        if self.metadata.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{self.path}: GraphStore format {self.metadata.get('format_version')}"
                f" is not {FORMAT_VERSION}; rebuild it with this version (`gigalearn graph"
                " preprocess CONFIG`; `gigalearn graph run` rebuilds it by itself)"
            )

    # ---- schema --------------------------------------------------------------------------
    @property
    def node_types(self) -> list[str]:
        return list(self.metadata["nodes"])

    @property
    def edge_types(self) -> list[EdgeType]:
        return [tuple(e["type"]) for e in self.metadata["edges"]]

    def num_nodes(self, node_type: str) -> int:
        return self.node_meta(node_type)["count"]

    def num_edges(self, edge_type: EdgeType) -> int:
        return self.edge_meta(edge_type)["count"]

    def node_meta(self, node_type: str) -> dict[str, Any]:
        try:
            return self.metadata["nodes"][node_type]
        except KeyError:
            raise KeyError(f"unknown node type '{node_type}' (known: {self.node_types})") from None

    def edge_meta(self, edge_type: EdgeType) -> dict[str, Any]:
        for e in self.metadata["edges"]:
            if tuple(e["type"]) == tuple(edge_type):
                return e
        raise KeyError(f"unknown edge type {list(edge_type)} (known: {self.edge_types})")

    # ---- arrays --------------------------------------------------------------------------
    def _load(self, rel: str) -> np.ndarray | None:
        """Memory-map an array once; later calls (from samplers' hot loops) reuse the map."""
        if rel not in self._arrays:
            path = self.path / rel
            self._arrays[rel] = np.load(path, mmap_mode="r") if path.exists() else None
        return self._arrays[rel]

    def node_ids(self, node_type: str) -> pa.Array:
        """Original ids of `node_type`; position i is dense id i."""
        self.node_meta(node_type)
        return self._ids[node_type]

    @cached_property
    def _ids(self) -> dict[str, pa.Array]:
        return {
            t: pq.read_table(self.path / "nodes" / t / "ids.parquet").column("id").combine_chunks()
            for t in self.node_types
        }

    def node_features(self, node_type: str) -> np.ndarray:
        """float32 [n, d]: the memory-mapped file, or for compact features a dequantised copy
        of the whole matrix (loaders gather rows with `gather_node_features` instead)."""
        return self.gather_node_features(node_type, None)

    def gather_node_features(self, node_type: str, idx: np.ndarray | None) -> np.ndarray:
        """Rows `idx` (None: all) of the node features as float32, dequantised if compact."""
        return self._features(f"nodes/{node_type}", self.node_meta(node_type), idx)

    def gather_edge_features(
        self, edge_type: EdgeType, idx: np.ndarray | None
    ) -> np.ndarray | None:
        """Rows `idx` (edge ids; None: all) of the edge features as float32, or None."""
        meta = self.edge_meta(edge_type)
        base = edge_dir_name(tuple(meta.get("reverse_of") or meta["type"]))
        return self._features(f"edges/{base}", meta, idx)

    def feature_bytes(self, node_type: str) -> int:
        """Bytes of the node type's stored feature arrays (compact or float32), headers aside."""
        groups = self.node_meta(node_type).get("feature_storage") or [{"file": "features.npy"}]
        return sum(self._load(f"nodes/{node_type}/{g['file']}").nbytes for g in groups)

    def _features(self, folder: str, meta: dict, idx: np.ndarray | None) -> np.ndarray | None:
        groups = meta.get("feature_storage")
        if not groups:  # every column float32: one file, no copy for idx=None
            arr = self._load(f"{folder}/features.npy")
            return arr if arr is None or idx is None else np.take(arr, idx, axis=0)
        arrays = [self._load(f"{folder}/{g['file']}") for g in groups]
        return gather(arrays, groups, meta["feature_dim"], idx)

    def node_labels(self, node_type: str) -> np.ndarray | None:
        meta = self.node_meta(node_type)
        return self._load(f"nodes/{node_type}/labels.npy") if meta.get("label") else None

    def _edge_array(self, edge_type: EdgeType, name: str) -> np.ndarray | None:
        meta = self.edge_meta(edge_type)
        base = meta.get("reverse_of") or meta["type"]
        return self._load(f"edges/{edge_dir_name(tuple(base))}/{name}.npy")

    def csr(self, edge_type: EdgeType, direction: Literal["out", "in"] = "out") -> CSR:
        """Neighbours along `edge_type`: 'out' indexes by source, 'in' by destination."""
        reverse = self.edge_meta(edge_type).get("reverse_of") is not None
        if (direction == "in") != reverse:  # positions are edge ids: no eid array
            return CSR(
                self._edge_array(edge_type, "in_indptr"), self._edge_array(edge_type, "src"), None
            )
        return CSR(
            self._edge_array(edge_type, "out_indptr"),
            self._edge_array(edge_type, "out_indices"),
            self._edge_array(edge_type, "out_eid"),
        )

    def edge_index(self, edge_type: EdgeType) -> tuple[np.ndarray, np.ndarray]:
        """(src, dst) dense ids by edge id, in the direction of `edge_type`."""
        src, dst = self._edge_array(edge_type, "src"), self._edge_array(edge_type, "dst")
        return (dst, src) if self.edge_meta(edge_type).get("reverse_of") else (src, dst)

    def edge_time(self, edge_type: EdgeType) -> np.ndarray | None:
        return self._edge_array(edge_type, "time")

    def edge_weight(self, edge_type: EdgeType) -> np.ndarray | None:
        return self._edge_array(edge_type, "weight")

    def edge_features(self, edge_type: EdgeType) -> np.ndarray | None:
        """float32 [E, d] by edge id (dequantised copy for compact features), or None."""
        return self.gather_edge_features(edge_type, None)

    # ---- id translation ------------------------------------------------------------------
    def to_dense(self, node_type: str, original: list | pa.Array) -> np.ndarray:
        """Dense ids of original ids; -1 where an id is unknown."""
        import pyarrow.compute as pc

        ids = self.node_ids(node_type)
        values = pa.array(original, type=ids.type) if isinstance(original, list) else original
        return pc.index_in(values, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)

    def to_original(self, node_type: str, dense: np.ndarray) -> pa.Array:
        return self.node_ids(node_type).take(pa.array(np.asarray(dense)))
