"""A population of P continuous-time rate networks stored as stacked tensors.

τ dx/dt = −x + g J tanh(x) + W_fb z + W_in u,   z = W_out tanh(x),   Euler step dt.
J is sparse Gaussian (density pg, variance 1/(pg N)), W_fb ~ N(0,1)/fb, W_in ~ N(0,1)·input_scale.
Each network's weights come from its own seed, so a saved seed regenerates J exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.kernels import euler_step


@dataclass(frozen=True)
class NetworkSpec:
    """Hyper-parameters of one network: size N, gain g, density pg, feedback divisor fb, seed."""

    n: int = 1000
    g: float = 1.5
    pg: float = 0.9
    fb: float = 10.0
    """Feedback weights are N(0,1)/fb: larger fb means weaker feedback."""
    seed: int = 0
    tau: float = 1.0
    dt: float = 0.1
    input_scale: float = 1.0 / 50
    noise_std: float = 0.0
    """Process noise: σ of the Wiener increment added to τ dx (0 = deterministic)."""

    def __post_init__(self) -> None:
        checks = {
            "n": self.n >= 1,
            "g": self.g >= 0,
            "pg": 0 < self.pg <= 1,
            "fb": self.fb > 0,
            "tau": self.tau > 0,
            "dt": 0 < self.dt <= self.tau,
            "noise_std": self.noise_std >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"network {name}={getattr(self, name)!r} is out of range")


@dataclass(frozen=True)
class NetworkWeights:
    """The fixed random weights of one network (float64 numpy, the reference values)."""

    j: np.ndarray  # [N,N]
    w_fb: np.ndarray  # [N,K]
    w_in: np.ndarray  # [N,I]
    x0: np.ndarray  # [N]


def init_weights(spec: NetworkSpec, n_in: int, n_out: int) -> NetworkWeights:
    """Draw J, feedback, input weights and initial state from `spec.seed` (deterministic)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n
    mask = rng.random((n, n)) < spec.pg
    j = np.where(mask, rng.standard_normal((n, n)), 0.0) / math.sqrt(spec.pg * n)
    w_fb = rng.standard_normal((n, n_out)) / spec.fb
    w_in = rng.standard_normal((n, n_in)) * spec.input_scale
    x0 = 0.1 * rng.standard_normal(n)
    return NetworkWeights(j=j, w_fb=w_fb, w_in=w_in, x0=x0)


class Population:
    """P networks of equal N advanced together: states `[P,B,N]`, readouts `[P,N,K]`."""

    def __init__(
        self,
        specs: Sequence[NetworkSpec],
        n_in: int,
        n_out: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not specs:
            raise ConfigError("a population needs at least one network")
        sizes = {s.n for s in specs}
        if len(sizes) != 1:
            raise ConfigError(f"networks in one population must share N, got {sorted(sizes)}")
        self.specs = tuple(specs)
        self.n, self.n_in, self.n_out, self.dtype = sizes.pop(), n_in, n_out, dtype
        p, n = len(specs), self.n
        self.g_jt = torch.empty(p, n, n, dtype=dtype)
        self.w_zu = torch.empty(p, n_out + n_in, n, dtype=dtype)
        self.x0 = torch.empty(p, n, dtype=dtype)
        for i, spec in enumerate(specs):
            w = init_weights(spec, n_in, n_out)
            # one network at a time so peak memory stays ~one float64 N×N beyond the stack
            self.g_jt[i] = torch.from_numpy(spec.g * w.j.T)
            self.w_zu[i] = torch.from_numpy(np.concatenate([w.w_fb.T, w.w_in.T]))
            self.x0[i] = torch.from_numpy(w.x0)
        self.w_out = torch.zeros(p, n, n_out, dtype=dtype)
        self.leak = torch.tensor([s.dt / s.tau for s in specs], dtype=dtype).view(p, 1, 1)
        noise = [s.noise_std * math.sqrt(s.dt) / s.tau for s in specs]
        self.noise = torch.tensor(noise, dtype=dtype).view(p, 1, 1) if any(noise) else None

    @property
    def size(self) -> int:
        """Number of networks P."""
        return len(self.specs)

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        """Each network's seeded initial state, repeated for `batch` trials: `[P,B,N]`."""
        return self.x0.unsqueeze(1).expand(-1, batch, -1).clone()

    def readout(self, r: torch.Tensor) -> torch.Tensor:
        """Outputs z = r·W_out, `[P,B,K]` from rates `[P,B,N]`."""
        return torch.bmm(r, self.w_out)

    def step(
        self,
        x: torch.Tensor,
        z: torch.Tensor,
        u: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Advance one Euler step; return new (x, r, z). u is `[P,B,I]` or `[B,I]` (shared)."""
        if u.dim() == 2:
            u = u.unsqueeze(0).expand(self.size, -1, -1)
        zu = torch.cat([z, u.to(self.dtype)], dim=-1)
        x = euler_step(x, torch.tanh(x), zu, self.g_jt, self.w_zu, self.leak)
        if self.noise is not None:
            x = x + self.noise * torch.randn(x.shape, dtype=x.dtype, generator=generator)
        r = torch.tanh(x)
        return x, r, self.readout(r)

    def simulate(self, x: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run frozen over inputs `[T,P,B,I]` or `[T,B,I]`; return x_end, z `[T,P,B,K]`."""
        z = self.readout(torch.tanh(x))
        outs = []
        for u in inputs.unbind(0):
            x, _, z = self.step(x, z, u)
            outs.append(z)
        return x, torch.stack(outs)

    def nbytes(self) -> int:
        """Bytes held by the population's tensors."""
        ts = (self.g_jt, self.w_zu, self.x0, self.w_out)
        return sum(t.numel() * t.element_size() for t in ts)
