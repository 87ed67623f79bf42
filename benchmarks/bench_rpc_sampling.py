"""Benchmark: k-hop sampling across rpc workers (`partition.sampling: rpc`) against the
single-host `KHopSampler` on the same store, seeds and batch seeds, in the same run.

`--parts` worker processes on loopback each hold one part of a partition of the store (METIS by
default, cached next to the store); worker 0 also samples. Each round times the local sampler and
then the rpc sampler on the same batches (alternating, medians over rounds). Printed: graph size,
the partition's edge cut, sampled edges per second of both and their ratio, the share of
frontier nodes that lay on another worker, the rows each worker holds against the whole CSR, and
each worker's peak RSS. On one host the "network" is loopback, so this measures the rpc
machinery's overhead (serialisation, request round trips), not a real network's latency.

    python benchmarks/bench_rpc_sampling.py [--store PATH] [--parts 2] [--method metis]
        [--fanout 15 10] [--batch 1024] [--batches 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_STORE = (
    Path.home() / ".cache/gigalearn/bench/sampling/runs/sampling-ml-1m-homogeneous/graph"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM; ru_maxrss would carry over the parent's peak
    through fork + exec, e.g. METIS's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _partition(store_path: Path, parts: int, method: str):
    """The store's partition, computed once and cached next to the store."""
    from gigalearn.graph.partition import Partition, edge_cut, partition_graph
    from gigalearn.graph.store import GraphStore

    folder = store_path.parent / f"partition-{method}-{parts}"
    if not (folder / "partition.json").exists():
        store = GraphStore(store_path)
        part = partition_graph(store, parts, method)
        part = type(part)(
            part.method, part.parts, part.assignment, {"edge_cut": edge_cut(store, part)}
        )
        part.save(folder, store)
    return Partition.load(folder), folder


def worker(rank: int, args: argparse.Namespace) -> None:
    """One rpc worker: hold its part; worker 0 also runs the timed comparison."""
    from gigalearn.graph.partition import Partition
    from gigalearn.graph.sampling.distributed import (
        _ROWS,
        DistributedKHopSampler,
        start_worker,
        stop_worker,
    )
    from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
    from gigalearn.graph.store import GraphStore

    store = GraphStore(args.store)
    part = Partition.load(args.partition)
    start_worker(store, part, rank, args.parts)
    held = sum(r.indptr.nbytes + r.indices.nbytes + r.eid.nbytes for r in _ROWS.values())
    result = {"rank": rank, "held_mb": held / 2**20}
    if rank == 0:
        options = KHopOptions(fanout=list(args.fanout), parallel=False)
        t = store.edge_types[0]
        n = store.num_nodes(t[2])
        rng = np.random.default_rng(0)
        batches = [
            (rng.choice(n, args.batch, replace=False), int(rng.integers(2**62)))
            for _ in range(args.batches)
        ]
        local = KHopSampler(store, options)
        remote = DistributedKHopSampler(store, part, options)
        owner = part.of(t[2])

        def run(sampler) -> tuple[float, int, float]:
            t0, edges, foreign, frontier = time.perf_counter(), 0, 0, 0
            for seeds, s in batches:
                sub = sampler.sample(t[2], seeds, seed=s)
                edges += sum(e.shape[1] for e in sub.edge_index.values())
                ids = sub.node_ids[t[2]]
                frontier += len(ids)
                foreign += int((owner[ids] != 0).sum())
            return time.perf_counter() - t0, edges, foreign / frontier

        a = local.sample(t[2], batches[0][0], seed=batches[0][1])
        b = remote.sample(t[2], batches[0][0], seed=batches[0][1])
        assert all((a.edge_index[k] == b.edge_index[k]).all() for k in a.edge_index)
        run(local), run(remote)  # warm-up: numba's cache, rpc connections
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            cProfile.runctx("run(remote)", globals(), locals(), sort="cumtime")
        local_s, remote_s = [], []
        for _ in range(args.rounds):
            s, edges, _ = run(local)
            local_s.append(s)
            s, edges_r, foreign = run(remote)
            remote_s.append(s)
            assert edges == edges_r
        result.update(
            edges_per_round=edges,
            local_s=statistics.median(local_s),
            rpc_s=statistics.median(remote_s),
            foreign_share=foreign,
            csr_mb=sum(
                np.asarray(a).nbytes / 2**20
                for a in (
                    store.csr(t, "in").indptr,
                    store.csr(t, "in").indices,
                    store.csr(t, "in").eid,
                )
                if a is not None
            ),
            num_nodes=n,
            num_edges=store.num_edges(t),
        )
    stop_worker()
    result["peak_rss_mb"] = _peak_rss_mb()
    Path(f"{args.out}.{rank}").write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=DEFAULT_STORE)
    p.add_argument("--parts", type=int, default=2)
    p.add_argument("--method", default="metis", choices=["metis", "hash", "range", "random"])
    p.add_argument("--fanout", type=int, nargs="+", default=[15, 10])
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--partition", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args)
        return 0
    if not (args.store / "metadata.json").exists():
        sys.exit(f"{args.store}: no GraphStore; run benchmarks/bench_sampling.py once to build it")
    part, folder = _partition(args.store, args.parts, args.method)
    out = folder / "rpc-bench"
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    env.setdefault("NUMBA_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    common = ["--store", str(args.store), "--parts", str(args.parts), "--partition", str(folder)]
    common += ["--fanout", *map(str, args.fanout), "--batch", str(args.batch)]
    common += ["--batches", str(args.batches), "--rounds", str(args.rounds), "--out", str(out)]
    procs = [
        subprocess.Popen([sys.executable, __file__, "--worker", str(r), *common], env=env)
        for r in range(args.parts)
    ]
    if any(proc.wait() for proc in procs):
        return 1
    res = [json.loads(Path(f"{out}.{r}").read_text()) for r in range(args.parts)]
    r0 = res[0]
    local = r0["edges_per_round"] / r0["local_s"] / 1e6
    rpc = r0["edges_per_round"] / r0["rpc_s"] / 1e6
    print(f"graph {args.store}: {r0['num_nodes']:,} nodes, {r0['num_edges']:,} edges")
    cut = part.stats.get("edge_cut", float("nan"))
    print(f"partition: {args.method} into {args.parts} parts, edge cut {cut:.3f}")
    print(
        f"fan-out {args.fanout}, {args.batch} seeds x {args.batches} batches, {args.rounds} rounds"
    )
    print(f"  local KHopSampler : {local:6.2f} M sampled edges/s (median)")
    print(f"  rpc sampler       : {rpc:6.2f} M sampled edges/s (median)")
    print(f"  ratio rpc / local : {rpc / local:.2f}")
    print(f"  batch nodes owned by another worker: {r0['foreign_share']:.1%}")
    for r in res:
        print(
            f"  worker {r['rank']}: holds {r['held_mb']:.1f} MB of rows "
            f"(the whole in-CSR: {r0['csr_mb']:.1f} MB), peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
