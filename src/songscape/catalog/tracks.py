"""Track rows and the duplicates table: look-ups, ids, status, moves.

Plain functions on a :class:`sqlite3.Connection`. Writers run inside the caller's
transaction (:meth:`~songscape.catalog.store.LibraryStore.transaction`), so one
track's changes commit together or not at all. Sizes are bytes; ``mtime`` and the
``now`` timestamps are Unix times in seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from songscape.catalog.schema import TRACK_FILE_COLUMNS
from songscape.errors import TrackNotFoundError

# -- look-ups -------------------------------------------------------------------------


def track_by_id(conn: sqlite3.Connection, track_id: str) -> sqlite3.Row | None:
    """The track row with this exact id, or None."""
    return conn.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()


def track_by_path(conn: sqlite3.Connection, path: str) -> sqlite3.Row | None:
    """The track at ``path``: the live one if any, else a missing one that last lived there."""
    return conn.execute(
        "SELECT * FROM tracks WHERE path = ? ORDER BY status = 'missing' LIMIT 1", (path,)
    ).fetchone()


def track_by_hash(conn: sqlite3.Connection, content_hash: str) -> sqlite3.Row | None:
    """The track whose file content has this hash, or None."""
    return conn.execute("SELECT * FROM tracks WHERE content_hash = ?", (content_hash,)).fetchone()


def track_exists(conn: sqlite3.Connection, track_id: str) -> bool:
    return conn.execute("SELECT 1 FROM tracks WHERE id = ?", (track_id,)).fetchone() is not None


def find_track(conn: sqlite3.Connection, ref: str) -> sqlite3.Row:
    """A track by id, unique id prefix (>= 4 hex digits), file path or duplicate's path.

    Raises
    ------
    TrackNotFoundError
        When nothing (or more than one track, for a short prefix) matches.
    """
    row = track_by_id(conn, ref)
    if row:
        return row
    candidates = {ref}
    try:
        candidates.add(str(Path(ref).expanduser().resolve()))
    except (OSError, RuntimeError):  # an unresolvable path is simply not a candidate
        pass
    for path in candidates:
        row = track_by_path(conn, path)
        if row:
            return row
        owner = duplicate_owner(conn, path)
        if owner:
            return find_track(conn, owner)
    if len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref.lower()):
        rows = conn.execute(
            "SELECT * FROM tracks WHERE id LIKE ? LIMIT 2", (ref.lower() + "%",)
        ).fetchall()
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise TrackNotFoundError(f"track id prefix {ref!r} is ambiguous")
    raise TrackNotFoundError(f"no track {ref!r} in the library (id, id prefix or path)")


def list_tracks(conn: sqlite3.Connection, status: str | None = None) -> list[sqlite3.Row]:
    """Tracks joined with their scalar descriptors, ordered by artist/album/number/path."""
    sql = (
        "SELECT t.*, d.tempo_bpm, d.key, d.key_confidence, d.loudness_lufs, "
        "d.beats_per_bar, d.spectral_centroid_hz, d.onset_rate_hz "
        "FROM tracks t LEFT JOIN descriptors d ON d.track_id = t.id"
    )
    args: tuple = ()
    if status is not None:
        sql += " WHERE t.status = ?"
        args = (status,)
    sql += " ORDER BY t.artist IS NULL, t.artist, t.album, t.track_number, t.path"
    return conn.execute(sql, args).fetchall()


def live_tracks_by_path(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """``{path: row}`` of every track that is not missing (one per path)."""
    return {r["path"]: r for r in conn.execute("SELECT * FROM tracks WHERE status != 'missing'")}


def tracks_by_hash(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """``{content_hash: row}`` of every track that has a content hash."""
    return {
        r["content_hash"]: r
        for r in conn.execute("SELECT * FROM tracks WHERE content_hash IS NOT NULL")
    }


def healthy_tracks(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """``id, path, content_hash, size_bytes, mtime`` of every track with status ``ok``."""
    return conn.execute(
        "SELECT id, path, content_hash, size_bytes, mtime FROM tracks WHERE status = 'ok'"
    ).fetchall()


def track_locations(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """``id, path, status`` of every track."""
    return conn.execute("SELECT id, path, status FROM tracks").fetchall()


def new_track_id(conn: sqlite3.Connection, digest: str) -> str:
    """The id for content ``digest``: its first 16 hex digits, longer after a (rare) clash."""
    for n in range(16, len(digest) + 1, 4):
        candidate = digest[:n]
        row = conn.execute("SELECT content_hash FROM tracks WHERE id = ?", (candidate,)).fetchone()
        if row is None or row["content_hash"] == digest:
            return candidate
    return digest


# -- writes ---------------------------------------------------------------------------


def upsert_track(
    conn: sqlite3.Connection,
    track_id: str,
    *,
    content_hash: str | None,
    path: str,
    size_bytes: int | None,
    mtime: float | None,
    status: str,
    error: str | None,
    now: float,
) -> None:
    """Insert a track row, or update its file columns, status and error (keeps ``added_at``)."""
    conn.execute(
        "INSERT INTO tracks(id, content_hash, path, size_bytes, mtime, status, error, "
        "added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET content_hash = excluded.content_hash, "
        "path = excluded.path, size_bytes = excluded.size_bytes, "
        "mtime = excluded.mtime, status = excluded.status, error = excluded.error, "
        "updated_at = excluded.updated_at",
        (track_id, content_hash, path, size_bytes, mtime, status, error, now, now),
    )


def set_file_columns(conn: sqlite3.Connection, track_id: str, values: Mapping[str, object]) -> None:
    """Set columns of :data:`~songscape.catalog.schema.TRACK_FILE_COLUMNS` on one track.

    Raises
    ------
    ValueError
        If ``values`` names another column (names are spliced into the SQL).
    """
    unknown = sorted(set(values) - set(TRACK_FILE_COLUMNS))
    if unknown:
        raise ValueError(f"not file columns of tracks: {unknown}")
    if not values:
        return
    columns = list(values)
    conn.execute(
        f"UPDATE tracks SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
        [values[c] for c in columns] + [track_id],
    )


def mark_failed(conn: sqlite3.Connection, track_id: str, error: str | None, now: float) -> None:
    conn.execute(
        "UPDATE tracks SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
        (error, now, track_id),
    )


def mark_missing(conn: sqlite3.Connection, track_id: str, now: float | None = None) -> None:
    """Set status ``missing``; ``now`` None leaves ``updated_at`` alone (a track parked
    while moves are applied, about to get a new path)."""
    if now is None:
        conn.execute("UPDATE tracks SET status = 'missing' WHERE id = ?", (track_id,))
    else:
        conn.execute(
            "UPDATE tracks SET status = 'missing', updated_at = ? WHERE id = ?", (now, track_id)
        )


def move_track(
    conn: sqlite3.Connection,
    track_id: str,
    path: str,
    size_bytes: int | None,
    mtime: float | None,
    now: float,
) -> None:
    """Give a track its new path (status ``ok``, error cleared)."""
    conn.execute(
        "UPDATE tracks SET path = ?, size_bytes = ?, mtime = ?, status = 'ok', "
        "error = NULL, updated_at = ? WHERE id = ?",
        (path, size_bytes, mtime, now, track_id),
    )


def touch_track(
    conn: sqlite3.Connection, track_id: str, size_bytes: int | None, mtime: float | None, now: float
) -> None:
    """Record a new size/mtime for a file whose content did not change."""
    conn.execute(
        "UPDATE tracks SET size_bytes = ?, mtime = ?, updated_at = ? WHERE id = ?",
        (size_bytes, mtime, now, track_id),
    )


def delete_track(conn: sqlite3.Connection, track_id: str) -> bool:
    """Delete a track and (by cascade) all its data; False if there was none."""
    return conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,)).rowcount > 0


# -- duplicates -----------------------------------------------------------------------


def duplicates_by_path(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """``{path: row}`` of every recorded duplicate (``track_id, size_bytes, mtime``)."""
    return {r["path"]: r for r in conn.execute("SELECT * FROM duplicates")}


def duplicate_owner(conn: sqlite3.Connection, path: str) -> str | None:
    """The id of the track that the file at ``path`` is a copy of, or None."""
    row = conn.execute("SELECT track_id FROM duplicates WHERE path = ?", (path,)).fetchone()
    return row["track_id"] if row else None


def duplicate_paths(conn: sqlite3.Connection, track_id: str | None = None) -> list[str]:
    """Paths of the duplicates of one track (sorted), or of all duplicates."""
    if track_id is None:
        return [r[0] for r in conn.execute("SELECT path FROM duplicates").fetchall()]
    return [
        r[0]
        for r in conn.execute(
            "SELECT path FROM duplicates WHERE track_id = ? ORDER BY path", (track_id,)
        )
    ]


def put_duplicate(
    conn: sqlite3.Connection, path: str, track_id: str, size_bytes: int, mtime: float
) -> None:
    """Record (or re-point) the copy at ``path`` of track ``track_id``."""
    conn.execute(
        "INSERT INTO duplicates(path, track_id, size_bytes, mtime) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET track_id = excluded.track_id, "
        "size_bytes = excluded.size_bytes, mtime = excluded.mtime",
        (path, track_id, size_bytes, mtime),
    )


def delete_duplicate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("DELETE FROM duplicates WHERE path = ?", (path,))
