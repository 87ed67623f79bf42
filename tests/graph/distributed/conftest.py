"""The planted graph of the pipeline tests, shared with the multi-host tests."""

from ..pipeline.conftest import planted  # noqa: F401  (a fixture)
