"""Fixed-point search on systems whose fixed points are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis import (
    FixedPointOptions,
    FixedPoints,
    effective_weights,
    find_fixed_points,
    trajectory_starts,
)
from gigalearn.wm.network import NetworkSpec, Population

F64 = torch.float64


def _hopfield(n: int = 16, c: float = 3.0) -> tuple[torch.Tensor, np.ndarray, float]:
    """W = c/N Σ ξξᵀ over two orthogonal ±1 patterns. tanh(aξ) = tanh(a)ξ, so x = ±aξ_k with
    a = c·tanh(a) is a fixed point; its Jacobian −I + (1−tanh²a)W has eigenvalues −1 and
    −1 + c(1−tanh²a) < 0: stable."""
    xi = np.ones((2, n))
    xi[0, n // 2 :] = -1
    xi[1, 1::2] = -1
    w = c / n * xi.T @ xi
    a = brentq(lambda v: c * np.tanh(v) - v, 0.5, 10)
    return torch.from_numpy(w).unsqueeze(0), xi, a


def test_contracting_network_has_only_the_origin_stable() -> None:
    """‖W‖ < 1 makes F a contraction: the origin is the only fixed point, J(0) = W − I."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 6))
    w *= 0.5 / np.linalg.norm(w, 2)
    starts = torch.from_numpy(rng.standard_normal((1, 10, 6)) * 2)
    fp = find_fixed_points(torch.from_numpy(w).unsqueeze(0), starts, tau=2.0)
    assert len(fp) == 1 and fp.is_fixed.all() and fp.stable.all()
    np.testing.assert_allclose(fp.points[0], 0, atol=1e-10)
    np.testing.assert_allclose(fp.jacobian[0], (w - np.eye(6)) / 2.0, atol=1e-10)
    expected = np.sort_complex(np.linalg.eigvals((w - np.eye(6)) / 2.0))
    np.testing.assert_allclose(np.sort_complex(fp.eigenvalues[0]), expected, atol=1e-10)


@pytest.mark.parametrize("method", ["lbfgs", "lbfgs_torch", "gauss_newton", "adam"])
def test_one_unit_double_well(method: str) -> None:
    """N=1, w=2: fixed points 0 (unstable, J = w − 1 > 0) and ±x*, x* = w·tanh(x*) (stable)."""
    w = 2.0
    x_star = brentq(lambda x: w * np.tanh(x) - x, 0.5, 5)
    starts = torch.linspace(-3, 3, 13, dtype=F64).view(1, 13, 1)
    opt = FixedPointOptions(method=method)
    fp = find_fixed_points(torch.full((1, 1, 1), w, dtype=F64), starts, options=opt)
    order = np.argsort(fp.points[:, 0])
    np.testing.assert_allclose(fp.points[order, 0], [-x_star, 0, x_star], atol=1e-10)
    assert fp.is_fixed.all() and not fp.is_slow.any()
    assert fp.stable[order].tolist() == [True, False, True]
    np.testing.assert_allclose(fp.eigenvalues[order[1], 0].real, w - 1, atol=1e-12)


def test_hopfield_patterns_found_once_and_stable() -> None:
    w, xi, a = _hopfield()
    rng = np.random.default_rng(1)
    base = np.concatenate([xi, -xi]) * a
    starts = np.concatenate([base + 0.3 * rng.standard_normal((4, 16)) for _ in range(5)])
    fp = find_fixed_points(w, torch.from_numpy(starts).unsqueeze(0))
    for pattern in base:  # each pattern exactly once, stable
        hits = np.linalg.norm(fp.points - pattern, axis=1) < 1e-6
        assert hits.sum() == 1
        assert fp.stable[hits].all() and fp.is_fixed[hits].all()
    dist = np.linalg.norm(fp.points[:, None] - fp.points[None], axis=-1)
    assert (dist[~np.eye(len(fp), dtype=bool)] > 1e-3).all()  # deduplicated


@pytest.mark.parametrize("method", ["lbfgs", "lbfgs_torch", "gauss_newton"])
def test_batched_matches_one_at_a_time(method: str) -> None:
    rng = np.random.default_rng(2)
    n, p, s = 12, 3, 16
    w = 1.8 * rng.standard_normal((p, n, n)) / np.sqrt(n)
    w_t = torch.from_numpy(w)
    starts = trajectory_starts(w_t, torch.from_numpy(rng.standard_normal((p, n))), s, 200, seed=3)
    opt = FixedPointOptions(method=method)
    together = find_fixed_points(w_t, starts, options=opt)
    for i in range(p):
        alone = find_fixed_points(w_t[i : i + 1], starts[i : i + 1], options=opt)
        mine = together.for_network(i)
        assert len(mine) == len(alone) > 0
        # roots with q ~ 1e-30 have no meaningful q order: match each point to its nearest
        dist = np.abs(mine.points[:, None] - alone.points[None]).max(-1)
        match = dist.argmin(1)
        assert sorted(match.tolist()) == list(range(len(alone)))
        np.testing.assert_allclose(mine.points, alone.points[match], atol=1e-8)
        np.testing.assert_array_equal(mine.stable, alone.stable[match])


def test_result_indexing_save_load_and_summary(tmp_path) -> None:
    w, xi, a = _hopfield()
    w2 = torch.cat([w, torch.full((1, 16, 16), 0.0, dtype=F64)])
    starts = torch.from_numpy(np.stack([np.concatenate([xi, -xi]) * a * 1.1] * 2))
    fp = find_fixed_points(w2, starts, options=FixedPointOptions(bridge_pairs=0))
    assert len(fp.for_network(0)) == 4 and len(fp.for_network(1)) == 1  # W = 0: only x = 0
    assert len(fp[0]) == 1 and len(fp[fp.stable]) == 5 and len(fp[1:3]) == 2
    assert "2 network(s)" in fp.summary() and "network 1: 1 fixed" in fp.summary()
    path = tmp_path / "fp.npz"
    fp.save(path)
    back = FixedPoints.load(path)
    assert back.n_networks == 2 and list(tmp_path.iterdir()) == [path]
    for name in ("network", "points", "q", "is_fixed", "is_slow", "eigenvalues", "stable"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fp, name))
    light = fp.drop_jacobians()
    light.save(path)
    assert FixedPoints.load(path).jacobian is None


def test_effective_weights_match_population_step() -> None:
    """A population step with zero input is one Euler step of F with W_eff."""
    specs = [NetworkSpec(n=8, g=1.2, seed=s, dt=0.1) for s in (0, 1)]
    pop = Population(specs, n_in=2, n_out=3, dtype=F64)
    pop.w_out = torch.randn(2, 8, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    w_eff = effective_weights(pop)
    x = pop.initial_state(4)
    x1, _, _ = pop.step(x, pop.readout(torch.tanh(x)), torch.zeros(4, 2, dtype=F64))
    expected = x + 0.1 * (-x + torch.tanh(x) @ w_eff.transpose(1, 2))
    torch.testing.assert_close(x1, expected)


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        FixedPointOptions(tol_q=1e-3, slow_q=1e-6)
    with pytest.raises(ConfigError):
        FixedPointOptions(method="bfgs")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        find_fixed_points(torch.zeros(2, 3, 3), torch.zeros(1, 4, 3))
