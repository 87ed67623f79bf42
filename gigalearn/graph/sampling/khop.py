"""k-hop neighbourhood sampling over a GraphStore: homogeneous or heterogeneous, uniform or
weighted, with or without replacement, in- or out-edges, optionally temporal."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numba
import numpy as np
from torch.utils.data import get_worker_info

from gigalearn.graph.config import SamplingConfig
from gigalearn.graph.sampling import kernels
from gigalearn.graph.sampling.fused import (
    FUSED_MAX_FRONTIER,
    MAX_FANOUT,
    new_workspace,
    sample_uniform_khop,
)
from gigalearn.graph.sampling.hop import sample_hop
from gigalearn.graph.sampling.subgraph import EdgeType, SampledSubgraph
from gigalearn.graph.store import GraphStore

_EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_F32 = np.empty(0, dtype=np.float32)
_PARALLEL_MIN = 4096  # frontier nodes; below, a parallel region costs more than it saves


@dataclass(frozen=True)
class KHopOptions:
    """How neighbourhoods are sampled.

    `fanout[h]` neighbours per frontier node and edge type at hop h (-1 = all); a dict gives a
    list per edge type instead (edge types it omits are not expanded). `direction="in"` samples
    the sources of edges that point at the frontier (messages flow to the seeds: PyG's
    default); "out" samples destinations. `weighted` samples in proportion to the store's edge
    weights (Efraimidis–Spirakis, without replacement unless `replace`). `temporal` keeps only
    edges strictly earlier than the seed's time, and implies `disjoint`: every seed gets its own
    copy of each node it reaches, so no seed sees edges through another seed's later time.
    """

    fanout: list[int] | dict[EdgeType, list[int]] = field(default_factory=lambda: [10, 10])
    direction: Literal["in", "out"] = "in"
    replace: bool = False
    weighted: bool = False
    temporal: bool = False
    disjoint: bool = False
    edge_ids: bool = True
    """Return the sampled edges' ids (PyG's `e_id`, needed to gather edge features). Without
    them in-edge sampling skips one random read per edge (`SampledSubgraph.edge_ids` is None)."""
    parallel: bool = True
    """Thread-parallel over the frontier (numba prange) in the main thread. Turn off in forked
    DataLoader workers: numba's default threading layer does not survive a fork after a
    parallel region ran. Other threads (a loader's `threads`) always sample serially: numba's
    workqueue layer cannot run two parallel regions at once."""

    def __post_init__(self) -> None:
        lists = self.fanout.values() if isinstance(self.fanout, dict) else [self.fanout]
        for f in lists:
            if not f or any(k == 0 or k < -1 for k in f):
                raise ValueError(f"fanout {f}: a non-empty list of counts >= 1 (or -1 for all)")
        if len({len(f) for f in lists}) > 1:
            raise ValueError("every edge type's fanout list must have the same number of hops")

    @classmethod
    def from_config(cls, cfg: SamplingConfig, parallel: bool = True) -> KHopOptions:
        """The options a task config's `sampling` section asks for."""
        return cls(
            fanout=cfg.edge_fanout(),
            direction=cfg.direction,
            replace=cfg.replace,
            weighted=cfg.weighted,
            temporal=cfg.temporal,
            parallel=parallel,
        )

    @property
    def num_hops(self) -> int:
        f = self.fanout
        return len(next(iter(f.values()))) if isinstance(f, dict) else len(f)


def _scratch_dtype(n: int) -> np.dtype:
    return np.dtype(np.int32) if n < 2**31 - 1 else np.dtype(np.int64)


class _Nodes:
    """The batch's nodes of one type: global ids in local-id order, and their seed (disjoint)."""

    def __init__(self, n_nodes: int, scratch: np.ndarray | None) -> None:
        self.n_nodes, self.scratch = n_nodes, scratch  # scratch: global → local, -1 = unseen
        self.table = (
            None
            if scratch is not None
            else numba.typed.Dict.empty(numba.types.int64, numba.types.int64)
        )
        self.ids: list[np.ndarray] = []
        self.roots: list[np.ndarray] = []
        self.count = 0

    def add(
        self, nodes: np.ndarray, roots: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local ids of `nodes`; returns (local ids, new global ids, their roots)."""
        added = np.empty(len(nodes), dtype=np.int64)
        if self.table is None:
            local, self.count, k = kernels.relabel(nodes, self.scratch, self.count, added)
            new_roots = _EMPTY_I64
        else:
            new_roots = np.empty(len(nodes), dtype=np.int64)
            local, self.count, k = kernels.relabel_disjoint(
                nodes, roots, self.n_nodes, self.table, self.count, added, new_roots
            )
            new_roots = new_roots[:k]
        self.ids.append(added[:k])
        self.roots.append(new_roots)
        return local, added[:k], new_roots

    def record(self, added: np.ndarray, count: int) -> None:
        """Note ids a hop kernel added through `scratch` (non-disjoint sampling)."""
        self.ids.append(added)
        self.roots.append(_EMPTY_I64)
        self.count = count

    def release(self) -> None:
        if self.scratch is not None:
            for arr in self.ids:
                self.scratch[arr] = -1  # reset only what this batch touched


class _ThreadState:
    """What one thread's sampling writes to: the relabelling scratch of each node type
    (global -> local id, -1 = unseen) and the one-call path's workspace."""

    def __init__(self, store: GraphStore, disjoint: bool) -> None:
        # int32 where ids fit: half the cache footprint of these random accesses
        self.scratch = (
            {}
            if disjoint
            else {
                n: np.full(store.num_nodes(n), -1, dtype=_scratch_dtype(store.num_nodes(n)))
                for n in store.node_types
            }
        )
        self.workspace = new_workspace()  # reused batch after batch


class KHopSampler:
    """Samples the k-hop neighbourhood of a batch of seed nodes of one type.

    Thread-safe: each thread samples into scratch buffers of its own (one int32 or int64 per
    node of every type, made on the thread's first batch), and the compiled kernels release
    the GIL, so several threads sample several batches at once.
    """

    def __init__(
        self,
        store: GraphStore,
        options: KHopOptions | None = None,
        edge_types: list[EdgeType] | None = None,
    ) -> None:
        self.store = store
        self.options = o = options or KHopOptions()
        self.edge_types = list(edge_types or store.edge_types)
        if isinstance(o.fanout, dict):
            unknown = [list(t) for t in o.fanout if t not in self.edge_types]
            if unknown:
                raise ValueError(f"fanout names unknown edge types {unknown}")
        for t in self.edge_types:
            if o.weighted and store.edge_weight(t) is None:
                raise ValueError(f"weighted sampling needs a weight on edge type {list(t)}")
            if o.temporal and store.edge_time(t) is None:
                raise ValueError(f"temporal sampling needs a time on edge type {list(t)}")
        self.disjoint = o.disjoint or o.temporal
        self._csr = {t: store.csr(t, o.direction) for t in self.edge_types}
        self._threads = threading.local()
        # with in-sampling the frontier is an edge type's destination end, else its source end
        self._ends = (2, 0) if o.direction == "in" else (0, 2)
        self._fused = self._fused_fanouts()
        # how much wider than the seeds a frontier can get (-1: a whole row, unbounded)
        growth = self._fused[:-1] if self._fused is not None else []
        self._fused_growth = 2**62 if -1 in growth else int(np.prod(growth, dtype=np.int64))

    def _state(self) -> _ThreadState:
        state = getattr(self._threads, "state", None)
        if state is None:
            state = self._threads.state = _ThreadState(self.store, self.disjoint)
        return state

    @property
    def _scratch(self) -> dict[str, np.ndarray]:
        """This thread's relabelling scratch per node type (empty when disjoint)."""
        return self._state().scratch

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_threads"]  # thread-local buffers are remade where the sampler lands
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._threads = threading.local()

    def _fused_fanouts(self) -> np.ndarray | None:
        """Per-hop fan-outs when every hop can run in one compiled call (`fused`): one edge
        type within one node type, uniform, without replacement, not disjoint, the kernels'
        fan-outs, and this class's own `_expand` (a subclass may sample elsewhere)."""
        o = self.options
        if len(self.edge_types) != 1 or type(self)._expand is not KHopSampler._expand:
            return None
        (t,) = self.edge_types
        fanouts = [self._fanout(t, h) for h in range(o.num_hops)]
        if t[0] != t[2] or self.disjoint or o.weighted or o.replace:
            return None
        if not all(f == -1 or 0 < f <= MAX_FANOUT for f in fanouts):
            return None
        return np.array(fanouts, dtype=np.int64)

    def _fanout(self, t: EdgeType, hop: int) -> int:
        f = self.options.fanout
        if isinstance(f, dict):
            return f[t][hop] if t in f else 0
        return f[hop]

    def _expand(
        self,
        t: EdgeType,
        frontier: tuple[np.ndarray, np.ndarray, np.ndarray],
        target: _Nodes,
        fanout: int,
        hop: int,
        seed: int,
        all_times: np.ndarray | None,
        parallel: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One hop over edge type t from `frontier` (global ids, local ids, roots) into the
        node type `target`: (edge_index, edge ids, newly seen global ids, their roots)."""
        o = self.options
        f_nodes, f_local, f_roots = frontier
        csr = self._csr[t]
        # a parallel region costs more than it saves on a small frontier
        threaded = parallel and len(f_nodes) >= _PARALLEL_MIN
        # weights and times are stored by edge id; without those and without edge ids the
        # kernels may report bare CSR positions (not returned) and skip a random read per edge
        needs_eid = o.edge_ids or o.weighted or o.temporal
        eid = csr.eid if csr.eid is not None and needs_eid else _EMPTY_I64
        weight = self.store.edge_weight(t) if o.weighted else _EMPTY_F32
        rng_seed = np.uint64(seed % 2**64)
        if not self.disjoint:
            ei, eids, added, count = sample_hop(
                csr.indptr, csr.indices, eid, f_nodes, f_local, fanout, o.replace, weight,
                rng_seed, hop, target.scratch, target.count, o.direction == "in", threaded,
            )  # fmt: skip
            target.record(added, count)
            return ei, eids, added, np.zeros(len(added), dtype=np.int64)
        kernel = kernels.sample_neighbors_parallel if threaded else kernels.sample_neighbors_serial
        offsets, nbrs, eids = kernel(
            csr.indptr, csr.indices, eid, f_nodes,
            all_times[f_roots] if o.temporal else _EMPTY_I64, fanout, o.replace, weight,
            self.store.edge_time(t) if o.temporal else _EMPTY_I64, rng_seed, hop,
        )  # fmt: skip
        per = np.diff(offsets)
        n_local, added, roots = target.add(nbrs, np.repeat(f_roots, per))
        owner = np.repeat(f_local, per)
        pair = (n_local, owner) if o.direction == "in" else (owner, n_local)
        return np.stack(pair), eids, added, roots

    def _sample_fused(self, seeds: dict[str, np.ndarray], seed: int) -> SampledSubgraph:
        """`sample_multi` in one compiled call (see `_fused_fanouts`); the same result."""
        o = self.options
        (t,) = self.edge_types
        ((n_type, ids),) = seeds.items()
        csr = self._csr[t]
        eid = csr.eid if csr.eid is not None and o.edge_ids else _EMPTY_I64
        state = self._state()
        nodes, edge_index, eids, hop_nodes, hop_edges, state.workspace = sample_uniform_khop(
            csr.indptr, csr.indices, eid, ids, self._fused, np.uint64(seed % 2**64),
            state.scratch[n_type], o.direction == "in", o.edge_ids, state.workspace,
        )  # fmt: skip
        if hop_nodes[0] != len(ids):
            raise ValueError(f"seeds of type '{n_type}' must be distinct within a batch")
        zeros = [0] * (o.num_hops + 1)
        return SampledSubgraph(
            node_ids={n: nodes if n == n_type else _EMPTY_I64 for n in self.store.node_types},
            edge_index={t: edge_index},
            edge_ids={t: eids} if o.edge_ids else None,
            seed_type=n_type,
            batch_size=len(ids),
            num_sampled_nodes={
                n: hop_nodes.tolist() if n == n_type else list(zeros) for n in self.store.node_types
            },
            num_sampled_edges={t: hop_edges.tolist()},
        )

    def sample(
        self, seed_type: str, seeds: np.ndarray, seed: int = 0, seed_time: np.ndarray | None = None
    ) -> SampledSubgraph:
        """Sample around `seeds` (distinct dense ids of `seed_type`); `seed` fixes the draw."""
        times = None if seed_time is None else {seed_type: seed_time}
        return self.sample_multi({seed_type: seeds}, seed, times)

    def sample_multi(
        self,
        seeds: dict[str, np.ndarray],
        seed: int = 0,
        seed_time: dict[str, np.ndarray] | None = None,
    ) -> SampledSubgraph:
        """Sample around seeds of several node types at once (e.g. users and movies of a
        link-prediction batch); each type's seeds come first among its nodes."""
        o = self.options
        seeds = {n: np.asarray(v, dtype=np.int64) for n, v in seeds.items()}
        parallel = (  # see KHopOptions.parallel
            o.parallel
            and get_worker_info() is None
            and threading.current_thread() is threading.main_thread()
        )
        if self._fused is not None and len(seeds) == 1 and self.edge_types[0][0] in seeds:
            # one thread; with threads allowed, only while no frontier can outgrow that
            widest = len(next(iter(seeds.values()))) * self._fused_growth
            if not parallel or widest <= FUSED_MAX_FRONTIER:
                return self._sample_fused(seeds, seed)
        all_times = None
        if o.temporal:
            if seed_time is None or any(
                len(seed_time.get(n, ())) != len(v) for n, v in seeds.items()
            ):
                raise ValueError("temporal sampling needs one seed_time per seed")
            all_times = np.concatenate([np.asarray(seed_time[n], dtype=np.int64) for n in seeds])
        nodes = {
            n: _Nodes(self.store.num_nodes(n), self._scratch.get(n)) for n in self.store.node_types
        }
        hop_nodes = {n: [0] * (o.num_hops + 1) for n in nodes}
        hop_edges: dict[EdgeType, list[int]] = {t: [0] * o.num_hops for t in self.edge_types}
        edges: dict[EdgeType, list] = {t: [] for t in self.edge_types}
        try:
            frontier, offset = {}, 0
            for n, ids in seeds.items():
                roots = np.arange(offset, offset + len(ids))
                offset += len(ids)
                local, added, _ = nodes[n].add(ids, roots)
                if len(added) != len(ids):
                    raise ValueError(f"seeds of type '{n}' must be distinct within a batch")
                hop_nodes[n][0] = len(ids)
                frontier[n] = (ids, local, roots)
            for hop in range(o.num_hops):
                grown: dict[str, list] = {}
                for t in self.edge_types:
                    f_type, n_type = t[self._ends[0]], t[self._ends[1]]
                    fanout = self._fanout(t, hop)
                    if f_type not in frontier or fanout == 0:
                        continue
                    ei, eids, added, roots = self._expand(
                        t, frontier[f_type], nodes[n_type], fanout, hop, seed, all_times, parallel
                    )
                    edges[t].append((ei, eids))
                    hop_edges[t][hop] = len(eids)
                    hop_nodes[n_type][hop + 1] += len(added)
                    first = nodes[n_type].count - len(added)
                    grown.setdefault(n_type, []).append(
                        (added, np.arange(first, nodes[n_type].count), roots)
                    )
                frontier = {
                    n: tuple(np.concatenate(c) for c in zip(*parts, strict=True))
                    for n, parts in grown.items()
                }
                frontier = {n: f for n, f in frontier.items() if len(f[0])}
                if not frontier:
                    break
        finally:
            for n in nodes.values():
                n.release()
        cat = lambda parts: np.concatenate(parts) if parts else _EMPTY_I64  # noqa: E731
        return SampledSubgraph(
            node_ids={n: cat(v.ids) for n, v in nodes.items()},
            edge_index={
                t: (
                    np.concatenate([e for e, _ in v], axis=1)
                    if v
                    else np.empty((2, 0), dtype=np.int64)
                )
                for t, v in edges.items()
            },
            edge_ids=(
                {t: cat([i for _, i in v]) for t, v in edges.items()} if o.edge_ids else None
            ),
            seed_type=next(iter(seeds)),
            batch_size=len(next(iter(seeds.values()))),
            num_seeds={n: len(v) for n, v in seeds.items()} if len(seeds) > 1 else {},
            num_sampled_nodes=hop_nodes,
            num_sampled_edges=hop_edges,
            seed_time=all_times,
            batch={n: cat(v.roots) for n, v in nodes.items()} if self.disjoint else None,
        )
