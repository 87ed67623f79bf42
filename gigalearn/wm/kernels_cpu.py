"""A compiled CPU kernel for FORCE: each core runs whole trial blocks of one network at a time.

Why: at small N the batched-tensor step is bound by memory traffic over all P networks' `[N,N]`
matrices every step, while one network's J and RLS matrices fit in a core's cache (N=200, float32:
~0.5 MB). Running many steps of one network back to back in compiled code keeps them there and
removes per-step Python overhead. Same equations and update schedule as `kernels.py`; inner
loops are written as row-wise axpy's over contiguous memory so they vectorise.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange


@njit(inline="always", fastmath=True, cache=True)
def _tanh_rational(x: float) -> float:
    """tanh as Eigen's float rational approximation: |error| < 3e-7 (a few float32 ulp).

    libm's tanh does not vectorise here and costs ~30% of a step at N=200; this does.
    """
    x = min(max(x, -7.90531110763549805), 7.90531110763549805)
    x2 = x * x
    p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
    p = x2 * p + -8.60467152213735e-11
    p = x2 * p + 5.12229709037114e-08
    p = x2 * p + 1.48572235717979e-05
    p = x2 * p + 6.37261928875436e-04
    p = x2 * p + 4.89352455891786e-03
    q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
    q = x2 * q + 2.26843463243900e-03
    q = x2 * q + 4.89352518554385e-03
    return x * p / q


@njit(parallel=True, cache=True, fastmath=True)
def force_block(
    g_jt: np.ndarray,  # [P,N,N]   (g·J)ᵀ, row j holds unit j's outgoing weights
    w_zu: np.ndarray,  # [P,K+I,N] feedback then input weights, transposed
    w_out: np.ndarray,  # [P,N,K]  readouts (updated in place)
    p_mats: np.ndarray,  # [G,P,N,N] RLS inverse correlation matrices (updated in place)
    leak: np.ndarray,  # [P]       dt/τ
    x: np.ndarray,  # [P,N]       states (updated in place)
    z: np.ndarray,  # [P,K]       outputs (updated in place)
    inputs: np.ndarray,  # [T,P,I]
    targets: np.ndarray,  # [T,P,K]
    gates: np.ndarray,  # [T,P,G]   bool: readout group g may update at step t
    score_w: np.ndarray,  # [T,P]   1 where the scored readout's error is accumulated
    col_lo: np.ndarray,  # [G]      output columns of each readout group
    col_hi: np.ndarray,  # [G]
    score_lo: int,
    score_hi: int,
    step0: int,  # global step index of inputs[0] (the update schedule counts from 0)
    every: int,
    sq_err: np.ndarray,  # [P] float64 accumulators
    n_err: np.ndarray,  # [P]
    fast_tanh: bool,  # rational tanh (float32 runs); False = libm tanh (float64 reference runs)
) -> None:
    """Advance every network through T steps with RLS updates, exactly like `train_force`."""
    n_p, n = g_jt.shape[0], g_jt.shape[1]
    n_k, n_zu, n_g = w_out.shape[2], w_zu.shape[1], p_mats.shape[0]
    n_t = inputs.shape[0]
    for p in prange(n_p):
        r = np.tanh(x[p])
        drive = np.empty(n, x.dtype)
        pr = np.empty(n, x.dtype)
        zu = np.empty(n_zu, x.dtype)
        for t in range(n_t):
            for k in range(n_k):
                zu[k] = z[p, k]
            for m in range(n_zu - n_k):
                zu[n_k + m] = inputs[t, p, m]
            for i in range(n):
                drive[i] = -x[p, i]
            for j in range(n):
                rj = r[j]
                for i in range(n):
                    drive[i] += rj * g_jt[p, j, i]
            for m in range(n_zu):
                c = zu[m]
                for i in range(n):
                    drive[i] += c * w_zu[p, m, i]
            lk = leak[p]
            for i in range(n):
                x[p, i] += lk * drive[i]
            if fast_tanh:
                for i in range(n):
                    r[i] = _tanh_rational(x[p, i])
            else:
                for i in range(n):
                    r[i] = np.tanh(x[p, i])
            for k in range(n_k):
                acc = 0.0
                for i in range(n):
                    acc += r[i] * w_out[p, i, k]
                z[p, k] = acc
            if score_w[t, p] > 0:
                for k in range(score_lo, score_hi):
                    e = z[p, k] - targets[t, p, k]
                    sq_err[p] += e * e
                    n_err[p] += 1.0
            s = step0 + t
            if s % every != 0 or s < every:
                continue
            for gi in range(n_g):
                if not gates[t, p, gi]:
                    continue
                pm = p_mats[gi, p]
                for i in range(n):
                    pr[i] = 0.0
                for j in range(n):  # P·r = Pᵀ·r (P symmetric): row-wise axpy
                    rj = r[j]
                    for i in range(n):
                        pr[i] += rj * pm[j, i]
                denom = 1.0
                for i in range(n):
                    denom += r[i] * pr[i]
                inv = 1.0 / denom
                for j in range(n):
                    kj = pr[j] * inv
                    for i in range(n):
                        pm[j, i] -= kj * pr[i]
                for k in range(col_lo[gi], col_hi[gi]):
                    e = z[p, k] - targets[t, p, k]
                    for i in range(n):
                        w_out[p, i, k] -= pr[i] * inv * e


def set_threads(n: int) -> None:
    """Use at most `n` threads in the compiled kernel."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
