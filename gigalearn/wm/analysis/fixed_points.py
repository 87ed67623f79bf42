"""Fixed and slow points of autonomous rate networks (Sussillo & Barak 2013), batched in torch.

With inputs off a trained network follows dx/dt = F(x) = (−x + W_eff tanh(x)) / τ, where
W_eff = g J + W_fb W_out. We minimise q(x) = ½‖F(x)‖² from many starts (by default compiled
L-BFGS, one network at a time with its S starts batched, and Levenberg–Marquardt for starts that
crawl; or batched torch L-BFGS, matrix-free Gauss–Newton or Adam over all P × S starts at once),
hand each start over to exact Newton steps on F(x) = 0 once q is small, merge duplicates, and
classify each point by the eigenvalues of its Jacobian J(x) = (−I + W_eff diag(1 − tanh²x)) / τ:
stable if every Re λ < 0.

q is a sum over units (not a mean), so thresholds on q scale with N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from gigalearn.common.atomic import atomic_write
from gigalearn.common.errors import ConfigError
from gigalearn.wm.analysis.bridges import bridge
from gigalearn.wm.analysis.compiled import lbfgs_then_lm
from gigalearn.wm.analysis.minimizers import (
    adam,
    chunk_starts,
    gauss_newton,
    half_sq_norm,
    jacobian,
    lbfgs,
    newton,
    residual,
)
from gigalearn.wm.analysis.polish import chord_checkpoint, polish
from gigalearn.wm.network import Population


@dataclass(frozen=True)
class FixedPointOptions:
    """Search settings. Points with q < tol_q are fixed points; tol_q ≤ q < slow_q slow points."""

    tol_q: float = 1e-10
    slow_q: float = 1e-4
    max_iters: int | None = None
    """Iterations per start; None: 3000 for lbfgs and lbfgs_torch, 100 for gauss_newton (each
    cg_iters CG steps), 5000 for adam."""
    lr: float = 0.05
    """Adam's initial step; it decays geometrically to lr·lr_decay by max_iters."""
    lr_decay: float = 0.01
    method: Literal["lbfgs", "lbfgs_torch", "gauss_newton", "adam"] = "lbfgs"
    """lbfgs: compiled quasi-Newton on the CPU, one network at a time (its W stays in cache),
    ~1 gradient per iteration, plus Levenberg–Marquardt for crawling starts: fastest here;
    lbfgs_torch: the same L-BFGS batched over all networks in torch (any device), no LM;
    gauss_newton: damped Gauss–Newton steps solved matrix-free by cg_iters conjugate-gradient
    iterations each; adam: first order, slow to converge on q (kept for comparison)."""
    history: int = 10
    """L-BFGS memory (pairs kept per start)."""
    cg_iters: int = 40
    stall_iters: int = 30
    """lbfgs_torch, gauss_newton: a start stops after this many steps in a row with < 0.1%
    decrease of q."""
    stall_window: int | None = None
    """lbfgs: a start stops when q fell less than 1% over this many iterations. A window, not a
    run of small steps: some starts cross a plateau of ~60 small steps and then reach a fixed
    point that one-at-a-time L-BFGS finds too. After a sixth of the iterations, it also stops
    (q ≥ lm_q) when at this window's rate it would not reach newton_q within max_iters.
    None: 100 for N >= 500, else 200. A longer window lets L-BFGS follow its own path further
    before LM takes over; from an earlier point LM reached a different root than scipy's
    L-BFGS on 1 of 64 trained N=200 networks (windows 200 and 300 avoid that, 150 and 100 do
    not). At N=1000 a 300-iteration window cost 1.5× in time."""
    lm_q: float = 1e-4
    """lbfgs: below this q, a start whose projected iterations to newton_q (at its rate over the
    last 25) exceed lm_after hands over to Levenberg–Marquardt."""
    lm_stall_q: float = 1e-3
    """lbfgs: a start that stalls below this q hands over to Levenberg–Marquardt too."""
    lm_after: float | None = None
    """None: 8·N iterations (one LM solve costs O(N³), an L-BFGS evaluation O(N²); at 4·N, LM
    took over too early on 1 of 64 trained N=200 networks and reached another root)."""
    lm_iters: int = 100
    """Factorisations per Levenberg–Marquardt start."""
    lm_merge_tol: float = 0.05
    """lbfgs: a crawling start whose LM iterate comes within this RMS distance per unit of the
    LM path another start of the network took to a slow point (newton_q <= q < slow_q; only
    the part of that path below a tenth of its start's q) stops there and is moved to that slow
    point; 0: never. On the trained N=1000 benchmark network, LM paths to different end points
    stayed >= 0.11 apart in those parts. Paths to roots are not joined: a trained population
    has roots ~2e-3 apart."""
    chord_at: int | None = None
    """lbfgs: after this many iterations (then twice, four times as many, ...), polish each
    network's converged starts and try chord steps from their roots for the rest (see
    `polish.chord_checkpoint`); 0: never. None: 200 for N >= 500, else never (at N=200 the
    per-network overhead of a checkpoint outweighs the L-BFGS iterations it saves)."""
    newton_steps: int = 8
    newton_q: float = 1e-8
    """A start hands over to polishing once q < newton_q: L-BFGS, CG-solved Gauss–Newton and Adam
    converge only linearly near a root, exact Newton steps quadratically. (Handing over at 1e-5
    was cheaper, but exact steps from there reached other roots than one-at-a-time L-BFGS.)"""
    dedup_tol: float = 1e-3
    """Two points closer than this in RMS distance per unit are the same point."""
    bridge_pairs: int = 32
    """Newton runs per network from the midpoints of pairs of its roots, closest pairs first,
    to find the saddles between attractors that starts along trajectories miss (see
    `bridges`); 0: none."""
    bridge_speed: float = 0.1
    """Only midpoints where τ‖F‖ is below this times the pair's distance are tried (the flow
    there is slow: a slow region joins the pair)."""
    compute_eigs: bool = True
    keep_jacobians: bool = True
    dtype: torch.dtype = torch.float64
    chunk_bytes: int = 256 * 2**20
    """Memory for one chunk of N×N Jacobians (Newton, Gauss–Newton, eigenvalues)."""

    def __post_init__(self) -> None:
        if not 0 < self.tol_q <= self.slow_q or self.newton_q <= 0:
            raise ConfigError(
                f"need 0 < tol_q <= slow_q and newton_q > 0, got tol_q={self.tol_q}, "
                f"slow_q={self.slow_q}, newton_q={self.newton_q}"
            )
        if self.method not in ("lbfgs", "lbfgs_torch", "gauss_newton", "adam"):
            raise ConfigError(
                f"method must be lbfgs, lbfgs_torch, gauss_newton or adam, got {self.method!r}"
            )
        # (field, lower bound, whether the bound itself is allowed); None means "the default"
        bounds = (
            ("max_iters", 0, True), ("newton_steps", 0, True), ("lr", 0, False),
            ("dedup_tol", 0, False), ("stall_window", 1, True), ("lm_iters", 0, True),
            ("chord_at", 0, True), ("lm_merge_tol", 0, True), ("bridge_pairs", 0, True),
            ("bridge_speed", 0, False),
        )  # fmt: skip
        for name, low, inclusive in bounds:
            value = getattr(self, name)
            if value is not None and (value < low if inclusive else value <= low):
                raise ConfigError(f"{name} must be {'>=' if inclusive else '>'} {low}, got {value}")

    def window(self, n: int) -> int:
        """stall_window, or its default for N = n."""
        if self.stall_window is not None:
            return self.stall_window
        return 100 if n >= 500 else 200

    def chord_every(self, n: int) -> int:
        """chord_at, or its default for N = n."""
        if self.chord_at is not None:
            return self.chord_at
        return 200 if n >= 500 else 0

    @property
    def iters(self) -> int:
        """max_iters, or the method's default."""
        default = {"lbfgs": 3000, "lbfgs_torch": 3000, "gauss_newton": 100, "adam": 5000}
        default = default[self.method]
        return default if self.max_iters is None else self.max_iters


@dataclass
class FixedPoints:
    """K points found over `n_networks` networks; every array's first axis is the point."""

    network: np.ndarray  # [K] int64, which network the point belongs to
    points: np.ndarray  # [K,N]
    q: np.ndarray  # [K]
    is_fixed: np.ndarray  # [K] bool, q < tol_q
    is_slow: np.ndarray  # [K] bool, tol_q <= q < slow_q
    eigenvalues: np.ndarray | None  # [K,N] complex, of the Jacobian (includes 1/τ)
    stable: np.ndarray | None  # [K] bool, every Re λ < 0
    jacobian: np.ndarray | None = None  # [K,N,N]
    n_networks: int = 1

    def __len__(self) -> int:
        return len(self.q)

    def __getitem__(self, key: int | slice | np.ndarray | list[int]) -> FixedPoints:
        """Select points by index, slice, index array or boolean mask; returns FixedPoints."""
        if isinstance(key, int | np.integer):
            key = np.array([key])  # keep the point axis so the result is still a FixedPoints
        parts = {
            f.name: (v[key] if isinstance(v := getattr(self, f.name), np.ndarray) else v)
            for f in fields(self)
        }
        return FixedPoints(**parts)

    def for_network(self, p: int) -> FixedPoints:
        """The points of network p."""
        return self[self.network == p]

    def drop_jacobians(self) -> FixedPoints:
        """The same points without the [K,N,N] Jacobians (they dominate memory)."""
        return FixedPoints(
            **{f.name: getattr(self, f.name) for f in fields(self)} | {"jacobian": None}
        )

    def summary(self) -> str:
        """One line per count: fixed / stable / slow points, overall and per network."""
        n = self.points.shape[1] if self.points.ndim == 2 else 0
        fixed = self.is_fixed
        n_stable = int(self.stable[fixed].sum()) if self.stable is not None else "?"
        lines = [
            f"FixedPoints: {len(self)} points in {self.n_networks} network(s) of N={n}: "
            f"{int(fixed.sum())} fixed ({n_stable} stable), "
            f"{int(self.is_slow.sum())} slow"
        ]
        if len(self):
            lines.append(f"  q from {self.q.min():.2e} to {self.q.max():.2e}")
        for p in range(min(self.n_networks, 8)):
            sub = self.for_network(p)
            st = int(sub.stable[sub.is_fixed].sum()) if sub.stable is not None else "?"
            lines.append(
                f"  network {p}: {int(sub.is_fixed.sum())} fixed ({st} stable), "
                f"{int(sub.is_slow.sum())} slow"
            )
        if self.n_networks > 8:
            lines.append(f"  ... {self.n_networks - 8} more networks")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary().splitlines()[0]

    def save(self, path: str | Path) -> None:
        """Write an .npz atomically (temp file in the same folder, then a rename)."""
        path = Path(path)
        arrays = {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)  # a file handle: numpy does not append ".npz"

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path) -> FixedPoints:
        """Read what `save` wrote; absent optional arrays come back as None."""
        with np.load(path, allow_pickle=False) as z:
            parts = {f.name: (z[f.name] if f.name in z.files else None) for f in fields(cls)}
        parts["n_networks"] = int(parts["n_networks"])
        return cls(**parts)


def effective_weights(pop: Population) -> torch.Tensor:
    """W_eff = g J + W_fb W_out for each network of a trained population, `[P,N,N]`.

    Population stores transposes for row-vector products: g_jt = (gJ)ᵀ, w_zu[:, :K] = W_fbᵀ and
    w_out = W_outᵀ, so W_effᵀ = g_jt + w_out · W_fbᵀ.
    """
    k = pop.n_out
    w_t = pop.g_jt + torch.bmm(pop.w_out, pop.w_zu[:, :k, :])
    return w_t.transpose(1, 2).contiguous()


def trajectory_starts(
    w_eff: torch.Tensor,
    x0: torch.Tensor,
    n_starts: int,
    n_steps: int = 500,
    dt: float = 0.1,
    tau: float = 1.0,
    noise_std: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """`[P,S,N]` states sampled at random times along each network's autonomous trajectory from
    x0 `[P,N]` (Euler steps of dt), plus optional Gaussian jitter so starts are not on one curve.
    """
    gen = torch.Generator().manual_seed(seed)
    x, traj = x0.to(w_eff.dtype).unsqueeze(1), []
    for _ in range(n_steps):
        x = x + (dt / tau) * (-x + torch.bmm(torch.tanh(x), w_eff.transpose(1, 2)))
        traj.append(x)
    states = torch.cat(traj, dim=1)  # [P,T,N]
    idx = torch.randint(n_steps, (x0.shape[0], n_starts), generator=gen)
    starts = torch.gather(states, 1, idx.unsqueeze(-1).expand(-1, -1, x0.shape[-1]))
    if noise_std > 0:
        starts = starts + noise_std * torch.randn(starts.shape, generator=gen, dtype=starts.dtype)
    return starts


def find_fixed_points(
    w_eff: torch.Tensor,
    starts: torch.Tensor,
    tau: float | torch.Tensor = 1.0,
    options: FixedPointOptions | None = None,
) -> FixedPoints:
    """Fixed and slow points of dx/dt = (−x + W_eff tanh x)/τ for W_eff `[P,N,N]`, from starts
    `[P,S,N]` (tau: a float or one per network). Points are sorted by network, then q."""
    opt = options or FixedPointOptions()
    if w_eff.dim() != 3 or starts.dim() != 3 or starts.shape[::2] != w_eff.shape[:2]:
        raise ConfigError(f"need W_eff [P,N,N], starts [P,S,N]; got {w_eff.shape}, {starts.shape}")
    p, s, n = starts.shape
    w = w_eff.to(opt.dtype)
    taus = torch.as_tensor(tau, dtype=opt.dtype).expand(p).contiguous()
    x = starts.to(opt.dtype).clone()
    net = torch.arange(p).repeat_interleave(s)
    if opt.method == "lbfgs":
        x_np = x.cpu().contiguous().numpy()  # updated in place
        lbfgs_then_lm(w.cpu().contiguous().numpy(), x_np, taus.cpu().numpy(), opt, chord_checkpoint)
        x = torch.from_numpy(x_np).reshape(p * s, n)
    else:
        minimise = {"lbfgs_torch": lbfgs, "gauss_newton": gauss_newton, "adam": adam}[opt.method]
        x = minimise(w, x, taus.view(p, 1, 1), opt).reshape(p * s, n)
    q = half_sq_norm(residual(w, net, x, taus))
    # merge before polishing so each distinct candidate costs one solve, then again after
    keep = _dedup(x, net, q, q < opt.slow_q, opt.dedup_tol)
    if opt.method == "lbfgs":
        x, net = polish(w, net[keep], x[keep], taus, opt), net[keep]
    else:
        x, net = newton(w, net[keep], x[keep], taus, opt)
    q = half_sq_norm(residual(w, net, x, taus))
    keep = _dedup(x, net, q, q < opt.slow_q, opt.dedup_tol)
    if opt.bridge_pairs:  # new roots differ from the known roots; merge any slow point near one
        x, net = bridge(w, net[keep], x[keep], q[keep], taus, opt)
        q = half_sq_norm(residual(w, net, x, taus))
        keep = _dedup(x, net, q, q < opt.slow_q, opt.dedup_tol)
    keep = keep[torch.argsort(net[keep] * (1 + q[keep].max()) + q[keep])] if len(keep) else keep
    x, net, q = x[keep], net[keep], q[keep]
    jac, eig = _jacobians_and_eigs(w, net, x, taus, opt)
    return FixedPoints(
        network=net.numpy(),
        points=x.numpy(),
        q=q.numpy(),
        is_fixed=(q < opt.tol_q).numpy(),
        is_slow=(q >= opt.tol_q).numpy(),
        eigenvalues=eig,
        stable=(eig.real.max(-1) < 0) if eig is not None else None,
        jacobian=jac,
        n_networks=p,
    )


def _dedup(
    x: torch.Tensor, net: torch.Tensor, q: torch.Tensor, candidate: torch.Tensor, tol: float
) -> torch.Tensor:
    """Indices of distinct candidates: per network, lowest q first, drop any point within RMS
    distance tol of one already kept."""
    kept: list[int] = []
    scale = math.sqrt(x.shape[-1])
    for p in torch.unique(net[candidate]).tolist():
        idx = torch.nonzero(candidate & (net == p)).squeeze(-1)
        idx = idx[torch.argsort(q[idx])]
        dist = torch.cdist(x[idx], x[idx]) / scale
        mine: list[int] = []
        for i in range(len(idx)):
            if not mine or bool((dist[i, mine] >= tol).all()):
                mine.append(i)
        kept.extend(idx[mine].tolist())
    return torch.tensor(kept, dtype=torch.long)


def _jacobians_and_eigs(
    w: torch.Tensor, net: torch.Tensor, x: torch.Tensor, taus: torch.Tensor, opt: FixedPointOptions
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Jacobians `[K,N,N]` (if kept) and their eigenvalues `[K,N]` (if asked), chunked."""
    if not (opt.compute_eigs or opt.keep_jacobians):
        return None, None
    jacs, eigs = [], []
    chunks = chunk_starts(len(x), x.shape[-1], opt)
    for a in chunks:
        sl = slice(a, a + chunks.step)
        jac = jacobian(w, net[sl], x[sl], taus)
        if opt.compute_eigs:
            eigs.append(torch.linalg.eigvals(jac).numpy())
        if opt.keep_jacobians:
            jacs.append(jac.numpy())
    n = x.shape[-1]
    jac_out = (
        (np.concatenate(jacs) if jacs else np.zeros((0, n, n))) if opt.keep_jacobians else None
    )
    eig_out = (
        (np.concatenate(eigs) if eigs else np.zeros((0, n), complex)) if opt.compute_eigs else None
    )
    return jac_out, eig_out
