"""Compact feature storage: round-trip error within the quantisation bound, float32 out."""

import numpy as np
import pytest
import torch

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.graph.config import config_from_dict
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.preprocess.compact import gather, write_features
from gigalearn.graph.sampling.khop import KHopOptions
from gigalearn.graph.sampling.loaders import NodeLoader
from gigalearn.graph.store import GraphStore

from ..conftest import tiny_config


def _roundtrip(tmp_path, feats, storage):
    groups = write_features(tmp_path, feats, storage, "test")
    arrays = [np.load(tmp_path / g["file"], mmap_mode="r") for g in groups]
    return groups, gather(arrays, groups, feats.shape[1], None)


def test_int8_error_is_within_half_a_step(tmp_path):
    rng = np.random.default_rng(0)
    feats = (rng.normal(size=(1000, 4)) * [1, 10, 1e-3, 100]).astype(np.float32)
    _, back = _roundtrip(tmp_path, feats, ["int8"] * 4)
    assert np.load(tmp_path / "features_int8.npy").dtype == np.int8
    step = (feats.max(axis=0) - feats.min(axis=0)) / 255
    err = np.abs(back - feats).max(axis=0)
    assert (err <= step / 2 * (1 + 1e-3) + 1e-6 * np.abs(feats).max(axis=0)).all()
    assert back.dtype == np.float32


def test_float16_and_bfloat16_relative_error(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(500, 3)).astype(np.float32) * [1, 50, 1000]
    feats = feats.astype(np.float32)
    _, half = _roundtrip(tmp_path, feats, ["float16"] * 3)
    _, bf = _roundtrip(tmp_path, feats, ["bfloat16"] * 3)
    rel = np.abs(feats) + 1e-4
    assert (np.abs(half - feats) / rel).max() <= 2**-11 + 1e-6
    assert (np.abs(bf - feats) / rel).max() <= 2**-8 + 1e-6
    # bfloat16 rounds like torch's conversion
    expect = torch.from_numpy(feats).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(bf, expect)


def test_float16_refuses_values_it_cannot_hold(tmp_path):
    with pytest.raises(DataError, match="65504"):
        write_features(tmp_path, np.array([[1e6]], dtype=np.float32), ["float16"], "here")


def test_mixed_storage_in_a_store_and_the_loader_returns_float32(tmp_path, tiny_duckdb):
    plain = config_from_dict(tiny_config({"engine": "duckdb", "uri": tiny_duckdb}))
    raw = tiny_config({"engine": "duckdb", "uri": tiny_duckdb})
    raw["nodes"]["user"]["features"]["age"]["standardize"]["storage"] = "int8"
    raw["nodes"]["user"]["features"]["gender"] = {"kind": "categorical", "storage": "float16"}
    raw["nodes"]["movie"]["features"]["year"] = {"kind": "min_max", "storage": "bfloat16"}
    build_graph(plain, tmp_path / "plain")
    build_graph(config_from_dict(raw), tmp_path / "compact")
    a, b = GraphStore(tmp_path / "plain"), GraphStore(tmp_path / "compact")
    storage = b.node_meta("user")["feature_storage"]
    assert [g["dtype"] for g in storage] == ["float16", "int8"]
    assert "feature_storage" not in a.node_meta("user")  # float32 only: the plain layout
    for t in ("user", "movie"):
        full, comp = np.asarray(a.node_features(t)), b.node_features(t)
        assert comp.dtype == np.float32 and comp.shape == full.shape
        np.testing.assert_allclose(comp, full, atol=0.01)
    assert b.feature_bytes("user") < a.feature_bytes("user")
    loader = NodeLoader(b, "user", options=KHopOptions(fanout=[2]), batch_size=4)
    data = next(iter(loader))
    assert data["user"].x.dtype == torch.float32
    np.testing.assert_array_equal(
        data["user"].x.numpy(), b.gather_node_features("user", data["user"].n_id.numpy())
    )


def test_bad_storage_value_is_a_located_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: t\n"
        "nodes:\n"
        "  user:\n"
        "    table: u\n"
        "    id: id\n"
        "    features:\n"
        "      age: {kind: standardize, storage: float8}\n"
    )
    from gigalearn.graph.config import load_config

    with pytest.raises(ConfigError, match=r"c.yaml:7.*float16"):
        load_config(path)
