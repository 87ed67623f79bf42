"""Losses for anchor-based link prediction and node classification.

Shapes: B anchors, each with one positive; R random negatives shared by the batch; scores come
from a decoder (nn/decoders.py; default: inner products) of embeddings of dimension d.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gigalearn.graph.nn.decoders import Decoder, DotDecoder


class RetrievalLoss(nn.Module):
    """Softmax cross-entropy of each anchor's positive against in-batch positives of the other
    anchors, shared random negatives and the anchor's hard negatives (sampled softmax).

    `temperature` divides the scores (smaller = sharper). Candidates equal to the anchor's own
    positive (same destination id), and random negatives flagged by `neg_hit_mask`, are masked
    out, so accidental hits are not pushed away.

    logQ correction (Yi et al. 2019, "Sampling-bias-corrected neural modeling"): in-batch
    candidates are other anchors' positives, so a destination appears in proportion to its
    popularity and the plain softmax pushes popular destinations down. Giving `pos_logq` [B]
    (log of each in-batch candidate's expected count among the candidates) and `neg_logq`
    (the same for the random negatives, e.g. log(R / N) for uniform ones) subtracts it from
    those logits, which makes the sampled softmax estimate the full one.
    """

    def __init__(self, temperature: float = 0.1, in_batch: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature, self.in_batch = temperature, in_batch

    def forward(
        self,
        anchor: Tensor,
        pos: Tensor,
        neg: Tensor | None = None,
        pos_ids: Tensor | None = None,
        neg_hit_mask: Tensor | None = None,
        hard: Tensor | None = None,
        hard_rows: Tensor | None = None,
        pos_logq: Tensor | None = None,
        neg_logq: Tensor | float | None = None,
        decoder: Decoder | None = None,
    ) -> Tensor:
        """anchor, pos: [B, d]; neg: [R, d]; pos_ids: [B] destination ids (for in-batch hits);
        neg_hit_mask: [B, R]; hard: [H, d] with hard_rows: [H] (which anchor each belongs to);
        pos_logq: [B], neg_logq: [R] or a number (logQ correction, see the class); decoder: how
        pairs are scored (default: inner product)."""
        dec = decoder if decoder is not None else DotDecoder()
        b = anchor.shape[0]
        if self.in_batch:
            logits = dec.matrix(anchor, pos)  # [B, B]: the diagonal holds each anchor's positive
            if pos_ids is not None:
                same = pos_ids[None, :] == pos_ids[:, None]
                logits = logits.masked_fill(same & ~torch.eye(b, dtype=torch.bool), float("-inf"))
        else:
            logits = dec.pairs(anchor, pos)[:, None]  # [B, 1]
        parts = [logits]
        # per-column logQ, subtracted after the temperature (it is a log-probability)
        shift = [pos_logq if self.in_batch and pos_logq is not None else torch.zeros(len(logits.T))]
        if neg is not None and len(neg):
            n = dec.matrix(anchor, neg)
            if neg_hit_mask is not None:
                n = n.masked_fill(neg_hit_mask, float("-inf"))
            parts.append(n)
            shift.append(torch.as_tensor(0.0 if neg_logq is None else neg_logq).expand(len(neg)))
        if hard is not None and len(hard):
            h = torch.full((b, len(hard)), float("-inf"), dtype=anchor.dtype)
            cols = torch.arange(len(hard))
            h[hard_rows, cols] = dec.pairs(anchor[hard_rows], hard)
            parts.append(h)
            shift.append(torch.zeros(len(hard)))
        logits = torch.cat(parts, dim=1) / self.temperature - torch.cat(shift).to(anchor.dtype)
        target = torch.arange(b) if self.in_batch else torch.zeros(b, dtype=torch.long)
        return F.cross_entropy(logits, target)


def popularity_logq(dst: np.ndarray, num_nodes: int) -> Tensor:
    """log of each destination's share of the edges `dst` (at least one count each), [N]."""
    counts = np.bincount(np.asarray(dst, dtype=np.int64), minlength=num_nodes).clip(min=1)
    return torch.from_numpy(np.log(counts / counts.sum())).float()


def bpr_loss(pos_score: Tensor, neg_score: Tensor) -> Tensor:
    """Bayesian personalised ranking: -log σ(s⁺ − s⁻); neg_score [B] or [B, R]."""
    if neg_score.dim() == 2:
        pos_score = pos_score[:, None]
    return -F.logsigmoid(pos_score - neg_score).mean()


def margin_loss(pos_score: Tensor, neg_score: Tensor, margin: float = 0.5) -> Tensor:
    """Hinge: max(0, margin − s⁺ + s⁻); neg_score [B] or [B, R]."""
    if neg_score.dim() == 2:
        pos_score = pos_score[:, None]
    return F.relu(margin - pos_score + neg_score).mean()
