"""Robustness of trained networks: forgetting over extended delays, stimulus noise, silencing.

Every test runs each trial type from each trial-end state with fixed stimulus draws, once as the
nominal trial and once perturbed; a perturbed trial fails when its mean response over the
scoring window differs from the nominal trial's by more than `fail_diff` (0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis.trials import (
    as_tensor,
    autonomous_step,
    crossed_conditions,
    response_mean,
    run_trials,
)
from gigalearn.wm.network import Population
from gigalearn.wm.tasks import Task


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForgettingConfig(_Config):
    """Delay extension of the first memory period (paper: d = 1, 1.5, …, 199.5 τ)."""

    hold_period: str = "memory"
    d_min: float = Field(1.0, ge=0)
    d_max: float = Field(199.5, gt=0)
    d_step: float = Field(0.5, gt=0)
    """Spacing of the delay grid in τ; a coarser grid (e.g. 2) is a cheaper demo."""
    fail_diff: float = Field(0.1, gt=0)
    asymptotic_diff: float = Field(0.3, gt=0)
    """A network's forgetting is asymptotic if a trial's response at the longest delay (where
    the state has settled) is more than this off the nominal response; otherwise fixed-time."""
    max_batch: int = Field(8192, ge=1)
    """Delayed trials simulated together per network (bounds memory)."""
    seed: int = 7

    def delays(self) -> np.ndarray:
        """The extra delays d in τ."""
        return np.arange(self.d_min, self.d_max + 1e-9, self.d_step)


class NoiseConfig(_Config):
    """Stimulus noise: σ·U(0,1) + offset added to stimulus 1 during its on-period."""

    sigmas: tuple[float, ...] = tuple(np.round(np.linspace(0.1, 40, 21), 4).tolist())
    offset: float = 0.5
    repeats: int = Field(10, ge=1)
    stimulus_period: str = "stimulus1"
    fail_diff: float = Field(0.1, gt=0)
    seed: int = 11


class SilencingConfig(_Config):
    """Input weights of n randomly chosen units set to 0 during stimulus 1 (n capped at N)."""

    n_units: tuple[int, ...] = (100, 200, 300, 400, 500, 600, 700, 800, 900)
    stimulus_period: str = "stimulus1"
    fail_diff: float = Field(0.1, gt=0)
    seed: int = 13

    def levels(self, n: int) -> np.ndarray:
        """Distinct silenced counts for networks of N units."""
        return np.unique(np.minimum(np.asarray(self.n_units), n))


@dataclass(frozen=True)
class Forgetting:
    """delays `[D]`; fail_rate `[P,D]` (fraction of trials failing); first failing delay `[P]`
    (NaN: never); kind `[P]` in {none, asymptotic, fixed_time}; diff `[P,D,B]`."""

    delays: np.ndarray
    fail_rate: np.ndarray
    first_fail: np.ndarray
    kind: np.ndarray
    diff: np.ndarray


def forgetting(
    pop: Population, task: Task, starts: torch.Tensor, cfg: ForgettingConfig | None = None
) -> Forgetting:
    """Extend `cfg.hold_period` by every delay d for every trial type from every start state
    `[P,S,N]`; compare each response with the nominal (d = 0) trial's."""
    cfg = cfg or ForgettingConfig()
    delays = cfg.delays()
    steps = np.round(delays / task.dt).astype(int)
    if np.any(np.abs(steps * task.dt - delays) > 1e-6):
        raise ConfigError(
            f"forgetting delays must be multiples of dt={task.dt}: d_step={cfg.d_step}"
        )
    conds, which = crossed_conditions(task, starts.shape[1])
    batch = task.batch(conds, np.random.default_rng(cfg.seed))
    inputs = as_tensor(batch.inputs, pop)
    split = _period_end(task, cfg.hold_period)
    score = task.period_steps(task.score_period)
    tail = slice(score.start - split, score.stop - split)
    x = starts.to(pop.dtype)[:, which]
    x, _ = run_trials(pop, x, inputs[:split])
    _, z = run_trials(pop, x, inputs[split:], record=tail)
    nominal = response_mean(task, z)  # [P,B]
    # march through the delay once, snapshotting the state at each delay on the grid
    snaps, t = [], 0
    with torch.no_grad():
        for target in steps:
            while t < target:
                x = autonomous_step(pop, x)
                t += 1
            snaps.append(x)
    b = len(conds)
    per = max(1, cfg.max_batch // b)
    resp = []
    for a in range(0, len(snaps), per):
        group = torch.cat(snaps[a : a + per], dim=1)  # [P, d·B, N]
        reps = group.shape[1] // b
        _, z = run_trials(pop, group, inputs[split:].repeat(1, reps, 1), record=tail)
        resp.append(response_mean(task, z).view(pop.size, reps, b))
    diff = (torch.cat(resp, dim=1) - nominal.unsqueeze(1)).abs().double().numpy()  # [P,D,B]
    fails = diff > cfg.fail_diff
    rate = fails.mean(-1)
    first = np.array([delays[np.argmax(f)] if f.any() else np.nan for f in fails.any(-1)])
    final_off = diff[:, -1].max(-1) > cfg.asymptotic_diff
    kind = np.where(np.isnan(first), "none", np.where(final_off, "asymptotic", "fixed_time"))
    return Forgetting(delays=delays, fail_rate=rate, first_fail=first, kind=kind, diff=diff)


@dataclass(frozen=True)
class Curve:
    """A failure rate `[P,L]` per perturbation level `[L]` (σ, or silenced units)."""

    levels: np.ndarray
    fail_rate: np.ndarray


def stimulus_noise(
    pop: Population, task: Task, starts: torch.Tensor, cfg: NoiseConfig | None = None
) -> Curve:
    """Failure rate per σ: every trial type from every start state, `repeats` stimulus draws,
    noise σ·U(0,1) + offset added to every step and channel of stimulus 1."""
    cfg = cfg or NoiseConfig()
    rng = np.random.default_rng(cfg.seed)
    conds, which = crossed_conditions(task, starts.shape[1], cfg.repeats)
    batch = task.batch(conds, rng)
    on = task.period_steps(cfg.stimulus_period)
    score = task.period_steps(task.score_period)
    sig = np.repeat(np.asarray(cfg.sigmas, np.float32), len(conds))  # [L·B]
    clean = np.tile(batch.inputs, (1, len(cfg.sigmas), 1))
    noisy = clean.copy()
    u01 = rng.random((on.stop - on.start, *noisy.shape[1:]), dtype=np.float32)
    noisy[on] += sig[None, :, None] * u01 + cfg.offset
    x0 = starts.to(pop.dtype)[:, which]
    _, z = run_trials(pop, x0, as_tensor(batch.inputs, pop), record=score)
    nominal = response_mean(task, z)  # [P,B]
    x0 = x0.repeat(1, len(cfg.sigmas), 1)
    _, z = run_trials(pop, x0, as_tensor(noisy, pop), record=score)
    resp = response_mean(task, z).view(pop.size, len(cfg.sigmas), len(conds))
    fails = (resp - nominal.unsqueeze(1)).abs() > cfg.fail_diff
    return Curve(np.asarray(cfg.sigmas), fails.double().mean(-1).numpy())


def silencing(
    pop: Population, task: Task, starts: torch.Tensor, cfg: SilencingConfig | None = None
) -> Curve:
    """Failure rate per number of units whose input weights are zeroed during stimulus 1."""
    cfg = cfg or SilencingConfig()
    levels = cfg.levels(pop.n)
    conds, which = crossed_conditions(task, starts.shape[1])
    batch = task.batch(conds, np.random.default_rng(cfg.seed))
    inputs = as_tensor(batch.inputs, pop)
    score, on = task.period_steps(task.score_period), task.period_steps(cfg.stimulus_period)
    x0 = starts.to(pop.dtype)[:, which]
    _, z = run_trials(pop, x0, inputs, record=score)
    nominal = response_mean(task, z)
    gen = torch.Generator().manual_seed(cfg.seed)
    rates = []
    for n_off in levels:
        w = pop.w_zu.clone()
        for p in range(pop.size):  # each network silences its own random units
            units = torch.randperm(pop.n, generator=gen)[:n_off]
            w[p, pop.n_out :, units] = 0
        _, z = run_trials(pop, x0, inputs, {t: w for t in range(on.start, on.stop)}, record=score)
        rates.append(((response_mean(task, z) - nominal).abs() > cfg.fail_diff).double().mean(-1))
    return Curve(levels, torch.stack(rates, dim=1).numpy())


def _period_end(task: Task, name: str) -> int:
    try:
        return task.period_steps(name).stop
    except KeyError:
        names = [p.name for p in task.periods]
        raise ConfigError(
            f"forgetting.hold_period={name!r}: the task's periods are {names}"
        ) from None
