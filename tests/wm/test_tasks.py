import numpy as np
import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.wm.tasks import DelayedMatch, FlipFlop, SequentialSum


@pytest.fixture
def task():
    return SequentialSum()


def test_sum_task_period_timings_in_steps(task):
    assert task.n_steps == 350  # 35 τ at dt = 0.1
    expect = {
        "stimulus1": (0, 100),
        "memory": (100, 150),
        "stimulus2": (150, 250),
        "gap": (250, 300),
        "response": (300, 350),
    }
    for name, (a, b) in expect.items():
        s = task.period_steps(name)
        assert (s.start, s.stop) == (a, b), name


def test_sum_task_shapes_inputs_and_masks(task):
    b = task.batch(task.test_conditions(), np.random.default_rng(0))
    assert b.inputs.shape == (350, 4, 2) and b.targets.shape == (350, 4, 3)
    assert b.masks.shape == (350, 4, 3) and b.masks.dtype == bool and b.dt == 0.1
    silent = np.r_[100:150, 250:350]
    assert not b.inputs[silent].any()
    assert np.all(b.inputs[np.r_[0:100, 150:250]] != 0)
    resp, mem = b.masks[..., 0], b.masks[..., 1:]
    assert resp[300:].all() and not resp[:300].any()
    assert mem[100:150].all() and mem[250:300].all()
    assert not mem[np.r_[0:100, 150:250, 300:350]].any()
    assert not b.targets[~b.masks].any()  # targets are zero wherever nothing is trained


def test_sum_coding_default_and_custom():
    conds = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    for code in ((1.0, 0.5, 1.5), (0.0, 1.0, 2.0)):
        t = SequentialSum(sum_code=code)
        b = t.batch(conds, np.random.default_rng(1))
        expect = [code[0], code[1], code[1], code[2]]
        np.testing.assert_allclose(b.targets[300:, :, 0], np.tile(expect, (50, 1)))


def test_memory_target_is_mean_of_class_just_shown(task):
    conds = np.array([[0, 1], [1, 0]])
    b = task.batch(conds, np.random.default_rng(2))
    means = task.stimuli.means()
    np.testing.assert_allclose(b.targets[120, :, 1:], means[[0, 1]], rtol=1e-6)
    np.testing.assert_allclose(b.targets[270, :, 1:], means[[1, 0]], rtol=1e-6)


def test_bad_task_config():
    with pytest.raises(ConfigError):
        SequentialSum(sum_code=(1.0, 2.0))
    with pytest.raises(ConfigError):
        SequentialSum(memory_tau=0)
    with pytest.raises(KeyError):
        SequentialSum().period_steps("nope")


def test_delayed_match_targets():
    t = DelayedMatch()
    b = t.batch(t.test_conditions(), np.random.default_rng(0))
    match = t.test_conditions()[:, 0] == t.test_conditions()[:, 1]
    np.testing.assert_array_equal(b.targets[-1, :, 0], np.where(match, 1.0, -1.0))
    assert b.masks[t.period_steps("response")].all() and not b.masks[:300].any()


def test_flip_flop_output_holds_sign_of_last_pulse():
    t = FlipFlop(n_bits=2, pulse_rate=0.3)
    b = t.batch(np.array([0, 3]), np.random.default_rng(0))
    assert b.inputs.shape == (300, 2, 2) and b.targets.shape == (300, 2, 2)
    for trial in range(2):
        for bit in range(2):
            u, y = b.inputs[:, trial, bit], b.targets[:, trial, bit]
            start = 1.0 if (trial == 1) else -1.0
            assert y[0] == start or u[0] != 0
            onsets = np.flatnonzero((u != 0) & (np.r_[0, u[:-1]] == 0))
            for i in onsets:
                assert y[i] == np.sign(u[i])
