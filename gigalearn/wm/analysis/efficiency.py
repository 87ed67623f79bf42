"""Efficiency of the attractor landscape: stable fixed points per output class.

Fixed points are searched (fixed_points.py) from the end states of the classifier's long runs
(where the dynamics actually go) and from the trial-end states. Each stable fixed point is
assigned to the output class whose code is nearest its response readout, if within `class_tol`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from gigalearn.wm.analysis.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    effective_weights,
    find_fixed_points,
)
from gigalearn.wm.network import Population


class EfficiencyConfig(BaseModel):
    """Fixed-point search budget and the class-assignment tolerance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_starts: int = Field(48, ge=1)
    """Starts per network drawn from the classifier's run end states (plus trial-end states)."""
    max_iters: int = Field(1000, ge=1)
    class_tol: float = Field(0.1, gt=0)
    seed: int = 19


@dataclass(frozen=True)
class Efficiency:
    """Per network `[P]`: stable fixed points, slow points, stable points matched to a class,
    distinct classes covered; `points` the search result (Jacobians dropped)."""

    n_stable: np.ndarray
    n_slow: np.ndarray
    n_matched: np.ndarray
    n_classes_covered: np.ndarray
    per_class: np.ndarray
    points: FixedPoints


def stable_points_per_class(
    pop: Population,
    end_states: np.ndarray,
    extra_starts: torch.Tensor,
    codes: np.ndarray,
    cfg: EfficiencyConfig | None = None,
    readout_col: int = 0,
) -> Efficiency:
    """Find fixed points from run end states `[P,R,N]` and `extra_starts` `[P,S,N]`; count the
    stable ones per output class (`codes` = the distinct response codes)."""
    cfg = cfg or EfficiencyConfig()
    rng = np.random.default_rng(cfg.seed)
    pick = rng.choice(end_states.shape[1], min(cfg.n_starts, end_states.shape[1]), replace=False)
    starts = torch.cat(
        [torch.from_numpy(end_states[:, np.sort(pick)]).double(), extra_starts.double()], dim=1
    )
    opt = FixedPointOptions(max_iters=cfg.max_iters, keep_jacobians=False)
    taus = torch.tensor([s.tau for s in pop.specs], dtype=torch.float64)
    fps = find_fixed_points(effective_weights(pop).double(), starts, tau=taus, options=opt)
    w = pop.w_out[..., readout_col].double().numpy()  # [P,N]
    out = np.einsum("kn,kn->k", np.tanh(fps.points), w[fps.network]) if len(fps) else np.zeros(0)
    levels = np.unique(np.asarray(codes))
    nearest = np.abs(out[:, None] - levels[None]).argmin(-1) if len(fps) else np.zeros(0, int)
    near_ok = np.abs(out - levels[nearest]) <= cfg.class_tol if len(fps) else np.zeros(0, bool)
    stable = fps.is_fixed & (fps.stable if fps.stable is not None else True)
    n_stable = np.bincount(fps.network[stable], minlength=pop.size)
    n_slow = np.bincount(fps.network[fps.is_slow], minlength=pop.size)
    matched = stable & near_ok
    n_matched = np.bincount(fps.network[matched], minlength=pop.size)
    covered = np.array(
        [len(np.unique(nearest[matched & (fps.network == p)])) for p in range(pop.size)]
    )
    return Efficiency(
        n_stable=n_stable,
        n_slow=n_slow,
        n_matched=n_matched,
        n_classes_covered=covered,
        per_class=n_stable / len(levels),
        points=fps,
    )
