"""Pre-sampled k-hop shards on real engines (DuckDB, Spark local mode) against numpy references."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from torch.utils.data import DataLoader

from gigalearn.common.errors import DataError
from gigalearn.graph.config import config_from_dict
from gigalearn.graph.datasets.synthetic import PowerLawSpec, write_power_law_duckdb
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.sampling import tabular
from gigalearn.graph.sampling.shards import ShardDataset, read_manifest, read_shards
from gigalearn.graph.sampling.tabular import (
    TabularSamplingOptions,
    edge_salt,
    hop_plan,
    local_spark_session,
    sample_to_shards,
)
from gigalearn.graph.store import GraphStore, edge_dir_name

from ..conftest import tiny_config, tiny_tables, write_duckdb

LINKS = ("node", "links", "node")
COLS = ["batch", "hop", "edge_type", "dst", "eid", "src"]


def _homogeneous_store(folder: Path, db: str) -> GraphStore:
    cfg = {
        "name": folder.name,
        "source": {"engine": "duckdb", "uri": db},
        "nodes": {"node": {"table": "nodes", "id": "node_id"}},
        "edges": [{"type": list(LINKS), "table": "edges", "src": "src", "dst": "dst"}],
    }
    build_graph(config_from_dict(cfg), folder / "g")
    return GraphStore(folder / "g")


@pytest.fixture(scope="module")
def power(tmp_path_factory) -> GraphStore:
    """Chung–Lu power law: 1,500 nodes, 8,000 edges (hubs with in-degree in the hundreds)."""
    d = tmp_path_factory.mktemp("power")
    db = write_power_law_duckdb(PowerLawSpec(1500, 8000, seed=3), d / "pl.duckdb")
    return _homogeneous_store(d, str(db))


@pytest.fixture(scope="module")
def star(tmp_path_factory) -> GraphStore:
    """Hub 0 with 30 in-neighbours 1..30, which have no in-edges."""
    d = tmp_path_factory.mktemp("star")
    nodes = pa.table({"node_id": np.arange(31, dtype=np.int64)})
    edges = pa.table({"src": np.arange(1, 31, dtype=np.int64), "dst": np.zeros(30, np.int64)})
    return _homogeneous_store(d, write_duckdb(d / "star.duckdb", {"nodes": nodes, "edges": edges}))


@pytest.fixture(scope="module")
def hetero(tmp_path_factory) -> GraphStore:
    """The tiny users/movies graph with its reverse edge type."""
    d = tmp_path_factory.mktemp("tiny")
    db = write_duckdb(d / "tiny.duckdb", tiny_tables())
    build_graph(config_from_dict(tiny_config({"engine": "duckdb", "uri": db})), d / "g")
    return GraphStore(d / "g")


@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module (its start costs several seconds)."""
    pytest.importorskip("pyspark")
    session = local_spark_session()
    yield session
    session.stop()


def _rows(folder: Path) -> pa.Table:
    """All shard rows, sorted, without engine-specific schema details."""
    m = read_manifest(folder)
    files = [folder / f for s in m["shards"] for f in s["files"]]
    schema = pa.schema([(c, pa.string() if c == "edge_type" else pa.int64()) for c in COLS])
    parts = [pq.read_table(f).select(COLS).cast(schema) for f in files]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return table.sort_by([(c, "ascending") for c in COLS])


def _in_neighbours(store: GraphStore, t, v: int) -> tuple[np.ndarray, np.ndarray]:
    csr = store.csr(t, "in")
    lo, hi = int(csr.indptr[v]), int(csr.indptr[v + 1])
    eid = np.arange(lo, hi) if csr.eid is None else np.asarray(csr.eid[lo:hi])
    return np.asarray(csr.indices[lo:hi], np.int64), eid.astype(np.int64)


def reference_sample(store, seed_type, seeds, opts, pick) -> list[tuple]:
    """Pure-numpy k-hop sampler with the same semantics; `pick(batch, t, eids, fanout)` returns
    the positions kept among a frontier node's in-edges."""
    plan = hop_plan(store, seed_type, len(opts.fanouts), opts.edge_types)
    rows = []
    for b in range(-(-len(seeds) // opts.batch_size)):
        batch_seeds = seeds[b * opts.batch_size : (b + 1) * opts.batch_size]
        visited = {seed_type: set(batch_seeds.tolist())}
        frontier = {seed_type: sorted(visited[seed_type])}
        for h, types in enumerate(plan):
            reached: dict[str, set] = {}
            for t in types:
                for v in frontier.get(t[2], []):
                    nb, eid = _in_neighbours(store, t, v)
                    for i in pick(b, t, eid, opts.fanouts[h]):
                        rows.append((b, h, edge_dir_name(t), v, int(eid[i]), int(nb[i])))
                        reached.setdefault(t[0], set()).add(int(nb[i]))
            frontier = {nt: sorted(s - visited.get(nt, set())) for nt, s in reached.items()}
            for nt, s in reached.items():
                visited.setdefault(nt, set()).update(s)
    return sorted(rows)


def twin_pick(opts):
    """The engine's choice, recomputed in numpy: smallest keys, ties broken by edge id."""

    def pick(b, t, eid, fanout):
        key = tabular.sample_key(eid, b if opts.scope == "batch" else 0, edge_salt(opts.seed, t))
        order = np.lexsort((eid, key))
        return order if fanout < 0 else order[:fanout]

    return pick


def random_pick(rng):
    return lambda b, t, eid, fanout: rng.permutation(len(eid))[: len(eid) if fanout < 0 else fanout]


def _as_tuples(table: pa.Table) -> list[tuple]:
    return sorted(zip(*(table.column(c).to_pylist() for c in COLS), strict=True))


@pytest.mark.parametrize("scope", ["batch", "node"])
def test_matches_numpy_twin_and_store(power, tmp_path, scope):
    seeds = np.random.default_rng(0).choice(1500, 96, replace=False)
    opts = TabularSamplingOptions((6, 3), batch_size=32, seed=7, scope=scope, batches_per_shard=2)
    manifest = sample_to_shards(power, "node", seeds, tmp_path / "s", opts)
    assert (tmp_path / "s" / "_SUCCESS").exists() and manifest["num_batches"] == 3
    assert [s["batches"] for s in manifest["shards"]] == [[0, 2], [2, 3]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temp folder left behind
    got = _rows(tmp_path / "s")
    assert _as_tuples(got) == reference_sample(power, "node", seeds, opts, twin_pick(opts))
    # every sampled edge is the store's edge with that id, pointing at the frontier node
    src, dst = power.edge_index(LINKS)
    eid = got.column("eid").to_numpy()
    np.testing.assert_array_equal(src[eid], got.column("src").to_numpy())
    np.testing.assert_array_equal(dst[eid], got.column("dst").to_numpy())
    # fanout per (batch, hop, frontier node): min(fanout, in-degree), no edge twice
    indeg = np.diff(power.csr(LINKS, "in").indptr)
    counts = Counter(
        zip(*(got.column(c).to_pylist() for c in ("batch", "hop", "dst")), strict=True)
    )
    assert all(n == min(opts.fanouts[h], indeg[v]) for (_, h, v), n in counts.items())
    assert len(set(zip(got.column("batch").to_pylist(), eid.tolist(), strict=True))) == len(eid)


def test_prefilter_fallback_is_exact(power, tmp_path, monkeypatch):
    """With the pre-filter keeping ~1 key per node, nearly every node is re-ranked in full."""
    monkeypatch.setattr(tabular, "_prefilter_keep", lambda fanout: 1)
    seeds = np.arange(0, 1500, 20)
    opts = TabularSamplingOptions((4, 2), batch_size=25, seed=9)
    sample_to_shards(power, "node", seeds, tmp_path / "s", opts)
    assert _as_tuples(_rows(tmp_path / "s")) == reference_sample(
        power, "node", seeds, opts, twin_pick(opts)
    )


def test_subgraphs(power, tmp_path):
    seeds = np.arange(0, 1500, 15)  # includes nodes without in-edges
    opts = TabularSamplingOptions((5, 5), batch_size=16, seed=1, batches_per_shard=3)
    sample_to_shards(power, "node", seeds, tmp_path / "s", opts)
    batches = list(read_shards(tmp_path / "s"))
    assert len(batches) == 7 and [sg.batch_size for sg in batches] == [16] * 6 + [4]
    src, dst = power.edge_index(LINKS)
    for b, sg in enumerate(batches):
        sg.validate()
        ids = sg.node_ids["node"]
        assert len(np.unique(ids)) == len(ids)
        np.testing.assert_array_equal(ids[: sg.batch_size], seeds[b * 16 : (b + 1) * 16])
        ei, eid = sg.edge_index[LINKS], sg.edge_ids[LINKS]
        np.testing.assert_array_equal(ids[ei[0]], src[eid])
        np.testing.assert_array_equal(ids[ei[1]], dst[eid])
        assert sum(sg.num_sampled_nodes["node"]) == len(ids)
        assert sg.num_sampled_nodes["node"][0] == sg.batch_size
        assert sum(sg.num_sampled_edges[LINKS]) == len(eid)
        # hop-0 targets are seeds; hop-1 targets are the nodes hop 0 reached first
        n0, n1 = sg.num_sampled_edges[LINKS][0], sg.num_sampled_nodes["node"][1]
        assert ei[1, :n0].max(initial=-1) < sg.batch_size
        assert set(ei[1, n0:].tolist()) <= set(range(sg.batch_size, sg.batch_size + n1))


def test_hetero_reverse_types_and_isolated_seeds(hetero, tmp_path):
    opts = TabularSamplingOptions((2, 1, -1), batch_size=3, seed=5, batches_per_shard=1)
    seeds = np.array([3, 0, 1, 2])
    sample_to_shards(hetero, "user", seeds, tmp_path / "s", opts)
    assert _as_tuples(_rows(tmp_path / "s")) == reference_sample(
        hetero, "user", seeds, opts, twin_pick(opts)
    )
    for sg in read_shards(tmp_path / "s"):
        sg.validate()
        for t, ei in sg.edge_index.items():
            s, d = hetero.edge_index(t)
            e = sg.edge_ids[t]
            np.testing.assert_array_equal(sg.node_ids[t[0]][ei[0]], s[e])
            np.testing.assert_array_equal(sg.node_ids[t[2]][ei[1]], d[e])
    # rated edges never point at users: restricted to them, a user-rooted sample is seeds only
    only = TabularSamplingOptions((3,), batch_size=2, edge_types=(("user", "rated", "movie"),))
    sample_to_shards(hetero, "user", np.array([0, 1]), tmp_path / "e", only)
    (sg,) = read_shards(tmp_path / "e")
    assert sg.node_ids["user"].tolist() == [0, 1] and sg.edge_index == {}


def test_deterministic_per_seed(power, tmp_path):
    seeds = np.arange(64)
    runs = {}
    for name, seed in [("a", 11), ("b", 11), ("c", 12)]:
        opts = TabularSamplingOptions((4, 4), batch_size=32, seed=seed)
        sample_to_shards(power, "node", seeds, tmp_path / name, opts)
        runs[name] = _rows(tmp_path / name)
    assert runs["a"].equals(runs["b"]) and not runs["a"].equals(runs["c"])
    sample_to_shards(power, "node", seeds, tmp_path / "a", opts)  # replaces a finished run
    assert _rows(tmp_path / "a").equals(runs["c"])


def test_failed_run_keeps_the_previous_sample(power, tmp_path, monkeypatch):
    opts = TabularSamplingOptions((3,), batch_size=8)
    sample_to_shards(power, "node", np.arange(16), tmp_path / "s", opts)
    before = _rows(tmp_path / "s")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tabular, "collect_shards", fail)
    with pytest.raises(OSError, match="disk full"):
        sample_to_shards(power, "node", np.arange(32), tmp_path / "s", opts)
    assert _rows(tmp_path / "s").equals(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_uniform_on_star(star, tmp_path):
    """Hub 0 as the seed of 3,000 one-seed batches, fanout 5 of 30: each neighbour ~ 500 times."""
    opts = TabularSamplingOptions((5,), batch_size=1, seed=3, batches_per_shard=1000)
    sample_to_shards(star, "node", np.zeros(3000, np.int64), tmp_path / "s", opts)
    rows = _rows(tmp_path / "s")
    assert rows.num_rows == 3000 * 5
    counts = np.bincount(rows.column("src").to_numpy(), minlength=31)[1:]
    assert stats.chisquare(counts).pvalue > 1e-3
    # pairs too: uniform without replacement makes all 435 pairs equally likely
    src = rows.column("src").to_numpy().reshape(3000, 5)  # sorted by batch
    pairs = Counter(
        (int(a), int(b)) for r in np.sort(src) for i, a in enumerate(r) for b in r[i + 1 :]
    )
    assert len(pairs) == 435 and stats.chisquare(list(pairs.values())).pvalue > 1e-3
    # node scope ranks once per run: every batch then shares one sample
    node = TabularSamplingOptions((5,), batch_size=1, seed=3, scope="node")
    sample_to_shards(star, "node", np.zeros(20, np.int64), tmp_path / "n", node)
    assert len(set(_rows(tmp_path / "n").column("src").to_pylist())) == 5


def test_distribution_matches_random_reference(power, tmp_path):
    """Against an independent-RNG sampler: neighbourhood sizes per hop, and the hub's
    per-neighbour inclusion frequencies."""
    indeg = np.diff(power.csr(LINKS, "in").indptr)
    hub = int(np.argmax(indeg))
    seeds = np.tile(np.concatenate([[hub], np.arange(hub + 1, hub + 8) % 1500]), 150)
    opts = TabularSamplingOptions((10, 5), batch_size=8, seed=21, batches_per_shard=64)
    sample_to_shards(power, "node", seeds, tmp_path / "s", opts)
    ours = _as_tuples(_rows(tmp_path / "s"))
    ref = reference_sample(power, "node", seeds, opts, random_pick(np.random.default_rng(0)))

    def sizes(rows, hop):
        per_batch = Counter(r[0] for r in rows if r[1] == hop)
        return [per_batch.get(b, 0) for b in range(150)]

    for hop in (0, 1):
        a, b = sizes(ours, hop), sizes(ref, hop)
        assert stats.ks_2samp(a, b).pvalue > 1e-3, hop
        assert abs(np.mean(a) - np.mean(b)) < 0.05 * np.mean(b), hop
    hub_nb = lambda rows: Counter(r[5] for r in rows if r[1] == 0 and r[3] == hub)  # noqa: E731
    a, b = hub_nb(ours), hub_nb(ref)
    keys = sorted(set(a) | set(b))
    table = np.array([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]])
    assert sum(a.values()) == sum(b.values()) == 150 * 10
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_distribution_matches_khop_sampler(power, tmp_path):
    """Against the in-memory numba sampler: per-hop node and edge counts, hub inclusions."""
    from gigalearn.graph.sampling.khop import KHopOptions, KHopSampler

    hub = int(np.argmax(np.diff(power.csr(LINKS, "in").indptr)))
    rng = np.random.default_rng(4)
    seeds = np.concatenate([[hub, *rng.choice(np.delete(np.arange(1500), hub), 15, False)]
                            for _ in range(120)])  # fmt: skip
    opts = TabularSamplingOptions((8, 4), batch_size=16, seed=13)
    sample_to_shards(power, "node", seeds, tmp_path / "s", opts)
    ours = list(read_shards(tmp_path / "s"))
    khop = KHopSampler(power, KHopOptions(fanout=[8, 4], parallel=False))
    ref = [khop.sample("node", seeds[b * 16 : (b + 1) * 16], seed=b) for b in range(120)]
    for hop in (0, 1):
        a = [sg.num_sampled_nodes["node"][hop + 1] for sg in ours]
        b = [sg.num_sampled_nodes["node"][hop + 1] for sg in ref]
        assert stats.ks_2samp(a, b).pvalue > 1e-3 and abs(np.mean(a) / np.mean(b) - 1) < 0.05
        a = [sg.num_sampled_edges[LINKS][hop] for sg in ours]
        b = [sg.num_sampled_edges[LINKS][hop] for sg in ref]
        assert stats.ks_2samp(a, b).pvalue > 1e-3 and abs(np.mean(a) / np.mean(b) - 1) < 0.05

    def hub_neighbours(sg) -> list[int]:
        ei, ids = sg.edge_index[LINKS], sg.node_ids["node"]
        return ids[ei[0][ei[1] == 0]].tolist()  # the hub is local id 0 (first seed)

    a = Counter(n for sg in ours for n in hub_neighbours(sg))
    b = Counter(n for sg in ref for n in hub_neighbours(sg))
    keys = sorted(set(a) | set(b))
    assert sum(a.values()) == sum(b.values()) == 120 * 8
    assert stats.chi2_contingency([[a[k] for k in keys], [b[k] for k in keys]]).pvalue > 1e-3


@pytest.mark.slow
def test_spark_writes_the_same_shards(spark, power, hetero, tmp_path):
    """Spark local mode (~1 min with its start on 2 cores): identical rows and batches."""
    for store, seed_type, seeds, opts in [
        (power, "node", np.arange(0, 1500, 25), TabularSamplingOptions((5, 3), 16, seed=2)),
        (hetero, "user", np.arange(4), TabularSamplingOptions((1, 2), 2, seed=4, scope="node")),
    ]:
        a = sample_to_shards(store, seed_type, seeds, tmp_path / "duck", opts)
        spark_opts = TabularSamplingOptions(**{**opts.__dict__, "engine": "spark"})
        b = sample_to_shards(store, seed_type, seeds, tmp_path / "spark", spark_opts, spark)
        assert _rows(tmp_path / "duck").equals(_rows(tmp_path / "spark"))
        assert [s["rows"] for s in a["shards"]] == [s["rows"] for s in b["shards"]]
        assert all(len(s["files"]) <= 1 for s in b["shards"])  # one file per shard
        for x, y in zip(
            read_shards(tmp_path / "duck"), read_shards(tmp_path / "spark"), strict=True
        ):
            assert x.node_ids.keys() == y.node_ids.keys()
            for k in x.node_ids:
                np.testing.assert_array_equal(x.node_ids[k], y.node_ids[k])
            for k in x.edge_index:
                np.testing.assert_array_equal(x.edge_index[k], y.edge_index[k])
                np.testing.assert_array_equal(x.edge_ids[k], y.edge_ids[k])


def test_dataset_splits_shards_over_ranks_and_workers(power, tmp_path):
    seeds = np.arange(200)
    opts = TabularSamplingOptions((3,), batch_size=10, seed=0, batches_per_shard=3)
    sample_to_shards(power, "node", seeds, tmp_path / "s", opts)  # 20 batches, 7 shards
    first = lambda sg: int(sg.node_ids["node"][0])  # noqa: E731  (seeds are 0..199 in order)
    per_rank = [[first(sg) for sg in ShardDataset(tmp_path / "s", r, 2)] for r in range(2)]
    assert sorted(per_rank[0] + per_rank[1]) == list(range(0, 200, 10))
    assert not set(per_rank[0]) & set(per_rank[1])
    # with DataLoader workers the split is over rank x worker: still every batch exactly once
    seen = []
    for rank in range(2):
        ds = ShardDataset(tmp_path / "s", rank, 2)
        seen += [first(sg) for sg in DataLoader(ds, batch_size=None, num_workers=2)]
    assert sorted(seen) == list(range(0, 200, 10))


def test_clear_errors(power, hetero, tmp_path):
    with pytest.raises(ValueError, match="fanouts is empty"):
        TabularSamplingOptions((), batch_size=4)
    with pytest.raises(ValueError, match="-1 for all"):
        TabularSamplingOptions((3, 0), batch_size=4)
    with pytest.raises(ValueError, match="engine 'spork'"):
        TabularSamplingOptions((3,), batch_size=4, engine="spork")
    bad_type = TabularSamplingOptions((3,), batch_size=4, edge_types=(("node", "x", "node"),))
    with pytest.raises(KeyError, match="unknown edge type"):
        sample_to_shards(power, "node", np.arange(4), tmp_path / "s", bad_type)
    opts = TabularSamplingOptions((3,), batch_size=2)
    with pytest.raises(KeyError, match="unknown node type 'movies'"):
        sample_to_shards(hetero, "movies", np.arange(2), tmp_path / "s", opts)
    with pytest.raises(ValueError, match=r"in \[0, 1500\)"):
        sample_to_shards(power, "node", np.array([0, 1500]), tmp_path / "s", opts)
    with pytest.raises(ValueError, match="twice in one batch"):
        sample_to_shards(power, "node", np.array([4, 4, 5]), tmp_path / "s", opts)
    assert not (tmp_path / "s").exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="not a finished tabular sample"):
        list(read_shards(tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="format 'other'"):
        read_manifest(tmp_path)
