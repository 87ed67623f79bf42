"""Batched tensor kernels for P networks at once: one Euler step, one RLS readout update.

Shapes: P networks, B trials, N units, K readout columns. Everything is in place or fused where it
matters, because at N=1000 a step is bound by memory traffic over the `[P,N,N]` tensors.
"""

from __future__ import annotations

import torch


def euler_step(
    x: torch.Tensor,
    r: torch.Tensor,
    zu: torch.Tensor,
    g_jt: torch.Tensor,
    w_zu: torch.Tensor,
    leak: torch.Tensor,
) -> torch.Tensor:
    """Return x + (dt/τ)(−x + r·(gJ)ᵀ + [z,u]·W) for x, r `[P,B,N]`, zu `[P,B,K+I]`.

    `g_jt` is `[P,N,N]` (g·J transposed so a row-vector product reads it contiguously), `w_zu`
    is `[P,K+I,N]` (feedback and input weights stacked: one small matmul instead of two), and
    `leak` is `[P,1,1]` (dt/τ per network).
    """
    drive = torch.baddbmm(torch.bmm(zu, w_zu), r, g_jt)
    return torch.addcmul(x, leak, drive - x)


def rls_update(
    p_inv: torch.Tensor,
    w_out: torch.Tensor,
    r: torch.Tensor,
    err: torch.Tensor,
    gate: torch.Tensor | None = None,
) -> None:
    """One recursive-least-squares step, in place, for every network whose `gate` is on.

    p_inv `[P,N,N]` (inverse correlation matrix), w_out `[P,N,K]`, r `[P,N]` rates, err `[P,K]`
    = z − target. Standard FORCE: P ← P − Pr rᵀP / (1 + rᵀPr); W ← W − Pr eᵀ / (1 + rᵀPr).
    P stays symmetric, so rᵀP = (Pr)ᵀ and the update is a rank-1 `baddbmm` on P.
    """
    pr = torch.bmm(p_inv, r.unsqueeze(-1)).squeeze(-1)  # [P,N]
    denom = 1.0 + (r * pr).sum(-1, keepdim=True)  # [P,1], > 0 since P is positive definite
    scale = 1.0 / denom
    if gate is not None:
        scale = scale * gate.to(scale.dtype).unsqueeze(-1)
    k = pr * scale
    p_inv.baddbmm_(k.unsqueeze(-1), pr.unsqueeze(1), alpha=-1.0)
    w_out.baddbmm_(k.unsqueeze(-1), err.unsqueeze(1), alpha=-1.0)
