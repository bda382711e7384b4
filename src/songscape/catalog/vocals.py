"""The singing in each track: the ``vocals`` and ``vocal_embeddings`` tables (issue 14).

* ``vocals``: one row per analysed track: the pitch tracker, seconds sung, the sung
  range, comfortable range and tessitura (MIDI numbers, null when nothing is sung),
  and ``note_hist``, float32 seconds sung per semitone from MIDI
  :data:`NOTE_HIST_LOW` up (:data:`NOTE_HIST_BINS` bins), what key fitting reads.
* ``vocal_embeddings``: voice-timbre vectors of the sung parts, one per ``kind``
  (``mfcc``, ``musicnn``, ``moco:<model>``/``tjae:<model>`` for the trained vocal
  encoders), float32 blobs with their ``version``.
* ``vocals.regions`` (added by :func:`migrate_regions`): where the voice sings, float32
  ``(start_s, end_s)`` pairs, what ``songscape train --source vocals`` reads.

Writers run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import numpy as np

#: Tables holding data derived from a track's audio (cleared when the file changes).
VOCALS_TABLES = ("vocals", "vocal_embeddings")
#: The note histogram: MIDI 24 (C1) to 107 (B7), one bin per semitone.
NOTE_HIST_LOW = 24
NOTE_HIST_BINS = 84

_RANGE_COLUMNS = ("range_low", "range_high", "comfortable_low", "comfortable_high",
                  "tessitura", "stability_cents")  # fmt: skip


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables (issue 14)."""
    conn.execute(
        """CREATE TABLE vocals (
            track_id          TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            tracker           TEXT NOT NULL,
            voiced_s          REAL NOT NULL,
            vocal_share       REAL NOT NULL,
            range_low         REAL,
            range_high        REAL,
            comfortable_low   REAL,
            comfortable_high  REAL,
            tessitura         REAL,
            stability_cents   REAL,
            note_hist         BLOB NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE vocal_embeddings (
            track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            kind      TEXT NOT NULL,
            version   TEXT NOT NULL,
            vector    BLOB NOT NULL,
            PRIMARY KEY (track_id, kind)
        )"""
    )


def migrate_regions(conn: sqlite3.Connection) -> None:
    """Add ``vocals.regions``, the sung regions (issue 14, trained vocal embeddings)."""
    conn.execute("ALTER TABLE vocals ADD COLUMN regions BLOB")


def regions_blob(regions: np.ndarray | None) -> bytes | None:
    """``(n, 2)`` seconds as a float32 blob (None stays None)."""
    if regions is None:
        return None
    return np.asarray(regions, dtype=np.float32).reshape(-1, 2).tobytes()


def regions_from_blob(blob: bytes | None) -> np.ndarray:
    """The ``(n, 2)`` float64 seconds of a ``regions`` blob (empty for None)."""
    if not blob:
        return np.zeros((0, 2))
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, 2).astype(np.float64)


def clear(conn: sqlite3.Connection, track_id: str) -> None:
    """Delete a track's vocal analysis and vocal embeddings."""
    for table in VOCALS_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))


def put_vocals(
    conn: sqlite3.Connection,
    track_id: str,
    values: Mapping[str, object],
    note_hist: np.ndarray,
    embeddings: Mapping[str, tuple[str, np.ndarray]],
    regions: np.ndarray | None = None,
) -> None:
    """Store (replace) a track's vocal analysis and its vocal embeddings.

    Parameters
    ----------
    values : mapping
        ``tracker``, ``voiced_s``, ``vocal_share`` and the range columns (None when
        nothing is sung).
    note_hist : np.ndarray, shape (NOTE_HIST_BINS,)
    embeddings : mapping of kind to (version, vector)
    regions : np.ndarray, shape (n, 2), optional
        Sung regions, seconds.
    """
    hist = np.asarray(note_hist, dtype=np.float32)
    if hist.shape != (NOTE_HIST_BINS,):
        raise ValueError(f"note_hist must have shape ({NOTE_HIST_BINS},), got {hist.shape}")
    clear(conn, track_id)
    conn.execute(
        "INSERT INTO vocals(track_id, tracker, voiced_s, vocal_share, range_low, range_high, "
        "comfortable_low, comfortable_high, tessitura, stability_cents, note_hist, regions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (track_id, values["tracker"], float(values["voiced_s"]), float(values["vocal_share"]),
         *[None if values.get(c) is None else float(values[c]) for c in _RANGE_COLUMNS],
         hist.tobytes(), regions_blob(regions)),
    )  # fmt: skip
    put_vocal_embeddings(conn, track_id, embeddings)


def put_vocal_embeddings(
    conn: sqlite3.Connection, track_id: str, embeddings: Mapping[str, tuple[str, np.ndarray]]
) -> None:
    """Store (replace) vocal embeddings of a track, ``{kind: (version, vector)}``."""
    for kind, (version, vector) in embeddings.items():
        conn.execute(
            "INSERT INTO vocal_embeddings(track_id, kind, version, vector) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(track_id, kind) DO UPDATE SET version = excluded.version, "
            "vector = excluded.vector",
            (track_id, kind, version, np.asarray(vector, dtype=np.float32).tobytes()),
        )


def vocal_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """The vocal analysis of every healthy track, with its title, artist and key."""
    return conn.execute(
        "SELECT v.*, t.title, t.artist, t.path, d.key FROM vocals v "
        "JOIN tracks t ON t.id = v.track_id "
        "LEFT JOIN descriptors d ON d.track_id = v.track_id "
        "WHERE t.status = 'ok' ORDER BY v.track_id"
    ).fetchall()


def note_histograms(rows: list[sqlite3.Row]) -> np.ndarray:
    """The ``note_hist`` blobs of :func:`vocal_rows` as one (n, NOTE_HIST_BINS) matrix."""
    if not rows:
        return np.zeros((0, NOTE_HIST_BINS), dtype=np.float32)
    return np.stack([np.frombuffer(r["note_hist"], dtype=np.float32) for r in rows])


def vocal_embedding_matrix(
    conn: sqlite3.Connection, kind: str, track_ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of ``kind`` for ``track_ids``: (matrix, found mask); rows not found are 0."""
    found = {
        r["track_id"]: np.frombuffer(r["vector"], dtype=np.float32)
        for r in conn.execute("SELECT track_id, vector FROM vocal_embeddings WHERE kind = ?",
                              (kind,))  # fmt: skip
    }
    dims = {len(v) for v in found.values()}
    dim = max(dims) if dims else 0
    out = np.zeros((len(track_ids), dim), dtype=np.float32)
    mask = np.zeros(len(track_ids), dtype=bool)
    for i, tid in enumerate(track_ids):
        v = found.get(tid)
        if v is not None and len(v) == dim:
            out[i], mask[i] = v, True
    return out, mask


def vocal_embedding_kinds(conn: sqlite3.Connection) -> list[str]:
    """The kinds of vocal embedding stored in the library."""
    return [r[0] for r in conn.execute("SELECT DISTINCT kind FROM vocal_embeddings ORDER BY 1")]


def tracks_without_vocals(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Healthy tracks that have no vocal analysis yet (id, path)."""
    return conn.execute(
        "SELECT t.id, t.path FROM tracks t LEFT JOIN vocals v ON v.track_id = t.id "
        "WHERE t.status = 'ok' AND v.track_id IS NULL ORDER BY t.path"
    ).fetchall()


def has_vocals(conn: sqlite3.Connection) -> bool:
    """Whether any healthy track has a vocal analysis."""
    return conn.execute(
        "SELECT 1 FROM vocals v JOIN tracks t ON t.id = v.track_id WHERE t.status = 'ok' LIMIT 1"
    ).fetchone() is not None


def sung_regions(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Healthy tracks whose vocal analysis recorded sung regions: id, path, regions blob."""
    return conn.execute(
        "SELECT v.track_id AS id, t.path, v.regions FROM vocals v "
        "JOIN tracks t ON t.id = v.track_id "
        "WHERE t.status = 'ok' AND v.regions IS NOT NULL AND length(v.regions) > 0 "
        "ORDER BY t.path"
    ).fetchall()


def vocal_embedding_versions(conn: sqlite3.Connection, kind: str) -> dict[str, str]:
    """``{track_id: version}`` of the stored vectors of ``kind``."""
    return {r[0]: r[1] for r in conn.execute(
        "SELECT track_id, version FROM vocal_embeddings WHERE kind = ?", (kind,))}  # fmt: skip


def tracks_with_stale_vocals(
    conn: sqlite3.Connection, stage_prefix: str, version: int
) -> list[sqlite3.Row]:
    """Healthy tracks whose vocal analysis the stage ``<stage_prefix><its tracker>`` made at
    another version (or whose run is not recorded as done): id, path."""
    return conn.execute(
        "SELECT t.id, t.path FROM vocals v JOIN tracks t ON t.id = v.track_id "
        "LEFT JOIN stage_runs s ON s.track_id = t.id AND s.stage = ? || v.tracker "
        "WHERE t.status = 'ok' AND (s.version IS NULL OR s.version != ? OR s.status != 'done') "
        "ORDER BY t.path",
        (stage_prefix, int(version)),
    ).fetchall()
