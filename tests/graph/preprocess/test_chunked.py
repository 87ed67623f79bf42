"""The out-of-core build gives the same store as the in-memory build, array for array."""

import numpy as np
import pyarrow as pa
import pytest

from gigalearn.common.errors import DataError
from gigalearn.graph.config import config_from_dict
from gigalearn.graph.preprocess import csr
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.store import GraphStore

from ..conftest import assert_same_store, store_snapshot, write_duckdb


def _random_tables(seed: int, n: int = 40, e: int = 600) -> dict[str, pa.Table]:
    """A skewed multigraph with parallel edges, self-loops, dangling ends and tied timestamps."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64) * 3 + 1
    hub = rng.zipf(1.6, size=(2, e)) % n  # heavy-tailed endpoints: a few rows span chunks
    src, dst = ids[hub[0]], ids[hub[1]]
    src[:5] = 10_000  # dangling
    return {
        "nodes": pa.table({"id": ids, "x": rng.normal(size=n)}),
        "edges": pa.table(
            {
                "s": src,
                "d": dst,
                "ts": rng.integers(0, 5, e),  # few distinct values: ties among parallel edges
                "w": rng.integers(0, 3, e).astype(np.float64),
                "f": rng.normal(size=e),
            }
        ),
    }


def _config(uri: str, **edge) -> dict:
    return {
        "name": "chunked",
        "source": {"engine": "duckdb", "uri": uri},
        "nodes": {"n": {"table": "nodes", "id": "id", "features": {"x": "standardize"}}},
        "edges": [
            {
                "type": ["n", "to", "n"],
                "table": "edges",
                "src": "s",
                "dst": "d",
                "time": "ts",
                "weight": "w",
                "features": {"f": "standardize"},
                "dangling": "drop",
                "reverse": True,
                **edge,
            }
        ],
    }


@pytest.mark.parametrize("self_loops", ["keep", "drop"])
@pytest.mark.parametrize("duplicates", ["keep", "drop"])
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_build_equals_in_memory_build(tmp_path, self_loops, duplicates, chunk):
    uri = write_duckdb(tmp_path / "g.duckdb", _random_tables(seed=chunk))
    cfg = config_from_dict(_config(uri, self_loops=self_loops, duplicates=duplicates))
    build_graph(cfg, tmp_path / "mem")  # default chunk: one batch, in memory
    build_graph(cfg, tmp_path / "ooc", chunk_edges=chunk)
    a, b = store_snapshot(tmp_path / "mem"), store_snapshot(tmp_path / "ooc")
    assert_same_store(a, b)
    for k in a:
        if k.endswith(".npy"):
            assert a[k].dtype == b[k].dtype, k
            # the same bytes on disk, header included
            assert (tmp_path / "mem" / k).read_bytes() == (tmp_path / "ooc" / k).read_bytes(), k
    assert not list((tmp_path / "ooc").glob(".spill*"))
    assert a["metadata"]["edges"][0]["report"]["dangling"] == 5


def test_chunked_build_applies_error_policies(tmp_path):
    uri = write_duckdb(tmp_path / "g.duckdb", _random_tables(seed=0))
    for policy, message in (
        ({"dangling": "error"}, "unknown nodes"),
        ({"self_loops": "error"}, "self-loop"),
        ({"duplicates": "error"}, "duplicate edge"),
    ):
        cfg = config_from_dict(_config(uri, **policy))
        with pytest.raises(DataError, match=message):
            build_graph(cfg, tmp_path / "ooc", chunk_edges=8)
        assert not (tmp_path / "ooc").exists()


def test_int32_below_the_limit_and_int64_above(tmp_path, monkeypatch, tiny_cfg):
    build_graph(tiny_cfg(), tmp_path / "small")
    g = GraphStore(tmp_path / "small")
    rated = ("user", "rated", "movie")
    assert g.edge_index(rated)[0].dtype == np.int32
    assert g.csr(rated, "out").eid.dtype == np.int32
    assert g.csr(rated).indptr.dtype == np.int32
    # 7 edges, 4 users, 3 movies: a limit of 5 makes edge ids and offsets int64 but keeps node
    # ids int32; a limit of 4 makes the 4 user ids int64 too
    for limit, chunk in ((5, 1 << 22), (4, 1 << 22), (5, 2), (4, 2)):
        monkeypatch.setattr(csr, "INT32_LIMIT", limit)
        out = tmp_path / f"l{limit}-{chunk}"
        build_graph(tiny_cfg(), out, chunk_edges=chunk)
        g = GraphStore(out)
        src, dst = g.edge_index(rated)
        assert g.csr(rated, "out").eid.dtype == np.int64
        assert g.csr(rated).indptr.dtype == np.int64
        assert g.edge_meta(rated)["offset_dtype"] == "int64"
        assert src.dtype == (np.int32 if limit == 5 else np.int64)
        assert dst.dtype == np.int32
    monkeypatch.undo()
    a, b = store_snapshot(tmp_path / "l4-4194304"), store_snapshot(tmp_path / "l4-2")
    assert_same_store(a, b)
