import numpy as np
import torch

from gigalearn.wm.network import NetworkSpec, Population
from gigalearn.wm.tasks import SequentialSum
from gigalearn.wm.training.bptt import BpttConfig, train_bptt


def test_bptt_reduces_loss_and_leaves_weights_frozen_after():
    torch.manual_seed(0)
    task = SequentialSum(stimulus_tau=3.0, memory_tau=2.0, gap_tau=2.0, response_tau=2.0)
    pop = Population([NetworkSpec(n=24, g=1.0, seed=s) for s in range(2)], 2, 3)
    j0 = pop.g_jt.clone()
    res = train_bptt(pop, task, BpttConfig(n_iters=40, batch=8, lr=1e-2))
    assert np.mean(res.losses[-5:]) < 0.5 * np.mean(res.losses[:5])
    assert not torch.equal(j0, pop.g_jt)  # recurrent weights trained too
    assert not pop.g_jt.requires_grad and not pop.w_out.requires_grad
    assert res.x_end.shape == (2, 1, 24) and res.train_rmse.shape == (2,)


def test_bptt_networks_are_independent():
    task = SequentialSum(stimulus_tau=2.0, memory_tau=1.0, gap_tau=1.0, response_tau=1.0)
    cfg = BpttConfig(n_iters=3, batch=4)
    a = Population([NetworkSpec(n=16, seed=1), NetworkSpec(n=16, seed=2)], 2, 3)
    b = Population([NetworkSpec(n=16, seed=2)], 2, 3)
    train_bptt(a, task, cfg)
    train_bptt(b, task, cfg)
    torch.testing.assert_close(a.w_out[1], b.w_out[0], atol=1e-4, rtol=1e-3)
