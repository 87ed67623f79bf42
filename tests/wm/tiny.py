"""Tiny sweeps and analysis configs shared by the CLI tests of `wm analyze` and `wm report`."""

from __future__ import annotations

from typer.testing import CliRunner

from gigalearn.wm.cli import app


def tiny_spec(name: str, g: str = "[1.2, 1.5]", seeds: str = "[0, 1]") -> str:
    """A sweep of untrained 12-unit networks (2 FORCE trials): seconds to run."""
    return f"""name: {name}
task: {{dt: 0.5}}
grid: {{g: {g}, pg: [0.9], fb: [10], n: [12], seeds: {seeds}}}
force: {{n_trials: 2}}
n_stim_seeds: 1
chunk_size: 2
threads: 1
"""


def tiny_analysis(chunk_size: int = 1) -> str:
    """An analysis config cheap enough for the tiny networks (all analysed: they are untrained)."""
    return f"""min_success: null        # the tiny networks are untrained: analyse them all
chunk_size: {chunk_size}
attractors: {{n_starts: 2, trial_lengths: 2}}
efficiency: {{n_starts: 4, max_iters: 30}}
forgetting: {{d_max: 11, d_step: 5}}
noise: {{repeats: 1, sigmas: [0.1, 10.0]}}
silencing: {{n_units: [5, 100]}}
"""


def run(*args):
    """`gigalearn wm ARGS` in-process; `.text` is the output with whitespace collapsed."""
    r = CliRunner().invoke(app, [str(a) for a in args], terminal_width=200)
    r.text = " ".join(r.output.split())
    return r
