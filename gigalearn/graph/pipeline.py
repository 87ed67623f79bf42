"""Stages of a graph task and its run directory (`runs/<name>/`, DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gigalearn.common.atomic import atomic_write_text
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.preprocess.build import Step, build_graph


@dataclass(frozen=True)
class RunDir:
    """Where one task's artifacts live; every stage reads only earlier stages' artifacts."""

    root: Path

    @property
    def graph(self) -> Path:
        return self.root / "graph"

    @property
    def frozen_config(self) -> Path:
        return self.root / "config.frozen.yaml"

    @classmethod
    def for_config(cls, cfg: GraphConfig, runs_root: str | Path = "runs") -> RunDir:
        return cls(Path(runs_root) / cfg.name)


def ensure_source_data(cfg: GraphConfig, step: Step | None = None) -> None:
    """Fetch the dataset the source names into its DuckDB file, when the file is missing."""
    src = cfg.source
    if src.dataset and src.uri and not Path(src.uri).exists():
        from gigalearn.graph.datasets.movielens import fetch_movielens

        if step:
            step(f"fetching {src.dataset} into {src.uri}")
        fetch_movielens(src.dataset.removeprefix("movielens-"), src.uri)


def preprocess(cfg: GraphConfig, run: RunDir, step: Step | None = None) -> dict:
    """The preprocess stage: source tables → GraphStore in `run.graph`; saves the frozen config."""
    ensure_source_data(cfg, step)
    metadata = build_graph(cfg, run.graph, step)
    frozen = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    atomic_write_text(run.frozen_config, frozen)
    return metadata
