"""Link-prediction benchmark (issue: MovieLens-1M against PyG's own LightGCN).

On MovieLens-1M with the global 80/10/10 temporal split that `split_edges(..., SplitConfig(
strategy="temporal", val=0.1, test=0.1))` makes, in the same invocation:

- ours: `run_pipeline` (preprocess → split → train → infer → evaluate) of the configured model
  (`examples/movielens-1m-bench.yaml` by default) from a fresh run directory, in its own
  process: whole-pipeline wall time and peak memory (`ru_maxrss` of RUSAGE_SELF and
  RUSAGE_CHILDREN of that process). Its per-epoch validation recall@20 and the wall time of its
  training steps come from the training log (`model/train.jsonl`: one record per step with its
  throughput, so step time = batch_size / edges_per_s; validation time is not counted);
- the peer: `torch_geometric.nn.models.LightGCN` (users and movies as one node index, movies
  offset by the number of users, each training rating an edge in both directions) trained
  full-graph on exactly our run's training edges (`splits/edges/train.npy`) with its BPR
  `recommendation_loss` (L2 strength `--peer-reg`) on mini-batches of training edges with one
  uniformly random negative movie each, Adam, as PyG's `examples/lightgcn.py` does, in its own
  process. After every epoch its validation recall@20 / NDCG@20 is measured (outside the
  training clock); training stops after `--peer-patience` epochs without improvement and the
  best epoch's embeddings are tested. Several `--peer-lr` / `--peer-reg` / `--peer-dim` values
  make a grid, each point in its own process; the point with the best validation recall@20 is
  the peer. `--peer-from OUT.json` reuses the peer of an earlier run (its split is checked to
  be ours).

Both are scored by the same function, `gigalearn.graph.evaluate.held_out_metrics`: every movie
ranked for each user with a held-out edge, the user's training (and, for test, validation)
movies filtered out. Reported: test recall@20 / NDCG@20 of both and their ratios (target
>= 1.0), the training time ours needs to reach the peer's best validation recall@20 against
the time the peer needs (target <= 0.5), whole-pipeline wall time and peak memory.

    python benchmarks/bench_link_prediction.py [--config examples/movielens-1m-bench.yaml]
        [--peer-lr 0.001 0.005] [--peer-reg 1e-4 1e-3] [--peer-epochs 40] [--peer-patience 2]
        [--peer-only | --peer-from OUT.json] [--repeats N] [--threads 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from lightgcn_peer import in_child, peak_mb, run_peer_grid

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "examples" / "movielens-1m-bench.yaml"


def _bench_config(config: Path, db: Path):
    """The benchmark config with its source pointed at the cached MovieLens-1M DuckDB file."""
    from gigalearn.graph.config import config_from_dict, load_config

    data = load_config(config).model_dump(mode="json")
    data["source"]["uri"] = str(db)
    data["infer"]["write_back"] = None  # do not write embeddings into the shared cached file
    return config_from_dict(data, str(config))


# ---- ours -----------------------------------------------------------------------------------
def run_ours(
    config: str, db: str, run_root: str, threads: int, seed_offset: int = 0
) -> dict[str, Any]:
    """`run_pipeline` end to end from a fresh run directory (runs in a child process)."""
    import torch

    torch.set_num_threads(threads)
    from gigalearn.graph.pipeline import run_pipeline
    from gigalearn.graph.rundir import RunDir

    cfg = _bench_config(Path(config), Path(db))
    if seed_offset:  # a repeat: another initialisation and batch order
        train = cfg.train.model_copy(update={"seed": cfg.train.seed + seed_offset})
        cfg = cfg.model_copy(update={"train": train})
    run = RunDir(Path(run_root) / cfg.name)
    shutil.rmtree(run.root, ignore_errors=True)
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def on_stage(name: str, status: str) -> None:
        marks[name] = time.perf_counter() - t0
        print(f"  [ours] {name}: {status} at {marks[name]:.1f} s", flush=True)

    results = run_pipeline(cfg, run, on_stage=on_stage)
    wall = time.perf_counter() - t0
    stage_s = dict(zip(marks, [*list(marks.values())[1:], wall], strict=True))
    stage_s = {k: v - marks[k] for k, v in stage_s.items()}
    return {
        "wall_s": wall,
        "stage_s": stage_s,
        "test": results["evaluate"],
        "curve": training_curve(run.train_log, cfg.train.batch_size),
        "run_dir": str(run.root),
        "config": cfg.model_dump(mode="json", include={"sampling", "model", "train"}),
        **peak_mb(),
    }


def training_curve(log: Path, batch_size: int) -> list[dict[str, float]]:
    """Per epoch: cumulative training-step seconds and the validation metrics, from train.jsonl
    (a step's time is batch_size / its edges_per_s; validation time is not counted)."""
    curve, elapsed, first_step = [], 0.0, None
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        if "edges_per_s" in rec:
            dt = batch_size / rec["edges_per_s"]
            first_step = dt if first_step is None else first_step
            elapsed += dt
        elif "val" in rec:
            curve.append({"epoch": rec["epoch"], "train_s": elapsed, **rec["val"]})
    if curve:
        curve[0]["first_step_s"] = first_step
    return curve


# ---- comparison -----------------------------------------------------------------------------
def time_to_reach(curve: list[dict[str, float]], level: float, key: str = "recall@20"):
    """Training seconds at the first epoch whose validation `key` reaches `level` (None: never)."""
    for point in curve:
        if point[key] >= level:
            return point["train_s"]
    return None


def report(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Print the comparison table; return the summary numbers."""
    # the peer's best validation recall@20 (the epoch early stopping keeps), and when it got there
    target = peer["best_val"]["recall@20"]
    peer_t = time_to_reach(peer["curve"], target)
    ours_t = time_to_reach(ours["curve"], target)
    summary = {
        "recall@20_ratio": ours["test"]["recall@20"] / peer["test"]["recall@20"],
        "ndcg@20_ratio": ours["test"]["ndcg@20"] / peer["test"]["ndcg@20"],
        "peer_best_val_recall@20": target,
        "peer_time_to_best_s": peer_t,
        "ours_time_to_peer_s": ours_t,
        "time_ratio": ours_t / peer_t if ours_t is not None else None,
    }
    if peer.get("grid"):
        print("\n== peer grid (best epoch by validation recall@20; early stopping)")
        print(
            f"  {'lr':>7s} {'reg':>7s} {'dim':>4s} {'epoch':>5s} {'val r@20':>9s} {'test r@20':>9s}"
        )
        for g in peer["grid"]:
            print(
                f"  {g['lr']:7g} {g['reg']:7g} {g['dim']:4d} {g['best_epoch']:5d} "
                f"{g['val_recall@20']:9.4f} {g['test_recall@20']:9.4f}"
            )
    print("\n== per-epoch validation recall@20 (cumulative training seconds)")
    for name, side in (("peer", peer), ("ours", ours)):
        pts = "  ".join(f"{p['recall@20']:.4f}@{p['train_s']:.0f}s" for p in side["curve"])
        print(f"  {name}: {pts}")
    print("\n== test split (candidates: all movies; train+val movies filtered)")
    print(f"  {'':6s} {'recall@20':>10s} {'ndcg@20':>10s}")
    for name, side in (("peer", peer), ("ours", ours)):
        print(f"  {name:6s} {side['test']['recall@20']:10.4f} {side['test']['ndcg@20']:10.4f}")
    print(
        f"  ratio  {summary['recall@20_ratio']:10.3f} {summary['ndcg@20_ratio']:10.3f}"
        "   (target >= 1.0)"
    )
    print(f"\n== time to the peer's best validation recall@20 ({target:.4f})")
    print(
        f"  peer {peer_t:.1f} s of training (epoch {peer['best_epoch']}; "
        f"{peer['train_s']:.1f} s in all)"
    )
    if ours_t is None:
        best = max(p["recall@20"] for p in ours["curve"])
        print(f"  ours never reached it (best validation recall@20 {best:.4f}): ratio n/a")
    else:
        print(f"  ours {ours_t:.1f} s of training -> ratio {summary['time_ratio']:.3f}")
    print("   (target <= 0.5)")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in ours["stage_s"].items())
    print(f"\n== ours, whole pipeline: {ours['wall_s']:.1f} s ({stages} s)")
    first = ours["curve"][0].get("first_step_s") if ours["curve"] else None
    if first is not None:
        print(f"  first training step {first:.1f} s (includes numba compilation)")
    print(
        f"  peak RSS: ours {ours['self_mb']:.0f} MB (its children {ours['children_mb']:.0f} MB)"
        f", peer {peer['self_mb']:.0f} MB"
    )
    print("\n== configs")
    print(f"  ours: {json.dumps(ours['config'])}")
    print(f"  peer: {json.dumps(peer['config'])}")
    return summary


def split_only(config: str, db: str, run_root: str) -> str:
    """Preprocess and split as ours does (for a peer-only run); the run directory."""
    from gigalearn.graph.pipeline import run_pipeline
    from gigalearn.graph.rundir import RunDir

    cfg = _bench_config(Path(config), Path(db))
    run = RunDir(Path(run_root) / cfg.name)
    run_pipeline(cfg, run, stop_after="split")
    return str(run.root)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--runs-dir", type=Path, default=None, help="default: <cache>/bench/lp/runs")
    p.add_argument("--peer-epochs", type=int, default=40, help="at most; early stopping ends it")
    p.add_argument("--peer-patience", type=int, default=2)
    p.add_argument("--peer-lr", type=float, nargs="+", default=[0.002])
    p.add_argument(
        "--peer-reg",
        type=float,
        nargs="+",
        default=[1e-3],
        help="BPR L2 (λ); defaults: the best of the grid in docs/benchmarks.md",
    )
    p.add_argument("--peer-dim", type=int, nargs="+", default=[64])
    p.add_argument("--peer-batch", type=int, default=8192)
    p.add_argument("--peer-layers", type=int, default=3)
    p.add_argument("--peer-only", action="store_true", help="split, then the peer (grid) only")
    p.add_argument(
        "--peer-from",
        type=Path,
        nargs="+",
        default=None,
        help="reuse the peer (grids) of earlier --json outputs instead of training it again",
    )
    p.add_argument("--ours-only", action="store_true", help="ours only (with --json)")
    p.add_argument("--ours-from", type=Path, default=None, help="reuse ours of an earlier --json")
    p.add_argument(
        "--repeats", type=int, default=1, help="runs of ours with train.seed + 0, 1, ...; medians"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    args = p.parse_args(argv)

    import numpy as np

    from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens

    db = fetch_movielens("1m", cache_root() / "bench" / "ml-1m.duckdb")
    runs = args.runs_dir or cache_root() / "bench" / "lp" / "runs"
    print(f"== load average at start {_load()} on {os.cpu_count()} cores", flush=True)
    base = {
        "epochs": args.peer_epochs,
        "patience": args.peer_patience,
        "batch": args.peer_batch,
        "layers": args.peer_layers,
        "threads": args.threads,
        "seed": args.seed,
    }
    grid = {"lr": args.peer_lr, "reg": args.peer_reg, "dim": args.peer_dim}
    if args.peer_only:
        run_dir = in_child(split_only, str(args.config), str(db), str(runs))
        peer = run_peer_grid(run_dir, base, grid)
        print(json.dumps(peer["grid"], indent=1))
        if args.json:
            args.json.write_text(json.dumps({"peer": peer}, indent=1))
        return 0
    if args.ours_from:
        repeats = json.loads(args.ours_from.read_text())["ours_repeats"]
        print(f"== ours: reused from {args.ours_from}", flush=True)
    else:
        print(f"== ours: run_pipeline({args.config.name}) in {runs}", flush=True)
        repeats = []
        for i in range(args.repeats):
            repeats.append(
                in_child(run_ours, str(args.config), str(db), str(runs), args.threads, i)
            )
            print(
                f"  [ours] repeat {i + 1}: test {repeats[-1]['test']}  load {_load()}", flush=True
            )
    ours = _median_run(repeats)
    if args.ours_only:
        if args.json:
            args.json.write_text(json.dumps({"ours": ours, "ours_repeats": repeats}, indent=1))
        return 0
    if args.peer_from:
        peers = [json.loads(f.read_text())["peer"] for f in args.peer_from]
        peer = {
            **max(peers, key=lambda r: r["best_val"]["recall@20"]),
            # a configuration trained in several of the files is listed once (the first)
            "grid": list(
                {(g["lr"], g["reg"], g["dim"]): g for r in peers[::-1] for g in r["grid"]}.values()
            )[::-1],
        }
        names = ", ".join(map(str, args.peer_from))
        print(f"== peer: reused from {names} (trained on the same split)", flush=True)
        for r in peers:
            # (outputs from before run_dir was recorded: the default config's run directory)
            _same_split(ours["run_dir"], r.get("run_dir") or str(runs / "movielens-1m-bench"))
    else:
        print("== peer: PyG LightGCN on the same training edges", flush=True)
        peer = run_peer_grid(ours["run_dir"], base, grid)
    summary = report(ours, peer)
    if len(repeats) > 1:
        print(f"\n== ours over {len(repeats)} runs (the median run by test recall@20 is above)")
        for r in repeats:
            print(
                f"  recall@20 {r['test']['recall@20']:.4f}  ndcg@20 {r['test']['ndcg@20']:.4f}"
                f"  wall {r['wall_s']:.1f} s  peak {r['self_mb']:.0f} MB"
            )
        med = lambda f: float(np.median([f(r) for r in repeats]))  # noqa: E731
        print(
            f"  median recall@20 {med(lambda r: r['test']['recall@20']):.4f}"
            f"  ndcg@20 {med(lambda r: r['test']['ndcg@20']):.4f}"
            f"  wall {med(lambda r: r['wall_s']):.1f} s  peak {med(lambda r: r['self_mb']):.0f} MB"
        )
    print(f"  parent RUSAGE_CHILDREN peak {peak_mb()['children_mb']:.0f} MB")
    print(f"  load average at end {_load()}")
    if args.json:
        out = {"ours": ours, "ours_repeats": repeats, "peer": peer, **summary}
        args.json.write_text(json.dumps(out, indent=1))
    return 0


def _same_split(ours: str, peer: str) -> None:
    """Refuse a reused peer whose run split the edges differently from ours."""
    import numpy as np

    for part in ("train", "val", "test"):
        a, b = (np.load(Path(r) / "splits" / "edges" / f"{part}.npy") for r in (ours, peer))
        if not np.array_equal(a, b):
            raise SystemExit(f"--peer-from: its {part} split differs from ours")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median test recall@20 (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["test"]["recall@20"])
    return ordered[(len(ordered) - 1) // 2]


if __name__ == "__main__":
    sys.exit(main())
