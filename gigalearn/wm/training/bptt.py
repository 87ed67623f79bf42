"""Backpropagation through time with Adam for a population of leaky rate networks.

The same network equations and task contract as FORCE, but J, W_in and W_out are all trained by
gradient descent on the masked squared error of every readout. Networks are independent: the
summed loss gives each network exactly its own gradient, and Adam is element-wise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task
from gigalearn.wm.training.streams import task_rng


@dataclass(frozen=True)
class BpttConfig:
    """Adam settings; each iteration is one batch of `batch` trials per network."""

    n_iters: int = 300
    batch: int = 16
    lr: float = 1e-2
    grad_clip: float = 1.0
    """Max gradient norm of each network (exploding gradients are common in RNNs)."""
    train_recurrent: bool = True
    recurrent_lr_scale: float = 0.1
    """J's learning rate relative to `lr`: J has N² entries and moves the dynamics the most."""

    def __post_init__(self) -> None:
        if self.n_iters < 1 or self.batch < 1 or self.lr <= 0 or self.grad_clip <= 0:
            raise ConfigError("n_iters, batch must be >= 1 and lr, grad_clip > 0")


@dataclass
class BpttResult:
    """Final states `[P,1,N]`, late training RMSE of the scored readout `[P]`, loss per iter."""

    x_end: torch.Tensor
    train_rmse: np.ndarray
    losses: list[float]
    seconds: float


def train_bptt(
    pop: Population,
    task: Task,
    cfg: BpttConfig,
    on_iter: Callable[[int], None] | None = None,
) -> BpttResult:
    """Train `pop` in place; trials chain (each batch starts where the previous one ended)."""
    start = time.perf_counter()
    params = [pop.w_out, pop.w_zu] + ([pop.g_jt] if cfg.train_recurrent else [])
    for t in params:
        t.requires_grad_(True)
    groups = [{"params": params[:2], "lr": cfg.lr}]
    if cfg.train_recurrent:
        groups.append({"params": params[2:], "lr": cfg.lr * cfg.recurrent_lr_scale})
    opt = torch.optim.Adam(groups)
    rngs = [task_rng(s.seed) for s in pop.specs]
    score = task.readout_cols(task.score_readout)
    x = pop.initial_state(cfg.batch)
    losses: list[float] = []
    late_sq = torch.zeros(pop.size, dtype=torch.float64)
    late_n = torch.zeros(pop.size, dtype=torch.float64)
    try:
        for it in range(cfg.n_iters):
            batches = [task.batch(task.sample_conditions(cfg.batch, g), g) for g in rngs]
            u = _stack([b.inputs for b in batches], pop)  # [T,P,B,I]
            tgt = _stack([b.targets for b in batches], pop)
            mask = _stack([b.masks for b in batches], pop)
            z = pop.readout(torch.tanh(x))
            outs = []
            for u_t in u.unbind(0):  # unbind, not u[t]: indexing makes backward ~13× slower
                x, _, z = pop.step(x, z, u_t)
                outs.append(z)
            out = torch.stack(outs)
            sq = (out - tgt) ** 2 * mask
            per_net = sq.sum((0, 2, 3)) / mask.sum((0, 2, 3)).clamp(min=1)  # [P]
            opt.zero_grad(set_to_none=True)
            per_net.sum().backward()
            _clip_per_network(params, cfg.grad_clip)
            opt.step()
            x = x.detach()
            losses.append(float(per_net.detach().mean()))
            if it >= cfg.n_iters * 0.9:
                with torch.no_grad():
                    late_sq += sq[..., score].sum((0, 2, 3)).double()
                    late_n += mask[..., score].sum((0, 2, 3)).double()
            if on_iter is not None:
                on_iter(1)
    finally:
        for t in params:
            t.requires_grad_(False)
    rmse = (late_sq / late_n.clamp(min=1)).sqrt().numpy()
    return BpttResult(x[:, :1].clone(), rmse, losses, time.perf_counter() - start)


def _clip_per_network(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale each network's gradients (dim 0 of every tensor) to norm <= max_norm.

    A global clip (torch.nn.utils.clip_grad_norm_) would couple the networks' updates.
    """
    sq = sum(p.grad.pow(2).flatten(1).sum(1) for p in params if p.grad is not None)
    scale = (max_norm / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))


def _stack(arrays: list[np.ndarray], pop: Population) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays, 1)).to(pop.dtype)
