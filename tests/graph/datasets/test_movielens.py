"""MovieLens loaders against the real RecBole wheels (fetched once into the gigalearn cache).

Numbers checked here were read from the files themselves:
- 100K: 943 users, 1,682 movies, 100,000 ratings; ts 874,724,710..893,286,638.
- 1M: 6,040 users, 3,883 movies in the item file (3,706 of them rated), 1,000,209 ratings;
  ts 956,703,932..1,046,454,590. No rating points to a missing user or movie in either variant.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from gigalearn.common.errors import SourceError
from gigalearn.graph.datasets import MOVIELENS_COUNTS, cache_root, fetch_movielens
from gigalearn.graph.datasets.movielens import _WHEELS

pytestmark = pytest.mark.integration

GENRES = {
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
}  # fmt: skip
EXPECTED = {
    "100k": {"users": 943, "movies": 1682, "ratings": 100_000, "rated_movies": 1682},
    "1m": {"users": 6040, "movies": 3883, "ratings": 1_000_209, "rated_movies": 3706},
}
SCHEMA = {
    "users": [("user_id", "INTEGER"), ("age", "INTEGER"), ("gender", "VARCHAR")],
    "ratings_tail": [("rating", "DOUBLE"), ("ts", "BIGINT")],
}


@pytest.fixture(scope="module", params=["100k", "1m"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One DuckDB file per variant, shared by the read-only checks."""
    variant = request.param
    db = fetch_movielens(variant, tmp_path_factory.mktemp(variant) / "ml.duckdb")
    con = duckdb.connect(str(db), read_only=True)
    yield variant, db, con
    con.close()


def _types(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_row_counts(built) -> None:
    variant, _, con = built
    want = EXPECTED[variant]
    for table in ("users", "movies", "ratings"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (want[table],)
        assert MOVIELENS_COUNTS[variant][table] == want[table]
    rated = con.execute("SELECT count(DISTINCT movie_id) FROM ratings").fetchone()
    assert rated == (want["rated_movies"],)
    assert con.execute("SELECT count(DISTINCT user_id) FROM ratings").fetchone() == (want["users"],)


def test_schema(built) -> None:
    variant, _, con = built
    mid = "INTEGER" if variant == "100k" else "VARCHAR"
    occupation = "VARCHAR" if variant == "100k" else "INTEGER"
    users = [*SCHEMA["users"], ("occupation", occupation), ("zip_code", "VARCHAR")]
    assert _types(con, "users") == users
    movies = [("movie_id", mid), ("title", "VARCHAR"), ("year", "INTEGER"), ("genres", "VARCHAR")]
    assert _types(con, "movies") == movies
    ratings = [("user_id", "INTEGER"), ("movie_id", mid), *SCHEMA["ratings_tail"]]
    assert _types(con, "ratings") == ratings


def test_keys_and_references(built) -> None:
    _, _, con = built
    for table, key in (("users", "user_id"), ("movies", "movie_id")):
        n, distinct, nulls = con.execute(
            f"SELECT count(*), count(DISTINCT {key}), count(*) - count({key}) FROM {table}"
        ).fetchone()
        assert n == distinct and nulls == 0
    dangling = con.execute(
        "SELECT count(*) FILTER (WHERE movie_id NOT IN (SELECT movie_id FROM movies)),"
        " count(*) FILTER (WHERE user_id NOT IN (SELECT user_id FROM users)) FROM ratings"
    ).fetchone()
    assert dangling == (0, 0)
    pairs = con.execute("SELECT count(DISTINCT (user_id, movie_id)) FROM ratings").fetchone()
    assert pairs == con.execute("SELECT count(*) FROM ratings").fetchone()


def test_no_carriage_returns(built) -> None:
    _, _, con = built
    for table in ("users", "movies", "ratings"):
        for col, typ in _types(con, table):
            if typ == "VARCHAR":
                sql = f"SELECT count(*) FROM {table} WHERE {col} LIKE '%' || chr(13) || '%'"
                assert con.execute(sql).fetchone() == (0,), f"{table}.{col}"


def test_values(built) -> None:
    variant, _, con = built
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM ratings").fetchone()
    # MovieLens ratings were collected 1997-1998 (100K) and 2000-2003 (1M).
    assert 850_000_000 < lo < hi < 1_100_000_000
    assert con.execute("SELECT DISTINCT rating FROM ratings ORDER BY 1").fetchall() == [
        (float(r),) for r in range(1, 6)
    ]
    assert con.execute("SELECT DISTINCT gender FROM users ORDER BY 1").fetchall() == [
        ("F",),
        ("M",),
    ]
    genres = {
        g
        for (g,) in con.execute(
            "SELECT DISTINCT unnest(string_split(genres, '|')) FROM movies"
        ).fetchall()
    }
    # 100K also has the 'unknown' genre (2 movies); 1M uses exactly the 18 named ones.
    assert genres == (GENRES | {"unknown"} if variant == "100k" else GENRES)
    ylo, yhi, missing = con.execute(
        "SELECT min(year), max(year), count(*) - count(year) FROM movies"
    ).fetchone()
    assert 1900 < ylo <= yhi <= 2000
    # Only 100K movie 267 ('unkonwn' in RecBole's file) has no year.
    assert missing == (1 if variant == "100k" else 0)
    if variant == "1m":
        row = con.execute("SELECT * FROM movies WHERE movie_id = 'Toy Story (1995)'").fetchone()
        assert row == ("Toy Story (1995)", "Toy Story", 1995, "Animation|Children's|Comedy")
        assert con.execute("SELECT min(user_id), max(user_id) FROM users").fetchone() == (1, 6040)
    else:
        row = con.execute("SELECT * FROM movies WHERE movie_id = 1").fetchone()
        assert row == (1, "Toy Story", 1995, "Animation|Children's|Comedy")


def test_idempotent_and_overwrite(built, tmp_path: Path) -> None:
    variant, _, _ = built
    db = tmp_path / "sub" / "ml.duckdb"
    assert fetch_movielens(variant, db) == db
    stat = db.stat()
    assert fetch_movielens(variant, str(db)) == db
    assert db.stat().st_mtime_ns == stat.st_mtime_ns and db.stat().st_ino == stat.st_ino
    fetch_movielens(variant, db, overwrite=True)
    assert db.stat().st_ino != stat.st_ino  # rebuilt and renamed into place
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ratings").fetchone() == (
            EXPECTED[variant]["ratings"],
        )
    assert sorted(p.name for p in db.parent.iterdir()) == ["ml.duckdb"]  # no temp leftovers


def test_existing_file_is_returned_untouched(tmp_path: Path) -> None:
    db = tmp_path / "ml.duckdb"
    db.write_bytes(b"not a database")
    assert fetch_movielens("100k", db) == db
    assert db.read_bytes() == b"not a database"


def test_corrupted_wheel_is_a_source_error(tmp_path: Path) -> None:
    wheel = _WHEELS["100k"]
    fetch_movielens("100k", tmp_path / "warm.duckdb")  # makes sure the real cache holds the wheel
    bad_cache = tmp_path / "cache"
    bad_cache.mkdir()
    shutil.copy(cache_root() / "pypi" / wheel.filename, bad_cache / wheel.filename)
    with (bad_cache / wheel.filename).open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"garbage" * 10)
    db = tmp_path / "bad.duckdb"
    with pytest.raises(SourceError, match="sha256"):
        fetch_movielens("100k", db, cache_dir=bad_cache, overwrite=True)
    assert not db.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "warm.duckdb"]


def test_cache_root_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIGALEARN_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("GIGALEARN_CACHE")
    assert cache_root() == Path.home() / ".cache" / "gigalearn"


def test_unknown_variant(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="variant"):
        fetch_movielens("10m", tmp_path / "x.duckdb")  # type: ignore[arg-type]


def test_fresh_download_into_empty_cache_dir(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    db = fetch_movielens("100k", tmp_path / "ml.duckdb", cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == [_WHEELS["100k"].filename]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM users").fetchone() == (943,)


def test_download_failure_is_a_source_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A real pip run with every package source switched off, so the download cannot succeed.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    cache, db = tmp_path / "cache", tmp_path / "ml.duckdb"
    with pytest.raises(SourceError, match=r"could not download recbole==1\.2\.1 from PyPI"):
        fetch_movielens("100k", db, cache_dir=cache)
    assert not db.exists()
    assert list(cache.iterdir()) == []
