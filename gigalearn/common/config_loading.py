"""Load YAML into typed pydantic configs with errors that name the file, key path and line."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gigalearn.common.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class LocatedError(ValueError):
    """A validation error about a specific key path (for checks across sections, which pydantic
    would otherwise report at the top level)."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map each key path of a composed YAML document to its 1-based line number."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            out[sub] = key.start_mark.line + 1
            _line_map(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)
    return out


def _expand_env(value: Any, where: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings, so secrets stay out of config files."""
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, where) for v in value]
    return value


def format_validation_error(err: ValidationError, source: str, lines: dict[tuple, int]) -> str:
    """Render pydantic errors as `file:line: key.path: message`, one per line."""
    rows = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not _is_union_tag(p))
        located = (e.get("ctx") or {}).get("error")
        if isinstance(located, LocatedError):
            loc = (*loc, *located.loc)
        line = None
        for n in range(len(loc), -1, -1):  # deepest key that exists in the file
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        where = f"{source}:{line}" if line else source
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = str(located) if isinstance(located, LocatedError) else e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see docs/graph-config.md for the keys)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        rows.append(f"{where}: {key}: {msg}")
    return "invalid config:\n  " + "\n  ".join(rows)


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the chosen union member (e.g. 'function-before[...]') into error paths
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def load_yaml_config(path: str | Path, model: type[M]) -> M:
    """Parse `path` as YAML and validate it as `model`; raise ConfigError naming file and line."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {data!r}")
    data = _expand_env(data, str(path))
    return validate_config(data, model, str(path), _line_map(node) if node else {})


def validate_config(
    data: dict, model: type[M], source: str = "<config>", lines: dict | None = None
) -> M:
    """Validate an already-parsed mapping as `model`, with the same error format as files."""
    try:
        return model.model_validate(data, context={"source": source})
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, lines or {})) from None
