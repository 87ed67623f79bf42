"""FORCE training of a population's readouts by recursive least squares, all networks at once.

Default is the paper's temporally restricted variant: each readout is updated only at steps inside
its own target window (where its mask is on), every `update_every` steps, starting from P₀ = I/α.
`rule="classic"` updates every readout at every update step, toward zero outside the windows
(the authors' "original FORCE" baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.kernels import rls_update
from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task
from gigalearn.wm.training.streams import stacked_blocks


@dataclass(frozen=True)
class ForceConfig:
    """RLS settings. The paper: 3,500 trials, restricted rule, α = 1, update every 2 steps."""

    n_trials: int = 3500
    rule: Literal["restricted", "classic"] = "restricted"
    alpha: float = 1.0
    """P₀ = I/α: smaller α means faster early learning but noisier weights."""
    update_every: int = 2
    block_trials: int = 20
    """Trials generated per network at a time (memory vs Python overhead)."""
    backend: Literal["auto", "torch", "compiled"] = "auto"
    """torch: batched tensor ops (any device); compiled: the numba CPU kernel, which keeps each
    network in cache (much faster on CPU); auto: compiled on CPU."""

    def __post_init__(self) -> None:
        if self.n_trials < 1 or self.update_every < 1 or self.block_trials < 1:
            raise ConfigError("n_trials, update_every and block_trials must be >= 1")
        if self.alpha <= 0:
            raise ConfigError(f"alpha must be > 0, got {self.alpha}")
        if self.rule not in ("restricted", "classic"):
            raise ConfigError(f"rule must be 'restricted' or 'classic', got {self.rule!r}")
        if self.backend not in ("auto", "torch", "compiled"):
            raise ConfigError(f"backend must be auto, torch or compiled, got {self.backend!r}")


@dataclass
class ForceResult:
    """What training leaves: final states `[P,1,N]` and each network's late training RMSE `[P]`."""

    x_end: torch.Tensor
    train_rmse: np.ndarray
    seconds: float


def train_force(
    pop: Population,
    task: Task,
    cfg: ForceConfig,
    on_trials: Callable[[int], None] | None = None,
) -> ForceResult:
    """Train `pop.w_out` in place on chained trials of `task`; each network uses its own seed."""
    if cfg.backend != "torch" and pop.g_jt.device.type == "cpu":
        return _train_compiled(pop, task, cfg, on_trials)
    start = time.perf_counter()
    p, n, dt = pop.size, pop.n, pop.dtype
    groups = [task.readout_cols(r.name) for r in task.readouts]
    p_inv = [torch.eye(n, dtype=dt).repeat(p, 1, 1) / cfg.alpha for _ in groups]
    w_grp = [pop.w_out[:, :, c].clone() for c in groups]
    score = task.readout_cols(task.score_readout)
    late_from = int(cfg.n_trials * 0.9)  # training error: last 10% of trials
    sq_err = torch.zeros(p, dtype=torch.float64)
    n_err = torch.zeros(p, dtype=torch.float64)
    x = pop.initial_state(1)
    z = pop.readout(torch.tanh(x))
    seeds = [s.seed for s in pop.specs]
    i, trials = 0, 0
    for inputs, targets, masks in stacked_blocks(task, seeds, cfg.n_trials, cfg.block_trials):
        u_all = torch.from_numpy(inputs).to(dt).unsqueeze(2)  # [t, P, 1, I]
        tgt_all = torch.from_numpy(targets).to(dt)  # [t, P, K]
        gates = [torch.from_numpy(masks[:, :, c].all(-1)) for c in groups]  # [t, P] each
        k_trials = len(inputs) // task.n_steps
        late = trials + k_trials > late_from
        for t, u in enumerate(u_all.unbind(0)):
            x, r, z = pop.step(x, z, u)
            if late and trials + t // task.n_steps >= late_from:
                m = torch.from_numpy(masks[t, :, score]).to(dt)
                sq_err += (((z[:, 0, score] - tgt_all[t, :, score]) ** 2) * m).sum(-1).double()
                n_err += m.sum(-1).double()
            if i % cfg.update_every == 0 and i >= cfg.update_every:
                for gi, cols in enumerate(groups):
                    gate = gates[gi][t] if cfg.rule == "restricted" else None
                    if gate is not None and not bool(gate.any()):
                        continue
                    err = z[:, 0, cols] - tgt_all[t, :, cols]
                    rls_update(p_inv[gi], w_grp[gi], r[:, 0], err, gate)
                    pop.w_out[:, :, cols] = w_grp[gi]
            i += 1
        trials += k_trials
        if on_trials is not None:
            on_trials(k_trials)
    rmse = np.sqrt(sq_err.numpy() / n_err.clamp(min=1).numpy())
    return ForceResult(x_end=x, train_rmse=rmse, seconds=time.perf_counter() - start)


def _train_compiled(
    pop: Population, task: Task, cfg: ForceConfig, on_trials: Callable[[int], None] | None
) -> ForceResult:
    """The same training through `kernels_cpu.force_block` (numba), one trial block at a time."""
    from gigalearn.wm.kernels_cpu import force_block, set_threads

    start = time.perf_counter()
    threads = torch.get_num_threads()
    set_threads(threads)
    npdt = np.float32 if pop.dtype == torch.float32 else np.float64
    p, n = pop.size, pop.n
    groups = [task.readout_cols(r.name) for r in task.readouts]
    col_lo = np.array([c.start for c in groups], np.int64)
    col_hi = np.array([c.stop for c in groups], np.int64)
    p_mats = np.zeros((len(groups), p, n, n), npdt)
    idx = np.arange(n)
    p_mats[:, :, idx, idx] = 1.0 / cfg.alpha
    g_jt, w_zu = pop.g_jt.numpy(), pop.w_zu.numpy()  # views: no copies of the [P,N,N] stack
    w_out = pop.w_out.numpy()
    leak = pop.leak.reshape(-1).numpy().copy()
    x = pop.x0.numpy().copy()
    z = np.einsum("pn,pnk->pk", np.tanh(x), w_out).astype(npdt)
    score = task.readout_cols(task.score_readout)
    late_step = int(cfg.n_trials * 0.9) * task.n_steps
    sq_err, n_err = np.zeros(p), np.zeros(p)
    seeds = [s.seed for s in pop.specs]
    i = 0
    for inputs, targets, masks in stacked_blocks(task, seeds, cfg.n_trials, cfg.block_trials):
        t_len = len(inputs)
        if cfg.rule == "restricted":
            gates = np.stack([masks[:, :, c].all(-1) for c in groups], -1)
        else:
            gates = np.ones((t_len, p, len(groups)), bool)
        late = (np.arange(i, i + t_len) >= late_step)[:, None]
        score_w = (masks[:, :, score].any(-1) & late).astype(npdt)
        force_block(
            g_jt, w_zu, w_out, p_mats, leak, x, z,
            np.ascontiguousarray(inputs, npdt), np.ascontiguousarray(targets, npdt),
            np.ascontiguousarray(gates), score_w, col_lo, col_hi,
            score.start, score.stop, i, cfg.update_every, sq_err, n_err, npdt == np.float32,
        )  # fmt: skip
        i += t_len
        if on_trials is not None:
            on_trials(t_len // task.n_steps)
    # numba's OpenMP layer resets the process-wide OpenMP thread count that torch reads too
    torch.set_num_threads(threads)
    rmse = np.sqrt(sq_err / np.maximum(n_err, 1))
    x_end = torch.from_numpy(x).unsqueeze(1)
    return ForceResult(x_end=x_end, train_rmse=rmse, seconds=time.perf_counter() - start)
