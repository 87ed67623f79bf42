"""Node partitions for locality: METIS (few cut edges), hash or contiguous ranges.

All node types are numbered into one id space (type by type, in the store's order) and every
stored edge type joins it, undirected, so a partition keeps both ends of most edges together.
The assignment is written to the run directory (`partition/`, one Parquet file per node type)
and lets torchrun ranks take the seeds and shards of their own parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gigalearn.common.atomic import atomic_dir
from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.store import GraphStore

Method = Literal["metis", "hash", "range", "random"]
METHODS = ("metis", "hash", "range", "random")
SUMMARY = "partition.json"


@dataclass(frozen=True)
class Partition:
    """The part (0..parts-1) of every node, per node type, in dense ids."""

    method: str
    parts: int
    assignment: dict[str, np.ndarray]
    """node type → int32 [num_nodes]: the part of each dense id."""
    stats: dict[str, float] = field(default_factory=dict)

    def of(self, node_type: str) -> np.ndarray:
        if node_type not in self.assignment:
            raise DataError(f"the partition has no node type '{node_type}'")
        return self.assignment[node_type]

    def by_rank(self, world: int) -> Partition:
        """The same nodes grouped by the rank that owns them (`owned_by`): `world` parts."""
        ranked = {t: owned_by(a, world).astype(np.int32) for t, a in self.assignment.items()}
        return Partition(self.method, world, ranked, dict(self.stats))

    def sizes(self) -> list[int]:
        counts = sum(np.bincount(a, minlength=self.parts) for a in self.assignment.values())
        return [int(c) for c in counts]

    def save(self, folder: str | Path, store: GraphStore) -> None:
        """Write `<type>.parquet` (original id, dense node, part) and the summary, atomically."""
        with atomic_dir(Path(folder)) as tmp:
            for t, part in self.assignment.items():
                table = pa.table(
                    {
                        "id": store.node_ids(t),
                        "node": pa.array(np.arange(len(part), dtype=np.int64)),
                        "part": pa.array(part.astype(np.int32)),
                    }
                )
                pq.write_table(table, tmp / f"{t}.parquet")
            summary = {"method": self.method, "parts": self.parts, "sizes": self.sizes()}
            (tmp / SUMMARY).write_text(json.dumps({**summary, **self.stats}, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Partition:
        folder = Path(folder)
        if not (folder / SUMMARY).exists():
            raise DataError(
                f"{folder}: no partition there; run `gigalearn graph partition CONFIG` first"
            )
        meta = json.loads((folder / SUMMARY).read_text())
        assignment = {
            p.stem: pq.read_table(p, columns=["part"]).column("part").to_numpy()
            for p in sorted(folder.glob("*.parquet"))
        }
        stats = {k: v for k, v in meta.items() if k not in ("method", "parts", "sizes")}
        return cls(meta["method"], meta["parts"], assignment, stats)


def _offsets(store: GraphStore) -> dict[str, int]:
    out, n = {}, 0
    for t in store.node_types:
        out[t] = n
        n += store.num_nodes(t)
    return out


def _global_edges(store: GraphStore) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of every stored edge in the global numbering; a reverse type is the same edges."""
    off = _offsets(store)
    us, vs = [], []
    for t in store.edge_types:
        if store.edge_meta(t).get("reverse_of"):
            continue
        src, dst = store.edge_index(t)
        us.append(np.asarray(src, dtype=np.int64) + off[t[0]])
        vs.append(np.asarray(dst, dtype=np.int64) + off[t[2]])
    if not us:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(us), np.concatenate(vs)


def undirected_csr(store: GraphStore) -> tuple[np.ndarray, np.ndarray]:
    """(xadj, adjncy) of the whole graph, symmetric, without self loops or parallel edges, as
    METIS takes it."""
    n = sum(store.num_nodes(t) for t in store.node_types)
    u, v = _global_edges(store)
    keep = u != v
    a, b = np.concatenate([u[keep], v[keep]]), np.concatenate([v[keep], u[keep]])
    pairs = np.unique(a * n + b)
    rows, cols = pairs // n, pairs % n
    xadj = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=xadj[1:])
    return xadj, cols


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _metis(store: GraphStore, parts: int, seed: int) -> np.ndarray:
    try:
        import pymetis
    except ImportError:
        raise ConfigError(
            "partition method 'metis' needs pymetis: pip install 'gigalearn[distributed]' "
            "(or use method hash or range)"
        ) from None
    xadj, adjncy = undirected_csr(store)
    # weight each node by 1 + its degree: parts then hold similar numbers of edges, i.e. of
    # link-prediction examples and of sampling work, not just of nodes
    weights = (np.diff(xadj) + 1).astype(np.int64)
    with np.errstate(all="ignore"):
        result = pymetis.part_graph(
            parts,
            pymetis.CSRAdjacency(xadj, adjncy),
            vweights=weights,
            options=pymetis.Options(seed=seed),
        )
    return np.asarray(result.vertex_part, dtype=np.int32)


def partition_graph(
    store: GraphStore, parts: int, method: Method = "metis", seed: int = 0
) -> Partition:
    """Assign every node to one of `parts` parts; `stats` holds the edge-cut fraction."""
    if parts < 1:
        raise ConfigError(f"parts must be >= 1, got {parts}")
    if method not in METHODS:
        raise ConfigError(f"unknown partition method '{method}'; use {', '.join(METHODS)}")
    off = _offsets(store)
    n = sum(store.num_nodes(t) for t in store.node_types)
    if parts == 1:
        flat = np.zeros(n, dtype=np.int32)
    elif method == "metis":
        flat = _metis(store, parts, seed)
    elif method == "hash":
        flat = (_splitmix(np.arange(n) ^ seed) % np.uint64(parts)).astype(np.int32)
    elif method == "random":
        flat = np.random.default_rng(seed).integers(0, parts, n).astype(np.int32)
    else:
        blocks = [
            np.arange(store.num_nodes(t), dtype=np.int64) * parts // max(store.num_nodes(t), 1)
            for t in store.node_types
        ]
        flat = np.concatenate(blocks).astype(np.int32)
    assignment = {t: flat[off[t] : off[t] + store.num_nodes(t)] for t in store.node_types}
    part = Partition(method, parts, assignment)
    return Partition(method, parts, assignment, {"edge_cut": edge_cut(store, part)})


def edge_cut(store: GraphStore, partition: Partition) -> float:
    """Fraction of stored edges (each edge once, reverse types not counted twice) whose two ends
    lie in different parts."""
    u, v = _global_edges(store)
    if len(u) == 0:
        return 0.0
    flat = np.concatenate([partition.of(t) for t in store.node_types])
    return float(np.mean(flat[u] != flat[v]))


def owned_by(parts_of_rows: np.ndarray, world: int) -> np.ndarray:
    """The rank that owns each row: rank r owns parts r, r + world, r + 2 * world, ..."""
    return np.asarray(parts_of_rows) % world


def partition_dir(run_root: str | Path) -> Path:
    """Where a run keeps its partition: `runs/<name>/partition/`."""
    return Path(run_root) / "partition"


def seed_owners(
    cfg: GraphConfig, run_root: str | Path, node_type: str, nodes: np.ndarray, world: int
) -> np.ndarray | None:
    """The rank of each seed by the part of its node, when `partition.split_seeds` is on and
    there are several ranks; None otherwise (ranks then take seeds in turn)."""
    spec = cfg.partition
    if spec is None or not spec.split_seeds or world == 1:
        return None
    part = Partition.load(partition_dir(run_root))
    if (part.method, part.parts) != (spec.method, spec.parts):
        raise ConfigError(
            f"the run's partition is {part.method} into {part.parts} parts but the config asks "
            f"for {spec.method} into {spec.parts}: re-run `gigalearn graph partition CONFIG`"
        )
    if spec.parts < world:
        raise ConfigError(
            f"partition.parts ({spec.parts}) is below the number of ranks ({world}): some "
            "ranks would have no seeds; partition into at least as many parts as ranks"
        )
    return owned_by(part.of(node_type)[np.asarray(nodes)], world)


def shard_seed_order(
    seeds: np.ndarray, parts_of_seeds: np.ndarray, world: int, per_shard: int
) -> np.ndarray:
    """`seeds` reordered for the pre-sampled path (`tabular.sample_to_shards`) so that shard k,
    which `ShardDataset` gives rank k mod world, holds seeds of that rank's parts; when a rank's
    seeds run out, its shard is topped up with other ranks' seeds, so every seed stays once.
    `per_shard` is batch_size * batches_per_shard."""
    if world < 1 or per_shard < 1:
        raise ConfigError("world and per_shard must be >= 1")
    seeds = np.asarray(seeds)
    owner = owned_by(parts_of_seeds, world)
    pending = [seeds[owner == r] for r in range(world)]
    chunks, k = [], 0
    while any(len(q) for q in pending):
        r = k % world
        take, pending[r] = pending[r][:per_shard], pending[r][per_shard:]
        for other in range(world):  # top up a short shard from the others' rest
            need = per_shard - len(take)
            take = np.concatenate([take, pending[other][:need]])
            pending[other] = pending[other][need:]
        chunks.append(take)
        k += 1
    return np.concatenate(chunks) if chunks else seeds[:0]
