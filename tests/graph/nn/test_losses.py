import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gigalearn.graph.nn.losses import RetrievalLoss, bpr_loss, margin_loss


def test_retrieval_loss_matches_hand_computation():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    n = torch.tensor([[0.5, 0.5]])
    loss = RetrievalLoss(temperature=1.0)(a, p, n)
    logits = torch.tensor([[1.0, 0.0, 0.5], [0.0, 2.0, 0.5]])
    assert loss.item() == pytest.approx(F.cross_entropy(logits, torch.tensor([0, 1])).item())


def test_accidental_hits_are_masked():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    n = torch.tensor([[1.0, 0.0]])
    same_item = torch.tensor([7, 7])  # both anchors' positive is item 7
    hit = torch.tensor([[True], [True]])  # and the random negative is a positive too
    loss = RetrievalLoss(temperature=1.0)(a, p, n, pos_ids=same_item, neg_hit_mask=hit)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # only the positive itself remains
    unmasked = RetrievalLoss(temperature=1.0)(a, p, n)
    assert unmasked.item() == pytest.approx(math.log(3))


def test_hard_negatives_count_only_for_their_anchor():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = a.clone()
    hard = torch.tensor([[1.0, 0.0]])  # as good as anchor 0's positive
    loss_0 = RetrievalLoss(1.0, in_batch=False)(a, p, hard=hard, hard_rows=torch.tensor([0]))
    expected = (math.log(2) + 0.0) / 2  # anchor 0: two equal logits; anchor 1: none
    assert loss_0.item() == pytest.approx(expected, abs=1e-6)


def test_pairwise_losses():
    pos, neg = torch.tensor([2.0]), torch.tensor([[0.0, 3.0]])
    assert bpr_loss(pos, neg).item() == pytest.approx(
        -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(-1.0))).item() / 2
    )
    assert margin_loss(pos, neg, margin=1.0).item() == pytest.approx((0 + 2.0) / 2)
    with pytest.raises(ValueError):
        RetrievalLoss(temperature=0)


def test_logq_correction_matches_hand_computation():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    n = torch.tensor([[0.5, 0.5]])
    logq = torch.tensor([math.log(0.9), math.log(0.1)])
    loss = RetrievalLoss(temperature=1.0)(a, p, n, pos_logq=logq, neg_logq=math.log(0.5))
    logits = torch.tensor([[1.0, 0.0, 0.5], [0.0, 2.0, 0.5]]) - torch.tensor(
        [math.log(0.9), math.log(0.1), math.log(0.5)]
    )
    assert loss.item() == pytest.approx(F.cross_entropy(logits, torch.tensor([0, 1])).item())


def test_logq_pushes_popular_negatives_down_less():
    # anchor 1's in-batch negative is anchor 0's positive, a popular item: without the
    # correction it gets the whole push of being sampled often; with it, less
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pop = torch.tensor([[0.6, 0.8]], requires_grad=True)  # item 0: popular
    rare = torch.tensor([[0.0, 1.0]])
    logq = torch.log(torch.tensor([0.5, 0.01]))  # item 0 is 50x more likely to be sampled
    grads = []
    for shift in (None, logq):
        pop.grad = None
        RetrievalLoss(1.0)(a, torch.cat([pop, rare]), pos_logq=shift).backward()
        grads.append(pop.grad[0, 1].item())  # along anchor 1's direction
    plain, corrected = grads
    assert plain > 0 and corrected > 0  # gradient descent moves it away from anchor 1...
    assert corrected < plain / 5  # ...much less once its popularity is accounted for


def test_popularity_logq_is_log_share():
    from gigalearn.graph.nn.losses import popularity_logq

    lq = popularity_logq(np.array([0, 0, 0, 2]), 3)
    assert torch.allclose(lq.exp(), torch.tensor([3 / 5, 1 / 5, 1 / 5]))  # unseen counts once
