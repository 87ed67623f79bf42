"""Newton runs from midpoints of pairs of roots find saddles that starts near attractors miss."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import brentq

from gigalearn.wm.analysis import FixedPointOptions, find_fixed_points

F64 = torch.float64


def _all_roots(w: np.ndarray) -> np.ndarray:
    """Every root of −x + W tanh x in the plane, by Newton from a 41 × 41 grid of starts."""
    roots: list[np.ndarray] = []
    for a in np.linspace(-4, 4, 41):
        for b in np.linspace(-4, 4, 41):
            x = np.array([a, b])
            for _ in range(60):
                jac = w * (1 - np.tanh(x) ** 2) - np.eye(2)
                if abs(np.linalg.det(jac)) < 1e-12:
                    break
                x = x - np.linalg.solve(jac, w @ np.tanh(x) - x)
            ok = np.isfinite(x).all() and np.linalg.norm(w @ np.tanh(x) - x) < 1e-12
            if ok and all(np.linalg.norm(x - r) > 1e-6 for r in roots):
                roots.append(x)
    return np.array(roots)


def _stable(w: np.ndarray, x: np.ndarray) -> bool:
    return bool(np.linalg.eigvals(w * (1 - np.tanh(x) ** 2) - np.eye(2)).real.max() < 0)


def test_saddles_between_attractors_of_a_skewed_plane_system() -> None:
    """W = R diag(2, 3) Rᵀ + a skew part: four attractors, four saddles and the origin, none at
    a midpoint of two others. Starts near the attractors find only those; midpoints find all."""
    rot = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    w = rot @ np.diag([2.0, 3.0]) @ rot.T + np.array([[0.0, 0.3], [-0.3, 0.0]])
    roots = _all_roots(w)
    stable = np.array([_stable(w, r) for r in roots])
    assert len(roots) == 9 and stable.sum() == 4
    rng = np.random.default_rng(0)
    near = np.concatenate([roots[stable] + 0.3 * rng.standard_normal((4, 2)) for _ in range(3)])
    starts, w_t = torch.from_numpy(near).unsqueeze(0), torch.from_numpy(w).unsqueeze(0)

    alone = find_fixed_points(w_t, starts, options=FixedPointOptions(bridge_pairs=0))
    assert len(alone) == 4 and alone.stable.all()
    # steep wells, no slow manifold: τ‖F‖ at the midpoints of neighbouring attractors is 0.07
    # and 0.32 of their distance, so the default bridge_speed (0.1) tries only two of them
    # (and the two diagonal pairs, whose midpoint is the origin)
    fp = find_fixed_points(w_t, starts, options=FixedPointOptions(bridge_speed=0.5))
    assert len(fp) == 9 and fp.is_fixed.all()
    dist = np.linalg.norm(fp.points[:, None] - roots[None], axis=-1)
    assert sorted(dist.argmin(1).tolist()) == list(range(9)) and dist.min(1).max() < 1e-9
    np.testing.assert_array_equal(fp.stable, stable[dist.argmin(1)])
    slow_only = find_fixed_points(w_t, starts)
    assert len(slow_only) == 7 and (~slow_only.stable).sum() == 3
    capped = find_fixed_points(w_t, starts, options=FixedPointOptions(bridge_pairs=1))
    assert len(capped) <= 5  # one midpoint run: at most one new root


def test_hopfield_mixture_states_and_origin() -> None:
    """Two orthogonal ±1 patterns, W = c/N Σ ξξᵀ: besides the stable ±aξ_k (a = c·tanh a) the
    roots are the mixtures ±(a/2)(ξ₁ ± ξ₂) and the origin, all unstable; starts at the
    patterns reach only the patterns."""
    n, c = 16, 3.0
    xi = np.ones((2, n))
    xi[0, n // 2 :], xi[1, 1::2] = -1, -1
    a = brentq(lambda v: c * np.tanh(v) - v, 0.5, 10)
    w = torch.from_numpy(c / n * xi.T @ xi).unsqueeze(0)
    patterns = np.concatenate([xi, -xi]) * a
    starts = torch.from_numpy(patterns * 1.1).unsqueeze(0)
    fp = find_fixed_points(w, starts)
    mixtures = np.array([s * (xi[0] + t * xi[1]) * a / 2 for s in (1, -1) for t in (1, -1)])
    expected = np.concatenate([patterns, mixtures, np.zeros((1, n))])
    dist = np.linalg.norm(fp.points[:, None] - expected[None], axis=-1)
    assert len(fp) == 9 and sorted(dist.argmin(1).tolist()) == list(range(9))
    assert dist.min(1).max() < 1e-8
    assert fp.stable.tolist() == [i < 4 for i in dist.argmin(1)]
