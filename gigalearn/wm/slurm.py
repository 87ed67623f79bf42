"""Submit a sweep's shards as Slurm jobs through submitit (an optional dependency)."""

from __future__ import annotations

from pathlib import Path

from gigalearn.common.errors import ConfigError
from gigalearn.wm.spec import SweepSpec
from gigalearn.wm.sweep import Shard, run_sweep


def submit(spec: SweepSpec, run_dir: Path, shard: Shard) -> list:
    """One Slurm job per shard (all `n` shards if `shard` is 0/1, else just that one)."""
    try:
        import submitit  # lazily: only cluster users need it
    except ImportError:
        raise ConfigError(
            "--executor slurm needs the 'submitit' package: pip install submitit "
            "(or run shards yourself with --shard i/n)"
        ) from None
    executor = submitit.AutoExecutor(folder=Path(run_dir) / "slurm")
    executor.update_parameters(timeout_min=24 * 60, cpus_per_task=spec.threads or 4)
    shards = [shard] if shard.count > 1 else [Shard(0, 1)]
    return [executor.submit(run_sweep, spec, Path(run_dir), s) for s in shards]
