"""Populations with hand-made dynamics: W_eff, input weights and readout set directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gigalearn.wm.network import NetworkSpec, Population


def make_population(
    ws: list[np.ndarray],
    readouts: list[np.ndarray],
    w_in: list[np.ndarray] | None = None,
    n_in: int = 2,
    n_out: int = 3,
) -> Population:
    """P networks with recurrent weights ws[p] `[N,N]`, no feedback, response readout
    readouts[p] `[N]` and input weights w_in[p] `[N,n_in]` (default 0), in float64."""
    n = ws[0].shape[0]
    specs = [NetworkSpec(n=n, g=1.0, pg=1.0, fb=1.0, seed=i) for i in range(len(ws))]
    pop = Population(specs, n_in, n_out, dtype=torch.float64)
    pop.w_zu.zero_()
    for p, (w, ro) in enumerate(zip(ws, readouts, strict=True)):
        pop.g_jt[p] = torch.from_numpy(w.T.copy())
        pop.w_out[p, :, 0] = torch.from_numpy(ro)
        if w_in is not None:
            pop.w_zu[p, n_out:] = torch.from_numpy(w_in[p].T.copy())
    return pop


def hopfield(n: int = 16, k: int = 4, c: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """W = c/N Σ ξξᵀ over k orthogonal ±1 patterns (rows of a Hadamard matrix): each ±ξ is a
    stable fixed point direction. Returns (W, patterns `[k,N]`)."""
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    xi = h[1 : k + 1]
    return c / n * xi.T @ xi, xi


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
