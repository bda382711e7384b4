"""What the pipeline stages derived for a track: stage runs, descriptors, arrays.

Arrays (beat times, energy curves, taggrams) are stored as raw little-endian BLOBs
with their dtype and shape, never as JSON text. Writers run inside the caller's
transaction; ``now`` is a Unix time in seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Columns of ``descriptors`` besides ``track_id`` (see :func:`put_descriptors`).
DESCRIPTOR_COLUMNS = (
    "analysis_sample_rate", "tempo_bpm", "beats_per_bar", "key", "key_confidence",
    "loudness_lufs", "energy_rate_hz", "spectral_centroid_hz", "onset_rate_hz",
    "rhythm_method",
)  # fmt: skip

# Every table holding data a stage derived from a track's file.
_DERIVED_TABLES = ("stage_runs", "descriptors", "arrays", "embeddings", "tags",
                   "sections", "structure", "highlights",  # these three: issue 18
                   "vocals", "vocal_embeddings",  # these two: issue 14
                   "emotion")  # issue 19


@dataclass(frozen=True)
class StoredArray:
    """An array as stored: dtype string, shape and raw bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    @classmethod
    def from_array(cls, values: np.ndarray) -> StoredArray:
        arr = np.ascontiguousarray(values)
        # Fixed little-endian byte order so a library is portable between machines.
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        return cls(arr.dtype.str, tuple(arr.shape), arr.tobytes())

    def to_array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape).copy()


# -- arrays ---------------------------------------------------------------------------


def put_array(conn: sqlite3.Connection, track_id: str, name: str, values: np.ndarray) -> None:
    """Store (or replace) the array ``name`` of a track."""
    stored = StoredArray.from_array(np.asarray(values))
    conn.execute(
        "INSERT INTO arrays(track_id, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(track_id, name) DO UPDATE SET dtype = excluded.dtype, "
        "shape = excluded.shape, data = excluded.data",
        (track_id, name, stored.dtype, ",".join(map(str, stored.shape)), stored.data),
    )


def get_arrays(conn: sqlite3.Connection, track_id: str) -> dict[str, np.ndarray]:
    """``{name: array}`` of every array stored for a track."""
    out = {}
    for row in conn.execute(
        "SELECT name, dtype, shape, data FROM arrays WHERE track_id = ?", (track_id,)
    ):
        shape = tuple(int(s) for s in row["shape"].split(",") if s != "")
        out[row["name"]] = StoredArray(row["dtype"], shape, row["data"]).to_array()
    return out


def clear_track_data(conn: sqlite3.Connection, track_id: str) -> None:
    """Delete everything the stages derived for a track (kept: the track row)."""
    for table in _DERIVED_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))


# -- descriptors ----------------------------------------------------------------------


def put_descriptors(conn: sqlite3.Connection, track_id: str, values: Mapping[str, object]) -> None:
    """Replace a track's scalar descriptors.

    Parameters
    ----------
    values : mapping
        One value (or None) for each of :data:`DESCRIPTOR_COLUMNS`; tempo in BPM,
        loudness in LUFS, rates and centroid in Hz.

    Raises
    ------
    KeyError
        If a column is missing from ``values``.
    """
    row = [values[c] for c in DESCRIPTOR_COLUMNS]
    conn.execute("DELETE FROM descriptors WHERE track_id = ?", (track_id,))
    conn.execute(
        f"INSERT INTO descriptors(track_id, {', '.join(DESCRIPTOR_COLUMNS)}) "
        f"VALUES (?{', ?' * len(DESCRIPTOR_COLUMNS)})",
        [track_id, *row],
    )


def get_descriptors(conn: sqlite3.Connection, track_id: str) -> sqlite3.Row | None:
    """A track's ``descriptors`` row, or None."""
    return conn.execute("SELECT * FROM descriptors WHERE track_id = ?", (track_id,)).fetchone()


# -- stage runs -----------------------------------------------------------------------


def record_stage_run(
    conn: sqlite3.Connection,
    track_id: str,
    stage: str,
    version: int,
    status: str,
    error: str | None,
    now: float,
) -> None:
    """Record that ``stage`` at ``version`` is ``"done"`` or ``"failed"`` for a track."""
    conn.execute(
        "INSERT INTO stage_runs(track_id, stage, version, status, error, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(track_id, stage) DO UPDATE SET "
        "version = excluded.version, status = excluded.status, error = excluded.error, "
        "updated_at = excluded.updated_at",
        (track_id, stage, version, status, error, now),
    )


def stage_versions(conn: sqlite3.Connection) -> dict[str, dict[str, tuple[int, str]]]:
    """``{track_id: {stage: (version, status)}}`` for every recorded stage run."""
    out: dict[str, dict[str, tuple[int, str]]] = {}
    for row in conn.execute("SELECT track_id, stage, version, status FROM stage_runs"):
        out.setdefault(row["track_id"], {})[row["stage"]] = (row["version"], row["status"])
    return out


def stage_runs(conn: sqlite3.Connection, track_id: str) -> list[sqlite3.Row]:
    """A track's stage runs (``stage, version, status, error, updated_at``), by stage."""
    return conn.execute(
        "SELECT stage, version, status, error, updated_at FROM stage_runs "
        "WHERE track_id = ? ORDER BY stage",
        (track_id,),
    ).fetchall()
