import numpy as np
import torch

from gigalearn.wm.network import NetworkSpec, Population
from gigalearn.wm.tasks import SequentialSum
from gigalearn.wm.training.evaluate import THRESHOLDS, evaluate


def test_paper_protocol_has_160_trials_and_flags_follow_thresholds():
    task = SequentialSum()
    pop = Population([NetworkSpec(n=20, seed=s) for s in range(3)], 2, 3)
    ev = evaluate(pop, task, pop.initial_state(1))
    assert ev.n_trials == 160 and ev.rmse.shape == (3,) and ev.success.shape == (3, 4)
    assert ev.thresholds == THRESHOLDS
    np.testing.assert_array_equal(ev.success, ev.rmse[:, None] <= np.array(THRESHOLDS))
    assert np.all(ev.worst_trial_rmse >= ev.rmse - 1e-9)


def test_untrained_network_outputs_zero_so_rmse_is_rms_of_sum_code():
    task = SequentialSum()
    pop = Population([NetworkSpec(n=20)], 2, 3, dtype=torch.float64)
    ev = evaluate(pop, task, pop.initial_state(1), n_stim_seeds=2)
    expect = np.sqrt(np.mean(np.array([1.0, 0.5, 0.5, 1.5]) ** 2))
    np.testing.assert_allclose(ev.rmse, expect, rtol=1e-9)
