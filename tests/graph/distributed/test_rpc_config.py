"""`partition.sampling: rpc` refuses what it cannot do before any rpc group starts."""

from __future__ import annotations

import pytest

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import load_config
from gigalearn.graph.ranks import Ranks
from gigalearn.graph.rpc_sampling import rank_samplers, uses_rpc
from gigalearn.graph.sampling.khop import KHopSampler

TWO = Ranks(rank=0, world=2)  # as under torchrun; nothing below gets as far as joining a group


def _config(write, mode="rpc", **over):
    part = {"method": "hash", "parts": 2, "sampling": mode}
    return load_config(write(edit=lambda c: c.update(partition=part), **over))


def test_local_sampling_or_one_process_uses_the_plain_sampler(planted, tmp_path):
    _, write = planted
    assert not uses_rpc(_config(write, mode="local"), TWO)
    assert not uses_rpc(_config(write), Ranks())
    with rank_samplers(_config(write), tmp_path, None, Ranks()) as make:
        assert make is KHopSampler


def test_rpc_needs_no_dataloader_workers(planted, tmp_path):
    _, write = planted
    cfg = _config(write)
    with pytest.raises(ConfigError, match="num_workers: 0"):
        rank_samplers(cfg, tmp_path, None, TWO, workers=2).__enter__()
    with pytest.raises(ConfigError, match="loader_threads: 1"):
        rank_samplers(cfg, tmp_path, None, TWO, threads=2).__enter__()


def test_rpc_refuses_temporal_sampling(planted, tmp_path):
    _, write = planted
    cfg = _config(write, sampling={"fanout": [5, 5], "temporal": True})
    with pytest.raises(ConfigError, match="temporal"):
        rank_samplers(cfg, tmp_path, None, TWO).__enter__()


def test_rpc_without_a_partition_says_how_to_make_one(planted, tmp_path):
    _, write = planted
    cfg = _config(write)
    with pytest.raises(DataError, match="gigalearn graph partition"):
        rank_samplers(cfg, tmp_path / "run", None, TWO).__enter__()
