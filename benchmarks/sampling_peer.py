"""Measuring process for benchmarks/bench_sampling.py: one per sampler, so each has its own
peak memory and the peer's imports (torch-sparse) never enter the project's environment.

    python benchmarks/sampling_peer.py {ours|peer} sampler STORE SEEDS.npy
    python benchmarks/sampling_peer.py {ours|peer} loader STORE SEEDS.npy WORKERS [THREADS]

A persistent worker: after its warm-up it prints {"ready": ...}, then reads one JSON command
per line on stdin and answers one JSON line (prefixed "@@ ") on stdout. Commands:
{"op": "sample", "threads": t[, "edge_ids": false]} (sampler: every seed batch once; ours with
t > 1 samples t batches at once in a pool of t threads, PyG with t torch threads),
{"op": "floor", "threads": t, "reads": n, "repeats": k} (ours sampler only),
{"op": "epoch"} (loader: one pass),
{"op": "rss"} (peak memory; stops a loader's workers first), {"op": "quit"}.

"ours" runs gigalearn's KHopSampler / NodeLoader; "peer" runs PyG's NeighborSampler /
NeighborLoader (needs pyg-lib or torch-sparse: run it with the peer venv's python, see
benchmarks/setup_peer_env.sh). Both read the same GraphStore and the same seed batches
(SEEDS.npy: int64 [batches, batch_size]) and sample in-edges with fan-out FANOUT (env
BENCH_FANOUT, default "15,10") without replacement; "sampled edges" is the number of edges of
the returned subgraph (hops 1 and 2) for both.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

FANOUT = [int(k) for k in os.environ.get("BENCH_FANOUT", "15,10").split(",")]


def _maxrss_mb() -> dict:
    self_ = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"maxrss_mb": self_, "children_maxrss_mb": children}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _emit(obj: dict) -> None:
    sys.stdout.write("@@ " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _open_store(path: str):
    from gigalearn.graph.store import GraphStore

    store = GraphStore(path)
    ((node_type,), (edge_type,)) = store.node_types, store.edge_types
    return store, node_type, edge_type


# ---- ours ---------------------------------------------------------------------------------
class Ours:
    def __init__(self, store_path: str) -> None:
        import numba

        from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

        self.numba = numba
        self.store, self.node_type, self.edge_type = _open_store(store_path)
        # keyed by edge ids returned; "N threads" is N batches at once (`sample_all`)
        self.samplers = {
            e: KHopSampler(self.store, KHopOptions(fanout=FANOUT, parallel=False, edge_ids=e))
            for e in (False, True)
        }
        # the array the sampler reads neighbours from (in-CSR: sources of each destination)
        self.indices = np.asarray(self.store.csr(self.edge_type, "in").indices)
        self.pool = ThreadPoolExecutor(os.cpu_count() or 1)  # persistent: its threads' buffers

    def sample(self, seeds: np.ndarray, batch: int, edge_ids: bool = True) -> int:
        """One batch on this thread: its sampled edge count."""
        sub = self.samplers[edge_ids].sample(self.node_type, seeds, seed=batch)
        return int(sum(ei.shape[1] for ei in sub.edge_index.values()))

    def sample_all(self, seeds: np.ndarray, threads: int, edge_ids: bool = True) -> list[int]:
        """Every batch, `threads` at a time in the pool (what a loader's `threads` does)."""

        def one(b: int) -> int:
            return self.sample(seeds[b], b, edge_ids)

        if threads <= 1:
            return [one(b) for b in range(len(seeds))]
        return list(self.pool.map(one, range(len(seeds)), chunksize=1))


# ---- peer ---------------------------------------------------------------------------------
class Peer:
    def __init__(self, store_path: str, with_x: bool = False) -> None:
        import warnings

        import torch
        from torch_geometric.data import Data

        warnings.filterwarnings("ignore", message=".*pyg-lib.*")
        self.torch = torch
        self.store, self.node_type, self.edge_type = _open_store(store_path)
        src, dst = self.store.edge_index(self.edge_type)
        edge_index = torch.stack(
            [torch.from_numpy(np.asarray(src, dtype=np.int64)),
             torch.from_numpy(np.asarray(dst, dtype=np.int64))]
        )  # fmt: skip
        self.data = Data(edge_index=edge_index, num_nodes=self.store.num_nodes(self.node_type))
        if with_x:  # in memory, as PyG users hold it
            self.data.x = torch.from_numpy(np.array(self.store.node_features(self.node_type)))

    def sampler(self):
        from torch_geometric.sampler import NeighborSampler

        # NeighborLoader's own sampler: CSC (in-edges), no replacement, directional subgraph
        return NeighborSampler(self.data, num_neighbors=FANOUT, replace=False)

    def sample(self, sampler, seeds: np.ndarray, threads: int, batch: int) -> int:
        from torch_geometric.sampler import NodeSamplerInput

        self.torch.set_num_threads(threads)
        self.torch.manual_seed(batch)
        node = self.torch.from_numpy(seeds)
        out = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=node))
        return int(out.row.numel())


def peer_backend() -> str:
    import torch_geometric.typing as t

    if t.WITH_PYG_LIB:
        return "pyg-lib"
    if t.WITH_TORCH_SPARSE:
        import torch_sparse

        return f"torch-sparse {torch_sparse.__version__}"
    raise ImportError("neither pyg-lib nor torch-sparse is importable")


# ---- the floor: random reads from the same indices array -----------------------------------
_gather_parallel = None


def _numba_gather():
    global _gather_parallel
    if _gather_parallel is None:
        import numba

        @numba.njit(parallel=True, cache=True)
        def gather(a, pos, out):
            for i in numba.prange(pos.shape[0]):
                out[i] = a[pos[i]]

        _gather_parallel = gather
    return _gather_parallel


def floor(ours: Ours, threads: int, reads: int, repeats: int) -> dict:
    """Time `indices[pos]` at precomputed uniform random positions: numpy (1 thread) or a
    numba prange gather (`threads` threads). Only the gather is timed."""
    a = ours.indices
    times, cpu = [], []
    out = np.empty(reads, dtype=a.dtype)
    gather = _numba_gather() if threads > 1 else None
    if gather is not None:
        ours.numba.set_num_threads(threads)
    for r in range(repeats):
        pos = np.random.default_rng(10_000 + r).integers(0, a.shape[0], reads)
        t0, c0 = time.perf_counter(), time.process_time()
        if gather is None:
            np.take(a, pos, out=out)
        else:
            gather(a, pos, out)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"times": times, "cpu": cpu, "reads": reads, "checksum": int(out[:16].sum())}


_PAIRED_RNG = np.random.default_rng(20_000)
_PAIRED_OUT: list[np.ndarray] = []  # one output buffer, touched once: no page faults timed


def paired_floor(ours: Ours, threads: int, reads: int) -> float:
    """Seconds of one floor gather of `reads` random positions (drawn untimed), timed right
    after a measurement of ours so that both see the same machine: their ratio, batch by
    batch, is steadier under a drifting load than a ratio of separate medians."""
    a = ours.indices
    pos = _PAIRED_RNG.integers(0, a.shape[0], reads)
    if not _PAIRED_OUT or _PAIRED_OUT[0].shape[0] < reads:
        _PAIRED_OUT[:] = [np.empty(2 * reads, dtype=a.dtype)]
        _PAIRED_OUT[0].fill(0)  # touched now (np.zeros may hand out untouched zero pages)
    out = _PAIRED_OUT[0][:reads]
    if threads > 1:
        gather = _numba_gather()
        ours.numba.set_num_threads(threads)
        t = time.perf_counter()
        gather(a, pos, out)
    else:
        t = time.perf_counter()
        np.take(a, pos, out=out)
    return time.perf_counter() - t


# ---- entry points ---------------------------------------------------------------------------
def serve(
    kind: str, part: str, store_path: str, seeds_path: str, workers: int, threads: int
) -> None:
    seeds = np.load(seeds_path)
    t0 = time.perf_counter()
    impl = loader = None
    if part == "loader":
        loader = Loader(kind, store_path, seeds, workers, threads)
        backend = loader.backend
        loader.epoch()  # warm-up: forks the workers, JIT, page cache
    elif kind == "ours":
        impl = Ours(store_path)
        backend = "gigalearn KHopSampler (numba)"
        run = lambda s, th, b, e=True: impl.sample(s, b, e)  # noqa: E731  (1 thread)
    else:
        impl = Peer(store_path)
        backend = f"PyG NeighborSampler via {peer_backend()}"
        sampler = impl.sampler()
        run = lambda s, th, b, e=True: impl.sample(sampler, s, th, b)  # noqa: E731
    if part == "sampler":
        for b in range(len(seeds)):  # warm-up: JIT, page cache, allocator
            run(seeds[b], 1, b)
            run(seeds[b], 1, b, False)
            if kind == "peer":
                run(seeds[b], 2, b)
        if kind == "ours":
            impl.sample_all(seeds, os.cpu_count() or 1)  # the pool's threads' buffers
            paired_floor(impl, os.cpu_count() or 1, 1000)  # compiles the gather: never timed
    setup_s = time.perf_counter() - t0
    _emit({"ready": True, "backend": backend, "setup_s": setup_s, "rss_mb": _rss_mb()})
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            break
        if op == "sample" and kind == "ours" and cmd["threads"] > 1:
            # batches at once: each batch's time is its share of the round's
            t, c = time.perf_counter(), time.process_time()
            edges = impl.sample_all(seeds, cmd["threads"], cmd.get("edge_ids", True))
            t, c = time.perf_counter() - t, time.process_time() - c
            # the paired floor: as many reads as the round sampled, with the same threads
            f = paired_floor(impl, cmd["threads"], sum(edges))
            n = len(seeds)
            _emit({"times": [t / n] * n, "cpu": [c / n] * n, "edges": edges,
                   "floor_times": [f / n] * n})  # fmt: skip
        elif op == "sample":
            times, cpu, edges, floor_times = [], [], [], []
            for b in range(len(seeds)):
                t, c = time.perf_counter(), time.process_time()
                edges.append(run(seeds[b], cmd["threads"], b, cmd.get("edge_ids", True)))
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                if kind == "ours":  # the paired floor: as many reads, right after the batch
                    floor_times.append(paired_floor(impl, 1, edges[-1]))
            _emit({"times": times, "cpu": cpu, "edges": edges, "floor_times": floor_times})
        elif op == "floor":
            _emit(floor(impl, cmd["threads"], cmd["reads"], cmd["repeats"]))
        elif op == "epoch":
            _emit(loader.epoch())
        elif op == "rss":
            if loader is not None:
                loader.shutdown()
            _emit({**_maxrss_mb(), "rss_mb": _rss_mb()})
        else:
            _emit({"error": f"unknown op {op}"})


class Loader:
    """The whole loader (sampling + feature gathering + PyG batch construction) over the seed
    batches in order; persistent workers when `workers` > 0, forked once at start-up."""

    def __init__(
        self, kind: str, store_path: str, seeds: np.ndarray, workers: int, threads: int = 1
    ) -> None:
        batch_size = seeds.shape[1]
        flat = seeds.reshape(-1)
        kw = {"num_workers": workers, "persistent_workers": workers > 0}
        if kind == "ours":
            from gigalearn.graph.sampling.khop import KHopOptions
            from gigalearn.graph.sampling.loaders import NodeLoader

            store, node_type, _ = _open_store(store_path)
            # parallel=True: numba threads in the main process; forked workers run serially
            self.loader = NodeLoader(
                store, node_type, seeds=flat, options=KHopOptions(fanout=FANOUT, parallel=True),
                batch_size=batch_size, shuffle=False, threads=threads, **kw,
            )  # fmt: skip
            self.backend = "gigalearn NodeLoader + to_pyg"
        else:
            import torch
            from torch_geometric.loader import NeighborLoader

            peer = Peer(store_path, with_x=True)
            self.loader = NeighborLoader(
                peer.data, num_neighbors=FANOUT, input_nodes=torch.from_numpy(flat),
                batch_size=batch_size, shuffle=False, **kw,
            )  # fmt: skip
            self.backend = f"PyG NeighborLoader via {peer_backend()}"
        self.workers = workers

    def epoch(self) -> dict:
        """One pass, timed from iter() to the last batch (worker start-up is not in it: the
        persistent workers were forked by the warm-up epoch)."""
        t0, c0 = time.perf_counter(), time.process_time()
        n = edges = x_rows = 0
        for data in self.loader:
            n += 1
            edges += data.edge_index.size(1)
            x_rows += 0 if data.x is None else data.x.size(0)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        # cpu: this process only (with workers, most of the work is in them)
        return {"rate": n / dt, "cpu_rate": n / cpu, "batches": n, "edges": edges, "x_rows": x_rows}

    def shutdown(self) -> None:
        """Stop persistent workers so that their peak memory shows in RUSAGE_CHILDREN."""
        if self.workers:
            it = self.loader._iterator
            if it is not None:
                it._shutdown_workers()
            self.loader._iterator = None


def main() -> None:
    kind, part = sys.argv[1], sys.argv[2]
    if part in ("sampler", "loader"):
        workers = int(sys.argv[5]) if part == "loader" else 0
        threads = int(sys.argv[6]) if part == "loader" and len(sys.argv) > 6 else 1
        serve(kind, part, sys.argv[3], sys.argv[4], workers, threads)
    elif part == "check":  # is the peer usable in this environment?
        _emit({"backend": peer_backend()})
    else:
        raise SystemExit(f"unknown part {part}")


if __name__ == "__main__":
    main()
