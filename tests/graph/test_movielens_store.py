"""Integration: the shipped MovieLens configs on the real data (fetched once, cached)."""

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from gigalearn.graph.config import config_from_dict, load_config
from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.store import GraphStore

from .conftest import assert_same_store, store_snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.integration


def _db(variant: str) -> Path:
    return fetch_movielens(variant, cache_root() / "test" / f"ml-{variant}.duckdb")


def _config(variant: str, source: dict):
    data = load_config(EXAMPLES / f"movielens-{variant}.yaml").model_dump(mode="json")
    data["source"] = source
    return config_from_dict(data)


def test_movielens_1m_through_the_cli(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ml-1m.duckdb").symlink_to(_db("1m"))
    cmd = [sys.executable, "-m", "gigalearn.cli", "graph"]
    res = subprocess.run(
        [*cmd, "preprocess", str(EXAMPLES / "movielens-1m.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        [*cmd, "inspect", "runs/movielens-1m"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert re.search(r"user\s.*\b6,040\b", res.stdout)
    assert re.search(r"movie\s.*\b3,883\b", res.stdout)
    assert re.search(r"user/rated/movie\s.*\b1,000,209\b", res.stdout)
    assert re.search(r"movie/rev_rated/user \(reverse\)\s.*\b1,000,209\b", res.stdout)


def test_movielens_1m_store_matches_the_tables(tmp_path):
    db = _db("1m")
    build_graph(_config("1m", {"engine": "duckdb", "uri": str(db)}), tmp_path / "g")
    s = GraphStore(tmp_path / "g")
    con = duckdb.connect(str(db), read_only=True)
    user_id, movie_id = con.execute(
        "SELECT user_id, movie_id FROM ratings ORDER BY ts DESC, user_id LIMIT 1"
    ).fetchone()
    u = s.to_dense("user", [user_id])[0]
    m = s.to_dense("movie", [movie_id])[0]
    csr = s.csr(("user", "rated", "movie"))
    assert m in csr.indices[csr.indptr[u] : csr.indptr[u + 1]]
    degrees = dict(con.execute("SELECT user_id, count(*) FROM ratings GROUP BY 1").fetchall())
    dense = s.to_dense("user", list(degrees))
    assert (csr.degrees()[dense] == list(degrees.values())).all()
    # transforms: 18 genres + oov, year standardised with a missing indicator
    assert s.node_features("movie").shape == (3883, 19 + 2)


@pytest.mark.postgres
def test_movielens_100k_from_postgres_equals_duckdb(tmp_path, pg_url):
    import ibis

    db = _db("100k")
    build_graph(_config("100k", {"engine": "duckdb", "uri": str(db)}), tmp_path / "duck")
    src, dst = ibis.duckdb.connect(str(db)), ibis.connect(pg_url)
    for table in ("users", "movies", "ratings"):
        dst.create_table(f"ml_{table}", src.table(table).to_pyarrow(), overwrite=True)
    cfg = _config("100k", {"engine": "postgres", "uri": pg_url}).model_dump(mode="json")
    for n in cfg["nodes"].values():
        n["table"] = f"ml_{n['table']}"
    cfg["edges"][0]["table"] = "ml_ratings"
    build_graph(config_from_dict(cfg), tmp_path / "pg")
    assert_same_store(store_snapshot(tmp_path / "duck"), store_snapshot(tmp_path / "pg"))
