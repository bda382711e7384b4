"""The vector index on disk: ``<library>/index/<model>/``, written crash-safely.

Files of one generation ``<gen>``: ``index.<gen>.faiss`` (the serialised faiss index),
``rows.<gen>.npz`` (track id and checksum by row) and, for IVF-PQ, ``vectors.<gen>.f32``
(float32 rows, appended to in place).

Persistence and concurrency
    ``meta.json`` is the commit point: new generation files are written to temporary
    names, fsync'ed and renamed, then ``meta.json`` (which names them and holds their
    checksums) is replaced the same way, and only then are older generations deleted. A
    missing, truncated or corrupt file, a checksum mismatch, or a meta whose model version
    or dimension differs from the catalog's leads to a rebuild from the catalog, never to
    a crash or stale results. ``index/<model>/.lock`` (``fcntl.flock``) is taken shared
    while loading and exclusive (non-blocking) while writing; a process that cannot write
    (read-only library, another writer busy) keeps its synced index in memory and tries
    again at the next sync.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.errors import VectorIndexError
from songscape.search.index_params import IndexParams
from songscape.search.index_rows import RowFile, RowIndex

log = logging.getLogger(__name__)

INDEX_DIR = "index"
META_FILE = "meta.json"
LOCK_FILE = ".lock"
FORMAT_VERSION = 1
#: Seconds a reader waits for a writer to finish before building in memory instead.
LOCK_TIMEOUT_S = 30.0


def index_dir(store: LibraryStore, model: str) -> Path:
    """The folder holding ``model``'s index files: ``<library>/index/<model>/``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
    if not safe.strip("."):
        raise VectorIndexError(f"model name {model!r} cannot name an index folder")
    return store.root / INDEX_DIR / safe


def digest(data: bytes | np.ndarray) -> str:
    """128-bit BLAKE2b (hex) of a file's bytes, as ``meta.json`` records it."""
    return hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable (where the filesystem allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:  # the files are written; only their renames may not survive a crash
        log.warning("cannot fsync the index folder %s: %s", path, err)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` through ``write(fh)`` into a temporary file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the error that got us here is re-raised
            tmp.unlink()
        raise


def _bytes_writer(payload: bytes | memoryview) -> Callable[[IO[bytes]], Any]:
    return lambda fh: fh.write(payload)


def map_rows(path: Path, n: int, dim: int) -> np.ndarray:
    """The first ``n`` float32 rows of ``dim`` values in ``path``, memory-mapped."""
    if n == 0 or dim == 0:
        return np.empty((n, dim), np.float32)
    return np.memmap(path, dtype="<f4", mode="r", shape=(n, dim))


@contextlib.contextmanager
def lock_folder(folder: Path, exclusive: bool) -> Iterator[bool | None]:
    """Lock an index folder. Yields True when locked; False for a shared lock where no
    lock file can be opened (a read-only folder nobody can write either); None when the
    lock cannot be had (exclusive: at once; shared: in :data:`LOCK_TIMEOUT_S`)."""
    try:
        if exclusive:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        else:
            fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:
        yield None if exclusive else False
        return
    try:
        flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + (0.0 if exclusive else LOCK_TIMEOUT_S)
        while True:
            try:
                fcntl.flock(fd, flags | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    yield None
                    return
                time.sleep(0.05)
        yield True
    finally:
        with contextlib.suppress(OSError):  # closing the descriptor releases it anyway
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# -- reading -----------------------------------------------------------------------------


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json``, or None when there is none.

    Raises
    ------
    ValueError
        When it exists but cannot be read or parsed.
    """
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ValueError(f"unreadable {META_FILE}: {err}") from None


def meta_mismatch(
    meta: dict[str, Any], model: str, version: str, expected_dim: int | None
) -> str | None:
    """Why an index described by ``meta`` is not one of ``model`` at ``version`` (and
    ``expected_dim``, when known), or None when it is."""
    if meta.get("format") != FORMAT_VERSION:
        return f"index format {meta.get('format')} is not {FORMAT_VERSION}"
    if meta.get("model") != model:
        return f"index is of model {meta.get('model')!r}"
    if meta.get("model_version") != version:
        return f"model version changed ({meta.get('model_version')!r} -> {version!r})"
    dim = int(meta["dim"])
    if expected_dim and dim != expected_dim:
        return f"dimension changed ({dim} -> {expected_dim})"
    return None


def load_table(folder: Path, meta: dict[str, Any]) -> RowIndex | str:
    """The index the files named by ``meta`` hold, or why they cannot be used (missing
    index, checksum mismatch, counts that disagree with ``meta``, truncated row file).

    Other damage (unreadable files, a meta without a field) raises.
    """
    files = meta["files"]
    if files.get("index") is None:  # nothing was indexable when it was written
        return "no index on disk"
    dim = int(meta["dim"])
    index_path = folder / files["index"]
    rows_path = folder / files["rows"]
    data = np.fromfile(index_path, dtype=np.uint8)
    if digest(data) != meta["digests"]["index"]:
        return f"corrupt index file {index_path.name} (checksum mismatch)"
    if digest(rows_path.read_bytes()) != meta["digests"]["rows"]:
        return f"corrupt index file {rows_path.name} (checksum mismatch)"
    index = faiss.deserialize_index(data)
    del data
    with np.load(rows_path, allow_pickle=False) as npz:
        row_ids = [b.decode("utf-8") for b in npz["ids"].tolist()]
        sums = npz["sums"].astype(np.uint64)
    n_rows = int(meta["rows"])
    kind = meta["kind"]
    n_live = sum(1 for t in row_ids if t)
    if len(row_ids) != n_rows or len(sums) != n_rows or n_live != int(meta["n"]):
        return "index id table does not match meta.json"
    if index.ntotal != (n_rows if kind == "hnsw" else n_live) or index.d != dim:
        return "index file does not match meta.json"
    rows = None
    if kind == "ivfpq":
        vpath = folder / files["vectors"]
        if vpath.stat().st_size < n_rows * dim * 4:
            return f"vector file {vpath.name} is truncated"
        rows = RowFile(dim, map_rows(vpath, n_rows, dim), vpath)
    return RowIndex(kind, dim, index, row_ids, sums, rows, int(meta.get("ntrain", 0)))


# -- writing -----------------------------------------------------------------------------


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Replace ``meta.json`` atomically (the commit point of a write)."""
    atomic_write(folder / META_FILE, _bytes_writer(json.dumps(meta, indent=2).encode("utf-8")))


def write_generation(
    folder: Path, table: RowIndex, gen: int, on_disk: dict[str, Any] | None
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Write generation ``gen`` of ``table`` (not yet committed: see :func:`write_meta`).

    ``on_disk`` is the current ``meta.json`` of the same model version (None: none), so
    an IVF-PQ row file it names can be appended to. Afterwards ``table.rows`` maps the
    written row file.

    Returns
    -------
    files : dict
        ``{"index", "rows"[, "vectors"]}`` file names (None: nothing to index).
    digests : dict
        Digests of the index and rows files.
    """
    files: dict[str, str | None] = {"index": None, "rows": None}
    digests: dict[str, str] = {}
    if table.index is None:
        return files, digests
    files = {"index": f"index.{gen}.faiss", "rows": f"rows.{gen}.npz"}
    data = faiss.serialize_index(table.index)
    digests["index"] = digest(data)
    atomic_write(folder / files["index"], _bytes_writer(data.data))
    del data  # the serialised index can be large: free it before the next file
    width = max([len(t.encode("utf-8")) for t in table.row_ids] + [1])
    ids_arr = np.array([t.encode("utf-8") for t in table.row_ids], dtype=f"S{width}")
    buf = io.BytesIO()
    np.savez(buf, ids=ids_arr, sums=table.row_sums)
    rows_bytes = buf.getvalue()
    digests["rows"] = digest(rows_bytes)
    atomic_write(folder / files["rows"], _bytes_writer(rows_bytes))
    if table.kind == "ivfpq":
        assert table.rows is not None
        path = write_row_file(folder, table.rows, table.dim, on_disk, gen)
        table.rows = RowFile(table.dim, map_rows(path, table.rows.n, table.dim), path)
        files["vectors"] = path.name
    return files, digests


def write_row_file(
    folder: Path, rows: RowFile, dim: int, on_disk: dict[str, Any] | None, gen: int
) -> Path:
    """Write the IVF-PQ row file: append to the current one when it is the one on disk
    (rows never change once written), else write ``vectors.<gen>.f32`` anew. Returns the
    path written."""
    n_base = len(rows.base)
    if (
        rows.path is not None
        and on_disk is not None
        and on_disk.get("files", {}).get("vectors") == rows.path.name
        and int(on_disk.get("rows", -1)) == n_base
    ):
        with rows.path.open("r+b") as fh:
            fh.truncate(n_base * dim * 4)  # drop a crashed writer's tail
            fh.seek(0, os.SEEK_END)
            for block in rows.extra:
                fh.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        path = rows.path
    else:
        path = folder / f"vectors.{gen}.f32"

        def write_all(fh: IO[bytes]) -> None:
            for s in range(0, n_base, 65536):
                fh.write(np.ascontiguousarray(rows.base[s : s + 65536], "<f4").tobytes())
            for block in rows.extra:
                fh.write(np.ascontiguousarray(block, dtype="<f4").tobytes())

        atomic_write(path, write_all)
    return path


def remove_other_generations(folder: Path, keep: set[str]) -> None:
    """Delete older generations' files and a crashed writer's leftovers (names not in
    ``keep``); the lock and ``meta.json`` always stay."""
    keep = keep | {META_FILE, LOCK_FILE}
    for path in folder.iterdir():
        if path.name not in keep and path.name.startswith(("index.", "rows.", "vectors.", ".")):
            try:
                path.unlink()
            except OSError as err:  # harmless: the next write tries again
                log.warning("cannot delete the old index file %s: %s", path, err)


# -- one model's folder ------------------------------------------------------------------


@dataclass
class LoadedIndex:
    """An index read from disk, with what its ``meta.json`` says about it."""

    table: RowIndex
    params: IndexParams  # as stored
    catalog_version: int
    generation: int


class IndexFolder:
    """One model's index folder: loading it, and writing to it when allowed and possible.

    Parameters
    ----------
    path : Path
        The folder (:func:`index_dir`).
    model, version : str
        The model and model version whose vectors are indexed.
    persist : bool
        Whether writing is wanted at all (False: :meth:`save` never writes).

    Attributes
    ----------
    writable : bool
        False once the folder proved unwritable (a read-only library).
    generation : int
        The generation on disk as this process last read or wrote it (-1: none).
    """

    def __init__(self, path: Path, model: str, version: str, persist: bool):
        self.path = path
        self.model = model
        self.version = version
        self.persist = persist
        self.writable = True
        self.generation = -1
        self._next_try = 0.0

    def load(self, expected_dim: int | None, params: IndexParams | None) -> LoadedIndex | str:
        """The persisted index, or why it cannot be used.

        ``params`` are the caller's explicit parameters (None: any stored ones do); an
        index stored with other structural parameters cannot be used. Damaged files that
        are not caught by a check raise (the caller rebuilds).
        """
        with lock_folder(self.path, exclusive=False) as locked:
            if locked is None:
                return "index folder is busy (another process is writing it)"
            meta = read_meta(self.path)
            if meta is None:
                return "no index on disk"
            reason = meta_mismatch(meta, self.model, self.version, expected_dim)
            if reason is not None:
                return reason
            stored = IndexParams.from_json(meta["params"])
            if params is not None:
                changed = [
                    f for f in ("kind", *IndexParams.STRUCTURAL)
                    if getattr(stored, f) != getattr(params, f)
                ]  # fmt: skip
                if changed:
                    return f"index parameters changed ({', '.join(changed)})"
            table = load_table(self.path, meta)
            if isinstance(table, str):
                return table
            self.generation = int(meta["generation"])
            return LoadedIndex(table, stored, int(meta["catalog_version"]), self.generation)

    def save(
        self,
        table: RowIndex,
        params: IndexParams,
        catalog_version: int,
        generation: int,
        now: bool = False,
    ) -> int | None:
        """Write ``table`` (synced with ``catalog_version``, in-memory ``generation``)
        when allowed and possible.

        After a failed attempt the next one waits 5 s unless ``now``.

        Returns
        -------
        int or None
            The generation now on disk, or None when nothing was written (not wanted,
            read-only, busy, or a newer state already on disk).
        """
        if not self.persist or not self.writable:
            return None
        if not now and time.monotonic() < self._next_try:
            return None
        written = None
        try:
            with lock_folder(self.path, exclusive=True) as locked:
                if locked:
                    written = self._write(table, params, catalog_version, generation)
                elif not self.path.is_dir() or not os.access(self.path, os.W_OK):
                    log.info("%s is read-only: the %s index stays in memory", self.path, self.model)
                    self.writable = False
                else:
                    log.info("%s is busy (another writer): the %s index is written later",
                             self.path, self.model)  # fmt: skip
        except OSError as err:
            log.warning("cannot write the %s index (%s); keeping it in memory", self.model, err)
        if written is None:  # busy, or a newer state on disk: retry at a sync after 5 s
            self._next_try = time.monotonic() + 5.0
        return written

    def _write(
        self, table: RowIndex, params: IndexParams, catalog_version: int, generation: int
    ) -> int | None:
        """Write the index unless a newer state is on disk (call with the folder locked)."""
        d = self.path
        try:
            on_disk = read_meta(d)
        except ValueError as err:
            log.warning("replacing the unreadable %s index metadata: %s", self.model, err)
            on_disk = None
        same = on_disk is not None and on_disk.get("model_version") == self.version
        if same and int(on_disk.get("catalog_version", -1)) > catalog_version:
            return None  # another process already wrote a newer state
        if same and int(on_disk.get("generation", -1)) == generation == self.generation:
            # Same rows as on disk (an unrelated catalog change): only the version moves.
            write_meta(
                d, {**on_disk, "catalog_version": catalog_version, "written_at": time.time()}
            )
            return generation
        gen = max(generation, int(on_disk.get("generation", 0)) + 1 if same else 0)
        files, digests = write_generation(d, table, gen, on_disk if same else None)
        meta = {
            "format": FORMAT_VERSION,
            "model": self.model,
            "model_version": self.version,
            "kind": table.kind,
            "params": params.to_json(),
            "dim": table.dim,
            "n": table.n,
            "rows": len(table.row_ids),
            "removed": table.removed,
            "catalog_version": catalog_version,
            "generation": gen,
            "ntrain": table.ntrain,
            "files": files,
            "digests": digests,
            "written_at": time.time(),
            "faiss_version": faiss.__version__,
        }
        write_meta(d, meta)
        fsync_dir(d)
        self.generation = gen
        remove_other_generations(d, {f for f in files.values() if f})
        return gen
