"""The peer of bench_link_prediction.py: PyG's own LightGCN, trained full-graph with BPR on our
run's training edges, early-stopped on validation recall@20, over a small hyper-parameter grid
(each point in its own process, so each reports its own peak memory)."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

METRICS = ["recall@20", "ndcg@20"]


def peak_mb() -> dict[str, float]:
    """Peak resident memory (MB) of this process and of its finished children."""
    return {
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def in_child(fn, *fn_args) -> dict[str, Any]:
    """Run fn in a fresh (spawned) process, so each side's peak memory is its own."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, fn_args)


# ---------------------------------------------------------------
def run_peer(run_dir: str, args: dict[str, Any]) -> dict[str, Any]:
    """Train PyG's LightGCN full-graph on our run's training edges with early stopping on
    validation recall@20; test metrics of its best epoch (runs in a child process)."""
    import numpy as np
    import torch
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.nn.models import LightGCN
    from torch_geometric.utils import to_torch_csr_tensor

    from gigalearn.graph.evaluate import Metric, held_out_metrics
    from gigalearn.graph.split import Split
    from gigalearn.graph.store import GraphStore

    torch.set_num_threads(args["threads"])
    torch.manual_seed(args["seed"])
    run = Path(run_dir)
    store = GraphStore(run / "graph")
    target = ("user", "rated", "movie")
    src, dst = (np.asarray(a, dtype=np.int64) for a in store.edge_index(target))
    split = Split.load(run / "splits" / "edges")
    n_users, n_movies = store.num_nodes("user"), store.num_nodes("movie")
    u = torch.from_numpy(src[split.train])
    m = torch.from_numpy(dst[split.train] + n_users)
    train_pairs = torch.stack([u, m])  # [2, E]: user → movie, movies offset by n_users
    edge_index = torch.cat([train_pairs, train_pairs.flip(0)], dim=1)  # both directions
    n_nodes = n_users + n_movies
    model = LightGCN(n_nodes, args["dim"], args["layers"], normalize=False)
    # LGConv's symmetric normalisation, computed once (the graph is fixed) instead of at every
    # layer of every step, and the normalised adjacency as a CSR tensor: the same model, 5x
    # faster per step on CPU than passing edge_index (checked below)
    norm_index, norm_weight = gcn_norm(edge_index, None, n_nodes, add_self_loops=False)
    adj = to_torch_csr_tensor(norm_index.flip(0), norm_weight, size=(n_nodes, n_nodes))
    with torch.no_grad():
        reference = LightGCN(n_nodes, args["dim"], args["layers"])
        reference.load_state_dict(model.state_dict())
        gap = (reference.get_embedding(edge_index) - model.get_embedding(adj)).abs().max()
        assert gap < 1e-4, f"normalised adjacency differs from LightGCN on edge_index: {gap}"
    opt = torch.optim.Adam(model.parameters(), lr=args["lr"])
    metrics = [Metric.parse(x) for x in METRICS]
    seen_test = np.concatenate([split.train, split.val])

    def scores(emb: torch.Tensor, held: np.ndarray, seen: np.ndarray) -> dict[str, float]:
        return held_out_metrics(emb[:n_users], emb[n_users:], src, dst, held, seen, metrics)

    def embed() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            emb = model.get_embedding(adj)
        model.train()
        return emb

    tag = f"lr {args['lr']:g} reg {args['reg']:g} dim {args['dim']}"
    curve, train_s, n = [], 0.0, train_pairs.shape[1]
    best, best_emb, bad = None, None, 0
    for epoch in range(1, args["epochs"] + 1):
        t0 = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(n).split(args["batch"]):
            pos = train_pairs[:, idx]
            neg = torch.stack([pos[0], torch.randint(n_users, n_users + n_movies, (len(idx),))])
            label_index = torch.cat([pos, neg], dim=1)
            pos_rank, neg_rank = model(adj, label_index).chunk(2)
            loss = model.recommendation_loss(
                pos_rank, neg_rank, node_id=label_index.unique(), lambda_reg=args["reg"]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        train_s += time.perf_counter() - t0
        emb = embed()
        val = scores(emb, split.val, split.train)
        curve.append({"epoch": epoch, "train_s": train_s, "loss": total / n, **val})
        print(
            f"  [peer {tag}] epoch {epoch}: loss {total / n:.4f}  val recall@20 "
            f"{val['recall@20']:.4f}  train {train_s:.1f} s",
            flush=True,
        )
        if best is None or val["recall@20"] > best["recall@20"]:
            best, best_emb, bad = curve[-1], emb, 0
        else:
            bad += 1
            if bad >= args["patience"]:
                break  # early stopping: the test metrics are those of the best epoch
    return {
        "curve": curve,
        "best_epoch": best["epoch"],
        "best_val": {k: best[k] for k in METRICS},
        "test": scores(best_emb, split.test, seen_test),
        "train_s": train_s,
        "config": {
            k: args[k] for k in ("dim", "layers", "lr", "reg", "batch", "epochs", "patience")
        },
        "run_dir": run_dir,
        **peak_mb(),
    }


def run_peer_grid(run_dir: str, base: dict[str, Any], grid: dict[str, list]) -> dict[str, Any]:
    """Every combination of `grid` (lr, reg, dim) in its own process; the best by validation
    recall@20 (at its best epoch) is the peer, the others are kept for the report."""
    import itertools

    tried = []
    for values in itertools.product(*grid.values()):
        args = {**base, **dict(zip(grid, values, strict=True))}
        tried.append(in_child(run_peer, run_dir, args))
    best = max(tried, key=lambda r: r["best_val"]["recall@20"])
    return {
        **best,
        "grid": [
            {
                **r["config"],
                "best_epoch": r["best_epoch"],
                **{f"val_{k}": v for k, v in r["best_val"].items()},
                **{f"test_{k}": v for k, v in r["test"].items()},
                "train_s": r["train_s"],
            }
            for r in tried
        ],
    }
