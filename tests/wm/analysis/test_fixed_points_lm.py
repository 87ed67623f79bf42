"""Levenberg–Marquardt stopping rules: slow points (local minima of q that are not roots) and
starts that join the path of an earlier start."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, minimize

from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis import FixedPointOptions
from gigalearn.wm.analysis.compiled import CONVERGED, CRAWLING, lbfgs_then_lm
from gigalearn.wm.analysis.levenberg import levenberg_marquardt, lm_core
from gigalearn.wm.analysis.polish import chord_checkpoint


def _ghost() -> tuple[np.ndarray, np.ndarray]:
    """Unit 2 sits at its root a = 3 tanh a and feeds unit 1 a constant 0.6, just more than the
    0.533 that −x + 2 tanh x dips to at x = −arccosh √2: the left pair of roots of unit 1 has
    vanished and left a slow point ("ghost") there. Returns (W, the local minimum of q)."""
    a = brentq(lambda v: 3 * np.tanh(v) - v, 0.5, 10)
    w = np.array([[2.0, 0.6 / np.tanh(a)], [0.0, 3.0]])

    def q_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        t = np.tanh(x)
        f = w @ t - x
        return 0.5 * f @ f, (1 - t * t) * (w.T @ f) - f

    res = minimize(
        q_and_grad, np.array([-1.5, a]), jac=True, method="BFGS", options={"gtol": 1e-14}
    )
    return w, res.x


def _q(w: np.ndarray, x: np.ndarray) -> float:
    f = w @ np.tanh(x) - x
    return 0.5 * float(f @ f)


@pytest.mark.parametrize("x0", [(-1.5, 0.1), (-0.3, -0.2), (-2.5, 0.0)])
def test_levenberg_marquardt_stops_soon_at_a_slow_point(x0: tuple[float, float]) -> None:
    """Two accepted steps in a row that barely lower q end the run: a dozen solves, not the
    100 allowed (the old 10%-per-10-solves rule alone needed 20 or more)."""
    w, slow = _ghost()
    assert _q(w, slow) > 1e-3  # a local minimum of q, not a root
    x = np.array([x0[0], slow[1] + x0[1]])
    solves = levenberg_marquardt(w, x, 1.0, 100, 1e-24, False)
    assert solves <= 15
    assert abs(_q(w, x) - _q(w, slow)) < 1e-3 * _q(w, slow)
    np.testing.assert_allclose(x, slow, atol=1e-3)


def test_a_start_that_joins_a_recorded_path_stops_there() -> None:
    w, slow = _ghost()
    gram, none = w.T @ w, np.zeros((0, 2))
    path = np.empty((101, 2))
    first = np.array([-1.5, slow[1] + 0.1])
    _, hit, m = lm_core(w, gram, first, 1.0, 100, 1e-24, False, none, 0.05, path)
    assert hit == -1 and m > 0
    known = path[:m].copy()
    # only iterates with q below a tenth of the start's were recorded
    assert all(_q(w, p) <= 0.1 * _q(w, np.array([-1.5, slow[1] + 0.1])) for p in known)
    second = np.array([-2.5, slow[1]])
    alone = second.copy()
    solves_alone, _, _ = lm_core(w, gram, alone, 1.0, 100, 1e-24, False, none, 0.0, path)
    solves_joined, hit, _ = lm_core(w, gram, second, 1.0, 100, 1e-24, False, known, 0.05, path)
    assert 0 <= hit < m and solves_joined < solves_alone
    assert np.sqrt(((second - known[hit]) ** 2).mean()) < 0.05
    # without a radius nothing is joined
    third = np.array([-2.5, slow[1]])
    assert lm_core(w, gram, third, 1.0, 100, 1e-24, False, known, 0.0, path)[1] == -1


def test_a_root_is_reached_whatever_the_known_paths() -> None:
    """Paths only stop a run when it comes near them: a run towards a root far away ends at it."""
    w, slow = _ghost()
    a = brentq(lambda v: 3 * np.tanh(v) - v, 0.5, 10)
    root = brentq(lambda v: -v + 2 * np.tanh(v) + 0.6, 1.0, 5.0)  # the right root of unit 1
    known = np.array([slow])
    x = np.array([root + 0.3, a - 0.1])
    _, hit, _ = lm_core(w, w.T @ w, x, 1.0, 100, 1e-24, False, known, 0.05, np.empty((0, 2)))
    assert hit == -1 and _q(w, x) < 1e-24
    np.testing.assert_allclose(x, [root, a], atol=1e-10)


def test_lm_merge_tol_is_validated() -> None:
    with pytest.raises(ConfigError):
        FixedPointOptions(lm_merge_tol=-0.1)
    assert FixedPointOptions().window(1000) == 100
    assert FixedPointOptions().window(200) == 200
    assert FixedPointOptions(stall_window=50).window(200) == 50


def test_starts_go_to_lm_when_none_converged_by_the_first_checkpoint() -> None:
    """Every start sits near the ghost, none converges in 5 iterations: at the checkpoint all of
    them (q < 10·lm_stall_q) go to LM. With one start at a root, L-BFGS keeps the others."""
    w, slow = _ghost()
    opt = FixedPointOptions(chord_at=5, lm_iters=0, stall_window=1000)
    rng = np.random.default_rng(0)
    x = (slow + 0.01 * rng.standard_normal((4, 2)))[None].copy()
    status = lbfgs_then_lm(w[None], x, np.ones(1), opt, chord_checkpoint)
    assert (status == CRAWLING).all()
    a = brentq(lambda v: 3 * np.tanh(v) - v, 0.5, 10)
    root = np.array([brentq(lambda v: -v + 2 * np.tanh(v) + 0.6, 1.0, 5.0), a])
    x = np.concatenate([slow + 0.01 * rng.standard_normal((3, 2)), root[None]])[None].copy()
    status = lbfgs_then_lm(w[None], x, np.ones(1), opt, chord_checkpoint)
    assert status[0, 3] == CONVERGED and not (status[0, :3] == CRAWLING).all()
