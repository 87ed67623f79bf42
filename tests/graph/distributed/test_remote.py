"""GraphStores and run directories on shared or object storage, through fsspec URLs
(memory:// and file:// here; s3:// and gs:// take the same path)."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest

from gigalearn.common.errors import DataError
from gigalearn.graph.remote import materialize, open_store, synced_run, upload

from ..conftest import make_store


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, 50, (2, 300))
    return make_store(tmp_path / "g", {"n": 50}, {("n", "to", "n"): {"src": src, "dst": dst}})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GIGALEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "remote"


def test_memory_store_is_materialised_once_per_content(store, cache):
    url = "memory://bucket/test-remote/graph"
    upload(store.path, url)
    remote = open_store(url)
    assert str(remote.path).startswith(str(cache))
    csr, expected = remote.csr(("n", "to", "n")), store.csr(("n", "to", "n"))
    np.testing.assert_array_equal(csr.indptr, expected.indptr)
    np.testing.assert_array_equal(csr.indices, expected.indices)
    assert isinstance(csr.indices, np.memmap)  # memory-mapped from the local copy
    assert open_store(url).path == remote.path  # the second open reuses the copy
    with fsspec.open(url + "/metadata.json", "w") as fh:  # the store changed remotely
        fh.write(store.path.joinpath("metadata.json").read_text() + " ")
    assert materialize(url) != remote.path
    fsspec.filesystem("memory").rm("/bucket/test-remote", recursive=True)


def test_missing_url_is_a_clear_error(cache):
    with pytest.raises(DataError, match="does not exist"):
        open_store("memory://bucket/no-such-store")
    with pytest.raises(DataError, match="does not exist"):
        materialize("file:///no/such/folder")


def test_synced_run_reads_links_and_uploads_writes(store, cache, tmp_path):
    shared = tmp_path / "shared"
    upload(store.path, (shared / "r" / "graph").as_uri())
    url = shared.as_uri()
    with synced_run(url, "r", reads=["graph"], writes=["model"], optional=["splits"]) as run:
        assert run.graph.is_symlink() and not run.splits.exists()  # absent optional: skipped
        run.model.mkdir()
        (run.model / "model.pt").write_bytes(b"weights")
    assert (shared / "r" / "model" / "model.pt").read_bytes() == b"weights"
    with synced_run(shared.as_uri(), "r", writes=["model"]) as run:  # e.g. resuming
        assert (run.model / "model.pt").read_bytes() == b"weights"
        (run.model / "model.pt").unlink()
        (run.model / "step-1.pt").write_bytes(b"w2")
    assert sorted(p.name for p in (shared / "r" / "model").iterdir()) == ["step-1.pt"]
    with synced_run(tmp_path / "local", "r") as run:  # a plain folder is used as it is
        assert run.root == tmp_path / "local" / "r"


def test_synced_run_names_missing_inputs(cache, tmp_path):
    (tmp_path / "shared" / "r").mkdir(parents=True)
    with (
        pytest.raises(DataError, match="graph, splits missing"),
        synced_run((tmp_path / "shared").as_uri(), "r", reads=["graph", "splits"]),
    ):
        pass
