"""Populations of continuous-time rate networks trained on working-memory tasks (DESIGN.md).

Layers point down: cli → sweep → training → network → kernels; tasks and stimuli feed training.
"""
