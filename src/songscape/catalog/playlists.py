"""Saved playlists: named, ordered lists of library tracks that a user keeps (issue 17).

Not the ``playlists`` table of imported listening data (:mod:`songscape.catalog.listening`,
what recommenders learn from): these are the lists songscape itself produced (similar,
search, path, recommend, mix, …) or that the user imported from an M3U file, saved under
a name, and exported to the players people use.

Tables (:func:`migrate`): ``saved_playlists(id, name UNIQUE, source, created_at,
updated_at)`` and ``saved_playlist_items(playlist_id, position, track_id)``; deleting a
track from the catalog removes it from every saved playlist (``ON DELETE CASCADE``).
Times are Unix seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


def migrate(conn: sqlite3.Connection) -> None:
    """Create the saved-playlist tables (a migration of :data:`schema.MIGRATIONS`)."""
    conn.execute(
        """CREATE TABLE saved_playlists (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            source      TEXT,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE saved_playlist_items (
            playlist_id  INTEGER NOT NULL REFERENCES saved_playlists(id) ON DELETE CASCADE,
            position     INTEGER NOT NULL,
            track_id     TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            PRIMARY KEY (playlist_id, position)
        )"""
    )
    conn.execute("CREATE INDEX saved_playlist_items_track ON saved_playlist_items(track_id)")


def playlist_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """``id, name, source, created_at, updated_at`` of the playlist called ``name``."""
    return conn.execute(
        "SELECT id, name, source, created_at, updated_at FROM saved_playlists WHERE name = ?",
        (name,),
    ).fetchone()


def save_playlist(
    conn: sqlite3.Connection, name: str, track_ids: Sequence[str], source: str | None,
    now: float,
) -> int:  # fmt: skip
    """Create playlist ``name`` or replace its tracks; returns its id.

    ``track_ids`` must be ids of catalog tracks (in play order; repeats allowed).
    ``created_at`` is kept when the playlist existed.
    """
    row = playlist_row(conn, name)
    if row is None:
        cur = conn.execute(
            "INSERT INTO saved_playlists(name, source, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (name, source, now, now),
        )
        playlist_id = int(cur.lastrowid)
    else:
        playlist_id = int(row["id"])
        conn.execute(
            "UPDATE saved_playlists SET source = ?, updated_at = ? WHERE id = ?",
            (source, now, playlist_id),
        )
        conn.execute("DELETE FROM saved_playlist_items WHERE playlist_id = ?", (playlist_id,))
    conn.executemany(
        "INSERT INTO saved_playlist_items(playlist_id, position, track_id) VALUES (?, ?, ?)",
        [(playlist_id, k, t) for k, t in enumerate(track_ids)],
    )
    return playlist_id


def list_playlists(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every saved playlist with its ``n_tracks`` and ``duration_s`` (sum of the known
    durations), by name."""
    return conn.execute(
        "SELECT p.name, p.source, p.created_at, p.updated_at, COUNT(i.track_id) AS n_tracks, "
        "COALESCE(SUM(t.duration_s), 0) AS duration_s "
        "FROM saved_playlists p LEFT JOIN saved_playlist_items i ON i.playlist_id = p.id "
        "LEFT JOIN tracks t ON t.id = i.track_id GROUP BY p.id ORDER BY p.name COLLATE NOCASE"
    ).fetchall()


def playlist_tracks(conn: sqlite3.Connection, playlist_id: int) -> list[sqlite3.Row]:
    """The tracks of a playlist in order: ``position, id, path, status, title, artist,
    album, duration_s``."""
    return conn.execute(
        "SELECT i.position, t.id, t.path, t.status, t.title, t.artist, t.album, t.duration_s "
        "FROM saved_playlist_items i JOIN tracks t ON t.id = i.track_id "
        "WHERE i.playlist_id = ? ORDER BY i.position",
        (playlist_id,),
    ).fetchall()


def delete_playlist(conn: sqlite3.Connection, name: str) -> bool:
    """Delete playlist ``name``; False when there was none."""
    return conn.execute("DELETE FROM saved_playlists WHERE name = ?", (name,)).rowcount > 0
