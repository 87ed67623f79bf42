"""Neighbourhood sampling over a GraphStore and loaders that feed PyTorch Geometric."""

import os

import numba

# GNU OpenMP, numba's default threading layer where present, kills a process that forks after
# a parallel region ran (DataLoader workers do). workqueue is fork-safe. Set here, before any
# sampling kernel runs; a user's explicit NUMBA_THREADING_LAYER still wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
