import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.network import NetworkSpec, Population, init_weights


def _numpy_step(spec, w, w_out, x, z, u):
    r = np.tanh(x)
    dx = -x + spec.g * w.j @ r + w.w_fb @ z + w.w_in @ u
    x = x + spec.dt / spec.tau * dx
    return x, w_out.T @ np.tanh(x)


def test_batched_population_step_equals_per_network_step():
    specs = [
        NetworkSpec(n=30, g=1.5, pg=0.5, fb=5, seed=1),
        NetworkSpec(n=30, g=0.8, pg=1.0, fb=40, seed=2, tau=2.0),
    ]
    pop = Population(specs, n_in=2, n_out=3, dtype=torch.float64)
    rng = np.random.default_rng(0)
    pop.w_out[:] = torch.from_numpy(rng.standard_normal((2, 30, 3)) * 0.1)
    x = pop.initial_state(batch=4)
    z = pop.readout(torch.tanh(x))
    us = rng.standard_normal((5, 2, 4, 2))
    xs_ref = [[w.x0.copy() for _ in range(4)] for w in (init_weights(s, 2, 3) for s in specs)]
    for u in us:
        x, _, z = pop.step(x, z, torch.from_numpy(u))
    for p, spec in enumerate(specs):
        w = init_weights(spec, 2, 3)
        wo = pop.w_out[p].numpy()
        for b in range(4):
            xr = xs_ref[p][b]
            zr = wo.T @ np.tanh(xr)
            for u in us:
                xr, zr = _numpy_step(spec, w, wo, xr, zr, u[p, b])
            np.testing.assert_allclose(x[p, b].numpy(), xr, atol=1e-12)
            np.testing.assert_allclose(z[p, b].numpy(), zr, atol=1e-12)


def test_weights_follow_density_variance_and_seed():
    spec = NetworkSpec(n=400, pg=0.25, fb=10, seed=5)
    w = init_weights(spec, 2, 3)
    assert (w.j != 0).mean() == pytest.approx(0.25, abs=0.01)
    assert w.j.var() * spec.n == pytest.approx(
        1.0, rel=0.05
    )  # variance 1/(pg N) on the pg·N² nonzeros
    assert w.w_fb.std() == pytest.approx(0.1, rel=0.1)
    assert w.w_in.std() == pytest.approx(1 / 50, rel=0.1)
    np.testing.assert_array_equal(init_weights(spec, 2, 3).j, w.j)


def test_shared_input_broadcasts_and_float32_default():
    pop = Population([NetworkSpec(n=20, seed=s) for s in range(3)], 2, 1)
    assert pop.g_jt.dtype == torch.float32 and pop.g_jt.shape == (3, 20, 20)
    x = pop.initial_state(2)
    x2, _, z = pop.step(x, pop.readout(torch.tanh(x)), torch.ones(2, 2))
    assert x2.shape == (3, 2, 20) and z.shape == (3, 2, 1)


def test_process_noise_changes_trajectory():
    spec = NetworkSpec(n=20, noise_std=0.1)
    pop = Population([spec], 2, 1)
    x = pop.initial_state(2)
    x2, _, _ = pop.step(x, pop.readout(torch.tanh(x)), torch.zeros(2, 2))
    assert not torch.allclose(x2[0, 0], x2[0, 1])  # same start, different noise per trial


@pytest.mark.parametrize(
    "bad", [{"pg": -0.1}, {"pg": 0.0}, {"fb": 0.0}, {"n": 0}, {"g": -1.0}, {"dt": 2.0}]
)
def test_invalid_network_spec(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        NetworkSpec(**bad)


def test_population_needs_equal_sizes():
    with pytest.raises(ConfigError, match="share N"):
        Population([NetworkSpec(n=10), NetworkSpec(n=20)], 2, 1)
