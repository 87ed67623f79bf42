"""Two torchrun nodes on loopback (two hosts simulated: each has its own cache) training and
inferring from a run directory on shared storage named by a file:// URL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from gigalearn.graph.config import load_config
from gigalearn.graph.rundir import RunDir

TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")
CLI = ["-m", "gigalearn.cli", "graph"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(cache: Path) -> dict[str, str]:
    # a separate cache per simulated host: each materialises the shared run on its own
    return {**os.environ, "OMP_NUM_THREADS": "1", "GIGALEARN_CACHE": str(cache)}


def _single(workdir: Path, *args: str) -> None:
    res = subprocess.run(
        [sys.executable, *CLI, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(workdir / "host-single"),
    )
    assert res.returncode == 0, res.stderr[-3000:]


def _two_hosts(workdir: Path, *args: str) -> None:
    """`torchrun --nnodes 2 --node-rank {0,1} --nproc-per-node 1` as two processes."""
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                TORCHRUN,
                "--nnodes=2",
                f"--node-rank={node}",
                "--nproc-per-node=1",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                *CLI,
                *args,
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(workdir / f"host-{node}"),
        )
        for node in (0, 1)
    ]
    errors = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        errors.append((p.returncode, err[-3000:]))
    assert all(rc == 0 for rc, _ in errors), errors


def _shared_run(workdir: Path, path: Path):
    """Preprocess and split into the shared folder through its URL; returns (URL, local view)."""
    shared = workdir / "shared"
    _single(workdir, "run", str(path), "--stop-after", "split", "--runs-dir", shared.as_uri())
    return shared.as_uri(), RunDir.for_config(load_config(path), shared)


def test_two_hosts_train_like_one_process(planted):
    """Data-parallel over two nodes, each rank taking the examples of its METIS part, learns
    what one process learns from the same global batch (the DDP test's tolerance)."""
    workdir, write = planted
    recall = {}
    for world in (1, 2):
        path = write(
            f"w{world}.yaml",
            name=f"planted-{world}",
            train={"epochs": 3, "batch_size": 64 // world},
            edit=lambda c: c.update(partition={"method": "metis", "parts": 2, "split_seeds": True}),
        )
        url, run = _shared_run(workdir, path)
        if world == 1:
            _single(workdir, "train", str(path), "--runs-dir", url)
        else:
            _single(workdir, "partition", str(path), "--runs-dir", url)
            assert pq.read_table(run.root / "partition" / "user.parquet").num_rows == 300
            _two_hosts(workdir, "train", str(path), "--runs-dir", url)
        ckpt = torch.load(sorted(run.checkpoints.glob("step-*.pt"))[-1], weights_only=False)
        recall[world] = ckpt["history"][-1]["recall@10"]
        assert (run.model / "model.pt").exists()  # uploaded by rank 0
    assert recall[1] > 0.3 and recall[2] > 0.3
    assert abs(recall[1] - recall[2]) < 0.15, recall


def test_two_hosts_infer_the_same_embeddings(planted):
    """Each node embeds whole batches of the single-process order: identical embeddings."""
    from gigalearn.graph.train import train

    workdir, write = planted
    path = write(train={"epochs": 1, "max_steps_per_epoch": 5}, infer={"write_back": None})
    url, run = _shared_run(workdir, path)
    train(load_config(path), run, show_progress=False)
    tables = {}
    for hosts in (1, 2):
        if hosts == 1:
            _single(workdir, "infer", str(path), "--runs-dir", url)
        else:
            shutil.rmtree(run.embeddings)  # what is compared must be the two hosts' output
            _two_hosts(workdir, "infer", str(path), "--runs-dir", url)
            for host in ("host-0", "host-1"):  # each host read its own copy of the graph
                assert list((workdir / host / "remote" / "inputs").iterdir())
        tables[hosts] = {
            t: pq.read_table(run.embeddings / f"{t}.parquet") for t in ("user", "item")
        }
    for t in ("user", "item"):
        one, two = tables[1][t], tables[2][t]
        assert one.column("id").equals(two.column("id"))
        a = np.stack(one.column("embedding").to_numpy(zero_copy_only=False))
        b = np.stack(two.column("embedding").to_numpy(zero_copy_only=False))
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_two_hosts_sample_over_rpc_like_one_host(planted):
    """With partition.sampling: rpc each node holds only its part's rows and asks the other for
    the rest; training then takes the very steps of local sampling (same weights), and the
    embeddings equal one process's."""
    workdir, write = planted
    states = {}
    for mode in ("local", "rpc"):
        path = write(
            f"{mode}.yaml",
            name=f"planted-{mode}",
            train={"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 4},
            infer={"write_back": None},
            edit=lambda c, m=mode: c.update(
                partition={"method": "metis", "parts": 2, "sampling": m}
            ),
        )
        url, run = _shared_run(workdir, path)
        _single(workdir, "partition", str(path), "--runs-dir", url)
        _two_hosts(workdir, "train", str(path), "--runs-dir", url)
        states[mode] = torch.load(run.model / "model.pt", weights_only=False)["model"]
        if mode == "rpc":
            served = [
                json.loads(line)["rpc_requests_served"]
                for line in run.train_log.read_text().splitlines()
                if "rpc_requests_served" in line
            ]
            # each node answered hops for the other: its rows were not held there
            assert served and all(
                counts.get(str(1 - r), 0) > 0 for r, counts in enumerate(served[-1])
            )
            _single(workdir, "infer", str(path), "--runs-dir", url)
            one = pq.read_table(run.embeddings / "item.parquet")
            shutil.rmtree(run.embeddings)
            _two_hosts(workdir, "infer", str(path), "--runs-dir", url)
            two = pq.read_table(run.embeddings / "item.parquet")
            a = np.stack(one.column("embedding").to_numpy(zero_copy_only=False))
            b = np.stack(two.column("embedding").to_numpy(zero_copy_only=False))
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert states["local"].keys() == states["rpc"].keys()
    for name, value in states["local"].items():
        torch.testing.assert_close(states["rpc"][name], value, rtol=0, atol=1e-6, msg=name)
