"""What the catalog records after songscape wrote tags into a track's file (issue 17):
the file's new content hash, size and modification time — so the next ingest finds the
file unchanged instead of "updated" — and, optionally, the genre it wrote."""

from __future__ import annotations

import sqlite3


def record_rewrite(
    conn: sqlite3.Connection, track_id: str, content_hash: str, size_bytes: int, mtime: float,
    now: float, genre: str | None = None,
) -> None:  # fmt: skip
    """Store a track file's identity after songscape rewrote its tags (sizes in bytes,
    times in Unix seconds); ``genre``, when given, becomes the track's genre."""
    conn.execute(
        "UPDATE tracks SET content_hash = ?, size_bytes = ?, mtime = ?, updated_at = ? "
        "WHERE id = ?",
        (content_hash, size_bytes, mtime, now, track_id),
    )
    if genre is not None:
        conn.execute("UPDATE tracks SET genre = ? WHERE id = ?", (genre, track_id))
