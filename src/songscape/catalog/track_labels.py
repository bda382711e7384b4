"""Labels given to tracks by a sidecar file (``songscape ingest --labels labels.csv``,
issue 17): a genre the file's own tags do not carry. One value per track and field."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


def migrate(conn: sqlite3.Connection) -> None:
    """Create ``track_labels(track_id, field, value, source)`` (a migration)."""
    conn.execute(
        """CREATE TABLE track_labels (
            track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            field     TEXT NOT NULL,
            value     TEXT NOT NULL,
            source    TEXT,
            PRIMARY KEY (track_id, field)
        )"""
    )


def put_labels(
    conn: sqlite3.Connection, field: str, values: Iterable[tuple[str, str]], source: str
) -> int:
    """Set ``field`` to ``value`` for each ``(track_id, value)``; returns the rows written."""
    rows = [(t, field, v, source) for t, v in values]
    conn.executemany(
        "INSERT INTO track_labels(track_id, field, value, source) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(track_id, field) DO UPDATE SET value = excluded.value, "
        "source = excluded.source",
        rows,
    )
    return len(rows)


def labels(conn: sqlite3.Connection, field: str) -> dict[str, str]:
    """``{track_id: value}`` of one field."""
    return {
        r["track_id"]: r["value"]
        for r in conn.execute("SELECT track_id, value FROM track_labels WHERE field = ?", (field,))
    }
