"""The writer side of an ingest: commit one track's outcome in one transaction.

Only the parent process writes to the catalog. Each track is committed as soon as
its worker returns, so a killed run loses at most the tracks in flight.
"""

from __future__ import annotations

import time

from songscape.catalog import analysis, tracks
from songscape.catalog.schema import STATUS_FAILED, STATUS_OK
from songscape.catalog.store import LibraryStore
from songscape.ingest.reconcile import PendingDuplicates, put_duplicate
from songscape.ingest.report import IngestReport
from songscape.ingest.scan import path_id
from songscape.ingest.stages import get_stage
from songscape.ingest.work import WorkResult


def save_result(
    store: LibraryStore,
    result: WorkResult,
    report: IngestReport,
    pending_dups: PendingDuplicates,
) -> None:
    """Commit one track's outcome (row, stage payloads, stage runs, duplicates) and count it.

    A new or updated file replaces the track's row and derived data; a restaged
    track keeps them and gets only its re-run stages. Copies of the track waiting
    in ``pending_dups`` are recorded once it is saved healthy.
    """
    item = result.item
    conn = store.conn
    now = time.time()
    stat = item.stat
    report.audio_seconds += result.audio_seconds
    with store.transaction():
        exists = tracks.track_exists(conn, item.track_id)
        if item.kind != "restage" or not exists:
            # Only healthy tracks carry a content hash: it is what moves and duplicates
            # are matched on, and a broken file's bytes identify nothing useful.
            tracks.upsert_track(
                conn,
                item.track_id,
                content_hash=item.content_hash if result.ok else None,
                path=item.path,
                size_bytes=stat.size_bytes if stat else None,
                mtime=stat.mtime if stat else None,
                status=STATUS_OK if result.ok else STATUS_FAILED,
                error=result.error,
                now=now,
            )
            if item.kind != "restage":
                analysis.clear_track_data(conn, item.track_id)
        elif not result.ok:
            tracks.mark_failed(conn, item.track_id, result.error, now)
        for name, payload in result.payloads.items():
            stage = get_stage(name)
            stage.save(conn, item.track_id, payload)
            analysis.record_stage_run(conn, item.track_id, name, stage.version, "done", None, now)
        if not result.ok and result.failed_stage:
            analysis.record_stage_run(
                conn,
                item.track_id,
                result.failed_stage,
                get_stage(result.failed_stage).version,
                "failed",
                result.error,
                now,
            )
        copies = pending_dups.pop(item.track_id, [])
        if result.ok:
            for path, dup_stat in copies:
                put_duplicate(conn, path, item.track_id, dup_stat)
        else:  # a copy of a broken file is a broken file: failed at its own path
            for path, dup_stat in copies:
                tracks.delete_duplicate(conn, path)
                here = tracks.track_by_path(conn, path)
                tracks.upsert_track(
                    conn,
                    here["id"] if here is not None and here["status"] != "missing"
                    else path_id(path),
                    content_hash=None,
                    path=path,
                    size_bytes=dup_stat.size_bytes if dup_stat else None,
                    mtime=dup_stat.mtime if dup_stat else None,
                    status=STATUS_FAILED,
                    error=result.error,
                    now=now,
                )  # fmt: skip
        store.bump_catalog_version(conn)
    if not result.ok:
        report.failed += 1 + len(copies)
        report.duplicates -= len(copies)
        report.failures.append({"path": item.path, "error": result.error})
        report.failures.extend({"path": path, "error": result.error} for path, _ in copies)
    elif item.kind == "new":
        report.added += 1
    elif item.kind == "update":
        report.updated += 1
    else:
        report.restaged += 1
