"""End-to-end preprocessing on real engines: DuckDB, SQLite, a Parquet folder and PostgreSQL."""

import json

import numpy as np
import pyarrow as pa
import pytest

from gigalearn.common.errors import DataError, SourceError
from gigalearn.graph.config import config_from_dict
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.store import GraphStore

from ..conftest import (
    assert_same_store,
    store_snapshot,
    tiny_config,
    tiny_tables,
    write_duckdb,
    write_files,
    write_postgres,
    write_sqlite,
)

RATED = ("user", "rated", "movie")
REV = ("movie", "rev_rated", "user")


def test_store_contents(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    s = GraphStore(tmp_path / "g")
    assert s.node_ids("user").to_pylist() == [10, 20, 30, 40]
    assert s.node_ids("movie").to_pylist() == ["m1", "m2", "m3"]
    src, dst = s.edge_index(RATED)
    pairs = list(
        zip(
            s.to_original("user", src).to_pylist(),
            s.to_original("movie", dst).to_pylist(),
            strict=True,
        )
    )
    assert pairs == sorted(pairs, key=lambda p: (p[1], p[0]))  # canonical (dst, src) order
    assert set(pairs) == {
        (10, "m1"),
        (10, "m2"),
        (20, "m1"),
        (30, "m3"),
        (30, "m1"),
        (40, "m2"),
        (20, "m3"),
    }
    # attributes follow their edges
    t = dict(zip(pairs, s.edge_time(RATED).tolist(), strict=True))
    w = dict(zip(pairs, s.edge_weight(RATED).tolist(), strict=True))
    assert t[(30, "m1")] == 300 and w[(30, "m1")] == 1.0
    # out-CSR and in-CSR agree with the edge list
    out = s.csr(RATED, "out")
    for u in range(4):
        lo, hi = out.indptr[u], out.indptr[u + 1]
        assert set(out.indices[lo:hi].tolist()) == set(dst[src == u].tolist())
        ids = out.eid[lo:hi]
        assert (src[ids] == u).all() and (dst[ids] == out.indices[lo:hi]).all()
    inn = s.csr(RATED, "in")
    assert inn.eid is None  # in-CSR positions are the edge ids
    for m in range(3):
        lo, hi = inn.indptr[m], inn.indptr[m + 1]
        assert set(inn.indices[lo:hi].tolist()) == set(src[dst == m].tolist())
        assert (dst[lo:hi] == m).all()
    # features: 2 (age + missing indicator) + gender (F, M, oov); genres 3 + oov, year
    assert s.node_features("user").shape == (4, 5)
    assert s.node_features("movie").shape == (4 - 1, 5)
    assert s.node_features("user")[1, 1] == 1.0  # user 20 has no age → indicator set


def test_reverse_edge_type_is_an_alias(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    s = GraphStore(tmp_path / "g")
    assert s.edge_types == [RATED, REV]
    assert s.num_edges(REV) == s.num_edges(RATED) == 7
    np.testing.assert_array_equal(s.csr(REV, "out").indptr, s.csr(RATED, "in").indptr)
    rs, _ = s.edge_index(REV)
    _, fd = s.edge_index(RATED)
    np.testing.assert_array_equal(rs, fd)
    assert not (tmp_path / "g" / "edges" / "movie__rev_rated__user").exists()


def test_labels_are_enumerated(tmp_path):
    tables = tiny_tables()
    tables["users"] = tables["users"].append_column("club", pa.array(["b", "a", None, "b"]))
    cfg = tiny_config({"engine": "duckdb", "uri": write_duckdb(tmp_path / "l.duckdb", tables)})
    cfg["nodes"]["user"]["label"] = "club"
    build_graph(config_from_dict(cfg), tmp_path / "g")
    s = GraphStore(tmp_path / "g")
    assert s.node_labels("user").tolist() == [0, -1, 1, 1]  # ids 10, 20, 30, 40
    assert s.metadata["nodes"]["user"]["label"]["classes"] == ["a", "b"]


def _with_ratings(tmp_path, rows, **edge_over):
    tables = tiny_tables()
    tables["ratings"] = pa.table(rows)
    uri = write_duckdb(tmp_path / "x.duckdb", tables)
    return config_from_dict(tiny_config({"engine": "duckdb", "uri": uri}, **edge_over))


DANGLING = {
    "user_id": [10, 99, 20],
    "movie_id": ["m1", "m1", "zz"],
    "rating": [1.0, 2, 3],
    "ts": [1, 2, 3],
}


def test_dangling_edges_error_names_them_and_leaves_nothing(tmp_path):
    cfg = _with_ratings(tmp_path, DANGLING)
    with pytest.raises(DataError, match=r"2 edge\(s\) point to unknown nodes.*\(99, 'm1'\)"):
        build_graph(cfg, tmp_path / "g")
    assert not (tmp_path / "g").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["x.duckdb"]  # no temporary folder left


def test_dangling_edges_dropped_and_counted(tmp_path):
    meta = build_graph(_with_ratings(tmp_path, DANGLING, dangling="drop"), tmp_path / "g")
    assert meta["edges"][0]["count"] == 1
    assert meta["edges"][0]["report"]["dangling"] == 2


def test_failed_rebuild_keeps_previous_store(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    before = store_snapshot(tmp_path / "g")
    bad = _with_ratings(tmp_path, DANGLING)
    with pytest.raises(DataError):
        build_graph(bad, tmp_path / "g")
    assert_same_store(before, store_snapshot(tmp_path / "g"))


DUPS = {
    "user_id": [10, 10, 10, 20],
    "movie_id": ["m1", "m1", "m1", "m2"],
    "rating": [1.0, 2.0, 3.0, 4.0],
    "ts": [30, 10, 20, 5],
}


@pytest.mark.parametrize("policy,count", [("keep", 4), ("drop", 2)])
def test_duplicate_policies(tmp_path, policy, count):
    meta = build_graph(_with_ratings(tmp_path, DUPS, duplicates=policy), tmp_path / "g")
    assert meta["edges"][0]["count"] == count
    assert meta["edges"][0]["report"]["duplicates"] == 2
    s = GraphStore(tmp_path / "g")
    # parallel edges ordered by time, so `drop` keeps the earliest
    assert s.edge_time(RATED).tolist() == ([10, 20, 30, 5] if policy == "keep" else [10, 5])


def test_duplicate_error(tmp_path):
    with pytest.raises(DataError, match=r"2 duplicate edge\(s\), e.g. \[\(10, 'm1'\)"):
        build_graph(_with_ratings(tmp_path, DUPS, duplicates="error"), tmp_path / "g")


def test_self_loop_policies(tmp_path):
    tables = tiny_tables()
    tables["follows"] = pa.table({"a": [10, 20, 20], "b": [10, 30, 20]})
    uri = write_duckdb(tmp_path / "f.duckdb", tables)
    cfg = tiny_config({"engine": "duckdb", "uri": uri})
    edge = {"type": ["user", "follows", "user"], "table": "follows", "src": "a", "dst": "b"}
    for policy, count in (("keep", 3), ("drop", 1)):
        cfg["edges"] = [{**edge, "self_loops": policy}]
        meta = build_graph(config_from_dict(cfg), tmp_path / policy)
        assert (meta["edges"][0]["count"], meta["edges"][0]["report"]["self_loops"]) == (count, 2)
    cfg["edges"] = [{**edge, "self_loops": "error"}]
    with pytest.raises(DataError, match=r"2 self-loop\(s\)"):
        build_graph(config_from_dict(cfg), tmp_path / "err")


def test_missing_table_and_column_are_named(tiny_duckdb, tmp_path):
    cfg = tiny_config({"engine": "duckdb", "uri": tiny_duckdb})
    cfg["nodes"]["user"]["table"] = "userz"
    with pytest.raises(SourceError, match=r"table 'userz' not found.*'users'"):
        build_graph(config_from_dict(cfg), tmp_path / "g")
    cfg = tiny_config({"engine": "duckdb", "uri": tiny_duckdb})
    cfg["edges"][0]["dst"] = "movie"
    with pytest.raises(SourceError, match=r"edges\[0\].*column\(s\) \['movie'\] not found"):
        build_graph(config_from_dict(cfg), tmp_path / "g")
    assert not (tmp_path / "g").exists()


def test_bad_query_and_missing_database(tiny_duckdb, tmp_path):
    cfg = tiny_config({"engine": "duckdb", "uri": tiny_duckdb})
    cfg["nodes"]["movie"] = {"query": "SELEC movie_id FROM movies", "id": "movie_id"}
    with pytest.raises(SourceError, match="query failed"):
        build_graph(config_from_dict(cfg), tmp_path / "g")
    cfg = tiny_config({"engine": "duckdb", "uri": str(tmp_path / "nope.duckdb")})
    with pytest.raises(SourceError, match="does not exist"):
        build_graph(config_from_dict(cfg), tmp_path / "g")


def test_empty_table_and_duplicate_node_ids(tmp_path):
    tables = tiny_tables()
    tables["movies"] = tables["movies"].slice(0, 0)
    cfg = tiny_config({"engine": "duckdb", "uri": write_duckdb(tmp_path / "e.duckdb", tables)})
    with pytest.raises(DataError, match=r"nodes\.movie \(table 'movies'\): has no rows"):
        build_graph(config_from_dict(cfg), tmp_path / "g")
    tables = tiny_tables()
    tables["users"] = pa.concat_tables([tables["users"], tables["users"].slice(0, 1)])
    cfg = tiny_config({"engine": "duckdb", "uri": write_duckdb(tmp_path / "d.duckdb", tables)})
    with pytest.raises(DataError, match=r"nodes\.user.*duplicate id\(s\), e\.g\. \[30\]"):
        build_graph(config_from_dict(cfg), tmp_path / "g")


def test_nan_feature_names_the_node(tmp_path):
    tables = tiny_tables()
    cfg = tiny_config({"engine": "duckdb", "uri": write_duckdb(tmp_path / "n.duckdb", tables)})
    cfg["nodes"]["user"]["features"]["age"] = "standardize"  # missing: error (the default)
    with pytest.raises(DataError, match=r"feature 'age'.*missing value.*id\(s\) \[20\]"):
        build_graph(config_from_dict(cfg), tmp_path / "g")


def test_query_source(tiny_duckdb, tmp_path):
    cfg = tiny_config({"engine": "duckdb", "uri": tiny_duckdb})
    cfg["edges"][0] = {
        **cfg["edges"][0],
        "table": None,
        "query": "SELECT * FROM ratings WHERE rating >= 4",
    }
    meta = build_graph(config_from_dict(cfg), tmp_path / "g")
    assert meta["edges"][0]["count"] == 4


def test_metadata_is_json_with_transform_stats(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    meta = json.loads((tmp_path / "g" / "metadata.json").read_text())
    age = meta["nodes"]["user"]["features"][0]
    assert age["stats"]["mean"] == [pytest.approx((31 + 18 + 55) / 3)]
    assert meta["nodes"]["movie"]["features"][0]["stats"]["vocab"] == ["Comedy", "Action", "Drama"]


def test_sqlite_and_files_give_the_same_store(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "duck")
    reference = store_snapshot(tmp_path / "duck")
    for engine, uri in (
        ("sqlite", write_sqlite(tmp_path / "t.sqlite", tiny_tables())),
        ("files", write_files(tmp_path / "files", tiny_tables())),
    ):
        cfg = config_from_dict(tiny_config({"engine": engine, "uri": uri}))
        build_graph(cfg, tmp_path / engine)
        assert_same_store(reference, store_snapshot(tmp_path / engine))


@pytest.mark.postgres
def test_postgres_gives_the_same_store(tiny_cfg, tmp_path, pg_url):
    build_graph(tiny_cfg(), tmp_path / "duck")
    cfg = config_from_dict(
        tiny_config({"engine": "postgres", "uri": write_postgres(pg_url, tiny_tables())})
    )
    build_graph(cfg, tmp_path / "pg")
    assert_same_store(store_snapshot(tmp_path / "duck"), store_snapshot(tmp_path / "pg"))
