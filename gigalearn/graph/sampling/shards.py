"""The shard folder of the tabular sampler (`tabular.sample_to_shards`): its layout, and reading
it back as SampledSubgraphs, alone or split over DataLoader workers and torchrun ranks.

Local ids follow the in-memory sampler's rule: seeds first, in their given order; then, hop by
hop, each node type's newly reached nodes in order of first appearance among the hop's rows
sorted by (edge type, dst, eid). A node sampled twice in one batch gets one local id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from torch.utils.data import IterableDataset, get_worker_info

from gigalearn.common.errors import DataError
from gigalearn.graph.sampling.subgraph import EdgeType, SampledSubgraph

MANIFEST = "manifest.json"
FORMAT = "gigalearn.tabular-khop/1"


def collect_shards(
    staging: Path, out: Path, num_batches: int, batches_per_shard: int
) -> list[dict[str, Any]]:
    """Move each engine's `shard=K/*.parquet` to `part-K-J.parquet` and list them per shard.

    Engines write one or more files per shard (one per task holding its rows); a shard with no
    sampled edge has none, and its batches are seeds only.
    """
    shards = []
    for k in range(-(-num_batches // batches_per_shard)):
        files = sorted((staging / f"shard={k}").glob("*.parquet"))
        names, rows = [], 0
        for j, f in enumerate(files):
            name = f"part-{k:05d}-{j:03d}.parquet"
            f.rename(out / name)
            names.append(name)
            rows += pq.ParquetFile(out / name).metadata.num_rows
        hi = min((k + 1) * batches_per_shard, num_batches)
        shards.append(
            {"index": k, "batches": [k * batches_per_shard, hi], "files": names, "rows": rows}
        )
    return shards


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a shard folder; DataError if the folder is not a finished sample."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise DataError(
            f"{folder}: no {MANIFEST}; not a finished tabular sample "
            "(write one with gigalearn.graph.sampling.tabular.sample_to_shards)"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise DataError(f"{folder}: format {manifest.get('format')!r} is not {FORMAT!r}")
    return manifest


def read_shards(
    folder: str | Path, shards: Sequence[int] | None = None
) -> Iterator[SampledSubgraph]:
    """Yield one SampledSubgraph per batch of the given shards (default: all), in batch order."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    seeds = np.load(folder / "seeds.npy", mmap_mode="r")
    for k in range(len(manifest["shards"])) if shards is None else shards:
        yield from _read_shard(folder, manifest, manifest["shards"][k], seeds)


def _read_shard(
    folder: Path, manifest: dict[str, Any], shard: dict[str, Any], seeds: np.ndarray
) -> Iterator[SampledSubgraph]:
    names = list(manifest["edge_types"])
    types: list[EdgeType] = [tuple(manifest["edge_types"][n]) for n in names]
    cols = ["batch", "hop", "edge_type", "src", "dst", "eid"]
    if shard["files"]:
        table = pa.concat_tables([pq.read_table(folder / f, columns=cols) for f in shard["files"]])
    else:
        table = pa.table(
            {c: pa.array([], pa.string() if c == "edge_type" else pa.int64()) for c in cols}
        )
    code = pc.index_in(table.column("edge_type"), value_set=pa.array(names, pa.string())).to_numpy(
        zero_copy_only=False
    )
    arr = {c: table.column(c).to_numpy() for c in ("batch", "hop", "src", "dst", "eid")}
    # engines write rows in any order: sort to make local ids independent of the engine
    order = np.lexsort((arr["eid"], arr["dst"], code, arr["hop"], arr["batch"]))
    arr = {c: v[order] for c, v in arr.items()}
    code = code[order]
    lo_batch, hi_batch = shard["batches"]
    bounds = np.searchsorted(arr["batch"], np.arange(lo_batch, hi_batch + 1))
    bs = manifest["options"]["batch_size"]
    num_hops = len(manifest["plan"])
    for b in range(lo_batch, hi_batch):
        rows = slice(bounds[b - lo_batch], bounds[b - lo_batch + 1])
        yield _to_subgraph(
            manifest["seed_type"],
            np.asarray(seeds[b * bs : (b + 1) * bs], dtype=np.int64),
            types,
            num_hops,
            code[rows],
            {c: v[rows] for c, v in arr.items()},
        )


def _to_subgraph(
    seed_type: str,
    batch_seeds: np.ndarray,
    types: list[EdgeType],
    num_hops: int,
    code: np.ndarray,
    arr: dict[str, np.ndarray],
) -> SampledSubgraph:
    node_types = sorted({seed_type} | {t[0] for t in types} | {t[2] for t in types})
    node_ids, local_of, new_per_hop = {}, {}, {}
    for nt in node_types:
        src_rows = np.isin(code, [i for i, t in enumerate(types) if t[0] == nt])
        own = batch_seeds if nt == seed_type else np.empty(0, np.int64)
        seq = np.concatenate([own, arr["src"][src_rows]])
        hop_of = np.concatenate(
            [np.full(len(own), -1, np.int64), arr["hop"][src_rows].astype(np.int64)]
        )
        uniq, first = np.unique(seq, return_index=True)
        first_sorted = np.sort(first)
        node_ids[nt] = seq[first_sorted]
        # local id of uniq[i] = rank of its first occurrence among all first occurrences
        local = np.empty(len(uniq), np.int64)
        local[np.argsort(first)] = np.arange(len(uniq))
        local_of[nt] = (uniq, local)
        counts = np.bincount(hop_of[first_sorted] + 1, minlength=num_hops + 1)
        new_per_hop[nt] = counts.tolist()
    edge_index, edge_ids, per_hop_edges = {}, {}, {}
    for i, t in enumerate(types):
        rows = code == i
        ei = np.stack(
            [_lookup(local_of[t[0]], arr["src"][rows]), _lookup(local_of[t[2]], arr["dst"][rows])]
        )
        edge_index[t], edge_ids[t] = ei, arr["eid"][rows]
        per_hop_edges[t] = np.bincount(arr["hop"][rows], minlength=num_hops).tolist()
    return SampledSubgraph(
        node_ids=node_ids,
        edge_index=edge_index,
        edge_ids=edge_ids,
        seed_type=seed_type,
        batch_size=len(batch_seeds),
        num_sampled_nodes=new_per_hop,
        num_sampled_edges=per_hop_edges,
    )


def _lookup(index: tuple[np.ndarray, np.ndarray], ids: np.ndarray) -> np.ndarray:
    uniq, local = index
    pos = np.searchsorted(uniq, ids)
    if len(ids) and (pos.max() >= len(uniq) or not np.array_equal(uniq[pos], ids)):
        raise DataError("a sampled edge's frontier node is not in its batch: corrupt shard")
    return local[pos]


class ShardDataset(IterableDataset):
    """Iterates SampledSubgraphs of a shard folder, splitting shards over ranks and workers.

    Use `DataLoader(ds, batch_size=None, num_workers=w)`; with torchrun pass rank/world_size.
    Shard k goes to the consumer k mod (world_size * workers), so no batch is read twice.
    """

    def __init__(self, folder: str | Path, rank: int = 0, world_size: int = 1) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.folder = Path(folder)
        self.num_shards = len(read_manifest(self.folder)["shards"])
        self.rank, self.world_size = rank, world_size

    def assigned_shards(self) -> list[int]:
        """Shard indices this rank/worker reads."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        consumer, consumers = self.rank * workers + worker, self.world_size * workers
        return list(range(consumer, self.num_shards, consumers))

    def __iter__(self) -> Iterator[SampledSubgraph]:
        return read_shards(self.folder, self.assigned_shards())
