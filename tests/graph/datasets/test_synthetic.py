"""Synthetic generators: seeded, exact sizes, heavy tails, chunked output, the CLI command."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from gigalearn.common.errors import ConfigError
from gigalearn.graph.cli import app
from gigalearn.graph.datasets import rmat, synthetic
from gigalearn.graph.datasets.rmat import RmatSpec, degree_counts, rmat_positions
from gigalearn.graph.datasets.synthetic import PowerLawSpec, power_law_chunks, rmat_tables


def _edges(spec: RmatSpec) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(rmat_positions(spec))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def test_rmat_is_seeded_and_has_the_requested_size(monkeypatch):
    monkeypatch.setattr(rmat, "CHUNK", 10_000)  # several chunks
    spec = RmatSpec(3_000, 45_001, seed=5)
    src, dst = _edges(spec)
    assert len(src) == len(dst) == 45_001
    assert src.min() >= 0 and max(src.max(), dst.max()) < 3_000
    again = _edges(spec)
    np.testing.assert_array_equal(src, again[0])
    np.testing.assert_array_equal(dst, again[1])
    other = _edges(RmatSpec(3_000, 45_001, seed=6))
    assert not np.array_equal(src, other[0])


def test_rmat_degrees_are_heavy_tailed():
    spec = RmatSpec(1 << 14, 200_000, seed=0)
    deg = degree_counts(rmat_positions(spec), spec.num_nodes)
    mean = deg.mean()
    top = np.sort(deg)[::-1]
    assert top[0] > 50 * mean  # a hub far above the mean (uniform: ~2x)
    assert top[: len(top) // 100].sum() > 0.15 * deg.sum()  # the top 1% hold > 15% of edges
    uniform = np.bincount(np.random.default_rng(0).integers(0, spec.num_nodes, 200_000))
    assert uniform.max() < 3 * mean


def test_rmat_bipartite_and_heterogeneous_tables():
    spec = RmatSpec(400, 5_000, seed=1)
    tables = rmat_tables(spec, features=3, hetero=True)
    users, items = tables.nodes["users"], tables.nodes["items"]
    assert users.num_rows == 300 and items.num_rows == 100
    assert users.column_names == ["user_id", "f0", "f1", "f2"]
    clicks = pa.concat_tables(list(tables.edges["clicks"]))
    follows = pa.concat_tables(list(tables.edges["follows"]))
    assert clicks.num_rows + follows.num_rows == 5_000 and follows.num_rows == 500
    user_ids, item_ids = set(users["user_id"].to_pylist()), set(items["item_id"].to_pylist())
    assert set(clicks["user_id"].to_pylist()) <= user_ids
    assert set(clicks["item_id"].to_pylist()) <= item_ids
    assert set(follows["src"].to_pylist()) | set(follows["dst"].to_pylist()) <= user_ids


def test_power_law_chunks_do_not_change_the_graph(monkeypatch):
    spec = PowerLawSpec(700, 9_000, seed=2)
    whole = pa.concat_tables(list(power_law_chunks(spec)[1]))
    monkeypatch.setattr(synthetic, "CHUNK", 1_000)
    parts = list(power_law_chunks(spec)[1])
    assert len(parts) == 9
    assert pa.concat_tables(parts).equals(whole)


def _cli(*args):
    # in-process (typer's runner): a subprocess would spend most of a test importing torch
    return CliRunner().invoke(app, ["synthetic", *map(str, args)], terminal_width=200)


@pytest.mark.parametrize("hetero", [False, True])
def test_synthetic_command_writes_rmat_tables(tmp_path, hetero):
    args = [
        "--out",
        tmp_path / "g.duckdb",
        "--nodes",
        "1000",
        "--edges",
        "6000",
        "--generator",
        "rmat",
    ]
    args += ["--features", "2", "--seed", "3"] + (["--hetero"] if hetero else [])
    res = _cli(*args)
    assert res.exit_code == 0, res.output
    assert "R-MAT" in res.output and "6,000 edges" in res.output
    con = duckdb.connect(str(tmp_path / "g.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    if hetero:
        assert tables == {"users", "items", "clicks", "follows"}
        n = sum(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("clicks", "follows")
        )
    else:
        assert tables == {"nodes", "edges"}
        n = con.execute("SELECT count(*) FROM edges").fetchone()[0]
        assert con.execute("SELECT count(*) FROM nodes").fetchone()[0] == 1000
    assert n == 6000


def test_synthetic_command_rejects_bad_options(tmp_path):
    res = _cli("--out", tmp_path / "g.duckdb", "--generator", "kronecker")
    assert isinstance(res.exception, ConfigError) and "power-law or rmat" in str(res.exception)
    res = _cli("--out", tmp_path / "g.duckdb", "--hetero")
    assert isinstance(res.exception, ConfigError)
    assert "--hetero needs --generator rmat" in str(res.exception)
    assert not (tmp_path / "g.duckdb").exists()
