import subprocess
import sys

from gigalearn.graph.preprocess.build import build_graph


def test_sample_command_drains_a_loader(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    cmd = [sys.executable, "-m", "gigalearn.cli", "graph", "sample", str(tmp_path / "g")]
    res = subprocess.run(
        [*cmd, "--node-type", "user", "--batch-size", "2", "--fanout", "2,2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "2 batches of 2 seeds" in res.stdout
    res = subprocess.run(
        [*cmd, "--node-type", "user", "--fanout", "2,0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2 and "--fanout '2,0'" in res.stderr
    threaded = [*cmd, "--node-type", "user", "--batch-size", "1", "--fanout", "2,2"]
    res = subprocess.run([*threaded, "--threads", "2"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "4 batches of 1 seeds" in res.stdout
    res = subprocess.run([*threaded, "--threads", "0"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "--threads 0" in res.stderr
    both = [*threaded, "--threads", "2", "--workers", "2"]
    res = subprocess.run(both, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "choose one" in res.stderr


def test_presample_command_writes_shards(tiny_cfg, tmp_path):
    from gigalearn.graph.sampling.shards import read_shards

    build_graph(tiny_cfg(), tmp_path / "g")
    cmd = [
        sys.executable,
        "-m",
        "gigalearn.cli",
        "graph",
        "presample",
        str(tmp_path / "g"),
        "--node-type",
        "user",
        "--out",
        str(tmp_path / "shards"),
        "--batch-size",
        "2",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    batches = list(read_shards(tmp_path / "shards"))
    assert len(batches) == 2 and all(b.batch_size == 2 for b in batches)
