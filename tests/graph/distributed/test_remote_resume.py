"""A training run on object storage (a file:// URL here) uploads its checkpoints while it runs, so
a job killed midway resumes from the last one instead of starting over."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .test_two_hosts import CLI, _env, _shared_run


def _global_steps(log: str, per_epoch: int) -> list[int]:
    rows = [json.loads(line) for line in log.splitlines()]
    return [r["epoch"] * per_epoch + r["step"] for r in rows if "loss" in r]


def test_killed_training_resumes_from_the_uploaded_checkpoint(planted):
    workdir, write = planted
    path = write(
        "resume.yaml",
        name="planted-resume",
        train={"epochs": 2, "batch_size": 16, "checkpoint_every": 5},
        infer={"write_back": None},
    )
    url, run = _shared_run(workdir, path)  # run: the shared folder's local view
    train = [sys.executable, *CLI, "train", str(path), "--runs-dir", url]
    env = _env(workdir / "host-0")
    err = open(workdir / "train.err", "w")  # noqa: SIM115  (a file: a pipe could fill and block)
    proc = subprocess.Popen(train, cwd=workdir, env=env, stdout=err, stderr=err)
    deadline = time.monotonic() + 300
    while not list(run.checkpoints.glob("step-*.pt")):
        ended = proc.poll() is not None
        assert not ended, f"training ended first: {(workdir / 'train.err').read_text()[-2000:]}"
        assert time.monotonic() < deadline, "no checkpoint reached the remote run in 300 s"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    err.close()
    assert not (run.model / "model.pt").exists()  # killed before the end
    uploaded = max(int(p.stem.split("-")[1]) for p in run.checkpoints.glob("step-*.pt"))
    res = subprocess.run(train, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (run.model / "model.pt").exists()
    # 2,880 training edges / 16 per batch; the resumed run logged each remaining step once
    per_epoch = 2880 // 16
    steps = _global_steps(run.train_log.read_text(), per_epoch)
    assert 0 < uploaded < 2 * per_epoch
    assert steps == list(range(1, 2 * per_epoch + 1)), "steps were repeated or skipped"
