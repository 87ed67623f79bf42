"""The minimisers behind `find_fixed_points`: q(x) = ½‖F(x)‖² and its gradient JᵀF evaluated
for P networks × S starts with batched matmuls, minimised by batched L-BFGS, matrix-free
Gauss–Newton or Adam, then exact Newton steps on F(x) = 0."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from gigalearn.wm.analysis.fixed_points import FixedPointOptions


def half_sq_norm(f: torch.Tensor) -> torch.Tensor:
    return 0.5 * (f * f).sum(-1)


def chunk_starts(m: int, n: int, opt: FixedPointOptions) -> range:
    """Chunk starts so a few [C,N,N] tensors of this dtype fit chunk_bytes."""
    item = torch.finfo(opt.dtype).bits // 8
    return range(0, m, max(1, opt.chunk_bytes // (3 * n * n * item)))


def residual(
    w: torch.Tensor, net: torch.Tensor, x: torch.Tensor, taus: torch.Tensor
) -> torch.Tensor:
    """F(x) for flat points x `[M,N]` of networks net `[M]`, one bmm per network."""
    out = torch.empty_like(x)
    for p in torch.unique(net).tolist():
        sel = net == p
        out[sel] = (torch.tanh(x[sel]) @ w[p].T - x[sel]) / taus[p]
    return out


def adam(
    w: torch.Tensor, x: torch.Tensor, tau: torch.Tensor, opt: FixedPointOptions
) -> torch.Tensor:
    """Adam on q for x `[P,S,N]`; returns each start's best iterate (Adam is not monotone).

    ∇q = J(x)ᵀF = (−F + (1 − tanh²x) ⊙ W_effᵀF)/τ: two batched matmuls per step, no autograd.
    """
    b1, b2, eps = 0.9, 0.999, 1e-12
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    best_x, best_q = x.clone(), torch.full(x.shape[:2], math.inf, dtype=x.dtype)
    w_t = w.transpose(1, 2)
    for it in range(1, opt.iters + 2):
        r = torch.tanh(x)
        f = (torch.bmm(r, w_t) - x) / tau
        q = half_sq_norm(f)
        better = q < best_q
        best_q = torch.where(better, q, best_q)
        best_x = torch.where(better.unsqueeze(-1), x, best_x)
        active = best_q >= opt.newton_q
        if it > opt.iters or not active.any():
            break
        grad = ((1 - r * r) * torch.bmm(f, w) - f) / tau * active.unsqueeze(-1)
        m.mul_(b1).add_(grad, alpha=1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        lr = opt.lr * opt.lr_decay ** (it / max(opt.iters, 1))
        step = (m / (1 - b1**it)) / ((v / (1 - b2**it)).sqrt() + eps)
        x = x - lr * step
    return best_x


def jacobian(
    w: torch.Tensor, net: torch.Tensor, x: torch.Tensor, taus: torch.Tensor
) -> torch.Tensor:
    """J(x) `[C,N,N]` for a chunk of flat points: (−I + W_eff diag(1 − tanh²x))/τ."""
    eye = torch.eye(x.shape[-1], dtype=x.dtype)
    return (w[net] * (1 - torch.tanh(x) ** 2).unsqueeze(1) - eye) / taus[net].view(-1, 1, 1)


def gauss_newton(
    w: torch.Tensor, x: torch.Tensor, tau: torch.Tensor, opt: FixedPointOptions
) -> torch.Tensor:
    """Matrix-free damped Gauss–Newton on x `[P,S,N]`: solve (JᵀJ + μI) dx = −JᵀF by a few
    conjugate-gradient steps, each two batched matmuls (J v and Jᵀu never form J). A step is kept
    only if q drops (then μ/3, else μ·2), so each start descends monotonically. A start stops when
    q < tol_q or q has stalled (slow point); every few steps the batch is repacked to the starts
    still running, so converged ones cost nothing."""
    w_t, out = w.transpose(1, 2), x.clone()

    def resid(z: torch.Tensor) -> torch.Tensor:
        return (torch.bmm(torch.tanh(z), w_t) - z) / tau

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(-1, keepdim=True)

    def safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(b > 0, a / b.clamp_min(1e-300), torch.zeros_like(a))

    f = resid(x)
    q = half_sq_norm(f)
    mu = torch.ones_like(q).unsqueeze(-1)
    stall = torch.zeros_like(q, dtype=torch.long)
    slot = torch.arange(x.shape[1]).expand(x.shape[0], -1)  # which start each column holds
    for it in range(opt.iters):
        active = (q >= opt.newton_q) & (stall < opt.stall_iters)
        if it % 5 == 0:  # repack: keep only columns some network still needs
            out.scatter_(1, slot.unsqueeze(-1).expand_as(x), x)
            width = int(active.sum(1).max())
            if width == 0:
                break
            order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :width]
            x, f, mu = (
                torch.gather(t, 1, order.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
                for t in (x, f, mu)
            )
            q, stall, slot, active = (torch.gather(t, 1, order) for t in (q, stall, slot, active))
        s = 1 - torch.tanh(x) ** 2
        b = -(s * torch.bmm(f, w) - f) / tau  # −JᵀF
        d, r = torch.zeros_like(x), b.clone()
        pdir, rr = r.clone(), dot(r, r)
        # solve each damped system nearly exactly (a looser, Eisenstat–Walker tolerance found
        # fewer fixed points here); stopped starts count as solved at once
        floor = rr * (1e-24 + (~active).unsqueeze(-1))
        for _ in range(opt.cg_iters):
            jp = (torch.bmm(s * pdir, w_t) - pdir) / tau
            ap = (s * torch.bmm(jp, w) - jp) / tau + mu * pdir
            alpha = safe_div(rr, dot(pdir, ap))
            d, r = d + alpha * pdir, r - alpha * ap
            rr_new = dot(r, r)
            # zero out solved systems: their tiny residuals would turn subnormal (very slow)
            done = rr_new <= floor
            if done.all():
                break
            r = torch.where(done, 0.0, r)
            pdir, rr = torch.where(done, 0.0, r + safe_div(rr_new, rr) * pdir), rr_new
        x_new = x + d
        f_new = resid(x_new)
        q_new = half_sq_norm(f_new)
        ok = (q_new < q) & active & torch.isfinite(q_new)
        # stalled: less than 0.1% progress (or a rejected step) for stall_iters steps in a row
        stall = torch.where(ok & (q_new < 0.999 * q), 0, stall + 1)
        x = torch.where(ok.unsqueeze(-1), x_new, x)
        f = torch.where(ok.unsqueeze(-1), f_new, f)
        q = torch.where(ok, q_new, q)
        mu = torch.where(ok.unsqueeze(-1), mu / 3, mu * 2).clamp(1e-12, 1e6)
    out.scatter_(1, slot.unsqueeze(-1).expand_as(x), x)
    return out


def lbfgs(
    w: torch.Tensor, x: torch.Tensor, tau: torch.Tensor, opt: FixedPointOptions
) -> torch.Tensor:
    """L-BFGS on q for x `[P,S,N]`, every start at once: two-loop recursion with per-start
    history, Armijo backtracking per start. The iterates are those of one-at-a-time L-BFGS (up
    to the line search), but each q/∇q evaluation is one batched matmul pair for all starts.
    Every few steps the batch is repacked to the networks and starts still running, so a long
    tail of slow starts does not pay for the finished ones."""
    out, nets = x.clone(), torch.arange(x.shape[0])
    wn, tn = w, tau  # the working set's weights; evaluate() reads the current binding

    def evaluate(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = torch.tanh(z)
        f = (torch.bmm(r, wn.transpose(1, 2)) - z) / tn
        return half_sq_norm(f), ((1 - r * r) * torch.bmm(f, wn) - f) / tn  # q, ∇q = JᵀF

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(-1, keepdim=True)

    q, g = evaluate(x)
    hist: list[tuple[torch.Tensor, ...]] = []  # (s, y, 1/sᵀy) per start, newest last
    stall = torch.zeros_like(q, dtype=torch.long)
    slot = torch.arange(x.shape[1]).expand(x.shape[0], -1)  # which start each column holds
    for it in range(opt.iters):
        active = (q >= opt.newton_q) & (stall < opt.stall_iters)
        if it % 10 == 0:
            out[nets.unsqueeze(1), slot] = x
            rows = active.any(1)
            if not rows.any():
                break
            width = int(active.sum(1).max())
            order = torch.argsort((~active[rows]).to(torch.int8), dim=1, stable=True)[:, :width]

            def pick(t: torch.Tensor, rows: torch.Tensor = rows, order: torch.Tensor = order):
                idx = order if t.dim() == 2 else order.unsqueeze(-1).expand(-1, -1, t.shape[-1])
                return torch.gather(t[rows], 1, idx)

            x, g, q, stall, slot, active = map(pick, (x, g, q, stall, slot, active))
            hist = [tuple(map(pick, h)) for h in hist]
            if not rows.all():
                nets = nets[rows]
                wn, tn = w[nets], tau[nets]
        d, alphas = -g, []
        for s_, y_, rho in reversed(hist):
            alphas.append(rho * dot(s_, d))
            d = d - alphas[-1] * y_
        if hist:  # scale by sᵀy / yᵀy of the newest pair (1 where that pair was dropped)
            s_, y_, _ = hist[-1]
            yy = dot(y_, y_)
            d = d * torch.where(yy > 0, dot(s_, y_) / yy.clamp_min(1e-300), 1.0)
        else:
            d = d / dot(g, g).sqrt().clamp_min(1.0)
        for (s_, y_, rho), a in zip(hist, reversed(alphas), strict=True):
            d = d + s_ * (a - rho * dot(y_, d))
        slope = dot(g, d)
        d = torch.where(slope < 0, d, -g)
        slope = torch.where(slope < 0, slope, -dot(g, g)).squeeze(-1)
        step = torch.where(active, 1.0, 0.0).to(x.dtype)
        accepted = ~active
        q_new, g_new = q, g
        for _ in range(30):  # backtrack: halve each start's step until Armijo holds
            qt, gt = evaluate(x + step.unsqueeze(-1) * d)
            ok = ~accepted & (qt <= q + 1e-4 * step * slope) & torch.isfinite(qt)
            q_new = torch.where(ok, qt, q_new)
            g_new = torch.where(ok.unsqueeze(-1), gt, g_new)
            accepted = accepted | ok
            if accepted.all():
                break
            step = torch.where(accepted, step, step / 2)
        step = torch.where(accepted & active, step, 0.0)
        s_new = step.unsqueeze(-1) * d
        y_new = g_new - g
        sy = dot(s_new, y_new)
        keep = (sy > 1e-16 * dot(y_new, y_new)) & (sy > 0)  # else drop this pair for the start
        hist.append((s_new * keep, y_new * keep, torch.where(keep, 1 / sy.clamp_min(1e-300), 0.0)))
        hist = hist[-opt.history :]
        stall = torch.where(q_new < 0.999 * q, 0, stall + 1)
        x, q, g = x + s_new, q_new, g_new
    out[nets.unsqueeze(1), slot] = x
    return out


def newton(
    w: torch.Tensor, net: torch.Tensor, x: torch.Tensor, taus: torch.Tensor, opt: FixedPointOptions
) -> tuple[torch.Tensor, torch.Tensor]:
    """Newton steps J dx = −F; a step is kept only if it lowers q, so slow points (where J is near
    singular and Newton may jump far) stay where the minimiser left them.

    One point at a time: batched LU solves in this torch/MKL build fail on some batches ("DLASWP
    parameter 6"), while single solves are reliable; the candidates are few after merging.
    """
    x = x.clone()
    for i in range(len(x)):
        xi, ni = x[i : i + 1], net[i : i + 1]
        f = residual(w, ni, xi, taus)
        for _ in range(opt.newton_steps):
            q = half_sq_norm(f)
            if q.item() == 0.0:
                break
            dx, info = torch.linalg.solve_ex(jacobian(w, ni, xi, taus)[0], -f[0])
            x_new = xi + dx
            f_new = residual(w, ni, x_new, taus)
            if info.item() != 0 or not bool(half_sq_norm(f_new) < q):
                break  # a rejected step would be retried unchanged
            xi, f = x_new, f_new
        x[i] = xi[0]
    return x, net
