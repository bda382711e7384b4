"""Reconcile fingerprinted files with the catalog: new, updated, moved, duplicate, missing.

A known hash at a new path is a *move* (the track keeps its id and data), a known
hash whose old file still exists is a *duplicate*, an unknown hash is a new track
or, at a path the catalog knows, an *update*. Tracks under the roots whose file is
gone become ``missing``. The catalog changes are applied in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from songscape.catalog import tracks
from songscape.catalog.schema import STATUS_FAILED, STATUS_MISSING, STATUS_OK
from songscape.catalog.store import LibraryStore
from songscape.ingest.report import IngestReport
from songscape.ingest.scan import FileStat, path_id, stat_file
from songscape.ingest.work import WorkItem

#: Per track id added in this run, the copies of it (path, stat) to record as
#: duplicates once that track is saved.
PendingDuplicates = dict[str, list[tuple[str, FileStat | None]]]


def row_stat(row: sqlite3.Row) -> FileStat | None:
    """The size and mtime a catalog row recorded, or None if it has none."""
    if row["size_bytes"] is None or row["mtime"] is None:
        return None
    return FileStat(row["size_bytes"], row["mtime"])


def under(path: str, roots: list[Path]) -> bool:
    """Is ``path`` one of ``roots`` or inside one of them?"""
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def put_duplicate(
    conn: sqlite3.Connection, path: str, track_id: str, stat: FileStat | None
) -> None:
    """Record the copy at ``path`` of a track (size 0 and mtime 0 when it has no stat)."""
    tracks.put_duplicate(
        conn, path, track_id, stat.size_bytes if stat else 0, stat.mtime if stat else 0.0
    )


def _holds(path: str, expected_hash: str, row: sqlite3.Row, hashed: dict[str, str | None]) -> bool:
    """Does ``path`` currently hold content ``expected_hash``?"""
    if path in hashed:
        return hashed[path] == expected_hash
    stat = stat_file(path)
    return stat is not None and stat == FileStat(row["size_bytes"], row["mtime"])


def _content_elsewhere(row: sqlite3.Row, hashed: dict[str, str | None]) -> bool:
    """Is the content this row had now found at another fingerprinted path?"""
    if row["content_hash"] is None:
        # A failed track records no content, and an unreadable file has no hash:
        # None must not match None, or the track would be replaced by a new one
        # at its own path (issue 16: an empty file beside a dangling symlink).
        return False
    return any(h == row["content_hash"] and p != row["path"] for p, h in hashed.items())


def _unchanged_copy(
    conn: sqlite3.Connection,
    track_id: str,
    files: dict[str, FileStat | None],
    hashed: dict[str, str | None],
    live: dict[str, sqlite3.Row],
    taken: set[str],
) -> str | None:
    """The first recorded copy of a track that still holds its content, or None.

    A copy that was not fingerprinted in this run matched its recorded size and mtime
    in the scan, so it still holds the content it was recorded with.
    """
    for path in tracks.duplicate_paths(conn, track_id):
        if path in files and path not in hashed and path not in live and path not in taken:
            return path
    return None


def reconcile(
    store: LibraryStore,
    files: dict[str, FileStat | None],
    hashed: dict[str, str | None],
    live: dict[str, sqlite3.Row],
    roots: list[Path],
    report: IngestReport,
) -> tuple[list[WorkItem], PendingDuplicates]:
    """Match fingerprinted files to catalog tracks and apply moves.

    Parameters
    ----------
    store : LibraryStore
        Opened writable, its writer lock held.
    files : dict
        ``{path: stat}`` of every audio file found under ``roots``.
    hashed : dict
        ``{path: content hash}`` of the files that were fingerprinted (None: unreadable).
    live : dict
        ``{path: row}`` of the catalog's tracks that are not missing.
    roots : list of Path
        The folders and files of this run (resolved).
    report : IngestReport
        Counts of moves, duplicates, unchanged and missing are added to it.

    Returns
    -------
    work : list of WorkItem
        New and updated files to analyse (their ``stages`` still empty).
    pending : PendingDuplicates
        Copies of tracks added in this run, to record once the track is saved.
    """
    conn = store.conn
    by_hash = tracks.tracks_by_hash(conn)
    moves: dict[str, str] = {}  # track id -> new path
    touches: list[tuple[str, FileStat | None]] = []  # same content, new stat
    new_dups: list[tuple[str, str, FileStat | None]] = []  # path, track id, stat
    work: list[WorkItem] = []
    claimed: dict[str, str] = {}  # hash -> id of the work item analysing it in this run
    copies: list[tuple[str, str, FileStat | None]] = []  # path, that item's id, stat
    overwritten: list[str] = []  # tracks whose path now holds a copy of another track

    for path in sorted(hashed):
        digest = hashed[path]
        stat = files.get(path)
        row_here = live.get(path)
        if (
            row_here is not None
            and row_here["content_hash"] is not None
            and digest != row_here["content_hash"]
        ):
            # The track's file now holds other content (an edit in place, a broken file,
            # a copy of another track). Its content lives on where another path holds it:
            # a fingerprinted one (a move found below) or else a recorded copy, which
            # becomes the track's file; this path is then a new file.
            if row_here["id"] not in moves and not _content_elsewhere(row_here, hashed):
                heir = _unchanged_copy(conn, row_here["id"], files, hashed, live,
                                       set(moves.values()))  # fmt: skip
                if heir is not None:
                    moves[row_here["id"]] = heir
                    report.moved += 1
                    report.duplicates -= 1  # the scan counted the copy as a duplicate
            if row_here["id"] in moves or _content_elsewhere(row_here, hashed):
                row_here = None
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
                if row_here is not None and row_here["id"] != known["id"]:
                    overwritten.append(row_here["id"])
            else:
                moves[known["id"]] = path
                report.moved += 1
            continue
        if digest in claimed:
            # The same new content twice in this run: a copy of the track the first path
            # becomes, recorded once that track is saved healthy (a copy of a broken file
            # is recorded as failed itself: see save_result).
            copies.append((path, claimed[digest], stat))
            report.duplicates += 1
            if row_here is not None:
                overwritten.append(row_here["id"])
            continue
        if row_here is not None and _content_elsewhere(row_here, hashed):
            # The track that was here moved elsewhere and new content took its place.
            row_here = None
        if row_here is not None:
            work.append(WorkItem(path, row_here["id"], digest, stat, [], "update"))
        else:
            work.append(WorkItem(path, tracks.new_track_id(conn, digest), digest, stat, [], "new"))
        claimed[digest] = work[-1].track_id

    with store.transaction():
        # A recorded copy whose file was read again changed since: what it is now is
        # decided above (a copy again, a new track, a failure); the old record goes.
        for path in tracks.duplicate_paths(conn):
            if path in hashed:
                tracks.delete_duplicate(conn, path)
        pending = _apply(conn, files, live, roots, report, moves, touches, new_dups)
        for track_id in overwritten:
            row = tracks.track_by_id(conn, track_id)
            if row is None or track_id in moves:
                continue
            if row["status"] == STATUS_OK:
                tracks.mark_missing(conn, track_id, time.time())
                report.missing += 1
            elif row["status"] == STATUS_FAILED:
                tracks.delete_track(conn, track_id)
        for path, track_id, stat in copies:
            pending.setdefault(track_id, []).append((path, stat))
        if moves or report.missing or report.moved or overwritten:
            store.bump_catalog_version(conn)
    return work, pending


def _apply(
    conn: sqlite3.Connection,
    files: dict[str, FileStat | None],
    live: dict[str, sqlite3.Row],
    roots: list[Path],
    report: IngestReport,
    moves: dict[str, str],
    touches: list[tuple[str, FileStat | None]],
    new_dups: list[tuple[str, str, FileStat | None]],
) -> PendingDuplicates:
    """Write the moves, touches, missing tracks and duplicates (inside a transaction)."""
    now = time.time()
    # Moves first: park every affected track as missing (exempt from the one-live-
    # track-per-path rule), then give each its new path.
    displaced = {
        live[p]["id"]: live[p]["status"]
        for p in moves.values()
        if p in live and live[p]["id"] not in moves
    }
    for track_id, status in displaced.items():
        if status == STATUS_FAILED:  # a broken file was replaced by a known track's
            tracks.delete_track(conn, track_id)
    displaced = {k for k, v in displaced.items() if v != STATUS_FAILED}
    for track_id in list(moves) + list(displaced):
        tracks.mark_missing(conn, track_id)
    for track_id, path in moves.items():
        stat = files.get(path)
        tracks.delete_duplicate(conn, path)  # a recorded copy that becomes the track's file
        tracks.move_track(
            conn,
            track_id,
            path,
            stat.size_bytes if stat else None,
            stat.mtime if stat else None,
            now,
        )
    for track_id, stat in touches:
        tracks.touch_track(
            conn, track_id, stat.size_bytes if stat else None, stat.mtime if stat else None, now
        )
    # Tracks under the roots whose file is gone (and did not move) are missing;
    # failed rows and duplicate records of vanished files are simply dropped.
    for row in tracks.track_locations(conn):
        if row["id"] in moves or not under(row["path"], roots):
            continue
        gone = row["path"] not in files
        if gone and row["status"] == STATUS_OK and row["id"] not in displaced:
            # A recorded copy of the vanished file is still there: it becomes the track's
            # file (a move), instead of the track going missing beside its own copies.
            heir = next((p for p in tracks.duplicate_paths(conn, row["id"]) if p in files), None)
            if heir is not None:
                stat = files[heir]
                tracks.delete_duplicate(conn, heir)
                tracks.move_track(conn, row["id"], heir, stat.size_bytes if stat else None,
                                  stat.mtime if stat else None, now)  # fmt: skip
                report.moved += 1
                report.duplicates -= 1  # the scan counted the copy as a duplicate
                continue
        if row["id"] in displaced or (gone and row["status"] == STATUS_OK):
            tracks.mark_missing(conn, row["id"], now)
            report.missing += 1
        elif gone and row["status"] == STATUS_FAILED:
            tracks.delete_track(conn, row["id"])
    for path in tracks.duplicate_paths(conn):
        if under(path, roots) and path not in files:
            tracks.delete_duplicate(conn, path)
    pending: PendingDuplicates = {}
    for path, track_id, stat in new_dups:
        if tracks.track_exists(conn, track_id):
            put_duplicate(conn, path, track_id, stat)
        else:  # a copy of a track added in this run: recorded once that track exists
            pending.setdefault(track_id, []).append((path, stat))
    return pending
