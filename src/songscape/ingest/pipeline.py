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

Workers are separate processes (``spawn``, :mod:`~songscape.ingest.workers`); only
the parent writes to SQLite. The phases live in :mod:`~songscape.ingest.reconcile`
(phase 2), :mod:`~songscape.ingest.work` (what a worker runs) and
:mod:`~songscape.ingest.save` (committing a track); this module ties them together.
Bad files never stop a batch: each is recorded with status ``failed`` and a reason,
and a worker that crashes (e.g. a decoder segfault) is replaced and its file
retried once, in isolation, before being recorded as failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from songscape.catalog import tracks
from songscape.catalog.schema import STATUS_OK
from songscape.catalog.store import LibraryStore
from songscape.config import DEFAULT_MAX_DURATION_S
from songscape.ingest.model_stages import DEFAULT_TAG_MODELS, model_stage_names
from songscape.ingest.reconcile import reconcile, row_stat, under
from songscape.ingest.report import IngestReport, NoProgress, Progress
from songscape.ingest.save import save_result
from songscape.ingest.scan import FileStat, scan_audio_files, stat_file
from songscape.ingest.stages import pipeline_stages, stale_stages, without_model_stages
from songscape.ingest.work import (
    ItemRunner,
    WorkItem,
    WorkResult,
    crash_result,
    hash_file,
    run_item,
)
from songscape.ingest.workers import WorkerPool, single_threaded_env

if TYPE_CHECKING:
    from songscape.ingest.ray_engine import RayPool

__all__ = [
    "IngestOptions",
    "IngestReport",
    "Progress",
    "WorkItem",
    "WorkResult",
    "WorkerPool",
    "ingest",
    "run_item",
]


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
        Models whose embeddings to store; None: the library's default model; ``()``:
        none. Embeddings of other models already in the library are kept.
    tag_models : tuple of str
        Models whose tags to store (default: MSD and MTT musicnn, the combined set).
    extra_stages : tuple of str
        Opt-in stages to run as well (e.g. ``vocals:crepe-tiny``, issue 14).
    """

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    min_duration_s: float = 1.0
    embed_models: tuple[str, ...] | None = None
    tag_models: tuple[str, ...] = DEFAULT_TAG_MODELS
    extra_stages: tuple[str, ...] = ()
    #: ``"local"`` (worker processes) or ``"ray"`` (the analysis on Ray actors,
    #: :mod:`~songscape.ingest.ray_engine`; fingerprints and writes stay here).
    engine: str = "local"
    #: Ray cluster to join with ``engine="ray"`` (None: a private local Ray).
    ray_address: str | None = None


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
        ``interrupted`` is true when the run was stopped by Ctrl-C (KeyboardInterrupt);
        what was committed until then stays.

    Raises
    ------
    FileNotFoundError
        If a root does not exist.
    LibraryError
        If another process holds the library's writer lock.
    """
    options = options or IngestOptions()
    progress = progress or NoProgress()
    started = time.perf_counter()
    report = IngestReport()
    root_paths = [Path(r).expanduser().resolve() for r in roots]
    for root in root_paths:
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {root}")

    store.acquire_write_lock()
    executor = WorkerPool(options.workers)
    analyser = executor
    if options.engine == "ray":
        from songscape.ingest.ray_engine import RayPool

        analyser = RayPool(options.workers, options.ray_address)
    elif options.engine != "local":
        raise ValueError(f"engine must be 'local' or 'ray', not {options.engine!r}")
    try:
        # Spawned workers inherit one-thread settings before they import numpy.
        with single_threaded_env(executor.workers > 1), closing(executor), closing(analyser):
            _run(store, root_paths, options, progress, executor, report, analyser)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
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
    analyser: WorkerPool | RayPool | None = None,
) -> None:
    conn = store.conn
    # -- phase 1: scan -------------------------------------------------------------
    files: dict[str, FileStat | None] = {}
    for root in roots:
        for path in scan_audio_files(root):
            files[str(path)] = stat_file(path)

    live = tracks.live_tracks_by_path(conn)
    dups = tracks.duplicates_by_path(conn)
    to_hash: list[str] = []
    for path, stat in files.items():
        row = live.get(path)
        if row is not None and row["status"] == STATUS_OK and stat == row_stat(row):
            report.unchanged += 1
        elif path in dups and stat == row_stat(dups[path]):
            report.duplicates += 1
        else:
            to_hash.append(path)

    # -- phase 2: fingerprint and reconcile ------------------------------------------
    hashed: dict[str, str | None] = {}
    hash_errors: dict[str, str] = {}
    progress.phase("fingerprint", len(to_hash))
    for _, (path, digest, error) in executor.map_unordered(hash_file, to_hash):
        hashed[path] = digest
        if error:
            hash_errors[path] = error
        progress.advance()

    work, pending_dups = reconcile(store, files, hashed, live, roots, report)

    # -- phase 3: analyse ------------------------------------------------------------
    embed_models = (
        options.embed_models if options.embed_models is not None else (store.default_model(),)
    )
    stages = pipeline_stages(model_stage_names(tuple(embed_models), tuple(options.tag_models))
                             + list(options.extra_stages))
    if not embed_models and not options.tag_models:
        stages = without_model_stages(stages)
    all_stages = [s.name for s in stages]
    for item in work:
        item.stages = all_stages
    work_paths = {item.path for item in work}
    recorded = store.stage_versions()
    for row in tracks.healthy_tracks(conn):
        if row["path"] in work_paths or not under(row["path"], roots):
            continue
        stale = stale_stages(recorded.get(row["id"], {}), stages)
        if stale:
            work.append(
                WorkItem(
                    row["path"], row["id"], row["content_hash"], row_stat(row), stale, "restage"
                )
            )

    # Files that cannot even be read fail right away, without a worker.
    readable = []
    for item in work:
        if item.path in hash_errors:
            failure = WorkResult(item, ok=False, error=hash_errors[item.path])
            save_result(store, failure, report, pending_dups)
        else:
            readable.append(item)

    progress.phase("analyse", len(readable))
    run = ItemRunner(options.max_duration_s, options.min_duration_s)
    for _, result in (analyser or executor).map_unordered(run, readable, on_crash=crash_result):
        save_result(store, result, report, pending_dups)
        progress.advance()
