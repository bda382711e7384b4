"""Emotion estimates and imported lyrics: every SQL statement (issue 19).

``emotion`` holds one row per track: the fused valence/arousal (-1...1), the nine GEMS
scores (JSON object), how they were made, the audio-only values and what the lyrics
contributed. The curve over time is the track's array ``emotion_curve`` (rows: patch
start s, valence, arousal) in ``arrays``. ``lyrics_imports`` holds lyrics given with
``songscape lyrics import`` (they take precedence over tags and sidecar files).

Writers run inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

#: Name of the per-patch curve in the ``arrays`` table.
CURVE_ARRAY = "emotion_curve"

EMOTION_COLUMNS = (
    "valence", "arousal", "gems", "method", "audio_valence", "audio_arousal",
    "lyrics_used", "lyrics_source", "lyrics_language", "lyrics_valence", "lyrics_weight",
    "lyrics_reason",
)  # fmt: skip


def migrate(conn: sqlite3.Connection) -> None:
    """Schema migration (issue 19): ``emotion`` and ``lyrics_imports``."""
    conn.executescript(
        """
        CREATE TABLE emotion (
            track_id         TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            valence          REAL NOT NULL,
            arousal          REAL NOT NULL,
            gems             TEXT NOT NULL,
            method           TEXT NOT NULL,
            audio_valence    REAL NOT NULL,
            audio_arousal    REAL NOT NULL,
            lyrics_used      INTEGER NOT NULL,
            lyrics_source    TEXT,
            lyrics_language  TEXT,
            lyrics_valence   REAL,
            lyrics_weight    REAL,
            lyrics_reason    TEXT
        );
        CREATE INDEX emotion_valence ON emotion(valence);
        CREATE INDEX emotion_arousal ON emotion(arousal);
        CREATE TABLE lyrics_imports (
            track_id     TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            text         TEXT NOT NULL,
            source       TEXT NOT NULL,
            imported_at  REAL NOT NULL
        );
        """
    )


def put_emotion(conn: sqlite3.Connection, track_id: str, values: Mapping[str, Any]) -> None:
    """Store (or replace) a track's emotion row; ``values`` has :data:`EMOTION_COLUMNS`
    (``gems`` a mapping emotion -> score)."""
    row = dict(values)
    row["gems"] = json.dumps({k: round(float(v), 4) for k, v in row["gems"].items()})
    row["lyrics_used"] = int(bool(row["lyrics_used"]))
    conn.execute(
        f"INSERT INTO emotion(track_id, {', '.join(EMOTION_COLUMNS)}) "
        f"VALUES (?{', ?' * len(EMOTION_COLUMNS)}) ON CONFLICT(track_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in EMOTION_COLUMNS),
        (track_id, *[row[c] for c in EMOTION_COLUMNS]),
    )


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = {k: row[k] for k in row.keys()}
    out["gems"] = json.loads(out["gems"])
    out["lyrics_used"] = bool(out["lyrics_used"])
    return out


def emotion(conn: sqlite3.Connection, track_id: str) -> dict[str, Any] | None:
    """A track's emotion row (``gems`` decoded), or None."""
    row = conn.execute("SELECT * FROM emotion WHERE track_id = ?", (track_id,)).fetchone()
    return _decode(row) if row else None


def emotions(conn: sqlite3.Connection, track_ids: Iterable[str] | None = None) -> dict[str, dict]:
    """``{track_id: emotion row}`` of healthy tracks (all, or those of ``track_ids``)."""
    sql = ("SELECT e.* FROM emotion e JOIN tracks t ON t.id = e.track_id "
           "WHERE t.status = 'ok'")  # fmt: skip
    rows = conn.execute(sql).fetchall()
    wanted = None if track_ids is None else set(track_ids)
    return {r["track_id"]: _decode(r) for r in rows if wanted is None or r["track_id"] in wanted}


def ids_in_range(
    conn: sqlite3.Connection, column: str, low: float | None, high: float | None
) -> set[str]:
    """Ids of healthy tracks whose ``valence`` or ``arousal`` lies in ``[low, high]``."""
    if column not in ("valence", "arousal"):
        raise ValueError(f"no emotion column {column!r}")
    sql = (f"SELECT e.track_id FROM emotion e JOIN tracks t ON t.id = e.track_id "
           f"WHERE t.status = 'ok' AND e.{column} >= ? AND e.{column} <= ?")  # fmt: skip
    args = (-1.0 if low is None else low, 1.0 if high is None else high)
    return {r["track_id"] for r in conn.execute(sql, args)}


def update_fusion(conn: sqlite3.Connection, track_id: str, values: Mapping[str, Any]) -> None:
    """Replace the lyrics part and the fused values of an existing row."""
    columns = ("valence", "arousal", "method", "lyrics_used", "lyrics_source", "lyrics_language",
               "lyrics_valence", "lyrics_weight", "lyrics_reason")  # fmt: skip
    conn.execute(
        f"UPDATE emotion SET {', '.join(f'{c} = ?' for c in columns)} WHERE track_id = ?",
        (*[int(values[c]) if c == "lyrics_used" else values[c] for c in columns], track_id),
    )


# -- imported lyrics -----------------------------------------------------------------------


def put_imported_lyrics(
    conn: sqlite3.Connection, track_id: str, text: str, source: str, now: float
) -> None:
    """Store (or replace) the imported lyrics of a track."""
    conn.execute(
        "INSERT INTO lyrics_imports(track_id, text, source, imported_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(track_id) DO UPDATE SET text = excluded.text, source = excluded.source, "
        "imported_at = excluded.imported_at",
        (track_id, text, source, now),
    )


def imported_lyrics(conn: sqlite3.Connection, track_id: str) -> tuple[str, str] | None:
    """``(text, source)`` of a track's imported lyrics, or None."""
    row = conn.execute(
        "SELECT text, source FROM lyrics_imports WHERE track_id = ?", (track_id,)
    ).fetchone()
    return (row["text"], row["source"]) if row else None
