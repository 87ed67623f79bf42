"""The preprocessing stage on Spark (local mode, through Ibis): the same GraphStore as DuckDB."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest

from gigalearn.common.errors import SourceError
from gigalearn.graph.config import SourceConfig, config_from_dict, load_config
from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.sources import Source, spark_session

from ..conftest import assert_same_store, store_snapshot, tiny_config, tiny_tables

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def spark():
    """One local session for the module: its start costs several seconds."""
    return spark_session("local[2]")


@pytest.mark.integration
def test_movielens_100k_from_spark_equals_duckdb(spark, tmp_path):
    db = fetch_movielens("100k", cache_root() / "test" / "ml-100k.duckdb")
    con = ibis.duckdb.connect(str(db))
    (tmp_path / "tables").mkdir()
    for table in ("users", "movies", "ratings"):
        pq.write_table(con.table(table).to_pyarrow(), tmp_path / "tables" / f"{table}.parquet")
    con.disconnect()
    data = load_config(EXAMPLES / "movielens-100k.yaml").model_dump(mode="json")
    data["source"] = {"engine": "duckdb", "uri": str(db)}
    build_graph(config_from_dict(data), tmp_path / "duck")
    # a folder of Parquet files, named by a file: URL as a cluster would name s3a:// or hdfs://
    data["source"] = {"engine": "spark", "uri": (tmp_path / "tables").as_uri()}
    build_graph(config_from_dict(data), tmp_path / "spark")
    assert_same_store(store_snapshot(tmp_path / "duck"), store_snapshot(tmp_path / "spark"))


def test_catalog_tables_and_parquet_folders(spark, tmp_path, tiny_cfg):
    """Tables of the session's catalog (as on a Hive cluster), and Parquet folders written by
    an engine, give the store DuckDB gives; results write back as catalog tables."""
    build_graph(tiny_cfg(), tmp_path / "duck")
    spark.sql("CREATE DATABASE IF NOT EXISTS gl_tiny")
    for name, table in tiny_tables().items():
        df = spark.createDataFrame(table.to_pandas())
        df.write.mode("overwrite").saveAsTable(f"gl_tiny.{name}")
        df.write.mode("overwrite").parquet(str(tmp_path / "folders" / name))
    catalog = {"engine": "spark", "database": "gl_tiny"}
    build_graph(config_from_dict(tiny_config(catalog)), tmp_path / "catalog")
    folders = {"engine": "spark", "uri": str(tmp_path / "folders")}
    build_graph(config_from_dict(tiny_config(folders)), tmp_path / "folders_store")
    expected = store_snapshot(tmp_path / "duck")
    assert_same_store(expected, store_snapshot(tmp_path / "catalog"))
    assert_same_store(expected, store_snapshot(tmp_path / "folders_store"))
    with Source(SourceConfig(**catalog)) as source:
        source.write_table("emb_user", tiny_tables()["users"].select(["user_id", "age"]))
        assert spark.table("gl_tiny.emb_user").count() == 4


def test_spark_source_errors(spark, tmp_path):
    with pytest.raises(SourceError, match="is not a folder"):
        Source(SourceConfig(engine="spark", uri=str(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no"):
        Source(SourceConfig(engine="spark", uri=str(tmp_path / "empty")))
    with pytest.raises(ValueError, match="options of engine: spark"):
        SourceConfig(engine="duckdb", master="local[1]")
