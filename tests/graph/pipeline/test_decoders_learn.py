"""Each link decoder learns the planted clusters through the whole pipeline, and the trainer
writes TensorBoard events."""

import json

import pytest
import torch

from gigalearn.graph.config import load_config
from gigalearn.graph.pipeline import run_pipeline
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.stages import evaluate_stage


@pytest.mark.parametrize("decoder", ["dot", "cosine", "hadamard_mlp"])
def test_decoder_learns_planted_clusters(planted, decoder):
    workdir, write = planted
    cfg = load_config(write(model={"decoder": decoder}, train={"epochs": 3}))
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run, stop_after="evaluate")
    metrics = json.loads(run.metrics.read_text())
    assert metrics["recall@10"] > 0.3, metrics  # random is ~0.08
    saved = torch.load(run.model / "model.pt", weights_only=False)["model"]
    assert any(k.startswith("decoder.mlp.") for k in saved) == (decoder == "hadamard_mlp")
    if decoder == "cosine":  # stored embeddings are normalised: an inner-product index ranks
        approx = load_config(write(model={"decoder": decoder}, evaluate={"search": "faiss"}))
        assert evaluate_stage(approx, run)["recall@10"] > 0.3
    if decoder == "hadamard_mlp":  # evaluation scores every pair with the saved MLP
        assert evaluate_stage(cfg, run)["recall@10"] == metrics["recall@10"]
        saved = {k: v.zero_() if k.startswith("decoder.") else v for k, v in saved.items()}
        torch.save({"model": saved}, run.model / "model.pt")
        assert evaluate_stage(cfg, run)["recall@10"] < metrics["recall@10"]


def test_training_writes_tensorboard_events(planted):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    workdir, write = planted
    cfg = load_config(write(train={"epochs": 1, "max_steps_per_epoch": 3}))
    run = RunDir.for_config(cfg, workdir / "runs")
    run_pipeline(cfg, run, stop_after="train")
    assert list(run.tensorboard.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(run.tensorboard))
    events.Reload()
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3]
    logged = [json.loads(line) for line in run.train_log.read_text().splitlines()]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in logged if "loss" in r])
    assert events.Scalars("val/recall@10")[0].step == 3

    off = load_config(write(name="planted-off", train={"epochs": 1, "tensorboard": False}))
    run_off = RunDir.for_config(off, workdir / "runs")
    run_pipeline(off, run_off, stop_after="train")
    assert not run_off.tensorboard.exists()
