"""What is learned: link prediction (anchors and their positive destinations) or node
classification (labelled seed nodes). The trainer's loop is the same for both; a task says
what an example is, how a batch is loaded, the loss, and how validation is scored."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.evaluate import Metric, classification_metrics, held_out_metrics
from gigalearn.graph.infer import compute_embeddings
from gigalearn.graph.nn.decoders import Decoder, LinkModel, build_decoder
from gigalearn.graph.nn.encoders import GraphEncoder, batch_inputs, is_hetero_batch
from gigalearn.graph.nn.lightgcn import in_degrees
from gigalearn.graph.nn.losses import RetrievalLoss, bpr_loss, margin_loss, popularity_logq
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.sampling.loaders import LinkBatchOptions, LinkLoader, NodeLoader
from gigalearn.graph.split import Split
from gigalearn.graph.store import GraphStore

SamplerFactory = Callable[[GraphStore, KHopOptions], KHopSampler]
"""Makes the sampler a task's loaders use: `KHopSampler`, or one that asks other hosts."""


def build_encoder(cfg: GraphConfig, store: GraphStore) -> GraphEncoder:
    """The encoder the config asks for, sized to the store."""
    torch.manual_seed(cfg.train.seed)
    m = cfg.model
    return GraphEncoder(
        m.encoder,
        m.hidden,
        m.layers,
        (store.node_types, store.edge_types),
        {t: store.node_meta(t)["feature_dim"] if m.features else 0 for t in store.node_types},
        {t: store.num_nodes(t) for t in store.node_types},
        id_embeddings=m.id_embeddings,
        normalize=m.normalize or m.decoder == "cosine",
        degrees=in_degrees(store) if m.encoder == "lightgcn" else None,
        heads=m.heads,
    )


class NodeClassifier(nn.Module):
    """An encoder and a linear head on one node type: logits per class."""

    def __init__(self, encoder: GraphEncoder, node_type: str, num_classes: int) -> None:
        super().__init__()
        self.encoder, self.node_type = encoder, node_type
        self.head = nn.Linear(
            encoder.inputs[node_type].emb.embedding_dim
            if encoder.inputs[node_type].proj is None
            else encoder.inputs[node_type].proj.out_features,
            num_classes,
        )

    def forward(self, x, n_id, edge_index) -> dict[str, torch.Tensor]:
        h = self.encoder(x, n_id, edge_index)
        return {self.node_type: self.head(h[self.node_type])}


@dataclass
class LinkTask:
    """Anchor-based link prediction on `cfg.task.target`, trained on the training graph."""

    cfg: GraphConfig
    store: GraphStore
    full: GraphStore
    split: Split
    make_sampler: SamplerFactory = KHopSampler

    def __post_init__(self) -> None:
        self.target = tuple(self.cfg.task.target)
        src, dst = self.full.edge_index(self.target)
        self.src, self.dst = src[self.split.train], dst[self.split.train]
        self.loss_fn = RetrievalLoss(
            self.cfg.model.temperature, in_batch=self.cfg.sampling.negatives.in_batch
        )
        # log of each destination's share of the training edges: how likely it is to be an
        # in-batch negative (the logQ correction)
        self.log_pop = (
            popularity_logq(self.dst, self.full.num_nodes(self.target[2]))
            if self.cfg.model.logq_correction
            else None
        )

    @property
    def num_examples(self) -> int:
        return len(self.src)

    def build_model(self) -> LinkModel:
        m = self.cfg.model
        return LinkModel(build_encoder(self.cfg, self.store), build_decoder(m.decoder, m.hidden))

    def loader(self, rows: np.ndarray, seed: int, batch_size: int, workers: int, threads: int = 1):
        return LinkLoader(
            self.store,
            self.target,
            edges=(self.src[rows], self.dst[rows]),
            sampler=sampler(self),
            negatives=LinkBatchOptions(self.cfg.sampling.negatives.random),
            batch_size=batch_size,
            seed=seed,
            num_workers=workers,
            threads=threads,
        )

    def loss(self, model: nn.Module, batch) -> torch.Tensor:
        # scored inside the model's forward, so DDP sees the decoder's parameters used
        return model(
            *batch_inputs(batch, self.target[0]),
            score=lambda out, decoder: self._loss(out, decoder, batch),
        )

    def _loss(self, out: dict[str, torch.Tensor], decoder: Decoder, batch) -> torch.Tensor:
        s_type, _, d_type = self.target
        a, p = out[s_type][batch.anchor_index], out[d_type][batch.pos_index]
        n = out[d_type][batch.neg_index]
        if self.cfg.model.loss == "retrieval":
            d_ids = batch[d_type].n_id if is_hetero_batch(batch) else batch.n_id
            pos_ids = d_ids[batch.pos_index]
            logq = {}
            if self.log_pop is not None:
                # expected count among the candidates: B in-batch draws by popularity, R uniform
                b, n_dst = len(pos_ids), len(self.log_pop)
                logq = {
                    "pos_logq": self.log_pop[pos_ids] + math.log(b),
                    "neg_logq": math.log(max(len(n), 1) / n_dst),
                }
            return self.loss_fn(
                a,
                p,
                n,
                pos_ids=pos_ids,
                neg_hit_mask=batch.get("neg_hit_mask"),
                decoder=decoder,
                **logq,
            )
        if len(n) == 0:
            raise ConfigError("bpr and margin losses need sampling.negatives.random > 0")
        pos, neg = decoder.pairs(a, p), decoder.matrix(a, n)
        return bpr_loss(pos, neg) if self.cfg.model.loss == "bpr" else margin_loss(pos, neg)

    def validate(self, model: LinkModel) -> dict[str, float]:
        """Validation edges ranked among all destinations, training destinations filtered."""
        s_type, _, d_type = self.target
        options = KHopOptions.from_config(self.cfg.sampling)
        q = compute_embeddings(model, self.store, s_type, options, sampler=sampler(self))
        items = compute_embeddings(model, self.store, d_type, options, sampler=sampler(self))
        src, dst = self.full.edge_index(self.target)
        metrics = [Metric.parse(m) for m in self.cfg.evaluate.metrics]
        return held_out_metrics(
            q, items, src, dst, self.split.val, self.split.train, metrics, decoder=model.decoder
        )


@dataclass
class NodeTask:
    """Node classification of `cfg.task.target`'s labelled nodes (transductive: the whole
    graph is sampled; only the labels of validation and test nodes are held out)."""

    cfg: GraphConfig
    store: GraphStore
    split: Split
    make_sampler: SamplerFactory = KHopSampler

    def __post_init__(self) -> None:
        self.node_type = self.cfg.task.target
        self.labels = np.asarray(self.store.node_labels(self.node_type))
        self.num_classes = len(self.store.node_meta(self.node_type)["label"]["classes"])

    @property
    def num_examples(self) -> int:
        return len(self.split.train)

    def build_model(self) -> nn.Module:
        return NodeClassifier(build_encoder(self.cfg, self.store), self.node_type, self.num_classes)

    def loader(self, rows: np.ndarray, seed: int, batch_size: int, workers: int, threads: int = 1):
        return NodeLoader(
            self.store,
            self.node_type,
            seeds=self.split.train[rows],
            sampler=sampler(self),
            batch_size=batch_size,
            seed=seed,
            num_workers=workers,
            threads=threads,
        )

    def loss(self, model: nn.Module, batch) -> torch.Tensor:
        logits, y, size = self._logits(model, batch)
        return F.cross_entropy(logits[:size], y[:size])

    def _logits(self, model: nn.Module, batch):
        t = self.node_type
        logits = model(*batch_inputs(batch, t))[t]
        data = batch[t] if is_hetero_batch(batch) else batch
        return logits, data.y, data.batch_size

    @torch.no_grad()
    def predict(self, model: nn.Module, nodes: np.ndarray) -> np.ndarray:
        """Class probabilities of `nodes`, [n, classes]."""
        was = model.training
        model.eval()
        parts = []
        for batch in NodeLoader(
            self.store,
            self.node_type,
            seeds=nodes,
            batch_size=1024,
            sampler=sampler(self),
        ):
            logits, _, size = self._logits(model, batch)
            parts.append(logits[:size].softmax(-1))
        model.train(was)
        return torch.cat(parts).numpy() if parts else np.empty((0, self.num_classes))

    def validate(self, model: nn.Module, which: str = "val") -> dict[str, float]:
        nodes = getattr(self.split, which)
        pred = self.predict(model, nodes).argmax(1)
        metrics = [Metric.parse(m) for m in self.cfg.evaluate.metrics]
        return classification_metrics(pred, self.labels[nodes], metrics)


def sampler(task: LinkTask | NodeTask) -> KHopSampler:
    """A sampler over the graph `task` trains on, with the config's sampling options."""
    return task.make_sampler(task.store, KHopOptions.from_config(task.cfg.sampling))


def make_task(cfg: GraphConfig, run: RunDir) -> LinkTask | NodeTask:
    """The task of `cfg`, reading the split and the graph it trains on from `run`."""
    if cfg.task is None:
        raise ConfigError(
            "training needs a `task` section (link_prediction or node_classification)"
        )
    split = Split.load(run.splits / ("edges" if cfg.task.kind == "link_prediction" else "nodes"))
    if cfg.task.kind == "link_prediction":
        return LinkTask(cfg, GraphStore(run.train_graph), GraphStore(run.graph), split)
    return NodeTask(cfg, GraphStore(run.graph), split)
