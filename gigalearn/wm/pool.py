"""Pool analysed run folders for `wm report`: one table of distinct networks from checked folders.

A network is identified by the hyper-parameters that determine it (`KEY`): the same values give
the same network in any sweep, so a network listed by several folders is kept once (from the
first folder that lists it). Folders can only be pooled if their task and analysis config agree
(up to how the work was split: threads, chunk size).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import analyze, store

KEY = ("n", "g", "pg", "fb", "seed", "trainer", "rule", "train_trials")
"""Columns that identify a network across sweeps (same values: same network)."""
FREE = frozenset({"threads", "chunk_size"})
"""Analysis config fields that change how, not what, is computed: may differ between folders."""


@dataclass(frozen=True)
class Pooled:
    """Analysed run folders read together.

    `all_rows` holds every folder's rows with a `run_dir` column and a `duplicate` flag (True
    where an earlier folder lists the same network); `d_max` is the forgetting test's largest
    extra delay (τ) in the folders' common analysis config (None if it has no config.json).
    """

    run_dirs: tuple[Path, ...]
    all_rows: pd.DataFrame
    d_max: float | None

    @property
    def rows(self) -> pd.DataFrame:
        """The distinct networks (duplicates dropped), with their `run_dir`."""
        return self.all_rows[~self.all_rows["duplicate"]].reset_index(drop=True)

    @property
    def duplicates(self) -> int:
        """How many rows were dropped as networks already listed by an earlier folder."""
        return int(self.all_rows["duplicate"].sum())

    def per_run(self) -> dict[str, pd.DataFrame]:
        """Each folder's own rows (duplicates included), by folder name as given."""
        return {str(r): self.all_rows[self.all_rows["run_dir"] == str(r)] for r in self.run_dirs}


def results_path(run_dir: Path) -> Path:
    """Where `wm analyze` writes a run folder's analysed table."""
    return analyze.analysis_dir(run_dir) / store.RESULTS


def load_runs(run_dirs: Sequence[Path]) -> Pooled:
    """Read and check the analysed tables of `run_dirs`; flag networks listed twice."""
    run_dirs = tuple(Path(r) for r in run_dirs)
    if not run_dirs:
        raise ConfigError("no run folder given")
    if len(set(map(str, run_dirs))) < len(run_dirs):
        raise ConfigError(f"a run folder is given twice: {', '.join(map(str, run_dirs))}")
    for r in run_dirs:
        if not results_path(r).exists():
            raise DataError(
                f"{results_path(r)}: missing; {r} is not analysed: run `gigalearn wm analyze {r}` "
                "first"
            )
    d_max = _common_d_max(run_dirs)
    if len(run_dirs) > 1:
        _check_same(run_dirs, "spec.json", "task", "task")
    frames = [pd.read_parquet(results_path(r)).assign(run_dir=str(r)) for r in run_dirs]
    rows = pd.concat(frames, ignore_index=True)
    missing = [k for k in KEY if k not in rows.columns]
    if missing and len(run_dirs) > 1:
        raise DataError(
            f"cannot pool: the results lack the columns {missing} that identify a network"
        )
    rows["duplicate"] = rows.duplicated(list(KEY), keep="first") if not missing else False
    _check_duplicates(rows)
    return Pooled(run_dirs, rows, d_max)


def _common_d_max(run_dirs: tuple[Path, ...]) -> float | None:
    """Check the folders share one analysis config; return its forgetting d_max."""
    paths = [analyze.analysis_dir(r) / "config.json" for r in run_dirs]
    if len(run_dirs) > 1:
        for p in paths:
            if not p.exists():
                raise DataError(f"{p}: missing; cannot check that the folders were analysed alike")
        _check_same(run_dirs, "analysis/config.json", "analysis config", None)
    if not paths[0].exists():
        return None
    d_max = json.loads(paths[0].read_text()).get("forgetting", {}).get("d_max")
    return float(d_max) if d_max is not None else None


def _check_same(run_dirs: tuple[Path, ...], file: str, what: str, section: str | None) -> None:
    """Refuse to pool folders whose JSON `file` (or its `section`) differs outside FREE."""

    def read(path: Path) -> dict[str, object]:
        d = json.loads(path.read_text())
        return _flat(d.get(section) or {}, f"{section}.") if section else _flat(d)

    first = read(run_dirs[0] / file)
    for r in run_dirs[1:]:
        path = r / file
        if not path.exists():
            raise DataError(f"{path}: missing; {r} is not a `gigalearn wm` run folder")
        other = read(path)
        diff = sorted(
            k
            for k in first.keys() | other.keys()
            if k.split(".")[0] not in FREE and first.get(k) != other.get(k)
        )
        if diff:
            shown = ", ".join(
                f"{k} ({first.get(k)!r} in {run_dirs[0]}, {other.get(k)!r} in {r})"
                for k in diff[:5]
            )
            raise ConfigError(
                f"cannot pool {run_dirs[0]} and {r}: their {what} differs in {shown}; "
                f"pooling needs the same {what} (re-run `gigalearn wm analyze` with one config)"
            )


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _check_duplicates(rows: pd.DataFrame) -> None:
    """Rows with the same KEY must be the same network: same test RMSE."""
    if not rows["duplicate"].any():
        return
    first = rows[~rows["duplicate"]].set_index(list(KEY))
    dups = rows[rows["duplicate"]].set_index(list(KEY))
    ref = first.loc[dups.index]
    bad = ~np.isclose(dups["test_rmse"].to_numpy(), ref["test_rmse"].to_numpy(), rtol=1e-5)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        key = dict(zip(KEY, dups.index[i], strict=True))
        raise DataError(
            f"network {key} is in {ref['run_dir'].iloc[i]} and {dups['run_dir'].iloc[i]} with "
            f"different test RMSE ({ref['test_rmse'].iloc[i]:.6g} vs "
            f"{dups['test_rmse'].iloc[i]:.6g}): their sweeps trained it differently, so the "
            "folders cannot be pooled"
        )
