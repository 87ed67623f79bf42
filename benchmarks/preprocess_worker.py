"""One measured preprocessing run in a fresh process (so peak memory is its own).

Usage: python benchmarks/preprocess_worker.py {gigalearn|pandas} SPEC.json OUT_DIR
SPEC.json: {"db": path, "nodes": [[type, table, id_col], ...],
            "edges": [[src_type, rel, dst_type, table, src_col, dst_col, time_col], ...]}
Prints one JSON line: wall seconds, RSS after imports, peak RSS, bytes of edge arrays written.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def run_gigalearn(spec: dict, out: Path) -> None:
    from gigalearn.graph.config import config_from_dict
    from gigalearn.graph.preprocess.build import build_graph

    cfg = config_from_dict(
        {
            "name": "bench",
            "source": {"engine": "duckdb", "uri": spec["db"]},
            "nodes": {t: {"table": tab, "id": col} for t, tab, col in spec["nodes"]},
            "edges": [
                {
                    "type": [s, r, d],
                    "table": tab,
                    "src": sc,
                    "dst": dc,
                    "time": tc,
                    "duplicates": "keep",
                    "self_loops": "keep",
                }
                for s, r, d, tab, sc, dc, tc in spec["edges"]
            ],
        }
    )
    build_graph(cfg, out)


def run_pandas(spec: dict, out: Path) -> None:
    """What one would write by hand: pandas + numpy, sorted-id enumeration, argsort CSRs."""
    import duckdb
    import pandas as pd

    con = duckdb.connect(spec["db"], read_only=True)
    index = {}
    for t, tab, col in spec["nodes"]:
        ids = np.sort(con.execute(f'SELECT "{col}" FROM "{tab}"').df()[col].to_numpy())
        index[t] = pd.Index(ids)
        (out / "nodes" / t).mkdir(parents=True)
        pd.DataFrame({"id": ids}).to_parquet(out / "nodes" / t / "ids.parquet")
    for s, r, d, tab, sc, dc, tc in spec["edges"]:
        df = con.execute(f'SELECT "{sc}", "{dc}", "{tc}" FROM "{tab}"').df()
        src = index[s].get_indexer(df[sc])
        dst = index[d].get_indexer(df[dc])
        ok = (src >= 0) & (dst >= 0)
        src, dst, ts = src[ok], dst[ok], df[tc].to_numpy()[ok]
        del df
        order = np.lexsort((src, dst))
        src, dst, ts = src[order], dst[order], ts[order]
        in_indptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=len(index[d])))])
        out_eid = np.argsort(src, kind="stable")
        out_indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=len(index[s])))])
        folder = out / "edges" / f"{s}__{r}__{d}"
        folder.mkdir(parents=True)
        for name, arr in (
            ("src", src),
            ("dst", dst),
            ("time", ts),
            ("in_indptr", in_indptr),
            ("out_indptr", out_indptr),
            ("out_eid", out_eid),
            ("out_indices", dst[out_eid]),
        ):
            np.save(folder / f"{name}.npy", arr)


def main() -> None:
    which, spec_path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    import duckdb  # noqa: F401  (both runs import the engine before the clock starts)
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    if which == "gigalearn":  # library imports stay outside the clock, as pandas' do
        import ibis.backends.duckdb  # noqa: F401

        import gigalearn.graph.preprocess.build  # noqa: F401
    base = _rss_mb()
    spec = json.loads(spec_path.read_text())
    start = time.perf_counter()
    (run_gigalearn if which == "gigalearn" else run_pandas)(spec, out)
    wall = time.perf_counter() - start
    edge_bytes = sum(f.stat().st_size for f in (out / "edges").rglob("*.npy"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "which": which,
                "wall_s": wall,
                "rss_after_import_mb": base,
                "peak_rss_mb": peak,
                "edge_array_mb": edge_bytes / 2**20,
            }
        )
    )


if __name__ == "__main__":
    main()
