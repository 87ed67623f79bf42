"""`wm analyze` and `wm report` end to end on a tiny sweep: resume, shards, errors, figures."""

from __future__ import annotations

import shutil
import sys

import pandas as pd
import pytest

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import analyze, store

from ..tiny import run, tiny_analysis, tiny_spec

SPEC = tiny_spec("analyze-tiny")
CONFIG = tiny_analysis(chunk_size=1)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "spec.yaml").write_text(SPEC)
    (root / "analysis.yaml").write_text(CONFIG)
    r = run("sweep", root / "spec.yaml", "--out", root / "run", "--no-progress")
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture
def run_dir(swept, tmp_path):
    shutil.copytree(swept / "run", tmp_path / "run")
    return tmp_path / "run"


def _table(run_dir):
    t = pd.read_parquet(analyze.analysis_dir(run_dir) / store.RESULTS)
    return t.drop(columns=["analysis_wall_time_s"]).sort_values("network_id", ignore_index=True)


def test_analyze_adds_columns_and_report_writes_figures(swept, run_dir):
    r = run("analyze", run_dir, "--config", swept / "analysis.yaml", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "analysed 4 network(s), 0 already done" in r.text and "mechanism" in r.text
    t = _table(run_dir)
    assert len(t) == 4 and t["analyzed"].all()
    for col in ("mechanism", "fp_stable_per_class", "forget_kind", "noise_fail_frac", "speed_50"):
        assert col in t.columns and t[col].notna().all()
    assert set(t["mechanism"]) <= {"fixed_point", "slow_manifold", "limit_cycle", "mixed"}
    r = run("report", run_dir)
    assert r.exit_code == 0, r.output
    out = run_dir / "report"
    md = (out / "report.md").read_text()
    assert "slow-manifold is the most common mechanism" in md
    for png in ("mechanisms", "forgetting", "noise", "state_space", "activity", "speed"):
        data = (out / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png
        assert f"({png}.png)" in md


def test_interrupted_analyze_resumes_and_gives_the_same_table(
    swept, run_dir, tmp_path, monkeypatch
):
    cfg = analyze.load_config(swept / "analysis.yaml")
    fresh = tmp_path / "fresh"
    shutil.copytree(run_dir, fresh)
    analyze.run_analyze(fresh, cfg)

    real, calls = analyze.analyze_chunk, []

    def dies_on_third(*args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if killed mid-run
        return real(*args, **kw)

    monkeypatch.setattr(analyze, "analyze_chunk", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        analyze.run_analyze(run_dir, cfg)
    assert len(analyze.finished_ids(analyze.analysis_dir(run_dir))) == 2
    monkeypatch.setattr(analyze, "analyze_chunk", real)
    out = analyze.run_analyze(run_dir, cfg)
    assert (out.analysed, out.skipped) == (2, 2)
    pd.testing.assert_frame_equal(_table(run_dir), _table(fresh))


def test_shards_cover_every_network_once(swept, run_dir):
    cfg = analyze.load_config(swept / "analysis.yaml")
    done = [analyze.run_analyze(run_dir, cfg, analyze.Shard(i, 2)) for i in range(2)]
    assert [d.analysed for d in done] == [2, 2] and all(d.results is None for d in done)
    final = analyze.run_analyze(run_dir, cfg)  # unsharded: nothing left, merges the table
    assert final.analysed == 0 and _table(run_dir)["analyzed"].all()


def test_changed_config_is_refused_on_resume(swept, run_dir):
    cfg = analyze.load_config(swept / "analysis.yaml")
    analyze.run_analyze(run_dir, cfg, analyze.Shard(0, 4))
    other = cfg.model_copy(update={"dtype": "float64"})
    with pytest.raises(ConfigError, match="dtype"):
        analyze.run_analyze(run_dir, other)
    analyze.run_analyze(run_dir, cfg.model_copy(update={"chunk_size": 3}))  # how, not what


def test_bad_inputs_are_clear_errors(swept, run_dir, tmp_path):
    r = run("analyze", tmp_path / "nowhere")
    assert isinstance(r.exception, ConfigError) and "nowhere" in str(r.exception)
    bad = tmp_path / "bad.yaml"
    bad.write_text("attractors: {n_start: 3}\n")
    r = run("analyze", run_dir, "--config", bad)
    assert isinstance(r.exception, ConfigError)
    assert "n_start" in str(r.exception) and "bad.yaml" in str(r.exception)
    shutil.rmtree(store.chunk_dirs(run_dir)[0])
    r = run("analyze", run_dir)
    assert isinstance(r.exception, DataError) and "not finished" in str(r.exception)
    r = run("report", tmp_path / "nowhere")
    assert isinstance(r.exception, DataError) and "wm analyze" in str(r.exception)


def test_top_level_cli_exits_2_with_the_path(tmp_path, monkeypatch, capsys):
    from gigalearn.cli import main

    monkeypatch.setattr(sys, "argv", ["gigalearn", "wm", "analyze", str(tmp_path / "missing")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "missing" in capsys.readouterr().err
