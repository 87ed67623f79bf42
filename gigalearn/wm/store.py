"""A sweep's run folder: one atomically written folder per finished chunk, merged into Parquet.

    RUN_DIR/spec.json                      the spec the run was started with
    RUN_DIR/chunks/net-<first>-<last>/     results.parquet (one row per network)
                                           networks.npz (readouts W_out, final states, seeds)
    RUN_DIR/results.parquet                all chunks merged (written by `merge` / end of sweep)

A chunk folder appears only once complete (temp folder then rename), so a killed sweep leaves no
partial results and a restart skips every network already in a chunk folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gigalearn.common.atomic import atomic_dir, atomic_write_text
from gigalearn.common.errors import ConfigError, DataError

RESULTS = "results.parquet"
NETWORKS = "networks.npz"


def chunks_root(run_dir: Path) -> Path:
    """Folder that holds the chunk folders."""
    return Path(run_dir) / "chunks"


def chunk_dirs(run_dir: Path) -> list[Path]:
    """Finished chunk folders (temp folders of interrupted writes start with '.': skipped)."""
    root = chunks_root(run_dir)
    return sorted(p for p in root.glob("net-*") if p.is_dir()) if root.exists() else []


def clean_partial(run_dir: Path) -> int:
    """Remove temp folders left by a killed run; return how many were removed."""
    import shutil

    root = chunks_root(run_dir)
    stale = [p for p in root.glob(".*tmp-*")] if root.exists() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


def check_spec(run_dir: Path, spec_json: str) -> None:
    """Record the spec on first run; refuse to resume a run folder started with another spec."""
    path = Path(run_dir) / "spec.json"
    if not path.exists():
        atomic_write_text(path, spec_json)
        return
    old, new = json.loads(path.read_text()), json.loads(spec_json)
    # threads / memory / chunking change how, not what, is computed: allow them to differ
    free = {"threads", "memory_gb", "chunk_size"}
    diff = sorted(k for k in old.keys() | new.keys() if k not in free and old.get(k) != new.get(k))
    if diff:
        raise ConfigError(
            f"{path}: this run folder was started with another spec (differs in: "
            f"{', '.join(diff)}). Use --out for a new run folder or delete {run_dir} to start over."
        )


def write_chunk(run_dir: Path, rows: pd.DataFrame, w_out: np.ndarray, x_end: np.ndarray) -> Path:
    """Atomically write one chunk's results rows and trained readouts `[P,N,K]`."""
    ids = rows["network_id"].to_numpy()
    final = chunks_root(run_dir) / f"net-{ids.min():06d}-{ids.max():06d}"
    with atomic_dir(final) as tmp:
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp / RESULTS)
        np.savez(
            tmp / NETWORKS,
            network_id=ids,
            seed=rows["seed"].to_numpy(),
            w_out=w_out,
            x_end=x_end,
        )
    return final


def read_chunk(folder: Path) -> pd.DataFrame:
    """Read one chunk's rows; a missing or unreadable file is a DataError saying what to do."""
    path = folder / RESULTS
    fix = f"delete the folder {folder} and rerun the sweep to retrain its networks"
    if not path.exists() or not (folder / NETWORKS).exists():
        raise DataError(f"{folder}: incomplete chunk (no {RESULTS} or {NETWORKS}); {fix}")
    try:
        rows = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: corrupt results file ({exc}); {fix}") from None
    if "network_id" not in rows.columns:
        raise DataError(f"{path}: not a sweep results file (no network_id column); {fix}")
    return rows


def finished_ids(run_dir: Path) -> set[int]:
    """Network ids that already have results in the run folder."""
    return {int(i) for d in chunk_dirs(run_dir) for i in read_chunk(d)["network_id"]}


def load_results(run_dirs: list[Path]) -> pd.DataFrame:
    """All chunk rows from one or more run folders (e.g. one per shard), sorted by network id."""
    frames = [read_chunk(d) for rd in run_dirs for d in chunk_dirs(rd)]
    if not frames:
        raise DataError(f"no finished chunks under {', '.join(map(str, run_dirs))}/chunks")
    rows = pd.concat(frames, ignore_index=True)
    dup = rows["network_id"][rows["network_id"].duplicated()]
    if len(dup):
        raise DataError(
            f"network ids {sorted(set(dup.tolist()))[:10]} appear in more than one chunk: "
            "the folders come from overlapping shards or runs of different specs"
        )
    return rows.sort_values("network_id", ignore_index=True)


def merge(run_dirs: list[Path], out: Path, expected: int | None = None) -> tuple[Path, int]:
    """Write all rows to `out` (atomically); return the path and how many networks are missing."""
    rows = load_results(run_dirs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp)
    tmp.replace(out)
    return out, (expected - len(rows)) if expected is not None else 0
