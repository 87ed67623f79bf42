"""gigalearn: graph learning on relational tables, and populations of working-memory RNNs."""

__version__ = "0.1.0"
