"""Unit activity labels and stable fixed points per output class on hand-made systems."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import brentq

from gigalearn.wm.analysis.activity import memory_activity
from gigalearn.wm.analysis.efficiency import stable_points_per_class
from gigalearn.wm.stimuli import GaussianClouds
from gigalearn.wm.tasks import SequentialSum
from tests.wm.analysis.conftest import make_population

TASK = SequentialSum(stimuli=GaussianClouds(centres=((1.0, 0.0), (1.0, 0.0)), std=0.0))


def test_decaying_unit_is_phasic_bistable_unit_is_persistent_and_saturated():
    """Unit 0 has no recurrence (decays as e^{−t}: gone by the end of the 5 τ window); unit 1 has
    self-weight 2 and sits in its well at tanh(1.915) = 0.96 > 0.8."""
    w = np.diag([0.0, 2.0])
    pop = make_population([w], [np.zeros(2)], [np.array([[2.0, 0.0], [1.0, 0.0]])])
    act = memory_activity(pop, TASK, torch.zeros(1, 1, 2, dtype=torch.float64))
    assert act.phasic[0] == 0.5 and act.persistent[0] == 0.5 and act.saturated[0] == 0.5
    r = act.window_rates[0]
    assert (
        r[-1, 0] < 0.1 * r[0, 0] and abs(r[-1, 1] - np.tanh(1.915)) < 1e-2
    )  # relaxes into its well


def test_double_well_has_two_stable_points_one_on_a_code():
    """N=1, w=2: stable ±x*, unstable 0. Readout 1/tanh(x*) puts +x* exactly on the code 1.0;
    −x* reads −1.0, which is no class."""
    x_star = brentq(lambda x: 2 * np.tanh(x) - x, 0.5, 5)
    pop = make_population([np.array([[2.0]])], [np.array([1 / np.tanh(x_star)])])
    ends = np.array([[[x_star + 0.3], [-x_star - 0.2], [0.01], [2.5]]])
    extra = torch.tensor([[[-1.0], [0.5]]], dtype=torch.float64)
    eff = stable_points_per_class(pop, ends, extra, np.array([1.0, 0.5, 1.5]))
    assert eff.n_stable[0] == 2 and eff.n_matched[0] == 1 and eff.n_classes_covered[0] == 1
    assert eff.per_class[0] == 2 / 3
