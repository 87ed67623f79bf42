"""The run directory `runs/<name>/` (DESIGN.md): where every stage's artifacts live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gigalearn.graph.config import GraphConfig


@dataclass(frozen=True)
class RunDir:
    """Where one task's artifacts live; every stage reads only earlier stages' artifacts."""

    root: Path
    mirror: str | None = None
    """The URL this host-local copy stands for (a run on object storage), else None."""

    ENTRIES = (
        "graph", "splits", "partition", "model", "embeddings", "metrics.json", "stages.json",
        "config.frozen.yaml",
    )  # fmt: skip
    """Everything a run directory may hold (DESIGN.md, "Run directory")."""

    @property
    def graph(self) -> Path:
        return self.root / "graph"

    @property
    def frozen_config(self) -> Path:
        return self.root / "config.frozen.yaml"

    @property
    def splits(self) -> Path:
        return self.root / "splits"

    @property
    def train_graph(self) -> Path:
        return self.root / "splits" / "train_graph"

    @property
    def checkpoints(self) -> Path:
        return self.root / "model" / "checkpoints"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def tensorboard(self) -> Path:
        return self.root / "model" / "tensorboard"

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def train_log(self) -> Path:
        return self.root / "model" / "train.jsonl"

    @classmethod
    def for_config(cls, cfg: GraphConfig, runs_root: str | Path = "runs") -> RunDir:
        return cls(Path(runs_root) / cfg.name)
