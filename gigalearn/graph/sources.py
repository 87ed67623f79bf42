"""Relational sources through Ibis: DuckDB (default), SQLite, PostgreSQL, a folder of files."""

from __future__ import annotations

import json
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
        return f"{self.config.engine} source {self.config.uri or ':memory:'}"

    def relation(self, table: str | None = None, query: str | None = None) -> ibis.Table:
        """An Ibis table expression for a table name or a SQL query in this source."""
        if table is not None:
            try:
                return self.con.table(table)
            except Exception as exc:
                tables = sorted(self.con.list_tables())
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
            return expr.to_pyarrow()
        except Exception as exc:
            raise SourceError(f"{where}: reading from {self.description} failed: {exc}") from exc

    def read_batches(
        self, where: str, rel: ibis.Table, columns: Sequence[str], batch_rows: int = 1 << 20
    ) -> Iterator[pa.RecordBatch]:
        """Stream `columns` of `rel` in record batches: a large table is never whole in memory."""
        expr = self._select(where, rel, columns)
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
            self.con.create_table(name, table, overwrite=True)
        except Exception as exc:
            raise SourceError(
                f"writing table '{name}' to {self.description} failed: {exc}"
            ) from exc

    def close(self) -> None:
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
