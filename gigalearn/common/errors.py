"""User-facing errors: each says what is wrong, where, and what to do; the CLI exits non-zero."""

from __future__ import annotations


class GigalearnError(Exception):
    """Base of every error meant for the user (printed without a traceback by the CLI)."""

    exit_code = 2


class ConfigError(GigalearnError):
    """A config file is malformed, has unknown keys, wrong types or dangling references."""


class SourceError(GigalearnError):
    """A data source cannot be reached, or a table, query or column in it is missing."""


class DataError(GigalearnError):
    """The data itself is invalid: duplicate ids, dangling edges, NaN, empty tables, wrong types."""
