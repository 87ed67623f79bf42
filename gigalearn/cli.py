"""The one entry point: `gigalearn graph ...` and `gigalearn wm ...`."""

from __future__ import annotations

import importlib.util
import sys

import typer
from rich.console import Console
from rich.text import Text

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
        # soft_wrap: long messages (paths, SQL) stay greppable and copyable on one line
        # the message is plain text: brackets in it (edges[0], [user, rated, movie]) are not markup
        message = Text.assemble(("error: ", "bold red"), str(exc))
        Console(stderr=True, soft_wrap=True).print(message, highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
