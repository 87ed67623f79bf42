import numpy as np
import torch

from gigalearn.wm.kernels import rls_update


def _reference_rls(p, w, r, err):
    """The textbook single-network update, as in the authors' numpy code."""
    pr = p @ r
    denom = 1 + r @ pr
    p = p - np.outer(pr, r @ p) / denom
    w = w - np.outer(pr, err) / denom
    return p, w


def test_rls_update_equals_numpy_reference_and_gate_freezes():
    rng = np.random.default_rng(0)
    n, k = 25, 3
    a = rng.standard_normal((3, n, n))
    p0 = np.eye(n) + 0.1 * np.einsum("pij,pkj->pik", a, a)  # symmetric positive definite
    w0 = rng.standard_normal((3, n, k))
    r = np.tanh(rng.standard_normal((3, n)))
    err = rng.standard_normal((3, k))
    p_t, w_t = torch.from_numpy(p0.copy()), torch.from_numpy(w0.copy())
    gate = torch.tensor([True, False, True])
    rls_update(p_t, w_t, torch.from_numpy(r), torch.from_numpy(err), gate)
    for i in (0, 2):
        p_ref, w_ref = _reference_rls(p0[i], w0[i], r[i], err[i])
        np.testing.assert_allclose(p_t[i].numpy(), p_ref, atol=1e-12)
        np.testing.assert_allclose(w_t[i].numpy(), w_ref, atol=1e-12)
    np.testing.assert_array_equal(p_t[1].numpy(), p0[1])
    np.testing.assert_array_equal(w_t[1].numpy(), w0[1])
