"""Compiled CPU minimisers for `find_fixed_points`: L-BFGS on q(x) = ½‖F(x)‖² over one network's
starts at a time, then Levenberg–Marquardt on F(x) = 0 (`levenberg.lm_core`) for the starts
where L-BFGS crawls.

Why compiled, and one network at a time: at N=200 a batched torch step over all P networks streams
every `[N,N]` matrix from memory twice per q evaluation, while one network's W (0.3 MB) stays in a
core's cache for its whole run; and the tail of slow starts costs hundreds of small torch calls per
iteration. Here the starts of one network are still batched (one `[A,N]×[N,N]` product per q/∇q
evaluation of its A running starts), with no per-iteration Python overhead.

Why Levenberg–Marquardt: near a nearly singular fixed point q is flat along one direction, and
L-BFGS needs thousands of iterations to crawl the last factor 10⁴ of q (a one-at-a-time scipy
L-BFGS-B does the same). Damped steps with the exact Jacobian get there in tens of iterations, to
the same point. A start is handed over only when its projected remaining L-BFGS iterations exceed
`lm_after`, or when it stalls at a small q, because an LM step costs O(N³) against O(N²) for an
L-BFGS evaluation. On trained networks most starts stall on a slow manifold and go to LM; there,
starts that join the LM path of an earlier start to a slow point stop early (see
`lbfgs_then_lm`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from gigalearn.wm.analysis.levenberg import levenberg_marquardt, lm_core

__all__ = ["lbfgs_network", "lbfgs_then_lm", "levenberg_marquardt"]

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


def _crawl_all(w: np.ndarray, tau: float, x: np.ndarray, status: np.ndarray, below: float) -> None:
    """Hand every running start of one network with q < below to LM (status CRAWLING).

    Used when no start has converged by the first checkpoint: the starts of a trained network
    crawl along a slow manifold (a few singular values of J ~1e-3) and stall there after ~600
    iterations at N=1000; LM with path joining from iteration 200 costs about as many
    factorisations as from the stalled states (216 against 170 on the trained benchmark
    network, both roots found), so the L-BFGS iterations in between are mostly wasted. On
    random networks some start has converged by then, and nothing changes.
    """
    f = (np.tanh(x) @ w.T - x) / tau
    status[(status == OUT_OF_ITERS) & (0.5 * (f * f).sum(-1) < below)] = CRAWLING


def lbfgs_then_lm(
    w: np.ndarray,
    x: np.ndarray,
    taus: np.ndarray,
    opt: FixedPointOptions,
    checkpoint: Callable[[np.ndarray, float, np.ndarray, np.ndarray, FixedPointOptions], None]
    | None = None,
) -> np.ndarray:
    """Run `lbfgs_network` network by network on x `[P,S,N]` (in place), then Levenberg–Marquardt
    (`levenberg.lm_core`) on each crawling start; returns the statuses `[P,S]`. With a
    checkpoint, L-BFGS pauses after chord_at iterations, then 2·chord_at, 4·chord_at, ...
    for checkpoint(w_p, τ_p, x_p, status_p, opt) to update starts and statuses, and resumes
    (with fresh L-BFGS memory) for the starts still running; if no start of the network has
    converged at the first checkpoint, every running start with q < 10·lm_stall_q goes to LM
    (`_crawl_all`). A network's crawling starts run LM lowest q first. The iterates of each run
    that ends at a slow point (newton_q <= q < slow_q) are remembered once q < q(start)/10; a
    later start that comes within lm_merge_tol (RMS) of one of them stops and is moved to that
    run's end point. (Only slow points: joining runs that ended at roots lost a root in a
    trained population, where LM end points at q ~ 1e-9 can be 0.01 RMS from their root.)"""
    n = x.shape[-1]
    lm_after = 8.0 * n if opt.lm_after is None else opt.lm_after
    status = np.empty(x.shape[:2], np.int64)
    chord_at = opt.chord_every(n)
    first = chord_at if checkpoint is not None and 0 < chord_at < opt.iters else opt.iters
    args = (opt.history, opt.newton_q, opt.window(n), opt.lm_q, opt.lm_stall_q, lm_after)
    for p in range(x.shape[0]):
        wp, tau = np.ascontiguousarray(w[p]), float(taus[p])
        status[p] = lbfgs_network(wp, x[p], tau, first, *args, 0, opt.iters)
        done = first
        while done < opt.iters and checkpoint is not None:
            checkpoint(wp, tau, x[p], status[p], opt)
            if done == first and not (status[p] == CONVERGED).any():
                _crawl_all(wp, tau, x[p], status[p], 10.0 * opt.lm_stall_q)
            again = np.nonzero(status[p] == OUT_OF_ITERS)[0]
            if again.size == 0:
                break
            until = min(2 * done, opt.iters)
            xs = np.ascontiguousarray(x[p, again])
            status[p, again] = lbfgs_network(wp, xs, tau, until - done, *args, done, opt.iters)
            x[p, again] = xs
            done = until
        crawling = np.nonzero(status[p] == CRAWLING)[0]
        if crawling.size == 0 or opt.lm_iters == 0:
            continue
        gram = wp.T @ wp
        f = np.tanh(x[p, crawling]) @ wp.T - x[p, crawling]
        known, owner, finals = np.zeros((0, n)), np.zeros(0, np.int64), []
        path = np.empty((opt.lm_iters + 1, n))
        for k in crawling[np.argsort((f * f).sum(-1))]:
            xk = np.ascontiguousarray(x[p, k])
            _, hit, m = lm_core(
                wp, gram, xk, tau, opt.lm_iters, opt.newton_q, False, known, opt.lm_merge_tol, path
            )
            if hit >= 0:  # joined the path of an earlier start: it ends where that one did
                x[p, k] = finals[owner[hit]]
                continue
            x[p, k] = xk
            fk = (wp @ np.tanh(xk) - xk) / tau
            if opt.newton_q <= 0.5 * fk @ fk < opt.slow_q:  # a slow point: remember the path
                known = np.concatenate([known, path[:m]])
                owner = np.concatenate([owner, np.full(m, len(finals))])
                finals.append(xk.copy())
    return status
