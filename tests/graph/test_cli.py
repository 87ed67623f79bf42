"""The `gigalearn graph` commands as a user runs them: real process, exit codes, messages."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import tiny_tables, write_duckdb


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gigalearn.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


CONFIG = """\
name: tiny
source: {engine: duckdb, uri: tiny.duckdb}
nodes:
  user: {table: users, id: user_id, features: {gender: categorical}}
  movie: {table: movies, id: movie_id, features: {genres: {multi_hot: {sep: "|"}}}}
edges:
  - {type: [user, rated, movie], table: ratings, src: user_id, dst: movie_id, time: ts,
     reverse: true}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_duckdb(tmp_path / "tiny.duckdb", tiny_tables())
    (tmp_path / "task.yaml").write_text(CONFIG)
    return tmp_path


def test_preprocess_then_inspect(workdir):
    res = _cli("graph", "preprocess", "task.yaml", cwd=workdir)
    assert res.returncode == 0, res.stderr
    assert (workdir / "runs/tiny/graph/metadata.json").exists()
    assert (workdir / "runs/tiny/config.frozen.yaml").exists()
    res = _cli("graph", "inspect", "runs/tiny", cwd=workdir)
    assert res.returncode == 0, res.stderr
    assert "user/rated/movie" in res.stdout and "movie/rev_rated/user (reverse)" in res.stdout
    assert " 7 " in res.stdout  # edge count


def test_bad_config_exits_non_zero_with_location(workdir):
    (workdir / "bad.yaml").write_text(CONFIG.replace("id: movie_id", "idx: movie_id"))
    res = _cli("graph", "preprocess", "bad.yaml", cwd=workdir)
    assert res.returncode == 2
    assert "bad.yaml:5: nodes.movie.idx: unknown key" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (workdir / "runs").exists()


def test_bad_data_exits_non_zero_and_writes_nothing(workdir):
    (workdir / "bad.yaml").write_text(CONFIG.replace("table: ratings", "table: rating"))
    res = _cli("graph", "preprocess", "bad.yaml", cwd=workdir)
    assert res.returncode == 2
    assert "table 'rating' not found" in res.stderr
    assert not (workdir / "runs" / "tiny" / "graph").exists()


def test_inspect_of_a_folder_without_store(tmp_path):
    res = _cli("graph", "inspect", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2 and "not a GraphStore" in res.stderr
