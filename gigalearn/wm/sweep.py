"""Run a sweep: spec → networks → memory-sized chunks → one results row per network, resumable.

Each chunk is a Population trained and evaluated together, then written atomically (store.py).
A restart skips networks already written; `shard` runs the networks whose id ≡ i (mod n).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gigalearn.common.errors import ConfigError
from gigalearn.wm import store
from gigalearn.wm.network import Population
from gigalearn.wm.spec import Job, SweepSpec, expand, machine_memory_bytes
from gigalearn.wm.tasks import Task
from gigalearn.wm.training.bptt import train_bptt
from gigalearn.wm.training.evaluate import evaluate
from gigalearn.wm.training.force import train_force

MAX_AUTO_CHUNK = 32  # bigger chunks amortise Python overhead less and lose more work on a kill


@dataclass(frozen=True)
class Shard:
    """Slice `index` of `count` (0-based): the networks whose id % count == index."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse 'i/n' (e.g. '0/4'); a clear error otherwise."""
        try:
            i, n = (int(v) for v in text.split("/"))
        except ValueError:
            raise ConfigError(f"--shard {text!r}: expected 'i/n' with integers, e.g. 0/4") from None
        if n < 1 or not 0 <= i < n:
            raise ConfigError(f"--shard {text!r}: need n >= 1 and 0 <= i < n")
        return cls(i, n)

    def owns(self, job: Job) -> bool:
        """Whether this shard trains `job`."""
        return job.network_id % self.count == self.index


def bytes_per_network(spec: SweepSpec, task: Task, n: int) -> int:
    """Estimated peak bytes one network adds to a chunk (weights, RLS or Adam state, states)."""
    item = 4 if spec.dtype == "float32" else 8
    n_eval = len(task.test_conditions()) ** 2 * spec.n_stim_seeds
    eval_states = n_eval * (n * 3 + task.n_steps * task.n_out) * item
    if spec.trainer == "force":
        mats = 1 + len(task.readouts)  # J plus one RLS matrix per readout
        return mats * n * n * item + eval_states
    acts = task.n_steps * spec.bptt.batch * n * 6 * item  # saved activations for backward
    return 4 * n * n * item + acts + eval_states  # J, its gradient, two Adam moments


def chunk_size(spec: SweepSpec, task: Task, n: int) -> int:
    """Networks per chunk at size N: the spec's value, or the most that fit the memory budget."""
    budget = (spec.memory_gb * 2**30) if spec.memory_gb else machine_memory_bytes() // 2
    per = bytes_per_network(spec, task, n)
    fixed = 40 * n * n  # float64 temporaries while drawing one network's weights
    fits = int((budget - fixed) // per)
    where = f"memory_gb={spec.memory_gb}" if spec.memory_gb else "half of this machine's RAM"
    if fits < 1:
        raise ConfigError(
            f"one network of N={n} needs ~{(per + fixed) / 2**30:.1f} GiB but the budget is "
            f"{budget / 2**30:.1f} GiB ({where}): raise memory_gb, lower grid.n or use float32"
        )
    if spec.chunk_size is not None:
        if spec.chunk_size > fits:
            raise ConfigError(
                f"chunk_size={spec.chunk_size} at N={n} needs ~{spec.chunk_size * per / 2**30:.1f}"
                f" GiB but the budget is {budget / 2**30:.1f} GiB ({where}); "
                f"chunk_size <= {fits} fits"
            )
        return spec.chunk_size
    return min(fits, MAX_AUTO_CHUNK)


def plan(spec: SweepSpec, task: Task, shard: Shard, done: set[int]) -> list[list[Job]]:
    """Chunks still to train: this shard's unfinished networks grouped by (N, rule)."""
    todo = [j for j in expand(spec) if shard.owns(j) and j.network_id not in done]
    chunks: list[list[Job]] = []
    for (n, _rule), group in itertools.groupby(todo, key=lambda j: (j.spec.n, j.rule)):
        jobs = list(group)
        size = chunk_size(spec, task, n)
        chunks += [jobs[i : i + size] for i in range(0, len(jobs), size)]
    return chunks


def train_chunk(
    spec: SweepSpec, task: Task, jobs: list[Job], on_trials: Callable[[int], None] | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Train and evaluate one chunk; return its results rows, readouts `[P,N,K]`, end states."""
    start = time.perf_counter()
    dtype = torch.float32 if spec.dtype == "float32" else torch.float64
    pop = Population([j.spec for j in jobs], task.n_in, task.n_out, dtype=dtype)
    if spec.trainer == "force":
        res = train_force(pop, task, spec.force_config(jobs[0].rule), on_trials)
        trials = spec.force.n_trials
    else:
        res = train_bptt(pop, task, spec.bptt_config(), on_trials)
        trials = spec.bptt.n_iters * spec.bptt.batch
    ev = evaluate(pop, task, res.x_end, spec.n_stim_seeds, spec.thresholds)
    seconds = time.perf_counter() - start
    rows = pd.DataFrame(
        {
            "network_id": [j.network_id for j in jobs],
            "n": [j.spec.n for j in jobs],
            "g": [j.spec.g for j in jobs],
            "pg": [j.spec.pg for j in jobs],
            "fb": [j.spec.fb for j in jobs],
            "seed": [j.spec.seed for j in jobs],
            "trainer": spec.trainer,
            "rule": [j.rule if spec.trainer == "force" else "adam" for j in jobs],
            "train_trials": trials,
            "train_rmse": res.train_rmse,
            "test_rmse": ev.rmse,
            "test_worst_trial_rmse": ev.worst_trial_rmse,
            "test_trials": ev.n_trials,
        }
    )
    for k, eps in enumerate(ev.thresholds):
        rows[success_column(eps)] = ev.success[:, k]
    rows["wall_time_s"] = seconds / len(jobs)  # the chunk's time shared equally
    rows["chunk_wall_time_s"] = seconds
    rows["chunk_size"] = len(jobs)
    rows["dtype"] = spec.dtype
    w_out = pop.w_out.to(torch.float32).numpy()
    return rows, w_out, res.x_end[:, 0].to(torch.float32).numpy()


def success_column(eps: float) -> str:
    """Column name of the success flag at threshold ε, e.g. 0.005 → 'success_0p005'."""
    return "success_" + f"{eps:g}".replace(".", "p")


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep call did: networks trained now, already done before, and chunk folders."""

    trained: int
    skipped: int
    total: int
    chunk_dirs: list[Path]


def run_sweep(
    spec: SweepSpec,
    run_dir: Path,
    shard: Shard = Shard(),
    progress: Callable[[list[list[Job]], int], Callable[[str, int], None]] | None = None,
) -> SweepOutcome:
    """Train every unfinished network of this shard, one chunk at a time, writing each atomically.

    `progress(chunks, trials_per_network)` may return a callback `(kind, amount)` advanced with
    kind 'trials' (network-trials) and 'chunk'.
    """
    run_dir = Path(run_dir)
    task = spec.task.build()
    for n in sorted(set(spec.grid.n)):
        chunk_size(spec, task, n)  # say a spec cannot fit before touching anything
    store.check_spec(run_dir, spec.model_dump_json(indent=2))
    if shard.count == 1:  # other shards may be writing into a shared run folder right now
        store.clean_partial(run_dir)
    done = store.finished_ids(run_dir)
    mine = [j for j in expand(spec) if shard.owns(j)]
    chunks = plan(spec, task, shard, done)  # sizes checked here, before any training
    if spec.threads:
        torch.set_num_threads(spec.threads)
    per_net = spec.force.n_trials if spec.trainer == "force" else spec.bptt.n_iters
    tick = progress(chunks, per_net) if progress else None
    written = []
    for jobs in chunks:

        def on(k: int, p: int = len(jobs)) -> None:
            if tick:
                tick("trials", k * p)

        rows, w_out, x_end = train_chunk(spec, task, jobs, on)
        written.append(store.write_chunk(run_dir, rows, w_out, x_end))
        if tick:
            tick("chunk", 1)
    trained = sum(len(c) for c in chunks)
    return SweepOutcome(trained, len(mine) - trained, len(mine), written)
