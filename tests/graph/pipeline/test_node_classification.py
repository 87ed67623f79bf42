"""Node classification through the pipeline: users' tastes predicted from what they like."""

import json

import duckdb

from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import run_pipeline
from gigalearn.graph.rundir import RunDir


def test_node_classification_pipeline(planted):
    workdir, write = planted
    path = write(
        task={
            "kind": "node_classification",
            "target": "user",
            "split": {"strategy": "random", "val": 0.2, "test": 0.2},
        },
        train={"epochs": 15, "batch_size": 32, "lr": 0.01},
        infer={"write_back": "pred"},
        edit=lambda c: (c["nodes"]["user"].update(label="taste"), c.pop("evaluate")),
    )
    cfg = load_config(path)
    assert cfg.nodes["user"].label == "taste"
    assert cfg.evaluate.metrics == ["accuracy", "macro_f1"]  # the node-task default
    run = RunDir.for_config(cfg, workdir / "runs")
    results = run_pipeline(cfg, run)
    metrics = json.loads(run.metrics.read_text())
    assert metrics["accuracy"] > 0.8, metrics  # 6 planted tastes: chance is ~0.17
    assert results["split"] == {
        "train": metrics["nodes"] and results["split"]["train"],
        "val": results["split"]["val"],
        "test": metrics["nodes"],
    }
    con = duckdb.connect(str(workdir / "planted.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT p.id, p.prediction, u.taste FROM pred_user p JOIN users u ON u.user_id = p.id"
    ).fetchall()
    assert len(rows) == 300
    assert sum(pred == true for _, pred, true in rows) / len(rows) > 0.8
