"""Frozen-network trial simulation shared by the analyses: trial-end states, nominal trials, and an
Euler step with optionally modified input weights (silencing).

Every step goes through `kernels.euler_step` with the population's own weights, so the analysed
dynamics are exactly the ones the network was trained and tested with (feedback on, no noise).
"""

from __future__ import annotations

import numpy as np
import torch

from gigalearn.wm.kernels import euler_step
from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task


def as_tensor(a: np.ndarray, pop: Population) -> torch.Tensor:
    """A numpy array as a contiguous tensor of the population's dtype."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(pop.dtype)


def step(
    pop: Population, x: torch.Tensor, u: torch.Tensor, w_zu: torch.Tensor | None = None
) -> torch.Tensor:
    """One deterministic Euler step of x `[P,B,N]` under input u `[P,B,I]` or `[B,I]`.

    `w_zu` replaces the population's stacked feedback/input weights (e.g. silenced inputs).
    """
    if u.dim() == 2:
        u = u.unsqueeze(0).expand(pop.size, -1, -1)
    r = torch.tanh(x)
    zu = torch.cat([pop.readout(r), u.to(pop.dtype)], dim=-1)
    return euler_step(x, r, zu, pop.g_jt, pop.w_zu if w_zu is None else w_zu, pop.leak)


def autonomous_step(pop: Population, x: torch.Tensor) -> torch.Tensor:
    """One Euler step with every input off (the memory-period dynamics)."""
    return step(pop, x, torch.zeros(*x.shape[:2], pop.n_in, dtype=pop.dtype))


def trial_end_states(
    pop: Population, task: Task, x_end: torch.Tensor, seed: int = 12345
) -> torch.Tensor:
    """`[P,C,N]`: from each network's state where training stopped (`x_end` `[P,N]`), one trial
    of each of the C test types, as in the success test (training/evaluate.py)."""
    types = task.test_conditions()
    warm = task.batch(types, np.random.default_rng(seed))
    x = x_end.to(pop.dtype).unsqueeze(1).expand(-1, len(types), -1).contiguous()
    with torch.no_grad():
        for u in as_tensor(warm.inputs, pop).unbind(0):
            x = step(pop, x, u)
    return x


def crossed_conditions(
    task: Task, n_states: int, repeats: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Every test type from every start state, `repeats` times: (conditions `[B,...]`, which
    start state `[B]`), B = repeats · n_states · C."""
    types = task.test_conditions()
    conds = np.concatenate([types] * n_states * repeats)
    state = np.tile(np.repeat(np.arange(n_states), len(types)), repeats)
    return conds, state


def response_mean(task: Task, z_window: torch.Tensor) -> torch.Tensor:
    """Mean of the scored readout's first column over its scoring window, from z `[T,P,B,K]`."""
    col = task.readout_cols(task.score_readout).start
    return z_window[..., col].mean(0)


def run_trials(
    pop: Population,
    x: torch.Tensor,
    inputs: torch.Tensor,
    w_zu_at: dict[int, torch.Tensor] | None = None,
    record: slice | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Simulate inputs `[T,B,I]` or `[T,P,B,I]` from x `[P,B,N]`; return x_end and the outputs
    `[t,P,B,K]` in the `record` steps (None: nothing recorded). `w_zu_at[t]` overrides weights."""
    outs = []
    with torch.no_grad():
        for t, u in enumerate(inputs.unbind(0)):
            w = w_zu_at.get(t) if w_zu_at else None
            x = step(pop, x, u, w)
            if record is not None and record.start <= t < record.stop:
                outs.append(pop.readout(torch.tanh(x)))
    return x, (torch.stack(outs) if outs else None)
