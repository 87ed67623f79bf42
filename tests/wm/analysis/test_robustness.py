"""Forgetting, stimulus noise and silencing on one-unit systems solvable by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis.robustness import (
    ForgettingConfig,
    NoiseConfig,
    SilencingConfig,
    forgetting,
    silencing,
    stimulus_noise,
)
from gigalearn.wm.stimuli import GaussianClouds
from gigalearn.wm.tasks import SequentialSum
from tests.wm.analysis.conftest import make_population

# class 0 drives input channel 0 with 1.0 exactly, class 1 gives no input at all
TASK = SequentialSum(stimuli=GaussianClouds(centres=((1.0, 0.0), (0.0, 0.0)), std=0.0))
K, A, C = 0.02, 0.001, 100.0  # leak rate of the memory, input gain, readout gain


def _leaky_unit():
    """One unit with self-weight 1 − k: in the linear range of tanh its memory decays as
    e^{−k t}. The input is tiny and the readout large, so tanh is linear to ~3e-5."""
    return make_population([np.array([[1.0 - K]])], [np.array([C])], [np.array([[A, 0.0]])])


def _predicted_first_fail(delays: np.ndarray) -> float:
    """Linear recurrence of the Euler steps: x ← ρx + dt·A·u with ρ = 1 − dt·k."""
    dt, rho = TASK.dt, 1 - TASK.dt * K
    x, zs = 0.0, []
    for t in range(TASK.n_steps):
        x = rho * x + dt * A * (1.0 if t < TASK.period_steps("stimulus1").stop else 0.0)
        zs.append(C * x)
    resp = np.mean(np.asarray(zs)[TASK.period_steps("response")])
    diff = resp * (1 - rho ** np.round(delays / dt))
    return float(delays[np.argmax(diff > 0.1)])


def test_decaying_memory_is_forgotten_at_the_predicted_delay():
    pop = _leaky_unit()
    cfg = ForgettingConfig()
    res = forgetting(pop, TASK, torch.zeros(1, 1, 1, dtype=torch.float64), cfg)
    expected = _predicted_first_fail(cfg.delays())
    assert 5 < expected < 50
    assert res.first_fail[0] == expected
    assert res.kind[0] == "asymptotic"  # at 199.5 τ the memory is gone: response far off
    # class-0 first stimuli (half the trial types) are forgotten, class 1 carries no memory
    assert res.fail_rate[0, -1] == 0.5 and res.fail_rate[0, 0] == 0.0
    assert np.all(np.diff(res.fail_rate[0]) >= 0)


def test_bistable_memory_is_not_forgotten():
    """Self-weight 2: stimulus 1 pushes the unit into the positive well, where it stays."""
    pop = make_population([np.array([[2.0]])], [np.array([0.5])], [np.array([[0.5, 0.0]])])
    cfg = ForgettingConfig(d_step=2.0)
    res = forgetting(pop, TASK, torch.zeros(1, 1, 1, dtype=torch.float64), cfg)
    assert res.kind[0] == "none" and np.isnan(res.first_fail[0]) and res.fail_rate.max() == 0


def test_delays_off_the_time_grid_are_rejected():
    with pytest.raises(ConfigError, match="multiples of dt"):
        forgetting(_leaky_unit(), TASK, torch.zeros(1, 1, 1), ForgettingConfig(d_step=0.25 / 7))


def test_noise_failures_increase_with_sigma():
    pop = _leaky_unit()
    cfg = NoiseConfig(offset=0.0, repeats=4)
    res = stimulus_noise(pop, TASK, torch.zeros(1, 2, 1, dtype=torch.float64), cfg)
    rate = res.fail_rate[0]
    assert rate.shape == (21,) and rate[0] == 0.0 and rate[-1] == 1.0
    assert np.all(np.diff(rate) >= 0)


def test_silencing_removes_the_stimulus_of_the_silenced_units():
    pop = _leaky_unit()
    res = silencing(pop, TASK, torch.zeros(1, 1, 1, dtype=torch.float64), SilencingConfig())
    assert res.levels.tolist() == [1]  # 100 … 900 capped at N = 1
    assert res.fail_rate[0, 0] == 0.5  # the class-0 first stimuli are lost
