"""Sampling benchmark (issue: k-hop sampler throughput against PyG and the memory-bound floor).

On a seeded synthetic power-law graph (20 M edges by default) and on MovieLens-1M (made
homogeneous: users and movies are one node type, each rating an edge in both directions), for
fan-out [15, 10] and batches of 1,024 random seed nodes:

- sampled edges/s of gigalearn's KHopSampler, single-threaded (`parallel=False`) and with all
  cores (as many batches at once as there are cores, each in a thread of a pool: what the
  loaders' `threads` option does);
- the same for PyG's own NeighborSampler (what NeighborLoader calls), with torch threads 1 and
  all cores, run in the peer venv made by benchmarks/setup_peer_env.sh (torch-sparse), in its own
  process so the project never imports torch-sparse. Target: >= 5x its rate;
- the floor: the same number of random reads from the same `indices` array (numpy `take` at
  precomputed uniform positions, 1 thread; a numba prange gather, all cores). Target: >= 50%;
- the end-to-end loader rate (NodeLoader vs NeighborLoader, batches/s including feature
  gathering and PyG batch construction) with 0 and 2 workers, and ours with 0 workers and a
  thread per core;
- peak memory (ru_maxrss of each measuring process, and of its children).

Ours and the peer run in two persistent processes that are driven in alternation, round after
round, on the same seed batches, so both see the same machine load; figures are medians over
every (round, batch). Stores are built once with `gigalearn graph synthetic` / `gigalearn graph
preprocess` and cached under `<cache_root>/bench/sampling`.

    python benchmarks/bench_sampling.py [--nodes 1000000] [--edges 20000000] [--batches 20]
        [--rounds 3] [--loader-batches 30] [--epochs 3] [--quick] [--peer-python PATH]
        [--graphs synthetic,movielens] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sampling_graphs import describe, movielens_store, synthetic_store
from sampling_report import BATCH, FANOUT, report

from gigalearn.graph.datasets.movielens import cache_root
from gigalearn.graph.datasets.synthetic import PowerLawSpec

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKER = HERE / "sampling_peer.py"
DEFAULT_PEER = HERE / ".venv-peer" / "bin" / "python"


# ---- measuring processes --------------------------------------------------------------------
class Worker:
    """A persistent measuring process speaking JSON lines (see sampling_peer.py)."""

    def __init__(
        self, python: str, kind: str, part: str, store: Path, seeds: Path, log: Path, *extra: str
    ) -> None:
        self.kind = kind
        self.log = open(log, "a")  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [python, str(WORKER), kind, part, str(store), str(seeds), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )  # fmt: skip
        self.ready = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("@@ "):
                return json.loads(line[3:])
        raise RuntimeError(f"{self.kind} worker exited ({self.proc.wait()}); see {self.log.name}")

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def peer_status(python: str) -> tuple[bool, str]:
    if not Path(python).exists():
        return False, f"no peer venv at {python} (run benchmarks/setup_peer_env.sh)"
    res = subprocess.run(
        [python, str(WORKER), "peer", "check"], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
    )  # fmt: skip
    for line in res.stdout.splitlines():
        if line.startswith("@@ "):
            return True, json.loads(line[3:])["backend"]
    err = (res.stderr.strip().splitlines() or ["no output"])[-1]
    return False, err


# ---- one graph ------------------------------------------------------------------------------
def _rates(res: list[dict]) -> dict:
    """Medians over every (round, batch): wall-clock edges/s, and edges per CPU second of the
    measuring process (all its threads), which other jobs on the machine disturb far less."""
    times = [t for r in res for t in r["times"]]
    cpu = [t for r in res for t in r["cpu"]]
    edges = [e for r in res for e in r["edges"]]
    per_batch = [e / t for e, t in zip(edges, times, strict=True)]
    per_cpu = [e / max(t, 1e-9) for e, t in zip(edges, cpu, strict=True)]
    per_round = [sum(r["edges"]) / sum(r["times"]) for r in res]
    # ours only: each batch (or round, with threads) against a floor gather timed right after
    paired = [
        f / t for r in res if r.get("floor_times")
        for f, t in zip(r["floor_times"], r["times"], strict=True)
    ]  # fmt: skip
    return {
        "paired_floor_ratio": statistics.median(paired) if paired else None,
        "median_batch_s": statistics.median(times),
        "median_batch_cpu_s": statistics.median(cpu),
        "median_edges": statistics.median(edges),
        "edges_per_s": statistics.median(per_batch),
        "edges_per_cpu_s": statistics.median(per_cpu),
        "round_min": min(per_round),
        "round_max": max(per_round),
    }


def bench_graph(
    label: str, size: str, store: Path, args, peer: tuple[bool, str], logdir: Path
) -> dict:
    info = describe(store)
    print(f"\n== {label}: {size}")
    print(
        f"   store: {info['nodes']:,} nodes, {info['edges']:,} edges, {info['features']} float32 "
        f"node features; in-CSR indices {info['indices_dtype']} ({info['indices_mb']:.0f} MB); "
        f"in-degree mean {info['mean_in_degree']:.1f}, max {info['max_in_degree']:,}, "
        f"{info['zero_in_degree']:,} nodes without in-edges",
        flush=True,
    )
    n_batches = max(args.batches, args.loader_batches)
    rng = np.random.default_rng(args.seed)
    seeds = np.stack([rng.choice(info["nodes"], BATCH, replace=False) for _ in range(n_batches)])
    s_path, l_path = logdir / f"{label}-seeds.npy", logdir / f"{label}-loader-seeds.npy"
    np.save(s_path, seeds[: args.batches].astype(np.int64))
    np.save(l_path, seeds[: args.loader_batches].astype(np.int64))
    cores = os.cpu_count() or 1
    peer_ok = peer[0]
    out: dict = {"graph": label, "size": size, "store": info, "cores": cores,
                 "rounds": args.rounds, "batches": args.batches}  # fmt: skip
    if not peer_ok:
        out["peer_reason"] = peer[1]

    # -- samplers and floor, interleaved round by round --
    t0 = time.perf_counter()
    ours = Worker(sys.executable, "ours", "sampler", store, s_path, logdir / f"{label}-ours.log")
    peer_w = None
    if peer_ok:
        try:
            peer_w = Worker(
                args.peer_python, "peer", "sampler", store, s_path, logdir / f"{label}-peer.log"
            )
        except RuntimeError as e:
            out["peer_error"] = str(e)
    print(f"   measuring samplers ({args.rounds} rounds x {args.batches} batches) ...", flush=True)
    keys = ("ours1", "oursN", "ours1_noeid", "peer1", "peerN", "floor1", "floorN")
    res: dict[str, list] = {k: [] for k in keys}
    reads = None
    for _ in range(args.rounds):
        for threads, tag in ((1, "1"), (cores, "N")):
            res["ours" + tag].append(ours.ask(op="sample", threads=threads))
            if peer_w:
                res["peer" + tag].append(peer_w.ask(op="sample", threads=threads))
        res["ours1_noeid"].append(ours.ask(op="sample", threads=1, edge_ids=False))
        if reads is None:
            reads = int(statistics.median(res["ours1"][0]["edges"]))
        for threads, tag in ((1, "1"), (cores, "N")):
            res["floor" + tag].append(
                ours.ask(op="floor", threads=threads, reads=reads, repeats=args.batches)
            )
    out["ours_rss"] = ours.ask(op="rss")
    ours.close()
    if peer_w:
        out["peer_rss"] = peer_w.ask(op="rss")
        out["peer_backend"] = peer_w.ready["backend"]
        out["peer_setup_s"] = peer_w.ready["setup_s"]
        peer_w.close()
    for k in ("ours1", "oursN", "ours1_noeid", "peer1", "peerN"):
        if res[k]:
            out[k] = _rates(res[k])
    for k in ("floor1", "floorN"):
        times = [t for r in res[k] for t in r["times"]]
        cpu = [t for r in res[k] for t in r["cpu"]]
        out[k] = {
            "reads": reads,
            "median_s": statistics.median(times),
            "reads_per_s": reads / statistics.median(times),
            "reads_per_cpu_s": reads / max(statistics.median(cpu), 1e-9),
        }
    if res["peer1"]:
        mine = [e for r in res["ours1"] for e in r["edges"]]
        theirs = [e for r in res["peer1"] for e in r["edges"]]
        out["edges_ratio_peer_over_ours"] = statistics.median(theirs) / statistics.median(mine)
    out["sampler_wall_s"] = time.perf_counter() - t0

    # -- end-to-end loaders: ours and PyG alive at once, epochs alternating --
    print(f"   measuring loaders ({args.epochs} epochs x {args.loader_batches} batches) ...",
          flush=True)  # fmt: skip
    for workers, threads, tag in ((0, 1, "0"), (2, 1, "2"), (0, cores, f"0t{cores}")):
        loaders = {"ours": (sys.executable, f"{label}-ours.log")}
        if peer_ok and "peer_error" not in out and not tag.startswith("0t"):
            loaders["peer"] = (args.peer_python, f"{label}-peer.log")
        live = {}
        for who, (python, log) in loaders.items():
            try:
                live[who] = Worker(
                    python, who, "loader", store, l_path, logdir / log, str(workers), str(threads)
                )
            except RuntimeError as e:
                out[f"loader_{who}_{tag}_error"] = str(e)
        epochs: dict[str, list] = {who: [] for who in live}
        for _ in range(args.epochs):
            for who, w in live.items():
                epochs[who].append(w.ask(op="epoch"))
        for who, w in live.items():
            rss = w.ask(op="rss")
            w.close()
            out[f"loader_{who}_{tag}"] = {
                "backend": w.ready["backend"],
                "rates": [e["rate"] for e in epochs[who]],
                "cpu_rates": [e["cpu_rate"] for e in epochs[who]],
                "edges_per_epoch": epochs[who][-1]["edges"],
                "x_rows_per_epoch": epochs[who][-1]["x_rows"],
                **rss,
            }
    out["wall_s"] = time.perf_counter() - t0
    report(out, peer_ok)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=20_000_000)
    ap.add_argument("--batches", type=int, default=20, help="seed batches per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating ours/PyG rounds")
    ap.add_argument("--loader-batches", type=int, default=30, help="batches per loader epoch")
    ap.add_argument("--epochs", type=int, default=3, help="timed loader epochs (after a warm-up)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the seed-node batches")
    ap.add_argument("--graphs", default="synthetic,movielens")
    ap.add_argument("--peer-python", default=str(DEFAULT_PEER))
    ap.add_argument(
        "--quick",
        action="store_true",
        help="100k nodes / 2M edges, 8 batches x 2 rounds, 10 loader batches x 2 epochs",
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.nodes, args.edges = 100_000, 2_000_000
        args.batches, args.rounds, args.loader_batches, args.epochs = 8, 2, 10, 2
    root = cache_root() / "bench" / "sampling"
    root.mkdir(parents=True, exist_ok=True)
    peer_ok, peer_info = peer_status(args.peer_python)
    print(f"sampling benchmark: fan-out {FANOUT}, batch {BATCH:,} seeds, in-edges, no replacement;"
          f" {os.cpu_count()} cores")  # fmt: skip
    print(f"peer: {peer_info}" if peer_ok else f"peer unavailable: {peer_info}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as tmp:
        logdir = Path(tmp)
        for g in args.graphs.split(","):
            if g == "synthetic":
                spec = PowerLawSpec(args.nodes, args.edges)
                store, size = synthetic_store(spec, root), str(spec)
            elif g == "movielens":
                store = movielens_store(root)
                size = ("MovieLens-1M as one node type (6,040 users + 3,883 movies) and one edge "
                        "type (1,000,209 ratings, both directions)")  # fmt: skip
            else:
                raise SystemExit(f"unknown graph {g}")
            try:
                o = bench_graph(g, size, store, args, (peer_ok, peer_info), logdir)
            except Exception:
                for log in sorted(logdir.glob("*.log")):
                    print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
                raise
            results.append(o)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
