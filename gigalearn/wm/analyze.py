"""`wm analyze`: mechanism, fixed-point and robustness columns for a finished sweep, resumable.

    RUN_DIR/analysis/config.json                the analysis config the run started with
    RUN_DIR/analysis/chunks/net-<a>-<b>/        results.parquet (one row per analysed network),
                                                curves.npz (forgetting / noise / silencing
                                                curves, speeds, memory-window rates),
                                                fixed_points.npz (FixedPoints, no Jacobians)
    RUN_DIR/analysis/results.parquet            the sweep's rows + the analysis columns

Like the sweep, every chunk folder is written atomically, a restart skips analysed networks and
`--shard i/n` analyses the networks whose id % n == i.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from pydantic import BaseModel, ConfigDict, Field

from gigalearn.common.atomic import atomic_dir, atomic_write_text
from gigalearn.common.config_loading import load_yaml_config
from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import store
from gigalearn.wm.analysis.activity import ActivityConfig, memory_activity
from gigalearn.wm.analysis.attractors import AttractorConfig, classify
from gigalearn.wm.analysis.efficiency import EfficiencyConfig, stable_points_per_class
from gigalearn.wm.analysis.robustness import (
    ForgettingConfig,
    NoiseConfig,
    SilencingConfig,
    forgetting,
    silencing,
    stimulus_noise,
)
from gigalearn.wm.analysis.trials import trial_end_states
from gigalearn.wm.network import Population
from gigalearn.wm.spec import Job, SweepSpec, expand
from gigalearn.wm.sweep import Shard
from gigalearn.wm.tasks import Task

ANALYSIS = "analysis"
CURVES, POINTS = "curves.npz", "fixed_points.npz"
STAGES = ("attractors", "fixed points", "forgetting", "noise", "silencing", "activity")


class AnalyzeConfig(BaseModel):
    """What `wm analyze` computes; every default is the paper's protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_success: float | None = Field(0.1, gt=0)
    """Analyse networks with test RMSE ≤ this (the successfully trained ones); None: all."""
    dtype: Literal["float32", "float64"] = "float32"
    chunk_size: int = Field(8, ge=1)
    """Networks analysed together (one folder each chunk: the unit of resumption)."""
    threads: int | None = Field(None, ge=1)
    attractors: AttractorConfig = AttractorConfig()
    efficiency: EfficiencyConfig = EfficiencyConfig()
    forgetting: ForgettingConfig = ForgettingConfig()
    noise: NoiseConfig = NoiseConfig()
    silencing: SilencingConfig = SilencingConfig()
    activity: ActivityConfig = ActivityConfig()


def load_config(path: Path | None) -> AnalyzeConfig:
    """The analysis config from YAML (unknown keys are errors naming file and line) or defaults."""
    return AnalyzeConfig() if path is None else load_yaml_config(path, AnalyzeConfig)


def analysis_dir(run_dir: Path) -> Path:
    """Where the analysis of a run folder lives."""
    return Path(run_dir) / ANALYSIS


def load_sweep(run_dir: Path) -> tuple[SweepSpec, pd.DataFrame]:
    """The sweep's spec and rows; errors if the folder is missing or the sweep is unfinished."""
    run_dir = Path(run_dir)
    spec_file = run_dir / "spec.json"
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run folder (run `gigalearn wm sweep SPEC` first)")
    if not spec_file.exists():
        raise DataError(f"{spec_file}: missing; {run_dir} is not a `gigalearn wm sweep` run folder")
    spec = SweepSpec.model_validate_json(spec_file.read_text())
    rows = store.load_results([run_dir])
    missing = len(expand(spec)) - len(rows)
    if missing:
        raise DataError(
            f"{run_dir}: the sweep is not finished ({missing} of {len(expand(spec))} networks "
            f"have no results); finish it with `gigalearn wm sweep SPEC --out {run_dir}` first"
        )
    return spec, rows


def _check_config(folder: Path, cfg: AnalyzeConfig) -> None:
    """Record the config; refuse to resume with one that changes what is computed."""
    path = folder / "config.json"
    new = json.loads(cfg.model_dump_json())
    if not path.exists():
        atomic_write_text(path, json.dumps(new, indent=2))
        return
    old = json.loads(path.read_text())
    free = {"threads", "chunk_size"}
    diff = sorted(k for k in old.keys() | new.keys() if k not in free and old.get(k) != new.get(k))
    if diff:
        raise ConfigError(
            f"{path}: this analysis was started with another config (differs in: {', '.join(diff)})"
            f"; delete {folder} to start over"
        )


def finished_ids(folder: Path) -> set[int]:
    """Network ids already analysed in an analysis folder."""
    return {int(i) for d in store.chunk_dirs(folder) for i in _read_rows(d)["network_id"]}


def _read_rows(chunk: Path) -> pd.DataFrame:
    fix = f"delete the folder {chunk} and rerun `gigalearn wm analyze` to redo its networks"
    if not all((chunk / f).exists() for f in (store.RESULTS, CURVES, POINTS)):
        raise DataError(f"{chunk}: incomplete analysis chunk; {fix}")
    try:
        return pq.read_table(chunk / store.RESULTS).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{chunk / store.RESULTS}: corrupt ({exc}); {fix}") from None


def trained_readouts(run_dir: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """network_id → (trained readouts `[N,K]`, state where training stopped `[N]`)."""
    out = {}
    for d in store.chunk_dirs(run_dir):
        with np.load(d / store.NETWORKS) as z:
            for i, nid in enumerate(z["network_id"]):
                out[int(nid)] = (z["w_out"][i], z["x_end"][i])
    return out


@dataclass(frozen=True)
class AnalyzeOutcome:
    """What an analyze call did: networks analysed now, already done, selected in this shard."""

    analysed: int
    skipped: int
    total: int
    results: Path | None


def run_analyze(
    run_dir: Path,
    cfg: AnalyzeConfig | None = None,
    shard: Shard = Shard(),
    progress: Callable[[int], Callable[[str, float], None]] | None = None,
) -> AnalyzeOutcome:
    """Analyse every selected, unfinished network of this shard, one chunk folder at a time.

    `progress(n_networks)` may return a callback (stage, fraction of the current chunk done);
    stage 'chunk' with the chunk's network count marks a finished chunk.
    """
    cfg = cfg or AnalyzeConfig()
    spec, rows = load_sweep(run_dir)
    folder = analysis_dir(run_dir)
    folder.mkdir(exist_ok=True)
    _check_config(folder, cfg)
    if shard.count == 1:
        store.clean_partial(folder)
    selected = rows if cfg.min_success is None else rows[rows["test_rmse"] <= cfg.min_success]
    jobs = {j.network_id: j for j in expand(spec)}
    mine = [jobs[int(i)] for i in selected["network_id"] if shard.owns(jobs[int(i)])]
    done = finished_ids(folder)
    todo = [j for j in mine if j.network_id not in done]
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    tick = progress(len(todo)) if progress else None
    trained, task = trained_readouts(run_dir), spec.task.build()
    todo.sort(key=lambda j: (j.spec.n, j.network_id))  # a chunk needs one N
    chunks: list[list[Job]] = []
    for j in todo:
        if chunks and len(chunks[-1]) < cfg.chunk_size and chunks[-1][0].spec.n == j.spec.n:
            chunks[-1].append(j)
        else:
            chunks.append([j])
    for group in chunks:
        _write(folder, *analyze_chunk(task, cfg, group, trained, tick))
        if tick:
            tick("chunk", len(group))
    out = merge(run_dir, rows) if shard.count == 1 else None
    return AnalyzeOutcome(len(todo), len(mine) - len(todo), len(mine), out)


def analyze_chunk(
    task: Task,
    cfg: AnalyzeConfig,
    jobs: list[Job],
    trained: dict[int, tuple[np.ndarray, np.ndarray]],
    tick: Callable[[str, float], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], object]:
    """Run every analysis on one chunk of networks; return rows, curves and fixed points."""
    start = time.perf_counter()
    dtype = torch.float32 if cfg.dtype == "float32" else torch.float64
    pop = Population([j.spec for j in jobs], task.n_in, task.n_out, dtype=dtype)
    pop.w_out.copy_(torch.from_numpy(np.stack([trained[j.network_id][0] for j in jobs])))
    x_end = torch.from_numpy(np.stack([trained[j.network_id][1] for j in jobs]))
    codes = np.asarray(getattr(task, "sum_code", (-1.0, 1.0)))

    def stage(i: int) -> Callable[[float], None]:
        return lambda f: tick(STAGES[i], (i + f) / len(STAGES)) if tick else None

    ends = trial_end_states(pop, task, x_end)  # [P,C,N]
    stage(0)(0.0)
    with_origin = torch.cat([ends, torch.zeros_like(ends[:, :1])], dim=1)
    att = classify(pop, with_origin, codes, task.n_steps, cfg.attractors, on_progress=stage(0))
    stage(1)(0.0)
    eff = stable_points_per_class(pop, att.end_states, ends, codes, cfg.efficiency)
    stage(2)(0.0)
    fg = forgetting(pop, task, ends, cfg.forgetting)
    stage(3)(0.0)
    nz = stimulus_noise(pop, task, ends, cfg.noise)
    stage(4)(0.0)
    sil = silencing(pop, task, ends, cfg.silencing)
    stage(5)(0.0)
    act = memory_activity(pop, task, ends, cfg.activity)
    ids = np.array([j.network_id for j in jobs])
    rows = pd.DataFrame(
        {
            "network_id": ids,
            "mechanism": att.mechanism,
            "n_distinct_outputs": att.n_distinct,
            "settled_frac": att.settled_frac,
            "diverged": att.diverged,
            **{f"speed_{t:g}": att.speed[:, i] for i, t in enumerate(cfg.attractors.speed_at)},
            "fp_stable": eff.n_stable,
            "fp_slow": eff.n_slow,
            "fp_stable_matched": eff.n_matched,
            "fp_classes_covered": eff.n_classes_covered,
            "fp_stable_per_class": eff.per_class,
            "forget_first_delay": fg.first_fail,
            "forget_kind": fg.kind,
            "forget_fail_frac": fg.fail_rate.mean(1),
            "noise_fail_frac": nz.fail_rate.mean(1),
            "silence_fail_frac": sil.fail_rate.mean(1),
            "frac_persistent": act.persistent,
            "frac_phasic": act.phasic,
            "frac_saturated": act.saturated,
        }
    )
    rows["analysis_wall_time_s"] = (time.perf_counter() - start) / len(jobs)
    curves = {
        "network_id": ids,
        "delays": fg.delays,
        "forget_rate": fg.fail_rate,
        "sigmas": nz.levels,
        "noise_rate": nz.fail_rate,
        "silence_levels": sil.levels,
        "silence_rate": sil.fail_rate,
        "speed_at": np.asarray(cfg.attractors.speed_at),
        "speed": att.speed,
        "run_mean_output": att.mean_output.astype(np.float32),
        "window_rates": act.window_rates,
    }
    return rows, curves, eff.points


def _write(folder: Path, rows: pd.DataFrame, curves: dict[str, np.ndarray], points) -> Path:
    ids = rows["network_id"].to_numpy()
    final = store.chunks_root(folder) / f"net-{ids.min():06d}-{ids.max():06d}"
    with atomic_dir(final) as tmp:
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp / store.RESULTS)
        np.savez(tmp / CURVES, **curves)
        # map point → network id, so the file stands alone
        points.network = ids[points.network]
        points.save(tmp / POINTS)
    return final


def merge(run_dir: Path, rows: pd.DataFrame | None = None) -> Path:
    """Write the sweep's rows joined with every analysed row to RUN_DIR/analysis/results.parquet."""
    rows = store.load_results([run_dir]) if rows is None else rows
    folder = analysis_dir(run_dir)
    parts = [_read_rows(d) for d in store.chunk_dirs(folder)]
    if parts:
        extra = pd.concat(parts, ignore_index=True)
        merged = rows.merge(extra, on="network_id", how="left", validate="one_to_one")
        merged.insert(
            len(rows.columns), "analyzed", rows["network_id"].isin(extra["network_id"]).to_numpy()
        )
    else:
        merged = rows.assign(analyzed=False)
    out = folder / store.RESULTS
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(pa.Table.from_pandas(merged, preserve_index=False), tmp)
    tmp.replace(out)
    return out


def load_curves(run_dir: Path) -> dict[str, np.ndarray]:
    """Every analysis chunk's curves concatenated over networks (grids taken from the first)."""
    chunks = store.chunk_dirs(analysis_dir(run_dir))
    if not chunks:
        raise DataError(
            f"{analysis_dir(run_dir)}: no analysed networks; run `gigalearn wm analyze`"
        )
    parts = [dict(np.load(d / CURVES)) for d in chunks]
    grids = {"delays", "sigmas", "silence_levels", "speed_at"}
    out = {k: parts[0][k] for k in grids}
    for k in parts[0].keys() - grids:
        if len({p[k].shape[1:] for p in parts}) > 1:
            continue  # e.g. silencing counts or unit rates of networks of different N
        out[k] = np.concatenate([p[k] for p in parts])
    return out
