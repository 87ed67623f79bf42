"""Seeded R-MAT graphs (Chakrabarti, Zhan & Faloutsos 2004), generated chunk by chunk.

Each edge picks one quadrant of the adjacency matrix per level with probabilities (a, b, c, d),
recursively, which gives heavy-tailed, community-like degree distributions at any size. Edges
are drawn in fixed-size chunks, each from its own seeded stream, so 100 M edges never sit in
memory at once and the output depends only on the spec, not on memory or chunk timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# Edges per generated chunk: fixed (not a parameter) because the output depends on it.
CHUNK = 1 << 22


@dataclass(frozen=True)
class RmatSpec:
    """An R-MAT graph; bipartite (two node sets) when `num_dst_nodes` is given."""

    num_nodes: int
    num_edges: int
    a: float = 0.57
    """Probability of the top-left quadrant (both ends in the lower half). The defaults
    (0.57, 0.19, 0.19, 0.05) are Graph500's: skewed like social graphs."""
    b: float = 0.19
    c: float = 0.19
    seed: int = 0
    num_dst_nodes: int | None = None
    """Destination node count for a bipartite graph (e.g. users → items); None: one node set."""

    def __post_init__(self) -> None:
        if self.num_nodes < 1 or self.num_edges < 1 or (self.num_dst_nodes or 1) < 1:
            raise ValueError("node and edge counts must be positive")
        if min(self.a, self.b, self.c) < 0 or self.a + self.b + self.c > 1:
            raise ValueError("a, b, c must be >= 0 with a + b + c <= 1 (d = 1 - a - b - c)")

    @property
    def d(self) -> float:
        return 1.0 - self.a - self.b - self.c

    def __str__(self) -> str:
        nodes = f"{self.num_nodes:,} nodes"
        if self.num_dst_nodes is not None:
            nodes = f"{self.num_nodes:,} x {self.num_dst_nodes:,} nodes (bipartite)"
        return (
            f"R-MAT ({self.a}, {self.b}, {self.c}, {self.d:.2f}): {nodes}, "
            f"{self.num_edges:,} edges, seed {self.seed}"
        )


def _scale(n: int) -> int:
    return max(1, int(np.ceil(np.log2(n))))


def rmat_positions(spec: RmatSpec) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (src, dst) positions in 0..n-1 (int64) in chunks of at most CHUNK edges."""
    n_src = spec.num_nodes
    n_dst = spec.num_dst_nodes or spec.num_nodes
    scale = max(_scale(n_src), _scale(n_dst))
    ab, abc = spec.a + spec.b, spec.a + spec.b + spec.c
    for i, start in enumerate(range(0, spec.num_edges, CHUNK)):
        count = min(CHUNK, spec.num_edges - start)
        rng = np.random.default_rng([spec.seed, i])
        src = np.zeros(count, dtype=np.int64)
        dst = np.zeros(count, dtype=np.int64)
        for _ in range(scale):
            r = rng.random(count, dtype=np.float32)
            src <<= 1
            dst <<= 1
            src += r >= ab  # quadrants c and d: source in the upper half
            dst += ((r >= spec.a) & (r < ab)) | (r >= abc)  # quadrants b and d
        # a 2^scale matrix shrunk onto n nodes: neighbouring positions merge, the skew stays
        src = (src * n_src) >> scale
        dst = (dst * n_dst) >> scale
        yield src, dst


def degree_counts(positions: Iterator[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Out-degree of every position over all chunks (for tests and summaries)."""
    deg = np.zeros(n, dtype=np.int64)
    for src, _ in positions:
        deg += np.bincount(src, minlength=n)
    return deg
