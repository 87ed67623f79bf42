"""Encoders, decoders and losses for graph tasks, built on PyTorch Geometric."""
