"""`gigalearn graph partition` and `gigalearn graph infer`: the commands of multi-host runs
(registered on the graph app by cli.py). Their `--runs-dir` may be an fsspec URL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gigalearn.graph.config import load_config

RunsUrlOpt = Annotated[
    str,
    typer.Option(
        "--runs-dir",
        help="Folder or fsspec URL (s3://, gs://, file://) holding run directories.",
    ),
]


def partition_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    parts: Annotated[
        int | None, typer.Option(min=1, help="Number of parts (default: the config's).")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="metis, hash or range (default: the config's, else metis).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="METIS's random seed.")] = None,
    runs_dir: RunsUrlOpt = "runs",
) -> None:
    """Partition the run's graph for locality; writes runs/<name>/partition/ (Parquet per node
    type: id, node, part) and prints the edge cut against a random partition."""
    from gigalearn.common.errors import ConfigError
    from gigalearn.graph.cli import console
    from gigalearn.graph.config import PartitionConfig
    from gigalearn.graph.partition import edge_cut, partition_dir, partition_graph
    from gigalearn.graph.remote import synced_run
    from gigalearn.graph.store import GraphStore

    cfg = load_config(config)
    base = cfg.partition or PartitionConfig()
    given = {"parts": parts, "method": method, "seed": seed}
    try:
        spec = PartitionConfig(
            **{**base.model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
    except ValueError as exc:
        raise ConfigError(f"partition options: {exc}") from None
    with synced_run(runs_dir, cfg.name, reads=["graph"], writes=["partition"]) as run:
        store = GraphStore(run.graph)
        with console.status(f"partitioning into {spec.parts} parts with {spec.method}"):
            part = partition_graph(store, spec.parts, spec.method, spec.seed)
            baseline = edge_cut(store, partition_graph(store, spec.parts, "random", spec.seed))
            part.stats["random_edge_cut"] = baseline
            part.save(partition_dir(run.root), store)
    table = Table(title=f"{spec.method} partition of {cfg.name} into {spec.parts} parts")
    for col in ("edge cut", "random partition's cut", "nodes per part"):
        table.add_column(col, justify="right")
    table.add_row(f"{part.stats['edge_cut']:.4f}", f"{baseline:.4f}", str(part.sizes()))
    console.print(table)
    console.print(f"[green]wrote[/] {runs_dir}/{cfg.name}/partition")


def infer_cmd(
    config: Annotated[Path, typer.Argument(help="Task config YAML.")],
    runs_dir: RunsUrlOpt = "runs",
) -> None:
    """Embeddings (or predictions) of the trained model; under torchrun each rank embeds its
    share and rank 0 writes them (and writes them back to the source)."""
    from gigalearn.graph.cli import console
    from gigalearn.graph.remote import synced_run
    from gigalearn.graph.stages import infer_stage

    cfg = load_config(config)
    reads = ["graph", "splits", "model"]
    with synced_run(
        runs_dir, cfg.name, reads=reads, writes=["embeddings"], optional=["partition"]
    ) as run:
        result = infer_stage(cfg, run)
    console.print(f"inferred {result['rows']}")
