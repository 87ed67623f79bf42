import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.graph.evaluate import (
    Interactions,
    Metric,
    classification_metrics,
    rank,
    retrieval_metrics,
)

M = [Metric.parse(n) for n in ("recall@2", "ndcg@2", "hit@1", "precision@2", "mrr")]


def test_metric_names():
    assert Metric.parse("recall@20") == Metric("recall", 20)
    assert Metric.parse("mrr").name == "mrr"
    with pytest.raises(ConfigError, match="unknown metric 'recal@20'"):
        Metric.parse("recal@20")


def test_hand_computed_retrieval_metrics():
    top = np.array([[3, 1, 2], [0, 2, 1]])
    relevant = Interactions.from_pairs(np.array([0, 0, 1]), np.array([1, 5, 1]), 2)
    out = retrieval_metrics(top, relevant, M)
    assert out["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["hit@1"] == 0.0
    assert out["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    ndcg_q0 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert out["ndcg@2"] == pytest.approx(ndcg_q0 / 2)
    assert out["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)  # within the top 3


def test_exact_rank_excludes_training_items_and_gives_full_rank():
    q = torch.tensor([[1.0, 0.0]])
    items = torch.tensor([[5.0, 0], [4.0, 0], [3.0, 0], [2.0, 0], [1.0, 0]])
    exclude = Interactions.from_pairs(np.array([0]), np.array([0]), 1)
    relevant = Interactions.from_pairs(np.array([0]), np.array([3]), 1)
    top, first = rank(q, items, 2, exclude=exclude, relevant=relevant)
    assert top.tolist() == [[1, 2]]  # item 0 was a training interaction
    assert first.tolist() == [3]  # items 1 and 2 score higher than item 3; item 0 is excluded
    assert retrieval_metrics(top, relevant, [Metric("mrr")], first)["mrr"] == pytest.approx(1 / 3)


def test_faiss_agrees_with_exact_on_a_small_set():
    rng = np.random.default_rng(0)
    q = torch.from_numpy(rng.normal(size=(50, 16)).astype(np.float32))
    items = torch.from_numpy(rng.normal(size=(500, 16)).astype(np.float32))
    exclude = Interactions.from_pairs(np.arange(50), rng.integers(0, 500, 50), 50)
    exact, _ = rank(q, items, 10, exclude=exclude)
    approx, _ = rank(q, items, 10, exclude=exclude, method="faiss")
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert overlap > 0.9
    for qi in range(50):
        assert not set(approx[qi]) & set(exclude.of(qi))


def test_classification_metrics():
    pred, y = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    out = classification_metrics(pred, y, [Metric("accuracy"), Metric("macro_f1")])
    assert out["accuracy"] == 0.75
    assert out["macro_f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3]))
