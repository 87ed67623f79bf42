"""The typed task config: where the data is, what the graph is, what to learn (DESIGN.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gigalearn.common.config_loading import LocatedError, load_yaml_config, validate_config

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_METRIC = re.compile(r"^(recall|ndcg|hit|precision)@[1-9][0-9]*$|^(mrr|accuracy|macro_f1|auc)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Model):
    """A relational source read through Ibis. Relative paths are relative to the working folder."""

    engine: Literal["duckdb", "sqlite", "postgres", "files", "spark", "bigquery"] = "duckdb"
    uri: str | None = None
    """duckdb: database file (None = in-memory); sqlite: file; postgres: URL; files: a folder of
    Parquet/CSV files, each one a table named after the file; spark: a folder (any Hadoop path:
    local, hdfs://, s3a://, gs://) whose Parquet/CSV files or Parquet folders are tables, or None
    for the tables of the session's catalog (Hive); bigquery: bigquery://PROJECT/DATASET."""
    dataset: Literal["movielens-100k", "movielens-1m"] | None = None
    """If set and the DuckDB file `uri` does not exist yet, fetch this dataset into it first."""
    master: str | None = None
    """spark: the master URL (e.g. local[4], yarn). None: the session spark-submit started, or
    the active one, or local mode on 2 cores."""
    database: str | None = None
    """spark: the catalog database that holds the tables (default: the current one)."""

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        if self.engine in ("sqlite", "postgres", "files", "bigquery") and not self.uri:
            raise ValueError(f"engine '{self.engine}' needs a 'uri'")
        if self.dataset and (self.engine != "duckdb" or not self.uri):
            raise ValueError("'dataset' fetches into a DuckDB file: set engine: duckdb and a uri")
        if self.engine != "spark" and (self.master or self.database):
            raise ValueError("'master' and 'database' are options of engine: spark")
        if self.engine == "bigquery" and not self.uri.startswith("bigquery://"):
            raise ValueError("engine 'bigquery' takes uri: bigquery://PROJECT/DATASET")
        return self


# ---- feature transforms -------------------------------------------------------------------

MissingPolicy = Literal["error", "fill", "indicator"]
FeatureStorage = Literal["float32", "float16", "bfloat16", "int8"]


class _Transform(_Model):
    column: str | None = None
    """Source column; defaults to the feature's name."""
    missing: MissingPolicy = "error"
    """What to do with NULL / NaN: fail naming the row, fill with `fill_value` (or the fitted
    mean / an empty category), or fill and add a 0/1 indicator column."""
    fill_value: float | str | None = None
    storage: FeatureStorage = "float32"
    """How the feature's columns are stored in the GraphStore: float16 / bfloat16 halve them,
    int8 (per-column scale and offset) quarters them; loaders return float32 either way
    (docs/graph-config.md, "Compact features")."""


class Passthrough(_Transform):
    kind: Literal["passthrough"]
    length: int | None = Field(None, ge=1, description="fixed list length; None for a scalar")


class Standardize(_Transform):
    kind: Literal["standardize"]


class MinMax(_Transform):
    kind: Literal["min_max"]


class Log1p(_Transform):
    kind: Literal["log1p"]


class Bucketize(_Transform):
    kind: Literal["bucketize"]
    boundaries: list[float] | None = None
    num_buckets: int | None = Field(None, ge=2, description="quantile buckets fitted on the data")

    @model_validator(mode="after")
    def _one(self) -> Bucketize:
        if (self.boundaries is None) == (self.num_buckets is None):
            raise ValueError("give exactly one of 'boundaries' or 'num_buckets'")
        if self.boundaries is not None and sorted(self.boundaries) != self.boundaries:
            raise ValueError("'boundaries' must be increasing")
        return self


class Categorical(_Transform):
    kind: Literal["categorical"]
    max_vocab: int | None = Field(None, ge=1)
    min_count: int = Field(1, ge=1)


class MultiHot(_Transform):
    kind: Literal["multi_hot"]
    sep: str = "|"
    max_vocab: int | None = Field(None, ge=1)
    min_count: int = Field(1, ge=1)


class Hashing(_Transform):
    kind: Literal["hashing"]
    buckets: int = Field(32, ge=2)


def _normalize_feature(value: Any) -> Any:
    """Accept `standardize`, `{multi_hot: {sep: "|"}}` or `{kind: multi_hot, sep: "|"}`."""
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and "kind" not in value and len(value) == 1:
        ((kind, params),) = value.items()
        return {"kind": kind, **(params or {})}
    return value


FeatureSpec = Annotated[
    Passthrough | Standardize | MinMax | Log1p | Bucketize | Categorical | MultiHot | Hashing,
    Field(discriminator="kind"),
    BeforeValidator(_normalize_feature),
]


# ---- nodes and edges ----------------------------------------------------------------------


class _Relation(_Model):
    table: str | None = None
    query: str | None = None
    """SQL run in the source instead of a table."""

    @model_validator(mode="after")
    def _table_or_query(self) -> _Relation:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self

    @property
    def relation_name(self) -> str:
        return f"table '{self.table}'" if self.table else "query"


class NodeConfig(_Relation):
    id: str
    features: dict[str, FeatureSpec] = {}
    label: str | None = None
    """Column of class labels for node classification (any type; enumerated to 0..C-1)."""


class EdgeConfig(_Relation):
    type: tuple[str, str, str]
    src: str
    dst: str
    weight: str | None = None
    time: str | None = None
    """Timestamp column (numeric or timestamp; stored as int64 seconds or the raw number)."""
    features: dict[str, FeatureSpec] = {}
    reverse: bool | str = False
    """Also expose the reversed edge type; True names it `rev_<relation>`."""
    self_loops: Literal["keep", "drop", "error"] = "keep"
    duplicates: Literal["keep", "drop", "error"] = "keep"
    """Parallel edges with the same (src, dst): keep all, keep the earliest, or fail."""
    dangling: Literal["drop", "error"] = "error"
    """Edges whose endpoint is not a node: drop and count them, or fail naming a few."""

    @property
    def reverse_type(self) -> tuple[str, str, str] | None:
        if self.reverse is False:
            return None
        rel = self.reverse if isinstance(self.reverse, str) else f"rev_{self.type[1]}"
        return (self.type[2], rel, self.type[0])


# ---- later stages (validated now, used by the sampling / training issues) -------------------


class SplitConfig(_Model):
    strategy: Literal["random", "temporal", "inductive"] = "random"
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 0


class TaskConfig(_Model):
    kind: Literal["link_prediction", "node_classification"]
    target: tuple[str, str, str] | str
    """An edge type for link prediction, a node type for node classification."""
    split: SplitConfig = SplitConfig()


class NegativesConfig(_Model):
    in_batch: bool = True
    random: int = Field(0, ge=0)
    hard: str | None = None


class SamplingConfig(_Model):
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


class ModelConfig(_Model):
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


class EarlyStoppingConfig(_Model):
    metric: str = "recall@20"
    patience: int = Field(2, ge=1)
    """Epochs without improvement of the validation metric before training stops."""


class TrainConfig(_Model):
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
    tensorboard: bool = True
    """Also write losses and validation metrics as TensorBoard events under model/tensorboard
    (when the tensorboard package is installed; skipped silently otherwise)."""


class InferConfig(_Model):
    write_back: str | None = None


class EvaluateConfig(_Model):
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


class PartitionConfig(_Model):
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


class GraphConfig(_Model):
    """A whole task: one YAML file."""

    name: str
    source: SourceConfig = SourceConfig()
    nodes: dict[str, NodeConfig]
    edges: list[EdgeConfig] = []
    task: TaskConfig | None = None
    sampling: SamplingConfig = SamplingConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    infer: InferConfig = InferConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    partition: PartitionConfig | None = None

    @model_validator(mode="after")
    def _references(self) -> GraphConfig:
        for name in [self.name, *self.nodes]:
            if not _NAME.match(name):
                raise ValueError(f"'{name}' is not a valid name (letters, digits, _ and -)")
        if not self.nodes:
            raise ValueError("'nodes' declares no node type")
        seen: set[tuple[str, str, str]] = set()
        for i, e in enumerate(self.edges):
            for end in (e.type[0], e.type[2]):
                if end not in self.nodes:
                    raise LocatedError(
                        ("edges", i, "type"),
                        f"names node type '{end}', which is not declared under 'nodes' "
                        f"(declared: {sorted(self.nodes)})",
                    )
            for t in (e.type, e.reverse_type):
                if t is None:
                    continue
                if t in seen:
                    raise LocatedError(
                        ("edges", i, "type"), f"edge type {list(t)} is declared twice"
                    )
                seen.add(t)
        if self.model.encoder == "lightgcn":
            self._check_lightgcn()
        if self.model.decoder == "hadamard_mlp" and self.evaluate.search == "faiss":
            raise LocatedError(
                ("evaluate", "search"),
                "faiss ranks by inner product, which model.decoder 'hadamard_mlp' is not: use "
                "search: exact, or decoder dot or cosine",
            )
        if isinstance(self.sampling.fanout, dict):
            unknown = [k for k in self.sampling.fanout if tuple(k.split("/")) not in seen]
            if unknown:
                raise LocatedError(("sampling", "fanout"), f"names undeclared edge types {unknown}")
        if self.task is not None:
            tgt = self.task.target
            if self.task.kind == "link_prediction" and tuple(tgt) not in seen:
                raise LocatedError(("task", "target"), f"{tgt} is not a declared edge type")
            if self.task.kind == "node_classification":
                retrieval = [m for m in self.evaluate.metrics if "@" in m or m == "mrr"]
                if retrieval and "metrics" in self.evaluate.model_fields_set:
                    raise LocatedError(
                        ("evaluate", "metrics"),
                        f"{retrieval} are retrieval "
                        "metrics; node classification has accuracy and macro_f1",
                    )
                if not isinstance(tgt, str) or tgt not in self.nodes:
                    raise LocatedError(("task", "target"), f"'{tgt}' is not a declared node type")
                if self.nodes[tgt].label is None:
                    raise LocatedError(
                        ("task", "target"), f"node classification needs nodes.{tgt}.label"
                    )
        return self

    def _check_lightgcn(self) -> None:
        # K propagation layers read K hops: with fewer, the deepest layers see zeros at the seeds
        fanout = self.sampling.fanout
        hops = len(next(iter(fanout.values()))) if isinstance(fanout, dict) else len(fanout)
        if hops < self.model.layers:
            raise LocatedError(
                ("model", "layers"),
                f"lightgcn with {self.model.layers} layers needs {self.model.layers} hops of "
                f"sampling.fanout, which has {hops}",
            )
        if self.sampling.direction != "in":
            raise LocatedError(
                ("sampling", "direction"),
                "lightgcn propagates towards the seeds: use direction 'in'",
            )

    @model_validator(mode="after")
    def _task_metrics(self) -> GraphConfig:
        if (
            self.task is not None
            and self.task.kind == "node_classification"
            and "metrics" not in self.evaluate.model_fields_set
        ):
            return self.model_copy(
                update={"evaluate": EvaluateConfig(metrics=["accuracy", "macro_f1"])}
            )
        return self

    @property
    def edge_types(self) -> list[tuple[str, str, str]]:
        out = []
        for e in self.edges:
            out.append(e.type)
            if e.reverse_type:
                out.append(e.reverse_type)
        return out


def load_config(path: str | Path) -> GraphConfig:
    """Load and validate a task config YAML file."""
    return load_yaml_config(path, GraphConfig)


def config_from_dict(data: dict, source: str = "<config>") -> GraphConfig:
    """Validate a task config given as a mapping (e.g. built in a notebook or a test)."""
    return validate_config(data, GraphConfig, source)
