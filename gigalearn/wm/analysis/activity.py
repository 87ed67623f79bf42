"""Unit activity in the memory window: persistent (tonic) vs phasic units, and saturation.

Definition (per unit, rates r = tanh(x) over the nominal trials of every type from every
trial-end state): `early` is the mean |r| over the first `edge` fraction of the memory window,
`late` over its last `edge` fraction. A unit is *active* if early ≥ `active_floor`; an active unit
is *persistent* if late ≥ `persist_ratio` · early (it holds its level through the delay) and
*phasic* otherwise (a transient that decays during the delay). A unit is *saturated* if its mean
|r| over the window exceeds `saturation` (0.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from gigalearn.wm.analysis.trials import as_tensor, crossed_conditions, step
from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task


class ActivityConfig(BaseModel):
    """Thresholds of the persistent / phasic / saturated unit labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_period: str = "memory"
    edge: float = Field(0.2, gt=0, le=0.5)
    active_floor: float = Field(0.05, ge=0)
    persist_ratio: float = Field(0.5, gt=0, le=1)
    saturation: float = Field(0.8, gt=0, lt=1)
    seed: int = 17


@dataclass(frozen=True)
class Activity:
    """Per network `[P]`: fractions of all units that are persistent, phasic, saturated; and the
    mean |r| of every unit over the window `[P,T,N]` (for figures)."""

    persistent: np.ndarray
    phasic: np.ndarray
    saturated: np.ndarray
    window_rates: np.ndarray


def memory_activity(
    pop: Population, task: Task, starts: torch.Tensor, cfg: ActivityConfig | None = None
) -> Activity:
    """Label each unit from nominal trials of every type from every start state `[P,S,N]`."""
    cfg = cfg or ActivityConfig()
    conds, which = crossed_conditions(task, starts.shape[1])
    batch = task.batch(conds, np.random.default_rng(cfg.seed))
    win = task.period_steps(cfg.window_period)
    x = starts.to(pop.dtype)[:, which]
    rates = []
    with torch.no_grad():
        for t, u in enumerate(as_tensor(batch.inputs[: win.stop], pop).unbind(0)):
            x = step(pop, x, u)
            if t >= win.start:
                rates.append(torch.tanh(x).abs().mean(1))  # mean |r| over trials, [P,N]
    r = torch.stack(rates, dim=1).double().numpy()  # [P,T,N]
    k = max(1, round(cfg.edge * r.shape[1]))
    early, late = r[:, :k].mean(1), r[:, -k:].mean(1)
    active = early >= cfg.active_floor
    persistent = active & (late >= cfg.persist_ratio * early)
    phasic = active & ~persistent
    return Activity(
        persistent=persistent.mean(1),
        phasic=phasic.mean(1),
        saturated=(r.mean(1) > cfg.saturation).mean(1),
        window_rates=r.astype(np.float32),
    )
