"""`wm report` on several run folders: pooled figures and claims, shared networks once, errors."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import pool

from .tiny import run, tiny_analysis, tiny_spec

# two tiny sweeps sharing g = 1.5 seeds 0-1: the same networks, listed by both folders
SPEC_A = tiny_spec("pool-a")
SPEC_B = tiny_spec("pool-b", g="[1.5]", seeds="[0, 1, 2]")
CONFIG = tiny_analysis(chunk_size=2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two swept and analysed folders, A (4 networks) and B (3, 2 of them also in A), and an
    unanalysed copy of B."""
    root = tmp_path_factory.mktemp("pool")
    (root / "analysis.yaml").write_text(CONFIG)
    for name, spec in (("a", SPEC_A), ("b", SPEC_B)):
        (root / f"{name}.yaml").write_text(spec)
        r = run("sweep", root / f"{name}.yaml", "--out", root / name, "--no-progress")
        assert r.exit_code == 0, r.output
        if name == "b":
            shutil.copytree(root / "b", root / "raw")
        r = run("analyze", root / name, "--config", root / "analysis.yaml", "--no-progress")
        assert r.exit_code == 0, r.output
    return root


def test_pooled_report_counts_shared_networks_once(runs, tmp_path):
    pooled = pool.load_runs([runs / "a", runs / "b"])
    assert len(pooled.all_rows) == 7 and pooled.duplicates == 2 and len(pooled.rows) == 5
    dup = pooled.all_rows[pooled.all_rows["duplicate"]]
    assert set(dup["run_dir"]) == {str(runs / "b")}
    assert sorted(dup["seed"]) == [0, 1] and set(dup["g"]) == {1.5}
    kept_b = pooled.rows[pooled.rows["run_dir"] == str(runs / "b")]
    assert kept_b["seed"].tolist() == [2]  # the only network B adds

    out = tmp_path / "pooled"
    r = run("report", runs / "a", runs / "b", "--out", out)
    assert r.exit_code == 0, r.output
    assert "## The paper's claims" in r.output and "5 distinct analysed networks" in r.text
    md = (out / "report.md").read_text()
    assert "2 run folders, pooled" in md and "5 distinct networks, 5 analysed" in md
    assert f"| `{runs / 'b'}` | 3 | 3 | 2 (2 analysed) |" in md
    assert "| pooled | 5 |" in md and f"| {runs / 'a'} | 4 |" in md
    for png in ("mechanisms", "forgetting", "noise", "speed", "state_space", "activity"):
        data = (out / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and f"({png}.png)" in md
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    assert (out / "report.md").stat().st_mode & 0o044  # readable like a plainly written file


def test_single_folder_still_reports_next_to_it(runs, tmp_path):
    one = tmp_path / "a"
    shutil.copytree(runs / "a", one)
    r = run("report", one)
    assert r.exit_code == 0, r.output
    md = (one / "report" / "report.md").read_text()
    assert f"analysis of `{one}`" in md and "| all | 4 |" in md and "pooled" not in md


def test_several_folders_need_out(runs, monkeypatch, capsys):
    r = run("report", runs / "a", runs / "b")
    assert isinstance(r.exception, ConfigError) and "--out" in str(r.exception)
    _exits_2(monkeypatch, capsys, runs / "a", runs / "b", expect="--out")


def test_unanalysed_folder_is_named(runs, tmp_path, monkeypatch, capsys):
    raw = runs / "raw"
    err = _exits_2(monkeypatch, capsys, runs / "a", raw, "--out", tmp_path / "o", expect=str(raw))
    assert "gigalearn wm analyze" in err
    assert not (tmp_path / "o").exists()


def test_folders_analysed_differently_cannot_be_pooled(runs, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(runs / "b", b)
    cfg_file = b / "analysis" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["threads"], cfg["chunk_size"] = 7, 5  # how the work was split: fine
    cfg_file.write_text(json.dumps(cfg))
    assert pool.load_runs([runs / "a", b]).duplicates == 2
    cfg["attractors"]["fixed_point_factor"] = 3.0
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"attractors\.fixed_point_factor"):
        pool.load_runs([runs / "a", b])
    spec = json.loads((runs / "b" / "spec.json").read_text())
    spec["task"]["sum_code"] = [1.0, 0.0, 2.0]
    shutil.copy(runs / "a" / "analysis" / "config.json", cfg_file)
    (b / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigError, match=r"task\.sum_code"):
        pool.load_runs([runs / "a", b])


def test_shared_key_with_other_results_is_refused(runs, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(runs / "b", b)
    path = pool.results_path(b)
    t = pd.read_parquet(path)
    t.loc[t["seed"] == 0, "test_rmse"] += 0.5  # not the network A has
    t.to_parquet(path)
    with pytest.raises(DataError, match="different test RMSE"):
        pool.load_runs([runs / "a", b])


def _exits_2(monkeypatch, capsys, *args, expect: str) -> str:
    from gigalearn.cli import main

    monkeypatch.setattr(sys, "argv", ["gigalearn", "wm", "report", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert expect in err, err
    return err
