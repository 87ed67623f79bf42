import duckdb
import pytest
from typer.testing import CliRunner

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import store
from gigalearn.wm.cli import app

SPEC = """name: cli-tiny
task: {dt: 0.5}
grid: {g: [1.2, 1.5], pg: [0.9], fb: [10], n: [20], seeds: [0, 1]}
force: {n_trials: 2}
n_stim_seeds: 1
chunk_size: 2
threads: 1
"""


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "spec.yaml"
    p.write_text(SPEC)
    return p


def run(*args):
    r = CliRunner().invoke(app, [str(a) for a in args], terminal_width=200)
    r.text = " ".join(r.output.split())  # rich wraps long lines; compare words
    return r


def test_sweep_resume_and_query(spec, tmp_path):
    out = tmp_path / "run"
    r = run("sweep", spec, "--out", out, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "trained 4 network(s), 0 already done" in r.text
    assert "fraction with test RMSE" in r.text and "≤0.1" in r.text
    r = run("sweep", spec, "--out", out, "--no-progress")
    assert "trained 0 network(s), 4 already done" in r.text
    res = out / store.RESULTS
    n, g = duckdb.sql(f"select count(*), count(distinct g) from '{res}'").fetchone()
    assert (n, g) == (4, 2)


def test_shards_then_merge(spec, tmp_path):
    for i in range(2):
        r = run("sweep", spec, "--out", tmp_path / f"s{i}", "--shard", f"{i}/2", "--no-progress")
        assert r.exit_code == 0, r.output
        assert "have no results yet" in r.text  # each shard alone is incomplete
    merged = tmp_path / "all.parquet"
    r = run("merge", tmp_path / "s0", tmp_path / "s1", "--out", merged)
    assert r.exit_code == 0, r.output
    ids = duckdb.sql(f"select network_id from '{merged}' order by 1").fetchall()
    assert [i for (i,) in ids] == [0, 1, 2, 3]
    assert "have no results yet" not in r.text


def test_errors_surface_as_gigalearn_errors(spec, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("fb: [10]", "fb: [0]"))
    r = run("sweep", bad, "--out", tmp_path / "x")
    assert isinstance(r.exception, ConfigError) and "fb" in str(r.exception)
    r = run("sweep", spec, "--shard", "3/2")
    assert isinstance(r.exception, ConfigError)
    r = run("merge", tmp_path / "empty")
    assert isinstance(r.exception, DataError)


def test_slurm_without_submitit_is_a_clear_error(spec, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "submitit", None)
    r = run("sweep", spec, "--out", tmp_path / "r", "--executor", "slurm")
    assert isinstance(r.exception, ConfigError) and "pip install submitit" in str(r.exception)


def test_train_one_network():
    r = run("train", "--n", "20", "--trials", "1", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "test_rmse" in r.text
