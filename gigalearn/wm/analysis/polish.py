"""Polishing candidate points to machine precision: Levenberg–Marquardt on one candidate per
root, then chord iterations that reuse that root's factorised Jacobian for the others.

Why: many starts of a network end near the same root. Exact Newton or LM for each costs O(N³) per
step (at N=1000 ~50 ms, as much as ~200 batched L-BFGS evaluations). The chord iteration
y ← y − J(x*)⁻¹F(y) with x* an already polished root costs O(N²) per candidate, batched over
all of them, and converges (linearly, at a rate ∝ the distance to x*) for candidates near a
root; the ones it does not converge for are polished on their own. This lets L-BFGS stop at a
loose q and leaves the last orders of magnitude to steps with exact Jacobians.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from gigalearn.wm.analysis.compiled import CONVERGED, OUT_OF_ITERS, STALLED, levenberg_marquardt
from gigalearn.wm.analysis.minimizers import half_sq_norm

if TYPE_CHECKING:
    from gigalearn.wm.analysis.fixed_points import FixedPointOptions

CHORD_ITERS = 30


def _deep_q(opt: FixedPointOptions) -> float:
    """Polishing target, well below tol_q: points are compared at 1e-6 RMS."""
    return opt.tol_q * 1e-10


def _resid(w: torch.Tensor, tau: float, z: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(z) @ w.T - z) / tau


def _resid_np(w: np.ndarray, tau: float, z: np.ndarray) -> np.ndarray:
    return (w @ np.tanh(z) - z) / tau


def _chord(
    w: torch.Tensor, tau: float, root: torch.Tensor, y: torch.Tensor, deep_q: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chord iterations from the rows of y `[K,N]` with J(root) factorised once; each row runs
    until q < deep_q or a step fails to lower q (no contraction there). Returns (y, q)."""
    jac = (w * (1 - torch.tanh(root) ** 2) - torch.eye(len(root), dtype=w.dtype)) / tau
    lu, piv = torch.linalg.lu_factor(jac)
    y = y.clone()
    f = _resid(w, tau, y)
    q = half_sq_norm(f)
    live = torch.ones(len(y), dtype=torch.bool)
    for _ in range(CHORD_ITERS):
        live &= q >= deep_q
        if not live.any():
            break
        sel = torch.nonzero(live).squeeze(-1)
        y_new = y[sel] - torch.linalg.lu_solve(lu, piv, f[sel].T).T
        f_new = _resid(w, tau, y_new)
        q_new = half_sq_norm(f_new)
        ok = torch.isfinite(q_new) & (q_new < q[sel])
        y[sel[ok]], f[sel[ok]], q[sel[ok]] = y_new[ok], f_new[ok], q_new[ok]
        live[sel[~ok]] = False
    return y, q


def polish_network(
    w: torch.Tensor, tau: float, x: torch.Tensor, opt: FixedPointOptions, finish: bool = True
) -> torch.Tensor:
    """Polished copies of one network's points x `[K,N]`: lowest q first, LM on one candidate,
    then chord steps from its root for the remaining ones; a candidate the chord takes below
    deep_q is done, the others keep any progress and wait for their own LM run. finish: one
    more Newton step after LM reaches deep_q (not needed for the roots of a checkpoint)."""
    x, deep_q, w_np = x.clone(), _deep_q(opt), np.ascontiguousarray(w.cpu().numpy())
    pending = torch.argsort(half_sq_norm(_resid(w, tau, x))).tolist()
    while pending:
        c = pending.pop(0)
        xc = np.ascontiguousarray(x[c].cpu().numpy())
        levenberg_marquardt(w_np, xc, tau, opt.lm_iters, deep_q, True)
        if finish and 0.5 * float(np.sum(_resid_np(w_np, tau, xc) ** 2)) < deep_q:
            # one more Newton step (kept only if q drops): near a nearly singular root q just
            # below deep_q can still be ~1e-7 RMS away from it; quadratic convergence closes that
            levenberg_marquardt(w_np, xc, tau, 1, 0.0, True)
        x[c] = torch.from_numpy(xc)
        if not pending or not bool(half_sq_norm(_resid(w, tau, x[c])) < opt.tol_q):
            continue  # a slow point: its Jacobian is no use for the others
        rows = torch.tensor(pending)
        y, q = _chord(w, tau, x[c], x[rows], deep_q)
        better = q < half_sq_norm(_resid(w, tau, x[rows]))
        x[rows[better]] = y[better]
        pending = rows[q >= deep_q].tolist()
    return x


def polish(
    w: torch.Tensor, net: torch.Tensor, x: torch.Tensor, taus: torch.Tensor, opt: FixedPointOptions
) -> torch.Tensor:
    """`polish_network` for the points x `[M,N]` of networks net `[M]`."""
    x = x.clone()
    for p in torch.unique(net).tolist():
        idx = torch.nonzero(net == p).squeeze(-1)
        x[idx] = polish_network(w[p], float(taus[p]), x[idx], opt)
    return x


def chord_checkpoint(
    w: np.ndarray, tau: float, x: np.ndarray, status: np.ndarray, opt: FixedPointOptions
) -> None:
    """Midway through one network's L-BFGS (x `[S,N]`, status `[S]`, both updated in place):
    polish the starts that have converged and copies of the running ones with q < lm_q, and try
    chord iterations from each distinct root so found for every start still running or stalled;
    those that reach deep_q are done. Most starts of a network head for a root another start has
    found, and the chord step costs O(N²) where the L-BFGS iterations it replaces would cost
    hundreds of O(N²) evaluations. A running start is never moved by its own polish, only by a
    chord that converges from where it is: exact steps from q ~ 1e-5 sometimes jump to another
    root than the one L-BFGS would reach."""
    rest = np.nonzero((status == OUT_OF_ITERS) | (status == STALLED))[0]
    wt = torch.from_numpy(w)
    q = half_sq_norm(_resid(wt, tau, torch.from_numpy(x))).numpy()
    conv = np.nonzero(status == CONVERGED)[0]
    near = np.nonzero((status == OUT_OF_ITERS) & (q < opt.lm_q))[0]
    if conv.size + near.size == 0 or rest.size == 0:
        return
    pts = polish_network(wt, tau, torch.from_numpy(x[np.concatenate([conv, near])]), opt, False)
    x[conv] = pts[: conv.size].numpy()
    roots: list[torch.Tensor] = []
    for r in pts[half_sq_norm(_resid(wt, tau, pts)) < opt.tol_q]:
        if all(float((r - o).pow(2).mean().sqrt()) >= opt.dedup_tol for o in roots):
            roots.append(r)
    for root in roots:
        y, q = _chord(wt, tau, root, torch.from_numpy(x[rest]), _deep_q(opt))
        done = (q < _deep_q(opt)).numpy()
        x[rest[done]] = y[done].numpy()
        status[rest[done]] = CONVERGED
        rest = rest[~done]
        if rest.size == 0:
            break
