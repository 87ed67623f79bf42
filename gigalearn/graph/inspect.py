"""Human-readable summaries of a GraphStore: counts, degrees and feature shapes per type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigalearn.graph.store import EdgeType, GraphStore


@dataclass(frozen=True)
class DegreeStats:
    """Degree distribution of one side of an edge type."""

    min: int
    mean: float
    median: float
    p99: float
    max: int
    isolated: int

    @classmethod
    def of(cls, degrees: np.ndarray) -> DegreeStats:
        d = np.asarray(degrees)
        return cls(
            int(d.min()),
            float(d.mean()),
            float(np.median(d)),
            float(np.percentile(d, 99)),
            int(d.max()),
            int((d == 0).sum()),
        )


@dataclass(frozen=True)
class EdgeSummary:
    type: EdgeType
    count: int
    reverse_of: EdgeType | None
    out_degree: DegreeStats
    in_degree: DegreeStats
    has_time: bool
    has_weight: bool
    feature_dim: int
    report: dict
    policies: dict


def summarize_edges(store: GraphStore) -> list[EdgeSummary]:
    """One summary per edge type (reverse types included)."""
    rows = []
    for t in store.edge_types:
        meta = store.edge_meta(t)
        rows.append(
            EdgeSummary(
                type=t,
                count=store.num_edges(t),
                reverse_of=tuple(meta["reverse_of"]) if meta.get("reverse_of") else None,
                out_degree=DegreeStats.of(store.csr(t, "out").degrees()),
                in_degree=DegreeStats.of(store.csr(t, "in").degrees()),
                has_time=meta["time"],
                has_weight=meta["weight"],
                feature_dim=meta["feature_dim"],
                report=meta.get("report", {}),
                policies=meta.get("policies", {}),
            )
        )
    return rows
