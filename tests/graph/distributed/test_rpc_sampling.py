"""k-hop sampling across two rpc workers on loopback, each holding one METIS partition, gives
the batches the single-host KHopSampler gives."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest

from gigalearn.graph.partition import partition_graph
from gigalearn.graph.sampling.distributed import partition_rows
from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

from ..conftest import make_store

# each worker: hold its partition, serve; rank 0 also samples the batches and saves them
WORKER = """
import pickle, sys
import numpy as np
from gigalearn.graph.partition import Partition
from gigalearn.graph.sampling.distributed import DistributedKHopSampler, start_worker, stop_worker
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.store import GraphStore

rank, store_path, part_path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
store, part = GraphStore(store_path), Partition.load(part_path)
cases = pickle.load(open(out + ".in", "rb"))
start_worker(store, part, rank, 2, directions=("in", "out"))
if rank == 0:
    results = []
    for options, seed_type, seeds, seed in cases:
        sampler = DistributedKHopSampler(store, part, KHopOptions(**options))
        results.append(sampler.sample(seed_type, seeds, seed=seed))
    pickle.dump(results, open(out, "wb"))
stop_worker()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hetero(tmp_path):
    rng = np.random.default_rng(1)
    likes = rng.integers(0, [400, 150], (3000, 2)).T
    follows = rng.integers(0, 400, (2, 1500))
    w = rng.random(3000) + 0.01
    return make_store(
        tmp_path / "g",
        {"user": 400, "item": 150},
        {
            ("user", "likes", "item"): {"src": likes[0], "dst": likes[1], "weight": w},
            ("user", "follows", "user"): {"src": follows[0], "dst": follows[1], "weight": w[:1500]},
        },
    )


def test_partition_rows_cover_the_store_once(hetero):
    part = partition_graph(hetero, 2, "metis")
    t = ("user", "likes", "item")
    rows = [partition_rows(hetero, part, p)[t] for p in (0, 1)]
    assert len(rows[0].indices) + len(rows[1].indices) == hetero.num_edges(t)
    both = np.sort(np.concatenate([r.eid for r in rows]))
    assert (both == np.arange(hetero.num_edges(t))).all()


def test_two_rpc_workers_sample_what_one_host_samples(hetero, tmp_path):
    part = partition_graph(hetero, 2, "metis")
    part.save(tmp_path / "partition", hetero)
    rng = np.random.default_rng(0)
    cases = [
        ({"fanout": [4, 3]}, "item", rng.choice(150, 32, replace=False), 7),
        ({"fanout": [5, -1], "edge_ids": False}, "item", rng.choice(150, 16, replace=False), 8),
        ({"fanout": [3, 3], "direction": "out"}, "user", rng.choice(400, 40, replace=False), 9),
        ({"fanout": [6, 2], "replace": True}, "user", rng.choice(400, 24, replace=False), 10),
    ]
    cases.append(
        ({"fanout": [3, 2], "weighted": True}, "item", rng.choice(150, 20, replace=False), 11)
    )
    out = tmp_path / "sampled.pkl"
    (tmp_path / "sampled.pkl.in").write_bytes(pickle.dumps(cases))
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    args = [str(hetero.path), str(tmp_path / "partition"), str(out)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(rank), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    errors = [(p.wait(timeout=300), p.stderr.read()[-3000:]) for p in procs]
    assert all(rc == 0 for rc, _ in errors), errors
    remote = pickle.loads(out.read_bytes())
    for (options, seed_type, seeds, seed), got in zip(cases, remote, strict=True):
        want = KHopSampler(hetero, KHopOptions(**options)).sample(seed_type, seeds, seed=seed)
        assert sum(len(e[0]) for e in want.edge_index.values()) > 0
        for n in want.node_ids:
            np.testing.assert_array_equal(got.node_ids[n], want.node_ids[n], err_msg=n)
        for t in want.edge_index:
            np.testing.assert_array_equal(got.edge_index[t], want.edge_index[t], err_msg=str(t))
            if want.edge_ids is not None:
                np.testing.assert_array_equal(got.edge_ids[t], want.edge_ids[t], err_msg=str(t))
        assert got.num_sampled_nodes == want.num_sampled_nodes
        assert got.num_sampled_edges == want.num_sampled_edges
