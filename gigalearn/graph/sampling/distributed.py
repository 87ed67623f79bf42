"""k-hop sampling across hosts over `torch.distributed.rpc`: each worker holds the CSR rows of
one partition; a hop's frontier is split by the partition that owns each node, each owner
samples its own rows (one request per partition, hop and edge type), and the requester
relabels the answers exactly as the single-host sampler does.

The sampler draws with a counter-based generator keyed by (batch seed, hop, node) and a node's
row is stored in the same order on its owner as in the whole store, so a batch sampled across
workers is identical to the one `KHopSampler` samples on one host.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch.distributed.rpc as rpc

from gigalearn.common.errors import ConfigError
from gigalearn.graph.partition import Partition
from gigalearn.graph.sampling import kernels
from gigalearn.graph.sampling.hop import relabel_hop
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.sampling.subgraph import EdgeType
from gigalearn.graph.store import GraphStore

_EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_F32 = np.empty(0, dtype=np.float32)


@dataclass(frozen=True)
class PartitionRows:
    """The rows of one partition's nodes along one edge type, in the sampling direction."""

    indptr: np.ndarray
    """[n + 1] over every node of the frontier type; other partitions' rows are empty."""
    indices: np.ndarray
    """The owned rows' neighbours, in the store's id dtype."""
    eid: np.ndarray
    """Each kept entry's edge id, in the narrowest integer type that holds the store's."""
    weight: np.ndarray | None
    """The edge type's weights by edge id (memory-mapped), for weighted sampling."""


def partition_rows(
    store: GraphStore,
    partition: Partition,
    part: int,
    edge_types: Sequence[EdgeType] | None = None,
    direction: str = "in",
) -> dict[EdgeType, PartitionRows]:
    """The rows `part` owns, per edge type: what one worker holds (about 8 bytes per owned
    edge with int32 ids, plus 8 bytes per node of the row pointer)."""
    out = {}
    end = 2 if direction == "in" else 0  # the frontier's end of the edge type
    for t in edge_types or store.edge_types:
        csr = store.csr(t, direction)
        indptr = np.asarray(csr.indptr)
        deg = np.diff(indptr) * (partition.of(t[end]) == part)
        kept = np.zeros(len(indptr), dtype=np.int64)
        np.cumsum(deg, out=kept[1:])
        # positions of the owned rows' entries: each row's start, then a running index
        starts = np.repeat(indptr[:-1] - kept[:-1], deg)
        position = starts + np.arange(kept[-1], dtype=np.int64)
        eid_type = np.int32 if len(csr.indices) < 2**31 else np.int64
        eid = np.asarray(csr.eid)[position] if csr.eid is not None else position
        indices = np.asarray(csr.indices)[position]
        out[tuple(t)] = PartitionRows(kept, indices, eid.astype(eid_type), store.edge_weight(t))
    return out


# this worker's partition by (edge type, direction), served to its peers
_ROWS: dict[tuple[EdgeType, str], PartitionRows] = {}
# requests this worker answered, by the rank that asked
_SERVED: dict[int, int] = {}


def _sample_owned(
    t: EdgeType,
    direction: str,
    nodes: np.ndarray,
    fanout: int,
    replace: bool,
    weighted: bool,
    edge_ids: bool,
    seed: int,
    hop: int,
    caller: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run on the owner: (count per node, neighbours, edge ids if asked else empty); `caller`
    is the asking worker's rank, for the request counts."""
    rows = _ROWS.get((tuple(t), direction))
    _SERVED[caller] = _SERVED.get(caller, 0) + 1
    if rows is None:
        raise ConfigError(f"this worker holds no {direction}-rows of edge type {list(t)}")
    weight = rows.weight if weighted else _EMPTY_F32
    offsets, nbrs, eids = kernels.sample_neighbors_serial(
        rows.indptr, rows.indices, rows.eid, nodes, _EMPTY_I64, fanout, replace, weight,
        _EMPTY_I64, np.uint64(seed % 2**64), hop,
    )  # fmt: skip
    # edge ids travel back only when the requester needs them
    return np.diff(offsets), nbrs, eids if edge_ids or weighted else _EMPTY_I64


def worker_name(rank: int) -> str:
    return f"sampler{rank}"


def served_requests() -> dict[int, int]:
    """Hop requests this worker has answered since it started, by the rank that asked."""
    return dict(_SERVED)


def start_worker(
    store: GraphStore,
    partition: Partition,
    rank: int,
    world: int,
    directions: Sequence[str] = ("in",),
) -> None:
    """Hold partition `rank` (its rows in the given sampling directions) and join the rpc
    group (MASTER_ADDR / MASTER_PORT from the environment, as torchrun sets them)."""
    if partition.parts != world:
        raise ConfigError(f"the partition has {partition.parts} parts for {world} workers")
    _ROWS.clear()
    _SERVED.clear()
    for d in directions:
        rows = partition_rows(store, partition, rank, direction=d)
        _ROWS.update({(t, d): r for t, r in rows.items()})
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    rpc.init_rpc(worker_name(rank), rank=rank, world_size=world)


def stop_worker() -> None:
    """Leave the rpc group once every worker is done (rpc.shutdown waits for all)."""
    rpc.shutdown()
    _ROWS.clear()


class DistributedKHopSampler(KHopSampler):
    """KHopSampler whose hops are answered by the workers that own the frontier's rows.

    Uniform or weighted, non-disjoint sampling (temporal sampling is not distributed yet).
    """

    def __init__(
        self,
        store: GraphStore,
        partition: Partition,
        options: KHopOptions | None = None,
        edge_types: list[EdgeType] | None = None,
    ) -> None:
        super().__init__(store, options, edge_types)
        if self.disjoint:
            raise ConfigError("distributed sampling does not support temporal/disjoint sampling")
        self.partition = partition
        try:
            self.rank = rpc.get_worker_info().id
        except RuntimeError:  # rpc not started yet: its requests go unattributed
            self.rank = -1

    def _expand(self, t, frontier, target, fanout, hop, seed, all_times, parallel):
        o = self.options
        f_nodes, f_local, _ = frontier
        owner = self.partition.of(t[self._ends[0]])[f_nodes]
        needs_eid = o.edge_ids or o.weighted
        calls, mine = [], None
        for part in np.unique(owner):
            idx = np.flatnonzero(owner == part)
            args = (t, o.direction, f_nodes[idx], fanout, o.replace, o.weighted, needs_eid)
            args = (*args, seed, hop, self.rank)
            if part == self.rank:
                mine = (idx, args)  # sampled here while the other workers answer
            else:
                calls.append((idx, rpc.rpc_async(worker_name(int(part)), _sample_owned, args=args)))
        answers = [] if mine is None else [(mine[0], _sample_owned(*mine[1]))]
        answers += [(idx, fut.wait()) for idx, fut in calls]
        counts = np.zeros(len(f_nodes), dtype=np.int64)
        for idx, (c, _, _) in answers:
            counts[idx] = c
        offsets = np.zeros(len(f_nodes) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        nbrs = np.empty(offsets[-1], dtype=np.int64)
        eids = (np.empty if needs_eid else np.zeros)(offsets[-1], dtype=np.int64)
        for idx, (c, nb, ei) in answers:
            # each answer's rows go back to their frontier positions
            ends = np.cumsum(c)
            slot = np.repeat(offsets[idx] - (ends - c), c) + np.arange(len(nb))
            nbrs[slot] = nb
            if needs_eid:
                eids[slot] = ei
        ei, added, count = relabel_hop(
            nbrs, offsets, f_local, target.scratch, target.count, o.direction == "in"
        )
        target.record(added, count)
        return ei, eids, added, np.zeros(len(added), dtype=np.int64)
