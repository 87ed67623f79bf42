"""Preprocessing benchmark (issue: tables → GraphStore).

Builds the GraphStore from a DuckDB file with gigalearn and with a plain pandas + numpy script
doing the same enumeration and CSR build, each run in a fresh process, alternating, on
MovieLens-1M (1,000,209 edges) and a seeded synthetic power-law graph (20 M edges by default).
Prints medians, the speed ratio, peak memory and peak memory over the edge arrays' size.

    python benchmarks/bench_preprocess.py [--edges 20000000] [--nodes 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gigalearn.graph.datasets.movielens import cache_root, fetch_movielens
from gigalearn.graph.datasets.synthetic import PowerLawSpec, write_power_law_duckdb

WORKER = Path(__file__).with_name("preprocess_worker.py")


def _measure(which: str, spec: dict, repeats: int) -> list[dict]:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        for i in range(repeats):
            out = Path(tmp) / f"{which}-{i}"
            res = subprocess.run(
                [sys.executable, str(WORKER), which, str(spec_path), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            shutil.rmtree(out)
    return runs


def _report(name: str, size: str, spec: dict, repeats: int) -> None:
    print(f"\n== {name}: {size}")
    results = {}
    for which in ("gigalearn", "pandas"):
        _measure(which, spec, 1)  # warm-up: numba cache, page cache
    for which in ("gigalearn", "pandas"):
        results[which] = _measure(which, spec, repeats)
    med = {
        w: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "which"}
        for w, rs in results.items()
    }
    for w, m in med.items():
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in results[w])
        over = m["peak_rss_mb"] - m["rss_after_import_mb"]
        print(
            f"  {w:9s} wall {m['wall_s']:7.2f} s (runs: "
            f"{walls})  peak RSS "
            f"{m['peak_rss_mb']:7.0f} MB (+{over:.0f} MB over imports)  edge arrays "
            f"{m['edge_array_mb']:.0f} MB  peak/arrays {m['peak_rss_mb'] / m['edge_array_mb']:.2f}"
            f" (increment/arrays {over / m['edge_array_mb']:.2f})"
        )
    ratio = med["pandas"]["wall_s"] / med["gigalearn"]["wall_s"]
    print(f"  speed-up over pandas baseline (median wall): {ratio:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=20_000_000)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    bench_dir = cache_root() / "bench"
    ml = fetch_movielens("1m", bench_dir / "ml-1m.duckdb")
    _report(
        "MovieLens-1M",
        "6,040 users, 3,883 movies, 1,000,209 ratings",
        {
            "db": str(ml),
            "nodes": [["user", "users", "user_id"], ["movie", "movies", "movie_id"]],
            "edges": [["user", "rated", "movie", "ratings", "user_id", "movie_id", "ts"]],
        },
        args.repeats,
    )
    pl = PowerLawSpec(args.nodes, args.edges)
    db = bench_dir / f"powerlaw-{pl.num_nodes}-{pl.num_edges}-{pl.exponent}-{pl.seed}.duckdb"
    if not db.exists():
        write_power_law_duckdb(pl, db)
    _report(
        "synthetic",
        str(pl),
        {
            "db": str(db),
            "nodes": [["node", "nodes", "node_id"]],
            "edges": [["node", "links", "node", "edges", "src", "dst", "ts"]],
        },
        args.repeats,
    )


if __name__ == "__main__":
    main()
