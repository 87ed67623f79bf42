"""Analyses of trained networks: fixed and slow points of the autonomous dynamics."""

from gigalearn.wm.analysis.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    effective_weights,
    find_fixed_points,
    trajectory_starts,
)

__all__ = [
    "FixedPointOptions",
    "FixedPoints",
    "effective_weights",
    "find_fixed_points",
    "trajectory_starts",
]
