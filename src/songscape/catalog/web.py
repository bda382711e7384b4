"""Catalog reads the web app needs that no other caller makes: a track's file by exact id
and the per-point fields of the 3D map.

Plain functions on a :class:`sqlite3.Connection` (``LibraryStore.conn``); they only read.
Tempos are in beats per minute, sizes in bytes, probabilities in 0..1.
"""

from __future__ import annotations

import sqlite3


def track_file(conn: sqlite3.Connection, track_id: str) -> dict | None:
    """``{"id", "path", "status", "size_bytes"}`` of the track with exactly this id, or None.

    Unlike ``LibraryStore.get_track`` it takes no id prefix and no path, so an HTTP request
    can only name a file through the catalog row of its track.
    """
    row = conn.execute(
        "SELECT id, path, status, size_bytes FROM tracks WHERE id = ?", (track_id,)
    ).fetchone()
    return None if row is None else dict(row)


def map_point_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """One row per healthy track: ``id, path, title, artist, album, genre, tempo_bpm, key``
    (the descriptor columns are None for a track not analysed yet)."""
    return conn.execute(
        "SELECT t.id, t.path, t.title, t.artist, t.album, t.genre, d.tempo_bpm, d.key "
        "FROM tracks t LEFT JOIN descriptors d ON d.track_id = t.id WHERE t.status = 'ok'"
    ).fetchall()


def tag_models_by_coverage(conn: sqlite3.Connection) -> list[str]:
    """The models that tagged tracks, the one that tagged the most tracks first."""
    return [
        row["model"]
        for row in conn.execute(
            "SELECT model, COUNT(DISTINCT track_id) AS n FROM tags GROUP BY model ORDER BY n DESC"
        )
    ]


def top_tags(conn: sqlite3.Connection, model: str) -> dict[str, str]:
    """``{track_id: tag}``: each track's most probable tag of ``model``."""
    # SQLite returns the bare column `tag` of the row holding MAX(probability).
    return {
        row["track_id"]: row["tag"]
        for row in conn.execute(
            "SELECT track_id, tag, MAX(probability) AS p FROM tags WHERE model = ? "
            "GROUP BY track_id",
            (model,),
        )
    }


def tag_probability_rows(conn: sqlite3.Connection, model: str) -> list[sqlite3.Row]:
    """Every ``(track_id, tag, probability)`` of ``model``'s tags (what names the map's
    clusters)."""
    return conn.execute(
        "SELECT track_id, tag, probability FROM tags WHERE model = ?", (model,)
    ).fetchall()
