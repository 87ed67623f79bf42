"""Compiled Levenberg–Marquardt on F(x) = (−x + W tanh x)/τ = 0 for one start at a time, used by
`find_fixed_points` for starts where L-BFGS crawls and for polishing candidates.

Three things keep it cheap on trained networks, whose starts crawl along a slow manifold (a few
singular values of J ~1e-3) to roots and to slow points (local minima of q with q > 0):

- **O(N²) normal equations.** J = (W D − I)/τ with D = diag(1 − tanh²x), so
  JᵀJ = (D G D − D Wᵀ − W D + I)/τ² with G = WᵀW computed once per network: each iterate costs
  one Cholesky factorisation (N³/3) instead of a JᵀJ product (2N³) plus a general solve.
- **Geodesic acceleration** (Transtrum & Sethna 2012). The second directional derivative
  F''(v, v) = W(−2 tanh x ⊙ (1 − tanh²x) ⊙ v²)/τ is exact and O(N²); the correction
  a = −(JᵀJ + μI)⁻¹JᵀF''(v, v) reuses the factorisation, and v + a/2 follows a curved valley
  where plain LM must keep μ large. On a trained N=1000 network it cut the factorisations by a
  third (to the two roots: by half).
- **Stopping at slow points.** Two accepted steps in a row that lower q by < 0.1% mean a
  stationary point of q that is not a root. A start that comes within `radius` (RMS) of the
  path another start took to a slow point (its part below a tenth of that start's q) stops,
  and the caller moves it to that slow point.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ALPHA = 0.75  # geodesic acceleration: accept only if 2‖a‖ <= α‖v‖
_MAX_REJECT = 8  # damping increases in a row before giving up (μ grows by 2^36)
# Paths are recorded (for other starts to join) only once q < _PATH_FRAC · q(start): on a trained
# N=1000 network, runs to different end points pass within 0.017 RMS of each other while q is
# still near its start value, but stay >= 0.11 apart below a tenth of it.
_PATH_FRAC = 0.1


@njit(cache=True)
def _residual(w: np.ndarray, x: np.ndarray, tau: float) -> np.ndarray:
    return (np.dot(w, np.tanh(x)) - x) / tau


@njit(cache=True)
def _cho_solve(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with L Lᵀ x = b, L lower triangular `[N,N]` (row-major access both ways)."""
    n = b.size
    y = b.copy()
    for i in range(n):  # L y = b
        acc = y[i]
        for j in range(i):
            acc -= low[i, j] * y[j]
        y[i] = acc / low[i, i]
    for i in range(n - 1, -1, -1):  # Lᵀ x = y, column i of Lᵀ is row i of L
        y[i] /= low[i, i]
        for j in range(i):
            y[j] -= low[i, j] * y[i]
    return y


@njit(cache=True)
def _factor(a: np.ndarray) -> np.ndarray:
    """Cholesky factor L (a = L Lᵀ) of the SPD matrix a; an empty array if a is not numerically
    positive definite. (A float32 factorisation with a float64 refinement step was tried: at
    N=1000 it was not reliably faster with OpenBLAS here.)"""
    try:
        return np.linalg.cholesky(a)
    except Exception:  # numba: no exception objects, so catch all
        return np.empty((0, 0))


@njit(cache=True)
def _nearest(x: np.ndarray, ends: np.ndarray, radius: float) -> int:
    """Index of an end point within RMS distance radius of x, or -1."""
    n = x.size
    for k in range(ends.shape[0]):
        acc = 0.0
        for i in range(n):
            d = x[i] - ends[k, i]
            acc += d * d
        if acc < radius * radius * n:
            return k
    return -1


@njit(cache=True)
def lm_core(
    w: np.ndarray,
    gram: np.ndarray,
    x: np.ndarray,
    tau: float,
    iters: int,
    tol_q: float,
    newton_first: bool,
    known: np.ndarray,
    radius: float,
    path: np.ndarray,
    mu0: float = 1e-5,
) -> tuple[int, int, int]:
    """Levenberg–Marquardt with geodesic acceleration for one start x `[N]` (updated in place);
    gram = WᵀW (or an empty array: computed when first needed). Solves (JᵀJ + μI) v = −JᵀF,
    accepts v + a/2 if q drops, adapts μ by the gain ratio (Nielsen's rule). newton_first: try
    the undamped step J dx = −F first at every iterate (one LU; for polishing points already
    near a root) and damp only when it fails.
    Stops when q < tol_q; after `iters` factorisations; after 8 rejected steps in a row; after
    two accepted steps in a row that lower q by < 0.1% (a stationary point of q); when q fell
    less than 10% over the last 10 factorisations (near a nearly singular root q still falls
    ~2× per solve); or when x (the start or an accepted iterate) comes within RMS distance
    `radius` of a row of known `[K,N]` (iterates of earlier runs: from there this run would
    follow theirs). The accepted iterates with q < q(start)/10 are written to the rows of path
    `[iters+1,N]` (if it has that many rows). The initial damping is mu0 times the largest
    diagonal entry of JᵀJ. Returns (factorisations, index of the known row reached or -1,
    rows of path written)."""
    n = x.size
    wt = np.ascontiguousarray(w.T)
    f = _residual(w, x, tau)
    q = 0.5 * np.dot(f, f)
    mu, nu, solves, flat = -1.0, 2.0, 0, 0
    a = np.empty((n, n))
    q_mark, next_check = q, 10
    inv2 = 1.0 / (tau * tau)
    record = path.shape[0] > iters
    q_path = _PATH_FRAC * q  # record iterates below this q only
    steps = 0
    hit = _nearest(x, known, radius) if radius > 0 else -1
    if hit >= 0:
        return solves, hit, steps
    while solves < iters and q >= tol_q:
        if solves >= next_check:
            if q > 0.9 * q_mark:
                break
            q_mark, next_check = q, solves + 10
        t = np.tanh(x)
        s = 1.0 - t * t
        if newton_first:
            jac = np.empty((n, n))
            for i in range(n):
                for j in range(n):
                    jac[i, j] = w[i, j] * s[j] / tau
                jac[i, i] -= 1.0 / tau
            dx = np.linalg.solve(jac, -f)
            solves += 1
            x_new = x + dx
            f_new = _residual(w, x_new, tau)
            q_new = 0.5 * np.dot(f_new, f_new)
            if q_new < q:  # np.isfinite is implied
                x[:] = x_new
                f, q = f_new, q_new
                if record and q <= q_path:
                    path[steps] = x
                    steps += 1
                continue
        if gram.shape[0] != n:  # computed on first need: polishing near a root may never damp
            gram = np.dot(wt, w)
        for i in range(n):  # JᵀJ = (D G D − D Wᵀ − W D + I)/τ², lower triangle (all potrf reads)
            for j in range(i + 1):
                a[i, j] = (s[i] * gram[i, j] * s[j] - s[i] * wt[i, j] - w[i, j] * s[j]) * inv2
            a[i, i] += inv2
        grad = (s * np.dot(wt, f) - f) / tau  # JᵀF
        if mu < 0:
            mu = mu0 * np.max(np.diag(a))
        accepted, rejects = False, 0
        while solves < iters and rejects < _MAX_REJECT:
            for i in range(n):
                a[i, i] += mu
            low = _factor(a)
            solves += 1
            ok = low.shape[0] == n
            if ok:
                v = _cho_solve(low, -grad)
                r2 = np.dot(w, -2.0 * t * s * v * v) / tau  # F''(v, v)
                acc = _cho_solve(low, -(s * np.dot(wt, r2) - r2) / tau)
                ok = 2.0 * np.sqrt(np.dot(acc, acc)) <= _ALPHA * np.sqrt(np.dot(v, v))
            for i in range(n):
                a[i, i] -= mu
            if ok:
                x_new = x + v + 0.5 * acc
                f_new = _residual(w, x_new, tau)
                q_new = 0.5 * np.dot(f_new, f_new)
                predicted = 0.5 * np.dot(v, mu * v - grad)
                gain = (q - q_new) / predicted if predicted > 0 else -1.0
                ok = np.isfinite(q_new) and gain > 0
            if ok:
                flat = flat + 1 if q - q_new < 1e-3 * q else 0
                x[:] = x_new
                f, q = f_new, q_new
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
                nu, accepted = 2.0, True
                break
            mu, nu, rejects = mu * nu, 2.0 * nu, rejects + 1
        if not accepted:
            break
        if record and q <= q_path:
            path[steps] = x
            steps += 1
        if flat >= 2:
            break
        hit = _nearest(x, known, radius) if radius > 0 else -1
        if hit >= 0:
            return solves, hit, steps
    return solves, -1, steps


def levenberg_marquardt(
    w: np.ndarray,
    x: np.ndarray,
    tau: float,
    iters: int,
    tol_q: float,
    newton_first: bool,
    gram: np.ndarray | None = None,
) -> int:
    """`lm_core` for one start x `[N]` of the network w `[N,N]` (x updated in place), with no
    known paths; gram = WᵀW if already computed (else computed if a damped step is needed).
    Returns the number of factorisations."""
    w = np.ascontiguousarray(w, dtype=np.float64)
    gram = np.zeros((0, 0)) if gram is None else gram
    none = np.zeros((0, x.size))
    return lm_core(w, gram, x, float(tau), iters, tol_q, newton_first, none, 0.0, none)[0]
