"""Neighbourhood sampling over a GraphStore and loaders that feed PyTorch Geometric."""
