"""Pre-sampled ("tabular") k-hop neighbourhoods: uniform sampling as Ibis window queries.

The same semantics as the in-memory k-hop sampler, run by an SQL engine (DuckDB here, Spark for
clusters) over Parquet edge tables: per hop, every edge type whose destination type is in the
frontier keeps up to fanout[h] in-edges of each frontier node, chosen by the smallest
pseudo-random key; nodes are deduplicated per batch and the next frontier is the nodes first
reached at this hop. The result is written as Parquet shards read back by `shards.read_shards`.

The random key is integer arithmetic that DuckDB, Spark and numpy evaluate identically (no
engine hash function, no overflow), so every engine writes the same sample for the same seed.
"""

from __future__ import annotations

import json
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gigalearn.common.atomic import atomic_dir
from gigalearn.graph.sampling.shards import FORMAT, MANIFEST, collect_shards
from gigalearn.graph.store import EdgeType, GraphStore, edge_dir_name

_MASK = 0xFFFFFFFF
_PRIME = 4294967291  # largest prime below 2^32: (x < 2^32) * (a < 2^31) stays below 2^63
# (xor constant, multiplier < 2^31) per round; any odd multipliers would do
_ROUNDS = (
    (0x9E3779B9, 0x5BD1E995),
    (0x85EBCA6B, 0x27D4EB2F),
    (0xC2B2AE35, 0x165667B1),
    (0x27D4EB2F, 0x61C88647),
    (0x165667B1, 0x7FEB352D),
    (0xD3A2646C, 0x2545F491),
)
_EXPORT_ROWS = 1 << 23


@dataclass(frozen=True)
class TabularSamplingOptions:
    """Parameters of one pre-sampling run (written to the manifest)."""

    fanouts: tuple[int, ...]
    """Neighbours kept per frontier node and edge type at each hop; -1 keeps all."""
    batch_size: int
    seed: int = 0
    """Seed of the random order: the same seed gives the same shards on every engine."""
    engine: Literal["duckdb", "spark"] = "duckdb"
    scope: Literal["batch", "node"] = "batch"
    """'batch': each batch draws its own neighbours (like the in-memory sampler); 'node': one
    ranking of each node's in-edges per run, shared by all batches (far cheaper on hubs)."""
    batches_per_shard: int = 64
    """Batches per shard: the unit split over DataLoader workers and ranks."""
    edge_types: tuple[EdgeType, ...] | None = None
    """Edge types to expand (default: all of the store's)."""

    def __post_init__(self) -> None:
        if not self.fanouts:
            raise ValueError("fanouts is empty: give one fanout per hop, e.g. (15, 10)")
        bad = [f for f in self.fanouts if not isinstance(f, int | np.integer) or f < -1 or f == 0]
        if bad:
            raise ValueError(f"fanouts {list(self.fanouts)}: each must be >= 1, or -1 for all")
        if self.batch_size < 1 or self.batches_per_shard < 1:
            raise ValueError("batch_size and batches_per_shard must be >= 1")
        if self.engine not in ("duckdb", "spark"):
            raise ValueError(f"engine '{self.engine}' is not 'duckdb' or 'spark'")
        if self.scope not in ("batch", "node"):
            raise ValueError(f"scope '{self.scope}' is not 'batch' or 'node'")


# ---- the random key ----------------------------------------------------------------------
def _round(x: Any, c: int, a: int) -> Any:
    # xor then multiply mod a prime: mixing two ring structures is what makes it non-linear;
    # each step reads x once, so the SQL Ibis emits stays linear in the number of rounds
    return ((x ^ c) * a) % _PRIME


def edge_salt(seed: int, edge_type: EdgeType) -> int:
    """32-bit salt of the key for one edge type, so edge types with equal ids draw apart."""
    return (zlib.crc32(edge_dir_name(edge_type).encode()) ^ (seed * 0x9E3779B1)) & _MASK


def batch_hash(batch: Any, salt: int) -> Any:
    """The batch's part of the key (computed once per frontier row, not per candidate edge)."""
    return _round(_round((batch & _MASK) ^ salt, *_ROUNDS[0]), *_ROUNDS[1])


def edge_key(eid: Any, h: Any) -> Any:
    """Pseudo-random sort key in [0, 2^32) of an edge given its batch's hash."""
    x = _round(_round((eid & _MASK) ^ h, *_ROUNDS[2]), *_ROUNDS[3])
    return _round(_round(x ^ (eid >> 32), *_ROUNDS[4]), *_ROUNDS[5])


def sample_key(eid: Any, batch: Any, salt: int) -> Any:
    """The key of an edge within a batch; non-negative int64 inputs.

    Works unchanged on numpy int64 arrays, Python ints and Ibis integer expressions.
    """
    return edge_key(eid, batch_hash(batch, salt))


# ---- planning and inputs -----------------------------------------------------------------
def hop_plan(
    store: GraphStore, seed_type: str, num_hops: int, edge_types: Sequence[EdgeType] | None
) -> list[list[EdgeType]]:
    """Edge types expanded at each hop: those whose destination type is in the frontier."""
    store.node_meta(seed_type)
    types = [tuple(t) for t in edge_types] if edge_types is not None else store.edge_types
    for t in types:
        store.edge_meta(t)  # KeyError naming the known edge types
    plan, frontier = [], {seed_type}
    for _ in range(num_hops):
        plan.append([t for t in types if t[2] in frontier])
        frontier = {t[0] for t in plan[-1]}
    return plan


def _export_edges(store: GraphStore, base: EdgeType, path: Path) -> None:
    """Write (src, dst, eid) of a stored edge type in slices: arrays are memory-mapped and
    wrapped without copying, only the eid slice is materialised."""
    src, dst = store.edge_index(base)
    index_type = pa.from_numpy_dtype(src.dtype)
    schema = pa.schema([("src", index_type), ("dst", index_type), ("eid", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(0, max(len(src), 1), _EXPORT_ROWS):
            hi = min(lo + _EXPORT_ROWS, len(src))
            eid = np.arange(lo, hi, dtype=np.int64)
            cols = [pa.array(src[lo:hi]), pa.array(dst[lo:hi]), pa.array(eid)]
            writer.write_table(pa.table(cols, schema=schema))


def _check_seeds(store: GraphStore, seed_type: str, seeds: np.ndarray, batch_size: int) -> None:
    n = store.num_nodes(seed_type)
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer) or len(seeds) == 0:
        raise ValueError("seeds must be a non-empty 1-D integer array of dense node ids")
    if seeds.min() < 0 or seeds.max() >= n:
        raise ValueError(f"seeds must be dense ids of '{seed_type}' in [0, {n})")
    batch = np.arange(len(seeds), dtype=np.int64) // batch_size
    if len(np.unique(batch * n + seeds)) != len(seeds):
        raise ValueError("a seed appears twice in one batch: deduplicate each batch's seeds")


# ---- engines -----------------------------------------------------------------------------
def local_spark_session(master: str = "local[2]", driver_memory: str = "1g") -> Any:
    """Create or get a quiet local SparkSession (no UI, few shuffle partitions)."""
    import tempfile

    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(master)
        .appName("gigalearn-tabular-sampling")
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # the default 200 shuffle partitions mean hundreds of tiny tasks on one host
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="gigalearn-spark-"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


# ---- the queries -------------------------------------------------------------------------
def _hop_edges(
    edges: ibis.Table,
    frontier: ibis.Table,
    fanout: int,
    salt: int,
    scope: str,
    cache: Callable[[ibis.Table], ibis.Table],
) -> ibis.Table:
    """Sampled in-edges (batch, src, dst, eid) of the frontier nodes along one edge type."""
    if scope == "node":
        # `edges` is already ranked once per run (column rn): a join keeps the first fanout
        kept = edges if fanout < 0 else edges.filter(edges.rn < fanout)
        return kept.join(frontier, kept.dst == frontier.node).select(
            frontier.batch, kept.src, kept.dst, kept.eid
        )
    if fanout < 0:
        return edges.join(frontier, edges.dst == frontier.node).select(
            frontier.batch, edges.src, edges.dst, edges.eid
        )
    hashed = frontier.mutate(h=batch_hash(frontier.batch, salt))
    cand = edges.join(hashed, edges.dst == hashed.node).select(
        hashed.batch, edges.src, edges.dst, edges.eid, edges.deg, key=edge_key(edges.eid, hashed.h)
    )
    # Sorting every candidate is what costs: a hub in the frontier of each batch brings its
    # whole in-list each time. Keys are uniform in [0, 2^32), so the fanout smallest of a
    # node's d keys almost surely lie below (fanout + margin) / d * 2^32: rank only those, and
    # re-rank in full the rare (batch, node) groups that kept fewer than min(fanout, d).
    # Either way the result is exactly the fanout smallest keys.
    keep = _prefilter_keep(fanout)
    few = cand.filter(cand.key * cand.deg < (keep << 32))
    group = dict(group_by=[few.batch, few.dst])
    few = few.mutate(
        rn=ibis.row_number().over(**group, order_by=[few.key, few.eid]),
        complete=few.eid.count().over(**group) >= ibis.least(few.deg, fanout),
    )
    few = cache(few)  # read twice below: engines without CTE reuse would rank twice
    ranked = few.filter(few.complete, few.rn < fanout).select("batch", "src", "dst", "eid")
    # the incomplete groups, including those that kept no key at all: a small frontier whose
    # candidates are ranked in full
    done = few.filter(few.complete).select("batch", node="dst").distinct()
    redo = hashed.semi_join(edges, hashed.node == edges.dst).anti_join(done, ["batch", "node"])
    rest = edges.join(redo, edges.dst == redo.node).select(
        redo.batch, edges.src, edges.dst, edges.eid, key=edge_key(edges.eid, redo.h)
    )
    rank = ibis.row_number().over(group_by=[rest.batch, rest.dst], order_by=[rest.key, rest.eid])
    redone = rest.mutate(rn=rank).filter(lambda t: t.rn < fanout)
    return ranked.union(redone.select("batch", "src", "dst", "eid"))


def _prefilter_keep(fanout: int) -> int:
    """Keys a node keeps before ranking, in expectation; P(fewer than fanout) < 1e-5."""
    return fanout + 4 * int(np.ceil(np.sqrt(fanout))) + 8


def _sample_query(
    con: ibis.BaseBackend,
    inputs: Path,
    plan: list[list[EdgeType]],
    store: GraphStore,
    seed_type: str,
    opts: TabularSamplingOptions,
    cached: list[ibis.Table],
) -> ibis.Table | None:
    """The union of all hops' sampled edges; each hop's result is materialised (cached)."""

    def cache(table: ibis.Table) -> ibis.Table:
        cached.append(table.cache())
        return cached[-1]

    bases: dict[EdgeType, ibis.Table] = {}
    edges: dict[EdgeType, ibis.Table] = {}
    for t in {t for hop in plan for t in hop}:
        base = tuple(store.edge_meta(t).get("reverse_of") or t)
        if base not in bases:
            bases[base] = con.read_parquet(inputs / f"{edge_dir_name(base)}.parquet")
        b = bases[base].mutate(eid=bases[base].eid.cast("int64"))
        # a reverse type reads its forward type's table with the endpoints swapped
        e = (
            b.select(src=b.dst, dst=b.src, eid=b.eid)
            if base != t
            else b.select("src", "dst", "eid")
        )
        if opts.scope == "node":
            top = max(opts.fanouts)
            key = sample_key(e.eid, 0, edge_salt(opts.seed, t))
            e = e.mutate(rn=ibis.row_number().over(group_by=e.dst, order_by=[key, e.eid]))
            e = e.filter(e.rn < top) if -1 not in opts.fanouts else e
        else:
            # in-degrees, which size each node's pre-filter in _hop_edges
            deg = e.group_by("dst").aggregate(deg=e.count())
            e = e.join(deg, "dst").select("src", "dst", "eid", deg=deg.deg.cast("int64"))
        edges[t] = cache(e)
    seeds = con.read_parquet(inputs / "seeds.parquet")
    frontier = {seed_type: seeds.select("batch", "node")}
    visited = {seed_type: [frontier[seed_type]]}
    hops = []
    for h, (types, fanout) in enumerate(zip(plan, opts.fanouts, strict=True)):
        parts = [
            _hop_edges(
                edges[t], frontier[t[2]], fanout, edge_salt(opts.seed, t), opts.scope, cache
            ).select(
                batch=ibis._.batch.cast("int64"),
                hop=ibis.literal(h, "int32"),
                edge_type=ibis.literal(edge_dir_name(t), "string"),
                src=ibis._.src.cast("int64"),
                dst=ibis._.dst.cast("int64"),
                eid=ibis._.eid,
            )
            for t in types
        ]
        if not parts:
            break
        sampled = cache(ibis.union(*parts))
        hops.append(sampled)
        if h + 1 == len(plan):
            break
        frontier = {}
        for node_type in {t[0] for t in types}:
            names = [edge_dir_name(t) for t in types if t[0] == node_type]
            reached = sampled.filter(sampled.edge_type.isin(names))
            new = reached.select("batch", node="src").distinct()
            for seen in visited.get(node_type, []):
                new = new.anti_join(seen, ["batch", "node"])
            frontier[node_type] = cache(new)
            visited.setdefault(node_type, []).append(frontier[node_type])
    if not hops:
        return None
    result = ibis.union(*hops)
    return result.mutate(shard=(result.batch // opts.batches_per_shard).cast("int64"))


# ---- the run -----------------------------------------------------------------------------
def sample_to_shards(
    store: GraphStore | str | Path,
    seed_type: str,
    seeds: np.ndarray,
    out: str | Path,
    options: TabularSamplingOptions,
    spark_session: Any = None,
) -> dict[str, Any]:
    """Sample k-hop neighbourhoods of `seeds` with the engine; write shards to `out` atomically.

    Batch b holds seeds[b * batch_size : (b + 1) * batch_size]; returns the manifest.
    """
    start = time.perf_counter()
    store = store if isinstance(store, GraphStore) else GraphStore(store)
    seeds = np.asarray(seeds)
    _check_seeds(store, seed_type, seeds, options.batch_size)
    plan = hop_plan(store, seed_type, len(options.fanouts), options.edge_types)
    num_batches = -(-len(seeds) // options.batch_size)
    with atomic_dir(Path(out)) as tmp:
        inputs, staging = tmp / "_inputs", tmp / "_staging"
        inputs.mkdir()
        for base in {tuple(store.edge_meta(t).get("reverse_of") or t) for h in plan for t in h}:
            _export_edges(store, base, inputs / f"{edge_dir_name(base)}.parquet")
        batch = np.arange(len(seeds), dtype=np.int64) // options.batch_size
        pq.write_table(
            pa.table({"batch": batch, "node": seeds.astype(np.int64)}), inputs / "seeds.parquet"
        )
        if options.engine == "spark" and spark_session is None:
            spark_session = local_spark_session()
        con = (
            # spill beside the output, inside the folder that is deleted at the end
            ibis.duckdb.connect(temp_directory=str(tmp / "_spill"))
            if options.engine == "duckdb"
            else ibis.pyspark.connect(spark_session)
        )
        cached: list[ibis.Table] = []
        try:
            query = _sample_query(con, inputs, plan, store, seed_type, options, cached)
            if query is not None and options.engine == "duckdb":
                con.to_parquet(query, staging, partition_by="shard")
            elif query is not None:
                # one shuffle on the shard column, so each shard is one file, not one per task
                df = spark_session.sql(con.compile(query)).repartition("shard")
                df.write.partitionBy("shard").parquet(str(staging))
        finally:
            for t in cached:
                t.release()
            if options.engine == "duckdb":
                con.disconnect()
        shards = collect_shards(staging, tmp, num_batches, options.batches_per_shard)
        shutil.rmtree(inputs)
        for scratch in (staging, tmp / "_spill"):
            shutil.rmtree(scratch, ignore_errors=True)
        np.save(tmp / "seeds.npy", seeds.astype(np.int64))
        manifest = {
            "format": FORMAT,
            "store": str(store.path),
            "seed_type": seed_type,
            "num_seeds": len(seeds),
            "num_batches": num_batches,
            "plan": [[list(t) for t in hop] for hop in plan],
            "edge_types": {edge_dir_name(t): list(t) for hop in plan for t in hop},
            "options": asdict(options),
            "rows": sum(s["rows"] for s in shards),
            "shards": shards,
            "seconds": round(time.perf_counter() - start, 3),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        (tmp / "_SUCCESS").touch()
    return manifest
