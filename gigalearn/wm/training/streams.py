"""Chained trial streams: each network sees its own seeded sequence of trials, back to back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gigalearn.wm.tasks import Task


@dataclass(frozen=True)
class Block:
    """k consecutive trials laid end to end: inputs `[k·T, I]`, targets/masks `[k·T, K]`."""

    inputs: np.ndarray
    targets: np.ndarray
    masks: np.ndarray


def task_rng(network_seed: int) -> np.random.Generator:
    """The trial-sequence generator of a network: derived from its seed, apart from its weights."""
    return np.random.default_rng([network_seed, 7919])


def trial_blocks(task: Task, seed: int, n_trials: int, block: int) -> Iterator[Block]:
    """Yield blocks of up to `block` chained trials until `n_trials` have been produced."""
    rng = task_rng(seed)
    done = 0
    while done < n_trials:
        k = min(block, n_trials - done)
        b = task.batch(task.sample_conditions(k, rng), rng)

        def chain(a: np.ndarray) -> np.ndarray:
            return a.transpose(1, 0, 2).reshape(-1, a.shape[-1])  # [T,k,C] → [k·T, C]

        yield Block(chain(b.inputs), chain(b.targets), chain(b.masks))
        done += k


def stacked_blocks(
    task: Task, seeds: list[int], n_trials: int, block: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield `[k·T, P, C]` inputs, targets and masks for P networks' streams side by side."""
    streams = [trial_blocks(task, s, n_trials, block) for s in seeds]
    for blocks in zip(*streams, strict=True):
        yield tuple(
            np.stack([getattr(b, f) for b in blocks], 1) for f in Block.__dataclass_fields__
        )
