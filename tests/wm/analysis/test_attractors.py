"""The mechanism classifier on systems whose attractors are known by construction."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import brentq

from gigalearn.wm.analysis.attractors import AttractorConfig, classify, classify_runs
from tests.wm.analysis.conftest import hopfield, make_population

CODES = np.array([1.0, 0.5, 1.5])
CFG = AttractorConfig(n_starts=40, trial_lengths=20, window_trial_lengths=2)
STEPS = 35  # one trial = 3.5 τ here: short runs keep the tests fast


def _starts(states: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack([*states, np.zeros_like(states[0])]))[None]


def test_hopfield_with_four_patterns_is_a_fixed_point_network(rng):
    w, xi = hopfield(16, 4)
    a = brentq(lambda v: 3.0 * np.tanh(v) - v, 0.5, 10)
    pop = make_population([w], [rng.standard_normal(16) * 0.5])
    res = classify(pop, _starts([a * xi[0], -a * xi[0], a * xi[1], -a * xi[1]]), CODES, STEPS, CFG)
    assert res.mechanism[0] == "fixed_point"
    assert res.settled_frac[0] == 1.0 and res.n_distinct[0] >= 6
    assert not res.diverged[0]
    assert res.speed.shape == (1, len(CFG.speed_at)) and res.speed[0, -1] < 1e-6


def test_slow_decay_to_two_attractors_is_a_slow_manifold_network(rng):
    """A bistable direction u (gain 1.5) plus a slowly decaying direction v (gain 0.95): every
    memory along v is forgotten, leaving 2 attractors < 2 × 3 output levels."""
    n = 8
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    u, v = q[:, 0], q[:, 1]
    w = 1.5 * np.outer(u, u) + 0.95 * np.outer(v, v)
    pop = make_population([w], [u + v])
    states = [0.5 * v, -0.5 * v, 0.5 * u, -0.5 * u]
    cfg = CFG.model_copy(update={"trial_lengths": 150})  # 525 τ ≫ the slow 1/0.05 = 20 τ
    res = classify(pop, _starts(states), CODES, STEPS, cfg)
    assert res.mechanism[0] == "slow_manifold" and res.n_distinct[0] == 2
    assert res.speed[0, 0] > res.speed[0, -1]  # slows down along the way


def test_rotation_is_a_limit_cycle_network():
    """W = 2·R(π/4): the origin is an unstable spiral (Re λ = √2 − 1 > 0), saturation of tanh
    bounds the orbit, so every run ends on the same oscillation."""
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    w = 2.0 * np.array([[c, -s], [s, c]])
    pop = make_population([w], [np.array([1.0, 0.0])])
    res = classify(pop, _starts([np.array([1.0, 0.0]), np.array([0.0, -1.0])]), CODES, STEPS, CFG)
    assert res.mechanism[0] == "limit_cycle" and res.settled_frac[0] == 0.0


def test_networks_are_classified_independently_in_one_batch(rng):
    """A population mixing the three systems gets each its own label (batching must not mix)."""
    w_h, xi = hopfield(4, 2, c=3.0)
    w_slow = 0.5 * np.eye(4)  # decays to the origin: one attractor
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    w_rot = np.zeros((4, 4))
    w_rot[:2, :2] = 2.0 * np.array([[c, -s], [s, c]])
    ro = [rng.standard_normal(4) for _ in range(3)]
    pop = make_population([w_h, w_slow, w_rot], ro)
    states = torch.from_numpy(np.stack([np.stack([xi[0], -xi[0], xi[1], -xi[1], 0 * xi[0]])] * 3))
    res = classify(pop, states, np.array([1.0, 2.0]), STEPS, CFG)
    assert res.mechanism.tolist() == ["fixed_point", "slow_manifold", "limit_cycle"]


def test_rule_on_run_statistics():
    cfg = AttractorConfig()
    quiet = np.zeros(12)
    six = np.repeat(np.arange(6) * 0.1, 2)
    assert classify_runs(quiet, six, six, CODES, cfg)[:2] == ("fixed_point", 6)
    assert classify_runs(quiet, six * 0, six * 0, CODES, cfg)[0] == "slow_manifold"
    mixed = np.r_[np.zeros(6), np.ones(6)]
    assert classify_runs(mixed, six, six, CODES, cfg)[0] == "mixed"
    assert classify_runs(np.ones(12), six, six, CODES, cfg)[0] == "limit_cycle"
    assert classify_runs(quiet, six, six * 100, CODES, cfg)[2]  # far beyond the codes
