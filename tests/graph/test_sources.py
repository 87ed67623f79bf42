import json
import sqlite3

import duckdb
import pyarrow as pa

from gigalearn.graph.config import SourceConfig
from gigalearn.graph.sources import Source


def test_write_back_list_columns_to_duckdb_and_sqlite(tmp_path):
    table = pa.table(
        {"id": ["a", "b"], "embedding": pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float32()))}
    )
    sqlite3.connect(tmp_path / "x.sqlite").close()
    with Source(SourceConfig(engine="sqlite", uri=str(tmp_path / "x.sqlite"))) as s:
        s.write_table("emb", table)
    rows = (
        sqlite3.connect(tmp_path / "x.sqlite").execute("SELECT id, embedding FROM emb").fetchall()
    )
    assert [(i, json.loads(e)) for i, e in rows] == [("a", [1.0, 2.0]), ("b", [3.0, 4.0])]
    duckdb.connect(str(tmp_path / "x.duckdb")).close()
    with Source(SourceConfig(engine="duckdb", uri=str(tmp_path / "x.duckdb"))) as s:
        s.write_table("emb", table)
        assert s.read("t", s.relation("emb"), ["embedding"]).column(0).to_pylist()[1] == [3, 4]
