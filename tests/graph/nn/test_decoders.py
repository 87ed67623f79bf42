"""Link decoders: consistent pair / matrix scores, chunking, and gradients into the MLP."""

import pytest
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.graph.evaluate import rank
from gigalearn.graph.nn.decoders import (
    CosineDecoder,
    DotDecoder,
    HadamardMLP,
    LinkModel,
    build_decoder,
)
from gigalearn.graph.nn.losses import RetrievalLoss, bpr_loss


@pytest.mark.parametrize("name", ["dot", "cosine", "hadamard_mlp"])
def test_matrix_agrees_with_pairs(name):
    torch.manual_seed(0)
    dec = build_decoder(name, 8)
    a, b = torch.randn(5, 8), torch.randn(7, 8)
    m = dec.matrix(a, b)
    assert m.shape == (5, 7)
    rows, cols = torch.meshgrid(torch.arange(5), torch.arange(7), indexing="ij")
    pairs = dec.pairs(a[rows.flatten()], b[cols.flatten()]).view(5, 7)
    torch.testing.assert_close(m, pairs)


def test_dot_and_cosine():
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[6.0, 8.0], [0.0, -1.0]])
    torch.testing.assert_close(DotDecoder().matrix(a, b), torch.tensor([[50.0, -4.0]]))
    torch.testing.assert_close(CosineDecoder().matrix(a, b), torch.tensor([[1.0, -0.8]]))
    assert DotDecoder().inner_product and not HadamardMLP(2).inner_product
    with pytest.raises(ValueError, match="unknown decoder 'mlp'"):
        build_decoder("mlp", 2)


def test_hadamard_chunks_give_the_same_scores():
    torch.manual_seed(0)
    dec = HadamardMLP(4)
    a, b = torch.randn(9, 4), torch.randn(6, 4)
    whole = dec.matrix(a, b)
    dec.budget = 4 * 6 * 2  # two rows of `a` per chunk
    torch.testing.assert_close(dec.matrix(a, b), whole)
    assert dec.matrix(a[:0], b).shape == (0, 6)


def test_losses_train_the_mlp():
    torch.manual_seed(0)
    dec = HadamardMLP(4)
    a, p, n = torch.randn(6, 4), torch.randn(6, 4), torch.randn(3, 4)
    loss = RetrievalLoss(0.5)(a, p, n, pos_ids=torch.arange(6), decoder=dec)
    loss = loss + bpr_loss(dec.pairs(a, p), dec.matrix(a, n))
    loss.backward()
    # every weight learns (the output bias shifts all scores alike: no ranking gradient)
    grads = {k: q.grad for k, q in dec.named_parameters() if k != "mlp.2.bias"}
    assert len(grads) == 3 and all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_link_model_scores_inside_forward():
    enc = torch.nn.Linear(4, 4)
    model = LinkModel(lambda x, n_id, ei: {"u": enc(x["u"])}, HadamardMLP(4))
    x = {"u": torch.randn(3, 4)}
    assert model(x, {}, {})["u"].shape == (3, 4)
    s = model(x, {}, {}, score=lambda out, dec: dec.pairs(out["u"], out["u"]))
    assert s.shape == (3,)
    assert {k.split(".")[0] for k in model.state_dict()} == {"decoder"}  # a lambda has none


def test_rank_with_a_decoder_and_faiss_refusal():
    torch.manual_seed(0)
    q, items = torch.randn(4, 3), torch.randn(10, 3)
    dot, _ = rank(q, items, 3)
    via, _ = rank(q, items, 3, decoder=DotDecoder())
    assert (dot == via).all()
    dec = HadamardMLP(3)
    top, _ = rank(q, items, 3, decoder=dec)
    assert (top == dec.matrix(q, items).topk(3, dim=1).indices.numpy()).all()
    with pytest.raises(ConfigError, match="exact search"):
        rank(q, items, 3, method="faiss", decoder=dec)
