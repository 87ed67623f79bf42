import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gigalearn.common.errors import ConfigError, DataError
from gigalearn.wm import store, sweep
from gigalearn.wm.spec import SweepSpec, expand
from gigalearn.wm.sweep import Shard, chunk_size, plan, run_sweep


def tiny_spec(**over) -> SweepSpec:
    data = {
        "name": "tiny",
        "task": {"dt": 0.5},  # 70 steps per trial keeps tests fast
        "grid": {"g": [1.2, 1.5], "pg": [0.9], "fb": [10, 40], "n": [20], "seeds": [0, 1]},
        "force": {"n_trials": 2},
        "n_stim_seeds": 1,
        "chunk_size": 3,
        "threads": 1,
    }
    data.update(over)
    return SweepSpec.model_validate(data)


@given(count=st.integers(1, 9), n_nets=st.integers(1, 60))
def test_shards_partition_networks_exactly_once(count, n_nets):
    spec = tiny_spec(search="random", n_random=n_nets, chunk_size=None)
    task = spec.task.build()
    seen = []
    for i in range(count):
        for chunk in plan(spec, task, Shard(i, count), set()):
            seen += [j.network_id for j in chunk]
    assert sorted(seen) == list(range(n_nets))


def test_shard_parse_errors():
    assert Shard.parse("2/5") == Shard(2, 5)
    for bad in ("5/5", "x/2", "1", "-1/3"):
        with pytest.raises(ConfigError, match="--shard"):
            Shard.parse(bad)


def test_chunk_too_big_for_memory_says_what_fits(tmp_path):
    spec = tiny_spec(
        grid={"g": [1.0], "pg": [0.5], "fb": [1], "n": [1000]}, chunk_size=500, memory_gb=1.0
    )
    with pytest.raises(ConfigError, match=r"chunk_size=500.*chunk_size <= \d+ fits"):
        chunk_size(spec, spec.task.build(), 1000)
    huge = tiny_spec(grid={"g": [1.0], "pg": [0.5], "fb": [1], "n": [100000]}, memory_gb=1.0)
    with pytest.raises(ConfigError, match="one network of N=100000"):
        run_sweep(huge, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before writing anything


def test_sweep_writes_rows_and_resume_does_not_retrain(tmp_path, monkeypatch):
    spec = tiny_spec()
    out = run_sweep(spec, tmp_path)
    assert (out.trained, out.skipped, out.total) == (8, 0, 8)
    assert len(out.chunk_dirs) == 3  # chunks of 3, 3, 2
    rows = store.load_results([tmp_path])
    assert rows["network_id"].tolist() == list(range(8))
    for col in ("g", "pg", "fb", "seed", "train_rmse", "test_rmse", "success_0p1", "wall_time_s"):
        assert col in rows.columns
    npz = np.load(out.chunk_dirs[0] / store.NETWORKS)
    assert npz["w_out"].shape == (3, 20, 3) and list(npz["seed"]) == [0, 1, 0]

    calls = []
    real = sweep.train_chunk
    monkeypatch.setattr(sweep, "train_chunk", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = run_sweep(spec, tmp_path)
    assert calls == [] and (again.trained, again.skipped) == (0, 8)


def test_killed_sweep_resumes_only_missing_chunks(tmp_path, monkeypatch):
    spec = tiny_spec()
    real = sweep.train_chunk
    count = {"n": 0}

    def dies_on_second(*a, **k):
        count["n"] += 1
        if count["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep, "train_chunk", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path)
    assert store.finished_ids(tmp_path) == {0, 1, 2}
    trained = []
    monkeypatch.setattr(
        sweep,
        "train_chunk",
        lambda s, t, jobs, cb=None: (
            trained.extend(j.network_id for j in jobs) or real(s, t, jobs, cb)
        ),
    )
    out = run_sweep(spec, tmp_path)
    assert sorted(trained) == [3, 4, 5, 6, 7] and out.trained == 5
    assert store.finished_ids(tmp_path) == set(range(8))


def test_changed_spec_refuses_to_resume(tmp_path):
    run_sweep(tiny_spec(grid={"g": [1.5], "pg": [0.9], "fb": [10], "n": [20]}), tmp_path)
    changed = tiny_spec(grid={"g": [1.4], "pg": [0.9], "fb": [10], "n": [20]})
    with pytest.raises(ConfigError, match="another spec"):
        run_sweep(changed, tmp_path)
    # resource settings may change between runs
    run_sweep(
        tiny_spec(grid={"g": [1.5], "pg": [0.9], "fb": [10], "n": [20]}, chunk_size=1), tmp_path
    )


def test_expand_orders_chunks_by_size():
    spec = tiny_spec(grid={"g": [1.5], "pg": [0.9], "fb": [10], "n": [20, 30], "seeds": [0, 1]})
    chunks = plan(spec, spec.task.build(), Shard(), set())
    assert [{j.spec.n for j in c} for c in chunks] == [{20}, {30}]
    assert len(expand(spec)) == 4


def test_corrupt_chunk_file_is_a_clear_error_and_temp_dirs_are_ignored(tmp_path):
    spec = tiny_spec(chunk_size=4)
    out = run_sweep(spec, tmp_path)
    bad = out.chunk_dirs[0] / store.RESULTS
    bad.write_bytes(b"not parquet")
    (store.chunks_root(tmp_path) / ".net-000000-000003.tmp-abc").mkdir()
    with pytest.raises(DataError, match=r"corrupt results file.*delete the folder"):
        store.finished_ids(tmp_path)
    with pytest.raises(DataError) as exc:
        store.load_results([tmp_path])
    assert str(bad) in str(exc.value)
    # the fix the message suggests works: delete the chunk and rerun
    import shutil

    shutil.rmtree(out.chunk_dirs[0])
    again = run_sweep(spec, tmp_path)
    assert again.trained == 4
    assert not list(store.chunks_root(tmp_path).glob(".*tmp-*"))


def test_merge_of_overlapping_shards_is_an_error(tmp_path):
    spec = tiny_spec(grid={"g": [1.5], "pg": [0.9], "fb": [10], "n": [20]})
    run_sweep(spec, tmp_path / "a")
    run_sweep(spec, tmp_path / "b")
    with pytest.raises(DataError, match="more than one chunk"):
        store.load_results([tmp_path / "a", tmp_path / "b"])


@pytest.mark.parametrize(
    ("task", "trainer"),
    [
        ({"kind": "delayed_match", "dt": 0.5}, "force"),
        ({"kind": "flip_flop", "n_bits": 2, "dt": 0.5}, "force"),
        ({"kind": "sequential_sum", "stimuli": "digits", "dt": 0.5}, "force"),
        ({"kind": "sequential_sum", "dt": 0.5}, "bptt"),
    ],
)
def test_every_task_and_trainer_runs_through_a_sweep(tmp_path, task, trainer):
    spec = tiny_spec(
        task=task,
        trainer=trainer,
        grid={"g": [1.5], "pg": [0.9], "fb": [10], "n": [20], "seeds": [0, 1]},
        bptt={"n_iters": 2, "batch": 2},
    )
    run_sweep(spec, tmp_path)
    rows = store.load_results([tmp_path])
    assert len(rows) == 2 and rows["test_rmse"].notna().all()
    assert set(rows["trainer"]) == {trainer}
