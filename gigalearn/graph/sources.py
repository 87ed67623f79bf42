"""Relational sources through Ibis: DuckDB (default), SQLite, PostgreSQL, a folder of files,
Spark (a folder of files or the session's catalog) and BigQuery."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import ibis
import pyarrow as pa

from gigalearn.common.errors import SourceError
from gigalearn.graph.config import SourceConfig

_FILE_SUFFIXES = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv"}


class Source:
    """An open connection to the configured engine that reads tables or queries as Arrow."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.con = _connect(config)

    @property
    def description(self) -> str:
        where = self.config.uri or self.config.database or ":memory:"
        return f"{self.config.engine} source {where}"

    def relation(self, table: str | None = None, query: str | None = None) -> ibis.Table:
        """An Ibis table expression for a table name or a SQL query in this source."""
        if table is not None:
            try:
                if self.config.database:
                    return self.con.table(table, database=self.config.database)
                return self.con.table(table)
            except Exception as exc:
                tables = sorted(self.con.list_tables(database=self.config.database))
                raise SourceError(
                    f"{self.description}: table '{table}' not found (tables there: {tables}). "
                    "Fix the 'table' key, or use 'query' for SQL."
                ) from exc
        try:
            return self.con.sql(query)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(
                f"{self.description}: query failed: {first}\n  query: {query}"
            ) from exc

    def _select(self, where: str, rel: ibis.Table, columns: Sequence[str]) -> ibis.Table:
        missing = [c for c in dict.fromkeys(columns) if c not in rel.columns]
        if missing:
            raise SourceError(
                f"{where}: column(s) {missing} not found in {self.description} "
                f"(columns there: {list(rel.columns)}). Fix the column names in the config."
            )
        return rel.select(*dict.fromkeys(columns))

    def read(self, where: str, rel: ibis.Table, columns: Sequence[str]) -> pa.Table:
        """Read `columns` of `rel` as an Arrow table; `where` names the config entry for errors."""
        expr = self._select(where, rel, columns)
        try:
            if self.config.engine == "spark":
                return _spark_arrow(self.con, expr)
            return expr.to_pyarrow()
        except Exception as exc:
            raise SourceError(f"{where}: reading from {self.description} failed: {exc}") from exc

    def read_batches(
        self, where: str, rel: ibis.Table, columns: Sequence[str], batch_rows: int = 1 << 20
    ) -> Iterator[pa.RecordBatch]:
        """Stream `columns` of `rel` in record batches: a large table is never whole in memory."""
        expr = self._select(where, rel, columns)
        if self.config.engine == "spark":
            # Spark collects to the driver either way: Arrow straight from Spark, not pandas
            yield from self.read(where, rel, columns).to_batches(max_chunksize=batch_rows)
            return
        try:
            reader = expr.to_pyarrow_batches(chunk_size=batch_rows)
        except Exception as exc:
            raise SourceError(f"{where}: reading from {self.description} failed: {exc}") from exc
        yield from reader

    def write_table(self, name: str, table: pa.Table) -> None:
        """Create or replace table `name` in the source (used to write results back).

        SQLite has no array type: list columns are written there as JSON text."""
        if self.config.engine == "sqlite":
            for i, field in enumerate(table.schema):
                if pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type):
                    text = [
                        None if v is None else json.dumps(v) for v in table.column(i).to_pylist()
                    ]
                    table = table.set_column(i, field.name, pa.array(text, pa.string()))
        try:
            where = {"database": self.config.database} if self.config.database else {}
            self.con.create_table(name, table, overwrite=True, **where)
        except Exception as exc:
            raise SourceError(
                f"writing table '{name}' to {self.description} failed: {exc}"
            ) from exc

    def close(self) -> None:
        if self.config.engine == "spark":
            return  # the session is shared by the process (and may be the user's): keep it
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect is not None:
            disconnect()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(cfg: SourceConfig) -> ibis.BaseBackend:
    try:
        if cfg.engine == "duckdb":
            if cfg.uri and cfg.uri != ":memory:" and not Path(cfg.uri).exists():
                raise SourceError(
                    f"DuckDB file '{cfg.uri}' does not exist (working folder: {Path.cwd()}). "
                    "Check source.uri, or set source.dataset to fetch a known dataset into it."
                )
            return ibis.duckdb.connect(cfg.uri or ":memory:")
        if cfg.engine == "sqlite":
            if not Path(cfg.uri).exists():
                raise SourceError(f"SQLite file '{cfg.uri}' does not exist. Check source.uri.")
            return ibis.sqlite.connect(cfg.uri)
        if cfg.engine == "postgres":
            return ibis.connect(cfg.uri)
        if cfg.engine == "spark":
            return _connect_spark(cfg)
        if cfg.engine == "bigquery":
            return _connect_bigquery(cfg.uri)
        return _connect_files(Path(cfg.uri))
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"cannot connect to {cfg.engine} source '{cfg.uri}': {exc}") from exc


def _connect_files(folder: Path) -> ibis.BaseBackend:
    """An in-memory DuckDB with one view per Parquet/CSV file of `folder`, named by its stem."""
    if not folder.is_dir():
        raise SourceError(f"files source '{folder}' is not a folder. Check source.uri.")
    con = ibis.duckdb.connect()
    found = False
    for path in sorted(folder.iterdir()):
        reader = _FILE_SUFFIXES.get(path.suffix.lower())
        if reader:
            getattr(con, reader)(str(path), table_name=path.stem)
            found = True
    if not found:
        raise SourceError(f"files source '{folder}' holds no .parquet/.csv/.tsv file")
    return con


def spark_session(master: str | None = None):
    """The Spark session to read with: spark-submit's or the active one, else local mode."""
    from pyspark.sql import SparkSession

    from gigalearn.graph.sampling.tabular import local_spark_session

    active = SparkSession.getActiveSession()
    if master is None and active is not None:
        return active
    if master is None and os.environ.get("PYSPARK_GATEWAY_PORT"):
        return SparkSession.builder.getOrCreate()  # under spark-submit: its master and conf
    if master is None or master.startswith("local"):
        return local_spark_session(master or "local[2]")
    return SparkSession.builder.master(master).appName("gigalearn").getOrCreate()


def _connect_spark(cfg: SourceConfig) -> ibis.BaseBackend:
    """Ibis on a Spark session; with a `uri`, one temporary view per table file or folder."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SourceError(
            "engine: spark needs pyspark: pip install 'gigalearn[spark]' (and Java 17+)"
        ) from None
    session = spark_session(cfg.master)
    if cfg.uri is None:
        return ibis.pyspark.connect(session)
    # a session of its own (sharing the SparkContext): its temporary views, one per table,
    # cannot shadow another source's tables of the same name
    session = session.newSession()
    con = ibis.pyspark.connect(session)
    found = False
    for name, path, kind in _hadoop_listing(session, cfg.uri):
        # read by Spark itself: Ibis's read_parquet rewrites scheme-qualified paths
        if kind == "parquet":
            df = session.read.parquet(path)
        else:
            sep = "\t" if path.endswith(".tsv") else ","
            df = session.read.csv(path, header=True, inferSchema=True, sep=sep)
        df.createOrReplaceTempView(name)
        found = True
    if not found:
        raise SourceError(
            f"spark source '{cfg.uri}' holds no .parquet/.csv/.tsv file or Parquet folder"
        )
    return con


def _hadoop_listing(session, uri: str) -> list[tuple[str, str, str]]:
    """(table name, path, parquet|csv) of a folder, listed by Spark's own Hadoop file system so
    that every scheme the cluster reads (hdfs://, s3a://, gs://, file:) works."""
    jvm = session.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path) or not fs.getFileStatus(path).isDirectory():
        raise SourceError(f"spark source '{uri}' is not a folder. Check source.uri.")
    out = []
    for status in sorted(fs.listStatus(path), key=lambda s: s.getPath().getName()):
        name, full = status.getPath().getName(), status.getPath().toString()
        stem, _, suffix = name.rpartition(".")
        if name.startswith(("_", ".")):
            continue
        if status.isDirectory():
            out.append((name, full, "parquet"))  # a Parquet dataset written by an engine
        elif suffix.lower() == "parquet":
            out.append((stem, full, "parquet"))
        elif suffix.lower() in ("csv", "tsv"):
            out.append((stem, full, "csv"))
    return out


def _spark_arrow(con: ibis.BaseBackend, expr: ibis.Table) -> pa.Table:
    """Run `expr` in Spark and collect it as Arrow with the types Ibis gives the expression, so
    a store built from Spark equals one built from DuckDB."""
    df = con._session.sql(con.compile(expr))
    table = df.toArrow()
    return table.cast(expr.schema().to_pyarrow())


def _connect_bigquery(uri: str) -> ibis.BaseBackend:
    try:
        import ibis.backends.bigquery
    except ImportError:
        raise SourceError(
            "engine: bigquery needs Ibis's BigQuery backend: pip install "
            "'ibis-framework[bigquery]==12.0.0' (credentials: gcloud auth "
            "application-default login)"
        ) from None
    return ibis.connect(uri)
