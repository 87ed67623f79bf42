"""Stages of a graph task and its run directory (`runs/<name>/`, DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import yaml

from gigalearn.common.atomic import atomic_write_text
from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.preprocess.build import Step, build_graph
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.store import FORMAT_VERSION


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


STAGES = ("preprocess", "split", "train", "infer", "evaluate")
# the config sections each stage reads; a stage re-runs when these or an upstream stage change
_SECTIONS = {
    "preprocess": ("source", "nodes", "edges"),
    "split": ("task",),
    "train": ("task", "sampling", "model", "train"),
    "infer": ("sampling", "infer"),
    "evaluate": ("evaluate",),
}


def _stage_hash(cfg: GraphConfig, stage: str, upstream: str) -> str:
    data = cfg.model_dump(mode="json", include=set(_SECTIONS[stage]))
    if stage == "preprocess":  # a store of an older format is rebuilt, and all after it
        data["store_format"] = FORMAT_VERSION
    blob = json.dumps([upstream, data], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run_pipeline(
    cfg: GraphConfig,
    run: RunDir,
    start_at: str | None = None,
    stop_after: str = "evaluate",
    force: bool = False,
    on_stage: Callable[[str, str], None] | None = None,
) -> dict[str, dict]:
    """Run the stages up to `stop_after`. A stage whose inputs (its config sections and the
    stages before it) did not change since its last run is skipped; `start_at` re-runs that
    stage and those after it regardless (e.g. after the source tables changed: the config does
    not see the data)."""
    from gigalearn.graph import stages
    from gigalearn.graph.train import train

    for name in (start_at or "preprocess", stop_after):
        if name not in STAGES:
            raise ConfigError(f"unknown stage '{name}'; stages: {', '.join(STAGES)}")
    first, last = STAGES.index(start_at or "preprocess"), STAGES.index(stop_after)
    if first > last:
        raise ConfigError(f"--start-at {start_at} comes after --stop-after {stop_after}")
    record_path = run.root / "stages.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    actions = {
        "preprocess": lambda: {"build_seconds": preprocess(cfg, run)["build_seconds"]},
        "split": lambda: stages.split_stage(cfg, run),
        "train": lambda: train(cfg, run),
        "infer": lambda: stages.infer_stage(cfg, run),
        "evaluate": lambda: stages.evaluate_stage(cfg, run),
    }
    results, upstream = {}, ""
    for i, name in enumerate(STAGES[: last + 1]):
        digest = _stage_hash(cfg, name, upstream)
        upstream = digest
        if i < first:
            continue
        forced = force or start_at is not None
        if not forced and record.get(name, {}).get("hash") == digest:
            if on_stage:
                on_stage(name, "unchanged, skipped")
            results[name] = record[name].get("result", {})
            continue
        if on_stage:
            on_stage(name, "running")
        results[name] = actions[name]()
        record[name] = {"hash": digest, "result": results[name]}
        for later in STAGES[i + 1 :]:
            record.pop(later, None)  # their inputs just changed
        atomic_write_text(record_path, json.dumps(record, indent=2, default=str))
    atomic_write_text(
        run.frozen_config, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    )
    return results
