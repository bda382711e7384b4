"""What a DJ mix plans with, read in one query for the whole catalog (issue 13)."""

from __future__ import annotations

import sqlite3

#: Columns of :func:`mix_summaries` rows.
SUMMARY_COLUMNS = (
    "id",
    "path",
    "title",
    "artist",
    "duration_s",
    "tempo_bpm",
    "beats_per_bar",
    "key",
    "loudness_lufs",
    "onset_rate_hz",
    "spectral_centroid_hz",
)


def mix_summaries(
    conn: sqlite3.Connection, track_ids: list[str] | None = None
) -> list[sqlite3.Row]:
    """Healthy analysed tracks (``status = 'ok'`` with descriptors): :data:`SUMMARY_COLUMNS`,
    ordered by id; only ``track_ids`` when given."""
    sql = (
        "SELECT t.id, t.path, t.title, t.artist, t.duration_s, d.tempo_bpm, "
        "d.beats_per_bar, d.key, d.loudness_lufs, d.onset_rate_hz, d.spectral_centroid_hz "
        "FROM tracks t JOIN descriptors d ON d.track_id = t.id WHERE t.status = 'ok'"
    )
    if track_ids is None:
        return conn.execute(sql + " ORDER BY t.id").fetchall()
    rows: list[sqlite3.Row] = []
    for start in range(0, len(track_ids), 500):  # SQLite's bound-parameter limit
        chunk = track_ids[start : start + 500]
        rows += conn.execute(
            sql + f" AND t.id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
    return sorted(rows, key=lambda r: r["id"])
