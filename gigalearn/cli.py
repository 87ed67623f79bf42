"""The one entry point: `gigalearn graph ...` and `gigalearn wm ...`."""

from __future__ import annotations

import importlib.util
import sys

import typer
from rich.console import Console

from gigalearn.common.errors import GigalearnError

app = typer.Typer(
    help="gigalearn: graph learning on relational tables, and working-memory RNN populations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    from gigalearn.graph.cli import app as graph_app

    app.add_typer(graph_app, name="graph")
    if importlib.util.find_spec("gigalearn.wm.cli") is not None:
        from gigalearn.wm.cli import app as wm_app

        app.add_typer(wm_app, name="wm")


_mount()


def main() -> None:
    """Run the CLI; user errors print one clear message and exit non-zero, no traceback."""
    try:
        app()
    except GigalearnError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
