"""`gigalearn wm ...`: run, resume, shard and merge sweeps; train one network; summarise results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gigalearn.common.errors import ConfigError
from gigalearn.wm import report, store
from gigalearn.wm.spec import SweepSpec, expand, load_spec

app = typer.Typer(help="Populations of working-memory RNNs: sweeps over g, pg, fb, N and seeds.")
console = Console()


def _progress_factory(bar: Progress) -> Callable:
    def factory(chunks: list, per_net: int) -> Callable[[str, int], None]:
        nets = sum(len(c) for c in chunks)
        c_task = bar.add_task("chunks", total=len(chunks))
        t_task = bar.add_task("network-trials", total=nets * per_net)

        def tick(kind: str, amount: int) -> None:
            bar.advance(c_task if kind == "chunk" else t_task, amount)

        return tick

    return factory


def _progress_bar(enabled: bool) -> Progress:
    """The bar the long commands (sweep, analyze) draw on the console."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


@app.command()
def sweep(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="sweep spec YAML")],
    out: Annotated[Path | None, typer.Option(help="run folder (default runs/<name>)")] = None,
    shard: Annotated[str, typer.Option(help="run slice i of n, e.g. 0/4")] = "0/1",
    executor: Annotated[str, typer.Option(help="local or slurm (needs submitit)")] = "local",
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train every network of SPEC not yet finished in the run folder; resume after a kill."""
    from gigalearn.wm.sweep import Shard, run_sweep

    spec = load_spec(spec_path)
    run_dir = out or Path("runs") / spec.name
    sh = Shard.parse(shard)
    if executor == "slurm":
        from gigalearn.wm.slurm import submit

        jobs = submit(spec, run_dir, sh)
        console.print(f"submitted {len(jobs)} slurm job(s); run `gigalearn wm merge {run_dir}`")
        return
    if executor != "local":
        raise ConfigError(f"--executor {executor!r}: expected 'local' or 'slurm'")
    with _progress_bar(progress) as bar:
        outcome = run_sweep(spec, run_dir, sh, _progress_factory(bar))
    console.print(
        f"{run_dir}: trained {outcome.trained} network(s), {outcome.skipped} already done "
        f"(this shard has {outcome.total})"
    )
    _summarise(spec, [run_dir], run_dir / store.RESULTS)


def _summarise(spec: SweepSpec | None, run_dirs: list[Path], out: Path) -> None:
    expected = len(expand(spec)) if spec is not None else None
    path, missing = store.merge(run_dirs, out, expected)
    rows = store.load_results(run_dirs)
    console.print(report.render(report.success_table(rows)))
    fracs = report.overall(rows).items()
    fr = ", ".join(f"ε={report.threshold_of(k)}: {v:.2f}" for k, v in fracs)
    console.print(f"all {len(rows)} networks, fraction with test RMSE ≤ ε: {fr}")
    console.print(f"results: {path} (query with DuckDB, see docs/wm.md)")
    if missing:
        console.print(f"[yellow]{missing} network(s) of the spec have no results yet[/yellow]")


@app.command()
def merge(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", help="run folder(s)")],
    out: Annotated[Path | None, typer.Option(help="merged Parquet file")] = None,
) -> None:
    """Join the chunk results of one or more run folders (e.g. shards) into one Parquet file."""
    spec_file = run_dirs[0] / "spec.json"
    spec = SweepSpec.model_validate_json(spec_file.read_text()) if spec_file.exists() else None
    _summarise(spec, run_dirs, out or run_dirs[0] / store.RESULTS)


@app.command()
def train(
    n: int = 200,
    g: float = 1.5,
    pg: float = 0.9,
    fb: float = 40.0,
    seed: int = 0,
    trainer: Annotated[str, typer.Option(help="force or bptt")] = "force",
    trials: Annotated[int, typer.Option(help="FORCE trials or BPTT iterations")] = 500,
    stimuli: Annotated[str, typer.Option(help="gaussian or digits")] = "gaussian",
    threads: int = 2,
) -> None:
    """Train one network on the sequential sum task and print its training and test error."""
    from gigalearn.wm.sweep import train_chunk

    if trainer not in ("force", "bptt"):
        raise ConfigError(f"--trainer {trainer!r}: expected 'force' or 'bptt'")
    kind: Literal["force", "bptt"] = "force" if trainer == "force" else "bptt"
    spec = SweepSpec.model_validate(
        {
            "name": "train",
            "grid": {"g": [g], "pg": [pg], "fb": [fb], "n": [n], "seeds": [seed]},
            "trainer": kind,
            "task": {"stimuli": stimuli},
            "force": {"n_trials": trials},
            "bptt": {"n_iters": trials},
        }
    )
    import torch

    torch.set_num_threads(threads)
    rows, _, _ = train_chunk(spec, spec.task.build(), expand(spec))
    console.print(rows.drop(columns=["network_id"]).T.to_string(header=False))


@app.command()
def analyze(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="a finished sweep's run folder")
    ],
    config: Annotated[Path | None, typer.Option(help="analysis config YAML")] = None,
    shard: Annotated[str, typer.Option(help="analyse slice i of n, e.g. 0/4")] = "0/1",
    threads: Annotated[
        int | None, typer.Option(help="torch threads (overrides the config)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Classify each network's memory mechanism, find its fixed points, test forgetting, noise,
    silencing and unit activity; add the columns to RUN_DIR/analysis/results.parquet."""
    from gigalearn.wm.analyze import load_config, run_analyze
    from gigalearn.wm.sweep import Shard

    cfg = load_config(config)
    if threads is not None:
        cfg = cfg.model_copy(update={"threads": threads})
    sh = Shard.parse(shard)
    with _progress_bar(progress) as bar:

        def factory(n_networks: int) -> Callable[[str, float], None]:
            nets = bar.add_task("networks", total=n_networks)
            cur = bar.add_task("chunk", total=100)

            def tick(stage: str, amount: float) -> None:
                if stage == "chunk":
                    bar.advance(nets, amount)
                    bar.update(cur, completed=0, description="chunk")
                else:
                    bar.update(cur, completed=int(100 * amount), description=f"chunk: {stage}")

            return tick

        outcome = run_analyze(run_dir, cfg, sh, factory)
    console.print(
        f"{run_dir}: analysed {outcome.analysed} network(s), {outcome.skipped} already done "
        f"(this shard selects {outcome.total})"
    )
    if outcome.results is not None:
        console.print(report.render_mechanisms(outcome.results))
        console.print(f"results: {outcome.results}")
    else:
        console.print(f"shard done; run `gigalearn wm analyze {run_dir}` once all shards finished")


@app.command(name="report")
def report_cmd(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(metavar="RUN_DIR...", help="analysed run folder(s); several are pooled"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="report folder (default RUN_DIR/report; required for several)"),
    ] = None,
) -> None:
    """Write a Markdown report with PNG figures of an analysed sweep, or of several pooled
    (a network listed by more than one folder counts once); print the paper's claims."""
    from gigalearn.wm.claims import section
    from gigalearn.wm.figures import write_report
    from gigalearn.wm.pool import load_runs

    if out is None and len(run_dirs) > 1:
        raise ConfigError(
            f"{len(run_dirs)} run folders given: pooling them needs --out DIR for the report"
        )
    path = write_report(run_dirs, out or run_dirs[0] / "report")
    console.print(section(load_runs(run_dirs)), markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {path}")


@app.command()
def summary(run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR")]) -> None:
    """Print the success table of a run folder (merging its chunks first)."""
    merge([run_dir], None)


if __name__ == "__main__":  # `python -m gigalearn.wm.cli ...` before the top-level CLI mounts it
    app()
