"""The typed task config: where the data is, what the graph is, what to learn (DESIGN.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from gigalearn.common.config_loading import LocatedError, load_yaml_config, validate_config
from gigalearn.graph.stage_config import (
    EarlyStoppingConfig as EarlyStoppingConfig,
)
from gigalearn.graph.stage_config import (
    EvaluateConfig as EvaluateConfig,
)
from gigalearn.graph.stage_config import (  # re-exported: the sections live there
    FrozenModel as FrozenModel,
)
from gigalearn.graph.stage_config import (
    InferConfig as InferConfig,
)
from gigalearn.graph.stage_config import (
    ModelConfig as ModelConfig,
)
from gigalearn.graph.stage_config import (
    NegativesConfig as NegativesConfig,
)
from gigalearn.graph.stage_config import (
    PartitionConfig as PartitionConfig,
)
from gigalearn.graph.stage_config import (
    SamplingConfig as SamplingConfig,
)
from gigalearn.graph.stage_config import (
    SplitConfig as SplitConfig,
)
from gigalearn.graph.stage_config import (
    TaskConfig as TaskConfig,
)
from gigalearn.graph.stage_config import (
    TrainConfig as TrainConfig,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class SourceConfig(FrozenModel):
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


class _Transform(FrozenModel):
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


class _Relation(FrozenModel):
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
    features: dict[str, FeatureSpec] = Field(default_factory=dict)
    label: str | None = None
    """Column of class labels for node classification (any type; enumerated to 0..C-1)."""


class EdgeConfig(_Relation):
    type: tuple[str, str, str]
    src: str
    dst: str
    weight: str | None = None
    time: str | None = None
    """Timestamp column (numeric or timestamp; stored as int64 seconds or the raw number)."""
    features: dict[str, FeatureSpec] = Field(default_factory=dict)
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


class GraphConfig(FrozenModel):
    """A whole task: one YAML file."""

    name: str
    source: SourceConfig = SourceConfig()
    nodes: dict[str, NodeConfig]
    edges: list[EdgeConfig] = Field(default_factory=list)
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
