"""The paper's mechanism classifier: long autonomous runs from perturbed trial-end states.

From each start state (the trial-end states plus the origin), `n_starts` copies perturbed by
Gaussian noise (σ = 0.5) run with inputs off for 50 trial lengths; the response readout is
summarised over the last 2 trial lengths. If every run settles (output variance < 1e-9) the
distinct final outputs (rounded to 4 decimals) are counted: at least 2 × the number of output
levels means the memories sit at fixed points ("fixed_point"), fewer means the network
forgets into a few attractors along slow manifolds ("slow_manifold"). If no run settles the
network oscillates ("limit_cycle"); if some settle and some do not, "mixed". A run whose output
ends far beyond the output codes is flagged as diverged. All P networks × all runs advance in
one batched simulation through the trained dynamics' own Euler step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from gigalearn.wm.analysis.trials import autonomous_step
from gigalearn.wm.network import Population

MECHANISMS = ("fixed_point", "slow_manifold", "limit_cycle", "mixed")


class AttractorConfig(BaseModel):
    """Classifier settings; defaults are the paper's protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_starts: int = Field(100, ge=1)
    """Perturbed copies of each start state (paper: 100). Fewer is cheaper and cruder."""
    sigma: float = Field(0.5, ge=0)
    """σ of the Gaussian perturbation of each start state."""
    trial_lengths: float = Field(50, gt=0)
    """Length of each autonomous run, in trial lengths (paper: 50 × 35 τ = 1,750 τ)."""
    window_trial_lengths: float = Field(2, gt=0)
    """Statistics of the output are taken over this final stretch."""
    settle_var: float = Field(1e-9, gt=0)
    """A run has settled if its output variance over the window is below this."""
    decimals: int = Field(4, ge=0)
    """Final outputs are rounded to this many decimals before counting distinct values."""
    fixed_point_factor: float = Field(2.0, gt=0)
    """Distinct settled outputs ≥ factor × output levels → fixed-point mechanism."""
    diverge_factor: float = Field(10.0, gt=1)
    """|output| > factor × max |output code| marks a diverged run."""
    speed_at: tuple[float, ...] = (0, 1, 5, 10, 20, 30, 40, 50)
    """Times (trial lengths) at which the speed ‖dx/dt‖ is recorded."""
    max_batch: int = Field(4096, ge=1)
    """Runs simulated together per network (bounds memory; more runs go in several passes)."""
    seed: int = 0


@dataclass(frozen=True)
class AttractorResult:
    """Per network `[P]`: mechanism label, distinct settled outputs, settled fraction, diverged
    flag, median speed `[P,len(speed_at)]`; per run its end state `[P,R,N]`, mean output `[P,R]`."""

    mechanism: np.ndarray
    n_distinct: np.ndarray
    settled_frac: np.ndarray
    diverged: np.ndarray
    speed: np.ndarray
    end_states: np.ndarray
    mean_output: np.ndarray


def perturbed_starts(states: torch.Tensor, n_starts: int, sigma: float, seed: int) -> torch.Tensor:
    """`[P,S·n_starts,N]`: each of the S start states `[P,S,N]` plus N(0, σ²) noise, n times."""
    gen = torch.Generator().manual_seed(seed)
    rep = states.repeat_interleave(n_starts, dim=1)
    noise = torch.randn(rep.shape, generator=gen, dtype=torch.float64).to(rep.dtype)
    return rep + sigma * noise


def classify_runs(
    variance: np.ndarray,
    final: np.ndarray,
    mean: np.ndarray,
    codes: np.ndarray,
    cfg: AttractorConfig,
) -> tuple[str, int, bool]:
    """Mechanism of one network from its runs' output variance, final and mean outputs `[R]`;
    returns (label, distinct settled outputs, any run diverged)."""
    diverged = bool((np.abs(mean) > cfg.diverge_factor * np.abs(codes).max()).any())
    settled = variance < cfg.settle_var
    distinct = len(np.unique(np.round(final[settled], cfg.decimals)))
    if settled.all():
        levels = len(np.unique(codes))
        label = "fixed_point" if distinct >= cfg.fixed_point_factor * levels else "slow_manifold"
    else:
        # the paper: "every run ends at a distinct mean output" → limit cycle. Judged by
        # settling instead, which does not depend on the window being a multiple of the period
        label = "limit_cycle" if not settled.any() else "mixed"
    return label, distinct, diverged


def classify(
    pop: Population,
    start_states: torch.Tensor,
    codes: np.ndarray,
    trial_steps: int,
    cfg: AttractorConfig | None = None,
    readout_col: int = 0,
    on_progress: Callable[[float], None] | None = None,
) -> AttractorResult:
    """Classify every network of `pop` from start states `[P,S,N]` (trial-end states, origin);
    `codes` are the response codes, `trial_steps` the Euler steps of one trial."""
    cfg = cfg or AttractorConfig()
    starts = perturbed_starts(start_states.to(pop.dtype), cfg.n_starts, cfg.sigma, cfg.seed)
    parts = [
        _simulate(pop, starts[:, a : a + cfg.max_batch], trial_steps, cfg, readout_col, on_progress)
        for a in range(0, starts.shape[1], cfg.max_batch)
    ]
    var, final, mean, speed, ends = (np.concatenate(v, axis=1) for v in zip(*parts, strict=True))
    labels, distinct, diverged = zip(
        *(
            classify_runs(var[p], final[p], mean[p], np.asarray(codes), cfg)
            for p in range(pop.size)
        ),
        strict=True,
    )
    return AttractorResult(
        mechanism=np.array(labels),
        n_distinct=np.array(distinct),
        settled_frac=(var < cfg.settle_var).mean(1),
        diverged=np.array(diverged),
        speed=np.median(speed, axis=1),
        end_states=ends,
        mean_output=mean,
    )


def _simulate(
    pop: Population,
    x: torch.Tensor,
    trial_steps: int,
    cfg: AttractorConfig,
    col: int,
    on_progress: Callable[[float], None] | None,
) -> tuple[np.ndarray, ...]:
    """One pass over runs x `[P,R,N]`: output variance, final and mean output `[P,R]`, speed
    `[P,R,len(speed_at)]` and end states `[P,R,N]`."""
    n_steps = round(cfg.trial_lengths * trial_steps)
    window = min(n_steps, round(cfg.window_trial_lengths * trial_steps))
    speed_steps = {min(round(t * trial_steps), n_steps - 1): i for i, t in enumerate(cfg.speed_at)}
    dt = torch.tensor([s.dt for s in pop.specs], dtype=torch.float64).view(-1, 1)
    speed = torch.zeros(*x.shape[:2], len(cfg.speed_at), dtype=torch.float64)
    s1 = s2 = ref = None
    report_every = max(1, n_steps // 50)
    with torch.no_grad():
        for t in range(n_steps):
            x_new = autonomous_step(pop, x)
            if t in speed_steps:
                v = (x_new - x).double().norm(dim=-1) / dt
                speed[..., speed_steps[t]] = v
            x = x_new
            if t >= n_steps - window:
                z = pop.readout(torch.tanh(x))[..., col].double()
                if ref is None:  # shift by the first value: variance without cancellation
                    ref, s1, s2 = z.clone(), torch.zeros_like(z), torch.zeros_like(z)
                s1 += z - ref
                s2 += (z - ref) ** 2
            if on_progress and t % report_every == 0:
                on_progress(t / n_steps)
    m1 = s1 / window
    var = (s2 / window - m1**2).clamp(min=0)
    final = pop.readout(torch.tanh(x))[..., col].double()
    return (
        var.numpy(),
        final.numpy(),
        (ref + m1).numpy(),
        speed.numpy(),
        x.to(torch.float32).numpy(),
    )
