import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import Bucketize, MultiHot, Standardize, config_from_dict


def _cfg(**over):
    base = {
        "name": "t",
        "nodes": {"user": {"table": "u", "id": "id"}, "movie": {"table": "m", "id": "id"}},
        "edges": [{"type": ["user", "rated", "movie"], "table": "r", "src": "u", "dst": "m"}],
    }
    base.update(over)
    return config_from_dict(base)


def test_feature_shorthands_normalise():
    cfg = _cfg(
        nodes={
            "user": {
                "table": "u",
                "id": "id",
                "features": {
                    "age": "standardize",
                    "genres": {"multi_hot": {"sep": ","}},
                    "year": {"kind": "bucketize", "boundaries": [1980, 2000]},
                },
            },
            "movie": {"table": "m", "id": "id"},
        }
    )
    f = cfg.nodes["user"].features
    assert isinstance(f["age"], Standardize)
    assert isinstance(f["genres"], MultiHot) and f["genres"].sep == ","
    assert isinstance(f["year"], Bucketize) and f["year"].boundaries == [1980, 2000]


def test_undeclared_node_type_is_named():
    with pytest.raises(ConfigError, match="names node type 'film'"):
        _cfg(edges=[{"type": ["user", "rated", "film"], "table": "r", "src": "u", "dst": "m"}])


def test_unknown_transform_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"standardise.*standardize"):
        _cfg(
            nodes={
                "user": {"table": "u", "id": "id", "features": {"a": "standardise"}},
                "movie": {"table": "m", "id": "id"},
            }
        )


def test_table_or_query_exactly_one():
    with pytest.raises(ConfigError, match="exactly one of 'table' or 'query'"):
        _cfg(nodes={"user": {"id": "id"}, "movie": {"table": "m", "id": "id"}})
    with pytest.raises(ConfigError, match="exactly one of 'table' or 'query'"):
        _cfg(
            nodes={
                "user": {"table": "u", "query": "select 1", "id": "id"},
                "movie": {"table": "m", "id": "id"},
            }
        )


def test_reverse_edge_type_and_duplicate_types():
    cfg = _cfg(
        edges=[
            {
                "type": ["user", "rated", "movie"],
                "table": "r",
                "src": "u",
                "dst": "m",
                "reverse": True,
            }
        ]
    )
    assert cfg.edge_types == [("user", "rated", "movie"), ("movie", "rev_rated", "user")]
    with pytest.raises(ConfigError, match="declared twice"):
        _cfg(edges=[{"type": ["user", "rated", "movie"], "table": "r", "src": "u", "dst": "m"}] * 2)


def test_task_target_must_exist():
    with pytest.raises(ConfigError, match="not a declared edge type"):
        _cfg(task={"kind": "link_prediction", "target": ["user", "likes", "movie"]})
    with pytest.raises(ConfigError, match=r"needs nodes\.user\.label"):
        _cfg(task={"kind": "node_classification", "target": "user"})


def test_metrics_and_fanout_validated():
    with pytest.raises(ConfigError, match="unknown metric"):
        _cfg(evaluate={"metrics": ["recall@20", "recal@10"]})
    with pytest.raises(ConfigError, match="fanout"):
        _cfg(sampling={"fanout": [10, 0]})


def test_source_engine_needs_uri():
    with pytest.raises(ConfigError, match="needs a 'uri'"):
        _cfg(source={"engine": "postgres"})


def test_bucketize_needs_exactly_one_rule():
    with pytest.raises(ConfigError, match="exactly one of 'boundaries' or 'num_buckets'"):
        _cfg(
            nodes={
                "user": {"table": "u", "id": "id", "features": {"a": "bucketize"}},
                "movie": {"table": "m", "id": "id"},
            }
        )


def test_sampling_section_maps_to_sampler_options():
    from gigalearn.graph.sampling.khop import KHopOptions

    cfg = _cfg(sampling={"fanout": {"user/rated/movie": [5, 3]}, "weighted": True})
    opts = KHopOptions.from_config(cfg.sampling)
    assert opts.fanout == {("user", "rated", "movie"): [5, 3]} and opts.weighted
    with pytest.raises(ConfigError, match="undeclared edge types"):
        _cfg(sampling={"fanout": {"user/likes/movie": [5]}})
    with pytest.raises(ConfigError, match="src/relation/dst"):
        _cfg(sampling={"fanout": {"user": [5]}})


def _yaml_cfg(tmp_path, model, sampling=None):
    import yaml

    from gigalearn.graph.config import load_config

    data = {
        "name": "t",
        "nodes": {"user": {"table": "u", "id": "id"}, "movie": {"table": "m", "id": "id"}},
        "edges": [{"type": ["user", "rated", "movie"], "table": "r", "src": "u", "dst": "m"}],
        "sampling": sampling or {"fanout": [5, 5]},
        "model": model,
    }
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return lambda: load_config(path)


def test_encoder_errors_name_file_and_line(tmp_path):
    with pytest.raises(
        ConfigError, match=r"task\.yaml:\d+: model\.encoder: .*unknown encoder 'sagee'.*lightgcn"
    ):
        _yaml_cfg(tmp_path, {"encoder": "sagee"})()
    with pytest.raises(ConfigError, match=r"task\.yaml:\d+: model\.layers"):
        _yaml_cfg(tmp_path, {"encoder": "lightgcn", "layers": 0})()
    with pytest.raises(
        ConfigError, match=r"task\.yaml:\d+: model\.layers: lightgcn with 3 layers needs 3 hops"
    ):
        _yaml_cfg(tmp_path, {"encoder": "lightgcn", "layers": 3})()
    with pytest.raises(ConfigError, match=r"task\.yaml:\d+: .*divisible by heads"):
        _yaml_cfg(tmp_path, {"encoder": "hgt", "hidden": 10, "heads": 3})()
    cfg = _yaml_cfg(tmp_path, {"encoder": "lightgcn", "layers": 2})()
    assert cfg.model.logq_correction and cfg.model.features
    assert _yaml_cfg(tmp_path, {"encoder": "my.models:Net"})().model.encoder == "my.models:Net"


def test_decoder_errors_name_file_and_line(tmp_path):
    import yaml

    from gigalearn.graph.config import load_config

    def load(model, evaluate=None):
        data = {
            "name": "t",
            "nodes": {"user": {"table": "u", "id": "id"}, "movie": {"table": "m", "id": "id"}},
            "edges": [{"type": ["user", "rated", "movie"], "table": "r", "src": "u", "dst": "m"}],
            "model": model,
            "evaluate": evaluate or {},
        }
        path = tmp_path / "task.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_config(path)

    assert load({}).model.decoder == "dot" and load({}).evaluate.search == "exact"
    with pytest.raises(ConfigError, match=r"task\.yaml:\d+: model\.decoder: .*'hadamard_mlp'"):
        load({"decoder": "mlp"})
    with pytest.raises(
        ConfigError, match=r"task\.yaml:\d+: evaluate\.search: faiss ranks by inner product.*"
    ):
        load({"decoder": "hadamard_mlp"}, {"search": "faiss"})
    with pytest.raises(ConfigError, match=r"task\.yaml:\d+: model\.normalize: decoder 'cosine'"):
        load({"decoder": "cosine", "normalize": False})
    assert load({"decoder": "cosine"}, {"search": "faiss"}).model.decoder == "cosine"
    assert load({"decoder": "hadamard_mlp", "normalize": False}).model.decoder == "hadamard_mlp"


def test_loader_threads_and_workers_are_one_or_the_other(tmp_path):
    import yaml

    from gigalearn.graph.config import load_config

    def load(train):
        data = {
            "name": "t",
            "nodes": {"user": {"table": "u", "id": "id"}, "movie": {"table": "m", "id": "id"}},
            "edges": [{"type": ["user", "rated", "movie"], "table": "r", "src": "u", "dst": "m"}],
            "train": train,
        }
        path = tmp_path / "task.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_config(path)

    assert load({"loader_threads": 2}).train.loader_threads == 2
    assert load({"num_workers": 2}).train.num_workers == 2
    with pytest.raises(
        ConfigError, match=r"task\.yaml:\d+: train\.loader_threads: .*with num_workers: 2"
    ):
        load({"loader_threads": 2, "num_workers": 2})
    with pytest.raises(ConfigError, match=r"train\.loader_threads"):
        load({"loader_threads": 0})
