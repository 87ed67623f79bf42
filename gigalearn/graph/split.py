"""Train / validation / test splits, deterministic by hash (not by row order or engine).

Link prediction splits the edges of the target type: `random` (each edge by a hash of its
endpoints), `temporal` (globally by time: the latest `test` fraction is the test set, the
`val` fraction before it validation) or `inductive` (by a hash of the source node: all of a
node's edges go to one split, so test nodes are unseen in training). Node classification splits
the labelled nodes by a hash of their id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gigalearn.common.atomic import atomic_dir
from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import SplitConfig
from gigalearn.graph.store import EdgeType, GraphStore

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def unit_hash(keys: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per integer key (splitmix64 of key and seed)."""
    z = keys.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class Split:
    """Ids (edge ids for link prediction, node ids for node classification) per split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def save(self, folder: Path) -> None:
        with atomic_dir(folder) as tmp:
            for name in ("train", "val", "test"):
                np.save(tmp / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, folder: Path) -> Split:
        return cls(*(np.load(Path(folder) / f"{n}.npy") for n in ("train", "val", "test")))


def _by_fraction(u: np.ndarray, cfg: SplitConfig) -> Split:
    test = u < cfg.test
    val = (u >= cfg.test) & (u < cfg.test + cfg.val)
    ids = np.arange(len(u))
    return Split(ids[~(test | val)], ids[val], ids[test])


def split_edges(store: GraphStore, edge_type: EdgeType, cfg: SplitConfig) -> Split:
    """Split the edges of `edge_type` (edge ids) as `cfg` says."""
    if cfg.val + cfg.test >= 1:
        raise ConfigError("task.split: val + test must leave some edges for training")
    src, dst = store.edge_index(edge_type)
    n_dst = store.num_nodes(edge_type[2])
    if cfg.strategy == "random":
        keys = src.astype(np.int64) * n_dst + dst
        # parallel edges share endpoints: tell them apart by their rank among equals
        # (edges are sorted by (dst, src), so equal keys are adjacent)
        pos = np.arange(len(keys))
        starts = np.ones(len(keys), dtype=bool)
        starts[1:] = keys[1:] != keys[:-1]
        rank = pos - np.maximum.accumulate(np.where(starts, pos, 0))
        return _by_fraction(unit_hash(keys * 64 + rank, cfg.seed), cfg)
    if cfg.strategy == "inductive":
        return _by_fraction(unit_hash(src.astype(np.int64), cfg.seed), cfg)
    time = store.edge_time(edge_type)
    if time is None:
        raise DataError(f"a temporal split needs a time on edge type {list(edge_type)}")
    order = np.lexsort((np.arange(len(time)), time))  # by time, ties by edge id
    n = len(order)
    n_test, n_val = round(n * cfg.test), round(n * cfg.val)
    train_end = n - n_test - n_val
    return Split(
        np.sort(order[:train_end]),
        np.sort(order[train_end : n - n_test]),
        np.sort(order[n - n_test :]),
    )


def split_nodes(store: GraphStore, node_type: str, cfg: SplitConfig) -> Split:
    """Split the labelled nodes of `node_type` by a hash of their dense id."""
    labels = store.node_labels(node_type)
    if labels is None:
        raise DataError(f"node type '{node_type}' has no label to split on")
    labelled = np.flatnonzero(np.asarray(labels) >= 0)
    part = _by_fraction(unit_hash(labelled, cfg.seed), cfg)
    return Split(labelled[part.train], labelled[part.val], labelled[part.test])
