"""The typed sweep spec (YAML → pydantic, unknown keys rejected) and its expansion to networks."""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gigalearn.common.config_loading import load_yaml_config
from gigalearn.wm.network import NetworkSpec
from gigalearn.wm.stimuli import DigitsPCA, GaussianClouds
from gigalearn.wm.tasks import DelayedMatch, FlipFlop, SequentialSum, Task
from gigalearn.wm.training.bptt import BpttConfig
from gigalearn.wm.training.evaluate import THRESHOLDS
from gigalearn.wm.training.force import ForceConfig

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
Rule = Literal["restricted", "classic"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Model):
    """Which task and stimulus source; the defaults are the paper's sequential sum task."""

    kind: Literal["sequential_sum", "delayed_match", "flip_flop"] = "sequential_sum"
    stimuli: Literal["gaussian", "digits"] = "gaussian"
    sum_code: tuple[float, float, float] = (1.0, 0.5, 1.5)
    n_bits: int = Field(3, ge=1)
    dt: float = Field(0.1, gt=0)

    def build(self) -> Task:
        """Construct the task object."""
        src = DigitsPCA() if self.stimuli == "digits" else GaussianClouds()
        if self.kind == "delayed_match":
            return DelayedMatch(stimuli=src, dt=self.dt)
        if self.kind == "flip_flop":
            return FlipFlop(n_bits=self.n_bits, dt=self.dt)
        return SequentialSum(stimuli=src, sum_code=self.sum_code, dt=self.dt)


class GridSpec(_Model):
    """Values per hyper-parameter; the grid is their Cartesian product (or the random ranges)."""

    g: list[float] = Field(min_length=1)
    pg: list[float] = Field(min_length=1)
    fb: list[float] = Field(min_length=1)
    n: list[int] = Field([1000], min_length=1)
    seeds: list[int] = Field([0], min_length=1)
    rule: list[Rule] = Field(["restricted"], min_length=1)

    @field_validator("g", "pg", "fb", "n")
    @classmethod
    def _ranges(cls, values: list, info: ValidationInfo) -> list:
        ok, why = _RANGES[info.field_name]
        bad = [v for v in values if not ok(v)]
        if bad:
            raise ValueError(f"values {bad} are invalid: {info.field_name} {why}")
        return values


_RANGES = {
    "g": (lambda v: v >= 0, "is a gain: must be >= 0"),
    "pg": (lambda v: 0 < v <= 1, "is a density: must be in (0, 1]"),
    "fb": (lambda v: v > 0, "divides the feedback: must be > 0"),
    "n": (lambda v: v >= 1, "is a network size: must be >= 1"),
}


class ForceSpec(_Model):
    """FORCE settings (paper: 3,500 trials, α = 1, update every 2 steps)."""

    n_trials: int = Field(3500, ge=1)
    alpha: float = Field(1.0, gt=0)
    update_every: int = Field(2, ge=1)


class BpttSpec(_Model):
    """BPTT settings (Adam)."""

    n_iters: int = Field(300, ge=1)
    batch: int = Field(16, ge=1)
    lr: float = Field(1e-2, gt=0)
    train_recurrent: bool = True
    recurrent_lr_scale: float = Field(0.1, gt=0)


class SweepSpec(_Model):
    """A whole sweep: the grid, the task, the trainer, evaluation and resource limits."""

    name: str
    task: TaskSpec = TaskSpec()
    grid: GridSpec
    search: Literal["grid", "random"] = "grid"
    n_random: int | None = Field(None, ge=1)
    """random search: draw this many networks; g, pg, fb uniform in [min, max] of their lists."""
    random_seed: int = 0
    trainer: Literal["force", "bptt"] = "force"
    force: ForceSpec = ForceSpec()
    bptt: BpttSpec = BpttSpec()
    n_stim_seeds: int = Field(10, ge=1)
    thresholds: tuple[float, ...] = THRESHOLDS
    dtype: Literal["float32", "float64"] = "float32"
    chunk_size: int | None = Field(None, ge=1)
    """Networks trained together; None picks the largest that fits `memory_gb` (max 32)."""
    memory_gb: float | None = Field(None, gt=0)
    """Memory budget for one chunk; None = half of this machine's RAM."""
    threads: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        if not _NAME.match(self.name):
            raise ValueError(f"name {self.name!r} must be letters, digits, '_', '-', '.'")
        if self.search == "random" and self.n_random is None:
            raise ValueError("search: random needs n_random (how many networks to draw)")
        return self

    def force_config(self, rule: Rule) -> ForceConfig:
        """The FORCE trainer config for one learning rule."""
        f = self.force
        return ForceConfig(f.n_trials, rule, f.alpha, f.update_every)

    def bptt_config(self) -> BpttConfig:
        """The BPTT trainer config."""
        b = self.bptt
        return BpttConfig(
            n_iters=b.n_iters,
            batch=b.batch,
            lr=b.lr,
            train_recurrent=b.train_recurrent,
            recurrent_lr_scale=b.recurrent_lr_scale,
        )


@dataclass(frozen=True)
class Job:
    """One network of the sweep: a stable id, its hyper-parameters and learning rule."""

    network_id: int
    spec: NetworkSpec
    rule: Rule


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec; errors name file, line and key."""
    return load_yaml_config(path, SweepSpec)


def expand(spec: SweepSpec) -> list[Job]:
    """All networks of the sweep, in a fixed order (so ids are stable across runs and shards)."""
    gr = spec.grid
    if spec.search == "grid":
        combos = itertools.product(gr.n, gr.rule, gr.g, gr.pg, gr.fb, gr.seeds)
    else:
        rng = np.random.default_rng(spec.random_seed)
        combos = [
            (
                int(rng.choice(gr.n)),
                str(rng.choice(gr.rule)),
                float(rng.uniform(min(gr.g), max(gr.g))),
                float(rng.uniform(min(gr.pg), max(gr.pg))),
                float(rng.uniform(min(gr.fb), max(gr.fb))),
                int(rng.choice(gr.seeds)),
            )
            for _ in range(spec.n_random or 0)
        ]
    return [
        Job(i, NetworkSpec(n=n, g=g, pg=pg, fb=fb, seed=seed, dt=spec.task.dt), rule)
        for i, (n, rule, g, pg, fb, seed) in enumerate(combos)
    ]


def machine_memory_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
