"""Partitions for locality: METIS against random on a real graph, hash and range, the saved
assignment and the seed split it drives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import PartitionConfig, config_from_dict, load_config
from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens
from gigalearn.graph.partition import (
    Partition,
    edge_cut,
    owned_by,
    partition_dir,
    partition_graph,
    seed_owners,
    shard_seed_order,
    undirected_csr,
)
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.store import GraphStore

from ..conftest import make_store

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def two_cliques(tmp_path) -> GraphStore:
    """Two 6-cliques joined by one edge: the best 2-way cut is that edge."""
    pairs = [(a, b) for c in (0, 6) for a in range(c, c + 6) for b in range(a + 1, c + 6)]
    pairs.append((5, 6))
    src, dst = np.array(pairs).T
    return make_store(tmp_path / "g", {"n": 12}, {("n", "to", "n"): {"src": src, "dst": dst}})


def test_metis_finds_the_bridge(two_cliques):
    part = partition_graph(two_cliques, 2, "metis")
    a = part.of("n")
    assert len(set(a[:6])) == 1 and len(set(a[6:])) == 1 and a[0] != a[6]
    assert part.stats["edge_cut"] == pytest.approx(1 / 31)
    xadj, adjncy = undirected_csr(two_cliques)
    assert xadj[-1] == 2 * 31 and not np.any(adjncy[xadj[0] : xadj[1]] == 0)  # no self loop


def test_hash_range_and_one_part(two_cliques):
    assert partition_graph(two_cliques, 3, "range").of("n").tolist() == [0] * 4 + [1] * 4 + [2] * 4
    hashed = partition_graph(two_cliques, 3, "hash").of("n")
    assert (
        set(hashed) <= {0, 1, 2}
        and (hashed == partition_graph(two_cliques, 3, "hash").of("n")).all()
    )
    one = partition_graph(two_cliques, 1, "metis")
    assert one.sizes() == [12] and one.stats["edge_cut"] == 0


def test_errors(two_cliques, tmp_path):
    with pytest.raises(ConfigError, match="parts must be >= 1"):
        partition_graph(two_cliques, 0, "hash")
    with pytest.raises(ConfigError, match="unknown partition method"):
        partition_graph(two_cliques, 2, "spectral")
    with pytest.raises(ValueError):
        PartitionConfig(parts=0)
    with pytest.raises(DataError, match="run `gigalearn graph partition"):
        Partition.load(tmp_path / "nothing")


def test_saved_assignment_splits_seeds(two_cliques, tmp_path):
    part = partition_graph(two_cliques, 4, "range")
    part.save(partition_dir(tmp_path), two_cliques)
    table = pq.read_table(tmp_path / "partition" / "n.parquet")
    assert table.column_names == ["id", "node", "part"]
    loaded = Partition.load(tmp_path / "partition")
    assert (loaded.of("n") == part.of("n")).all() and loaded.stats["edge_cut"] > 0
    cfg = {"name": "x", "nodes": {"n": {"table": "t", "id": "id"}}}
    on = config_from_dict(
        {**cfg, "partition": {"method": "range", "parts": 4, "split_seeds": True}}
    )
    owners = seed_owners(on, tmp_path, "n", np.arange(12), world=2)
    assert (
        owners.tolist()
        == owned_by(part.of("n"), 2).tolist()
        == [0] * 3 + [1] * 3 + [0] * 3 + [1] * 3
    )
    assert seed_owners(on, tmp_path, "n", np.arange(12), world=1) is None
    other = config_from_dict(
        {**cfg, "partition": {"method": "metis", "parts": 4, "split_seeds": True}}
    )
    with pytest.raises(ConfigError, match="re-run"):
        seed_owners(other, tmp_path, "n", np.arange(12), world=2)


@pytest.mark.integration
def test_metis_cuts_far_fewer_movielens_edges_than_random(tmp_path):
    db = fetch_movielens("100k", cache_root() / "test" / "ml-100k.duckdb")
    data = load_config(EXAMPLES / "movielens-100k.yaml").model_dump(mode="json")
    data["source"] = {"engine": "duckdb", "uri": str(db)}
    build_graph(config_from_dict(data), tmp_path / "g")
    store = GraphStore(tmp_path / "g")
    for k in (2, 4):
        metis = partition_graph(store, k, "metis")
        random = edge_cut(store, partition_graph(store, k, "random"))
        assert random == pytest.approx(1 - 1 / k, abs=0.01)
        assert metis.stats["edge_cut"] < 0.75 * random, (k, metis.stats, random)
        # balanced by degree: no part holds more than 1.5x its share of the edge ends
        xadj, _ = undirected_csr(store)
        flat = np.concatenate([metis.of(t) for t in store.node_types])
        load = np.bincount(flat, weights=np.diff(xadj) + 1, minlength=k)
        assert load.max() < 1.5 * load.sum() / k


def test_shard_seed_order_gives_each_rank_its_parts():
    seeds = np.arange(20)
    parts = np.array([0] * 14 + [1] * 6)
    order = shard_seed_order(seeds, parts, world=2, per_shard=4)
    assert sorted(order.tolist()) == seeds.tolist()  # every seed once
    shards = order.reshape(5, 4)
    # ShardDataset gives shard k to rank k mod 2
    assert set(parts[shards[0]]) == set(parts[shards[2]]) == set(parts[shards[4]]) == {0}
    assert set(parts[shards[1]]) == {1}
    assert parts[shards[3]].tolist() == [1, 1, 0, 0]  # rank 1 ran out: topped up
