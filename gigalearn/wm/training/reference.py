"""A plain one-network numpy float64 FORCE, written the way the paper's authors did (the baseline).

Used by the benchmark as the speed baseline and by tests as the ground truth for the batched
trainer: same weights (from the seed), same trial stream, same update schedule.
"""

from __future__ import annotations

import numpy as np

from gigalearn.wm.network import NetworkSpec, init_weights
from gigalearn.wm.tasks import Task
from gigalearn.wm.training.streams import trial_blocks


def reference_force(
    spec: NetworkSpec,
    task: Task,
    n_trials: int,
    alpha: float = 1.0,
    update_every: int = 2,
    restricted: bool = True,
    block: int = 10,
) -> np.ndarray:
    """Train one network's readouts by RLS with matrix-vector numpy ops; return W_out `[N, K]`."""
    w = init_weights(spec, task.n_in, task.n_out)
    n, leak = spec.n, spec.dt / spec.tau
    gj = spec.g * w.j
    groups = [task.readout_cols(r.name) for r in task.readouts]
    p_inv = [np.eye(n) / alpha for _ in groups]
    w_out = np.zeros((n, task.n_out))
    x = w.x0.copy()
    r = np.tanh(x)
    z = w_out.T @ r
    i = 0
    for blk in trial_blocks(task, spec.seed, n_trials, block):
        for t in range(len(blk.inputs)):
            dx = -x + gj @ r + w.w_fb @ z + w.w_in @ blk.inputs[t]
            x = x + leak * dx
            r = np.tanh(x)
            z = w_out.T @ r
            if i % update_every == 0 and i >= update_every:
                for cols, p in zip(groups, p_inv, strict=True):
                    if restricted and not blk.masks[t, cols].all():
                        continue
                    pr = p @ r
                    denom = 1.0 + r @ pr
                    p -= np.outer(pr, r @ p) / denom
                    err = z[cols] - blk.targets[t, cols]
                    w_out[:, cols] -= np.outer(pr, err) / denom
            i += 1
    return w_out
