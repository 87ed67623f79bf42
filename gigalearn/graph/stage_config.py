"""Typed config sections of the learning stages: split, task, sampling, model, train, infer,
evaluate and partition (the graph's own sections are in `config.py`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gigalearn.common.config_loading import LocatedError

_METRIC = re.compile(r"^(recall|ndcg|hit|precision)@[1-9][0-9]*$|^(mrr|accuracy|macro_f1|auc)$")


class FrozenModel(BaseModel):
    """A config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(FrozenModel):
    strategy: Literal["random", "temporal", "inductive"] = "random"
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 0


class TaskConfig(FrozenModel):
    kind: Literal["link_prediction", "node_classification"]
    target: tuple[str, str, str] | str
    """An edge type for link prediction, a node type for node classification."""
    split: SplitConfig = SplitConfig()


class NegativesConfig(FrozenModel):
    in_batch: bool = True
    random: int = Field(0, ge=0)
    hard: str | None = None


class SamplingConfig(FrozenModel):
    """Neighbourhood sampling (see docs/graph-sampling.md)."""

    fanout: list[int] | dict[str, list[int]] = [10, 10]
    """Per hop (-1 = all), or per edge type written "src/relation/dst"."""
    direction: Literal["in", "out"] = "in"
    replace: bool = False
    weighted: bool = False
    temporal: bool = False
    negatives: NegativesConfig = NegativesConfig()

    @field_validator("fanout")
    @classmethod
    def _fanout(cls, v: list[int] | dict[str, list[int]]) -> list[int] | dict[str, list[int]]:
        lists = v.values() if isinstance(v, dict) else [v]
        for f in lists:
            if not f or any(k == 0 or k < -1 for k in f):
                raise ValueError("fanout is a non-empty list of positive counts (or -1 for all)")
        if isinstance(v, dict):
            bad = [k for k in v if len(k.split("/")) != 3]
            if bad:
                raise ValueError(f"fanout keys must be edge types 'src/relation/dst', got {bad}")
        return v

    def edge_fanout(self) -> list[int] | dict[tuple[str, str, str], list[int]]:
        """The fanout with edge-type keys as tuples, as the samplers take it."""
        if isinstance(self.fanout, dict):
            return {tuple(k.split("/")): f for k, f in self.fanout.items()}
        return list(self.fanout)


_ENCODERS = ("sage", "gat", "gin", "gcn", "lightgcn", "hgt")


class ModelConfig(FrozenModel):
    encoder: str = "sage"
    """sage, gat, gin, gcn, lightgcn, hgt, or a user model 'package.module:Class'
    (docs/graph-training.md)."""
    hidden: int = Field(64, ge=1)
    layers: int = Field(2, ge=1)
    heads: int = Field(2, ge=1)
    """Attention heads of hgt (`hidden` must be divisible by it)."""
    normalize: bool = True
    """L2-normalise the output embeddings (inner products become cosine similarities)."""
    decoder: Literal["dot", "cosine", "hadamard_mlp"] = "dot"
    """How link prediction scores a (source, destination) pair: the inner product of the
    embeddings (cosines with `normalize: true`), `cosine` (always normalises the embeddings), or
    an MLP over their element-wise product trained with the encoder (docs/graph-training.md)."""
    id_embeddings: bool = False
    """Add a learnable embedding per node (always on for node types without features, and for
    lightgcn)."""
    features: bool = True
    """Use the node features as input (false: ids only, e.g. a pure LightGCN)."""
    loss: Literal["retrieval", "bpr", "margin"] = "retrieval"
    temperature: float = Field(0.1, gt=0)
    logq_correction: bool = True
    """Retrieval loss: subtract from each sampled candidate's logit the log of how often it is
    expected among the candidates (popularity for in-batch negatives, R/N for uniform ones),
    so popular destinations are not pushed down for being sampled often."""

    @field_validator("encoder")
    @classmethod
    def _encoder(cls, v: str) -> str:
        if v not in _ENCODERS and ":" not in v:
            raise ValueError(
                f"unknown encoder '{v}'; use {', '.join(_ENCODERS)} or a user model "
                "'package.module:Class'"
            )
        return v

    @model_validator(mode="after")
    def _heads(self) -> ModelConfig:
        if self.encoder == "hgt" and self.hidden % self.heads:
            raise ValueError(
                f"hgt: hidden ({self.hidden}) must be divisible by heads ({self.heads})"
            )
        if self.decoder == "cosine" and not self.normalize:
            raise LocatedError(
                ("normalize",),
                "decoder 'cosine' scores L2-normalised embeddings: drop normalize: false, or "
                "use decoder 'dot' for raw inner products",
            )
        return self


class EarlyStoppingConfig(FrozenModel):
    metric: str = "recall@20"
    patience: int = Field(2, ge=1)
    """Epochs without improvement of the validation metric before training stops."""


class TrainConfig(FrozenModel):
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(512, ge=1)
    lr: float = Field(0.001, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine"] = "constant"
    grad_clip: float | None = Field(None, gt=0)
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint_every: int = Field(0, ge=0)
    """Also checkpoint every N steps (0: only at the end of each epoch)."""
    max_steps_per_epoch: int | None = Field(None, ge=1)
    seed: int = 0
    num_workers: int = Field(0, ge=0)
    loader_threads: int = Field(1, ge=1)
    """Batches built at once by threads of the training process (with num_workers: 0): the
    same batches as one thread builds, sooner on several cores (docs/graph-sampling.md)."""
    tensorboard: bool = True
    """Also write losses and validation metrics as TensorBoard events under model/tensorboard
    (when the tensorboard package is installed; skipped silently otherwise)."""

    @model_validator(mode="after")
    def _workers_or_threads(self) -> TrainConfig:
        if self.loader_threads > 1 and self.num_workers > 0:
            raise LocatedError(
                ("loader_threads",),
                f"loader_threads: {self.loader_threads} with num_workers: {self.num_workers}: "
                "batches are built either by worker processes or by threads; set one of them to "
                "its default (num_workers: 0 or loader_threads: 1)",
            )
        return self


class InferConfig(FrozenModel):
    write_back: str | None = None


class EvaluateConfig(FrozenModel):
    metrics: list[str] = ["recall@20", "ndcg@20", "mrr"]
    search: Literal["exact", "faiss"] = "exact"
    """Link prediction: rank all candidates exactly (chunked), or approximately with a faiss
    HNSW index (needs faiss-cpu and a dot or cosine decoder; MRR within the top K)."""

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if not _METRIC.match(m)]
        if bad:
            raise ValueError(
                f"unknown metric(s) {bad}; use recall@K, ndcg@K, hit@K, precision@K, mrr, "
                "accuracy, macro_f1 or auc"
            )
        return v


class PartitionConfig(FrozenModel):
    """Partitioning of the nodes for locality (docs/graph-config.md, `partition`)."""

    method: Literal["metis", "hash", "range"] = "metis"
    """metis: few cut edges (pymetis); hash: a stable hash of the dense id; range: contiguous
    blocks of dense ids."""
    parts: int = Field(2, ge=1)
    seed: int = 0
    """METIS's random seed."""
    split_seeds: bool = False
    """Give each torchrun rank the training examples and inference seeds of its own parts
    (rank r owns parts r, r + world, ...): fewer remote neighbours, slightly different batches."""
    sampling: Literal["local", "rpc"] = "local"
    """local: every rank samples from the whole (memory-mapped) GraphStore. rpc: each rank
    holds only the CSR rows of its parts and asks their owners for the rest over
    torch.distributed.rpc; the batches are exactly the local ones."""
