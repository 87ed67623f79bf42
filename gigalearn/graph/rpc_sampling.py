"""`partition.sampling: rpc` for the train and infer stages: under torchrun each rank holds only
the CSR rows of its own parts, serves them to the other ranks over `torch.distributed.rpc`, and
samples through `DistributedKHopSampler`, whose batches are exactly those of one host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch.distributed.rpc as rpc

from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import GraphConfig
from gigalearn.graph.partition import Partition, partition_dir
from gigalearn.graph.ranks import Ranks
from gigalearn.graph.sampling.distributed import (
    DistributedKHopSampler,
    served_requests,
    start_worker,
)
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler
from gigalearn.graph.store import GraphStore
from gigalearn.graph.tasks import SamplerFactory


def uses_rpc(cfg: GraphConfig, ranks: Ranks) -> bool:
    """Whether this run samples across ranks (rpc asked for, and more than one rank)."""
    return cfg.partition is not None and cfg.partition.sampling == "rpc" and ranks.world > 1


def _check(cfg: GraphConfig, workers: int, threads: int = 1) -> None:
    if workers > 0:
        raise ConfigError(
            f"partition.sampling: rpc needs train.num_workers: 0 (it is {workers}): the rpc "
            "client lives in the training process, not in DataLoader workers"
        )
    if threads > 1:
        raise ConfigError(
            f"partition.sampling: rpc needs train.loader_threads: 1 (it is {threads}): the rpc "
            "sampler asks its peers from one thread"
        )
    if cfg.sampling.temporal:
        raise ConfigError(
            "partition.sampling: rpc does not support sampling.temporal yet; use "
            "partition.sampling: local"
        )


@contextmanager
def rank_samplers(
    cfg: GraphConfig,
    run_root: str | Path,
    store: GraphStore,
    ranks: Ranks,
    workers: int = 0,
    log: Path | None = None,
    threads: int = 1,
) -> Iterator[SamplerFactory]:
    """The sampler factory for this rank: `KHopSampler` unless `uses_rpc`; then this rank
    serves its parts' rows of `store` until every rank leaves the block. With `log`, rank 0
    appends each rank's count of answered requests (a check that the rows were shared)."""
    if not uses_rpc(cfg, ranks):
        yield KHopSampler
        return
    _check(cfg, workers, threads)
    part = Partition.load(partition_dir(run_root)).by_rank(ranks.world)
    direction = KHopOptions.from_config(cfg.sampling).direction
    start_worker(store, part, ranks.rank, ranks.world, directions=(direction,))
    failed = False
    try:
        yield lambda s, options: DistributedKHopSampler(s, part, options)
    except BaseException:
        failed = True
        raise
    finally:
        # a failed rank leaves at once: its peers' pending requests then fail instead of hanging
        served = served_requests()
        rpc.shutdown(graceful=not failed)
        if not failed:
            counts = ranks.gather({str(k): v for k, v in served.items()})
            if log is not None and ranks.rank == 0:
                with open(log, "a") as f:
                    f.write(json.dumps({"rpc_requests_served": counts}) + "\n")
