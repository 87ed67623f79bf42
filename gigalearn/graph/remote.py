"""Run directories and GraphStores on shared or object storage, named by fsspec URLs
(`s3://`, `gs://`, `file://`, `memory://`, ...).

Memory-mapping needs local files, so a remote folder that a stage reads is materialised into a
host-local cache once per host (and per content: a changed folder is fetched again), then
memory-mapped read-only by every process of the host. What a stage writes goes to a host-local
work folder first and is uploaded by rank 0 when the stage has finished; training's checkpoints
are also uploaded as they are written (`mirror_checkpoint`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from gigalearn.common.errors import DataError
from gigalearn.graph.rundir import RunDir
from gigalearn.graph.store import GraphStore

# what identifies a file's content, by backend: s3 ETag, gcs generation, local mtime, ...
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "mtime", "LastModified", "created")
_DONE = ".complete"
RUN_ENTRIES = RunDir.ENTRIES


def is_url(location: str | Path) -> bool:
    """True for an fsspec URL (`scheme://...`); plain paths are used as they are."""
    return "://" in str(location)


def cache_root() -> Path:
    """The host-local cache: $GIGALEARN_CACHE, else ~/.cache/gigalearn, then `remote/`."""
    base = os.environ.get("GIGALEARN_CACHE") or Path.home() / ".cache" / "gigalearn"
    return Path(base) / "remote"


def _fs(url: str):
    try:
        import fsspec
    except ImportError:
        raise DataError(
            f"{url}: remote locations need fsspec: pip install 'gigalearn[distributed]'"
        ) from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        # e.g. s3:// without s3fs installed: fsspec names the package to install
        raise DataError(f"{url}: cannot open this location: {exc}") from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between the processes of this host (ranks of one torchrun node)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _listing(fs, root: str) -> list[tuple[str, str, int, str]]:
    """(remote path, relative path, size, version) of every file under `root`, or of `root`."""
    if not fs.isdir(root):
        info = fs.info(root)
        return [(root, "", int(info.get("size") or 0), _version(info))]
    out = []
    for path, info in sorted(fs.find(root, detail=True).items()):
        rel = path[len(root.rstrip("/")) :].lstrip("/")
        out.append((path, rel, int(info.get("size") or 0), _version(info)))
    return out


def _version(info: dict) -> str:
    return next((str(info[k]) for k in _VERSION_KEYS if info.get(k) is not None), "")


def materialize(url: str, cache: Path | None = None) -> Path:
    """A local read-only copy of the file or folder at `url`, fetched once per host and per
    content; later calls (other ranks, later stages) reuse it."""
    fs, root = _fs(url)
    if not fs.exists(root):
        raise DataError(f"{url} does not exist: check the URL, or run the stage that writes it")
    files = _listing(fs, root)
    fingerprint = _digest(json.dumps([f[1:] for f in files]))
    slot = (cache or cache_root()) / "inputs" / _digest(url)
    dest = slot / fingerprint
    if (dest / _DONE).exists():
        return dest / "data"
    with _locked(slot / ".lock"):
        if not (dest / _DONE).exists():
            tmp = slot / f".tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            local = [tmp / "data" / rel if rel else tmp / "data" for _, rel, _, _ in files]
            for path in local:
                path.parent.mkdir(parents=True, exist_ok=True)
            if files:
                fs.get([f[0] for f in files], [str(p) for p in local])
            (tmp / _DONE).touch()
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
    return dest / "data"


def open_store(location: str | Path) -> GraphStore:
    """A GraphStore from a local folder or a URL (materialised into the host's cache)."""
    return GraphStore(materialize(str(location)) if is_url(location) else location)


def _join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def upload(local: Path, url: str) -> None:
    """Replace the file or folder at `url` with `local`."""
    fs, root = _fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    if local.is_dir():
        files = sorted(p for p in local.rglob("*") if p.is_file())
        fs.makedirs(root, exist_ok=True)
        if files:
            remote = [_join(root, *p.relative_to(local).parts) for p in files]
            for r in remote:
                fs.makedirs(r.rsplit("/", 1)[0], exist_ok=True)
            fs.put([str(p) for p in files], remote)
    else:
        fs.makedirs(root.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(local), root)


def _put_atomic(fs, local: Path, remote: str) -> None:
    """Upload under a temporary name, then move into place: no reader sees half a file."""
    parent, name = remote.rsplit("/", 1)
    fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.upload-{name}"
    fs.put_file(str(local), tmp)
    fs.mv(tmp, remote)


def mirror_checkpoint(run: RunDir, path: Path) -> None:
    """Upload a checkpoint just written into `run` (and the training log) to the run's URL
    while training goes on, and drop the ones pruned locally there too; so a job killed
    midway resumes from it. A no-op for a local run directory."""
    if run.mirror is None:
        return
    fs, root = _fs(run.mirror)
    rel = path.relative_to(run.root).parts
    folder = _join(root, *rel[:-1])
    _put_atomic(fs, path, _join(folder, rel[-1]))
    kept = {p.name for p in path.parent.glob("step-*.pt")}
    for old in fs.glob(_join(folder, "step-*.pt")):
        if old.rsplit("/", 1)[-1] not in kept:
            fs.rm(old)
    if run.train_log.exists():
        _put_atomic(fs, run.train_log, _join(root, *run.train_log.relative_to(run.root).parts))


@contextlib.contextmanager
def synced_run(
    runs_dir: str | Path,
    name: str,
    reads: Sequence[str] = (),
    writes: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> Iterator[RunDir]:
    """The run directory `runs_dir/name` as a local RunDir for one stage.

    A local `runs_dir` is used as it is. For a URL, the entries the stage `reads` (e.g.
    "graph") are materialised once per host and linked read-only; those it `writes` are copied
    into a host-local work folder (so training can resume from checkpoints) and uploaded back by
    rank 0 when the stage is done; `optional` entries are read when present. A missing `reads`
    entry is an error. Under torchrun every rank calls this together.
    """
    if not is_url(runs_dir):
        yield RunDir(Path(runs_dir) / name)
        return
    from gigalearn.graph.ranks import Ranks  # torch.distributed: only for remote runs

    url = _join(str(runs_dir), name)
    ranks = Ranks.from_env()
    work = cache_root() / "work" / _digest(url)
    fs, root = _fs(url)
    missing = [e for e in reads if not fs.exists(_join(root, e))]
    if missing:
        raise DataError(
            f"{url}: {', '.join(missing)} missing; run the stages that write them first "
            "(e.g. `gigalearn graph run CONFIG --stop-after split --runs-dir URL`)"
        )
    if ranks.local_rank == 0:
        with _locked(work.with_suffix(".lock")):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            for entry in [*reads, *optional]:
                if fs.exists(_join(root, entry)) and entry not in writes:
                    (work / entry).symlink_to(materialize(_join(url, entry)))
            for entry in writes:
                if fs.exists(_join(root, entry)):
                    copy = materialize(_join(url, entry))
                    if copy.is_dir():
                        shutil.copytree(copy, work / entry)
                    else:
                        shutil.copy2(copy, work / entry)
    ranks.barrier()
    yield RunDir(work, mirror=url)
    ranks.barrier()
    if ranks.rank == 0:
        for entry in writes:
            if (work / entry).exists():
                upload(work / entry, _join(url, entry))
    ranks.barrier()
