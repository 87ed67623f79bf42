"""Training as real processes: killed and resumed, and data-parallel under torchrun (gloo)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import run_pipeline
from gigalearn.graph.rundir import RunDir

CLI = [sys.executable, "-m", "gigalearn.cli", "graph"]


def test_killed_training_resumes_from_its_last_checkpoint(planted):
    workdir, write = planted
    cfg_path = write(train={"epochs": 8, "checkpoint_every": 3, "max_steps_per_epoch": 12})
    cfg = load_config(cfg_path)
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run, stop_after="split")
    proc = subprocess.Popen(
        [*CLI, "train", str(cfg_path)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 240
    while not list(run.checkpoints.glob("step-*.pt")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = torch.load(sorted(run.checkpoints.glob("step-*.pt"))[-1], weights_only=False)
    assert ckpt["epoch"] < 8, "training finished before it could be killed"
    logged = len(run.train_log.read_text().splitlines())
    res = subprocess.run(
        [*CLI, "train", str(cfg_path)], cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    after = [json.loads(x) for x in run.train_log.read_text().splitlines()[logged:]]
    steps = [x for x in after if "step" in x]
    assert (steps[0]["epoch"], steps[0]["step"]) == (ckpt["epoch"], ckpt["step"] + 1)
    final = torch.load(sorted(run.checkpoints.glob("step-*.pt"))[-1], weights_only=False)
    assert final["epoch"] == 8
    assert len(final["history"]) == 8  # nothing finished before the kill was lost


@pytest.mark.skipif(
    shutil.which("torchrun") is None
    and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "torchrun")),
    reason="torchrun not installed",
)
def test_two_process_ddp_matches_single_process(planted):
    workdir, write = planted
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    metrics = {}
    for name, world in (("single.yaml", 1), ("ddp.yaml", 2)):
        # the same global batch: 64 edges per step in both runs
        path = write(name, name=f"planted-{world}", train={"epochs": 3, "batch_size": 64 // world})
        cfg = load_config(path)
        run = RunDir.for_config(cfg, workdir / "runs")
        run_pipeline(cfg, run, stop_after="split")
        cmd = (
            [torchrun, "--standalone", f"--nproc-per-node={world}", "-m", "gigalearn.cli"]
            if world > 1
            else [sys.executable, "-m", "gigalearn.cli"]
        )
        res = subprocess.run(
            [*cmd, "graph", "train", str(path)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert res.returncode == 0, res.stderr[-3000:]
        ckpt = torch.load(sorted(run.checkpoints.glob("step-*.pt"))[-1], weights_only=False)
        metrics[world] = ckpt["history"][-1]["recall@10"]
    assert metrics[1] > 0.3 and metrics[2] > 0.3
    assert abs(metrics[1] - metrics[2]) < 0.15, metrics


def test_two_process_ddp_on_movielens_100k(tmp_path):
    """The same check on a small real graph: ML-100K, 2 gloo processes vs one."""
    import yaml

    from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens

    db = fetch_movielens("100k", cache_root() / "test" / "ml-100k.duckdb")
    example = Path(__file__).resolve().parents[3] / "examples" / "movielens-100k.yaml"
    base = yaml.safe_load(example.read_text())
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    metrics = {}
    for world in (1, 2):
        cfg = {**base, "name": f"ml100k-{world}"}
        cfg["source"] = {"engine": "duckdb", "uri": str(db)}
        cfg["train"] = {
            "epochs": 2, "batch_size": 512 // world, "lr": 0.005, "max_steps_per_epoch": 40,
        }  # fmt: skip
        path = tmp_path / f"ml100k-{world}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        run = RunDir.for_config(load_config(path), tmp_path / "runs")
        run_pipeline(load_config(path), run, stop_after="split")
        cmd = (
            [torchrun, "--standalone", f"--nproc-per-node={world}", "-m", "gigalearn.cli"]
            if world > 1
            else [sys.executable, "-m", "gigalearn.cli"]
        )
        res = subprocess.run(
            [*cmd, "graph", "train", str(path)], cwd=tmp_path, capture_output=True, text=True,
            timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        ckpt = torch.load(sorted(run.checkpoints.glob("step-*.pt"))[-1], weights_only=False)
        metrics[world] = ckpt["history"][-1]["recall@20"]
    # random ranking of ~1,600 movies gives recall@20 near 0.01
    assert metrics[1] > 0.03 and metrics[2] > 0.03, metrics
    assert abs(metrics[1] - metrics[2]) < 0.5 * max(metrics.values()), metrics
