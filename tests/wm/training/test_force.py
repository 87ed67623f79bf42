import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm.network import NetworkSpec, Population
from gigalearn.wm.tasks import SequentialSum
from gigalearn.wm.training.evaluate import evaluate
from gigalearn.wm.training.force import ForceConfig, train_force
from gigalearn.wm.training.reference import reference_force


@pytest.mark.parametrize("backend", ["torch", "compiled"])
@pytest.mark.parametrize("rule", ["restricted", "classic"])
def test_batched_force_equals_one_network_numpy_reference(rule, backend):
    task = SequentialSum()
    specs = [NetworkSpec(n=30, g=1.3, pg=0.7, fb=10, seed=s) for s in (3, 4)]
    pop = Population(specs, task.n_in, task.n_out, dtype=torch.float64)
    cfg = ForceConfig(n_trials=3, rule=rule, block_trials=2, backend=backend)
    train_force(pop, task, cfg)
    for p, spec in enumerate(specs):
        ref = reference_force(spec, task, 3, restricted=rule == "restricted", block=2)
        np.testing.assert_allclose(pop.w_out[p].numpy(), ref, atol=1e-9)


def test_backends_agree_in_float32_including_training_error_and_end_state():
    task = SequentialSum()
    specs = [NetworkSpec(n=40, g=1.5, pg=0.9, fb=10, seed=s) for s in range(3)]
    out = {}
    for backend in ("torch", "compiled"):
        pop = Population(specs, task.n_in, task.n_out)
        res = train_force(pop, task, ForceConfig(n_trials=4, backend=backend))
        out[backend] = (pop.w_out.clone(), res.train_rmse, res.x_end)
    torch.testing.assert_close(out["torch"][0], out["compiled"][0], atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(out["torch"][1], out["compiled"][1], rtol=1e-3)
    torch.testing.assert_close(out["torch"][2], out["compiled"][2], atol=1e-3, rtol=1e-3)


class _NoResponseTraining(SequentialSum):
    """The sum task with the response readout's mask switched off everywhere."""

    def batch(self, conditions, rng):
        out = super().batch(conditions, rng)
        out.masks[..., 0] = False
        return out


@pytest.mark.parametrize("backend", ["torch", "compiled"])
def test_restricted_rule_updates_a_readout_only_inside_its_window(backend):
    task = _NoResponseTraining(stimulus_tau=2.0, memory_tau=1.0, gap_tau=1.0, response_tau=1.0)
    specs = [NetworkSpec(n=20, seed=0)]
    restricted = Population(specs, task.n_in, task.n_out, dtype=torch.float64)
    train_force(restricted, task, ForceConfig(n_trials=3, backend=backend))
    assert restricted.w_out[0, :, 0].abs().sum() == 0  # never inside its window
    assert restricted.w_out[0, :, 1:].abs().sum() > 0  # memory readout trained
    classic = Population(specs, task.n_in, task.n_out, dtype=torch.float64)
    train_force(classic, task, ForceConfig(n_trials=3, rule="classic", backend=backend))
    assert classic.w_out[0, :, 0].abs().sum() > 0  # classic updates everywhere


def test_force_reduces_test_error_on_an_easy_target():
    # respond 1.0 whatever the stimuli; short periods keep the test fast
    task = SequentialSum(
        sum_code=(1.0, 1.0, 1.0), stimulus_tau=3.0, memory_tau=2.0, gap_tau=2.0, response_tau=3.0
    )
    specs = [NetworkSpec(n=50, g=1.2, pg=0.9, fb=40, seed=s) for s in range(2)]
    pop = Population(specs, task.n_in, task.n_out)
    before = evaluate(pop, task, pop.initial_state(1), n_stim_seeds=1)
    res = train_force(pop, task, ForceConfig(n_trials=10))
    after = evaluate(pop, task, res.x_end, n_stim_seeds=1)
    assert np.all(before.rmse > 0.9)
    assert np.all(after.rmse < 0.3 * before.rmse)
    assert res.train_rmse.shape == (2,) and np.all(np.isfinite(res.train_rmse))


def test_force_config_validation():
    with pytest.raises(ConfigError):
        ForceConfig(alpha=0)
    with pytest.raises(ConfigError):
        ForceConfig(rule="sometimes")
    with pytest.raises(ConfigError):
        ForceConfig(backend="gpu-please")
