"""Inductive splits: held-out users are unseen in training and are ranked from features."""

import json

import numpy as np

from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import run_pipeline
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.split import Split
from gigalearn.graph.store import GraphStore

TARGET = ("user", "likes", "item")
INDUCTIVE = {
    "kind": "link_prediction",
    "target": list(TARGET),
    "split": {"strategy": "inductive", "val": 0.15, "test": 0.15},
}


def test_held_out_users_are_absent_from_the_training_graph(planted):
    workdir, write = planted
    cfg = load_config(write(task=INDUCTIVE))
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run, stop_after="split")
    full, train = GraphStore(run.graph), GraphStore(run.train_graph)
    split = Split.load(run.splits / "edges")
    src, _ = full.edge_index(TARGET)
    held = np.unique(src[np.concatenate([split.val, split.test])])
    assert len(held) > 30 and not set(src[split.train]) & set(held)
    # every edge of a held-out user is a validation or test edge ...
    assert set(np.flatnonzero(np.isin(src, held))) == set(split.val) | set(split.test)
    # ... and none is in the training graph, in either direction
    assert not np.isin(train.edge_index(TARGET)[0], held).any()
    assert not np.isin(train.edge_index(("item", "rev_likes", "user"))[1], held).any()
    assert train.csr(("item", "rev_likes", "user"), "in").degrees()[held].sum() == 0


def test_unseen_users_are_ranked_from_their_features(planted):
    workdir, write = planted

    def features_only(cfg):
        # the users' taste (their planted cluster) is a feature; no id embeddings, which
        # held-out users could not have learned
        cfg["nodes"]["user"]["features"] = {"taste": "categorical"}

    cfg = load_config(
        write(
            task=INDUCTIVE,
            model={"id_embeddings": False},
            train={"epochs": 3},
            infer={"write_back": None},
            edit=features_only,
        )
    )
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run)
    metrics = json.loads(run.metrics.read_text())
    # random ranking gives ~0.08; lower than transductive (>0.3) since held-out users reach
    # the encoder without any neighbours, unlike every training user
    assert metrics["recall@10"] > 0.2, metrics
