"""Roots between roots: a Newton run from the midpoint of each pair of a network's fixed points.

Why: starts sampled along trajectories flow towards attractors, so a search from them finds
stable points and rarely the saddles between them. Two attractors on one slow manifold have an
unstable point between them on it (a flow on a curve cannot pass from one sink to another
without one), and the midpoint of the pair lies close to that curve when the attractors are
close. Exact-Jacobian steps (Levenberg–Marquardt, then one Newton step) are drawn to every
root alike, so from the midpoint they usually land on the saddle.

Only midpoints that are slow are tried: τ‖F‖ there below `bridge_speed` (0.1) times the
distance between the pair, i.e. the flow would take over 10 τ to cover it. On trained networks
every pair passed (ratios ≤ 0.072 on 64 N=200 networks and the N=1000 benchmark network): runs
took 0–26 factorisations and found 5 new roots in the population, one of them the saddle that a
one-at-a-time scipy L-BFGS reached from a start of its own, and one on the N=1000 network. On
random networks (g = 1.5) most midpoints sit at ratios 0.13–0.36, far from any slow region; runs
from there wandered for 20–100 factorisations (1.5 s at N=1000) and, when they found a root at
all, found one by chance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from gigalearn.wm.analysis.levenberg import levenberg_marquardt

if TYPE_CHECKING:
    from gigalearn.wm.analysis.fixed_points import FixedPointOptions


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def _q(w: np.ndarray, tau: float, x: np.ndarray) -> float:
    f = (w @ np.tanh(x) - x) / tau
    return 0.5 * float(f @ f)


def bridge_network(
    w: np.ndarray, tau: float, roots: list[np.ndarray], opt: FixedPointOptions
) -> list[np.ndarray]:
    """New roots of one network (w `[N,N]`) found from the midpoints of pairs of the given
    roots, closest pairs first, at most opt.bridge_pairs pairs, and only from slow midpoints
    (τ‖F‖ < opt.bridge_speed times the pair's distance). New roots are not paired again:
    on the trained N=1000 benchmark network the runs from a new root's pairs returned to known
    roots at 0.25 s each, and four attractors in a plane need no second round (test_bridges)."""
    roots = [np.ascontiguousarray(r, dtype=np.float64) for r in roots]
    pairs = sorted((_rms(roots[i], roots[j]), i, j) for i in range(len(roots)) for j in range(i))
    new: list[np.ndarray] = []
    deep_q = opt.tol_q * 1e-10
    for _, i, j in pairs[: opt.bridge_pairs]:
        x = 0.5 * (roots[i] + roots[j])
        # τ‖F‖ at the midpoint against the pair's distance: not slow there, no shared manifold
        if not tau * np.sqrt(2.0 * _q(w, tau, x)) < opt.bridge_speed * _dist(roots[i], roots[j]):
            continue
        # damped steps from the start: undamped ones from a midpoint mostly fail at first, and
        # each failure costs an LU (at N=1000: 23 factorisations, 1.5 s, against 15 and 0.5 s)
        levenberg_marquardt(w, x, tau, opt.lm_iters, deep_q, False)
        if not _q(w, tau, x) < deep_q:
            continue
        levenberg_marquardt(w, x, tau, 1, 0.0, True)  # as in polish: one last Newton step
        if min(_rms(x, r) for r in roots + new) < opt.dedup_tol:
            continue
        new.append(x)
    return new


def bridge(
    w: torch.Tensor,
    net: torch.Tensor,
    x: torch.Tensor,
    q: torch.Tensor,
    taus: torch.Tensor,
    opt: FixedPointOptions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The points x `[M,N]` of networks net `[M]` (q `[M]`) with the roots `bridge_network` adds
    for each network that has two or more roots (q < tol_q) appended."""
    xs, nets = [x], [net]
    for p in torch.unique(net[q < opt.tol_q]).tolist():
        sel = (net == p) & (q < opt.tol_q)
        if int(sel.sum()) < 2:
            continue
        w_np = np.ascontiguousarray(w[p].cpu().numpy(), dtype=np.float64)
        found = bridge_network(w_np, float(taus[p]), list(x[sel].cpu().numpy()), opt)
        if found:
            xs.append(torch.from_numpy(np.stack(found)).to(x.dtype))
            nets.append(torch.full((len(found),), p, dtype=net.dtype))
    return torch.cat(xs), torch.cat(nets)
