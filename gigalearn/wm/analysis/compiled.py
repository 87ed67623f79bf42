"""Compiled CPU minimisers for `find_fixed_points`: L-BFGS on q(x) = ½‖F(x)‖² over one network's
starts at a time, and Levenberg–Marquardt on F(x) = 0 for the starts where L-BFGS crawls.

Why compiled, and one network at a time: at N=200 a batched torch step over all P networks streams
every `[N,N]` matrix from memory twice per q evaluation, while one network's W (0.3 MB) stays in a
core's cache for its whole run; and the tail of slow starts costs hundreds of small torch calls per
iteration. Here the starts of one network are still batched (one `[A,N]×[N,N]` product per q/∇q
evaluation of its A running starts), with no per-iteration Python overhead.

Why Levenberg–Marquardt: near a nearly singular fixed point q is flat along one direction, and
L-BFGS needs thousands of iterations to crawl the last factor 10⁴ of q (a one-at-a-time scipy
L-BFGS-B does the same). Damped steps with the exact Jacobian get there in tens of iterations, to
the same point. A start is handed over only when its projected remaining L-BFGS iterations exceed
`lm_after`, because an LM step costs O(N³) against O(N²) for an L-BFGS evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from gigalearn.wm.analysis.fixed_points import FixedPointOptions

RUNNING, CONVERGED, CRAWLING, STALLED, OUT_OF_ITERS = 0, 1, 2, 3, 4
_WINDOW = 25  # iterations between progress checks for the crawl projection


@njit(cache=True)
def _evaluate(
    w: np.ndarray, wt: np.ndarray, x: np.ndarray, tau: float, g: np.ndarray, q: np.ndarray
) -> None:
    """q and ∇q = JᵀF for the rows of x `[A,N]` (into q `[A]`, g `[A,N]`): two BLAS products."""
    r = np.tanh(x)
    f = (np.dot(r, wt) - x) / tau  # rows: F = (W tanh x − x)/τ
    back = np.dot(f, w)  # rows: Wᵀ F
    for a in range(x.shape[0]):
        acc = 0.0
        for i in range(x.shape[1]):
            acc += f[a, i] * f[a, i]
            g[a, i] = ((1.0 - r[a, i] * r[a, i]) * back[a, i] - f[a, i]) / tau
        q[a] = 0.5 * acc


@njit(cache=True)
def lbfgs_network(
    w: np.ndarray,
    x: np.ndarray,
    tau: float,
    iters: int,
    history: int,
    newton_q: float,
    stall_window: int,
    lm_q: float,
    lm_stall_q: float,
    lm_after: float,
    it0: int,
    budget: int,
) -> np.ndarray:
    """L-BFGS (two-loop recursion, Armijo backtracking by quadratic interpolation) for the
    starts x `[S,N]` of one network, updated in place; returns each start's status: CONVERGED
    (q < newton_q); CRAWLING, to hand over to `levenberg_marquardt` (q < lm_q and more than
    lm_after iterations still to go at the current rate, or stalled with q < lm_stall_q);
    STALLED (q fell < 1% over stall_window iterations, or, after budget/6 iterations, too slowly
    to reach newton_q within `budget` iterations); OUT_OF_ITERS. it0: iterations already run.
    """
    n_s, n = x.shape
    wt = np.ascontiguousarray(w.T)
    q, g = np.empty(n_s), np.empty((n_s, n))
    _evaluate(w, wt, x, tau, g, q)
    hs, hy = np.zeros((n_s, history, n)), np.zeros((n_s, history, n))
    rho = np.zeros((n_s, history))
    count, head = np.zeros(n_s, np.int64), np.zeros(n_s, np.int64)  # ring buffer per start
    q_mark = q.copy()  # q at the last progress check
    # q at the last few checks, to compare with stall_window iterations ago: a window rather
    # than a run of small steps, so a start may cross a long plateau (and a few do, then reach
    # a fixed point) yet a start at a local minimum of q stops after one window
    n_marks = max(1, stall_window // _WINDOW)
    marks = np.full((n_s, n_marks), np.inf)
    status = np.full(n_s, RUNNING, np.int64)
    for k in range(n_s):
        if q[k] < newton_q:
            status[k] = CONVERGED
    d, alpha = np.empty((n_s, n)), np.empty(history)
    for it in range(iters):
        act = np.nonzero(status == RUNNING)[0]
        if act.size == 0:
            break
        slope = np.empty(n_s)
        for k in act:
            for i in range(n):
                d[k, i] = -g[k, i]
            m = count[k]
            for j in range(m):  # newest to oldest
                h = (head[k] - 1 - j) % history
                alpha[j] = rho[k, h] * np.dot(hs[k, h], d[k])
                d[k] -= alpha[j] * hy[k, h]
            if m > 0:  # initial Hessian sᵀy / yᵀy of the newest pair
                h = (head[k] - 1) % history
                d[k] *= np.dot(hs[k, h], hy[k, h]) / np.dot(hy[k, h], hy[k, h])
            else:
                d[k] /= max(1.0, np.sqrt(np.dot(g[k], g[k])))
            for j in range(m - 1, -1, -1):  # oldest to newest
                h = (head[k] - 1 - j) % history
                beta = rho[k, h] * np.dot(hy[k, h], d[k])
                d[k] += (alpha[j] - beta) * hs[k, h]
            slope[k] = np.dot(g[k], d[k])
            if not slope[k] < 0:  # not a descent direction: fall back to steepest descent
                d[k] = -g[k]
                slope[k] = -np.dot(g[k], g[k])
        step = np.ones(n_s)
        x_new, q_new, g_new = x.copy(), q.copy(), g.copy()
        pending = act
        for _ in range(30):  # shorten each start's step until Armijo holds
            trial = np.empty((pending.size, n))
            for a in range(pending.size):
                trial[a] = x[pending[a]] + step[pending[a]] * d[pending[a]]
            qt, gt = np.empty(pending.size), np.empty((pending.size, n))
            _evaluate(w, wt, trial, tau, gt, qt)
            keep = np.ones(pending.size, np.bool_)
            for a in range(pending.size):
                k = pending[a]
                if np.isfinite(qt[a]) and qt[a] <= q[k] + 1e-4 * step[k] * slope[k]:
                    x_new[k], q_new[k], g_new[k] = trial[a], qt[a], gt[a]
                    keep[a] = False
                else:
                    # minimiser of the quadratic through q(0), q'(0) and q(step), within
                    # [0.1, 0.5]·step: fewer evaluations than halving when the step overshoots
                    t = step[k]
                    curv = qt[a] - q[k] - slope[k] * t
                    t_min = -slope[k] * t * t / (2.0 * curv) if curv > 0 else 0.5 * t
                    step[k] = min(max(t_min, 0.1 * t), 0.5 * t) if np.isfinite(qt[a]) else 0.1 * t
            pending = pending[keep]
            if pending.size == 0:
                break
        for k in act:
            s_k, y_k = x_new[k] - x[k], g_new[k] - g[k]
            sy = np.dot(s_k, y_k)
            if sy > 0 and sy > 1e-16 * np.dot(y_k, y_k):  # else skip the pair (curvature)
                h = head[k]
                hs[k, h], hy[k, h], rho[k, h] = s_k, y_k, 1.0 / sy
                head[k] = (h + 1) % history
                count[k] = min(count[k] + 1, history)
            x[k], q[k], g[k] = x_new[k], q_new[k], g_new[k]
            if q[k] < newton_q:
                status[k] = CONVERGED
            elif (it + 1) % _WINDOW == 0:
                slot = ((it + 1) // _WINDOW) % n_marks
                before = marks[k, slot]  # q stall_window iterations ago
                stalled = q[k] > 0.99 * before
                marks[k, slot] = q[k]
                # at this window's rate it would not reach newton_q within the iteration budget
                # (nor would one-at-a-time L-BFGS with that cap). Only after budget/6 iterations:
                # earlier, some starts cross a plateau and then converge quickly.
                done, left = it0 + it + 1, budget - it0 - it - 1
                if done * 6 >= budget and np.isfinite(before) and q[k] >= lm_q:
                    r = q[k] / before
                    stalled |= r >= 1.0 or stall_window * np.log(newton_q / q[k]) / np.log(r) > left
                # projected iterations to newton_q at the last window's rate of decrease
                rate = q[k] / q_mark[k]
                q_mark[k] = q[k]
                slow = rate >= 1.0 or _WINDOW * np.log(newton_q / q[k]) / np.log(rate) > lm_after
                if (q[k] < lm_q and slow) or (stalled and q[k] < lm_stall_q):
                    status[k] = CRAWLING
                elif stalled:
                    status[k] = STALLED
    for k in range(n_s):
        if status[k] == RUNNING:
            status[k] = OUT_OF_ITERS
    return status


@njit(cache=True)
def _residual(w: np.ndarray, x: np.ndarray, tau: float) -> np.ndarray:
    return (np.dot(w, np.tanh(x)) - x) / tau


@njit(cache=True)
def levenberg_marquardt(
    w: np.ndarray, x: np.ndarray, tau: float, iters: int, tol_q: float, newton_first: bool
) -> int:
    """Levenberg–Marquardt on F(x) = 0 for one start x `[N]` (updated in place): solve
    (JᵀJ + μI) dx = −JᵀF, accept if q drops, adapt μ by the gain ratio (Nielsen's rule).
    newton_first: try the undamped step J dx = −F first at every iteration (one LU, no JᵀJ;
    for polishing points already near a root) and damp only when it fails to lower q.
    Stops when q < tol_q, after `iters` solves, when no damping gives a decrease, or when q fell
    less than 10% over the last 10 solves (a local minimum of q, not a root: at N=1000 each solve
    costs as much as ~200 L-BFGS evaluations; near a nearly singular root q still falls ~2× per
    solve, and a twofold-per-10 rule lost such roots). Returns the number of solves."""
    n = x.size
    wt = np.ascontiguousarray(w.T)
    f = _residual(w, x, tau)
    q = 0.5 * np.dot(f, f)
    mu, nu, solves = -1.0, 2.0, 0
    jac, jac_t = np.empty((n, n)), np.empty((n, n))
    q_mark, next_check = q, 10
    while solves < iters and q >= tol_q:
        if solves >= next_check:
            if q > 0.9 * q_mark:
                break
            q_mark, next_check = q, solves + 10
        s = 1.0 - np.tanh(x) ** 2
        for i in range(n):
            for j in range(n):
                jac[i, j] = w[i, j] * s[j] / tau
                jac_t[i, j] = wt[i, j] * s[i] / tau
            jac[i, i] -= 1.0 / tau
            jac_t[i, i] -= 1.0 / tau
        if newton_first:
            dx = np.linalg.solve(jac, -f)
            solves += 1
            x_new = x + dx
            f_new = _residual(w, x_new, tau)
            q_new = 0.5 * np.dot(f_new, f_new)
            if q_new < q:  # np.isfinite is implied
                x[:] = x_new
                f, q = f_new, q_new
                continue
        a = np.dot(jac_t, jac)
        grad = np.dot(jac_t, f)
        if mu < 0:
            mu = 1e-3 * np.max(np.diag(a))
        improved = False
        while solves < iters:
            for i in range(n):
                a[i, i] += mu
            dx = np.linalg.solve(a, -grad)
            for i in range(n):
                a[i, i] -= mu
            solves += 1
            x_new = x + dx
            f_new = _residual(w, x_new, tau)
            q_new = 0.5 * np.dot(f_new, f_new)
            predicted = 0.5 * np.dot(dx, mu * dx - grad)
            gain = (q - q_new) / predicted if predicted > 0 else -1.0
            if np.isfinite(q_new) and gain > 0:
                x[:] = x_new
                f, q = f_new, q_new
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
                nu, improved = 2.0, True
                break
            mu, nu = mu * nu, 2.0 * nu
            if mu > 1e30:
                break
        if not improved:
            break
    return solves


def lbfgs_then_lm(
    w: np.ndarray,
    x: np.ndarray,
    taus: np.ndarray,
    opt: FixedPointOptions,
    checkpoint: Callable[[np.ndarray, float, np.ndarray, np.ndarray, FixedPointOptions], None]
    | None = None,
) -> np.ndarray:
    """Run `lbfgs_network` network by network on x `[P,S,N]` (in place), then
    `levenberg_marquardt` on each crawling start; returns the statuses `[P,S]`. With a
    checkpoint, L-BFGS pauses after chord_at iterations, then 2·chord_at, 4·chord_at, ...
    for checkpoint(w_p, τ_p, x_p, status_p, opt) to update starts and statuses, and resumes
    (with fresh L-BFGS memory) for the starts still running."""
    n = x.shape[-1]
    lm_after = 4.0 * n if opt.lm_after is None else opt.lm_after
    status = np.empty(x.shape[:2], np.int64)
    chord_at = opt.chord_every(n)
    first = chord_at if checkpoint is not None and 0 < chord_at < opt.iters else opt.iters
    args = (opt.history, opt.newton_q, opt.stall_window, opt.lm_q, opt.lm_stall_q, lm_after)
    for p in range(x.shape[0]):
        wp, tau = np.ascontiguousarray(w[p]), float(taus[p])
        status[p] = lbfgs_network(wp, x[p], tau, first, *args, 0, opt.iters)
        done = first
        while done < opt.iters and checkpoint is not None:
            checkpoint(wp, tau, x[p], status[p], opt)
            again = np.nonzero(status[p] == OUT_OF_ITERS)[0]
            if again.size == 0:
                break
            until = min(2 * done, opt.iters)
            xs = np.ascontiguousarray(x[p, again])
            status[p, again] = lbfgs_network(wp, xs, tau, until - done, *args, done, opt.iters)
            x[p, again] = xs
            done = until
        for k in np.nonzero(status[p] == CRAWLING)[0]:
            levenberg_marquardt(wp, x[p, k], tau, opt.lm_iters, opt.newton_q, False)
    return status
