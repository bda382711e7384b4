"""Ingestion: scan folders, fingerprint files, reconcile with the catalog, run stages.

The run has three phases:

1. **scan**: list audio files under the given roots; a file whose path, size and
   mtime match a live catalog row is unchanged and is not read at all.
2. **fingerprint** (parallel): hash the bytes of every other file, then reconcile
   in one transaction: a known hash at a new path is a *move* (the track keeps its
   id and data), a known hash whose old file still exists is a *duplicate*, an
   unknown hash is a new track or, at a path the catalog knows, an *update*.
   Tracks under the roots whose file is gone become ``missing`` (they keep their
   data and come back if their content reappears anywhere).
3. **analyse** (parallel): run the registered stages for new and updated files, and
   only the stale stages (new stage, bumped version, earlier failure) for the rest.
   Each track is committed in its own transaction as soon as its worker returns,
   so a killed run loses at most the tracks in flight and a re-run finishes them.

Workers are separate processes (``spawn``); only the parent writes to SQLite.
Bad files never stop a batch: each is recorded with status ``failed`` and a reason,
and a worker that crashes (e.g. a decoder segfault) is replaced and its file
retried once, in isolation, before being recorded as failed.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from songscape.audio.decode import AudioError
from songscape.catalog.store import STATUS_FAILED, STATUS_MISSING, STATUS_OK, LibraryStore
from songscape.config import DEFAULT_MAX_DURATION_S
from songscape.ingest.model_stages import DEFAULT_TAG_MODELS, model_stage_names
from songscape.ingest.scan import (
    FileStat,
    content_hash,
    path_id,
    scan_audio_files,
    stat_file,
)
from songscape.ingest.stages import TrackContext, get_stage, pipeline_stages, stale_stages

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class Progress(Protocol):
    """Receives progress; the CLI draws it as a bar with ETA."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _NoProgress:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class IngestOptions:
    """Knobs of an ingest run.

    Attributes
    ----------
    workers : int
        Worker processes (1 runs everything in this process).
    max_duration_s : float or None
        Files longer than this (seconds) are recorded as failed without decoding.
    min_duration_s : float
        Files shorter than this (seconds) are recorded as failed.
    embed_models : tuple of str or None
        Models whose embeddings to store; None: the library's default model.
        Embeddings of other models already in the library are kept.
    tag_models : tuple of str
        Models whose tags to store (default: MSD and MTT musicnn, the combined set).
    """

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    min_duration_s: float = 1.0
    embed_models: tuple[str, ...] | None = None
    tag_models: tuple[str, ...] = DEFAULT_TAG_MODELS


@dataclass
class IngestReport:
    """What an ingest run did. Counts are of files (or tracks, for ``missing``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    duplicates: int = 0
    failed: int = 0
    missing: int = 0
    restaged: int = 0  # unchanged tracks whose stale stages were re-run
    failures: list[dict] = field(default_factory=list)  # {"path", "error"}
    audio_seconds: float = 0.0  # audio decoded and analysed in this run
    elapsed_s: float = 0.0
    interrupted: bool = False

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "moved": self.moved,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "missing": self.missing,
            "restaged": self.restaged,
            "failures": self.failures,
            "audio_seconds": round(self.audio_seconds, 2),
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
        }


# -- worker side --------------------------------------------------------------------


@dataclass
class WorkItem:
    path: str
    track_id: str
    content_hash: str | None
    stat: FileStat | None
    stages: list[str]
    kind: str  # "new", "update" or "restage"
    attempts: int = 0


@dataclass
class WorkResult:
    item: WorkItem
    ok: bool
    payloads: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    audio_seconds: float = 0.0


def _init_worker() -> None:
    # One BLAS/numba thread per worker: parallelism comes from the processes.
    for name in _THREAD_ENV:
        os.environ[name] = "1"
    # Compile/load librosa's numba kernels one process at a time (see analysis.warmup).
    from songscape.ingest.warmup import warm_up

    warm_up()


def _hash_file(path: str) -> tuple[str, str | None, str | None]:
    try:
        return path, content_hash(path), None
    except OSError as err:
        return path, None, _os_error_text(err)


def _os_error_text(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, FileNotFoundError):
        return "file not found"
    return err.strerror or str(err)


def run_item(item: WorkItem, max_duration_s: float | None, min_duration_s: float) -> WorkResult:
    ctx = TrackContext(
        Path(item.path), max_duration_s=max_duration_s, min_duration_s=min_duration_s
    )
    result = WorkResult(item=item, ok=True)
    current = None
    try:
        for name in item.stages:
            current = name
            result.payloads[name] = get_stage(name).run(ctx)
    except AudioError as err:
        result.ok, result.error, result.failed_stage = False, str(err), current
    except MemoryError:
        result.ok, result.failed_stage = False, current
        result.error = "out of memory while analysing (try --max-duration or fewer --workers)"
    except Exception as err:  # a stage bug must not stop the batch; keep the reason
        result.ok, result.failed_stage = False, current
        result.error = f"{current} failed: {type(err).__name__}: {err}"
    result.audio_seconds = ctx.audio_seconds_decoded
    return result


# -- writer side --------------------------------------------------------------------


class WorkerPool:
    """Runs tasks in a process pool (or inline for one worker) with bounded in-flight work."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    def map_unordered(
        self, fn: Callable, items: Iterable, on_crash: Callable[[Any], Any] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item))`` as results arrive.

        If a worker process dies, the pool is rebuilt and the items that were in
        flight are retried one at a time; an item in flight during a second crash
        yields ``on_crash(item)`` instead of a result.
        """
        items = list(items)
        if self.workers == 1:
            for item in items:
                yield item, fn(item)
            return
        pending = list(reversed(items))
        isolate: list[Any] = []  # items retried alone after a crash
        max_in_flight = 2 * self.workers
        while pending or isolate:
            self._pool = self._pool or self._new_pool()
            in_flight: dict[Future, Any] = {}
            try:
                while pending or isolate or in_flight:
                    limit = 1 if isolate else max_in_flight
                    while len(in_flight) < limit and (isolate or pending):
                        item = isolate.pop() if isolate else pending.pop()
                        in_flight[self._pool.submit(fn, item)] = item
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # raises BrokenProcessPool if a worker died
                        yield in_flight.pop(fut), result
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                suspects = list(in_flight.values())
                if len(suspects) == 1:  # alone in flight: this item killed the worker
                    if on_crash is None:
                        raise
                    yield suspects[0], on_crash(suspects[0])
                else:
                    isolate.extend(suspects)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _crash_result(item: WorkItem) -> WorkResult:
    return WorkResult(
        item=item, ok=False, error="the decoder crashed on this file (worker process died)"
    )


def _holds(path: str, expected_hash: str, row: sqlite3.Row, hashed: dict[str, str | None]) -> bool:
    """Does ``path`` currently hold content ``expected_hash``?"""
    if path in hashed:
        return hashed[path] == expected_hash
    stat = stat_file(path)
    return stat is not None and stat == FileStat(row["size_bytes"], row["mtime"])


def _under(path: str, roots: list[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def ingest(
    store: LibraryStore,
    roots: Iterable[str | os.PathLike],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the library up to date with the audio files under ``roots``.

    Parameters
    ----------
    store : LibraryStore
        The library (opened writable); its writer lock is taken for the run.
    roots : iterable of path-like
        Folders (searched recursively) and/or single files.
    options : IngestOptions
    progress : Progress
        Receives ``phase(name, total)`` and ``advance()`` calls.

    Returns
    -------
    IngestReport
    """
    options = options or IngestOptions()
    progress = progress or _NoProgress()
    started = time.perf_counter()
    report = IngestReport()
    root_paths = [Path(r).expanduser().resolve() for r in roots]
    for root in root_paths:
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {root}")

    store.acquire_write_lock()
    executor = WorkerPool(options.workers)
    saved_env = {k: os.environ.get(k) for k in _THREAD_ENV}
    if executor.workers > 1:
        for name in _THREAD_ENV:  # inherited by spawned workers before they import numpy
            os.environ[name] = "1"
    try:
        _run(store, root_paths, options, progress, executor, report)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        executor.close()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        store.release_write_lock()
        report.elapsed_s = time.perf_counter() - started
    return report


def _run(
    store: LibraryStore,
    roots: list[Path],
    options: IngestOptions,
    progress: Progress,
    executor: WorkerPool,
    report: IngestReport,
) -> None:
    conn = store.conn
    # -- phase 1: scan -------------------------------------------------------------
    files: dict[str, FileStat | None] = {}
    for root in roots:
        for path in scan_audio_files(root):
            files[str(path)] = stat_file(path)

    live = {r["path"]: r for r in conn.execute("SELECT * FROM tracks WHERE status != 'missing'")}
    dups = {r["path"]: r for r in conn.execute("SELECT * FROM duplicates")}
    to_hash: list[str] = []
    for path, stat in files.items():
        row = live.get(path)
        if row is not None and row["status"] == STATUS_OK and stat == _row_stat(row):
            report.unchanged += 1
        elif path in dups and stat == _row_stat(dups[path]):
            report.duplicates += 1
        else:
            to_hash.append(path)

    # -- phase 2: fingerprint and reconcile ------------------------------------------
    hashed: dict[str, str | None] = {}
    hash_errors: dict[str, str] = {}
    progress.phase("fingerprint", len(to_hash))
    for _, (path, digest, error) in executor.map_unordered(_hash_file, to_hash):
        hashed[path] = digest
        if error:
            hash_errors[path] = error
        progress.advance()

    work, pending_dups = _reconcile(store, files, hashed, live, roots, report)

    # -- phase 3: analyse ------------------------------------------------------------
    embed_models = options.embed_models or (store.default_model(),)
    stages = pipeline_stages(model_stage_names(tuple(embed_models), tuple(options.tag_models)))
    all_stages = [s.name for s in stages]
    for item in work:
        item.stages = all_stages
    work_paths = {item.path for item in work}
    recorded = store.stage_versions()
    for row in conn.execute(
        "SELECT id, path, content_hash, size_bytes, mtime FROM tracks WHERE status = 'ok'"
    ):
        if row["path"] in work_paths or not _under(row["path"], roots):
            continue
        stale = stale_stages(recorded.get(row["id"], {}), stages)
        if stale:
            work.append(
                WorkItem(
                    row["path"], row["id"], row["content_hash"], _row_stat(row), stale, "restage"
                )
            )

    # Files that cannot even be read fail right away, without a worker.
    readable = []
    for item in work:
        if item.path in hash_errors:
            failure = WorkResult(item, ok=False, error=hash_errors[item.path])
            _save_result(store, failure, report, pending_dups)
        else:
            readable.append(item)

    progress.phase("analyse", len(readable))
    run = _ItemRunner(options.max_duration_s, options.min_duration_s)
    for _, result in executor.map_unordered(run, readable, on_crash=_crash_result):
        _save_result(store, result, report, pending_dups)
        progress.advance()


class _ItemRunner:
    """Picklable callable carrying the options to the workers."""

    def __init__(self, max_duration_s: float | None, min_duration_s: float):
        self.max_duration_s = max_duration_s
        self.min_duration_s = min_duration_s

    def __call__(self, item: WorkItem) -> WorkResult:
        return run_item(item, self.max_duration_s, self.min_duration_s)


def _row_stat(row: sqlite3.Row) -> FileStat | None:
    if row["size_bytes"] is None or row["mtime"] is None:
        return None
    return FileStat(row["size_bytes"], row["mtime"])


def _reconcile(
    store: LibraryStore,
    files: dict[str, FileStat | None],
    hashed: dict[str, str | None],
    live: dict[str, sqlite3.Row],
    roots: list[Path],
    report: IngestReport,
) -> tuple[list[WorkItem], dict[str, list[tuple[str, FileStat | None]]]]:
    """Match fingerprinted files to catalog tracks and apply moves.

    Returns the analysis work and, per track id added in this run, the copies of it
    to record as duplicates once it is saved.
    """
    conn = store.conn
    by_hash = {
        r["content_hash"]: r
        for r in conn.execute("SELECT * FROM tracks WHERE content_hash IS NOT NULL")
    }
    moves: dict[str, str] = {}  # track id -> new path
    touches: list[tuple[str, FileStat | None]] = []  # same content, new stat
    new_dups: list[tuple[str, str, FileStat | None]] = []  # path, track id, stat
    work: list[WorkItem] = []
    claimed: dict[str, str] = {}  # hash -> path chosen for it in this run

    for path in sorted(hashed):
        digest = hashed[path]
        stat = files.get(path)
        row_here = live.get(path)
        if digest is None:  # unreadable: recorded as failed in the analyse phase
            track_id = row_here["id"] if row_here else path_id(path)
            work.append(WorkItem(path, track_id, None, stat, [], "update" if row_here else "new"))
            continue
        known = by_hash.get(digest)
        if known is not None:
            if known["path"] == path and known["status"] != STATUS_MISSING:
                touches.append((known["id"], stat))
                report.unchanged += 1
            elif known["id"] in moves or (
                known["status"] != STATUS_MISSING and _holds(known["path"], digest, known, hashed)
            ):
                new_dups.append((path, known["id"], stat))
                report.duplicates += 1
            else:
                moves[known["id"]] = path
                report.moved += 1
            continue
        if digest in claimed:  # the same new content twice in this run
            new_dups.append((path, _new_track_id(conn, digest), stat))
            report.duplicates += 1
            continue
        claimed[digest] = path
        if row_here is not None and _content_elsewhere(row_here, hashed):
            # The track that was here moved elsewhere and new content took its place.
            row_here = None
        if row_here is not None:
            work.append(WorkItem(path, row_here["id"], digest, stat, [], "update"))
        else:
            work.append(WorkItem(path, _new_track_id(conn, digest), digest, stat, [], "new"))

    now = time.time()
    with store.transaction():
        # Moves first: park every affected track as missing (exempt from the one-live-
        # track-per-path rule), then give each its new path.
        displaced = {
            live[p]["id"]: live[p]["status"]
            for p in moves.values()
            if p in live and live[p]["id"] not in moves
        }
        for track_id, status in displaced.items():
            if status == STATUS_FAILED:  # a broken file was replaced by a known track's
                conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
        displaced = {k for k, v in displaced.items() if v != STATUS_FAILED}
        for track_id in list(moves) + list(displaced):
            conn.execute("UPDATE tracks SET status = 'missing' WHERE id = ?", (track_id,))
        for track_id, path in moves.items():
            stat = files.get(path)
            conn.execute(
                "UPDATE tracks SET path = ?, size_bytes = ?, mtime = ?, status = 'ok', "
                "error = NULL, updated_at = ? WHERE id = ?",
                (
                    path,
                    stat.size_bytes if stat else None,
                    stat.mtime if stat else None,
                    now,
                    track_id,
                ),
            )
        for track_id, stat in touches:
            conn.execute(
                "UPDATE tracks SET size_bytes = ?, mtime = ?, updated_at = ? WHERE id = ?",
                (stat.size_bytes if stat else None, stat.mtime if stat else None, now, track_id),
            )
        # Tracks under the roots whose file is gone (and did not move) are missing;
        # failed rows and duplicate records of vanished files are simply dropped.
        for row in conn.execute("SELECT id, path, status FROM tracks").fetchall():
            if row["id"] in moves or not _under(row["path"], roots):
                continue
            gone = row["path"] not in files
            if row["id"] in displaced or (gone and row["status"] == STATUS_OK):
                conn.execute(
                    "UPDATE tracks SET status = 'missing', updated_at = ? WHERE id = ?",
                    (now, row["id"]),
                )
                report.missing += 1
            elif gone and row["status"] == STATUS_FAILED:
                conn.execute("DELETE FROM tracks WHERE id = ?", (row["id"],))
        for (path,) in conn.execute("SELECT path FROM duplicates").fetchall():
            if _under(path, roots) and path not in files:
                conn.execute("DELETE FROM duplicates WHERE path = ?", (path,))
        pending: dict[str, list[tuple[str, FileStat | None]]] = {}
        for path, track_id, stat in new_dups:
            if _track_exists(conn, track_id):
                _put_duplicate(conn, path, track_id, stat)
            else:  # a copy of a track added in this run: recorded once that track exists
                pending.setdefault(track_id, []).append((path, stat))
        if moves or report.missing:
            store.bump_catalog_version(conn)
    return work, pending


def _content_elsewhere(row: sqlite3.Row, hashed: dict[str, str | None]) -> bool:
    """Is the content this row had now found at another fingerprinted path?"""
    return any(h == row["content_hash"] and p != row["path"] for p, h in hashed.items())


def _track_exists(conn: sqlite3.Connection, track_id: str) -> bool:
    return conn.execute("SELECT 1 FROM tracks WHERE id = ?", (track_id,)).fetchone() is not None


def _put_duplicate(
    conn: sqlite3.Connection, path: str, track_id: str, stat: FileStat | None
) -> None:
    conn.execute(
        "INSERT INTO duplicates(path, track_id, size_bytes, mtime) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET track_id = excluded.track_id, "
        "size_bytes = excluded.size_bytes, mtime = excluded.mtime",
        (path, track_id, stat.size_bytes if stat else 0, stat.mtime if stat else 0.0),
    )


def _new_track_id(conn: sqlite3.Connection, digest: str) -> str:
    """The first 16 hex digits of the content hash, longer in the (rare) event of a clash."""
    for n in range(16, len(digest) + 1, 4):
        candidate = digest[:n]
        row = conn.execute("SELECT content_hash FROM tracks WHERE id = ?", (candidate,)).fetchone()
        if row is None or row["content_hash"] == digest:
            return candidate
    return digest


def _record_stage_run(
    conn: sqlite3.Connection, track_id: str, stage: str, status: str, error: str | None, now: float
) -> None:
    conn.execute(
        "INSERT INTO stage_runs(track_id, stage, version, status, error, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(track_id, stage) DO UPDATE SET "
        "version = excluded.version, status = excluded.status, error = excluded.error, "
        "updated_at = excluded.updated_at",
        (track_id, stage, get_stage(stage).version, status, error, now),
    )


def _save_result(
    store: LibraryStore,
    result: WorkResult,
    report: IngestReport,
    pending_dups: dict[str, list[tuple[str, FileStat | None]]],
) -> None:
    """Commit one track's outcome in a single transaction."""
    item = result.item
    conn = store.conn
    now = time.time()
    stat = item.stat
    report.audio_seconds += result.audio_seconds
    with store.transaction():
        exists = _track_exists(conn, item.track_id)
        if item.kind != "restage" or not exists:
            status = STATUS_OK if result.ok else STATUS_FAILED
            # Only healthy tracks carry a content hash: it is what moves and duplicates
            # are matched on, and a broken file's bytes identify nothing useful.
            digest = item.content_hash if result.ok else None
            conn.execute(
                "INSERT INTO tracks(id, content_hash, path, size_bytes, mtime, status, error, "
                "added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET content_hash = excluded.content_hash, "
                "path = excluded.path, size_bytes = excluded.size_bytes, "
                "mtime = excluded.mtime, status = excluded.status, error = excluded.error, "
                "updated_at = excluded.updated_at",
                (item.track_id, digest, item.path, stat.size_bytes if stat else None,
                 stat.mtime if stat else None, status, result.error, now, now),
            )  # fmt: skip
            if item.kind != "restage":
                LibraryStore.clear_track_data(conn, item.track_id)
        elif not result.ok:
            conn.execute(
                "UPDATE tracks SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                (result.error, now, item.track_id),
            )
        for name, payload in result.payloads.items():
            get_stage(name).save(conn, item.track_id, payload)
            _record_stage_run(conn, item.track_id, name, "done", None, now)
        if not result.ok and result.failed_stage:
            _record_stage_run(conn, item.track_id, result.failed_stage, "failed", result.error, now)
        if result.ok:
            for path, dup_stat in pending_dups.pop(item.track_id, []):
                _put_duplicate(conn, path, item.track_id, dup_stat)
        store.bump_catalog_version(conn)
    if not result.ok:
        report.failed += 1
        report.failures.append({"path": item.path, "error": result.error})
    elif item.kind == "new":
        report.added += 1
    elif item.kind == "update":
        report.updated += 1
    else:
        report.restaged += 1
