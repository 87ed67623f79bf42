"""The paper's test protocol: response RMSE on 160 trials from 4 trial-end states, per network.

From the state where training stopped, one trial of each type gives 4 trial-end states; from each,
every trial type is run with `n_stim_seeds` stimulus draws (4 × 4 × 10 = 160 trials for the sum
task). The readouts are frozen; feedback stays on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task

THRESHOLDS: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1)


@dataclass(frozen=True)
class EvalResult:
    """Per network: RMSE over all test trials `[P]`, worst single trial `[P]`, success `[P,M]`."""

    rmse: np.ndarray
    worst_trial_rmse: np.ndarray
    success: np.ndarray
    thresholds: tuple[float, ...]
    n_trials: int


def evaluate(
    pop: Population,
    task: Task,
    x_end: torch.Tensor,
    n_stim_seeds: int = 10,
    thresholds: tuple[float, ...] = THRESHOLDS,
    seed: int = 12345,
) -> EvalResult:
    """Score the readout `task.score_readout` over `task.score_period`; success = RMSE ≤ ε."""
    rng = np.random.default_rng(seed)
    types = task.test_conditions()
    with torch.no_grad():
        warm = task.batch(types, rng)
        starts, _ = pop.simulate(x_end[:, :1].expand(-1, len(types), -1), _t(warm.inputs, pop))
        conds = np.concatenate([types] * n_stim_seeds * len(types))  # [S·E·C] trial types
        from_state = np.repeat(np.arange(len(types)), len(types))  # which end state
        from_state = np.tile(from_state, n_stim_seeds)
        test = task.batch(conds, rng)
        _, z = pop.simulate(starts[:, from_state], _t(test.inputs, pop))
    win, cols = task.period_steps(task.score_period), task.readout_cols(task.score_readout)
    err = z[win, :, :, cols] - _t(test.targets[win, :, cols], pop).unsqueeze(1)
    mask = _t(test.masks[win, :, cols], pop).unsqueeze(1)
    sq = (err**2 * mask).sum((0, 3)) / mask.sum((0, 3)).clamp(min=1)  # [P, B] per-trial MSE
    rmse = sq.mean(1).sqrt().double().numpy()
    worst = sq.max(1).values.sqrt().double().numpy()
    success = rmse[:, None] <= np.asarray(thresholds)[None]
    return EvalResult(rmse, worst, success, tuple(thresholds), len(conds))


def _t(a: np.ndarray, pop: Population) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(pop.dtype)
