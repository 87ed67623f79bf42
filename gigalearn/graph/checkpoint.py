"""Checkpoints: written atomically, tied to the config that made them, found again on resume."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch

from gigalearn.common.atomic import atomic_write
from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import GraphConfig

_NAME = re.compile(r"^step-(\d+)\.pt$")


def training_fingerprint(cfg: GraphConfig) -> str:
    """Hash of everything that shapes a model and its training, except the epoch count (so a
    finished run can be extended), worker and thread counts and logging (which change nothing
    learned)."""
    data = cfg.model_dump(
        mode="json", include={"source", "nodes", "edges", "task", "sampling", "model", "train"}
    )
    data["train"].pop("epochs")
    data["train"].pop("num_workers")
    data["train"].pop("loader_threads")
    data["train"].pop("tensorboard")
    data["source"].pop("uri")  # the same tables elsewhere are the same data
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write `state` as step-N.pt through a temporary file and a rename; keep the newest few."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:09d}.pt"
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    for old in sorted(folder.glob("step-*.pt"))[:-keep]:
        old.unlink()
    return path


def latest_checkpoint(folder: Path, fingerprint: str) -> dict[str, Any] | None:
    """The newest checkpoint's state, checked against the config fingerprint; None if none."""
    paths = (
        sorted(p for p in folder.glob("step-*.pt") if _NAME.match(p.name))
        if folder.exists()
        else []
    )
    if not paths:
        return None
    state = torch.load(paths[-1], weights_only=False)
    if state.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"{paths[-1]} was written by a different config (model, train, sampling, task or "
            f"data changed). Use a new `name`, or delete {folder} to start over."
        )
    return state
