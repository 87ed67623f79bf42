"""Link-prediction training: the GNN encoder learns embeddings whose decoder scores (inner
products by default) rank each anchor's true destinations above the rest. Single process, or DDP
under torchrun."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch
from rich.progress import Progress

from gigalearn.common.errors import ConfigError
from gigalearn.graph.checkpoint import latest_checkpoint, save_checkpoint, training_fingerprint
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.partition import seed_owners
from gigalearn.graph.ranks import Ranks
from gigalearn.graph.remote import mirror_checkpoint
from gigalearn.graph.rpc_sampling import rank_samplers
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.tasks import LinkTask, NodeTask, make_task


def _optimizer(cfg: GraphConfig, params) -> torch.optim.Optimizer:
    t = cfg.train
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    return cls[t.optimizer](params, lr=t.lr, weight_decay=t.weight_decay)


def _tensorboard(cfg: GraphConfig, run: RunDir, rank: int) -> Any:
    """A TensorBoard SummaryWriter on rank 0 when asked for and installed, else None."""
    if not cfg.train.tensorboard or rank != 0:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the tensorboard package is optional
        return None
    return SummaryWriter(str(run.tensorboard))


def _anchors(task: LinkTask | NodeTask) -> tuple[str, np.ndarray]:
    """The node type and dense ids of the training examples' seeds."""
    if isinstance(task, LinkTask):
        return task.target[0], task.src  # an edge is sampled from its source
    return task.node_type, task.split.train


def train(
    cfg: GraphConfig, run: RunDir, resume: bool = True, show_progress: bool = True
) -> dict[str, Any]:
    """Train on the training graph of `run`; checkpoints let a killed run continue."""
    ranks = Ranks.from_env()
    tc = cfg.train
    task = make_task(cfg, run)
    model = task.build_model()
    opt = _optimizer(cfg, model.parameters())
    # with partition.split_seeds each rank trains on the examples of its own parts; every
    # rank takes as many steps as the smallest share, so DDP's collectives stay in step
    owner = seed_owners(cfg, run.root, *_anchors(task), ranks.world)
    share = (
        int(np.bincount(owner, minlength=ranks.world).min())
        if owner is not None
        else task.num_examples // ranks.world
    )
    per_epoch = share // tc.batch_size
    per_epoch = min(per_epoch, tc.max_steps_per_epoch or per_epoch)
    if per_epoch == 0:
        raise ConfigError(
            f"train.batch_size {tc.batch_size} exceeds the training examples per process ({share})"
        )
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs * per_epoch)
        if tc.schedule == "cosine"
        else None
    )
    fingerprint = training_fingerprint(cfg)
    state = latest_checkpoint(run.checkpoints, fingerprint) if resume else None
    epoch = step = 0
    best, history, bad_epochs = None, [], 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        epoch, step = state["epoch"], state["step"]
        best, history, bad_epochs = state["best"], state["history"], state["bad_epochs"]
    net = (
        torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        if ranks.world > 1
        else model
    )
    es = cfg.train.early_stopping
    run.model.mkdir(parents=True, exist_ok=True)
    log = open(run.train_log, "a") if ranks.rank == 0 else None  # noqa: SIM115
    board = _tensorboard(cfg, run, ranks.rank)
    progress = Progress(disable=not show_progress or ranks.rank != 0, transient=False)
    samplers = rank_samplers(
        cfg, run.root, task.store, ranks, tc.num_workers, run.train_log, tc.loader_threads
    )
    with progress, samplers as task.make_sampler:
        bar = progress.add_task("training", total=(tc.epochs - epoch) * per_epoch - step)
        stopped = lambda: es is not None and bad_epochs >= es.patience  # noqa: E731
        while epoch < tc.epochs and not stopped():
            # one permutation per epoch from the seed: a resumed epoch replays the same order
            perm = np.random.default_rng([tc.seed, epoch]).permutation(task.num_examples)
            mine = (
                perm[owner[perm] == ranks.rank]
                if owner is not None
                else perm[ranks.rank :: ranks.world]
            )
            mine = mine[: per_epoch * tc.batch_size]
            mine = mine[step * tc.batch_size :]
            loader = task.loader(
                mine,
                seed=tc.seed * 100_003 + epoch * 1_009 + step,
                batch_size=tc.batch_size,
                workers=tc.num_workers,
                threads=tc.loader_threads,
            )
            tick = time.perf_counter()
            for batch in loader:
                loss = task.loss(net, batch)
                opt.zero_grad()
                loss.backward()
                if tc.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                step += 1
                rate = tc.batch_size * ranks.world / (time.perf_counter() - tick)
                tick = time.perf_counter()
                progress.update(
                    bar,
                    advance=1,
                    description=(
                        f"epoch {epoch + 1}/{tc.epochs} loss {loss.item():.4f} {rate:,.0f} edges/s"
                    ),
                )
                if log:
                    log.write(
                        json.dumps(
                            {
                                "epoch": epoch,
                                "step": step,
                                "loss": loss.item(),
                                "lr": opt.param_groups[0]["lr"],
                                "edges_per_s": rate,
                            }
                        )
                        + "\n"
                    )
                    log.flush()
                if board is not None:
                    at = epoch * per_epoch + step
                    board.add_scalar("train/loss", loss.item(), at)
                    board.add_scalar("train/lr", opt.param_groups[0]["lr"], at)
                    board.add_scalar("train/edges_per_s", rate, at)
                end_of_epoch = step == per_epoch
                if end_of_epoch or (tc.checkpoint_every and step % tc.checkpoint_every == 0):
                    if end_of_epoch:
                        epoch, step = epoch + 1, 0
                        metrics = task.validate(model) if ranks.rank == 0 else {}
                        history.append({"epoch": epoch, **metrics})
                        if log:
                            log.write(json.dumps({"epoch": epoch, "val": metrics}) + "\n")
                        if board is not None:
                            for name, value in metrics.items():
                                board.add_scalar(f"val/{name}", value, epoch * per_epoch)
                            board.flush()
                        key = es.metric if es else None
                        if key and key in metrics:
                            if best is None or metrics[key] > best:
                                best, bad_epochs = metrics[key], 0
                                # the model that inference uses when early stopping is on
                                torch.save(
                                    {
                                        "fingerprint": fingerprint,
                                        "epoch": epoch,
                                        "model": model.state_dict(),
                                    },
                                    run.model / "best.pt",
                                )
                            else:
                                bad_epochs += 1
                        best, bad_epochs = ranks.share((best, bad_epochs))
                    if ranks.rank == 0:
                        saved = save_checkpoint(
                            run.checkpoints,
                            epoch * per_epoch + step,
                            {
                                "fingerprint": fingerprint,
                                "model": model.state_dict(),
                                "optimizer": opt.state_dict(),
                                "scheduler": sched.state_dict() if sched else None,
                                "epoch": epoch,
                                "step": step,
                                "best": best,
                                "history": history,
                                "bad_epochs": bad_epochs,
                            },
                        )
                        mirror_checkpoint(run, saved)  # a run on object storage
                    ranks.barrier()
                    if end_of_epoch:
                        break
    if log:
        log.close()
    if board is not None:
        board.close()
    if ranks.rank == 0:
        final = {"fingerprint": fingerprint, "model": model.state_dict()}
        if es and (run.model / "best.pt").exists():
            final = torch.load(run.model / "best.pt", weights_only=False)
        torch.save(final, run.model / "model.pt")
    ranks.barrier()
    return {"epochs": epoch, "history": history, "best": best}
