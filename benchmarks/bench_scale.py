"""Single-host scale benchmark: a 100 M-edge synthetic graph on this machine.

Figures, each printed with the graph size:
  1. build: tables (DuckDB) → GraphStore in a fresh process (so peak RSS is its own): wall time,
     peak RSS, peak / bytes of the arrays written;
  2. sampling: KHopSampler, fan-out [15, 10], in-edges, batches of 1,024 random seeds;
  3. training: one epoch over 1 M seeds of a 2-layer GraphSAGE (hidden 64) on NodeLoader
     batches — a capped number of steps, the rate extrapolated to 1 M seeds;
  4. inference over all nodes with the same sampler and model (no_grad) — a capped number of
     batches, extrapolated to every node.

    python benchmarks/bench_scale.py [--edges 100000000] [--nodes 5000000] [--generator rmat]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gigalearn.graph.datasets import cache_root

HERE = Path(__file__).resolve()


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _config(db: Path, features: int, storage: str) -> dict:
    feats = {f"f{j}": {"kind": "passthrough", "storage": storage} for j in range(features)}
    return {
        "name": "scale",
        "source": {"engine": "duckdb", "uri": str(db)},
        "nodes": {"node": {"table": "nodes", "id": "node_id", "features": feats}},
        "edges": [
            {
                "type": ["node", "links", "node"],
                "table": "edges",
                "src": "src",
                "dst": "dst",
                "time": "ts",
            }
        ],
    }


def _rss_parts() -> tuple[float, float]:
    """(anonymous, file-backed) resident MB: the second is pages of memory-mapped files."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:")):
            parts[line.split(":")[0]] = int(line.split()[1]) / 1024
    return parts["RssAnon"], parts["RssFile"]


def build_worker(spec_path: Path, out: Path) -> None:
    """Run in a fresh process: build the store and print one JSON line of measurements."""
    import threading

    import duckdb  # noqa: F401  (engine and library imports stay outside the clock)
    import ibis.backends.duckdb  # noqa: F401

    from gigalearn.graph.config import config_from_dict
    from gigalearn.graph.preprocess.build import build_graph

    spec = json.loads(spec_path.read_text())
    base = _rss_mb()
    peaks: dict[str, list[float]] = {}
    stage = ["start"]
    stop = threading.Event()

    def watch() -> None:  # peak anonymous / file-backed RSS per build step, every 0.2 s
        while not stop.wait(0.2):
            anon, file = _rss_parts()
            p = peaks.setdefault(stage[0], [0.0, 0.0, 0.0])
            p[0], p[1], p[2] = max(p[0], anon), max(p[1], file), max(p[2], anon + file)

    threading.Thread(target=watch, daemon=True).start()
    cpu0 = time.process_time()
    start = time.perf_counter()
    build_graph(
        config_from_dict(spec["config"]),
        out,
        step=lambda m: stage.__setitem__(0, m),
        chunk_edges=spec["chunk_edges"],
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    stop.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    edge_bytes = sum(f.stat().st_size for f in (out / "edges").rglob("*.npy"))
    node_bytes = sum(f.stat().st_size for f in (out / "nodes").rglob("*.npy"))
    print(
        json.dumps(
            {
                "stages": peaks,
                "wall_s": wall,
                "cpu_s": cpu,
                "rss_after_import_mb": base,
                "peak_rss_mb": peak,
                "edge_array_mb": edge_bytes / 2**20,
                "node_array_mb": node_bytes / 2**20,
            }
        )
    )


def _build(db: Path, out: Path, args) -> dict:
    spec = {"config": _config(db, args.features, args.storage), "chunk_edges": args.chunk_edges}
    spec_path = out.parent / "scale-spec.json"
    spec_path.write_text(json.dumps(spec))
    if out.exists():
        shutil.rmtree(out)
    res = subprocess.run(
        [sys.executable, str(HERE), "--build-worker", str(spec_path), str(out)],
        capture_output=True,
        text=True,
    )
    if res.returncode:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


class _Clock:
    """Wall and CPU seconds (all threads of this process) since `start`: on a shared machine the
    rate per CPU second is the steadier figure."""

    def start(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def seconds(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _rates(count: float, secs: tuple[float, float]) -> tuple[float, float]:
    return count / secs[0], count / secs[1]


def _sampling(store, batches: int) -> tuple[tuple[float, float], float]:
    from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

    rng = np.random.default_rng(0)
    n = store.num_nodes("node")
    sampler = KHopSampler(store, KHopOptions(fanout=[15, 10], parallel=False))
    sampler.sample("node", rng.choice(n, 1024, replace=False), seed=0)  # compiles / loads kernels
    edges, clock = 0, _Clock().start()
    for i in range(batches):
        sub = sampler.sample("node", rng.choice(n, 1024, replace=False), seed=i)
        edges += sum(int(e.shape[1]) for e in sub.edge_index.values())
    return _rates(edges, clock.seconds()), edges / batches


def _model(in_dim: int):
    import torch
    from torch_geometric.nn import GraphSAGE

    torch.manual_seed(0)
    return GraphSAGE(in_dim, hidden_channels=64, num_layers=2, out_channels=2)


def _training(store, seeds: int, steps: int, batch: int) -> tuple[tuple[float, float], int]:
    """Seeds/s over `steps` steps (after 3 warm-up steps) of a node-level objective."""
    import torch
    import torch.nn.functional as F

    from gigalearn.graph.sampling.khop import KHopOptions
    from gigalearn.graph.sampling.loaders import NodeLoader

    rng = np.random.default_rng(1)
    n = store.num_nodes("node")
    train_seeds = np.sort(rng.choice(n, min(seeds, n), replace=False))
    loader = NodeLoader(
        store, "node", train_seeds, KHopOptions(fanout=[15, 10]), batch_size=batch, shuffle=True
    )
    model = _model(store.node_meta("node")["feature_dim"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    done, start = 0, None
    for i, data in enumerate(loader):
        if i == 3:
            start = _Clock().start()
        if i == steps + 3:
            break
        # a stand-in label (sign of the seed's first feature): the cost is what is measured
        y = (data.x[: data.batch_size, 0] > 0).long()
        opt.zero_grad()
        out = model(data.x, data.edge_index)[: data.batch_size]
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        if start is not None:
            done += data.batch_size
    return _rates(done, start.seconds()), len(train_seeds)


def _inference(store, batches: int, batch: int) -> tuple[float, float]:
    """Nodes/s of sampled inference (fan-out [15, 10], no_grad) over the first `batches`."""
    import torch

    from gigalearn.graph.sampling.khop import KHopOptions
    from gigalearn.graph.sampling.loaders import NodeLoader

    loader = NodeLoader(store, "node", None, KHopOptions(fanout=[15, 10]), batch_size=batch)
    model = _model(store.node_meta("node")["feature_dim"]).eval()
    done, start = 0, None
    with torch.no_grad():
        for i, data in enumerate(loader):
            if i == 2:
                start = _Clock().start()
            if i == batches + 2:
                break
            model(data.x, data.edge_index)[: data.batch_size]
            if start is not None:
                done += data.batch_size
    return _rates(done, start.seconds())


def _inference_layerwise(store, batches: int, batch: int) -> tuple[float, float]:
    """Nodes/s of layer-wise inference: layer 1 for every node from 10 sampled neighbours' x,
    then layer 2 from 15 sampled neighbours' layer-1 output (each edge used once per layer,
    instead of once per seed that reaches it). Capped at `batches` batches per layer; the
    layer-2 inputs of rows layer 1 did not reach are zeros (same cost)."""
    import torch

    from gigalearn.graph.sampling.khop import KHopOptions
    from gigalearn.graph.sampling.loaders import NodeLoader

    n = store.num_nodes("node")
    model = _model(store.node_meta("node")["feature_dim"]).eval()
    h = torch.zeros((n, 64))
    wall = cpu = 0.0
    with torch.no_grad():
        for layer, fan in enumerate((10, 15)):
            loader = NodeLoader(store, "node", None, KHopOptions(fanout=[fan]), batch_size=batch)
            conv = model.convs[layer]
            clock = _Clock().start()
            for i, data in enumerate(loader):
                if i == batches:
                    break
                x = data.x if layer == 0 else h[data.n_id]
                out = conv(x, data.edge_index)[: data.batch_size]
                if layer == 0:
                    h[data.n_id[: data.batch_size]] = out.relu()
            w, c = clock.seconds()
            nodes = min(batches, len(loader)) * batch
            wall, cpu = wall + w / nodes, cpu + c / nodes
    return 1.0 / wall, 1.0 / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=100_000_000)
    ap.add_argument("--nodes", type=int, default=5_000_000)
    ap.add_argument("--features", type=int, default=16)
    ap.add_argument("--storage", default="float32", help="node feature storage")
    ap.add_argument("--generator", choices=["rmat", "power-law"], default="rmat")
    ap.add_argument("--chunk-edges", type=int, default=1 << 22)
    ap.add_argument("--sample-batches", type=int, default=200)
    ap.add_argument("--train-seeds", type=int, default=1_000_000)
    ap.add_argument("--train-steps", type=int, default=100)
    ap.add_argument("--infer-batches", type=int, default=100)
    ap.add_argument("--layerwise-batches", type=int, default=20, help="of 16,384 nodes")
    ap.add_argument("--only", default="build,sample,train,infer", help="stages to run")
    ap.add_argument("--build-worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_worker:
        build_worker(Path(args.build_worker[0]), Path(args.build_worker[1]))
        return

    from gigalearn.graph.datasets.rmat import RmatSpec
    from gigalearn.graph.datasets.synthetic import (
        PowerLawSpec,
        write_power_law_duckdb,
        write_rmat_duckdb,
    )
    from gigalearn.graph.store import GraphStore

    root = cache_root() / "bench" / "scale"
    root.mkdir(parents=True, exist_ok=True)
    if args.generator == "rmat":
        spec = RmatSpec(args.nodes, args.edges)
    else:
        spec = PowerLawSpec(args.nodes, args.edges)
    tag = "rmat" if args.generator == "rmat" else "powerlaw"
    db = root / f"{tag}-{args.nodes}-{args.edges}-f{args.features}-s0.duckdb"
    print(f"== {spec}, {args.features} float features per node  ({_load()})")
    if not db.exists():
        start = time.perf_counter()
        if args.generator == "rmat":
            write_rmat_duckdb(spec, db, args.features)
        else:
            write_power_law_duckdb(spec, db, args.features)
        print(f"generated {db.name} in {time.perf_counter() - start:.1f} s")

    out = root / f"store-{tag}-{args.nodes}-{args.edges}-{args.storage}"
    b = _build(db, out, args)
    store = GraphStore(out)
    e = store.num_edges(("node", "links", "node"))
    n = store.num_nodes("node")
    arrays = b["edge_array_mb"] + b["node_array_mb"]
    size = f"[{n:,} nodes, {e:,} edges]"
    meta = store.edge_meta(("node", "links", "node"))
    print(
        f"build {size}: {b['wall_s']:.1f} s ({e / b['wall_s'] / 1e6:.2f} M edges/s; CPU "
        f"{b['cpu_s']:.1f} s), "
        f"chunks of {args.chunk_edges:,} edges; peak RSS {b['peak_rss_mb']:.0f} MB "
        f"(+{b['peak_rss_mb'] - b['rss_after_import_mb']:.0f} MB over imports); arrays "
        f"{arrays:.0f} MB (edges {b['edge_array_mb']:.0f}, nodes {b['node_array_mb']:.0f}); "
        f"peak / arrays {b['peak_rss_mb'] / arrays:.2f}; ids {meta['index_dtype']}, edge ids "
        f"and offsets {meta['offset_dtype']}; node features {args.storage} "
        f"{store.feature_bytes('node') / 2**20:.0f} MB  ({_load()})"
    )
    print("  peak RSS by build step, MB (anonymous + file-backed = total):")
    for name, (anon, file, total) in b["stages"].items():
        print(f"    {name:48s} {anon:6.0f} + {file:6.0f} = {total:6.0f}")
    deg = np.diff(np.asarray(store.csr(("node", "links", "node"), "in").indptr))
    print(
        f"  in-degree {size}: mean {deg.mean():.1f}, max {deg.max():,}, "
        f"{int((deg == 0).sum()):,} nodes without in-edges"
    )
    del deg
    if "sample" in args.only:
        _print_sampling(store, args, size)
    if "train" in args.only:
        _print_training(store, args, size)
    if "infer" in args.only:
        _print_inference(store, args, size, n)
        rate, per_cpu = _inference_layerwise(store, args.layerwise_batches, 16_384)
        print(
            f"inference, layer-wise {size}: {rate:,.0f} nodes/s [{per_cpu:,.0f} per CPU-s] "
            "(both layers; "
            f"{args.layerwise_batches} batches of 16,384 per layer, fan-out 10 then 15); all "
            f"{n:,} nodes extrapolated: {n / rate / 60:.1f} min  ({_load()})"
        )


def _print_sampling(store, args, size: str) -> None:
    (rate, per_cpu), per_batch = _sampling(store, args.sample_batches)
    print(
        f"sampling {size}: {rate / 1e6:.2f} M sampled edges/s [{per_cpu / 1e6:.2f} M per CPU-s] "
        f"(fan-out [15, 10], 1,024 seeds, "
        f"1 thread, {args.sample_batches} batches, {per_batch:,.0f} edges/batch)  ({_load()})"
    )


def _print_training(store, args, size: str) -> None:
    (seeds_s, per_cpu), n_seeds = _training(store, args.train_seeds, args.train_steps, 1024)
    print(
        f"training {size}: {seeds_s:,.0f} seeds/s [{per_cpu:,.0f} per CPU-s] over "
        f"{args.train_steps} steps of 1,024 seeds "
        f"(GraphSAGE 2x64, fan-out [15, 10]); one epoch over {n_seeds:,} seeds extrapolated: "
        f"{n_seeds / seeds_s / 60:.1f} min  ({_load()})"
    )


def _print_inference(store, args, size: str, n: int) -> None:
    nodes_s, per_cpu = _inference(store, args.infer_batches, 1024)
    print(
        f"inference {size}: {nodes_s:,.0f} nodes/s [{per_cpu:,.0f} per CPU-s] over "
        f"{args.infer_batches} batches of 1,024 "
        f"(sampled, fan-out [15, 10]); all {n:,} nodes extrapolated: {n / nodes_s / 60:.1f} min"
        f"  ({_load()})"
    )


if __name__ == "__main__":
    main()
