"""Link-prediction decoders: how a (source, destination) pair of embeddings becomes a score.

`dot` scores by inner product, `cosine` by the inner product of L2-normalised embeddings, and
`hadamard_mlp` by an MLP over the element-wise product u ⊙ v, trained with the encoder. The
first two are inner products of the stored embeddings (so an inner-product index such as faiss
ranks by them); `hadamard_mlp` must score every (source, candidate) pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DECODERS = ("dot", "cosine", "hadamard_mlp")


class Decoder(nn.Module):
    """Scores pairs of embeddings: row-wise (`pairs`) or every row against every row (`matrix`)."""

    inner_product = True
    """Whether scores are inner products of the (normalised) embeddings, as faiss needs."""

    def pairs(self, a: Tensor, b: Tensor) -> Tensor:
        """Scores of a[i] with b[i]: [n, d], [n, d] → [n]."""
        return (a * b).sum(-1)

    def matrix(self, a: Tensor, b: Tensor) -> Tensor:
        """Scores of every a[i] with every b[j]: [n, d], [m, d] → [n, m]."""
        return a @ b.T


class DotDecoder(Decoder):
    """Inner product of the embeddings."""


class CosineDecoder(Decoder):
    """Inner product of the L2-normalised embeddings (cosine similarity)."""

    def pairs(self, a: Tensor, b: Tensor) -> Tensor:
        """Cosine of a[i] and b[i], [n]."""
        return super().pairs(F.normalize(a, dim=-1), F.normalize(b, dim=-1))

    def matrix(self, a: Tensor, b: Tensor) -> Tensor:
        """Cosine of every a[i] with every b[j], [n, m]."""
        return super().matrix(F.normalize(a, dim=-1), F.normalize(b, dim=-1))


class HadamardMLP(Decoder):
    """An MLP (hidden → hidden → 1) over the element-wise product u ⊙ v."""

    inner_product = False

    def __init__(self, hidden: int, budget: int = 1 << 24) -> None:
        """`budget` bounds the elements of the [rows, m, hidden] products `matrix` builds."""
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.budget = budget

    def pairs(self, a: Tensor, b: Tensor) -> Tensor:
        """MLP score of a[i] ⊙ b[i], [n]."""
        return self.mlp(a * b).squeeze(-1)

    def matrix(self, a: Tensor, b: Tensor) -> Tensor:
        """MLP score of every a[i] ⊙ b[j], [n, m], in chunks of rows of `a`."""
        if len(a) == 0 or len(b) == 0:
            return a.new_zeros((len(a), len(b)))
        rows = max(1, self.budget // (len(b) * a.shape[1]))
        return torch.cat(
            [self.mlp(a[i : i + rows, None] * b[None]).squeeze(-1) for i in range(0, len(a), rows)]
        )


def build_decoder(name: str, hidden: int) -> Decoder:
    """The decoder `model.decoder` names, for embeddings of `hidden` dimensions."""
    if name == "dot":
        return DotDecoder()
    if name == "cosine":
        return CosineDecoder()
    if name == "hadamard_mlp":
        return HadamardMLP(hidden)
    raise ValueError(f"unknown decoder '{name}'; use {', '.join(DECODERS)}")


class LinkModel(nn.Module):
    """An encoder and the decoder that scores its embeddings, trained and saved together."""

    def __init__(self, encoder: nn.Module, decoder: Decoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(
        self, x: dict, n_id: dict, edge_index: dict, score: Callable[..., Any] | None = None
    ) -> Any:
        """Embeddings per node type; with `score`, score(embeddings, decoder) instead, so the
        decoder's parameters are used inside forward (as DDP requires)."""
        out = self.encoder(x, n_id, edge_index)
        return out if score is None else score(out, self.decoder)
