"""The whole graph pipeline on a small planted graph: stages, skipping, write-back, faults."""

import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from gigalearn.common.errors import ConfigError
from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import run_pipeline
from gigalearn.graph.rundir import RunDir


def _run(path, workdir, **kw):
    cfg = load_config(path)
    run = RunDir.for_config(cfg, workdir / "runs")
    return run, run_pipeline(cfg, run, **kw)


def test_pipeline_learns_and_writes_everything_back(planted):
    workdir, write = planted
    run, results = _run(write(), workdir)
    metrics = json.loads(run.metrics.read_text())
    assert metrics["recall@10"] > 0.3  # planted clusters: random ranking gives ~0.08
    assert results["evaluate"] == metrics
    users = pq.read_table(run.embeddings / "user.parquet")
    assert users.column("id").to_pylist()[:3] == [1000, 1001, 1002]  # original ids
    con = duckdb.connect(str(workdir / "planted.duckdb"), read_only=True)
    rows = con.execute("SELECT id, len(embedding) FROM emb_item ORDER BY id LIMIT 2").fetchall()
    assert rows == [("i0", 16), ("i1", 16)]
    log = [json.loads(x) for x in run.train_log.read_text().splitlines()]
    assert any("val" in x for x in log) and all(np.isfinite(x.get("loss", 0)) for x in log)


def test_unchanged_stages_are_skipped(planted):
    workdir, write = planted
    seen = []
    cfg = load_config(write())
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run, stop_after="split", on_stage=lambda n, w: seen.append((n, w)))
    assert [w for _, w in seen] == ["running", "running"]
    seen.clear()
    cfg = load_config(write(model={"hidden": 8}))
    run_pipeline(cfg, run, stop_after="train", on_stage=lambda n, w: seen.append((n, w)))
    assert seen == [
        ("preprocess", "unchanged, skipped"),
        ("split", "unchanged, skipped"),
        ("train", "running"),
    ]


def test_a_store_of_an_older_format_is_rebuilt(planted, monkeypatch):
    """A run made before a GraphStore format change re-runs preprocess and what follows."""
    import gigalearn.graph.pipeline as pipeline

    workdir, write = planted
    cfg = load_config(write())
    run = RunDir.for_config(cfg, workdir / "runs")
    monkeypatch.setattr(pipeline, "FORMAT_VERSION", pipeline.FORMAT_VERSION - 1)
    run_pipeline(cfg, run, stop_after="split")
    monkeypatch.undo()
    seen = []
    run_pipeline(cfg, run, stop_after="split", on_stage=lambda n, w: seen.append((n, w)))
    assert seen == [("preprocess", "running"), ("split", "running")]


def test_checkpoint_from_another_config_is_refused(planted):
    workdir, write = planted
    _run(write(), workdir, stop_after="train")
    with pytest.raises(ConfigError, match="different config"):
        _run(write(model={"hidden": 8}), workdir, start_at="train", stop_after="train")


def test_bad_model_path_and_stage_names(planted):
    workdir, write = planted
    with pytest.raises(ConfigError, match="does not import"):
        _run(write(model={"encoder": "no_such_pkg.models:Net"}), workdir, stop_after="train")
    with pytest.raises(ConfigError, match="unknown stage 'trian'"):
        _run(write(), workdir, stop_after="trian")


@pytest.mark.postgres
def test_embeddings_written_back_to_postgres(planted, pg_url):
    import ibis

    from ..conftest import write_postgres
    from .conftest import planted_tables

    workdir, write = planted
    write_postgres(pg_url, planted_tables())
    _run(write(source={"engine": "postgres", "uri": pg_url}), workdir)
    con = ibis.connect(pg_url)
    items = con.table("emb_item").to_pyarrow().sort_by("id")
    assert items.column("id").to_pylist()[:2] == ["i0", "i1"]
    assert len(items.column("embedding")[0].as_py()) == 16
    users = con.table("emb_user").to_pyarrow()
    assert sorted(users.column("id").to_pylist())[0] == 1000


def test_early_stopping_stops_and_keeps_the_best_model(planted):
    import torch

    workdir, write = planted
    # a learning rate too small to change anything: no epoch after the first improves
    path = write(
        train={"epochs": 20, "lr": 1e-12, "early_stopping": {"metric": "recall@10", "patience": 1}}
    )
    run, results = _run(path, workdir, stop_after="train")
    assert len(results["train"]["history"]) == 2
    best = torch.load(run.model / "best.pt", weights_only=False)
    final = torch.load(run.model / "model.pt", weights_only=False)
    assert best["epoch"] == 1
    assert all(torch.equal(final["model"][k], v) for k, v in best["model"].items())


def test_loader_threads_train_the_same_model(planted):
    """train.loader_threads builds batches in threads: the same batches, so the same losses."""
    workdir, write = planted
    losses = []
    for threads in (1, 3):
        cfg = load_config(write(train={"epochs": 1, "loader_threads": threads}))
        run = RunDir.for_config(cfg, workdir / f"runs-{threads}")
        run_pipeline(cfg, run, stop_after="train")
        log = [json.loads(x) for x in run.train_log.read_text().splitlines()]
        losses.append([x["loss"] for x in log if "loss" in x])
    assert len(losses[0]) > 1
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
