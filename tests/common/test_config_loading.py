from pathlib import Path

import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import GraphConfig, load_config


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "task.yaml"
    p.write_text(text)
    return p


GOOD = """\
name: t
nodes:
  user: {table: users, id: user_id}
edges:
  - {type: [user, knows, user], table: e, src: a, dst: b}
"""


def test_valid_config_loads(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert isinstance(cfg, GraphConfig)
    assert cfg.edge_types == [("user", "knows", "user")]


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    p = _write(tmp_path, "name: t\nnodes:\n  user: {table: users, id: [oops\n")
    with pytest.raises(ConfigError, match=r"task\.yaml:\d+:\d+: malformed YAML"):
        load_config(p)


def test_unknown_key_names_path_and_line(tmp_path):
    text = GOOD.replace(
        "user: {table: users, id: user_id}",
        "user: {table: users, id: user_id}\n  movie: {table: m, idd: x, id: y}",
    )
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert "task.yaml:4: nodes.movie.idd: unknown key" in str(err.value)


def test_wrong_type_names_key(tmp_path):
    text = GOOD + "train: {epochs: many}\n"
    with pytest.raises(ConfigError, match=r"task\.yaml:6: train\.epochs: .*integer"):
        load_config(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_environment_variables_expand(tmp_path, monkeypatch):
    monkeypatch.setenv("GL_TEST_DB", "/data/x.duckdb")
    text = GOOD + "source: {engine: duckdb, uri: '${GL_TEST_DB}'}\n"
    assert load_config(_write(tmp_path, text)).source.uri == "/data/x.duckdb"
    text = GOOD + "source: {engine: duckdb, uri: '${GL_UNSET_VAR_XYZ}'}\n"
    with pytest.raises(ConfigError, match="GL_UNSET_VAR_XYZ"):
        load_config(_write(tmp_path, text))


def test_undeclared_node_type_names_the_edge_line(tmp_path):
    text = GOOD.replace("[user, knows, user]", "[user, knows, film]")
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert "task.yaml:5: edges.0.type: names node type 'film'" in str(err.value)
