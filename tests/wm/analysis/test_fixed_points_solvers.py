"""The compiled L-BFGS, Levenberg–Marquardt and chord polishing behind `find_fixed_points`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis import FixedPointOptions, find_fixed_points, trajectory_starts
from gigalearn.wm.analysis.compiled import (
    CONVERGED,
    OUT_OF_ITERS,
    lbfgs_network,
    levenberg_marquardt,
)
from gigalearn.wm.analysis.polish import chord_checkpoint, polish_network


def _q(w: np.ndarray, x: np.ndarray, tau: float = 1.0) -> np.ndarray:
    f = (np.tanh(x) @ w.T - x) / tau
    return 0.5 * (f * f).sum(-1)


def _hopfield(n: int = 16, c: float = 3.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Two orthogonal ±1 patterns ξ: x = ±aξ with a = c·tanh(a) are fixed points."""
    xi = np.ones((2, n))
    xi[0, n // 2 :] = -1
    xi[1, 1::2] = -1
    return c / n * xi.T @ xi, xi, brentq(lambda v: c * np.tanh(v) - v, 0.5, 10)


def _contracting(n: int = 8, seed: int = 0) -> np.ndarray:
    """‖W‖ = 0.5: F is a contraction, the origin its only root."""
    w = np.random.default_rng(seed).standard_normal((n, n))
    return w * 0.5 / np.linalg.norm(w, 2)


def test_lbfgs_network_converges_on_a_contraction() -> None:
    w = _contracting()
    x = np.random.default_rng(1).standard_normal((5, 8)) * 2
    status = lbfgs_network(w, x, 2.0, 500, 10, 1e-20, 100, 1e-4, 1e-3, 1e9, 0, 10**6)
    assert (status == CONVERGED).all()
    assert (_q(w, x, 2.0) < 1e-20).all()
    assert np.abs(x).max() < 1e-9


def test_lbfgs_network_batched_equals_one_at_a_time() -> None:
    """The starts of a network share products, not iterates: each follows its own path."""
    w, _, _ = _hopfield()
    x = np.random.default_rng(2).standard_normal((6, 16)) * 1.5
    together = x.copy()
    st = lbfgs_network(w, together, 1.0, 60, 10, 1e-8, 100, 1e-4, 1e-3, 1e9, 0, 10**6)
    for k in range(6):
        alone = x[k : k + 1].copy()
        st_k = lbfgs_network(w, alone, 1.0, 60, 10, 1e-8, 100, 1e-4, 1e-3, 1e9, 0, 10**6)
        np.testing.assert_allclose(alone[0], together[k], atol=1e-12)
        assert st_k[0] == st[k]


def test_lbfgs_network_reports_unfinished_starts() -> None:
    w, _, _ = _hopfield()
    x = np.random.default_rng(3).standard_normal((3, 16))
    assert (
        lbfgs_network(w, x, 1.0, 1, 10, 1e-30, 100, 1e-4, 1e-3, 1e9, 0, 10**6) == OUT_OF_ITERS
    ).all()


@pytest.mark.parametrize("newton_first", [False, True])
def test_levenberg_marquardt_finds_known_roots(newton_first: bool) -> None:
    """Near a Hopfield pattern LM reaches that pattern; on a contraction, the origin."""
    w, xi, a = _hopfield()
    x = a * xi[1] + 0.2 * np.random.default_rng(4).standard_normal(16)
    solves = levenberg_marquardt(w, x, 1.0, 50, 1e-24, newton_first)
    assert 0 < solves < 50 and _q(w, x) < 1e-24
    np.testing.assert_allclose(x, a * xi[1], atol=1e-10)
    wc = _contracting()
    x = np.full(8, 3.0)
    levenberg_marquardt(wc, x, 1.0, 50, 1e-24, newton_first)
    np.testing.assert_allclose(x, 0.0, atol=1e-10)


def test_levenberg_marquardt_stops_at_a_local_minimum_of_q() -> None:
    """N=1, w=0.5 shifted: F(x) = −x + 0.5 tanh x + 1 has one root; a bounded solve count and
    no blow-up even when started far away."""
    w = np.array([[2.0]])
    x = np.array([0.4])  # between the unstable root 0 and the stable root x*
    levenberg_marquardt(w, x, 1.0, 100, 1e-28, False)
    x_star = brentq(lambda v: 2 * np.tanh(v) - v, 0.5, 5)
    assert min(abs(x[0]), abs(x[0] - x_star)) < 1e-12


def test_polish_network_shares_one_root_among_duplicates() -> None:
    w, xi, a = _hopfield()
    rng = np.random.default_rng(5)
    near = a * xi[0] + 1e-3 * rng.standard_normal((6, 16))
    far = -a * xi[1] + 1e-3 * rng.standard_normal((1, 16))
    pts = polish_network(
        torch.from_numpy(w), 1.0, torch.from_numpy(np.vstack([near, far])), FixedPointOptions()
    )
    pts = pts.numpy()
    np.testing.assert_allclose(pts[:6], np.broadcast_to(a * xi[0], (6, 16)), atol=1e-10)
    np.testing.assert_allclose(pts[6], -a * xi[1], atol=1e-10)


def test_chord_checkpoint_finishes_running_starts_near_a_found_root() -> None:
    """Every pattern root of this network has the same Jacobian (sech² is even), so the chord
    from aξ₀ also lands on −aξ₀."""
    w, xi, a = _hopfield()
    rng = np.random.default_rng(6)
    x = np.vstack(
        [
            a * xi[0] + 1e-6 * rng.standard_normal(16),  # converged
            a * xi[0] + 0.05 * rng.standard_normal(16),  # running, near it
            -a * xi[0] + 0.05 * rng.standard_normal(16),  # running, near the mirror root
            0.5 * a * (xi[0] + xi[1]),  # running, between patterns
        ]
    )
    status = np.array([CONVERGED, OUT_OF_ITERS, OUT_OF_ITERS, OUT_OF_ITERS])
    far = x[3].copy()
    chord_checkpoint(w, 1.0, x, status, FixedPointOptions())
    assert status[:3].tolist() == [CONVERGED] * 3
    np.testing.assert_allclose(x[:2], np.broadcast_to(a * xi[0], (2, 16)), atol=1e-10)
    np.testing.assert_allclose(x[2], -a * xi[0], atol=1e-10)
    # a start is only ever moved onto a root: otherwise it is left exactly where it was
    assert _q(w, x[3]) < 1e-20 if status[3] == CONVERGED else (x[3] == far).all()


@pytest.mark.parametrize("chord_at", [0, 5, 200])
def test_checkpoints_do_not_change_the_points_found(chord_at: int) -> None:
    rng = np.random.default_rng(7)
    n, p, s = 12, 3, 16
    w = torch.from_numpy(1.8 * rng.standard_normal((p, n, n)) / np.sqrt(n))
    starts = trajectory_starts(w, torch.from_numpy(rng.standard_normal((p, n))), s, 200, seed=3)
    ref = find_fixed_points(w, starts, options=FixedPointOptions(chord_at=0))
    got = find_fixed_points(w, starts, options=FixedPointOptions(chord_at=chord_at))
    assert ref.is_fixed.sum() > 0
    for i in range(p):
        a, b = ref.for_network(i), got.for_network(i)
        a, b = a[a.is_fixed], b[b.is_fixed]
        d = np.sqrt(((a.points[:, None] - b.points[None]) ** 2).mean(-1))
        assert (d.min(1) < 1e-8).all()  # every reference point found


def test_compiled_and_torch_lbfgs_agree() -> None:
    w, xi, a = _hopfield()
    rng = np.random.default_rng(8)
    base = np.concatenate([xi, -xi]) * a
    starts = torch.from_numpy(
        np.concatenate([base + 0.3 * rng.standard_normal((4, 16)) for _ in range(3)])
    ).unsqueeze(0)
    wt = torch.from_numpy(w).unsqueeze(0)
    # the searches alone (midpoint runs would add the same 5 saddles to both: test_bridges)
    ours = find_fixed_points(wt, starts, options=FixedPointOptions(bridge_pairs=0))
    ref = find_fixed_points(
        wt, starts, options=FixedPointOptions(method="lbfgs_torch", bridge_pairs=0)
    )
    assert len(ours) == len(ref) == 4
    np.testing.assert_allclose(np.sort(ours.points, 0), np.sort(ref.points, 0), atol=1e-10)


def test_new_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        FixedPointOptions(stall_window=0)
    with pytest.raises(ConfigError):
        FixedPointOptions(lm_iters=-1)
    assert FixedPointOptions(method="lbfgs_torch").iters == 3000
